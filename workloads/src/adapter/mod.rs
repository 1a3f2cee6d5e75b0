//! The adapter protocol, client side: any store, through a process that
//! speaks JSON lines.
//!
//! A store faultline has no client for is reached through an *adapter*: a
//! program, in any language, that faultline starts once per worker (and
//! once per final reader) and talks to over its stdin and stdout, one JSON
//! object a line. faultline writes a request and waits for its reply before
//! writing the next one:
//!
//! ```text
//! → {"id":7,"f":"add","key":"set-3","value":17}
//! ← {"id":7,"type":"ok"}
//! → {"id":8,"f":"read","key":"set-0","value":null}
//! ← {"id":8,"type":"ok","value":[1,4,17]}
//! ```
//!
//! A reply's `type` is the outcome, with the meaning every faultline client
//! gives it ([`crate::Completion`]): `ok` (the store confirmed the effect),
//! `fail` (it certainly had none), `info` (unknown). Its `value` is the result (a
//! read's value), `error` says why it failed, and an optional integer
//! `version` is the version the store gave a register's value.
//!
//! What faultline does with the process:
//! - no reply within the op's time limit: the op is `info` (a write may
//!   still land) and the process is killed; the next op starts a fresh one,
//!   since a late reply would answer the wrong request;
//! - a reply that breaks the protocol (not JSON, another request's `id`, an
//!   unknown `type`, a read whose value is not a list), or the process
//!   exiting: the op is `info`, and the first such failure is kept in a
//!   [`FailureSlot`] that the cluster reports, which stops the run with a
//!   one-line message naming the adapter, the worker and the offending line.
//!
//! The mapping of workload ops onto requests ([`Shape`]):
//! - `set`: `add e` → `{"f":"add","key":K,"value":e}` with `K` the key the
//!   built-in client uses ([`crate::set::key_for`]); the read of the whole
//!   set → one `{"f":"read","key":"set-k","value":null}` per key, each replied
//!   with a list of integers, merged.
//! - `register`: `read`, `write` and `cas` with the op's key, and `null`,
//!   `v` or `[old, new]` as the value; a `cas` that found another value
//!   replies `fail` with the error `mismatch` (or none).
//! - convergence (when the adapter says it can): `read-local` (this node's
//!   own replica of a key, uncoordinated) and `preflist` (the names of the
//!   nodes holding the key's replicas).
//!
//! docs/adapters.md is the protocol's reference for adapter writers.
//!
//! This module holds the client's configuration and shared state: the
//! constants of the protocol, how to start a process ([`ProcessSpec`]), the
//! workload it maps ([`Shape`]), where replicas are ([`Replicas`]) and the
//! [`FailureSlot`]. The wire side of a reply is in `reply` ([`Reply`],
//! [`RequestFailure`]), the process driver (start, one request and its
//! reply line, kill) in `process`, and the mapping of workload ops onto
//! requests and of replies onto completions in `ops`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

mod ops;
mod process;
mod reply;

pub use reply::{Reply, RequestFailure};

/// Where the protocol is documented; every failure message points there.
pub const DOCS: &str = "docs/adapters.md";

/// A reply line longer than this breaks the protocol (a runaway adapter
/// must not make faultline buffer without bound).
pub const MAX_LINE: usize = 16 << 20;

/// How many characters of an offending line a failure message quotes.
pub const QUOTE_CHARS: usize = 120;

/// The workloads an adapter of protocol 1 can run.
pub const WORKLOADS: &[&str] = &["set", "register"];

/// The workloads an adapter of protocol 2 can run: every live one.
pub const WORKLOADS_V2: &[&str] = crate::workload::WORKLOADS;

/// The only `--client` mode of most workloads run through an adapter: the
/// adapter, not faultline, decides how it talks to its store. (`siblings`
/// keeps `context` and `blind`, and `session` `sticky` and `random`:
/// faultline carries the context and picks the node.)
pub const MODE: &str = "adapter";

/// The version of the protocol an adapter speaks, from its description.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    /// `set` and `register`, no hello: the first adapters' protocol.
    #[default]
    V1,
    /// Every live workload, opened by a `hello` exchange.
    V2,
}

impl Protocol {
    /// The protocol numbered `n`, if there is one.
    pub fn from_number(n: i64) -> Option<Protocol> {
        match n {
            1 => Some(Protocol::V1),
            2 => Some(Protocol::V2),
            _ => None,
        }
    }

    /// Its number, as descriptions and hellos write it.
    pub fn number(self) -> u64 {
        match self {
            Protocol::V1 => 1,
            Protocol::V2 => 2,
        }
    }

    /// The workloads an adapter of this protocol can run.
    pub fn workloads(self) -> &'static [&'static str] {
        match self {
            Protocol::V1 => WORKLOADS,
            Protocol::V2 => WORKLOADS_V2,
        }
    }
}

/// What a protocol-2 process must say in its `hello` reply for this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The run's workload: the reply's `workloads` must list it.
    pub workload: &'static str,
    /// The node the process is bound to.
    pub node: String,
    /// The run reads replicas locally: the reply's `read_local` must list
    /// the workload.
    pub read_local: bool,
    /// The run asks for preflists: the reply's `preflist` must be true.
    pub preflist: bool,
}

/// How to start one adapter process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessSpec {
    /// The program and its arguments, each one argument (no shell).
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Where the process's stderr goes (appended to; every start of the
    /// process writes a marker line first).
    pub stderr_log: PathBuf,
    /// Protocol 2: the hello exchange every start of the process opens
    /// with (`None`: protocol 1, no hello).
    pub hello: Option<Hello>,
    /// Keep the process when an op times out, skipping its late reply by
    /// id, instead of killing it (a process with an expensive start: a
    /// JVM, a connection pool).
    pub keep_on_timeout: bool,
}

/// The first protocol failure any client of one cluster met, shared by
/// all of them: the cluster reports it and the run stops with it.
#[derive(Clone, Debug, Default)]
pub struct FailureSlot(Arc<Mutex<Option<String>>>);

impl FailureSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first failure recorded, if any.
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records `message` unless a failure is recorded already (the first
    /// one is the cause; later ones are often its consequences).
    pub fn record(&self, message: &str) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(message.to_string());
        }
    }
}

/// Which workload's ops a client maps onto requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `set`: adds of unique integers spread over `keys` keys, reads of
    /// the whole set (one request per key).
    Set {
        /// How many keys (`set-0` ...) the set is spread over.
        keys: usize,
    },
    /// `register`: read, write and cas of `[key, value]` ops.
    Register,
    /// `counter`: adds of deltas to one counter, reads of its total.
    Counter,
    /// `siblings`: reads returning every sibling and a causal context,
    /// writes of unique values.
    Siblings {
        /// Writes carry the context of a read made in the same op
        /// (`--client context`); otherwise none (`blind`).
        context: bool,
    },
    /// `or-set`: adds, removes and reads of one OR-set.
    OrSet,
    /// `sequence`: inserts after the worker's own last element, deletes
    /// of elements it has seen, reads of whole lists.
    Sequence,
    /// `session`: reads and writes of registers, each reply carrying the
    /// store's version.
    Session,
}

impl Shape {
    /// The shape of `workload` with `keys` keys and client mode `mode`,
    /// if adapters can run it.
    pub fn of(workload: crate::Workload, keys: usize, mode: crate::ClientMode) -> Option<Shape> {
        use crate::Workload as W;
        Some(match workload {
            W::Set => Shape::Set { keys: keys.max(1) },
            W::Register => Shape::Register,
            W::Counter => Shape::Counter,
            W::Siblings => Shape::Siblings {
                context: mode != crate::ClientMode::Blind,
            },
            W::OrSet => Shape::OrSet,
            W::Sequence => Shape::Sequence,
            W::Session => Shape::Session,
            W::Kv | W::Model(_) => return None,
        })
    }

    /// The workload it maps.
    pub fn workload(self) -> crate::Workload {
        use crate::Workload as W;
        match self {
            Shape::Set { .. } => W::Set,
            Shape::Register => W::Register,
            Shape::Counter => W::Counter,
            Shape::Siblings { .. } => W::Siblings,
            Shape::OrSet => W::OrSet,
            Shape::Sequence => W::Sequence,
            Shape::Session => W::Session,
        }
    }
}

/// Where a key's replicas are, for the convergence checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replicas {
    /// Every key on every one of these nodes (a fully replicated store).
    All(Vec<String>),
    /// Ask the adapter (`preflist` requests).
    Ask,
}

/// A client that performs a workload's ops through one adapter process.
pub struct AdapterClient {
    adapter: String,
    who: String,
    spec: ProcessSpec,
    shape: Shape,
    timeout: Duration,
    replicas: Replicas,
    failure: FailureSlot,
    process: tokio::sync::Mutex<Option<process::Running>>,
    /// `sequence`: the worker's memory, shared with its generator.
    memory: Arc<Mutex<crate::sequence::Memory>>,
}
impl AdapterClient {
    /// A client named `who` (e.g. `worker 3`) of adapter `adapter`, which
    /// starts its process from `spec` on its first op, waits at most
    /// `timeout` for all the replies one op needs, and records protocol
    /// failures in `failure`. Keys' replicas default to [`Replicas::Ask`].
    pub fn new(
        adapter: impl Into<String>,
        who: impl Into<String>,
        spec: ProcessSpec,
        shape: Shape,
        timeout: Duration,
        failure: FailureSlot,
    ) -> Self {
        AdapterClient {
            adapter: adapter.into(),
            who: who.into(),
            spec,
            shape,
            timeout,
            replicas: Replicas::Ask,
            failure,
            process: tokio::sync::Mutex::new(None),
            memory: Arc::default(),
        }
    }

    /// Shares a `sequence` worker's memory with its generator, so inserts
    /// chain after the worker's own and deletes pick what it has read.
    pub fn with_sequence_memory(mut self, memory: Arc<Mutex<crate::sequence::Memory>>) -> Self {
        self.memory = memory;
        self
    }

    /// Where the convergence checker finds each key's replicas.
    pub fn with_replicas(mut self, replicas: Replicas) -> Self {
        self.replicas = replicas;
        self
    }

    /// The one-line failure message: adapter, client, what, and the
    /// documentation's section.
    fn message(&self, what: &str, section: &str) -> String {
        format!(
            "adapter {} ({}): {what} ({DOCS}#{section})",
            self.adapter, self.who
        )
    }

    /// Records a protocol failure and returns it.
    fn broke(&self, what: &str, section: &str) -> RequestFailure {
        let m = self.message(what, section);
        self.failure.record(&m);
        RequestFailure::Protocol(m)
    }

    /// A reply line that broke the protocol: `what`, then the line quoted.
    async fn bad_reply(&self, line: u64, what: &str, raw: &str) -> RequestFailure {
        self.reset().await;
        self.broke(
            &format!("reply line {line} {what}: {}", quote(raw)),
            "replies",
        )
    }
    /// When an op started now must have all its replies.
    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }
}

/// A line quoted for a one-line message: at most [`QUOTE_CHARS`]
/// characters, control characters escaped.
pub fn quote(line: &str) -> String {
    let mut chars = line.chars();
    let head: String = chars.by_ref().take(QUOTE_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{set, Client, Completion, Invocation, LocalRead};
    use checkers::OpType;
    use serde_json::{json, Value};
    use std::path::Path;

    fn fixture(name: &str) -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/adapters")
            .join(name)
            .display()
            .to_string()
    }

    /// A client of the fixture `script` with `args`, its stderr in `dir`.
    fn client(
        dir: &Path,
        script: &str,
        args: &[&str],
        shape: Shape,
        timeout_ms: u64,
    ) -> (AdapterClient, FailureSlot) {
        let mut argv = vec!["python3".to_string(), fixture(script)];
        argv.extend(args.iter().map(|a| a.to_string()));
        let slot = FailureSlot::new();
        let spec = ProcessSpec {
            argv,
            env: vec![],
            stderr_log: dir.join("worker-3.stderr.log"),
            hello: None,
            keep_on_timeout: false,
        };
        let c = AdapterClient::new(
            "test-adapter",
            "worker 3",
            spec,
            shape,
            Duration::from_millis(timeout_ms),
            slot.clone(),
        );
        (c, slot)
    }

    fn add(e: i64) -> Invocation {
        Invocation {
            f: "add".into(),
            value: json!(e),
        }
    }

    fn op(f: &str, value: Value) -> Invocation {
        Invocation { f: f.into(), value }
    }

    #[tokio::test]
    async fn a_correct_adapter_round_trips_set_ops_over_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let (c, slot) = client(dir.path(), "echo.py", &[], Shape::Set { keys: 3 }, 5000);
        for e in 0..20 {
            let r = c.invoke(&add(e)).await;
            assert_eq!(r, Completion::ok(json!(e)));
        }
        let r = c.invoke(&set::Generator::final_read()).await;
        assert_eq!(r.kind, OpType::Ok, "{r:?}");
        assert_eq!(r.value, json!((0..20).collect::<Vec<i64>>()));
        // The elements went to the keys the built-in client would use.
        for k in 0..3 {
            let key = format!("set-{k}");
            let mut want: Vec<i64> = (0..20).filter(|e| set::key_for(*e, 3) == key).collect();
            want.sort();
            assert!(!want.is_empty());
            assert_eq!(c.read_local(&key).await.unwrap(), json!(want), "{key}");
        }
        assert_eq!(c.read_local("set-9").await.unwrap(), Value::Null);
        assert_eq!(c.preflist("set-0").await.unwrap(), vec!["n1", "n2"]);
        let all = c.with_replicas(Replicas::All(vec!["a".into()]));
        assert_eq!(all.preflist("set-0").await.unwrap(), vec!["a"]);
        assert_eq!(slot.get(), None);
    }

    #[tokio::test]
    async fn register_ops_map_to_requests_and_a_failed_compare_is_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let (c, slot) = client(dir.path(), "echo.py", &[], Shape::Register, 5000);
        let r = c.invoke(&op("read", json!(["r0", null]))).await;
        assert_eq!(r, Completion::ok(json!(["r0", null])));
        let r = c.invoke(&op("write", json!(["r0", 3]))).await;
        // The fixture versions its writes: 1, 2, ...
        assert_eq!(r, Completion::ok(json!(["r0", {"value": 3, "version": 1}])));
        let r = c.invoke(&op("cas", json!(["r0", [3, 4]]))).await;
        assert_eq!(r, Completion::ok(json!(["r0", [3, 4]])));
        let r = c.invoke(&op("cas", json!(["r0", [3, 1]]))).await;
        assert_eq!(r.kind, OpType::Fail);
        assert_eq!(
            r.error.as_deref(),
            Some(checkers::linear::compile::CAS_MISMATCH)
        );
        let r = c.invoke(&op("read", json!(["r0", null]))).await;
        assert_eq!(r, Completion::ok(json!(["r0", {"value": 4, "version": 2}])));
        assert_eq!(c.read_local("r0").await.unwrap(), json!(4));
        // The fixture refuses writes of "no": a definite failure, kept
        // apart from a compare that failed.
        let r = c.invoke(&op("write", json!(["r0", "no"]))).await;
        assert_eq!(r, Completion::fail(json!(["r0", "no"]), "refused"));
        let r = c.invoke(&op("cas", json!(["r0", ["no", 1]]))).await;
        assert_eq!(r, Completion::fail(json!(["r0", ["no", 1]]), "refused"));
        assert_eq!(slot.get(), None);
    }

    /// Runs `mode` of the misbehaving fixture after `after` good replies:
    /// the `after` first ops are ok, the next one is info with a protocol
    /// failure, which is returned.
    async fn broken(mode: &str, after: u64, shape: Shape, next: Invocation) -> String {
        let dir = tempfile::tempdir().unwrap();
        let n = after.to_string();
        let (c, slot) = client(dir.path(), "misbehave.py", &[mode, &n], shape, 5000);
        for e in 0..after as i64 {
            assert_eq!(c.invoke(&add(e)).await.kind, OpType::Ok, "{mode}: op {e}");
        }
        assert_eq!(slot.get(), None);
        let r = c.invoke(&next).await;
        assert_eq!(r.kind, OpType::Info, "{mode}: {r:?}");
        let m = slot.get().expect("a protocol failure");
        assert_eq!(r.error.as_deref(), Some(m.as_str()));
        assert!(!m.contains('\n'), "one line: {m}");
        assert!(m.starts_with("adapter test-adapter (worker 3): "), "{m}");
        m
    }

    #[tokio::test]
    async fn a_reply_that_is_not_json_stops_the_run_quoting_the_line() {
        let m = broken("garbage", 3, Shape::Set { keys: 2 }, add(9)).await;
        assert_eq!(
            m,
            "adapter test-adapter (worker 3): reply line 4 is not JSON: \"oops\" (docs/adapters.md#replies)"
        );
    }

    #[tokio::test]
    async fn another_requests_id_or_an_unknown_type_breaks_the_protocol() {
        let m = broken("wrong-id", 2, Shape::Set { keys: 2 }, add(9)).await;
        assert!(
            m.contains("reply line 3 answers request 103, but request 3 was asked: \"{"),
            "{m}"
        );
        let m = broken("bad-type", 1, Shape::Set { keys: 2 }, add(9)).await;
        assert!(m.contains("reply line 2 has no \"type\" of \"ok\", \"fail\" or \"info\": \"{\\\"id\\\": 2, \\\"type\\\": \\\"maybe\\\"}\""), "{m}");
        let m = broken("no-id", 0, Shape::Set { keys: 2 }, add(9)).await;
        assert!(m.contains("reply line 1 has no integer \"id\""), "{m}");
    }

    #[tokio::test]
    async fn a_read_whose_value_is_not_a_list_breaks_the_protocol() {
        let read = set::Generator::final_read();
        let m = broken("not-list", 2, Shape::Set { keys: 3 }, read).await;
        assert!(
            m.contains("reply line 3 answers a read of set-0 with a value that is not a list of integers: \"{"),
            "{m}"
        );
        let m = broken(
            "bad-version",
            0,
            Shape::Register,
            op("read", json!(["r1", null])),
        )
        .await;
        assert!(
            m.contains("has a \"version\" that is not an integer"),
            "{m}"
        );
    }

    #[tokio::test]
    async fn a_long_offending_line_is_quoted_truncated_on_one_line() {
        let m = broken("long", 0, Shape::Set { keys: 1 }, add(1)).await;
        assert!(m.contains("reply line 1 is not JSON: \"xxxx"), "{m}");
        assert!(m.contains("…"), "{m}");
        assert!(m.len() < 300, "{} chars: {m}", m.len());
    }

    #[tokio::test]
    async fn an_adapter_that_exits_breaks_the_protocol_with_its_last_words() {
        let dir = tempfile::tempdir().unwrap();
        let (c, slot) = client(
            dir.path(),
            "misbehave.py",
            &["exit", "2"],
            Shape::Set { keys: 1 },
            5000,
        );
        assert_eq!(c.invoke(&add(0)).await.kind, OpType::Ok);
        assert_eq!(c.invoke(&add(1)).await.kind, OpType::Ok);
        let r = c.invoke(&add(2)).await;
        assert_eq!(r.kind, OpType::Info);
        let m = slot.get().unwrap();
        assert!(
            m.contains("the client process exited (exit status: 3) before answering request 3 (after 2 reply lines); its last stderr line: \"boom: giving up\""),
            "{m}"
        );
        assert!(m.contains("worker-3.stderr.log"), "{m}");
        assert!(m.ends_with("(docs/adapters.md#processes)"), "{m}");
        let log = std::fs::read_to_string(dir.path().join("worker-3.stderr.log")).unwrap();
        assert!(
            log.starts_with("--- faultline: starting [\"python3\""),
            "{log}"
        );
    }

    #[tokio::test]
    async fn a_program_that_cannot_start_breaks_the_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let slot = FailureSlot::new();
        let spec = ProcessSpec {
            argv: vec!["/nonexistent/adapter".into()],
            env: vec![],
            stderr_log: dir.path().join("w.log"),
            hello: None,
            keep_on_timeout: false,
        };
        let c = AdapterClient::new(
            "x",
            "final reader on n2",
            spec,
            Shape::Set { keys: 1 },
            Duration::from_secs(1),
            slot.clone(),
        );
        let r = c.invoke(&add(1)).await;
        assert_eq!(r.kind, OpType::Info);
        let m = slot.get().unwrap();
        assert!(
            m.starts_with("adapter x (final reader on n2): cannot start the client process \"/nonexistent/adapter\": "),
            "{m}"
        );
        assert!(m.ends_with("(docs/adapters.md#the-client)"), "{m}");
    }

    #[tokio::test]
    async fn a_silent_adapter_times_out_to_info_and_the_next_op_gets_a_fresh_process() {
        let dir = tempfile::tempdir().unwrap();
        // The timeout covers starting Python too, which takes well over
        // 400 ms with both cores busy: 3 s keeps the test about timeouts,
        // not this machine's speed.
        let timeout = Duration::from_secs(3);
        let (c, slot) = client(
            dir.path(),
            "misbehave.py",
            &["hang", "1"],
            Shape::Set { keys: 1 },
            timeout.as_millis() as u64,
        );
        assert_eq!(c.invoke(&add(0)).await.kind, OpType::Ok);
        let t = std::time::Instant::now();
        let r = c.invoke(&add(1)).await;
        assert_eq!(
            r.kind,
            OpType::Info,
            "an add that timed out may have landed"
        );
        assert!(r.error.as_deref().unwrap().starts_with("timeout"), "{r:?}");
        // Cut at the timeout, not left waiting for the hung process.
        assert!(t.elapsed() < 2 * timeout, "{:?}", t.elapsed());
        let r = c.invoke(&add(2)).await;
        assert_eq!(r.kind, OpType::Ok, "a fresh process answers: {r:?}");
        // A read that times out changed nothing.
        let r = c.invoke(&set::Generator::final_read()).await;
        assert_eq!(r.kind, OpType::Fail, "{r:?}");
        // A timeout is the store's (or the adapter's) slowness, not a
        // protocol failure: the run goes on.
        assert_eq!(slot.get(), None);
        let log = std::fs::read_to_string(dir.path().join("worker-3.stderr.log")).unwrap();
        assert_eq!(log.matches("--- faultline: starting").count(), 2, "{log}");
    }

    #[tokio::test]
    async fn an_op_cut_off_mid_request_never_pairs_a_late_reply_with_the_next() {
        // The runner's hard cap can drop an op while its request is out;
        // the process's next line would answer that request, so the next
        // op must go to a fresh process.
        let dir = tempfile::tempdir().unwrap();
        let (c, slot) = client(
            dir.path(),
            "misbehave.py",
            &["slow", "1"],
            Shape::Set { keys: 1 },
            5000,
        );
        assert_eq!(c.invoke(&add(0)).await.kind, OpType::Ok);
        let cut = tokio::time::timeout(Duration::from_millis(200), c.invoke(&add(1))).await;
        assert!(cut.is_err(), "the slow reply came too soon");
        let r = c.invoke(&add(2)).await;
        assert_eq!(r, Completion::ok(json!(2)));
        assert_eq!(slot.get(), None, "no reply was taken for another's");
    }

    #[tokio::test]
    async fn a_kept_process_skips_the_late_reply_and_answers_the_next_request() {
        let dir = tempfile::tempdir().unwrap();
        let (c, slot) = client(
            dir.path(),
            "misbehave.py",
            &["slow", "1", "3"],
            Shape::Set { keys: 1 },
            // Under the fixture's 3 s delay; over Python's start on a busy
            // machine. The late reply (at 3 s) comes within add 2's own
            // 2 s (from 2 s to 4 s), followed at once by add 2's.
            2000,
        );
        let mut c = c;
        c.spec.keep_on_timeout = true;
        assert_eq!(c.invoke(&add(0)).await.kind, OpType::Ok);
        let r = c.invoke(&add(1)).await;
        assert_eq!(r.kind, OpType::Info, "{r:?}");
        // The late reply to add 1 comes first on the kept process's output:
        // it is skipped, and add 2 gets its own.
        let r = c.invoke(&add(2)).await;
        assert_eq!(r, Completion::ok(json!(2)));
        assert_eq!(slot.get(), None);
        let log = std::fs::read_to_string(dir.path().join("worker-3.stderr.log")).unwrap();
        assert_eq!(log.matches("--- faultline: starting").count(), 1, "{log}");
    }

    /// A protocol-2 client of the echo fixture for `workload`, whose hello
    /// lists `listed`.
    fn hello_client(
        dir: &Path,
        workload: &'static str,
        listed: &str,
        shape: Shape,
    ) -> (AdapterClient, FailureSlot) {
        let (mut c, slot) = client(dir, "echo.py", &[], shape, 5000);
        c.spec.env.push(("ECHO_WORKLOADS".into(), listed.into()));
        c.spec.hello = Some(Hello {
            workload,
            node: "n1".into(),
            read_local: true,
            preflist: false,
        });
        (c, slot)
    }

    #[tokio::test]
    async fn a_hello_opens_every_process_and_must_list_the_workload() {
        let dir = tempfile::tempdir().unwrap();
        let (c, slot) = hello_client(dir.path(), "set", "set,register", Shape::Set { keys: 1 });
        assert_eq!(c.invoke(&add(5)).await, Completion::ok(json!(5)));
        assert_eq!(slot.get(), None);
        let (c, slot) = hello_client(dir.path(), "register", "set", Shape::Register);
        let r = c.invoke(&op("read", json!(["r0", null]))).await;
        assert_eq!(r.kind, OpType::Info, "{r:?}");
        let m = slot.get().expect("a refused hello");
        assert!(
            m.contains("hello reply (line 1) does not list the workload register in \"workloads\" (it lists set)"),
            "{m}"
        );
        assert!(m.ends_with("(docs/adapters.md#hello)"), "{m}");
    }

    #[tokio::test]
    async fn the_first_protocol_failure_is_the_one_reported() {
        let slot = FailureSlot::new();
        slot.record("first");
        slot.record("second");
        assert_eq!(slot.get().as_deref(), Some("first"));
        assert_eq!(quote("a\"b\nc"), "\"a\\\"b\\nc\"");
    }

    #[test]
    fn every_live_workload_has_a_shape_and_check_only_ones_have_none() {
        use crate::{ClientMode, Workload};
        let shape = |w: &str, mode| Shape::of(Workload::parse(w).unwrap(), 0, mode);
        assert_eq!(
            shape("set", ClientMode::Adapter),
            Some(Shape::Set { keys: 1 })
        );
        assert_eq!(
            shape("siblings", ClientMode::Blind),
            Some(Shape::Siblings { context: false })
        );
        assert_eq!(
            shape("siblings", ClientMode::Context),
            Some(Shape::Siblings { context: true })
        );
        assert_eq!(shape("kv", ClientMode::Adapter), None);
        for w in WORKLOADS_V2 {
            let s = shape(w, ClientMode::Adapter).unwrap();
            assert_eq!(s.workload().name(), *w);
        }
        assert!(WORKLOADS.iter().all(|w| WORKLOADS_V2.contains(w)));
    }
}
