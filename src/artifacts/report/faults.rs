//! Fault windows and clock offsets, recovered from the nemesis ops of a
//! history (so a report can be drawn from a history alone, e.g. by
//! `faultline check`).

use checkers::{History, OpType, Process};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A fault as a span of time, for plots and tables.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultWindow {
    /// `partition`, ...
    pub kind: String,
    /// What it did, e.g. `n1,n2|n3,n4,n5`.
    pub label: String,
    /// Seconds since the start.
    pub start: f64,
    /// Seconds since the start (the end of the history if never stopped).
    pub end: f64,
}

/// Finds fault windows from nemesis ops: a fault's start op (`start-partition`,
/// `bump-clock`, `kill`, ...) opens a window of its kind at the invocation, the
/// next stop op of that kind (`stop-partition`, `reset-clock`, `start`, ...)
/// closes it at its completion. A window never closed runs to the end. What
/// the start's completion adds goes into the label: what a corruption
/// changed where (its `changes`), and an error when the fault did not take.
pub fn fault_windows(history: &History) -> Vec<FaultWindow> {
    let end_of_history = history.ops.last().map(|o| secs(o.time)).unwrap_or(0.0);
    let mut open: BTreeMap<String, FaultWindow> = BTreeMap::new();
    let mut done = Vec::new();
    for op in history.ops.iter().filter(|o| o.process == Process::Nemesis) {
        let Some((kind, starts)) = nemeses::schedule::kind_of_f(&op.f) else {
            continue;
        };
        if starts && op.kind == OpType::Invoke {
            if let Some(mut prev) = open.remove(kind.name()) {
                prev.end = secs(op.time);
                done.push(prev);
            }
            open.insert(
                kind.name().to_string(),
                FaultWindow {
                    kind: kind.to_string(),
                    label: fault_label(&op.value),
                    start: secs(op.time),
                    end: end_of_history,
                },
            );
        } else if starts && op.kind.is_completion() {
            if let Some(w) = open.get_mut(kind.name()) {
                let changes: Vec<&str> = op
                    .value
                    .get("changes")
                    .and_then(Value::as_array)
                    .map(|c| c.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if !changes.is_empty() {
                    w.label = format!("{}: {}", w.label, changes.join("; "));
                }
                if let Some(e) = &op.error {
                    w.label = format!("{} (did not take: {e})", w.label);
                }
            }
        } else if !starts && op.kind.is_completion() {
            if let Some(mut w) = open.remove(kind.name()) {
                w.end = secs(op.time);
                done.push(w);
            }
        }
    }
    done.extend(open.into_values());
    done.sort_by(|a, b| a.start.total_cmp(&b.start));
    done
}

fn fault_label(v: &Value) -> String {
    if let Some(label) = v.get("label").and_then(Value::as_str) {
        return label.to_string();
    }
    if let Some(comps) = v.get("components").and_then(Value::as_array) {
        return comps
            .iter()
            .map(|c| {
                c.as_array()
                    .map(|n| {
                        n.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" | ");
    }
    if v.is_null() {
        String::new()
    } else {
        v.to_string()
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The faults in force at any moment of `[from, to]` (seconds).
pub fn overlapping(windows: &[FaultWindow], from: f64, to: f64) -> Vec<&FaultWindow> {
    windows
        .iter()
        .filter(|w| w.start <= to && w.end >= from)
        .collect()
}

/// "during partition n1,n2|n3 (2.7–7.7 s) and kill -9 n2 (4.0–6.1 s)", or
/// "with no fault in force" — for anomaly sentences.
pub fn during(windows: &[FaultWindow], from: f64, to: f64) -> String {
    let hits = overlapping(windows, from, to);
    if hits.is_empty() {
        return "with no fault in force".to_string();
    }
    let parts: Vec<String> = hits
        .iter()
        .take(3)
        .map(|w| {
            let what = if w.label.is_empty() {
                w.kind.clone()
            } else {
                w.label.clone()
            };
            format!("{what} ({:.1}–{:.1} s)", w.start, w.end)
        })
        .collect();
    let more = if hits.len() > 3 {
        format!(" and {} more", hits.len() - 3)
    } else {
        String::new()
    };
    format!("during {}{more}", parts.join(" and "))
}

/// One node's wall-clock offset over time as the nemesis set it: steps of
/// `(seconds since start, offset in ms)`, starting at `(0, 0)`. A strobe is
/// drawn as its extremes (`+delta` at the start, back to 0 at its end).
pub fn clock_offsets(history: &History) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    fn set(out: &mut BTreeMap<String, Vec<(f64, f64)>>, node: &str, t: f64, ms: f64) {
        out.entry(node.to_string())
            .or_insert_with(|| vec![(0.0, 0.0)])
            .push((t, ms));
    }
    for op in history
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.kind == OpType::Invoke)
    {
        let t = secs(op.time);
        let targets = |v: &Value| -> Vec<String> {
            let list = v.get("targets").unwrap_or(v);
            list.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        match op.f.as_str() {
            "bump-clock" => {
                let ms = op
                    .value
                    .get("offset_ms")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                for n in targets(&op.value) {
                    set(&mut out, &n, t, ms);
                }
            }
            "strobe-clock" => {
                let ms = op
                    .value
                    .get("delta_ms")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                for n in targets(&op.value) {
                    set(&mut out, &n, t, ms);
                }
            }
            "reset-clock" => {
                let mut nodes = targets(&op.value);
                if nodes.is_empty() {
                    // A reset without targets resets every node seen so far.
                    nodes = out.keys().cloned().collect();
                }
                for n in nodes {
                    set(&mut out, &n, t, 0.0);
                }
            }
            _ => {}
        }
    }
    out
}
