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
//!   checked for linearizability, and (with the versions the store reports)
//!   for session guarantees and staleness. Client modes: ringkv's Paxos
//!   registers, or plain quorum reads and writes.
//! - [`counter`]: increments and decrements of one counter, read now and
//!   then and at the end; checked against the bounds the adds allow.
//! - [`siblings`]: unique writes to a few keys, with or without the causal
//!   context of a read; checked for sibling explosion.
//! - [`orset`]: adds and removes of a few elements in one OR-set; checked
//!   for add-wins semantics and convergence.
//! - [`sequence`]: inserts and deletes of unique elements in a few shared
//!   lists (ringkv's RGA); checked for list-CRDT semantics and convergence.
//! - [`session`]: reads and writes of increasing values on a few registers,
//!   each process sticking to one coordinator or picking one per op;
//!   checked for session guarantees, staleness and convergence.
//! - [`ringkv`]: an HTTP client for the reference store.
//! - [`etcd`]: the `register` workload on etcd, through its v3 JSON gateway.
//! - [`adapter`]: a client for any store, through a process per worker
//!   that speaks JSON lines (`set` and `register` ops).
//! - [`redis`]: a `set` client for Redis, finding the primary through
//!   Sentinel, and a reader of each node's own server for convergence.

#![warn(missing_docs)]

pub mod adapter;
pub mod client_mode;
pub mod counter;
pub mod etcd;
pub mod orset;
pub mod redis;
pub mod register;
pub mod ringkv;
pub mod sequence;
pub mod session;
pub mod set;
pub mod siblings;
pub mod workload;

pub use client_mode::ClientMode;
pub use workload::{
    check, check_with, validate, validate_check, Check, OnlineCheck, Workload, CHECK_ONLY_MODELS,
    WORKLOADS,
};

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

    /// How a read ended: `ok` with what it read, else `fail` with `asked`
    /// (the invocation's value): a read that did not answer changed
    /// nothing, whether or not the error was definite.
    pub fn of_read(asked: Value, r: Result<Value, ringkv::RequestError>) -> Self {
        match r {
            Ok(v) => Completion::ok(v),
            Err(ringkv::RequestError::Definite(m))
            | Err(ringkv::RequestError::Indeterminate(m)) => Completion::fail(asked, m),
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
        "unknown workload {0:?}; known: set, register, counter, siblings, or-set, sequence, session, and for `faultline check` only: kv, mutex, multi-register, queue, fifo-queue, linear-set"
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

/// Options of the checkers a workload runs (bounds, budgets, windows); the
/// defaults are what `faultline test` uses without a `[checkers]` table.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// set-full (`set`).
    pub set_full: checkers::set_full::SetFullOptions,
    /// siblings (`siblings`).
    pub siblings: checkers::siblings::SiblingsOptions,
    /// perf (every live workload).
    pub perf: checkers::perf::PerfOptions,
    /// linearizability (`register`, `kv`).
    pub linear: checkers::linear::Options,
    /// staleness (`register` with store versions, `session`).
    pub staleness: checkers::staleness::StalenessOptions,
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

#[cfg(test)]
mod sequence_and_session_tests {
    use super::*;
    use checkers::Validity;

    fn names(r: &[checkers::CheckResult]) -> Vec<&str> {
        r.iter().map(|r| r.checker.as_str()).collect()
    }

    #[test]
    fn sequence_and_session_are_live_with_their_modes() {
        assert_eq!(validate("sequence", None).unwrap(), "crdt");
        assert!(validate("sequence", Some("rmw")).is_err());
        assert_eq!(validate("session", None).unwrap(), "sticky");
        assert_eq!(validate("session", Some("random")).unwrap(), "random");
        let e = validate("session", Some("cas")).unwrap_err().to_string();
        assert!(e.contains("sticky, random"), "{e}");
        for w in WORKLOADS {
            assert!(validate(w, None).is_ok(), "{w}");
            assert_eq!(validate_check(w), Ok(()), "{w}");
        }
        let e = validate("bank", None).unwrap_err().to_string();
        assert!(e.contains("sequence, session"), "{e}");
    }

    #[test]
    fn a_sequence_history_feeds_crdt_convergence_and_perf() {
        let h = checkers::parse::jsonl(
            r#"{"type":"invoke","process":0,"f":"insert","value":["l0",1]}
{"type":"ok","process":0,"f":"insert","value":["l0",1]}
{"type":"invoke","process":0,"f":"insert","value":["l0",2]}
{"type":"ok","process":0,"f":"insert","value":["l0",2]}
{"type":"invoke","process":1,"f":"read-list","value":["l0",null],"node":"n1"}
{"type":"ok","process":1,"f":"read-list","value":["l0",[2,1]],"node":"n1"}
{"type":"invoke","process":2,"f":"read-local","value":["l0",null],"node":"n1"}
{"type":"ok","process":2,"f":"read-local","value":["l0",{"items":[2,1]}],"node":"n1"}"#,
        )
        .unwrap();
        let r = check("sequence", &h).unwrap();
        assert_eq!(names(&r), ["crdt", "convergence", "perf"]);
        assert_eq!(r[0].valid, Validity::Invalid, "{}", r[0].summary);
        assert!(r[0].summary.contains("reordered"), "{}", r[0].summary);
    }

    const SESSION: &str = r#"{"type":"invoke","process":0,"f":"write","value":["s0",1]}
{"type":"ok","process":0,"f":"write","value":["s0",{"value":1,"version":100}]}
{"type":"invoke","process":1,"f":"write","value":["s0",2]}
{"type":"ok","process":1,"f":"write","value":["s0",{"value":2,"version":90}]}
{"type":"invoke","process":0,"f":"read","value":["s0",null]}
{"type":"ok","process":0,"f":"read","value":["s0",{"value":2,"version":90}]}"#;

    #[test]
    fn session_histories_are_judged_in_the_stores_version_order() {
        // Process 0 wrote version 100 and then read version 90: its own
        // write vanished from its view, though the value (2) is larger.
        let h = checkers::parse::jsonl(SESSION).unwrap();
        let r = check("session", &h).unwrap();
        assert_eq!(names(&r), ["sessions", "staleness", "perf"]);
        assert_eq!(r[0].valid, Validity::Invalid);
        assert!(
            r[0].summary.contains("read-your-writes"),
            "{}",
            r[0].summary
        );
        assert_eq!(r[1].valid, Validity::Valid, "staleness measures");
    }

    #[test]
    fn register_feeds_sessions_only_when_the_store_reported_versions() {
        // With versions: linearizability on the values, sessions and
        // staleness on the versions.
        let h = checkers::parse::jsonl(SESSION).unwrap();
        let r = check("register", &h).unwrap();
        assert_eq!(names(&r), ["linearizable", "sessions", "staleness", "perf"]);
        assert_eq!(r[0].valid, Validity::Valid, "{}", r[0].summary);
        assert_eq!(r[1].valid, Validity::Invalid);
        // Without (a Jepsen-style history of small repeated values, which
        // is linearizable): no sessions verdict to cry wolf with.
        let h = checkers::parse::jsonl(
            r#"{"type":"invoke","process":0,"f":"write","value":["r0",3]}
{"type":"ok","process":0,"f":"write","value":["r0",3]}
{"type":"invoke","process":0,"f":"write","value":["r0",1]}
{"type":"ok","process":0,"f":"write","value":["r0",1]}
{"type":"invoke","process":0,"f":"read","value":["r0",null]}
{"type":"ok","process":0,"f":"read","value":["r0",1]}"#,
        )
        .unwrap();
        let r = check("register", &h).unwrap();
        assert_eq!(names(&r), ["linearizable", "perf"]);
        assert_eq!(r[0].valid, Validity::Valid);
        // What sessions would have said on it: a false monotonic-writes
        // violation (1 after 3), which is why it is not asked.
        assert_eq!(checkers::sessions::check(&h).valid, Validity::Invalid);
    }
}

#[cfg(test)]
mod knossos_model_tests {
    use super::*;

    #[test]
    fn every_check_only_model_is_a_linear_model_with_no_live_client() {
        for w in CHECK_ONLY_MODELS {
            assert!(checkers::linear::Model::from_name(w).is_some(), "{w}");
            assert_eq!(validate_check(w), Ok(()));
            assert_eq!(
                validate(w, None),
                Err(WorkloadError::NoLiveClient(w.to_string()))
            );
            assert!(!WORKLOADS.contains(w), "{w} clashes with a live workload");
        }
        let h = checkers::parse::jsonl(
            r#"{"type":"invoke","process":0,"f":"acquire","value":null}
{"type":"invoke","process":1,"f":"acquire","value":null}
{"type":"ok","process":0,"f":"acquire","value":null}
{"type":"ok","process":1,"f":"acquire","value":null}"#,
        )
        .unwrap();
        let r = check("mutex", &h).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].checker, "linearizable");
        assert_eq!(r[0].valid, checkers::Validity::Invalid);
    }
}
