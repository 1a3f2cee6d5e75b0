//! Stores faultline can test: the seam between the runner and a database.
//!
//! The runner knows how to build a network, drive workers, inject faults
//! and check a history; it does not know what a store is. A [`Store`] is the
//! kind of database (`--store ringkv`, `etcd`, `redis`, or a TOML file that
//! describes any store through an adapter): it says which workloads it can
//! run, what its nodes need installed, and which faults can reach it, and it
//! starts a [`StoreCluster`] on the nodes the runner gives it. The cluster is
//! what a run holds while it lasts: the processes the nemesis kills and
//! pauses ([`DbProcesses`]), the clients each worker uses, and the final
//! reads (with each replica's local read, where the store has one, for the
//! convergence checker).
//!
//! ```text
//!   runner ──Store::start(cfg, Placement)──▶ StoreCluster
//!     │                                         │ workers(): a client per worker
//!     │                                         │ final_plan(): final reads, replicas
//!   nemesis ──DbProcesses (kill, pause, primary)┘
//! ```
//!
//! Stores: [`ringkv`] (the reference store, every workload), [`etcd`]
//! (`register`, linearizable or serializable reads), `redis` (`set`
//! through a primary that Sentinel fails over), and `adapter` (a store
//! described in TOML, its clients speaking JSON lines).

pub mod adapter;
pub mod daemons;
pub mod etcd;
pub mod processes;
pub mod redis;
pub mod ringkv;

pub use processes::DbProcesses;

use crate::cluster::control::os::Requirement;
use crate::cluster::control::Control;
use crate::settings::{StoreKind, TestConfig};
use anyhow::Result;
use nemeses::NodeAddr;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workloads::{Client, Invocation, LocalRead, OpSource};

/// One node a store runs on, as the runner placed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreNode {
    /// Node name (`n1`, ...).
    pub name: String,
    /// The address its peers and clients use.
    pub ip: IpAddr,
    /// Its own directory (config, logs, data): in the run directory for
    /// local nodes, under the remote directory on an SSH node.
    pub dir: PathBuf,
}

impl StoreNode {
    /// The nodes of a local network, in order, each with the directory
    /// `dir_of` gives its name.
    pub fn on_network(
        network: &crate::cluster::control::netns::LocalNetwork,
        dir_of: impl Fn(&str) -> Result<PathBuf>,
    ) -> Result<Vec<StoreNode>> {
        network
            .nodes
            .iter()
            .map(|n| {
                Ok(StoreNode {
                    name: n.name.clone(),
                    ip: n.ip.into(),
                    dir: dir_of(&n.name)?,
                })
            })
            .collect()
    }

    /// The node as the nemeses see it: its name and address.
    pub fn addr(&self) -> NodeAddr {
        NodeAddr {
            name: self.name.clone(),
            ip: self.ip,
        }
    }
}

/// Where a cluster runs and how to reach it.
pub struct Placement {
    /// The nodes, in order.
    pub nodes: Vec<StoreNode>,
    /// Runs commands and daemons on the nodes.
    pub control: Arc<dyn Control>,
    /// The nodes' files are on other machines (SSH): written through
    /// [`Control::write_file`], never with `std::fs`.
    pub remote: bool,
    /// libfaketime's preload library, when the run has clock faults and
    /// the store can take them: the store's processes run under it.
    pub faketime: Option<PathBuf>,
    /// The run's directory on this machine (the controller), for what the
    /// store's clients leave there (an adapter's stderr logs), whether the
    /// nodes are local or not.
    pub run_dir: PathBuf,
}

/// A kind of store: what it can run, and how to start a cluster of it.
pub trait Store: Send + Sync {
    /// The name `--store` takes (or the adapter file's `name`).
    fn name(&self) -> &str;

    /// Checks that this store can run `workload` with client mode `client`
    /// (`None`: the store's default for it); returns the mode to record.
    fn validate(
        &self,
        workload: workloads::Workload,
        client: Option<&str>,
    ) -> Result<workloads::ClientMode, crate::UsageError>;

    /// Programs the nodes need; the OS layer installs what is missing.
    fn requirements(&self) -> Vec<Requirement>;

    /// The store's own binary, when faultline ships it (built beside
    /// faultline, uploaded to SSH nodes): `None` for a store its nodes
    /// install from a package registry.
    fn shipped_binary(&self, _cfg: &TestConfig) -> anyhow::Result<Option<std::path::PathBuf>> {
        Ok(None)
    }

    /// The ports its servers listen on, on each node's address (`faultline
    /// doctor` checks they are free).
    fn ports(&self) -> Vec<u16>;

    /// Why the nemesis kind `kind` cannot reach this store here, if it
    /// cannot (a Go binary ignores libfaketime; a store without membership
    /// changes cannot leave and join). A kind the user named is then an
    /// error; one that came from `--nemesis all` is dropped with a notice.
    fn unsupported_fault(&self, kind: nemeses::Kind) -> Option<String>;

    /// Where each node's store keeps its data, for the faults that act on
    /// it (`power`, `corrupt`, the disk half of `slow`); `Err` says why
    /// this store (with these settings) keeps nothing there.
    fn data_dir(&self, _cfg: &TestConfig) -> Result<DataLayout, String> {
        Err(format!(
            "--store {} declares no data directory",
            self.name()
        ))
    }

    /// Checks the rest of a test's configuration against this store (the
    /// nodes it needs, say), before anything starts.
    fn check_config(&self, _cfg: &TestConfig) -> Result<(), crate::UsageError> {
        Ok(())
    }

    /// The parameters `--store-param` may set, with their defaults (a
    /// described store's `[params]`; none for the built-in stores, whose
    /// settings are flags of their own).
    fn params(&self) -> std::collections::BTreeMap<String, String> {
        Default::default()
    }

    /// Whether the store has a primary that faults can be aimed at
    /// (`--nemesis-targets primary`), which its cluster names through
    /// [`DbProcesses::primary`].
    fn has_primary(&self) -> bool {
        false
    }

    /// Writes every node's configuration and starts every node (blocking;
    /// the runner then awaits [`StoreCluster::await_ready`]).
    fn start(&self, cfg: &TestConfig, placement: Placement) -> Result<Arc<dyn StoreCluster>>;
}

/// Where a store keeps its data on each node, and which of its files
/// the `corrupt` nemesis may damage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataLayout {
    /// The data directory, relative to the node's directory.
    pub dir: PathBuf,
    /// Its files a corruption picks from, relative to it; a name ending in
    /// `/` stands for every file in that directory (a write-ahead log's
    /// segments).
    pub files: Vec<String>,
}

impl DataLayout {
    /// `node`'s data directory.
    pub fn on(&self, node: &StoreNode) -> PathBuf {
        node.dir.join(&self.dir)
    }
}

/// What one client worker does: the nodes it may send to (its own first,
/// with a client for each) and where its operations come from.
pub struct WorkerPlan {
    /// `(node, client)`: the first is the worker's own node; a worker with
    /// several routes each op to one drawn at random.
    pub targets: Vec<(String, Arc<dyn Client>)>,
    /// Its operations (often one generator shared by every worker).
    pub ops: Arc<dyn OpSource>,
}

/// The final phase after healing: every key's replicas read locally in
/// rounds until they agree (at most the quiescence; see
/// [`crate::run::convergence_rounds`]), reads from every node, then the replicas
/// read again until they agree.
pub struct FinalPlan {
    /// The reads each node performs, in order (may be empty).
    pub ops: Vec<Invocation>,
    /// `(node, client)` for the final reads, one per node.
    pub readers: Vec<(String, Arc<dyn Client>)>,
    /// The keys whose replicas must agree (empty: no convergence check).
    pub keys: Vec<String>,
    /// `(node, local reader)`, one per node that can read its own replica.
    pub local: Vec<(String, Arc<dyn LocalRead>)>,
    /// Replicas that agree mean the store has settled, so the final reads
    /// may start as soon as they do. False when writes can wait where the
    /// local reads do not look (ringkv's hints on fallback nodes under a
    /// sloppy quorum): the rounds still time the agreement, and the final
    /// reads wait out the whole quiescence.
    pub settled_when_agreed: bool,
}

/// A running cluster of some store, for as long as a run lasts.
#[async_trait::async_trait]
pub trait StoreCluster: DbProcesses {
    /// The nodes as the nemeses see them.
    fn nodes(&self) -> Vec<NodeAddr>;

    /// Waits until every node serves clients, or explains (naming the node
    /// and the last line of its log) which did not.
    async fn await_ready(&self, timeout: Duration) -> Result<()>;

    /// Stops every node (a paused one too), gracefully then by force.
    fn stop(&self);

    /// The log files of `node`, on the node (fetched from SSH nodes).
    fn log_files(&self, node: &str) -> Vec<PathBuf>;

    /// One plan per worker, `cfg.concurrency` of them.
    fn workers(&self, cfg: &TestConfig) -> Result<Vec<WorkerPlan>>;

    /// The final phase, or `None` when the workload's checkers judge the
    /// main phase alone.
    fn final_plan(&self, cfg: &TestConfig) -> Result<Option<FinalPlan>>;

    /// A fault of the store's clients that makes going on pointless (an
    /// adapter that broke its protocol): the runner polls it during the
    /// main phase, stops the run and fails with it, keeping the history.
    fn failure(&self) -> Option<String> {
        None
    }
}

/// Checks a test's configuration against `store` beyond its workload: the
/// store's own conditions ([`Store::check_config`]), and faults aimed at a
/// primary (`--nemesis-targets primary`, or a schedule file holding them)
/// only where the store has one.
pub fn check_test(store: &dyn Store, cfg: &TestConfig) -> Result<(), crate::UsageError> {
    store.check_config(cfg)?;
    let known = store.params();
    for k in cfg.store_params.keys() {
        if !known.contains_key(k) {
            let has = if known.is_empty() {
                format!("--store {} has no parameters", store.name())
            } else {
                format!(
                    "the parameters of --store {} are {}",
                    store.name(),
                    known.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            return Err(crate::UsageError(format!(
                "--store-param {k}: {has} (a described store lists them in its [params])"
            )));
        }
    }
    let aimed = !cfg.nemesis_options.targets.is_nodes()
        || cfg
            .fixed_schedule
            .as_deref()
            .is_some_and(nemeses::schedule::needs_primary);
    if aimed && !cfg.nemesis.is_empty() && !store.has_primary() {
        return Err(crate::UsageError(format!(
            "--nemesis-targets primary: --store {} has no primary to aim faults at (stores with one: redis)",
            store.name()
        )));
    }
    Ok(())
}

pub use crate::settings::STORES;

/// The store a run's settings name, ready to start: a shipped one, or an
/// adapter's description read (and checked) from its file.
pub fn open(kind: &StoreKind) -> Result<Box<dyn Store>, crate::UsageError> {
    Ok(match kind {
        StoreKind::Ringkv => Box::new(ringkv::Ringkv),
        StoreKind::Etcd => Box::new(etcd::Etcd),
        StoreKind::Redis => Box::new(redis::Redis),
        StoreKind::Adapter(path) => Box::new(adapter::AdapterStore::load(path)?),
        StoreKind::Shipped(s) => Box::new(adapter::load_shipped(*s)?),
    })
}

/// The store `--store` names: one of [`STORES`], or the path of an
/// adapter's TOML description.
pub fn by_name(name: &str) -> Result<Box<dyn Store>, crate::UsageError> {
    open(&StoreKind::parse(name).map_err(crate::UsageError)?)
}
