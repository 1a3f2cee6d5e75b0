//! Hand-built histories for the checkers' unit tests.
//!
//! Every op gets `time` = 1 ms × its position, so that latencies in tests
//! are easy to predict, and `index` = its position.

use serde_json::{json, Value};

use crate::history::{History, Op, OpType, Process};

/// Builds a history op by op.
#[derive(Default)]
pub struct H {
    pub ops: Vec<Op>,
    pad: u64,
}

/// One millisecond in ns.
pub const MS: u64 = 1_000_000;

impl H {
    /// Appends an op.
    pub fn op(&mut self, kind: OpType, p: u64, f: &str, value: Value) -> &mut Self {
        let i = self.ops.len() as u64;
        self.ops.push(Op {
            index: Some(i),
            kind,
            process: Process::Client(p),
            f: f.into(),
            value,
            time: i * MS + self.pad,
            node: None,
            error: None,
        });
        self
    }
    /// Appends an op on a node.
    pub fn on(&mut self, kind: OpType, p: u64, f: &str, value: Value, node: &str) -> &mut Self {
        self.op(kind, p, f, value);
        self.ops.last_mut().unwrap().node = Some(node.into());
        self
    }
    /// An invocation.
    pub fn inv(&mut self, p: u64, f: &str, value: Value) -> &mut Self {
        self.op(OpType::Invoke, p, f, value)
    }
    /// An `ok` completion.
    pub fn ok(&mut self, p: u64, f: &str, value: Value) -> &mut Self {
        self.op(OpType::Ok, p, f, value)
    }
    /// Invocation then completion of `kind` with the same value.
    pub fn call(&mut self, kind: OpType, p: u64, f: &str, value: Value) -> &mut Self {
        self.inv(p, f, value.clone()).op(kind, p, f, value)
    }
    /// An `ok` read invocation (null) and completion with `value`.
    pub fn read(&mut self, p: u64, f: &str, value: Value) -> &mut Self {
        self.inv(p, f, Value::Null).ok(p, f, value)
    }
    /// A nemesis op (an `info`, as Jepsen records them).
    pub fn nemesis(&mut self, f: &str) -> &mut Self {
        let i = self.ops.len() as u64;
        self.ops.push(Op {
            index: Some(i),
            kind: OpType::Info,
            process: Process::Nemesis,
            f: f.into(),
            value: json!(["n1"]),
            time: i * MS + self.pad,
            node: None,
            error: None,
        });
        self
    }
    /// Moves the clock: every later op happens `ms` later than it would.
    pub fn wait(&mut self, ms: u64) -> &mut Self {
        self.pad += ms * MS;
        self
    }
    /// The history.
    pub fn history(&self) -> History {
        History::new(self.ops.clone())
    }
}
