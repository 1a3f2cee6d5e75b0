//! `report.html`: one self-contained page per run.
//!
//! The page has no external requests (inline CSS and SVG, no script needed)
//! so it can be attached to a CI job or mailed and still read. It reads top
//! down as a reviewer asks: did the store keep its promises (the verdict
//! banner), what broke and when (each anomaly as a sentence, with its ops
//! drawn against the faults in force: [`explain`], [`lanes`]), how the
//! cluster behaved (charts on one time axis with the faults shaded:
//! [`plot`]), the whole history at a glance, and how to reproduce the run.
//!
//! Every value that came from the store or the history passes through
//! tera's HTML autoescaping (the template is named `*.html`) or, in the
//! hand-drawn SVG, through [`lanes::esc`]; plotters escapes its own text. A
//! stored `<script>` or `</svg>` is shown, never run. The page's size is
//! bounded whatever the history's length: charts thin their points, the
//! timeline aggregates, anomaly lists and tables are capped.

pub mod explain;
pub mod faults;
pub mod lanes;
pub mod plot;
pub mod synthetic;
pub mod view;

pub use view::RunView;

pub use faults::{fault_windows, FaultWindow};

use crate::artifacts::results::{Results, RunDir};
use crate::settings::{ClockMode, TestConfig};
use anyhow::{Context, Result};
use checkers::{History, OpType, Process, Validity};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

const TEMPLATE: &str = include_str!("report.html");

/// Counts of completed client ops by function and outcome.
#[derive(Debug, Default, Serialize)]
struct OpCounts {
    f: String,
    ok: usize,
    fail: usize,
    info: usize,
}

fn op_counts(view: &RunView) -> Vec<OpCounts> {
    let history = view.history;
    let mut by_f: BTreeMap<String, OpCounts> = BTreeMap::new();
    for pair in view.client_pairs() {
        let inv = &history.ops[pair.invoke];
        let e = by_f.entry(inv.f.clone()).or_insert_with(|| OpCounts {
            f: inv.f.clone(),
            ..Default::default()
        });
        match history.outcome(pair) {
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
    anomalies: Vec<AnomalyView>,
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
const MAX_FACT: usize = 400;

/// A value under a field name, for tables: times in ns become seconds,
/// read references and quantiles become short phrases.
fn named_cell(name: &str, v: &Value) -> String {
    if name == "time" || name.ends_with("_time") {
        if let Some(ns) = v.as_u64() {
            return format!("{:.3} s", ns as f64 / 1e9);
        }
    }
    if let Value::Object(o) = v {
        if let (Some(i), Some(t)) = (
            o.get("index").and_then(Value::as_u64),
            o.get("time").and_then(Value::as_u64),
        ) {
            return format!("#{i} at {:.3} s", t as f64 / 1e9);
        }
        if let (Some(n), Some(p50), Some(p99), Some(max)) = (
            o.get("count").and_then(Value::as_u64),
            o.get("p50").and_then(Value::as_f64),
            o.get("p99").and_then(Value::as_f64),
            o.get("max").and_then(Value::as_f64),
        ) {
            return format!("p50 {p50:.1}, p99 {p99:.1}, max {max:.1} (of {n})");
        }
    }
    cell(v)
}

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
        anomalies: vec![],
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
                        .map(|it| {
                            columns
                                .iter()
                                .map(|col| named_cell(col, &it[col]))
                                .collect()
                        })
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
                other => view
                    .facts
                    .push((k.clone(), lanes::cut(&named_cell(k, other), MAX_FACT))),
            }
        }
    }
    view
}

/// What a report is drawn from: a history, its verdicts, and what is known
/// of the run that produced it (a `faultline check` of a stored history
/// knows less than `faultline test`).
pub struct Page<'a> {
    /// The test name (page title).
    pub name: &'a str,
    /// The command line that reproduces the run.
    pub command: &'a str,
    /// Configuration rows (name, value), shown as a table.
    pub config: Vec<(String, String)>,
    /// One line on the cluster, e.g. `5 ringkv nodes, N=3 R=2 W=2, lww`.
    pub cluster: Option<String>,
    /// The history.
    pub history: &'a History,
    /// The checkers' verdicts.
    pub results: &'a Results,
    /// Node logs beside the report: (node, relative path).
    pub node_logs: &'a [(String, String)],
}

/// One anomaly for the template.
#[derive(Serialize)]
struct AnomalyView {
    kind: String,
    text: String,
    svg: Option<String>,
    caption: &'static str,
}

/// One chart for the template.
#[derive(Serialize)]
struct PlotView {
    id: String,
    title: String,
    svg: String,
    caption: String,
}

/// Anomalies with a lane diagram each, at most this many per checker.
const MAX_DIAGRAMS: usize = 4;
/// Ops running concurrently with an anomaly's op, added to its diagram, at
/// most (the writes that raced a lost one, ...).
const MAX_CONCURRENT: usize = 10;
/// Ops in one anomaly diagram at most (nearest the primary ones kept).
const MAX_DIAGRAM_OPS: usize = 40;

fn anomaly_views(c: &checkers::CheckResult, view: &RunView) -> Vec<AnomalyView> {
    let (history, idx, windows) = (view.history, &view.index, &view.windows[..]);
    explain::anomalies(c, idx, windows)
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let svg = (i < MAX_DIAGRAMS && !a.ops.is_empty()).then(|| {
                let mut ops = a.ops.clone();
                if c.checker != "linearizable" {
                    // A counterexample is exact; elsewhere show what ran
                    // alongside the op in question.
                    ops.extend(concurrent(history, idx, &a.primary, MAX_CONCURRENT));
                }
                ops.sort_unstable();
                ops.dedup();
                if ops.len() > MAX_DIAGRAM_OPS {
                    let centre = a.primary.first().copied().unwrap_or(ops[0]);
                    ops.sort_by_key(|&p| p.abs_diff(centre));
                    ops.truncate(MAX_DIAGRAM_OPS);
                }
                let pairs = idx.pairs(&ops);
                let bars = lanes::bars_of(history, &pairs, &a.primary);
                lanes::ops_svg(
                    &bars,
                    windows,
                    lanes::Scale::Events,
                    &format!("the ops of this {}", a.kind),
                )
            });
            AnomalyView {
                kind: a.kind,
                text: a.text,
                svg,
                caption: if c.checker == "linearizable" {
                    "The counterexample's ops, one lane per process, in the order of their invocations and completions (not to scale), against the faults in force; the op the search could not place has a heavy outline. Hover a bar for the whole op."
                } else {
                    "The ops involved and the ops nearest them in time, one lane per process, in the order of their invocations and completions (not to scale), against the faults in force; the op this is about has a heavy outline. Hover a bar for the whole op."
                },
            }
        })
        .collect()
}

/// Client ops (invocation positions) nearest the `primary` ops in the
/// history's order (which is time order), at most `max` per primary op:
/// the ops running alongside it and those just before and after.
fn concurrent(
    history: &History,
    idx: &explain::OpIndex,
    primary: &[usize],
    max: usize,
) -> Vec<usize> {
    let is_client_invoke = |pos: usize| {
        history.ops[pos].kind == OpType::Invoke && history.ops[pos].process != Process::Nemesis
    };
    let mut out = Vec::new();
    for &p in primary {
        let end = idx.completion(p).unwrap_or(p);
        let before = (0..p).rev().filter(|&q| is_client_invoke(q)).take(max);
        let after = (p + 1..history.ops.len())
            .filter(|&q| is_client_invoke(q))
            .take(max);
        let mut near: Vec<usize> = before.chain(after).collect();
        // Distance from the op's span: inside it counts as zero.
        near.sort_by_key(|&q| if q < p { p - q } else { q.saturating_sub(end) });
        near.truncate(max);
        out.extend(near);
    }
    out
}

fn plots(view: &RunView, results: &Results) -> Result<Vec<PlotView>> {
    let (history, windows) = (view.history, &view.windows[..]);
    let mut out = Vec::new();
    for (f, svg) in plot::latency_panels(view)? {
        out.push(PlotView {
            id: if out.is_empty() {
                "plot-latency".into()
            } else {
                format!("plot-latency-{}", out.len())
            },
            title: format!("Latency of {f}"),
            svg,
            caption: "Each dot is one client operation at the time it was invoked; its height is how long it took (log scale). Blue: ok. Orange: info (outcome unknown, usually a timeout). Pink: fail. Shaded bands: faults in force, one colour per kind.".into(),
        });
    }
    if let Some(svg) = plot::latency_by_node_svg(view)? {
        out.push(PlotView {
            id: "plot-latency-by-node".into(),
            title: "Latency by node".into(),
            svg,
            caption: "The median latency of the ok operations each node served, in 120 slices of the run (log scale), one line per node: a slow node stands apart while its fault is in force.".into(),
        });
    }
    if history.client_ops().next().is_some() {
        out.push(PlotView {
            id: "plot-throughput".into(),
            title: "Throughput and availability".into(),
            svg: plot::throughput_svg(history, windows)?,
            caption: "Completions per second by outcome, and the share of completions that were ok, in 120 slices of the run.".into(),
        });
    }
    let t_max = history
        .ops
        .last()
        .map_or(1.0, |o| o.time as f64 / 1e9)
        .max(1.0);
    for c in &results.checkers {
        match c.checker.as_str() {
            "siblings" => {
                if let Ok(a) = serde_json::from_value::<checkers::siblings::SiblingsAnalysis>(
                    c.details.clone(),
                ) {
                    if !a.max_per_second.is_empty() {
                        out.push(PlotView {
                            id: "plot-siblings".into(),
                            title: "Siblings over time".into(),
                            svg: plot::siblings_svg(&a.max_per_second, a.writers.max, t_max, windows)?,
                            caption: "The most siblings any read returned in each second, against the most writers any read had running concurrently: a store that keeps only concurrent versions stays under the red line.".into(),
                        });
                    }
                }
            }
            "convergence" => {
                if let Ok(a) = serde_json::from_value::<checkers::convergence::ConvergenceAnalysis>(
                    c.details.clone(),
                ) {
                    if !a.agree_curve_ms.is_empty() {
                        let lag = a.replica_lag_ms;
                        out.push(PlotView {
                            id: "plot-convergence".into(),
                            title: "Time to convergence".into(),
                            svg: plot::convergence_svg(
                                &a.agree_curve_ms,
                                &a.lag_curve_ms,
                                a.first_read_ms,
                            )?,
                            caption: format!(
                                "After the last heal (at {:.1} s), every key's replicas were read locally in rounds until they agreed. Keys converged in p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms; replicas held their key's final value after p50 {:.1} ms, max {:.1} ms{}; the first read came {:.1} ms after the heal (no time below it can be seen), and {} of the keys already agreed at their first read; {} read rounds per replica at most; {} keys diverged.",
                                a.heal_time as f64 / 1e9,
                                a.time_to_agree_ms.p50,
                                a.time_to_agree_ms.p90,
                                a.time_to_agree_ms.max,
                                lag.p50,
                                lag.max,
                                lag_by_replica(&a),
                                a.first_read_ms,
                                a.agreed_at_first_read_count,
                                a.max_rounds,
                                a.divergent_count
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    let offsets = faults::clock_offsets(history);
    if !offsets.is_empty() {
        out.push(PlotView {
            id: "plot-clock".into(),
            title: "Clock offsets".into(),
            svg: plot::clock_svg(&offsets, t_max, windows)?,
            caption: "Each node's wall-clock offset as the clock nemesis set it through libfaketime (monotonic clocks are never moved). A strobe is drawn at its extreme.".into(),
        });
    }
    Ok(out)
}

/// Per fault kind: how many times it struck and for how long in total.
fn fault_summary(windows: &[FaultWindow]) -> String {
    let mut by_kind: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for w in windows {
        let e = by_kind.entry(&w.kind).or_default();
        e.0 += 1;
        e.1 += w.end - w.start;
    }
    if by_kind.is_empty() {
        return "no faults".into();
    }
    by_kind
        .iter()
        .map(|(k, (n, s))| format!("{k} ×{n} ({s:.1} s)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Up to `per_checker` anomaly sentences of each checker that did not find
/// the history valid, as (checker, sentence): for the CI outputs, whose
/// readers may never open the report.
pub fn highlights(
    history: &History,
    results: &Results,
    per_checker: usize,
) -> Vec<(String, String)> {
    highlights_in(&RunView::new(history), results, per_checker)
}

/// [`highlights`] of a history already viewed.
pub fn highlights_in(
    view: &RunView,
    results: &Results,
    per_checker: usize,
) -> Vec<(String, String)> {
    let (idx, windows) = (&view.index, &view.windows);
    results
        .checkers
        .iter()
        .filter(|c| c.valid != Validity::Valid)
        .flat_map(|c| {
            explain::anomalies(c, idx, windows)
                .into_iter()
                .take(per_checker)
                .map(|a| (c.checker.clone(), format!("{}: {}", a.kind, a.text)))
        })
        .collect()
}

/// Renders the report for a run into a string.
pub fn render(
    cfg: &TestConfig,
    history: &History,
    results: &Results,
    node_logs: &[(String, String)],
) -> Result<String> {
    render_in(cfg, &RunView::new(history), results, node_logs)
}

/// [`render`] of a history already viewed.
pub fn render_in(
    cfg: &TestConfig,
    view: &RunView,
    results: &Results,
    node_logs: &[(String, String)],
) -> Result<String> {
    let history = view.history;
    let mut config: Vec<(String, String)> = match serde_json::to_value(cfg)? {
        Value::Object(m) => m.into_iter().map(|(k, v)| (k, cell(&v))).collect(),
        _ => vec![],
    };
    config.retain(|(k, _)| k != "command");
    let q = &cfg.quorums;
    let store = if cfg.store.has_replication_settings() {
        format!(
            "{} ringkv nodes; N={} R={} W={}{}; conflicts: {}; read repair {}; anti-entropy {}; fsync {}",
            cfg.nodes,
            q.n,
            q.r,
            q.w,
            if q.sloppy_quorum { ", sloppy quorum" } else { "" },
            serde_json::to_value(q.conflict).ok().as_ref().map(cell).unwrap_or_default(),
            if q.read_repair { "on" } else { "off" },
            if q.anti_entropy_ms == 0 { "off".to_string() } else { format!("every {} ms", q.anti_entropy_ms) },
            q.fsync,
        )
    } else {
        format!("{} {} nodes", cfg.nodes, cfg.store_name())
    };
    // Which clocks a clock fault moved: each store process's (libfaketime)
    // or each host's (`date -s`).
    let clocks = match (cfg.nemesis.contains(&nemeses::Kind::Clock), cfg.clock_mode) {
        (false, _) => "",
        (true, ClockMode::Date) => "; clocks moved host-wide with date -s",
        (true, ClockMode::Faketime) => "; clocks moved per process with libfaketime",
    };
    let cluster = format!(
        "{store}; {} clients, {} ops/s, {} s; workload {} ({}); seed {}{clocks}",
        cfg.concurrency, cfg.rate, cfg.time_limit_s, cfg.workload, cfg.client, cfg.seed,
    );
    render_page_in(
        &Page {
            name: &cfg.name,
            command: &cfg.command,
            config,
            cluster: Some(cluster),
            history,
            results,
            node_logs,
        },
        view,
    )
}

/// Renders a report page.
pub fn render_page(page: &Page) -> Result<String> {
    render_page_in(page, &RunView::new(page.history))
}

/// [`render_page`] of a history already viewed (`view` is of
/// `page.history`).
pub fn render_page_in(page: &Page, view: &RunView) -> Result<String> {
    let history = page.history;
    let results = page.results;
    let windows = &view.windows;
    let (timeline, mode) = lanes::overview_svg(view);
    let timeline_caption = match mode {
        lanes::OverviewMode::Bars => "One lane per process; each operation is a bar from its invocation to its completion (hover for the op). Blue: ok; orange: info (may or may not have happened; runs to the end); pink: fail. Shaded: faults in force.".to_string(),
        lanes::OverviewMode::Aggregated { columns, lanes, folded } => format!(
            "{} client operations, aggregated: {columns} time slices across, {lanes} lanes{}. A cell's colour is the worst outcome completed in it (orange info over pink fail over blue ok), its strength how many ops; hover for counts. Anomalies above show their own ops one by one.",
            history.client_ops().filter(|o| o.kind == OpType::Invoke).count(),
            if folded { " (processes folded onto lanes by number modulo the lane count)" } else { ", one per process" }
        ),
    };
    let mut ctx = tera::Context::new();
    ctx.insert("name", page.name);
    ctx.insert("verdict", results.valid.word());
    ctx.insert(
        "verdict_class",
        match results.valid {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        },
    );
    ctx.insert("interrupted", &results.interrupted);
    ctx.insert("error", &results.error);
    ctx.insert("command", page.command);
    ctx.insert("config", &page.config);
    ctx.insert("cluster", &page.cluster);
    ctx.insert("fault_summary", &fault_summary(windows));
    let views: Vec<CheckerView> = results
        .checkers
        .iter()
        .map(|c| {
            let mut v = checker_view(c);
            v.anomalies = anomaly_views(c, view);
            v
        })
        .collect();
    ctx.insert("checkers", &views);
    ctx.insert("plots", &plots(view, results)?);
    ctx.insert("timeline_svg", &timeline);
    ctx.insert("timeline_caption", &timeline_caption);
    ctx.insert("counts", &op_counts(view));
    ctx.insert("op_count", &history.ops.len());
    ctx.insert(
        "duration",
        &format!(
            "{:.1}",
            history.ops.last().map_or(0.0, |o| o.time as f64 / 1e9)
        ),
    );
    ctx.insert("windows", windows);
    ctx.insert("node_logs", page.node_logs);
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
    write_in(dir, cfg, &RunView::new(history), results)
}

/// [`write`] of a history already viewed.
pub fn write_in(dir: &RunDir, cfg: &TestConfig, view: &RunView, results: &Results) -> Result<()> {
    // Every store's server logs sit in the node's folder as `*.log`.
    let mut logs = Vec::new();
    for i in 1..=cfg.nodes {
        let node = format!("n{i}");
        let Ok(entries) = std::fs::read_dir(dir.path.join(&node)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".log"))
            .collect();
        names.sort();
        logs.extend(
            names
                .into_iter()
                .map(|n| (node.clone(), format!("{node}/{n}"))),
        );
    }
    let html = render_in(cfg, view, results, &logs)?;
    std::fs::write(dir.file("report.html"), html).context("writing report.html")
}

#[cfg(test)]
mod tests;

/// ` (n1 max 3.1 ms, n2 max 410.0 ms, ...)`: each replica's worst lag.
fn lag_by_replica(a: &checkers::convergence::ConvergenceAnalysis) -> String {
    if a.lag_by_replica.len() < 2 {
        return String::new();
    }
    let each: Vec<String> = a
        .lag_by_replica
        .iter()
        .map(|(n, q)| format!("{n} max {:.1} ms", q.max))
        .collect();
    format!(" ({})", each.join(", "))
}
