//! `faultline conformance`: try an adapter against its store before a
//! first test.
//!
//! A store author who has written a description and an adapter wants to
//! know, before any fault, whether faultline and the adapter understand
//! each other. This command starts a small cluster from the description
//! (three nodes in network namespaces by default, a fresh store), and for
//! every workload the description declares drives each op kind once
//! through one adapter process (`probes`): the hello, the writes and
//! reads, the refusals a store must give (a compare that finds another
//! value, an insert after an element no list holds), the context of a
//! siblings read, `read-local` and `preflist` where declared, and one
//! write through a node whose store was killed, which must not be `ok`.
//! Each reply is checked against the protocol and against what the store
//! must have done; the table names every step that failed, with the
//! offending reply line. Exit 0 when every step passed, 1 when one failed.

mod probes;

use crate::cluster::control::local::LocalControl;
use crate::cluster::control::netns::{LocalNetwork, Subnet};
use crate::cluster::control::{os, Control};
use crate::settings::StoreKind;
use crate::stores::adapter::{AdapterCluster, AdapterStore, RunParams};
use crate::stores::{DbProcesses, Placement, StoreCluster, StoreNode};
use crate::UsageError;
use anyhow::{Context, Result};
use probes::{Outcome, Prober, Step};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workloads::adapter::Shape;
use workloads::{ClientMode, Workload};

/// `faultline conformance` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ConformanceArgs {
    /// The store's description (an adapter's .toml file), or a shipped
    /// one: garage, couch.
    #[arg(long)]
    pub store: PathBuf,
    /// Only these workloads (comma-separated); default: every one the
    /// description declares.
    #[arg(long, value_delimiter = ',')]
    pub workload: Vec<String>,
    /// A parameter of the description, `KEY=VALUE` (repeatable), as for
    /// `faultline test`.
    #[arg(long = "store-param", value_name = "KEY=VALUE")]
    pub store_param: Vec<String>,
    /// How many nodes to start (in network namespaces).
    #[arg(long, default_value_t = 3)]
    pub nodes: u16,
    /// The adapter's limit per request, as `faultline test`'s.
    #[arg(long, default_value_t = 2000)]
    pub op_timeout_ms: u64,
    /// Where the run's folder goes (the nodes' logs, the adapter's stderr,
    /// `conformance.txt`).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

/// Runs the command; its exit code.
pub fn main(a: ConformanceArgs) -> Result<i32> {
    let path = a.store.display().to_string();
    let kind = StoreKind::parse(&path).map_err(UsageError)?;
    let store = match &kind {
        StoreKind::Adapter(file) => AdapterStore::load(file)?,
        StoreKind::Shipped(s) => crate::stores::adapter::load_shipped(*s)?,
        _ => {
            return Err(UsageError(format!(
                "--store {path}: conformance tries an adapter against its store; give the path of a description (.toml), or garage or couch (docs/adapters.md)"
            ))
            .into())
        }
    };
    let desc = store.description().clone();
    let workloads: Vec<Workload> = if a.workload.is_empty() {
        desc.workloads
            .iter()
            .map(|w| Workload::parse(w).map_err(|e| UsageError(e.to_string())))
            .collect::<Result<_, _>>()?
    } else {
        a.workload
            .iter()
            .map(|w| {
                let w = Workload::parse(w).map_err(|e| UsageError(e.to_string()))?;
                crate::stores::Store::validate(&store, w, None)?;
                Ok::<_, UsageError>(w)
            })
            .collect::<Result<_, _>>()?
    };
    // The settings of a test of this store with no faults: they check the
    // parameters and give the templates their variables.
    let mut args = crate::settings::default_test_args();
    args.store = path.clone();
    args.workload = workloads[0].name().to_string();
    args.nemesis = "none".into();
    args.nodes = crate::cluster::nodes::NodesArg::Count(a.nodes);
    // Quorum flags are ringkv's; kept within the node count they say
    // nothing to a described store.
    let most = a.nodes.clamp(1, u8::MAX as u16) as u8;
    (args.r, args.w) = (args.r.min(most), args.w.min(most));
    args.op_timeout_ms = a.op_timeout_ms;
    args.store_param = a.store_param.clone();
    args.results = a.results.clone();
    args.name = Some(format!("{}-conformance", desc.name));
    let cfg = crate::settings::test_config(args)?;
    os::require_root_for_namespaces()?;
    os::ensure(os::LOCAL_CLUSTER)?;
    os::ensure(&crate::stores::Store::requirements(&store))?;

    let dir = crate::artifacts::results::RunDir::create(&cfg.results, &cfg.name)?;
    let subnet: Subnet = cfg.subnet.parse().map_err(UsageError)?;
    let names: Vec<String> = (1..=cfg.nodes).map(|i| format!("n{i}")).collect();
    let mut network = LocalNetwork::create(&names, subnet, &dir.path)?;
    let from = match &kind {
        StoreKind::Shipped(s) => format!("shipped: {}", s.source()),
        _ => path.clone(),
    };
    println!(
        "faultline conformance: {} ({from}), protocol {}, {} nodes, results in {}",
        desc.name,
        desc.client.protocol().number(),
        cfg.nodes,
        dir.path.display()
    );
    let control: Arc<dyn Control> = Arc::new(LocalControl::new(network.namespaces()));
    let nodes = StoreNode::on_network(&network, |n| dir.node_dir(n))?;
    let placement = Placement {
        nodes: nodes.clone(),
        control,
        remote: false,
        faketime: None,
        run_dir: dir.path.clone(),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let steps = runtime.block_on(async {
        let cluster = tokio::task::block_in_place(|| {
            AdapterCluster::start(store.clone(), RunParams::of(&cfg), placement)
        })?;
        let probed = async {
            cluster
                .await_ready(Duration::from_secs_f64(cfg.watchdog.setup_s))
                .await?;
            probe_all(&cluster, &workloads, &cfg, &nodes).await
        }
        .await;
        tokio::task::block_in_place(|| cluster.stop());
        probed
    });
    let teardown = network.teardown();
    let steps = steps?;
    teardown?;
    let table = table(&steps);
    print!("{table}");
    std::fs::write(dir.file("conformance.txt"), &table)
        .with_context(|| format!("writing {}", dir.file("conformance.txt").display()))?;
    Ok(if steps.iter().any(|s| s.outcome == Outcome::Fail) {
        1
    } else {
        0
    })
}

/// Every workload's script on the first node, its local reads on every
/// node, then one write per workload through a node whose store is killed.
async fn probe_all(
    cluster: &AdapterCluster,
    workloads: &[Workload],
    cfg: &crate::settings::TestConfig,
    nodes: &[StoreNode],
) -> Result<Vec<Step>> {
    let desc = cluster.description();
    let timeout = Duration::from_millis(cfg.op_timeout_ms) + crate::stores::adapter::REPLY_GRACE;
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let mut steps = Vec::new();
    for &w in workloads {
        let shape = Shape::of(w, cfg.keys, mode(w)).context("a declared workload has a shape")?;
        let local = desc.client.read_local.iter().any(|x| x == w.name());
        let client = cluster.probe_client(0, "conformance", shape, local)?;
        let mut p = Prober::new(&client, w.name(), timeout);
        p.script(shape).await;
        steps.append(&mut p.steps);
        if local {
            let key = replicated_key(shape);
            for (i, node) in nodes.iter().enumerate() {
                let c = cluster.probe_client(i, "conformance-local", shape, true)?;
                let mut q = Prober::new(&c, w.name(), timeout);
                q.read_local(&key, matches!(shape, Shape::Set { .. })).await;
                if i == 0 && desc.client.replicas == "preflist" {
                    q.preflist(&key, &names).await;
                }
                for s in &mut q.steps {
                    s.what = format!("{} on {}", s.what, node.name);
                }
                steps.append(&mut q.steps);
            }
        }
    }
    // Honesty under a dead node: kill the first node's store, write
    // through it, start it again.
    let first = &nodes[0].name;
    tokio::task::block_in_place(|| cluster.kill(first))?;
    for &w in workloads {
        let shape = Shape::of(w, cfg.keys, mode(w)).context("a declared workload has a shape")?;
        let client = cluster.probe_client(0, "conformance-down", shape, false)?;
        let mut p = Prober::new(&client, w.name(), timeout);
        p.while_down(shape).await;
        steps.append(&mut p.steps);
    }
    tokio::task::block_in_place(|| cluster.start(first))?;
    Ok(steps)
}

/// The client mode a workload's probe runs in (siblings: with contexts).
fn mode(w: Workload) -> ClientMode {
    match w {
        Workload::Siblings => ClientMode::Context,
        Workload::Session => ClientMode::Sticky,
        _ => ClientMode::Adapter,
    }
}

/// The key a workload's script writes, whose replicas are read locally.
fn replicated_key(shape: Shape) -> String {
    match shape {
        Shape::Set { .. } => "set-0",
        Shape::Register => "r0",
        Shape::Counter => workloads::counter::KEY,
        Shape::Siblings { .. } | Shape::Session => "s0",
        Shape::OrSet => workloads::orset::KEY,
        Shape::Sequence => "l0",
    }
    .to_string()
}

/// The steps as a table, then a count.
fn table(steps: &[Step]) -> String {
    let mut out = String::new();
    let wide = steps.iter().map(|s| s.what.len()).max().unwrap_or(4).max(4);
    let wl = steps
        .iter()
        .map(|s| s.workload.len())
        .max()
        .unwrap_or(8)
        .max(8);
    out.push_str(&format!(
        "{:wl$}  {:wide$}  result  detail\n",
        "workload", "step"
    ));
    for s in steps {
        let word = match s.outcome {
            Outcome::Pass => "ok",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        let row = format!(
            "{:wl$}  {:wide$}  {word:6}  {}",
            s.workload, s.what, s.detail
        );
        out.push_str(row.trim_end());
        out.push('\n');
    }
    let failed = steps.iter().filter(|s| s.outcome == Outcome::Fail).count();
    let skipped = steps.iter().filter(|s| s.outcome == Outcome::Skip).count();
    out.push_str(&format!(
        "{} of {} steps pass, {failed} fail, {skipped} skipped\n",
        steps.len() - failed - skipped,
        steps.len()
    ));
    out
}
