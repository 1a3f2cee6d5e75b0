//! The description: what a user writes about a store faultline has no
//! code for, as its TOML file says it.
//!
//! A [`Description`] names the store, the workloads its adapter maps and
//! its client port; says what each node needs installed ([`Required`]),
//! how a node is installed, wiped, configured, set up, started, stopped,
//! and made to leave and join ([`NodeCommands`], with its configuration
//! files as [`FileTemplate`]s); and which adapter process each worker
//! starts ([`ClientCommand`]). Commands are argument vectors, never shell
//! strings, and every string is a template left unrendered here. The
//! fields are exactly those of docs/adapters.md: an unknown one is an
//! error, not ignored. A description that cannot be used is a
//! [`DescriptionError`]: one line naming the file, the field, the problem
//! and the fix.

use crate::UsageError;
use serde::Deserialize;
use std::collections::BTreeMap;
use workloads::adapter as protocol;

/// The section of docs/adapters.md every description error points to.
const DOCS: &str = "docs/adapters.md#the-description";

/// A store's description, as its TOML file says it (templates unrendered).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// The store's name, in messages and log file names.
    pub name: String,
    /// The workloads its adapter maps (`set`, `register`).
    pub workloads: Vec<String>,
    /// The port clients use on every node; the node is ready when it
    /// accepts connections there.
    pub port: u16,
    /// Other ports by name (`{{ ports.peer }}`), for templates.
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
    /// Programs the nodes need, installed with apt-get when missing.
    #[serde(default)]
    pub requires: Vec<Required>,
    /// Named parameters and their defaults, `{{ params.NAME }}` in every
    /// template; a run overrides them with `--store-param NAME=VALUE`.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// What runs on each node.
    pub node: NodeCommands,
    /// What runs once for the whole cluster.
    #[serde(default)]
    pub cluster: ClusterCommands,
    /// The adapter process each worker starts.
    pub client: ClientCommand,
}

/// What runs once per cluster: the step that forms it out of nodes that
/// have started (`garage layout apply`, `cockroach init`, `redis-cli
/// --cluster create`, a replication document).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterCommands {
    /// Run in order on the first node once every node is ready (after each
    /// node's `node.after_start`), with that node's variables and the whole
    /// `{{ nodes }}` list; then each node is awaited ready again.
    #[serde(default)]
    pub after_start: Vec<Vec<String>>,
}

/// A program the nodes need and the Debian package that has it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Required {
    /// The program, looked up on `PATH`.
    pub program: String,
    /// The package that provides it.
    pub package: String,
}

/// The per-node lifecycle: argv lists whose every element is a template.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeCommands {
    /// Run first, once per node over SSH, once on this machine for local
    /// nodes (they share its filesystem).
    #[serde(default)]
    pub install: Vec<Vec<String>>,
    /// Run before the files are written, on every start of a cluster, so
    /// each run begins with an empty store.
    #[serde(default)]
    pub wipe: Vec<Vec<String>>,
    /// Configuration files rendered from templates.
    #[serde(default)]
    pub files: Vec<FileTemplate>,
    /// Run after the files are written, before the daemon starts.
    #[serde(default)]
    pub setup: Vec<Vec<String>>,
    /// Says whether the node serves clients: run on the node until it exits
    /// 0 (every 200 ms, each try bounded), instead of waiting for the
    /// client port to accept connections. At start-up and after every
    /// restart.
    #[serde(default)]
    pub ready: Option<Vec<String>>,
    /// Run on each node once every node is ready, the first time only
    /// (before `cluster.after_start`): what a node does to join a cluster
    /// whose members are all up.
    #[serde(default)]
    pub after_start: Vec<Vec<String>>,
    /// The daemon: started in the foreground (it must not fork away), its
    /// pid kept for the nemesis's `kill -9`, SIGSTOP and SIGCONT.
    pub start: Vec<String>,
    /// Extra environment for the daemon.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the daemon's stdout and stderr go.
    #[serde(default = "default_log")]
    pub log: String,
    /// Stops the daemon gracefully; by default SIGTERM. Either way
    /// SIGKILL follows after a grace period.
    #[serde(default)]
    pub stop: Option<Vec<String>>,
    /// Makes the node leave the cluster (with `join`: the membership
    /// nemesis).
    #[serde(default)]
    pub leave: Option<Vec<String>>,
    /// Makes the node join the cluster again.
    #[serde(default)]
    pub join: Option<Vec<String>>,
    /// Other log files worth keeping, beside `log`.
    #[serde(default)]
    pub logs: Vec<String>,
    /// The daemon is dynamically linked against libc and honours
    /// libfaketime, so the clock nemesis can move its clock.
    #[serde(default)]
    pub faketime: bool,
    /// Where the store keeps its data, relative to the node's directory
    /// (`{{ dir }}`): the `power`, `corrupt` and `slow` nemeses act on it
    /// (the store's own templates must name the same directory).
    #[serde(default)]
    pub data_dir: Option<String>,
    /// The files in `data_dir` the `corrupt` nemesis may damage, relative
    /// to it; a name ending in `/` stands for every file in that directory.
    #[serde(default)]
    pub data_files: Vec<String>,
}

fn default_log() -> String {
    "{{ dir }}/{{ store }}.log".into()
}

/// A configuration file: where it goes and its template.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileTemplate {
    /// Its path on the node (a template).
    pub path: String,
    /// Its contents (a template).
    #[serde(default)]
    pub template: Option<String>,
    /// Or a file holding them, relative to the description.
    #[serde(default)]
    pub template_file: Option<String>,
}

/// The adapter process a worker starts.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientCommand {
    /// Its argv; runs on this machine (the controller), with the variables
    /// of the worker's node.
    pub command: Vec<String>,
    /// Extra environment for it.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The workloads for which it answers `read-local` (a node's own
    /// replica of a key) for the convergence checker.
    #[serde(default)]
    pub read_local: Vec<String>,
    /// Where a key's replicas are: `all` (every node holds every key) or
    /// `preflist` (the adapter answers `preflist` requests).
    #[serde(default = "default_replicas")]
    pub replicas: String,
    /// The protocol version the adapter speaks: 1 (`set` and `register`,
    /// no hello) or 2 (every live workload, a hello first).
    #[serde(default = "default_protocol")]
    pub protocol: i64,
    /// Keep a process whose op timed out (its late reply is skipped by
    /// id) instead of killing it and starting a fresh one.
    #[serde(default)]
    pub keep_on_timeout: bool,
}

fn default_protocol() -> i64 {
    1
}

impl ClientCommand {
    /// The protocol the adapter speaks (checked when the description is
    /// loaded).
    pub fn protocol(&self) -> protocol::Protocol {
        protocol::Protocol::from_number(self.protocol).unwrap_or_default()
    }
}

fn default_replicas() -> String {
    "all".into()
}

/// A description that cannot be used: one line naming the file, the
/// field, what is wrong with it, and how to fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {field}: {problem}; {fix} ({DOCS})")]
pub struct DescriptionError {
    /// The description's path, as given.
    pub file: String,
    /// The field (`node.start`, `client.command[1]`), or `line N` for a
    /// TOML syntax error.
    pub field: String,
    /// What is wrong.
    pub problem: String,
    /// What to write instead.
    pub fix: String,
}

impl From<DescriptionError> for UsageError {
    fn from(e: DescriptionError) -> Self {
        UsageError(e.to_string())
    }
}
