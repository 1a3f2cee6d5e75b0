//! Versioned registers: the op shapes [`crate::sessions`] and
//! [`crate::staleness`] read, and how they order values.
//!
//! Both checkers need to know which of two values of a register is newer.
//! A register history does not say so by itself, so they assume one of two
//! things, per op:
//!
//! - **The store reports versions.** A `write`'s `ok` completion value is an
//!   object with an integer `version` field (the version the store assigned),
//!   and a `read`'s `ok` value is an object `{"value": v, "version": n}`.
//! - **Values are versions.** Otherwise a written value must be an integer,
//!   unique per key, and larger values are newer (clients write increasing
//!   integers per key, e.g. from one shared generator, to a store that orders
//!   writes by their arrival, which is only sound when writes to a key do not
//!   overlap, or to a store that keeps the maximum). A read returns such an
//!   integer.
//!
//! A read of `null` returns the initial value, older than every write. Ops
//! may be keyed (`[k, v]`, see [`crate::keyed`]); unkeyed ops use the key
//! `""`. Writes whose version cannot be told (a non-integer value without a
//! version) are ignored; reads whose result is neither `null`, an integer nor
//! an object with an integer `version` make the history malformed.

use serde_json::Value;

use crate::common::{index_of, malformed, short_json, MalformedOp};
use crate::history::{History, OpType, Process};
use crate::keyed::split;

/// A register version; `None` is the initial value, older than all.
pub type Version = Option<i64>;

/// What a register op did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A write of this version (`None` when it cannot be told).
    Write(Version),
    /// A read that returned this version (only for `ok` reads).
    Read(Version),
}

/// A completed or pending register op with what the checkers need.
#[derive(Clone, Debug, PartialEq)]
pub struct RegOp {
    /// Who.
    pub process: Process,
    /// The register's key (`""` when unkeyed).
    pub key: String,
    /// Write or read, with its version.
    pub action: Action,
    /// How it ended (`info` when pending).
    pub outcome: OpType,
    /// Position of the invocation.
    pub invoke: usize,
    /// Position of the completion, if any.
    pub complete: Option<usize>,
    /// `time` of the invocation.
    pub invoke_time: u64,
    /// `time` of the completion (of the invocation when pending).
    pub time: u64,
    /// `index` of the completion (of the invocation when pending).
    pub index: u64,
}

/// The version in a value: an integer, or an object's integer `version`.
fn version_in(v: &Value) -> Option<i64> {
    match v {
        Value::Object(m) => m.get("version").and_then(Value::as_i64),
        other => other.as_i64(),
    }
}

/// The register ops of a history (`write` and `read`), in invocation order.
///
/// # Errors
///
/// The first `ok` read whose result has no version (see the module docs).
pub fn register_ops(history: &History) -> Result<Vec<RegOp>, MalformedOp> {
    let ops = &history.ops;
    let mut out = Vec::new();
    for pair in history.pairs() {
        let inv = &ops[pair.invoke];
        if inv.process == Process::Nemesis || !matches!(inv.f.as_str(), "write" | "read") {
            continue;
        }
        let outcome = history.outcome(&pair);
        let done = pair.complete.map(|c| (&ops[c], c));
        let (key, inv_value) = match split(&inv.value) {
            Some((k, v)) => (k, v),
            None => (String::new(), &inv.value),
        };
        let result = done.map(|(op, _)| match split(&op.value) {
            Some((_, v)) if !key.is_empty() => v,
            _ => &op.value,
        });
        let action = if inv.f == "write" {
            let from_store = result
                .filter(|_| outcome == OpType::Ok)
                .and_then(|r| r.as_object())
                .and_then(|m| m.get("version"))
                .and_then(Value::as_i64);
            Action::Write(from_store.or_else(|| version_in(inv_value)))
        } else if outcome == OpType::Ok {
            let Some((op, c)) = done else { continue };
            let r = result.unwrap_or(&Value::Null);
            let v = match r {
                Value::Null => None,
                other => Some(version_in(other).ok_or_else(|| {
                    malformed(
                        op,
                        c,
                        format!(
                            "read result must be null, an integer or {{\"value\": v, \"version\": n}}, found {}",
                            short_json(other)
                        ),
                    )
                })?),
            };
            Action::Read(v)
        } else {
            continue;
        };
        let (last, last_pos) = done.unwrap_or((inv, pair.invoke));
        out.push(RegOp {
            process: inv.process,
            key,
            action,
            outcome,
            invoke: pair.invoke,
            complete: pair.complete,
            invoke_time: inv.time,
            time: last.time,
            index: index_of(last, last_pos),
        });
    }
    Ok(out)
}

/// The `{"value": v, "version": n}` object a store-reported version comes
/// in, split into `v` and `n`.
fn versioned_parts(v: &Value) -> Option<(&Value, i64)> {
    let m = v.as_object()?;
    Some((m.get("value")?, m.get("version")?.as_i64()?))
}

/// The result of an op, unwrapped from its `[key, x]` tuple if it is one.
fn result_of(v: &Value) -> &Value {
    match v.as_array().map(Vec::as_slice) {
        Some([_, x]) => x,
        _ => v,
    }
}

/// Whether the store reported the versions of this history's register
/// values: some `ok` read returned `{"value": v, "version": n}`, and every
/// `ok` read returned either that or `null`.
///
/// Only then do [`crate::sessions`] and [`crate::staleness`] have a version
/// order they can trust for a history whose written values may repeat (a
/// linearizability workload writes a few small values over and over, and
/// reading them as versions would report violations that never happened).
pub fn has_store_versions(history: &History) -> bool {
    let mut any = false;
    for op in history.client_ops() {
        if op.f != "read" || op.kind != OpType::Ok {
            continue;
        }
        match result_of(&op.value) {
            Value::Null => {}
            v if versioned_parts(v).is_some() => any = true,
            _ => return false,
        }
    }
    any
}

/// The history with every store-reported version taken off `read` and
/// `write` results: `{"value": v, "version": n}` (keyed or not) becomes
/// `v`, which is what a checker that compares values (linearizability)
/// expects. Everything else is unchanged.
pub fn without_versions(history: &History) -> History {
    let mut h = history.clone();
    for op in &mut h.ops {
        if op.process == Process::Nemesis
            || !op.kind.is_completion()
            || !matches!(op.f.as_str(), "read" | "write")
        {
            continue;
        }
        let plain = match op.value.as_array().map(Vec::as_slice) {
            Some([k, x]) => {
                versioned_parts(x).map(|(v, _)| Value::Array(vec![k.clone(), v.clone()]))
            }
            _ => versioned_parts(&op.value).map(|(v, _)| v.clone()),
        };
        if let Some(p) = plain {
            op.value = p;
        }
    }
    h
}

/// A version for humans: the number, or `the initial value`.
pub fn show(v: Version) -> String {
    match v {
        Some(n) => n.to_string(),
        None => "the initial value".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::H;
    use serde_json::json;
    use OpType::Ok as Done;

    fn versioned_history() -> H {
        let mut h = H::default();
        h.inv(0, "write", json!(["a", 3])).ok(
            0,
            "write",
            json!(["a", {"value": 3, "version": 10}]),
        );
        h.inv(1, "read", json!(["a", null])).ok(
            1,
            "read",
            json!(["a", {"value": 3, "version": 10}]),
        );
        h.inv(1, "read", json!(["b", null]))
            .ok(1, "read", json!(["b", null]));
        h.call(Done, 0, "cas", json!(["a", [3, 4]]));
        h
    }

    #[test]
    fn store_versions_are_recognised_and_taken_off_for_value_checkers() {
        let h = versioned_history().history();
        assert!(has_store_versions(&h));
        let plain = without_versions(&h);
        let values: Vec<&Value> = plain.ops.iter().map(|o| &o.value).collect();
        assert_eq!(
            values,
            [
                &json!(["a", 3]),
                &json!(["a", 3]),
                &json!(["a", null]),
                &json!(["a", 3]),
                &json!(["b", null]),
                &json!(["b", null]),
                &json!(["a", [3, 4]]),
                &json!(["a", [3, 4]]),
            ]
        );
        // The versions order the values, not the values themselves.
        let ops = register_ops(&h).unwrap();
        assert_eq!(ops[0].action, Action::Write(Some(10)));
        assert_eq!(ops[1].action, Action::Read(Some(10)));
    }

    #[test]
    fn plain_or_mixed_reads_have_no_store_versions() {
        let mut h = H::default();
        h.call(Done, 0, "write", json!(["a", 3]))
            .read(1, "read", json!(["a", 3]));
        assert!(!has_store_versions(&h.history()));
        let mut h = versioned_history();
        h.read(1, "read", json!(["a", 4]));
        assert!(!has_store_versions(&h.history()));
        // Reads of nothing but the initial value tell no versions either.
        let mut h = H::default();
        h.read(1, "read", json!(["a", null]));
        assert!(!has_store_versions(&h.history()));
        assert_eq!(without_versions(&h.history()), h.history());
    }
}
