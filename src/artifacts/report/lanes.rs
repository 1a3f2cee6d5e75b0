//! Lane diagrams, as hand-written inline SVG: one lane per process, each op a
//! bar from its invocation to its completion, coloured by outcome, with the
//! faults in force shaded behind.
//!
//! Two drawings share this module. [`ops_svg`] draws a few ops one by one
//! (an anomaly's ops, a linearizability counterexample, a small history)
//! with a tooltip per bar. [`overview_svg`] draws a whole history of any
//! length: past [`MAX_BARS`] ops it buckets time into columns and shades
//! each lane's cell by what completed there, so a 100 k-op history costs the
//! same few hundred kilobytes as a 2 k-op one.
//!
//! Conventions follow Jepsen's timeline: ok `#6DB6FE`, info `#FFAA26`, fail
//! `#FEB5DA`; an `info` op (its fate unknown) runs to the right edge. Every
//! string drawn or put in a tooltip goes through [`esc`].

use super::FaultWindow;
use checkers::{History, OpType, Process};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Above this many client ops the overview aggregates instead of drawing bars.
pub const MAX_BARS: usize = 1500;
/// Columns of the aggregated overview.
const COLUMNS: usize = 160;
/// Lanes of the aggregated overview; more processes fold onto these.
const MAX_LANES: usize = 64;

/// Height of one fault kind's label row.
const FAULT_ROW: f64 = 13.0;

const OK: &str = "#6DB6FE";
const INFO: &str = "#FFAA26";
const FAIL: &str = "#FEB5DA";

/// How an op ended, for colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Completed `ok`.
    Ok,
    /// Completed `fail`: it did not happen.
    Fail,
    /// `info` or never completed: it may or may not have happened.
    Info,
}

impl Outcome {
    fn of(kind: OpType) -> Outcome {
        match kind {
            OpType::Ok => Outcome::Ok,
            OpType::Fail => Outcome::Fail,
            _ => Outcome::Info,
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Outcome::Ok => OK,
            Outcome::Fail => FAIL,
            Outcome::Info => INFO,
        }
    }
}

/// One op drawn as a bar.
#[derive(Clone, Debug)]
pub struct Bar {
    /// Lane name, e.g. `p3`.
    pub lane: String,
    /// Invocation, seconds since the start.
    pub start: f64,
    /// Completion; `None` (pending) runs to the right edge.
    pub end: Option<f64>,
    /// How it ended.
    pub outcome: Outcome,
    /// Short text on the bar, e.g. `cas 0→1`.
    pub label: String,
    /// Tooltip: the whole op.
    pub title: String,
    /// Drawn with a heavy outline: the op an anomaly is about.
    pub highlight: bool,
}

/// Escapes text for SVG/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to `n` characters, marking the cut.
pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        s.to_string()
    }
}

/// The history's ops (with their completions) as bars, for [`ops_svg`].
pub fn bars_of(
    history: &History,
    pairs: &[checkers::history::Pair],
    highlight: &[usize],
) -> Vec<Bar> {
    pairs
        .iter()
        .map(|p| {
            let inv = &history.ops[p.invoke];
            let done = p.complete.map(|c| &history.ops[c]);
            let outcome = done.map_or(Outcome::Info, |d| Outcome::of(d.kind));
            let (key, arg, result) = split_key(&inv.value, done.map(|d| &d.value));
            let shown_value = match result {
                Some(r)
                    if done.is_some_and(|d| d.kind == OpType::Ok) && !r.is_null() && r != arg =>
                {
                    if arg.is_null() {
                        format!("→ {r}")
                    } else {
                        format!("{arg} → {r}")
                    }
                }
                _ if arg.is_null() => String::new(),
                _ => arg.to_string(),
            };
            let key = key.map(|k| format!(" key {k}")).unwrap_or_default();
            let label = format!("{} {}", inv.f, shown_value);
            let node = inv
                .node
                .as_deref()
                .map(|n| format!(" on {n}"))
                .unwrap_or_default();
            let error = done
                .and_then(|d| d.error.as_deref())
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            let title = format!(
                "#{} {} {}{key}{}: {} {}, {:.3}–{} s{}",
                inv.index.unwrap_or(p.invoke as u64),
                process_name(&inv.process),
                inv.f,
                node,
                done.map_or("pending".to_string(), |d| format!("{:?}", d.kind)
                    .to_lowercase()),
                cut(&shown_value, 200),
                secs(inv.time),
                done.map_or("?".to_string(), |d| format!("{:.3}", secs(d.time))),
                error,
            );
            Bar {
                lane: process_name(&inv.process),
                start: secs(inv.time),
                end: done
                    .filter(|d| d.kind != OpType::Info)
                    .map(|d| secs(d.time)),
                outcome,
                label: cut(&label, 40),
                title,
                highlight: highlight.contains(&p.invoke),
            }
        })
        .collect()
}

/// Splits Jepsen's independent `[key, value]` tuples: the key (when both
/// the argument and the result carry the same one), and the bare argument
/// and result. Other values come back whole.
fn split_key<'v>(
    arg: &'v serde_json::Value,
    result: Option<&'v serde_json::Value>,
) -> (
    Option<String>,
    &'v serde_json::Value,
    Option<&'v serde_json::Value>,
) {
    let pair = |v: &'v serde_json::Value| match v.as_array().map(Vec::as_slice) {
        Some([k, x]) if k.is_string() || k.is_number() => Some((k, x)),
        _ => None,
    };
    match (pair(arg), result.map(|r| (r, pair(r)))) {
        (Some((k, a)), Some((_, Some((k2, r))))) if k == k2 => (
            Some(k.to_string().trim_matches('"').to_string()),
            a,
            Some(r),
        ),
        (Some((k, a)), None) => (Some(k.to_string().trim_matches('"').to_string()), a, None),
        (Some((k, a)), Some((r, None))) if r.is_null() => (
            Some(k.to_string().trim_matches('"').to_string()),
            a,
            Some(r),
        ),
        _ => (None, arg, result),
    }
}

/// `p3` for client 3, `nemesis` for the nemesis.
pub fn process_name(p: &Process) -> String {
    match p {
        Process::Client(n) => format!("p{n}"),
        Process::Nemesis => "nemesis".to_string(),
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Geometry shared by both drawings: a time axis over `[t0, t1]` on the
/// right of a label column, fault bands behind.
struct Frame {
    width: f64,
    left: f64,
    t0: f64,
    t1: f64,
    /// When set, time is drawn in event order: these sorted instants are
    /// spread evenly across, times between them interpolated. Short ops far
    /// apart stay readable, and real-time order (what linearizability is
    /// about) is kept exactly.
    events: Option<Vec<f64>>,
}

impl Frame {
    fn x(&self, t: f64) -> f64 {
        let room = self.width - self.left - 8.0;
        if let Some(ev) = &self.events {
            let n = ev.len();
            if n >= 2 {
                // Slot i of n at (i + 1) / (n + 1) of the room.
                let slot = |i: f64| (i + 1.0) / (n as f64 + 1.0);
                let frac = match ev.partition_point(|&e| e < t) {
                    0 => slot(0.0) * (1.0 - ((ev[0] - t) / (ev[n - 1] - ev[0]).max(1e-9)).min(1.0)),
                    i if i >= n => {
                        let over = ((t - ev[n - 1]) / (ev[n - 1] - ev[0]).max(1e-9)).min(1.0);
                        slot((n - 1) as f64) + (1.0 - slot((n - 1) as f64)) * over
                    }
                    i => {
                        let (a, b) = (ev[i - 1], ev[i]);
                        let within = if b > a { (t - a) / (b - a) } else { 1.0 };
                        slot(i as f64 - 1.0 + within)
                    }
                };
                return self.left + frac * room;
            }
        }
        let span = (self.t1 - self.t0).max(1e-9);
        self.left + (t - self.t0).clamp(0.0, span) / span * room
    }

    /// The fault kinds visible in this frame, in a fixed order: one label
    /// row each above the lanes.
    fn fault_rows<'f>(&self, faults: &'f [FaultWindow]) -> Vec<&'f str> {
        let mut kinds: Vec<&str> = faults
            .iter()
            .filter(|w| w.end >= self.t0 && w.start <= self.t1)
            .map(|w| w.kind.as_str())
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    /// Fault bands over `[top, bottom]`, with a labelled bar per fault in
    /// its kind's row above `top` (rows of [`FAULT_ROW`] px, see
    /// [`Frame::fault_rows`]).
    fn faults(&self, svg: &mut String, faults: &[FaultWindow], top: f64, bottom: f64) {
        let rows = self.fault_rows(faults);
        let rows_top = top - rows.len() as f64 * FAULT_ROW - 2.0;
        for (r, kind) in rows.iter().enumerate() {
            let _ = write!(
                svg,
                r#"<text x="4" y="{:.1}" font-size="10" fill="{}">{}</text>"#,
                rows_top + r as f64 * FAULT_ROW + 10.0,
                super::plot::kind_hex(kind),
                esc(kind)
            );
        }
        for w in faults {
            if w.end < self.t0 || w.start > self.t1 {
                continue;
            }
            let row = rows.iter().position(|k| *k == w.kind).unwrap_or(0);
            let colour = super::plot::kind_hex(&w.kind);
            let (x0, x1) = (self.x(w.start), self.x(w.end));
            let width = (x1 - x0).max(1.0);
            let title = esc(&format!(
                "{} {:.2}–{:.2} s: {}",
                w.kind, w.start, w.end, w.label
            ));
            let y = rows_top + row as f64 * FAULT_ROW;
            let _ = write!(
                svg,
                r#"<g><title>{title}</title><rect x="{x0:.1}" y="{top:.1}" width="{width:.1}" height="{:.1}" fill="{colour}" fill-opacity="0.14"/><rect x="{x0:.1}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="{colour}" fill-opacity="0.35"/>"#,
                bottom - top,
                y + 1.0,
                FAULT_ROW - 2.0,
            );
            let room = ((width - 4.0) / 5.6).floor() as usize;
            if room >= 3 {
                let _ = write!(
                    svg,
                    r##"<text x="{:.1}" y="{:.1}" font-size="9.5" fill="#1d2330">{}</text>"##,
                    x0 + 2.0,
                    y + 10.0,
                    esc(&cut(&w.label, room)),
                );
            }
            svg.push_str("</g>");
        }
    }

    /// Ticks and seconds along the bottom.
    fn axis(&self, svg: &mut String, y: f64) {
        if let Some(ev) = &self.events {
            let _ = write!(
                svg,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#99a"/><text x="4" y="{:.1}" font-size="10" fill="#556">event order</text>"##,
                self.left,
                self.width - 8.0,
                y + 15.0
            );
            let every = ev.len().div_ceil(8).max(1);
            for t in ev.iter().step_by(every) {
                let x = self.x(*t);
                let _ = write!(
                    svg,
                    r##"<line x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{:.1}" stroke="#99a"/><text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#556">{t:.3} s</text>"##,
                    y + 4.0,
                    y + 15.0
                );
            }
            return;
        }
        let span = self.t1 - self.t0;
        let step = nice_step(span / 8.0);
        let mut t = (self.t0 / step).ceil() * step;
        let _ = write!(
            svg,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#99a"/>"##,
            self.left,
            self.width - 8.0
        );
        while t <= self.t1 + 1e-9 {
            if t.abs() < step * 1e-6 {
                t = 0.0; // no "-0 s"
            }
            let x = self.x(t);
            let digits = if step >= 1.0 {
                0
            } else if step >= 0.1 {
                1
            } else {
                3
            };
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{:.1}" stroke="#99a"/><text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#556">{t:.digits$} s</text>"##,
                y + 4.0,
                y + 15.0
            );
            t += step;
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

fn header(svg: &mut String, width: f64, height: f64, label: &str) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="img" aria-label="{}" font-family="system-ui, sans-serif">"#,
        esc(label)
    );
}

/// How [`ops_svg`] lays out time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Proportional to real time.
    Linear,
    /// In event order: every invocation and completion gets its own slot.
    Events,
}

/// Draws `bars` one by one, a lane per distinct lane name (in order of
/// first appearance), with the faults overlapping them shaded.
pub fn ops_svg(bars: &[Bar], faults: &[FaultWindow], scale: Scale, aria: &str) -> String {
    let mut lanes: Vec<&str> = Vec::new();
    for b in bars {
        if !lanes.contains(&b.lane.as_str()) {
            lanes.push(&b.lane);
        }
    }
    let t0 = bars.iter().map(|b| b.start).fold(f64::INFINITY, f64::min);
    let t1 = bars
        .iter()
        .map(|b| b.end.unwrap_or(b.start))
        .fold(f64::NEG_INFINITY, f64::max);
    let (t0, t1) = if t0.is_finite() { (t0, t1) } else { (0.0, 1.0) };
    // A little room either side, and room for pending ops to run on.
    let pad = ((t1 - t0) * 0.08).max(0.002);
    let events = (scale == Scale::Events).then(|| {
        let mut ev: Vec<f64> = bars
            .iter()
            .flat_map(|b| std::iter::once(b.start).chain(b.end))
            .collect();
        ev.sort_by(f64::total_cmp);
        ev.dedup();
        ev
    });
    let frame = Frame {
        width: 900.0,
        left: 84.0,
        t0: t0 - pad,
        t1: t1 + pad,
        events,
    };
    let lane_h = 24.0;
    let top = 8.0 + frame.fault_rows(faults).len() as f64 * FAULT_ROW;
    let height = top + lanes.len() as f64 * lane_h + 26.0;
    let mut svg = String::new();
    header(&mut svg, frame.width, height, aria);
    frame.faults(&mut svg, faults, top, top + lanes.len() as f64 * lane_h);
    for (i, lane) in lanes.iter().enumerate() {
        let y = top + i as f64 * lane_h;
        let _ = write!(
            svg,
            r##"<text x="4" y="{:.1}" font-size="12" fill="#334">{}</text><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eef"/>"##,
            y + 16.0,
            esc(lane),
            frame.left,
            y + lane_h,
            frame.width - 8.0,
            y + lane_h
        );
    }
    for b in bars {
        let lane = lanes.iter().position(|l| *l == b.lane).unwrap_or(0);
        let y = top + lane as f64 * lane_h + 3.0;
        let x0 = frame.x(b.start);
        // A label may run past its bar up to the next bar of the lane.
        let next = bars
            .iter()
            .filter(|o| o.lane == b.lane && o.start > b.start)
            .map(|o| frame.x(o.start))
            .fold(frame.width - 8.0, f64::min);
        let x1 = b
            .end
            .map_or(frame.width - 8.0, |e| frame.x(e))
            .max(x0 + 3.0);
        let stroke = if b.highlight {
            r##" stroke="#1d2330" stroke-width="2""##
        } else {
            r##" stroke="#7a8599" stroke-width="0.5""##
        };
        let _ = write!(
            svg,
            r#"<g><title>{}</title><rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" rx="3" fill="{}"{stroke}/>"#,
            esc(&b.title),
            x1 - x0,
            lane_h - 6.0,
            b.outcome.colour(),
        );
        // Text only where it fits (about 6 px a character).
        let room = ((next.max(x1) - x0 - 6.0) / 6.2).floor() as usize;
        if room >= 3 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#1d2330">{}</text>"##,
                x0 + 3.0,
                y + 13.0,
                esc(&cut(&b.label, room))
            );
        }
        svg.push_str("</g>");
    }
    frame.axis(&mut svg, top + lanes.len() as f64 * lane_h + 4.0);
    svg.push_str("</svg>");
    svg
}

/// What the overview drew, for its caption.
#[derive(Debug, PartialEq, Eq)]
pub enum OverviewMode {
    /// Every op as its own bar.
    Bars,
    /// Cells of `columns` time buckets; `folded` when processes share lanes
    /// (lane = process number modulo the lane count).
    Aggregated {
        /// Time buckets across.
        columns: usize,
        /// Lanes drawn.
        lanes: usize,
        /// Whether several processes share a lane.
        folded: bool,
    },
}

/// The whole history as lanes: bars up to [`MAX_BARS`] client ops, else
/// aggregated cells (colour: the worst outcome completed in the cell, info
/// over fail over ok; opacity: how many ops).
pub fn overview_svg(view: &super::RunView) -> (String, OverviewMode) {
    let (history, faults) = (view.history, &view.windows[..]);
    let pairs: Vec<checkers::history::Pair> = view.client_pairs().copied().collect();
    if pairs.len() <= MAX_BARS {
        let mut bars = bars_of(history, &pairs, &[]);
        // Lanes in process order, not first appearance.
        bars.sort_by_key(|b| (lane_order(&b.lane), (b.start * 1e9) as u64));
        let mut svg = ops_svg(&bars, faults, Scale::Linear, "timeline of every operation");
        if bars.is_empty() {
            svg = String::new();
        }
        return (svg, OverviewMode::Bars);
    }
    let t1 = history.ops.last().map_or(1.0, |o| secs(o.time)).max(1e-3);
    let mut procs: Vec<u64> = pairs
        .iter()
        .filter_map(|p| match history.ops[p.invoke].process {
            Process::Client(n) => Some(n),
            Process::Nemesis => None,
        })
        .collect();
    procs.sort_unstable();
    procs.dedup();
    let folded = procs.len() > MAX_LANES;
    let lane_of = |n: u64| -> usize {
        if folded {
            (n % MAX_LANES as u64) as usize
        } else {
            procs.binary_search(&n).unwrap_or(0)
        }
    };
    let lanes = if folded { MAX_LANES } else { procs.len() };
    // (ok, fail, info) per lane and column, counted at completion (pending
    // ops at invocation).
    let mut cells: BTreeMap<(usize, usize), [u32; 3]> = BTreeMap::new();
    for p in &pairs {
        let inv = &history.ops[p.invoke];
        let Process::Client(n) = inv.process else {
            continue;
        };
        let (t, outcome) = match p.complete {
            Some(c) => (secs(history.ops[c].time), Outcome::of(history.ops[c].kind)),
            None => (secs(inv.time), Outcome::Info),
        };
        let col = ((t / t1) * COLUMNS as f64)
            .floor()
            .clamp(0.0, (COLUMNS - 1) as f64) as usize;
        let cell = cells.entry((lane_of(n), col)).or_default();
        cell[match outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        }] += 1;
    }
    let busiest = cells
        .values()
        .map(|c| c.iter().sum::<u32>())
        .max()
        .unwrap_or(1)
        .max(1);
    let frame = Frame {
        width: 900.0,
        left: 84.0,
        t0: 0.0,
        t1,
        events: None,
    };
    let lane_h = if lanes > 24 { 7.0 } else { 14.0 };
    let top = 8.0 + frame.fault_rows(faults).len() as f64 * FAULT_ROW;
    let height = top + lanes as f64 * lane_h + 26.0;
    let mut svg = String::new();
    header(
        &mut svg,
        frame.width,
        height,
        "timeline of the whole history, aggregated",
    );
    frame.faults(&mut svg, faults, top, top + lanes as f64 * lane_h);
    let label_every = if lane_h < 10.0 { 4 } else { 1 };
    for lane in (0..lanes).step_by(label_every) {
        let name = if folded {
            format!("p ≡ {lane}")
        } else {
            format!("p{}", procs[lane])
        };
        let _ = write!(
            svg,
            r##"<text x="4" y="{:.1}" font-size="10" fill="#334">{}</text>"##,
            top + lane as f64 * lane_h + lane_h - 1.0,
            esc(&name)
        );
    }
    let col_w = (frame.width - frame.left - 8.0) / COLUMNS as f64;
    for ((lane, col), [ok, fail, info]) in &cells {
        let total = ok + fail + info;
        let colour = if *info > 0 {
            INFO
        } else if *fail > 0 {
            FAIL
        } else {
            OK
        };
        let opacity = 0.35 + 0.65 * (total as f64 / busiest as f64);
        let t_from = *col as f64 / COLUMNS as f64 * t1;
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}" fill-opacity="{opacity:.2}"><title>{:.2}–{:.2} s: {ok} ok, {fail} fail, {info} info</title></rect>"#,
            frame.left + *col as f64 * col_w,
            top + *lane as f64 * lane_h + 0.5,
            col_w.max(0.5),
            lane_h - 1.0,
            t_from,
            t_from + t1 / COLUMNS as f64,
        );
    }
    frame.axis(&mut svg, top + lanes as f64 * lane_h + 4.0);
    svg.push_str("</svg>");
    (
        svg,
        OverviewMode::Aggregated {
            columns: COLUMNS,
            lanes,
            folded,
        },
    )
}

/// Sorts `p2` before `p10`, the nemesis last.
fn lane_order(lane: &str) -> u64 {
    lane.strip_prefix('p')
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            esc("<script>\"a\"&'b'</svg>\u{7}"),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/svg&gt;\u{FFFD}"
        );
    }

    #[test]
    fn event_order_keeps_real_time_order_and_spreads_events() {
        let f = Frame {
            width: 908.0,
            left: 0.0,
            t0: 0.0,
            t1: 100.0,
            events: Some(vec![0.0, 0.001, 50.0, 100.0]),
        };
        // Four events in five even slots of 900 px.
        assert!((f.x(0.0) - 180.0).abs() < 1e-6);
        assert!((f.x(0.001) - 360.0).abs() < 1e-6);
        assert!((f.x(50.0) - 540.0).abs() < 1e-6);
        assert!((f.x(100.0) - 720.0).abs() < 1e-6);
        // Between events: interpolated, order kept; outside: towards the edges.
        assert!(f.x(0.0005) > f.x(0.0) && f.x(0.0005) < f.x(0.001));
        assert!(f.x(-10.0) < f.x(0.0) && f.x(-10.0) >= 0.0);
        assert!(f.x(150.0) > f.x(100.0) && f.x(150.0) <= 900.0);
    }

    #[test]
    fn independent_keys_are_split_off_labels() {
        use serde_json::json;
        let (arg, res) = (json!(["r0", null]), json!(["r0", 1]));
        let (k, a, r) = split_key(&arg, Some(&res));
        assert_eq!(
            (k.as_deref(), a, r),
            (Some("r0"), &json!(null), Some(&json!(1)))
        );
        let arg = json!(["r0", 3]);
        let (k, a, _) = split_key(&arg, None);
        assert_eq!((k.as_deref(), a), (Some("r0"), &json!(3)));
        let (arg, res) = (json!(7), json!([1, 2]));
        let (k, a, r) = split_key(&arg, Some(&res));
        assert_eq!((k, a, r), (None, &arg, Some(&res)));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.2), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(30.0), 50.0);
        assert!((nice_step(0.013) - 0.02).abs() < 1e-12);
    }

    #[test]
    fn bars_escape_their_text() {
        let bars = vec![Bar {
            lane: "p<1>".into(),
            start: 0.0,
            end: None,
            outcome: Outcome::Info,
            label: "</svg><script>".into(),
            title: "<b>".into(),
            highlight: true,
        }];
        let svg = ops_svg(&bars, &[], Scale::Events, "x");
        assert!(!svg.contains("<script>") && !svg.contains("<b>") && !svg.contains("p<1>"));
        assert_eq!(svg.matches("</svg>").count(), 1);
    }
}
