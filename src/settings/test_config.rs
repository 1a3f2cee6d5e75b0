//! [`TestConfig`]: everything that defines a test, as one typed value.
//!
//! Flags, a `--config` file and a matrix row all end here
//! ([`super::resolve`]); the run, the stores, the nemeses and the report
//! read this and nothing else. It is written into each run's folder as
//! `test.json`, so `faultline report` and `faultline heal` read back the
//! very settings the run had.

use super::{CheckerOptions, ClockMode, Replication, StoreKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything that defines a test; written to `test.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestConfig {
    /// Test name (the results folder).
    pub name: String,
    /// The store under test (`ringkv`, `etcd`, `redis`, or an adapter's
    /// `.toml` file; see [`crate::stores`]).
    #[serde(default)]
    pub store: StoreKind,
    /// The name an adapter's description gives its store (empty for a
    /// shipped store, whose name is its `--store` word, and in runs from
    /// before it was recorded): see [`TestConfig::store_name`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub store_name: String,
    /// Workload (`set`, `register`, ..., `sequence`, `session`).
    pub workload: workloads::Workload,
    /// Client mode of the workload (`crdt`, `rmw`, `sticky`, `random`, ...).
    pub client: workloads::ClientMode,
    /// Nemesis kinds (empty = none).
    pub nemesis: Vec<nemeses::Kind>,
    /// How faults are drawn and timed (intervals, loss probability, skew,
    /// a fixed partition).
    pub nemesis_options: nemeses::schedule::Options,
    /// Kinds that came from `--nemesis all` and are dropped, with a notice,
    /// where this machine cannot inject them (netem on a kernel without it);
    /// a kind asked for by name is an error there instead.
    #[serde(default)]
    pub optional_kinds: Vec<nemeses::Kind>,
    /// A timeline given by `--nemesis-schedule`, replayed instead of drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_schedule: Option<Vec<nemeses::schedule::Event>>,
    /// How clock faults move clocks: `faketime` (libfaketime offset files)
    /// or `date` (`date -s` on SSH hosts, host-wide).
    #[serde(default)]
    pub clock_mode: ClockMode,
    /// Main-phase length in seconds.
    pub time_limit_s: f64,
    /// Seed for generated ops and faults.
    pub seed: u64,
    /// Number of nodes.
    pub nodes: usize,
    /// The nodes are machines reached over SSH (`--nodes HOSTS`), not
    /// local namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::cluster::nodes::RemoteNodes>,
    /// Concurrent client workers.
    pub concurrency: usize,
    /// Target ops per second, all workers together.
    pub rate: f64,
    /// Keys the set is spread over.
    pub keys: usize,
    /// The register workload draws its values from `0..values`
    /// (`--values`): small ranges make ops collide, large ones make each
    /// read name the write it saw.
    #[serde(default = "default_values")]
    pub values: u64,
    /// The longest wait between healing and the final reads, in seconds:
    /// the replicas are read in rounds meanwhile, and the final reads start
    /// as soon as every key's replicas agree.
    pub quiesce_s: f64,
    /// After the final reads, how long replicas may take to agree.
    #[serde(default = "default_convergence_timeout")]
    pub convergence_timeout_s: f64,
    /// Client request timeout in milliseconds.
    pub op_timeout_ms: u64,
    /// Quorum settings of the store.
    pub quorums: Replication,
    /// Subnet for node addresses.
    pub subnet: String,
    /// Results root.
    pub results: PathBuf,
    /// Explicit ringkv binary, if given.
    pub ringkv_bin: Option<PathBuf>,
    /// The command line that reproduces this run.
    pub command: String,
    /// Checker options beyond each checker's defaults (from a
    /// configuration file's `[checkers]`).
    #[serde(default, skip_serializing_if = "CheckerOptions::is_default")]
    pub checker_options: CheckerOptions,
    /// The configuration file the run came from (`--config`, or a matrix
    /// row), copied into the run's directory as `config.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigSource>,
    /// How long the phases that have no bound of their own may take
    /// before the watchdog cuts them ([`crate::run::status`]).
    #[serde(default)]
    pub watchdog: Watchdog,
    /// Write the run's `faultline.log` as JSON lines (`--log-json`).
    #[serde(default)]
    pub log_json: bool,
    /// Parameters of a described store (`--store-param KEY=VALUE`),
    /// overriding its description's `[params]` defaults.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub store_params: std::collections::BTreeMap<String, String>,
}

/// The watchdog's settings; the other phases' bounds follow from the time
/// limit, op timeout, quiescence and convergence timeout
/// ([`crate::run::status::Phase::bound`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Watchdog {
    /// Store start and readiness, in seconds (`--setup-timeout`).
    pub setup_s: f64,
    /// Every node's final reads, in seconds (`--final-timeout`).
    pub final_reads_s: f64,
}

impl Default for Watchdog {
    fn default() -> Self {
        Watchdog {
            setup_s: 300.0,
            final_reads_s: 120.0,
        }
    }
}

fn default_values() -> u64 {
    workloads::register::DEFAULT_VALUES
}

fn default_convergence_timeout() -> f64 {
    30.0
}

impl TestConfig {
    /// The store's name for people: what it calls itself, or else its
    /// `--store` word (an adapter's file path, in old runs).
    pub fn store_name(&self) -> String {
        match &self.store {
            StoreKind::Adapter(_) if !self.store_name.is_empty() => self.store_name.clone(),
            kind => kind.to_string(),
        }
    }
}

/// Where a run's configuration file came from; the file itself is written
/// into the run's directory as `config.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigSource {
    /// The file given to `--config`, or the matrix file.
    pub path: PathBuf,
    /// The matrix row the run is, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<String>,
    /// The TOML written as `config.toml` (the `--config` file verbatim, or a
    /// matrix row with its `[defaults]` merged in).
    #[serde(skip)]
    pub text: String,
}
