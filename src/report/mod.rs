//! `report.html`: one self-contained page per run.
//!
//! The page has no external requests (inline CSS and SVG, no script needed)
//! so it can be attached to a CI job or mailed and still read. Every value
//! that came from the store or the history passes through tera's HTML
//! autoescaping (the template is named `*.html`), so a stored `<script>` is
//! shown, never run.

mod plot;

use crate::results::{Results, RunDir};
use crate::runner::TestConfig;
use anyhow::{Context, Result};
use checkers::{History, OpType, Process};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

const TEMPLATE: &str = include_str!("report.html");

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
/// closes it at its completion. A window never closed runs to the end.
pub fn fault_windows(history: &History) -> Vec<FaultWindow> {
    let end_of_history = history.ops.last().map(|o| secs(o.time)).unwrap_or(0.0);
    let mut open: BTreeMap<String, FaultWindow> = BTreeMap::new();
    let mut done = Vec::new();
    for op in history.ops.iter().filter(|o| o.process == Process::Nemesis) {
        let Some((kind, starts)) = nemeses::schedule::kind_of_f(&op.f) else {
            continue;
        };
        if starts && op.kind == OpType::Invoke {
            if let Some(mut prev) = open.remove(kind) {
                prev.end = secs(op.time);
                done.push(prev);
            }
            open.insert(
                kind.to_string(),
                FaultWindow {
                    kind: kind.to_string(),
                    label: fault_label(&op.value),
                    start: secs(op.time),
                    end: end_of_history,
                },
            );
        } else if !starts && op.kind.is_completion() {
            if let Some(mut w) = open.remove(kind) {
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

/// Counts of completed client ops by function and outcome.
#[derive(Debug, Default, Serialize)]
struct OpCounts {
    f: String,
    ok: usize,
    fail: usize,
    info: usize,
}

fn op_counts(history: &History) -> Vec<OpCounts> {
    let mut by_f: BTreeMap<String, OpCounts> = BTreeMap::new();
    for pair in history.pairs() {
        let inv = &history.ops[pair.invoke];
        if inv.process == Process::Nemesis {
            continue;
        }
        let e = by_f.entry(inv.f.clone()).or_insert_with(|| OpCounts {
            f: inv.f.clone(),
            ..Default::default()
        });
        match history.outcome(&pair) {
            OpType::Ok => e.ok += 1,
            OpType::Fail => e.fail += 1,
            _ => e.info += 1,
        }
    }
    by_f.into_values().collect()
}

/// A checker's details flattened for the template: scalar facts, element
/// lists (truncated) and tables of records (truncated).
#[derive(Serialize)]
struct CheckerView {
    checker: String,
    valid: String,
    summary: String,
    facts: Vec<(String, String)>,
    lists: Vec<ListView>,
    tables: Vec<TableView>,
}

#[derive(Serialize)]
struct ListView {
    name: String,
    total: usize,
    shown: String,
}

#[derive(Serialize)]
struct TableView {
    name: String,
    total: usize,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

const MAX_LIST: usize = 200;
const MAX_ROWS: usize = 100;

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            a.iter().map(cell).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

fn checker_view(c: &checkers::CheckResult) -> CheckerView {
    let mut view = CheckerView {
        checker: c.checker.clone(),
        valid: c.valid.word().to_string(),
        summary: c.summary.clone(),
        facts: vec![],
        lists: vec![],
        tables: vec![],
    };
    if let Value::Object(map) = &c.details {
        for (k, v) in map {
            match v {
                Value::Array(items) if items.iter().any(Value::is_object) => {
                    let columns: Vec<String> = items
                        .iter()
                        .find_map(Value::as_object)
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default();
                    let rows = items
                        .iter()
                        .take(MAX_ROWS)
                        .map(|it| columns.iter().map(|col| cell(&it[col])).collect())
                        .collect();
                    view.tables.push(TableView {
                        name: k.clone(),
                        total: items.len(),
                        columns,
                        rows,
                    });
                }
                Value::Array(items) => {
                    let mut shown = items
                        .iter()
                        .take(MAX_LIST)
                        .map(cell)
                        .collect::<Vec<_>>()
                        .join(", ");
                    if items.len() > MAX_LIST {
                        shown.push_str(&format!(", … and {} more", items.len() - MAX_LIST));
                    }
                    view.lists.push(ListView {
                        name: k.clone(),
                        total: items.len(),
                        shown,
                    });
                }
                Value::Object(_) => view.facts.push((k.clone(), v.to_string())),
                other => view.facts.push((k.clone(), cell(other))),
            }
        }
    }
    view
}

/// Renders the report for a run into a string.
pub fn render(
    cfg: &TestConfig,
    history: &History,
    results: &Results,
    node_logs: &[(String, String)],
) -> Result<String> {
    let windows = fault_windows(history);
    let svg = plot::latency_svg(history, &windows)?;
    let mut config: Vec<(String, String)> = match serde_json::to_value(cfg)? {
        Value::Object(m) => m.into_iter().map(|(k, v)| (k, cell(&v))).collect(),
        _ => vec![],
    };
    config.retain(|(k, _)| k != "command");
    let mut ctx = tera::Context::new();
    ctx.insert("name", &cfg.name);
    ctx.insert("verdict", results.valid.word());
    ctx.insert(
        "verdict_class",
        match results.valid {
            checkers::Validity::Valid => "valid",
            checkers::Validity::Invalid => "invalid",
            checkers::Validity::Unknown => "unknown",
        },
    );
    ctx.insert("interrupted", &results.interrupted);
    ctx.insert("error", &results.error);
    ctx.insert("command", &cfg.command);
    ctx.insert("config", &config);
    ctx.insert(
        "checkers",
        &results
            .checkers
            .iter()
            .map(checker_view)
            .collect::<Vec<_>>(),
    );
    ctx.insert("counts", &op_counts(history));
    ctx.insert("op_count", &history.ops.len());
    ctx.insert("windows", &windows);
    ctx.insert("latency_svg", &svg);
    ctx.insert("node_logs", node_logs);
    ctx.insert(
        "generated",
        &chrono::Local::now()
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
    );
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE)
        .context("parsing the report template")?;
    Ok(tera.render("report.html", &ctx)?)
}

/// Writes `report.html` into the run directory.
pub fn write(dir: &RunDir, cfg: &TestConfig, history: &History, results: &Results) -> Result<()> {
    let mut logs = Vec::new();
    for i in 1..=cfg.nodes {
        let node = format!("n{i}");
        let rel = format!("{node}/ringkv.log");
        if dir.path.join(&rel).exists() {
            logs.push((node, rel));
        }
    }
    let html = render(cfg, history, results, &logs)?;
    std::fs::write(dir.file("report.html"), html).context("writing report.html")
}

#[cfg(test)]
mod tests;
