//! Keyed operations: Jepsen's `[key value]` tuples.
//!
//! Workloads that touch several independent keys (registers, key-value maps,
//! siblings, convergence) write an op's value as a two-element array
//! `[key, value]`, as Jepsen's `independent` does. Because keys are
//! independent, a history can be split into one sub-history per key and each
//! checked on its own (P-compositionality), which is what keeps checkers
//! fast. Keys are compared by their JSON text, so `"a"` and `1` are distinct.

use crate::history::{History, Op, Process};
use serde_json::Value;
use std::collections::BTreeMap;

/// Splits a keyed value `[k, v]` into its key (as text) and value.
pub fn split(value: &Value) -> Option<(String, &Value)> {
    match value.as_array().map(Vec::as_slice) {
        Some([k, v]) => Some((key_text(k), v)),
        _ => None,
    }
}

/// The text form of a key: strings as themselves, anything else as JSON.
pub fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Splits a history into per-key sub-histories, unwrapping each op's value
/// to its `v`. A completion whose value is not a tuple (a failed or timed-out
/// op often carries `null`) is filed under the key of its invocation. Nemesis
/// ops and client ops that carry no key at all are dropped.
pub fn by_key(history: &History) -> BTreeMap<String, History> {
    let mut out: BTreeMap<String, History> = BTreeMap::new();
    let mut open: std::collections::HashMap<Process, String> = Default::default();
    for op in &history.ops {
        if op.process == Process::Nemesis {
            continue;
        }
        let (key, v) = match split(&op.value) {
            Some((k, v)) => (k, v.clone()),
            None => match open.get(&op.process) {
                Some(k) if op.kind.is_completion() => (k.clone(), op.value.clone()),
                _ => continue,
            },
        };
        if op.kind.is_completion() {
            open.remove(&op.process);
        } else {
            open.insert(op.process, key.clone());
        }
        out.entry(key).or_default().ops.push(Op {
            value: v,
            ..op.clone()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpType;
    use serde_json::json;

    fn op(kind: OpType, p: u64, f: &str, value: Value) -> Op {
        Op {
            index: None,
            kind,
            process: Process::Client(p),
            f: f.into(),
            value,
            time: 0,
            node: None,
            error: None,
        }
    }

    #[test]
    fn splits_by_key_and_files_untupled_completions_under_the_invocation_key() {
        let h = History::new(vec![
            op(OpType::Invoke, 0, "write", json!(["a", 1])),
            op(OpType::Invoke, 1, "read", json!([7, null])),
            op(OpType::Info, 0, "write", json!(null)),
            op(OpType::Ok, 1, "read", json!([7, 3])),
        ]);
        let m = by_key(&h);
        assert_eq!(m.len(), 2);
        assert_eq!(m["a"].ops.len(), 2);
        assert_eq!(m["a"].ops[0].value, json!(1));
        assert_eq!(m["a"].ops[1].kind, OpType::Info);
        assert_eq!(m["7"].ops[1].value, json!(3));
        assert_eq!(split(&json!([1, 2, 3])), None);
    }
}
