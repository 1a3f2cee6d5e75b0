//! A test run from start to verdict.
//!
//! ```text
//!  OS setup → network → ringkv nodes → iptables chain
//!    → main phase: workers + nemesis, until the time limit (or Ctrl-C)
//!    → heal → every key's replicas read in rounds until they agree
//!      (at most the quiescence) → final reads from every node
//!    → replicas read again until they agree (convergence timeout)
//!    → stop nodes, remove the network → history.edn → check → results.json, report.html
//!    → junit.xml, summary.md, results/index.html
//! ```
//!
//! Every phase is bounded in time. Whatever happens after the network
//! exists (an error, a panic, Ctrl-C) the network is torn down, which also
//! removes every partition rule, and whatever was recorded stays in
//! `history.jsonl`.

pub mod convergence_rounds;
pub mod disk_faults;
pub mod heal;
pub mod history_log;
pub mod logging;
pub mod nemesis;
pub mod signals;
pub mod status;
pub mod worker;

use crate::artifacts::outputs::RunInfo;
use crate::artifacts::publish::{Checked, Publisher, Targets};
use crate::artifacts::results::{Results, RunDir};

use crate::cluster::control::local::LocalControl;
use crate::cluster::control::netns::{LocalNetwork, Subnet};
use crate::cluster::control::{os, Control};
use crate::run::disk_faults::DiskSetup;
use crate::run::history_log::HistoryLog;
use crate::run::logging::RunLog;
use crate::run::nemesis::{sleep_or_stop, NemesisRunner};
use crate::run::status::{watched, Bounds, Display, Phase, Status};
use crate::settings::{ClockMode, TestConfig};
use crate::stores::{self as store, Placement, StoreCluster, StoreNode};
use anyhow::{Context, Result};
use nemeses::NodeAddr;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use worker::{final_read, Pacer, Worker};

/// How a run ended.
pub struct Outcome {
    /// The run's folder.
    pub dir: RunDir,
    /// What the checkers said.
    pub results: Results,
}

/// Stops the main phase on Ctrl-C or SIGTERM; a second one exits at once
/// (skipping the heal, which `faultline heal` then does from the journal).
fn watch_signals(stop: watch::Sender<bool>, interrupted: Arc<AtomicBool>) {
    tokio::spawn(async move {
        crate::run::signals::stop_requested().await;
        eprintln!(
            "faultline: interrupted; healing, stopping the nodes and saving what was recorded (interrupt again to exit at once)"
        );
        interrupted.store(true, Ordering::SeqCst);
        let _ = stop.send(true);
        crate::run::signals::stop_requested().await;
        eprintln!(
            "faultline: interrupted twice: exiting without healing; run `faultline heal` (for SSH nodes: `faultline heal --run <this run's folder>`) to undo faults and stop nodes"
        );
        std::process::exit(crate::exit::ERROR);
    });
}

/// Runs one test end to end.
pub async fn run(mut cfg: TestConfig) -> Result<Outcome> {
    // Ctrl-C and SIGTERM are caught from the start: one that comes during
    // setup (package installs, the store's start) stops the run cleanly
    // once it can, rather than killing the process.
    let (stop_tx, stop_rx) = watch::channel(false);
    let interrupted = Arc::new(AtomicBool::new(false));
    watch_signals(stop_tx.clone(), interrupted.clone());
    let subnet: Subnet = cfg
        .subnet
        .parse()
        .map_err(|e: String| crate::UsageError(e))?;
    let store: Arc<dyn store::Store> = store::open(&cfg.store)?.into();
    store.validate(cfg.workload, Some(cfg.client.name()))?;
    drop_unsupported_faults(store.as_ref(), &mut cfg)?;
    store::check_test(store.as_ref(), &cfg)?;
    let clock_faults = cfg.nemesis.contains(&nemeses::Kind::Clock);
    let faketime = match (&cfg.remote, clock_faults) {
        (Some(_), _) | (None, false) => None,
        (None, true) => {
            os::require_root_for_namespaces()?;
            os::ensure(os::LOCAL_CLUSTER)?;
            os::ensure(os::CLOCK_FAULTS)?;
            Some(crate::cluster::control::os::find_libfaketime().context(
                "the clock nemesis needs libfaketime (Debian package faketime), which was not found",
            )?)
        }
    };
    if cfg.remote.is_none() {
        if !clock_faults {
            os::require_root_for_namespaces()?;
            os::ensure(os::LOCAL_CLUSTER)?;
        }
        os::ensure(&store.requirements())?;
    }
    // A store shipped with faultline is uploaded to SSH nodes.
    let bin = store.shipped_binary(&cfg)?;

    let started = chrono::Local::now();
    let clock = Instant::now();
    let dir = RunDir::create(&cfg.results, &cfg.name)?;
    if let Some(src) = &cfg.config {
        // Every setting with a flag is in the command already; the file
        // adds those without one (checker options).
        let copy = dir.file("config.toml");
        std::fs::write(&copy, &src.text).with_context(|| format!("writing {}", copy.display()))?;
        cfg.command
            .push_str(&format!(" --config '{}'", copy.display()));
    }
    dir.write_json("test.json", &cfg)?;
    let run_log = RunLog::open(&dir.file("faultline.log"), cfg.log_json)
        .with_context(|| format!("creating {}", dir.file("faultline.log").display()))?;
    tracing::info!(dir = %dir.path.display(), command = %cfg.command, "run started");
    let status = Status::new(Bounds::of(&cfg));
    let display = Display::start(status.clone(), false);
    let log = Arc::new(
        HistoryLog::create(&dir.file("history.jsonl"))
            .context("creating history.jsonl")?
            .with_status(status.clone()),
    );
    let node_names: Vec<String> = (1..=cfg.nodes).map(|i| format!("n{i}")).collect();

    let run = match cfg.remote.clone() {
        None => {
            let mut network = LocalNetwork::create(&node_names, subnet, &dir.path)?;
            eprintln!(
                "faultline: {} nodes on {} (slot {}), results in {}",
                cfg.nodes,
                network.bridge,
                network.slot,
                dir.path.display()
            );
            let control: Arc<dyn Control> = Arc::new(LocalControl::new(network.namespaces()));
            let nodes = StoreNode::on_network(&network, |n| dir.node_dir(n))?;
            let cluster = Cluster {
                nodes,
                control: control.clone(),
                nemesis_control: control.clone(),
                remote: false,
                local_iface: true,
                leave_running: false,
            };
            let run = run_on_network(
                &cfg,
                &store,
                faketime,
                cluster,
                &dir,
                log.clone(),
                (stop_tx, stop_rx),
                &interrupted,
                &status,
            )
            .await;
            drop(control);
            network.teardown()?;
            run
        }
        Some(remote) => {
            let network_faults = cfg.nemesis.iter().any(|k| k.is_network());
            let prepared = tokio::task::block_in_place(|| {
                // `date -s` needs no libfaketime on the nodes.
                crate::cluster::remote::prepare(
                    &remote,
                    bin.as_deref(),
                    DiskSetup::program(&cfg.nemesis)?.as_deref(),
                    &store.requirements(),
                    clock_faults && cfg.clock_mode != ClockMode::Date,
                    network_faults,
                )
            });
            match prepared {
                Err(e) => Err(e),
                Ok(p) => {
                    eprintln!(
                        "faultline: {} nodes over SSH ({}), results in {}",
                        cfg.nodes,
                        remote.hosts.join(", "),
                        dir.path.display()
                    );
                    let ssh = Arc::new(p.control);
                    let control: Arc<dyn Control> = ssh.clone();
                    let nodes: Vec<StoreNode> = p
                        .addrs
                        .iter()
                        .zip(&p.dirs)
                        .map(|((name, ip), d)| StoreNode {
                            name: name.clone(),
                            ip: *ip,
                            dir: d.clone(),
                        })
                        .collect();
                    let cluster = Cluster {
                        nodes,
                        control,
                        nemesis_control: Arc::new(ssh.nemesis_view()),
                        remote: true,
                        local_iface: false,
                        leave_running: remote.leave_db_running,
                    };
                    let run = run_on_network(
                        &cfg,
                        &store,
                        p.faketime,
                        cluster,
                        &dir,
                        log.clone(),
                        (stop_tx, stop_rx),
                        &interrupted,
                        &status,
                    )
                    .await;
                    let torn = tokio::task::block_in_place(|| {
                        crate::cluster::remote::teardown(&ssh, &remote, &|n| dir.node_dir(n))
                    });
                    run.and(torn)
                }
            }
        }
    };
    let history_ok = log.finish();
    if let Err(e) = &run {
        tracing::error!("the run failed: {e:#}");
    }

    status.enter(Phase::Check);
    let error = run.as_ref().err().map(|e| format!("{e:#}"));
    let text = std::fs::read_to_string(dir.file("history.jsonl"))?;
    let history = checkers::parse::jsonl(&text).context("re-reading history.jsonl")?;
    // The same ops for Jepsen's tools (Elle, Knossos); the JSONL stays the
    // record, so failing to write this copy warns, never fails the run.
    if let Err(e) = crate::artifacts::history_edn::write(&history, &dir.file("history.edn")) {
        eprintln!("faultline: warning: writing history.edn: {e}");
    }
    let checks = cfg
        .workload
        .check_with(&history, &cfg.checker_options.check_options());
    let mut results = Results::from_checks(checks, history.ops.len() as u64);
    results.interrupted = interrupted.load(Ordering::SeqCst) || error.is_some();
    results.error = error.or(history_ok.err().map(|e| format!("writing history: {e}")));
    results.started = Some(started.to_rfc3339());
    results.duration_s = Some(clock.elapsed().as_secs_f64());
    results.cut = status.cut();
    status.enter(Phase::Report);
    // results.json and the report are the run's record (an error if they
    // cannot be written); the CI files and the index only warn.
    let mut publisher = Publisher::new(Targets::run_folder(&dir, Some(cfg.results.clone())));
    publisher.publish(Checked {
        info: RunInfo::from_config(&cfg),
        history: &history,
        results: &results,
        config: Some(&cfg),
        page_config: Vec::new(),
        stem: String::new(),
    })?;
    publisher.finish()?;
    tracing::info!(verdict = results.valid.word(), "run ended");
    drop(display);
    drop(run_log);
    if let Err(e) = run {
        return Err(e.context(format!(
            "the run failed; what was recorded is in {}",
            dir.path.display()
        )));
    }
    Ok(Outcome { dir, results })
}

/// Where the nodes are and how to reach them: the only thing that differs
/// between a local run (namespaces) and one over SSH.
struct Cluster {
    /// The nodes, with their addresses and directories.
    nodes: Vec<StoreNode>,
    /// For the DB layer.
    control: Arc<dyn Control>,
    /// For the nemesis (over SSH: the reserved session).
    nemesis_control: Arc<dyn Control>,
    /// The nodes' files are on other machines.
    remote: bool,
    /// The nodes are local namespaces, whose interface is `eth0` (an SSH
    /// node's is looked up).
    local_iface: bool,
    /// Leave the store running at the end (`--leave-db-running`).
    leave_running: bool,
}

#[allow(clippy::too_many_arguments)]
async fn run_on_network(
    cfg: &TestConfig,
    store: &Arc<dyn store::Store>,
    faketime: Option<PathBuf>,
    place: Cluster,
    dir: &RunDir,
    log: Arc<HistoryLog>,
    stop: (watch::Sender<bool>, watch::Receiver<bool>),
    interrupted: &AtomicBool,
    status: &Status,
) -> Result<()> {
    // The faults below the store: its data directories under faultfs for
    // the whole run (power, slow disks), before the store starts on them.
    let disk = DiskSetup::prepare(
        cfg,
        store.as_ref(),
        &place.nodes,
        &place.control,
        place.remote,
    )?;
    let placement = Placement {
        nodes: place.nodes.clone(),
        control: place.control.clone(),
        remote: place.remote,
        faketime,
        run_dir: dir.path.clone(),
    };
    // Started on a thread of its own, so that the watchdog can give up on a
    // start that hangs (the thread is left to the teardown, which kills
    // what runs on the nodes).
    let start = {
        let (store, cfg) = (store.clone(), cfg.clone());
        tokio::task::spawn_blocking(move || store.start(&cfg, placement))
    };
    let cluster = watched(status, Phase::Setup, async {
        let cluster = start.await.context("the store's start panicked")??;
        cluster.await_ready(Duration::from_secs(20)).await?;
        Ok(cluster)
    })
    .await;
    let cluster = match cluster {
        Ok(c) => c,
        Err(e) => {
            tokio::task::block_in_place(|| disk.unmount());
            return Err(e);
        }
    };
    let result = drive(
        cfg,
        cluster.clone(),
        &place,
        &disk,
        dir,
        log,
        stop,
        interrupted,
        status,
    )
    .await;
    if !place.leave_running {
        tokio::task::block_in_place(|| cluster.stop());
    }
    tokio::task::block_in_place(|| disk.unmount());
    tokio::task::block_in_place(|| collect_logs(cluster.as_ref(), &place, dir));
    result
}

/// Copies into the run's `<node>/` folder the store's logs that live
/// elsewhere on the node (an adapter's `logs`, a package's `/var/log/...`):
/// those in the node's own directory are there already (locally) or
/// fetched with it (SSH). A log that cannot be read is a warning.
fn collect_logs(cluster: &dyn StoreCluster, place: &Cluster, dir: &RunDir) {
    for node in &place.nodes {
        for log in cluster.log_files(&node.name) {
            if log.starts_with(&node.dir) {
                continue;
            }
            let Some(name) = log.file_name() else {
                continue;
            };
            let copied = dir.node_dir(&node.name).and_then(|d| {
                let to = d.join(name);
                if place.remote {
                    place.control.download(&node.name, &log, &to)?;
                } else {
                    std::fs::copy(&log, &to)?;
                }
                Ok(())
            });
            if let Err(e) = copied {
                eprintln!(
                    "faultline: warning: collecting {}'s log {}: {e:#}",
                    node.name,
                    log.display()
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    cfg: &TestConfig,
    cluster: Arc<dyn StoreCluster>,
    place: &Cluster,
    disk: &DiskSetup,
    dir: &RunDir,
    log: Arc<HistoryLog>,
    (stop_tx, stop_rx): (watch::Sender<bool>, watch::Receiver<bool>),
    interrupted: &AtomicBool,
    status: &Status,
) -> Result<()> {
    let addrs: Vec<NodeAddr> = cluster.nodes();
    let control = place.nemesis_control.clone();
    let names: Vec<String> = addrs.iter().map(|n| n.name.clone()).collect();
    let mut kinds = cfg.nemesis.clone();
    let mut netem = None;
    if kinds.contains(&nemeses::Kind::Netem) {
        let probe = tokio::task::block_in_place(|| {
            probe_netem(control.as_ref(), &names[0])?;
            node_ifaces(control.as_ref(), &addrs, place.local_iface)
        });
        match probe {
            Ok(ifaces) => netem = Some(ifaces),
            Err(why)
                if cfg.optional_kinds.contains(&nemeses::Kind::Netem)
                    && cfg.fixed_schedule.is_none() =>
            {
                eprintln!("faultline: {why}; --nemesis all runs without netem");
                kinds.retain(|k| *k != nemeses::Kind::Netem);
            }
            Err(why) => anyhow::bail!("{why}; use --nemesis loss for packet loss through iptables"),
        }
    }
    let timeline = match &cfg.fixed_schedule {
        Some(events) => events.clone(),
        None => nemeses::schedule::timeline(
            cfg.seed,
            &kinds,
            &names,
            &cfg.nemesis_options,
            (cfg.time_limit_s * 1000.0) as u64,
        )
        .map_err(|e| crate::UsageError(e.to_string()))?,
    };
    dir.write_json("schedule.json", &timeline)?;
    let mut runner = NemesisRunner::setup(
        control.clone(),
        cluster.clone(),
        addrs,
        log.clone(),
        dir.file("nemesis.jsonl"),
    )
    .await?;
    if let Some(ifaces) = netem {
        runner = runner.with_netem(ifaces);
    }
    if cfg.clock_mode == ClockMode::Date {
        runner = runner.with_date_clock().await?;
    }
    if let Some(faults) = tokio::task::block_in_place(|| {
        disk.faults(&kinds, control.clone(), cluster.clone(), &names)
    })? {
        runner = runner.with_disks(faults);
    }
    let nemesis = Arc::new(runner);

    // Main phase.
    let op_timeout = Duration::from_millis(cfg.op_timeout_ms);
    let mut workers = Vec::new();
    for (w, plan) in cluster.workers(cfg)?.into_iter().enumerate() {
        let ctx = Worker {
            first_process: w as u64,
            stride: cfg.concurrency as u64,
            targets: plan.targets,
            route: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x0207_E5EE_D000_0000 ^ w as u64),
            log: log.clone(),
            hard_cap: op_timeout + Duration::from_secs(1),
        };
        let pacer = Pacer::new(cfg.seed, w, cfg.concurrency, cfg.rate);
        let (ops, stop) = (plan.ops, stop_rx.clone());
        workers.push(tokio::spawn(async move { ctx.run(ops, pacer, stop).await }));
    }
    let start = std::time::Instant::now();
    let nemesis_task = {
        let nemesis = nemesis.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move { nemesis.run(timeline, start, stop).await })
    };
    let main = watched(status, Phase::Main, async {
        let failure = main_phase(cfg, cluster.as_ref(), stop_rx.clone()).await;
        let _ = stop_tx.send(true);
        let mut max_process = 0;
        for w in workers {
            max_process = max_process.max(w.await.context("a client worker panicked")?);
        }
        let nemesis_result = match nemesis_task.await {
            Ok(r) => r,
            Err(panic) => Err(anyhow::anyhow!("the nemesis panicked: {panic}")),
        };
        Ok((failure, max_process, nemesis_result))
    })
    .await;
    // Cut or not, the clients and the nemesis stop here.
    let _ = stop_tx.send(true);
    // Always: undo every fault, resume and restart processes, reset clocks.
    let healed = watched(status, Phase::Heal, nemesis.heal_all()).await;
    let (failure, max_process, nemesis_result) = main?;
    nemesis_result?;
    healed?;
    if let Some(why) = failure {
        anyhow::bail!("{why}");
    }

    if interrupted.load(Ordering::SeqCst) {
        return Ok(());
    }
    // Restarted nodes must be serving before the final reads.
    watched(
        status,
        Phase::Heal,
        cluster.await_ready(Duration::from_secs(20)),
    )
    .await?;
    // Final reads from every node, then every key's replicas read locally.
    let Some(plan) = cluster.final_plan(cfg)? else {
        let _ = nemesis.teardown().await;
        return Ok(());
    };
    // Quiescence: every key's replicas read in rounds from the heal on,
    // until they agree (at most --quiesce), then the final reads.
    let first_local = max_process + 1 + plan.readers.len() as u64;
    let replicas = watched(status, Phase::Quiesce, async {
        let replicas =
            convergence_rounds::Replicas::find(&plan.keys, &plan.local, first_local, op_timeout)
                .await;
        let quiesce = Duration::from_secs_f64(cfg.quiesce_s);
        if replicas.is_empty() {
            tokio::time::sleep(quiesce).await;
        } else {
            let waited = Instant::now();
            let agreed = replicas.read_until_agreed(&log, quiesce).await;
            if agreed && !plan.settled_when_agreed {
                // Agreeing replicas are not all there is: wait the rest.
                tokio::time::sleep(quiesce.saturating_sub(waited.elapsed())).await;
            }
        }
        Ok(replicas)
    })
    .await?;
    watched(status, Phase::FinalReads, async {
        let mut finals = Vec::new();
        for (i, (name, client)) in plan.readers.iter().enumerate() {
            let client = client.clone();
            let process = max_process + 1 + i as u64;
            let log = log.clone();
            let name = name.clone();
            let ops = plan.ops.clone();
            finals.push(tokio::spawn(async move {
                let mut process = process;
                for op in &ops {
                    process =
                        final_read(client.as_ref(), op, process, &name, &log, op_timeout).await;
                }
            }));
        }
        // Aborted if the watchdog cuts the phase (dropping a handle would
        // leave its reads running).
        let abort: Vec<_> = finals.iter().map(|f| f.abort_handle()).collect();
        let _abort = AbortOnDrop(abort);
        for f in finals {
            f.await.context("a final read panicked")?;
        }
        Ok(())
    })
    .await?;
    // The replicas must still agree after the final reads (or come to,
    // within the convergence timeout): the checker judges the last round.
    if !replicas.is_empty() {
        watched(status, Phase::Convergence, async {
            let timeout = Duration::from_secs_f64(cfg.convergence_timeout_s);
            replicas.read_until_agreed(&log, timeout).await;
            Ok(())
        })
        .await?;
    }
    let _ = nemesis.teardown().await;
    Ok(())
}

/// Aborts tasks when dropped: what a cut phase leaves running stops.
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// The network interface of a node in its local namespace.
const LOCAL_IFACE: &str = "eth0";

/// Each node's network interface, the one carrying its address: `eth0` in
/// a local namespace; on an SSH node, what `ip -o addr show to ADDR` says.
fn node_ifaces(
    control: &dyn Control,
    nodes: &[NodeAddr],
    local: bool,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut ifaces = std::collections::BTreeMap::new();
    for n in nodes {
        let iface = if local {
            LOCAL_IFACE.to_string()
        } else {
            let argv = ["ip", "-o", "addr", "show", "to", &n.ip.to_string()].map(str::to_string);
            let out = control
                .exec(&n.name, &argv, Duration::from_secs(10))
                .map_err(|e| format!("finding {}'s network interface: {e}", n.name))?;
            iface_of(&out.stdout).ok_or_else(|| {
                format!(
                    "{} has no interface with address {} (`ip -o addr show to {}` printed nothing): is --nodes the address its peers use?",
                    n.name, n.ip, n.ip
                )
            })?
        };
        ifaces.insert(n.name.clone(), iface);
    }
    Ok(ifaces)
}

/// The interface in `ip -o addr` output (`2: eth0@if7    inet ...`).
fn iface_of(ip_o_addr: &str) -> Option<String> {
    let name = ip_o_addr.lines().next()?.split_whitespace().nth(1)?;
    let name = name.split('@').next()?.trim_end_matches(':');
    (!name.is_empty()).then(|| name.to_string())
}

/// Checks that `node`'s kernel has netem, by adding and removing a netem
/// qdisc on its loopback; explains in one line when it does not.
fn probe_netem(control: &dyn Control, node: &str) -> Result<(), String> {
    let (add, del) = nemeses::netem::probe();
    let argv = |v: Vec<&str>| v.into_iter().map(str::to_string).collect::<Vec<_>>();
    match control.exec(node, &argv(add), Duration::from_secs(5)) {
        Ok(_) => {
            let _ = control.exec(node, &argv(del), Duration::from_secs(5));
            Ok(())
        }
        Err(crate::cluster::control::ControlError::Failed { stderr, .. })
            if nemeses::netem::is_missing(&stderr) =>
        {
            Err(format!(
                "the netem nemesis needs the kernel's netem qdisc (module sch_netem), which this machine lacks (tc: {stderr})"
            ))
        }
        Err(e) => Err(format!("probing for netem on {node}: {e}")),
    }
}

/// Waits out the main phase: the time limit, a stop (Ctrl-C), or a fatal
/// failure of the store's clients, which it returns.
async fn main_phase(
    cfg: &TestConfig,
    cluster: &dyn StoreCluster,
    mut stop: watch::Receiver<bool>,
) -> Option<String> {
    let end = Instant::now() + Duration::from_secs_f64(cfg.time_limit_s);
    loop {
        if let Some(why) = cluster.failure() {
            eprintln!("faultline: {why}; stopping the run");
            return Some(why);
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() || sleep_or_stop(left.min(Duration::from_millis(100)), &mut stop).await {
            return cluster.failure();
        }
    }
}

/// Removes from the run the nemesis kinds the store cannot take: with a
/// notice when they came from `--nemesis all`, as a usage error when the
/// user named them.
fn drop_unsupported_faults(store: &dyn store::Store, cfg: &mut TestConfig) -> Result<()> {
    let mut kept = Vec::new();
    for kind in std::mem::take(&mut cfg.nemesis) {
        // `date -s` moves the host's clock, which every process reads.
        let host_clock = kind == nemeses::Kind::Clock && cfg.clock_mode == ClockMode::Date;
        // The faults on the store's files need a data directory.
        let no_files = match kind {
            nemeses::Kind::Power | nemeses::Kind::Corrupt => store.data_dir(cfg).err(),
            _ => None,
        };
        match store
            .unsupported_fault(kind)
            .filter(|_| !host_clock)
            .or(no_files)
        {
            None => kept.push(kind),
            Some(why) if cfg.optional_kinds.contains(&kind) && cfg.fixed_schedule.is_none() => {
                eprintln!("faultline: {why}; --nemesis all runs without {kind}");
            }
            Some(why) => {
                return Err(crate::UsageError(format!(
                    "--nemesis {kind} with --store {}: {why}",
                    store.name()
                ))
                .into())
            }
        }
    }
    cfg.nemesis = kept;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::iface_of;

    #[test]
    fn the_interface_is_read_from_ip_o_addr() {
        let veth = "2: eth0@if7    inet 198.18.3.11/24 brd 198.18.3.255 scope global eth0\\       valid_lft forever preferred_lft forever\n";
        assert_eq!(iface_of(veth).as_deref(), Some("eth0"));
        let vm =
            "2: ens3    inet 10.0.0.4/24 metric 100 brd 10.0.0.255 scope global dynamic ens3\n";
        assert_eq!(iface_of(vm).as_deref(), Some("ens3"));
        assert_eq!(iface_of(""), None);
    }
}
