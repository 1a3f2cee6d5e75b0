//! The history model: what happened during a test, in real-time order.
//!
//! A history is a sequence of [`Op`]s. A client operation appears twice: once
//! when a process *invokes* it and once when it *completes*, as `ok` (it took
//! effect), `fail` (it certainly did not take effect) or `info` (indeterminate:
//! it may or may not have taken effect, now or later). This is Jepsen's model,
//! and the checkers rely on its rules:
//!
//! - Real-time order is the order of ops in the history, not their `time`.
//! - A process performs one operation at a time: its next op after an
//!   invocation is that invocation's completion.
//! - After an `info` completion, the process never invokes again; the worker
//!   continues under a fresh process id.
//! - Nemesis ops (`"process": "nemesis"`) record faults; `f` names the action
//!   (`start-partition`, `stop-partition`, ...) and `value` the targets.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One line of a history: an invocation or a completion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, when the writer recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Invocation or one of the three completions.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// Which logical process did this: a client number or the nemesis.
    pub process: Process,
    /// The function: `add`, `read`, `write`, `cas`, `start-partition`, ...
    pub f: String,
    /// The argument (on invoke) or the result (on completion).
    #[serde(default)]
    pub value: serde_json::Value,
    /// Monotonic nanoseconds since the test started (0 when the source had none).
    #[serde(default)]
    pub time: u64,
    /// The node the client talked to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why an op failed or is indeterminate, as the client saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether an op is an invocation or how it completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The process asked for the operation.
    Invoke,
    /// The operation took effect and this is its result.
    Ok,
    /// The operation certainly did not take effect.
    Fail,
    /// Unknown: it may have taken effect, at any time after its invocation.
    Info,
}

impl OpType {
    /// True for the three completion kinds.
    pub fn is_completion(self) -> bool {
        !matches!(self, OpType::Invoke)
    }
}

/// The logical process behind an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process; its number is never reused after an `info`.
    Client(u64),
    /// The fault injector.
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(n) => s.serialize_u64(*n),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bad = |v: &dyn std::fmt::Display| {
            serde::de::Error::custom(format!(
                "process must be a non-negative number or \"nemesis\", got {v}"
            ))
        };
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n.as_u64().map(Process::Client).ok_or_else(|| bad(&n)),
            serde_json::Value::String(s) if s == "nemesis" || s == ":nemesis" => {
                Ok(Process::Nemesis)
            }
            serde_json::Value::String(s) => s
                .parse()
                .map(Process::Client)
                .map_err(|_| bad(&format!("{s:?}"))),
            other => Err(bad(&other)),
        }
    }
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Process::Client(n) => write!(f, "{n}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

/// An ordered history with helpers shared by checkers and reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The ops in real-time order.
    pub ops: Vec<Op>,
}

/// An invocation together with its completion, if the history has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Index of the invocation in [`History::ops`].
    pub invoke: usize,
    /// Index of the completion, or `None` if the op was still pending when the
    /// history ended (treated like `info`).
    pub complete: Option<usize>,
}

impl History {
    /// Wraps ops that are already in real-time order.
    pub fn new(ops: Vec<Op>) -> Self {
        History { ops }
    }

    /// Pairs every client invocation with its completion, in invocation order.
    ///
    /// Nemesis ops are paired too (a start with its completion when the nemesis
    /// records both); a completion without an invocation is ignored.
    pub fn pairs(&self) -> Vec<Pair> {
        let mut open: std::collections::HashMap<Process, usize> = Default::default();
        let mut pairs: Vec<Pair> = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            match op.kind {
                OpType::Invoke => {
                    open.insert(op.process, pairs.len());
                    pairs.push(Pair {
                        invoke: i,
                        complete: None,
                    });
                }
                _ => {
                    if let Some(p) = open.remove(&op.process) {
                        pairs[p].complete = Some(i);
                    }
                }
            }
        }
        pairs
    }

    /// The completion kind of a pair, with pending ops counted as `info`.
    pub fn outcome(&self, pair: &Pair) -> OpType {
        pair.complete
            .map(|c| self.ops[c].kind)
            .unwrap_or(OpType::Info)
    }

    /// Client ops only (nemesis ops removed), in order.
    pub fn client_ops(&self) -> impl Iterator<Item = &Op> {
        self.ops
            .iter()
            .filter(|o| matches!(o.process, Process::Client(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpType, p: Process, f: &str) -> Op {
        Op {
            index: None,
            kind,
            process: p,
            f: f.into(),
            value: serde_json::Value::Null,
            time: 0,
            node: None,
            error: None,
        }
    }

    #[test]
    fn process_round_trips_as_number_or_nemesis() {
        let o = op(OpType::Invoke, Process::Nemesis, "start-partition");
        let s = serde_json::to_string(&o).unwrap();
        assert!(s.contains("\"process\":\"nemesis\""), "{s}");
        assert_eq!(serde_json::from_str::<Op>(&s).unwrap(), o);
        let c = op(OpType::Ok, Process::Client(7), "add");
        let s = serde_json::to_string(&c).unwrap();
        assert!(
            s.contains("\"process\":7") && s.contains("\"type\":\"ok\""),
            "{s}"
        );
        assert_eq!(serde_json::from_str::<Op>(&s).unwrap(), c);
        let bad = r#"{"type":"ok","process":[1],"f":"add"}"#;
        let e = serde_json::from_str::<Op>(bad).unwrap_err().to_string();
        assert!(e.contains("process must be"), "{e}");
    }

    #[test]
    fn pairs_match_completions_per_process_and_leave_pending_open() {
        let h = History::new(vec![
            op(OpType::Invoke, Process::Client(0), "add"),
            op(OpType::Invoke, Process::Client(1), "add"),
            op(OpType::Ok, Process::Client(1), "add"),
            op(OpType::Info, Process::Client(0), "add"),
            op(OpType::Invoke, Process::Client(5), "read"),
        ]);
        let pairs = h.pairs();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[0].complete, Some(3));
        assert_eq!(pairs[1].complete, Some(2));
        assert_eq!(pairs[2].complete, None);
        assert_eq!(h.outcome(&pairs[2]), OpType::Info);
        assert_eq!(h.outcome(&pairs[1]), OpType::Ok);
    }
}
