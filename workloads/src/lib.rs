//! # workloads: what the clients do
//!
//! A workload is three things: a *generator* of operations for the main phase,
//! a *client* that performs one operation against a store and says how it
//! ended, and the *final phase* that reads back what the store kept. The
//! controller drives many clients concurrently, records every invocation and
//! completion in the history, and hands the history to the checkers the
//! workload names.
//!
//! The central rule a client must respect is honesty about outcomes
//! ([`Completion`]): `ok` only when the store confirmed the effect, `fail` only
//! when the operation certainly had no effect (the request never left, or the
//! store refused it before doing anything), and `info` whenever the outcome is
//! unknown (a timeout, a lost connection, a write that missed its quorum but
//! may have reached some replicas). A client that says `fail` for an unknown
//! outcome makes the checkers cry wolf; one that says `ok` too early hides
//! lost writes.
//!
//! - [`set`]: unique elements added to a set, read back at the end; finds lost
//!   updates. Two client modes: a CRDT set, and read-modify-write of a list in
//!   a last-write-wins register.
//! - [`register`]: reads, writes and compare-and-sets of a few registers;
//!   checked for linearizability. Client modes: ringkv's Paxos registers, or
//!   plain quorum reads and writes.
//! - [`counter`]: increments and decrements of one counter, read now and
//!   then and at the end; checked against the bounds the adds allow.
//! - [`siblings`]: unique writes to a few keys, with or without the causal
//!   context of a read; checked for sibling explosion.
//! - [`orset`]: adds and removes of a few elements in one OR-set; checked
//!   for add-wins semantics and convergence.
//! - [`ringkv`]: an HTTP client for the reference store.

pub mod counter;
pub mod orset;
pub mod register;
pub mod ringkv;
pub mod set;
pub mod siblings;

use checkers::OpType;
use serde_json::Value;

/// An operation a generator asks a client to perform.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// The function, e.g. `add` or `read`.
    pub f: String,
    /// Its argument.
    pub value: Value,
}

/// How a client operation ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// `Ok`, `Fail` or `Info` (never `Invoke`).
    pub kind: OpType,
    /// The result (a read's value), or the invocation's value echoed back.
    pub value: Value,
    /// Why it failed or is unknown.
    pub error: Option<String>,
}

impl Completion {
    /// The operation took effect; `value` is its result.
    pub fn ok(value: Value) -> Self {
        Completion {
            kind: OpType::Ok,
            value,
            error: None,
        }
    }

    /// The operation certainly did not take effect.
    pub fn fail(value: Value, error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Fail,
            value,
            error: Some(error.into()),
        }
    }

    /// The outcome is unknown.
    pub fn info(value: Value, error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Info,
            value,
            error: Some(error.into()),
        }
    }
}

/// Where the main phase's operations come from; shared by all workers.
pub trait OpSource: Send + Sync {
    /// The next operation to perform.
    fn next_op(&self) -> Invocation;
}

/// Reads one node's own replica of a key, uncoordinated, for the
/// convergence checker.
#[async_trait::async_trait]
pub trait LocalRead: Send + Sync {
    /// The key's replicas (its preference list), as this node sees them.
    async fn preflist(&self, key: &str) -> Result<Vec<String>, ringkv::RequestError>;
    /// This node's replica of `key` as JSON (`null`: it holds nothing).
    async fn read_local(&self, key: &str) -> Result<Value, ringkv::RequestError>;
}

impl Completion {
    /// How a write ended: `ok`; `fail` when it certainly had no effect;
    /// `info` when it may have (a timeout, a missed write quorum).
    pub fn of_write(value: Value, r: Result<(), ringkv::RequestError>) -> Self {
        match r {
            Ok(()) => Completion::ok(value),
            Err(ringkv::RequestError::Definite(m)) => Completion::fail(value, m),
            Err(ringkv::RequestError::Indeterminate(m)) => Completion::info(value, m),
        }
    }
}

/// Performs operations against one node of a store.
#[async_trait::async_trait]
pub trait Client: Send + Sync {
    /// Performs `op` and reports how it ended. Must not take much longer than
    /// the client's timeout; the controller enforces a hard cap as well.
    async fn invoke(&self, op: &Invocation) -> Completion;
}

/// Errors in workload configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkloadError {
    /// `--workload` named a workload this build does not have.
    #[error(
        "unknown workload {0:?}; known: set, register, counter, siblings, or-set, and for `faultline check` only: kv"
    )]
    UnknownWorkload(String),
    /// The workload exists for `faultline check` (its checker is built) but
    /// has no client to run it live yet.
    #[error("workload {0} has no live client yet; it can only check recorded histories: faultline check --workload {0} <history>")]
    NoLiveClient(String),
    /// `--client` named a mode the workload does not have.
    #[error("workload {workload} has no client mode {mode:?}; known: {known}")]
    UnknownMode {
        /// The workload.
        workload: String,
        /// The mode asked for.
        mode: String,
        /// The modes it has.
        known: String,
    },
}

/// The workloads this build knows, by the names `--workload` accepts.
pub const WORKLOADS: &[&str] = &["set"];

/// Checks that `workload` exists and `client` is one of its modes; returns the
/// workload's default mode when `client` is `None`.
pub fn validate(workload: &str, client: Option<&str>) -> Result<String, WorkloadError> {
    match workload {
        "set" => Ok(set::Mode::parse(client.unwrap_or("crdt"))?
            .name()
            .to_string()),
        "register" => Ok(register::Mode::parse(client.unwrap_or("cas"))?
            .name()
            .to_string()),
        "counter" => Ok(counter::Mode::parse(client.unwrap_or("crdt"))?
            .name()
            .to_string()),
        "siblings" => Ok(siblings::Mode::parse(client.unwrap_or("context"))?
            .name()
            .to_string()),
        "or-set" => Ok(orset::parse_mode(client.unwrap_or("crdt"))?.to_string()),
        "kv" => Err(WorkloadError::NoLiveClient(workload.to_string())),
        other => Err(WorkloadError::UnknownWorkload(other.to_string())),
    }
}

/// Checks that `faultline check` can judge histories of `workload`: every
/// workload [`validate`] accepts, plus those that only have a checker so far
/// (`register`, `kv`: linearizability of recorded histories, e.g. Jepsen's or
/// Porcupine's; `counter`: the counter checker's bounds, plus perf).
pub fn validate_check(workload: &str) -> Result<(), WorkloadError> {
    match validate(workload, None) {
        Err(WorkloadError::NoLiveClient(_)) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Whether the history holds local reads of each replica, which faultline's
/// runs record (for the convergence checker) and other tools' lack.
fn has_local_reads(history: &checkers::History) -> bool {
    history
        .ops
        .iter()
        .any(|o| checkers::convergence::LOCAL_READS.contains(&o.f.as_str()))
}

/// Runs every checker the workload feeds on `history`.
pub fn check(
    workload: &str,
    history: &checkers::History,
) -> Result<Vec<checkers::CheckResult>, WorkloadError> {
    match workload {
        "set" => {
            let mut results = vec![
                checkers::set::check(history),
                checkers::set_full::check(history, Default::default()),
            ];
            if has_local_reads(history) {
                results.push(checkers::convergence::check(history));
            }
            results.push(checkers::perf::check(history, Default::default()));
            Ok(results)
        }
        "register" => Ok(vec![
            checkers::linear::check(history, checkers::linear::Model::Register),
            checkers::perf::check(history, checkers::perf::PerfOptions::default()),
        ]),
        "or-set" => {
            let mut results = vec![checkers::crdt::check(history)];
            if has_local_reads(history) {
                results.push(checkers::convergence::check(history));
            }
            results.push(checkers::perf::check(history, Default::default()));
            Ok(results)
        }
        "siblings" => Ok(vec![
            checkers::siblings::check(history, Default::default()),
            checkers::perf::check(history, Default::default()),
        ]),
        "kv" => Ok(vec![checkers::linear::check(
            history,
            checkers::linear::Model::Kv,
        )]),
        "counter" => {
            let mut results = vec![checkers::counter::check(history)];
            if has_local_reads(history) {
                results.push(checkers::convergence::check(history));
            }
            results.push(checkers::perf::check(history, Default::default()));
            Ok(results)
        }
        other => Err(WorkloadError::UnknownWorkload(other.to_string())),
    }
}

#[cfg(test)]
mod counter_tests {
    use super::*;

    #[test]
    fn counter_is_live_and_checkable() {
        assert_eq!(validate("counter", None).unwrap(), "crdt");
        assert_eq!(validate("counter", Some("rmw")).unwrap(), "rmw");
        assert!(validate("counter", Some("cas")).is_err());
        assert_eq!(validate_check("counter"), Ok(()));
        let h = checkers::parse::jsonl(
            r#"{"type":"invoke","process":0,"f":"add","value":3}
{"type":"ok","process":0,"f":"add","value":3}
{"type":"invoke","process":1,"f":"read","value":null}
{"type":"ok","process":1,"f":"read","value":2}"#,
        )
        .unwrap();
        let r = check("counter", &h).unwrap();
        let names: Vec<&str> = r.iter().map(|r| r.checker.as_str()).collect();
        assert_eq!(names, vec!["counter", "perf"]);
        assert_eq!(r[0].valid, checkers::Validity::Invalid);
        assert_eq!(r[1].valid, checkers::Validity::Valid);
    }
}

#[cfg(test)]
mod register_and_kv_tests {
    use super::*;

    #[test]
    fn register_is_live_and_kv_is_checkable_only() {
        let e = validate("kv", None).unwrap_err();
        assert_eq!(e, WorkloadError::NoLiveClient("kv".into()));
        assert!(e.to_string().contains("no live client yet"), "{e}");
        assert_eq!(validate("register", None).unwrap(), "cas");
        assert_eq!(validate("register", Some("quorum")).unwrap(), "quorum");
        assert!(validate("register", Some("crdt")).is_err());
        for w in ["register", "kv"] {
            assert_eq!(validate_check(w), Ok(()));
            let r = check(w, &checkers::History::default()).unwrap();
            assert_eq!(r[0].checker, "linearizable");
            assert_eq!(r[0].valid, checkers::Validity::Valid);
        }
        assert_eq!(validate_check("set"), Ok(()));
        assert!(matches!(
            validate_check("bank"),
            Err(WorkloadError::UnknownWorkload(_))
        ));
    }
}
