//! What the linearizability checker reports: per key, then for the history.
//!
//! Each key's search ends in a [`KeyResult`]: its verdict, why it is
//! unknown, and for an invalid key a one-line sentence and a JSON
//! violation (the blocked op, the longest linearizable prefix, the shrunk
//! counterexample). [`summarize`] folds the keys' results into the
//! history's [`CheckResult`], named `linearizable`, whose summary leads with
//! the first invalid key. Ops are shown to people by [`describe_op`]
//! ("read by process 3 returned 2 [#40–#45]") and to reports by
//! [`op_json`].

use serde_json::{json, Value};

use super::compile::{self, OpInfo, OpView};
use super::search::Spent;
use super::Model;
use crate::history::OpType;
use crate::verdict::{CheckResult, Validity};

/// The verdict for one key (or the whole history).
pub(super) struct KeyResult {
    pub(super) key: Option<String>,
    pub(super) valid: Validity,
    pub(super) ops: usize,
    pub(super) why_unknown: Option<String>,
    pub(super) violation: Option<Value>,
    pub(super) sentence: Option<String>,
    /// Left undecided because another key was already invalid.
    pub(super) skipped: bool,
}

impl KeyResult {
    /// An unknown verdict: the history does not fit the model.
    pub(super) fn model_error(key: Option<String>, e: compile::ModelError) -> Self {
        KeyResult {
            key,
            valid: Validity::Unknown,
            ops: 0,
            why_unknown: Some(format!("the history does not fit the model: {e}")),
            violation: None,
            sentence: None,
            skipped: false,
        }
    }
}

/// The history's verdict from its keys' results (`split`: the history
/// was checked key by key).
pub(super) fn summarize(
    model: Model,
    split: bool,
    mut results: Vec<KeyResult>,
    spent: Spent,
) -> CheckResult {
    // The first invalid key's violation, moved out (it can be large).
    let violation = results
        .iter_mut()
        .find(|r| r.valid == Validity::Invalid)
        .and_then(|r| r.violation.take());
    let valid = results
        .iter()
        .fold(Validity::Valid, |v, r| v.worst(r.valid));
    let invalid: Vec<&KeyResult> = results
        .iter()
        .filter(|r| r.valid == Validity::Invalid)
        .collect();
    let unknown: Vec<&KeyResult> = results
        .iter()
        .filter(|r| r.valid == Validity::Unknown && !r.skipped)
        .collect();
    let skipped: Vec<&KeyResult> = results.iter().filter(|r| r.skipped).collect();
    let ops: usize = results.iter().map(|r| r.ops).sum();
    let name_keys = |rs: &[&KeyResult]| -> Vec<Value> { rs.iter().map(|r| json!(r.key)).collect() };
    let summary = match valid {
        Validity::Valid => format!(
            "linearizable as a {}: {ops} ops{} ({} search steps)",
            model.name(),
            if split {
                format!(" over {} keys", results.len())
            } else {
                String::new()
            },
            spent.steps
        ),
        Validity::Invalid => {
            let first = invalid[0].sentence.clone().unwrap_or_default();
            if results.len() > 1 {
                format!(
                    "not linearizable ({} of {} keys invalid{}): {first}",
                    invalid.len(),
                    results.len(),
                    if skipped.is_empty() {
                        String::new()
                    } else {
                        format!(", {} left undecided", skipped.len())
                    }
                )
            } else {
                format!("not linearizable: {first}")
            }
        }
        Validity::Unknown => {
            let r = unknown[0];
            let key = r
                .key
                .as_ref()
                .map(|k| format!(" on key {k}"))
                .unwrap_or_default();
            format!(
                "unknown{key}: {}",
                r.why_unknown.clone().unwrap_or_default()
            )
        }
    };
    let mut result = CheckResult {
        checker: "linearizable".into(),
        valid,
        summary,
        details: json!({
            "model": model.name(),
            "split_by_key": split,
            "keys": results.len(),
            "ops": ops,
            "invalid_keys": name_keys(&invalid),
            "unknown_keys": name_keys(&unknown),
            "undecided_keys": name_keys(&skipped),
            "unknown_reasons": unknown.iter().map(|r| json!(r.why_unknown)).collect::<Vec<_>>(),
            "search_steps": spent.steps,
            "peak_cache_entries": spent.peak_cache_entries,
            "peak_cache_bytes": spent.peak_cache_bytes,
        }),
    };
    // Moved in, not passed to `json!` (which would serialize it again).
    result.details["violation"] = violation.unwrap_or(Value::Null);
    result
}

/// One op as JSON for reports.
pub(super) fn op_json(v: OpView<'_>) -> Value {
    let o = v.info;
    json!({
        "key": v.key,
        "process": o.process,
        "f": v.f,
        "type": outcome_word(o),
        "value": v.argument,
        "result": v.result,
        "invoke_index": o.invoke_index,
        "complete_index": o.complete_index,
        "invoke_time": o.invoke_time,
        "complete_time": o.complete_time,
    })
}

pub(super) fn outcome_word(o: &OpInfo) -> &'static str {
    match (o.outcome, o.complete_index) {
        (_, None) => "pending",
        (OpType::Ok, _) => "ok",
        (OpType::Fail, _) => "fail",
        _ => "info",
    }
}

/// "read by process 3 returned 2 (ops #40–#45)", for summaries.
pub(super) fn describe_op(v: OpView<'_>) -> String {
    let o = v.info;
    let p = &o.process;
    let short = |v: &Value| {
        let s = v.to_string();
        if s.chars().count() > 40 {
            format!("{}…", s.chars().take(40).collect::<String>())
        } else {
            s
        }
    };
    let what = match v.f {
        "read" | "get" | "dequeue" => {
            format!("{} by process {p} returned {}", v.f, short(v.result))
        }
        "txn" if o.outcome == OpType::Ok => format!("txn {} by process {p}", short(v.result)),
        "cas" => {
            let (old, new) = match v.argument.as_array().map(Vec::as_slice) {
                Some([a, b]) => (short(a), short(b)),
                _ => (short(v.argument), String::new()),
            };
            let failed = if o.outcome == OpType::Fail {
                "failed "
            } else {
                ""
            };
            format!("{failed}cas {old}→{new} by process {p}")
        }
        f if v.argument.is_null() => format!("{f} by process {p}"),
        f => format!("{f} {} by process {p}", short(v.argument)),
    };
    let status = match outcome_word(o) {
        "info" => " (indeterminate)",
        "pending" => " (never completed)",
        _ => "",
    };
    let when = match (o.complete_index, o.invoke_time, o.complete_time) {
        (Some(c), t0, Some(t1)) if t1 > 0 => format!(
            " [#{}–#{c}, {:.3}–{:.3} s]",
            o.invoke_index,
            t0 as f64 / 1e9,
            t1 as f64 / 1e9
        ),
        (Some(c), _, _) => format!(" [#{}–#{c}]", o.invoke_index),
        (None, t0, _) if t0 > 0 => format!(" [#{}–, {:.3} s–]", o.invoke_index, t0 as f64 / 1e9),
        (None, _, _) => format!(" [#{}–]", o.invoke_index),
    };
    format!("{what}{status}{when}")
}
