//! A test's configuration as a TOML file: `faultline test --config FILE`,
//! and each row of `faultline test-all --matrix FILE` ([`crate::commands::matrix`]).
//!
//! The file holds the same settings as `faultline test`'s flags, under the
//! same names (`--time-limit` is `time_limit`), grouped in tables:
//!
//! ```toml
//! time_limit = "30s"          # top level: the run (nodes, rate, seed, ...)
//! [workload]                  # name, client, keys
//! name = "set"
//! [store]                     # ringkv: n, r, w, conflict, read repair, ...
//! conflict = "dvv"
//! [nemesis]                   # faults, intervals, partition, loss, skew
//! faults = ["partition", "clock"]
//! [checkers.siblings]         # checkers' bounds (no flags for these)
//! bound = 3
//! ```
//!
//! `examples/test.toml` lists every key. Every key is optional: what the file
//! leaves out keeps its flag's default. A flag given on the command line
//! wins over the file, told apart from a default by clap's
//! [`clap::parser::ValueSource`], never by comparing with default values.
//! Unknown keys and bad values are usage errors (exit 254) in one line that
//! names the file and the key, and the allowed keys or values.
//!
//! The file is read into a [`ConfigFile`] (every field optional), checked
//! ([`ConfigFile::check`]), then laid over the command line's
//! [`TestArgs`] ([`ConfigFile::apply`]), which `cli::test_config` turns into
//! the run's [`TestConfig`](crate::settings::TestConfig) as it does flags
//! alone. Checker options have no flags; they travel as [`CheckerOptions`].

use super::CheckerOptions;
use crate::settings::{parse_seconds, TestArgs};
use crate::settings::{Conflict, FSYNC_POLICIES};
use crate::UsageError;
use checkers::siblings::SiblingBound;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A duration in seconds, written as a number (`30`, `1.5`) or as a string
/// with a unit (`"30s"`, `"2m"`, `"500ms"`), as the flags take it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seconds(pub f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration: seconds (30, 1.5) or a string with a unit (\"30s\", \"2m\")",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                parse_seconds(v).map(Seconds).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A seed: an integer, or a string of digits for seeds above TOML's
/// largest integer (2^63 - 1), which half of the random seeds are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed(pub u64);

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seed;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a seed: an integer from 0 to 2^64 - 1 (as a string, \"…\", above 2^63 - 1)",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seed, E> {
                u64::try_from(v)
                    .map(Seed)
                    .map_err(|_| E::custom(format!("{v} is negative; a seed is 0 to 2^64 - 1")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seed, E> {
                Ok(Seed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seed, E> {
                v.trim().parse().map(Seed).map_err(|_| {
                    E::custom(format!(
                        "{v:?} is not a seed (an integer from 0 to 2^64 - 1)"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// How many siblings a read may return, for the siblings checker:
/// `"writers"` (at most the read's concurrent writers, and only mutually
/// concurrent writes: the default), `"unbounded"` (measure only), or a
/// number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound(pub SiblingBound);

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bound;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"writers\", \"unbounded\" or a number of siblings (1 or more)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bound, E> {
                match usize::try_from(v) {
                    Ok(n) if n >= 1 => Ok(Bound(SiblingBound::AtMost(n))),
                    _ => Err(E::custom(format!(
                        "{v}: expected \"writers\", \"unbounded\" or a number of siblings (1 or more)"
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bound, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bound, E> {
                match v {
                    "writers" => Ok(Bound(SiblingBound::Writers)),
                    "unbounded" => Ok(Bound(SiblingBound::Unbounded)),
                    other => Err(E::custom(format!(
                        "{other:?}: expected \"writers\", \"unbounded\" or a number of siblings"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A test configuration file, as written: every key optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Test name (the results folder); `--name`.
    pub name: Option<String>,
    /// Number of local nodes, or the hosts to reach over SSH; `--nodes`.
    pub nodes: Option<Nodes>,
    /// A file naming the hosts, one a line; `--nodes-file`.
    pub nodes_file: Option<PathBuf>,
    /// Length of the main phase; `--time-limit`.
    pub time_limit: Option<Seconds>,
    /// Target ops per second, all workers together; `--rate`.
    pub rate: Option<f64>,
    /// Concurrent client workers, or `"2n"` per node; `--concurrency`.
    pub concurrency: Option<crate::settings::concurrency::Concurrency>,
    /// Seed of the generated ops and the fault schedule; `--seed`.
    pub seed: Option<Seed>,
    /// Wait between healing and the final reads; `--quiesce`.
    pub quiesce: Option<Seconds>,
    /// Client request timeout in milliseconds; `--op-timeout-ms`.
    pub op_timeout_ms: Option<u64>,
    /// Subnet node addresses come from; `--subnet`.
    pub subnet: Option<String>,
    /// Results directory; `--results`.
    pub results: Option<PathBuf>,
    /// The ringkv binary; `--ringkv-bin`.
    pub ringkv_bin: Option<PathBuf>,
    /// `[workload]`: what the clients do.
    #[serde(default)]
    pub workload: WorkloadTable,
    /// `[store]`: ringkv's settings.
    #[serde(default)]
    pub store: StoreTable,
    /// `[nemesis]`: the faults.
    #[serde(default)]
    pub nemesis: NemesisTable,
    /// `[checkers]`: the checkers' options and bounds.
    #[serde(default)]
    pub checkers: CheckersTable,
    /// `[ssh]`: how to log in to SSH nodes, and where faultline's files go.
    #[serde(default)]
    pub ssh: SshTable,
}

/// `nodes`: a count of local nodes (`5`) or a list of hosts
/// (`["10.0.0.1", "db2:2222"]`), as `--nodes` takes either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nodes(pub crate::cluster::nodes::NodesArg);

impl<'de> Deserialize<'de> for Nodes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::cluster::nodes::NodesArg;
        struct V;
        const WANT: &str = "a number of local nodes (1 to 200) or a list of hosts";
        impl<'de> Visitor<'de> for V {
            type Value = Nodes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(WANT)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Nodes, E> {
                match u16::try_from(v) {
                    Ok(n) if (1..=200).contains(&n) => Ok(Nodes(NodesArg::Count(n))),
                    _ => Err(E::custom(format!("{v} is out of range (1 to 200)"))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Nodes, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            /// `"a,b,c"`, as the flag takes it.
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Nodes, E> {
                v.parse::<NodesArg>().map(Nodes).map_err(E::custom)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Nodes, A::Error> {
                let mut hosts: Vec<String> = Vec::new();
                while let Some(h) = seq.next_element::<String>()? {
                    hosts.push(h);
                }
                if hosts.is_empty() {
                    return Err(de::Error::custom(format!("[]: expected {WANT}")));
                }
                let list = hosts.join(",");
                match list.parse::<NodesArg>() {
                    Ok(NodesArg::Hosts(h)) => Ok(Nodes(NodesArg::Hosts(h))),
                    Ok(NodesArg::Count(_)) => Err(de::Error::custom(format!(
                        "{list:?} is a number, not a host: write nodes = {list} for local nodes"
                    ))),
                    Err(e) => Err(de::Error::custom(e)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `[ssh]`: the login flags of `faultline test` for SSH nodes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshTable {
    /// Login user; `--username`.
    pub username: Option<String>,
    /// Private key; `--ssh-private-key`.
    pub private_key: Option<PathBuf>,
    /// Password (prefer a key); `--password`.
    pub password: Option<String>,
    /// Check host keys (default true); `false` is
    /// `--no-strict-host-key-checking`.
    pub strict_host_key_checking: Option<bool>,
    /// The known_hosts file; `--known-hosts`.
    pub known_hosts: Option<PathBuf>,
    /// Directory on the nodes for faultline's files; `--remote-dir`.
    pub remote_dir: Option<PathBuf>,
    /// Leave the store running at the end; `--leave-db-running`.
    pub leave_db_running: Option<bool>,
}

/// `[workload]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadTable {
    /// The workload (`set`, `register`, ...); `--workload`.
    pub name: Option<String>,
    /// Its client mode; `--client`.
    pub client: Option<String>,
    /// Keys (or registers); `--keys`.
    pub keys: Option<u16>,
    /// The register workload's value range; `--values`.
    pub values: Option<u64>,
}

/// `[store]`: ringkv's settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreTable {
    /// The store (`ringkv`, `etcd`, `redis`, or an adapter's `.toml`);
    /// `--store`.
    pub name: Option<String>,
    /// Replicas per key; `--n`.
    pub n: Option<u8>,
    /// Read quorum; `--r`.
    pub r: Option<u8>,
    /// Write quorum; `--w`.
    pub w: Option<u8>,
    /// Conflict mode; `--conflict`.
    pub conflict: Option<String>,
    /// Sloppy quorum with hinted handoff; `--sloppy-quorum`.
    pub sloppy_quorum: Option<bool>,
    /// Read repair (default true); `false` is `--no-read-repair`.
    pub read_repair: Option<bool>,
    /// Anti-entropy interval, 0 for off; `--anti-entropy`.
    pub anti_entropy: Option<Seconds>,
    /// Durability; `--fsync`.
    pub fsync: Option<String>,
}

/// `[nemesis]`: the faults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisTable {
    /// Fault kinds (`[]` for none, `["all"]` for all); `--nemesis`.
    pub faults: Option<Vec<String>>,
    /// How long each fault lasts (and its kind rests); the first part of
    /// `--nemesis-interval`.
    pub interval: Option<Seconds>,
    /// Per-kind intervals, `{ kill = 10 }`; the `kind=S` parts of
    /// `--nemesis-interval`.
    pub intervals: Option<BTreeMap<String, Seconds>>,
    /// A fault timeline to replay; `--nemesis-schedule`.
    pub schedule: Option<PathBuf>,
    /// A fixed partition, `n1,n2|n3,n4,n5`; `--partition`.
    pub partition: Option<String>,
    /// One-way partitions; `--one-way`.
    pub one_way: Option<bool>,
    /// Which nodes faults hit, `nodes` or `primary`; `--nemesis-targets`.
    pub targets: Option<String>,
    /// Share of packets the loss nemesis drops; `--loss-probability`.
    pub loss_probability: Option<f64>,
    /// Largest clock offset; `--max-skew`.
    pub max_skew: Option<Seconds>,
    /// How clocks move (`faketime` or `date`); `--clock-mode`.
    pub clock_mode: Option<String>,
}

/// `[checkers]`: options of the checkers, one table per checker, named as
/// the checker names itself in results.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckersTable {
    /// `[checkers.set-full]`.
    #[serde(rename = "set-full", default)]
    pub set_full: SetFullTable,
    /// `[checkers.siblings]`.
    #[serde(default)]
    pub siblings: SiblingsTable,
    /// `[checkers.perf]`.
    #[serde(default)]
    pub perf: PerfTable,
    /// `[checkers.linearizable]`.
    #[serde(default)]
    pub linearizable: LinearizableTable,
    /// `[checkers.staleness]`.
    #[serde(default)]
    pub staleness: StalenessTable,
    /// `[checkers.convergence]`.
    #[serde(default)]
    pub convergence: ConvergenceTable,
}

/// `[checkers.set-full]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFullTable {
    /// Stale reads make the history invalid (the store claims
    /// linearizability); by default they are only reported.
    pub linearizable: Option<bool>,
}

/// `[checkers.siblings]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiblingsTable {
    /// Siblings a read may return.
    pub bound: Option<Bound>,
}

/// `[checkers.perf]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerfTable {
    /// Width of the throughput and availability windows.
    pub window: Option<Seconds>,
}

/// `[checkers.linearizable]`: the search's budget; past it the verdict is
/// unknown instead of hanging.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearizableTable {
    /// Steps over the whole check (default 100 million).
    pub max_steps: Option<u64>,
    /// Memory for the memo of explored configurations, per key, in MiB
    /// (default 1024).
    pub max_cache_mb: Option<u64>,
}

/// `[checkers.staleness]`: bounds; absent, staleness is measured only.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StalenessTable {
    /// Largest allowed k-staleness of a read (versions behind).
    pub max_versions_behind: Option<u64>,
    /// Largest allowed t-visibility of a write.
    pub max_visibility: Option<Seconds>,
}

/// `[checkers.convergence]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvergenceTable {
    /// How long replicas may take to agree after the final reads;
    /// `--convergence-timeout`.
    pub timeout: Option<Seconds>,
}

/// A key that failed [`ConfigFile::check`] and why.
type KeyError = (String, String);

fn bad(key: &str, msg: impl Into<String>) -> KeyError {
    (key.to_string(), msg.into())
}

fn range<T: PartialOrd + fmt::Display + Copy>(
    key: &str,
    v: Option<T>,
    lo: T,
    hi: T,
) -> Result<(), KeyError> {
    match v {
        Some(v) if v < lo || v > hi => Err(bad(key, format!("{v} is out of range ({lo} to {hi})"))),
        _ => Ok(()),
    }
}

impl ConfigFile {
    /// Checks each value on its own (ranges, names of workloads, client
    /// modes, conflict modes, fsync policies, fault kinds); what depends on
    /// several settings (quorums against N, a partition against the nodes)
    /// is checked once the flags are applied, by `cli::test_config`.
    /// Returns the offending key (dotted: `store.conflict`) and why.
    pub fn check(&self) -> Result<(), (String, String)> {
        if let Some(name) = &self.name {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                return Err(bad("name", format!("{name:?} must be a plain folder name")));
            }
        }
        if self.nodes.is_some() && self.nodes_file.is_some() {
            return Err(bad(
                "nodes_file",
                "give either nodes or nodes_file, not both".to_string(),
            ));
        }
        range("workload.keys", self.workload.keys, 1, 1000)?;
        range("workload.values", self.workload.values, 2, 1_000_000)?;
        if let Some(rate) = self.rate {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(bad("rate", format!("{rate} must be a positive number")));
            }
        }
        let store = crate::stores::by_name(self.store.name.as_deref().unwrap_or("ringkv"))
            .map_err(|e| bad("store.name", e.0))?;
        if let Some(name) = &self.workload.name {
            store
                .validate(name, None)
                .map_err(|e| bad("workload.name", e.0))?;
            if let Some(client) = &self.workload.client {
                store
                    .validate(name, Some(client))
                    .map_err(|e| bad("workload.client", e.0))?;
            }
        }
        let s = &self.store;
        range("store.n", s.n, 1, 200)?;
        range("store.r", s.r, 1, 200)?;
        range("store.w", s.w, 1, 200)?;
        if let Some(c) = &s.conflict {
            if Conflict::parse(c).is_none() {
                return Err(bad(
                    "store.conflict",
                    format!(
                        "{c:?} is not a conflict mode; expected one of {}",
                        Conflict::NAMES
                    ),
                ));
            }
        }
        if let Some(f) = &s.fsync {
            if !FSYNC_POLICIES.contains(&f.as_str()) {
                return Err(bad(
                    "store.fsync",
                    format!(
                        "{f:?} is not an fsync policy; expected one of {}",
                        FSYNC_POLICIES.join(", ")
                    ),
                ));
            }
        }
        let n = &self.nemesis;
        if let Some(m) = &n.clock_mode {
            if m != "faketime" && m != "date" {
                return Err(bad(
                    "nemesis.clock_mode",
                    format!("{m:?}: expected \"faketime\" or \"date\""),
                ));
            }
        }
        if let Some(kinds) = &n.faults {
            nemeses::parse_kinds(&kinds.join(",")).map_err(|e| {
                bad(
                    "nemesis.faults",
                    format!("{e}; [] for none, [\"all\"] for every kind"),
                )
            })?;
        }
        if let Some(Seconds(v)) = n.interval {
            if v < 0.5 {
                return Err(bad("nemesis.interval", format!("{v} s is below 0.5 s")));
            }
        }
        for (kind, Seconds(v)) in n.intervals.iter().flatten() {
            let key = format!("nemesis.intervals.{kind}");
            if !nemeses::KINDS.contains(&kind.as_str()) {
                return Err(bad(
                    &key,
                    format!("unknown fault kind; known: {}", nemeses::KINDS.join(", ")),
                ));
            }
            if *v < 0.5 {
                return Err(bad(&key, format!("{v} s is below 0.5 s")));
            }
        }
        if let Some(p) = n.loss_probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(bad(
                    "nemesis.loss_probability",
                    format!("{p} must be between 0 and 1"),
                ));
            }
        }
        let c = &self.checkers;
        if let Some(Seconds(w)) = c.perf.window {
            if w <= 0.0 {
                return Err(bad("checkers.perf.window", "must be more than 0 s"));
            }
        }
        range(
            "checkers.linearizable.max_steps",
            c.linearizable.max_steps,
            1,
            u64::MAX,
        )?;
        range(
            "checkers.linearizable.max_cache_mb",
            c.linearizable.max_cache_mb,
            1,
            1 << 20,
        )?;
        Ok(())
    }

    /// Lays the file over `args`: each setting the file gives replaces the
    /// flag's value unless `explicit(id)` says the flag was given on the
    /// command line (`id`: the flag's clap id, its field name in
    /// [`TestArgs`]). A flag replaces everything its key covers:
    /// `--nemesis-interval` replaces both `nemesis.interval` and
    /// `nemesis.intervals`.
    pub fn apply(&self, a: &mut TestArgs, explicit: &dyn Fn(&str) -> bool) {
        macro_rules! take {
            ($id:literal, $dst:expr, $src:expr) => {
                if !explicit($id) {
                    if let Some(v) = $src {
                        $dst = v;
                    }
                }
            };
        }
        take!("name", a.name, self.name.clone().map(Some));
        // `--nodes` and `--nodes-file` replace both keys.
        if !explicit("nodes") && !explicit("nodes_file") {
            if let Some(n) = &self.nodes {
                a.nodes = n.0.clone();
            }
            if let Some(f) = &self.nodes_file {
                a.nodes_file = Some(f.clone());
            }
        }
        let ssh = &self.ssh;
        take!("username", a.login.username, ssh.username.clone());
        take!(
            "ssh_private_key",
            a.login.ssh_private_key,
            ssh.private_key.clone().map(Some)
        );
        take!("password", a.login.password, ssh.password.clone().map(Some));
        if !explicit("strict_host_key_checking") && !explicit("no_strict_host_key_checking") {
            if let Some(strict) = ssh.strict_host_key_checking {
                a.login.strict_host_key_checking = strict;
                a.login.no_strict_host_key_checking = !strict;
            }
        }
        take!(
            "known_hosts",
            a.login.known_hosts,
            ssh.known_hosts.clone().map(Some)
        );
        take!("remote_dir", a.login.remote_dir, ssh.remote_dir.clone());
        take!("leave_db_running", a.leave_db_running, ssh.leave_db_running);
        take!("time_limit", a.time_limit, self.time_limit.map(|s| s.0));
        take!("rate", a.rate, self.rate);
        take!("concurrency", a.concurrency, self.concurrency.map(Some));
        take!("seed", a.seed, self.seed.map(|s| Some(s.0)));
        take!("quiesce", a.quiesce, self.quiesce.map(|s| s.0));
        take!("op_timeout_ms", a.op_timeout_ms, self.op_timeout_ms);
        take!("subnet", a.subnet, self.subnet.clone());
        take!("results", a.results, self.results.clone());
        take!(
            "ringkv_bin",
            a.ringkv_bin,
            self.ringkv_bin.clone().map(Some)
        );
        let w = &self.workload;
        take!("workload", a.workload, w.name.clone());
        take!("client", a.client, w.client.clone().map(Some));
        take!("keys", a.keys, w.keys);
        take!("values", a.values, w.values);
        let s = &self.store;
        take!("store", a.store, s.name.clone());
        take!("n", a.n, s.n.map(Some));
        take!("r", a.r, s.r);
        take!("w", a.w, s.w);
        take!("conflict", a.conflict, s.conflict.clone());
        take!("sloppy_quorum", a.sloppy_quorum, s.sloppy_quorum);
        take!(
            "no_read_repair",
            a.no_read_repair,
            s.read_repair.map(|r| !r)
        );
        take!("anti_entropy", a.anti_entropy, s.anti_entropy.map(|s| s.0));
        take!("fsync", a.fsync, s.fsync.clone());
        let n = &self.nemesis;
        take!(
            "nemesis",
            a.nemesis,
            n.faults.as_ref().map(|k| if k.is_empty() {
                "none".to_string()
            } else {
                k.join(",")
            })
        );
        if n.interval.is_some() || n.intervals.is_some() {
            let mut spec = format!("{}", n.interval.map_or(5.0, |s| s.0));
            for (kind, v) in n.intervals.iter().flatten() {
                spec.push_str(&format!(",{kind}={}", v.0));
            }
            take!("nemesis_interval", a.nemesis_interval, Some(spec));
        }
        take!(
            "nemesis_schedule",
            a.nemesis_schedule,
            n.schedule.clone().map(Some)
        );
        take!("partition", a.partition, n.partition.clone().map(Some));
        take!("one_way", a.one_way, n.one_way);
        take!("nemesis_targets", a.nemesis_targets, n.targets.clone());
        take!("loss_probability", a.loss_probability, n.loss_probability);
        take!("max_skew", a.max_skew, n.max_skew.map(|s| s.0));
        take!("clock_mode", a.clock_mode, n.clock_mode.clone());
        take!(
            "convergence_timeout",
            a.convergence_timeout,
            self.checkers.convergence.timeout.map(|s| s.0)
        );
    }

    /// The checkers' options the file sets (those without a flag); a value
    /// equal to the checker's default is left out, so that `test.json`
    /// names only options that change a verdict.
    pub fn checker_options(&self) -> CheckerOptions {
        let c = &self.checkers;
        let budget = checkers::linear::Budget::default();
        let default_window_s = checkers::perf::PerfOptions::default().window_ns as f64 / 1e9;
        CheckerOptions {
            set_full_linearizable: c.set_full.linearizable.filter(|l| *l),
            siblings_bound: c
                .siblings
                .bound
                .map(|b| b.0)
                .filter(|b| *b != SiblingBound::default()),
            perf_window_s: c
                .perf
                .window
                .map(|s| s.0)
                .filter(|w| *w != default_window_s),
            linearizable_max_steps: c.linearizable.max_steps.filter(|s| *s != budget.max_steps),
            linearizable_max_cache_mb: c
                .linearizable
                .max_cache_mb
                .filter(|mb| mb.saturating_mul(1 << 20) != budget.max_cache_bytes as u64),
            staleness_max_versions_behind: c.staleness.max_versions_behind,
            staleness_max_visibility_s: c.staleness.max_visibility.map(|s| s.0),
        }
    }
}

/// Parses TOML text into a table; a syntax error names `origin` and the
/// line, in one line.
pub fn parse_table(text: &str, origin: &str) -> Result<toml::Table, UsageError> {
    text.parse::<toml::Table>().map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        UsageError(format!(
            "{origin}: not valid TOML{at}: {}",
            e.message().trim().replace('\n', " ")
        ))
    })
}

/// Reads a [`ConfigFile`] from a parsed table and checks it; errors name
/// `origin` and the key, in one line.
pub fn from_table(table: toml::Table, origin: &str) -> Result<ConfigFile, UsageError> {
    let file: ConfigFile = serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| UsageError(format!("{origin}: {}", describe(&e))))?;
    file.check()
        .map_err(|(key, msg)| UsageError(format!("{origin}: {key}: {msg}")))?;
    Ok(file)
}

/// One line for a deserialization error: the key, then what was wrong.
fn describe(e: &serde_path_to_error::Error<toml::de::Error>) -> String {
    let msg = e.inner().message().trim().replace('\n', " ");
    let path = e.path().to_string();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        // serde: "unknown field `x`, expected one of `a`, `b`" (or "expected `a`").
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known = expected
            .trim_start_matches(", expected ")
            .trim_start_matches("one of ")
            .replace('`', "");
        let (key, table) = if path == "." || path.is_empty() {
            (field.to_string(), "at the top level".to_string())
        } else {
            let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
            if parent.is_empty() {
                (field.to_string(), "at the top level".to_string())
            } else {
                (format!("{parent}.{field}"), format!("in [{parent}]"))
            }
        };
        return format!("unknown key {key} (known {table}: {known})");
    }
    let msg = plain_types(&msg);
    if path == "." || path.is_empty() {
        msg
    } else {
        format!("{path}: {msg}")
    }
}

/// serde's names of Rust types in an error, as a TOML writer knows them.
fn plain_types(msg: &str) -> String {
    let mut m = msg.to_string();
    for (rust, plain) in [
        ("expected u8", "expected an integer"),
        ("expected u16", "expected an integer"),
        ("expected u32", "expected an integer"),
        ("expected u64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list, [\"…\", …]"),
    ] {
        if let Some(at) = m.find(rust) {
            if !m[at + rust.len()..].starts_with(|c: char| c.is_ascii_digit()) {
                m.replace_range(at..at + rust.len(), plain);
            }
        }
    }
    if let Some(at) = m.find("expected struct ") {
        m.replace_range(at.., "expected a table");
    }
    m
}

/// A configuration file, read and checked.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Its settings.
    pub file: ConfigFile,
    /// Its text, copied into the run's directory.
    pub text: String,
}

/// Reads and checks the test configuration at `path`.
pub fn load(path: &Path) -> Result<Loaded, UsageError> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| UsageError(format!("--config {shown}: {e}")))?;
    let file = from_table(parse_table(&text, &shown)?, &shown)?;
    Ok(Loaded { file, text })
}

/// Deep-merges `over` into `base`: tables merge key by key, anything else
/// in `over` replaces what `base` has.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::commands::Cli;
    use crate::settings::test_config_with;
    use clap::{CommandFactory, FromArgMatches};

    /// `faultline test ARGS` with `text` as its `--config` file.
    fn run(text: &str, args: &[&str]) -> Result<crate::settings::TestConfig, UsageError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, text).unwrap();
        let mut argv = vec!["faultline", "test", "--config", path.to_str().unwrap()];
        argv.extend(args);
        let m = Cli::command().try_get_matches_from(argv).unwrap();
        let sub = m.subcommand_matches("test").unwrap();
        match Cli::from_arg_matches(&m).unwrap().command {
            crate::commands::Command::Test(a) => test_config_with(*a, sub),
            _ => unreachable!(),
        }
        .map_err(|e| UsageError(e.0.replace(path.to_str().unwrap(), "t.toml")))
    }

    fn err(text: &str) -> String {
        let e = run(text, &[]).unwrap_err().0;
        assert!(!e.contains('\n'), "one line: {e}");
        e
    }

    #[test]
    fn ssh_nodes_and_their_login_come_from_the_file_and_flags_win() {
        let key = tempfile::NamedTempFile::new().unwrap();
        let text = format!(
            "nodes = [\"10.0.0.1\", \"db2:2222\", \"10.0.0.3\"]\n[ssh]\nusername = \"admin\"\nprivate_key = {:?}\nstrict_host_key_checking = false\nremote_dir = \"/srv/fl\"\nleave_db_running = true\n",
            key.path().display().to_string()
        );
        let c = run(&text, &["--seed", "1"]).unwrap();
        let r = c.remote.expect("SSH nodes");
        assert_eq!(r.hosts, ["10.0.0.1:22", "db2:2222", "10.0.0.3:22"]);
        assert_eq!(
            (
                r.username.as_str(),
                r.remote_dir.to_str(),
                r.leave_db_running
            ),
            ("admin", Some("/srv/fl"), true)
        );
        assert_eq!(r.private_key.as_deref(), Some(key.path()));
        assert_eq!(r.known_hosts, None, "strict_host_key_checking = false");
        assert_eq!(c.nodes, 3);
        // Flags win: a count on the command line means local nodes, and
        // --strict-host-key-checking turns the check back on.
        let c = run(&text, &["--nodes", "4"]).unwrap();
        assert!(c.remote.is_none());
        assert_eq!(c.nodes, 4);
        let c = run(&text, &["--strict-host-key-checking", "--username", "root"]).unwrap();
        let r = c.remote.unwrap();
        assert!(r.known_hosts.is_some());
        assert_eq!(r.username, "root");
        // A count in the file is local nodes, as before.
        assert!(run("nodes = 3\n", &[]).unwrap().remote.is_none());
    }

    #[test]
    fn bad_node_lists_name_the_key() {
        let e = err("nodes = []\n");
        assert!(e.contains("nodes") && e.contains("list of hosts"), "{e}");
        let e = err("nodes = [\"a b\"]\n");
        assert!(e.contains("nodes"), "{e}");
        let e = err("nodes = 3\nnodes_file = \"hosts.txt\"\n");
        assert!(e.contains("nodes_file") && e.contains("not both"), "{e}");
        let e = err("[ssh]\nuser = \"x\"\n");
        assert!(e.contains("ssh.user") && e.contains("username"), "{e}");
    }

    #[test]
    fn the_example_file_sets_every_table() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/test.toml"),
        )
        .unwrap();
        let c = run(&text, &["--seed", "1"]).unwrap();
        assert_eq!((c.workload.as_str(), c.client.as_str()), ("set", "rmw"));
        assert_eq!(c.keys, 1);
        assert_eq!(c.nemesis, ["partition", "clock"]);
        assert_eq!(c.nemesis_options.interval_ms["clock"], 3000);
        assert_eq!(c.nemesis_options.default_interval_ms, 5000);
        assert_eq!(c.quorums.conflict, Conflict::Lww);
        assert_eq!(c.time_limit_s, 30.0);
        assert_eq!(c.convergence_timeout_s, 30.0);
        // Every checker option there is its default: none is recorded.
        assert!(c.checker_options.is_default(), "{:?}", c.checker_options);
        let src = c.config.unwrap();
        assert_eq!(src.text, text);
        assert!(src.path.ends_with("t.toml") && src.row.is_none());
    }

    #[test]
    fn the_file_overrides_defaults_and_flags_given_override_the_file() {
        let file = r#"
            nodes = 3
            time_limit = "7s"
            seed = "18446744073709551615"
            [workload]
            name = "register"
            client = "quorum"
            [store]
            conflict = "dvv"
            read_repair = false
            anti_entropy = 0
            n = 2
            r = 1
            w = 1
            [nemesis]
            faults = ["clock"]
            interval = 2
            intervals = { clock = "1s" }
            [checkers.convergence]
            timeout = "4s"
        "#;
        let c = run(file, &[]).unwrap();
        assert_eq!(c.nodes, 3);
        assert_eq!(c.concurrency, 6, "2 per node of the file's nodes");
        assert_eq!(c.time_limit_s, 7.0);
        assert_eq!(c.seed, u64::MAX);
        assert_eq!(
            (c.workload.as_str(), c.client.as_str()),
            ("register", "quorum")
        );
        assert_eq!(c.quorums.conflict, Conflict::Dvv);
        assert!(!c.quorums.read_repair);
        assert_eq!(c.quorums.anti_entropy_ms, 0);
        assert_eq!((c.quorums.n, c.quorums.r, c.quorums.w), (2, 1, 1));
        assert_eq!(c.nemesis, ["clock"]);
        assert_eq!(c.nemesis_options.default_interval_ms, 2000);
        assert_eq!(c.nemesis_options.interval_ms["clock"], 1000);
        assert_eq!(c.convergence_timeout_s, 4.0);
        assert!(c.command.contains("--no-read-repair") && c.command.contains("--n 2"));

        // A flag on the command line wins, even one equal to its default
        // (`--nodes 5`, `--nemesis partition`): given is not the same as
        // defaulted.
        let c = run(
            file,
            &[
                "--nodes",
                "5",
                "--nemesis",
                "partition",
                "--conflict",
                "vclock",
                "--seed",
                "9",
                "--nemesis-interval",
                "3",
            ],
        )
        .unwrap();
        assert_eq!(c.nodes, 5);
        assert_eq!(c.nemesis, ["partition"]);
        assert_eq!(c.quorums.conflict, Conflict::Vclock);
        assert_eq!(c.seed, 9);
        assert_eq!(c.nemesis_options.default_interval_ms, 3000);
        assert!(
            c.nemesis_options.interval_ms.is_empty(),
            "the flag replaces intervals too"
        );
        // What no flag overrode still comes from the file.
        assert_eq!(c.time_limit_s, 7.0);
        assert_eq!(c.client, "quorum");
        assert!(!c.quorums.read_repair);

        // An empty file is the flags' defaults.
        let c = run("", &["--seed", "7"]).unwrap();
        let d = crate::settings::test_config(crate::settings::default_test_args()).unwrap();
        assert_eq!(
            (c.nodes, c.time_limit_s, c.rate),
            (d.nodes, d.time_limit_s, d.rate)
        );
        assert_eq!(c.nemesis, d.nemesis);
        assert_eq!(c.quorums, d.quorums);
    }

    #[test]
    fn unknown_keys_name_the_key_the_file_and_what_is_known() {
        let e = err("nodez = 3\n");
        assert!(e.starts_with("t.toml: unknown key nodez"), "{e}");
        assert!(e.contains("known at the top level: name, nodes"), "{e}");
        let e = err("[store]\nfsynk = \"always\"\n");
        assert!(
            e.starts_with("t.toml: unknown key store.fsynk (known in [store]: name, n, r, w"),
            "{e}"
        );
        let e = err("[checkers.sibling]\nbound = 3\n");
        assert!(
            e.contains("unknown key checkers.sibling") && e.contains("siblings"),
            "{e}"
        );
        let e = err("[checkers.siblings]\nmax = 3\n");
        assert!(
            e.contains("unknown key checkers.siblings.max (known in [checkers.siblings]: bound)"),
            "{e}"
        );
        let e = err("[nemesis]\nfaults = [\"kill\"]\n[nemesis.extra]\n");
        assert!(e.contains("unknown key nemesis.extra"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key_and_the_allowed_values() {
        for (text, want) in [
            ("[store]\nconflict = \"lamport\"\n", "t.toml: store.conflict: \"lamport\" is not a conflict mode; expected one of lww, vclock, dvv, node-vclock"),
            ("[store]\nfsync = \"sometimes\"\n", "t.toml: store.fsync: \"sometimes\" is not an fsync policy; expected one of always, interval, never, off"),
            ("[workload]\nname = \"bank\"\n", "t.toml: workload.name: unknown workload \"bank\"; known: set, register"),
            ("[workload]\nname = \"set\"\nclient = \"cas\"\n", "t.toml: workload.client: workload set has no client mode \"cas\"; known: crdt, rmw"),
            ("[nemesis]\nfaults = [\"meteor\"]\n", "t.toml: nemesis.faults: unknown nemesis \"meteor\""),
            ("[nemesis]\nfaults = \"kill\"\n", "t.toml: nemesis.faults: invalid type: string \"kill\", expected a list"),
            ("[nemesis.intervals]\nmeteor = 3\n", "t.toml: nemesis.intervals.meteor: unknown fault kind; known: partition, loss, clock"),
            ("[nemesis]\ninterval = 0.1\n", "t.toml: nemesis.interval: 0.1 s is below 0.5 s"),
            ("time_limit = \"soon\"\n", "t.toml: time_limit: \"soon\" is not a duration"),
            ("nodes = true\n", "t.toml: nodes: invalid type: boolean `true`, expected a number of local nodes (1 to 200) or a list of hosts"),
            ("nodes = 0\n", "t.toml: nodes: 0 is out of range (1 to 200)"),
            ("rate = -1\n", "t.toml: rate: -1 must be a positive number"),
            ("seed = -3\n", "t.toml: seed: -3 is negative"),
            ("[checkers.siblings]\nbound = \"lots\"\n", "t.toml: checkers.siblings.bound: \"lots\": expected \"writers\", \"unbounded\" or a number"),
            ("[checkers.siblings]\nbound = 0\n", "t.toml: checkers.siblings.bound: 0: expected"),
            ("workload = \"set\"\n", "t.toml: workload: invalid type: string \"set\", expected a table"),
            ("name = \"a/b\"\n", "t.toml: name: \"a/b\" must be a plain folder name"),
            ("nodes = 3\n[store\n", "t.toml: not valid TOML (line 2)"),
        ] {
            let e = err(text);
            assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
        }
        // What depends on several settings is checked after the flags.
        let e = err("[store]\nr = 3\nw = 4\n");
        assert!(
            e.contains("--r 3 / --w 4") && e.contains("t.toml and the command line"),
            "{e}"
        );
        let e = load(Path::new("/nonexistent.toml")).unwrap_err().0;
        assert!(e.starts_with("--config /nonexistent.toml: "), "{e}");
    }

    #[test]
    fn checker_options_are_kept_unless_defaults_and_rerun_the_checker() {
        let c = run(
            "[checkers.siblings]\nbound = 3\n[checkers.set-full]\nlinearizable = true\n[checkers.perf]\nwindow = \"1s\"\n[checkers.linearizable]\nmax_steps = 1000\n[checkers.staleness]\nmax_visibility = \"250ms\"\n",
            &[],
        )
        .unwrap();
        let o = &c.checker_options;
        assert_eq!(o.siblings_bound, Some(SiblingBound::AtMost(3)));
        assert_eq!(o.set_full_linearizable, Some(true));
        assert_eq!(o.perf_window_s, None, "1 s is perf's default");
        assert_eq!(o.linear().budget.max_steps, 1000);
        assert_eq!(o.staleness().max_visibility_ms, Some(250.0));
        // Saved in test.json and read back.
        let back: CheckerOptions =
            serde_json::from_str(&serde_json::to_string(o).unwrap()).unwrap();
        assert_eq!(&back, o);

        // An element acknowledged, then missed by a read that began after
        // the add returned: stale, which set-full reports and, with
        // `linearizable = true`, calls invalid.
        let h = checkers::parse::jsonl(
            r#"{"type":"invoke","process":0,"f":"add","value":1,"time":0}
{"type":"ok","process":0,"f":"add","value":1,"time":1000000}
{"type":"invoke","process":1,"f":"read","value":null,"time":2000000}
{"type":"ok","process":1,"f":"read","value":[],"time":3000000}
{"type":"invoke","process":1,"f":"read","value":null,"time":4000000}
{"type":"ok","process":1,"f":"read","value":[1],"time":5000000}"#,
        )
        .unwrap();
        let full = |r: &[checkers::CheckResult]| {
            r.iter()
                .find(|c| c.checker == checkers::set_full::NAME)
                .unwrap()
                .valid
        };
        let defaults = workloads::check("set", &h).unwrap();
        assert_eq!(full(&defaults), checkers::Validity::Valid);
        let with = workloads::check_with("set", &h, &o.check_options()).unwrap();
        assert_eq!(full(&with), checkers::Validity::Invalid);
        // The linearizability budget reaches the checker: a budget of one
        // step cannot decide a register history that needs more.
        let tight = CheckerOptions {
            linearizable_max_steps: Some(1),
            ..Default::default()
        };
        let reg = checkers::parse::jsonl(
            r#"{"type":"invoke","process":0,"f":"write","value":1}
{"type":"ok","process":0,"f":"write","value":1}
{"type":"invoke","process":1,"f":"write","value":2}
{"type":"invoke","process":2,"f":"read","value":null}
{"type":"ok","process":2,"f":"read","value":1}
{"type":"ok","process":1,"f":"write","value":2}
{"type":"invoke","process":0,"f":"read","value":null}
{"type":"ok","process":0,"f":"read","value":2}"#,
        )
        .unwrap();
        let lin = |o: &CheckerOptions| {
            workloads::check_with("register", &reg, &o.check_options()).unwrap()[0].valid
        };
        assert_eq!(lin(&CheckerOptions::default()), checkers::Validity::Valid);
        assert_eq!(lin(&tight), checkers::Validity::Unknown);
    }

    /// The first ```toml block after `heading` in README.md.
    pub(crate) fn readme_toml(heading: &str) -> String {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap();
        let at = readme.find(heading).expect("the README's heading");
        let block = &readme[at..];
        let start = block.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let end = block[start..].find("```").unwrap();
        block[start..start + end].to_string()
    }

    #[test]
    fn the_readme_example_is_a_valid_config() {
        let c = run(&readme_toml("## Tests as files"), &[]).unwrap();
        assert_eq!(c.seed, 42);
        assert_eq!(
            c.checker_options.siblings_bound,
            Some(SiblingBound::AtMost(3))
        );
        assert_eq!(c.checker_options.staleness_max_versions_behind, Some(2));
    }

    #[test]
    fn merge_is_deep_for_tables_and_replaces_the_rest() {
        let mut base: toml::Table =
            "nodes = 5\n[store]\nr = 2\nw = 2\n[nemesis]\nfaults = [\"kill\"]\n"
                .parse()
                .unwrap();
        let over: toml::Table = "nodes = 3\n[store]\nw = 3\n[nemesis]\nfaults = []\n"
            .parse()
            .unwrap();
        merge(&mut base, over);
        let f = from_table(base, "m").unwrap();
        assert_eq!(
            f.nodes,
            Some(Nodes(crate::cluster::nodes::NodesArg::Count(3)))
        );
        assert_eq!((f.store.r, f.store.w), (Some(2), Some(3)));
        assert_eq!(f.nemesis.faults, Some(vec![]));
    }
}
