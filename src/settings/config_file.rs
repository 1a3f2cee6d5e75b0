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

mod values;

use super::CheckerOptions;
use crate::settings::TestArgs;
use crate::settings::{Conflict, FSYNC_POLICIES};
use crate::UsageError;
use checkers::siblings::SiblingBound;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use values::{Bound, Nodes, Seconds, Seed};

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
    /// Parameters of a described store (`{ consistency_mode =
    /// "dangerous" }`); `--store-param`.
    pub params: Option<BTreeMap<String, String>>,
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
            let name = workloads::Workload::parse(name)
                .map_err(|e| bad("workload.name", e.to_string()))?;
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
            if super::ClockMode::parse(m).is_none() {
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
        take!(
            "store_param",
            a.store_param,
            s.params
                .as_ref()
                .map(|p| p.iter().map(|(k, v)| format!("{k}={v}")).collect())
        );
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
        take!(
            "clock_mode",
            a.clock_mode,
            n.clock_mode.as_deref().and_then(super::ClockMode::parse)
        );
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
pub(crate) mod tests;
