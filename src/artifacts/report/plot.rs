//! The report's charts, as inline SVG drawn with plotters.
//!
//! Every chart shares the run's time axis (seconds since the start) and
//! shades the fault windows behind the data, one colour per fault kind with
//! a legend entry each, so a reader can line a latency spike up with the
//! partition that caused it. Colours for outcomes are Jepsen's (ok blue,
//! info orange, fail pink). Point clouds are thinned to a fixed budget:
//! plotters spends ~90 bytes per point, and the page must stay small at any
//! history length. plotters escapes the text it draws (labels come from the
//! history).

use super::FaultWindow;
use anyhow::{anyhow, Result};
use checkers::{History, OpType, Process};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Dots per latency panel at most.
const MAX_POINTS: usize = 4000;
/// Time buckets of the throughput and availability charts.
const BUCKETS: usize = 120;
/// Latency panels at most (one per `f`; the rest are merged into "other").
const MAX_PANELS: usize = 6;

const OK: RGBColor = RGBColor(0x6D, 0xB6, 0xFE);
const INFO: RGBColor = RGBColor(0xFF, 0xAA, 0x26);
const FAIL: RGBColor = RGBColor(0xFE, 0x5B, 0xAA);
const WIDTH: u32 = 960;

/// One dot of a latency panel: invoked at (s), latency (ms), outcome.
type Dot = (f64, f64, OpType);

/// The band colour of a fault kind (grey for partitions, as Jepsen does).
fn kind_colour(kind: &str) -> RGBColor {
    match kind {
        "partition" => RGBColor(0x60, 0x60, 0x60),
        "loss" => RGBColor(0x8E, 0x44, 0xAD),
        "clock" => RGBColor(0x27, 0xAE, 0x60),
        "kill" => RGBColor(0xC0, 0x39, 0x2B),
        "pause" => RGBColor(0x29, 0x80, 0xB9),
        "membership" => RGBColor(0xD3, 0x54, 0x00),
        "netem" => RGBColor(0x16, 0xA0, 0x85),
        "power" => RGBColor(0x2C, 0x3E, 0x50),
        "corrupt" => RGBColor(0xB0, 0x3A, 0x2E),
        "slow" => RGBColor(0xF3, 0x9C, 0x12),
        _ => RGBColor(0x80, 0x80, 0x80),
    }
}

/// The same colour as `#rrggbb`, for the hand-drawn lane diagrams.
pub fn kind_hex(kind: &str) -> String {
    let RGBColor(r, g, b) = kind_colour(kind);
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// A palette for per-node lines.
fn series_colour(i: usize) -> RGBColor {
    const P: [RGBColor; 8] = [
        RGBColor(0x1F, 0x77, 0xB4),
        RGBColor(0xD6, 0x27, 0x28),
        RGBColor(0x2C, 0xA0, 0x2C),
        RGBColor(0x94, 0x67, 0xBD),
        RGBColor(0xFF, 0x7F, 0x0E),
        RGBColor(0x8C, 0x56, 0x4B),
        RGBColor(0xE3, 0x77, 0xC2),
        RGBColor(0x17, 0xBE, 0xCF),
    ];
    P[i % P.len()]
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("plotting: {e}")
}

fn end_of(history: &History) -> f64 {
    history
        .ops
        .last()
        .map(|o| o.time as f64 / 1e9)
        .unwrap_or(1.0)
        .max(1.0)
}

/// Draws the fault bands (and their legend entries) onto a chart whose y
/// axis spans `[y0, y1]`.
macro_rules! shade_faults {
    ($chart:expr, $windows:expr, $y0:expr, $y1:expr) => {{
        let mut kinds: Vec<&str> = $windows.iter().map(|w| w.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            let shade = kind_colour(kind).mix(0.16);
            $chart
                .draw_series(
                    $windows
                        .iter()
                        .filter(|w| w.kind == kind)
                        .map(|w| Rectangle::new([(w.start, $y0), (w.end, $y1)], shade.filled())),
                )
                .map_err(err)?
                .label(kind.to_string())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], shade.filled())
                });
        }
    }};
}

fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)
}

/// A chart on the run's time axis (`x`, seconds) with a linear `y` axis,
/// its mesh drawn: the frame every chart but latency shares. A `caption`
/// titles one of several panels in a picture.
fn time_chart<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    y_desc: &str,
    caption: Option<&str>,
    y_label_width: u32,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(10)
        .x_label_area_size(34)
        .y_label_area_size(y_label_width);
    if let Some(c) = caption {
        builder.caption(c, ("sans-serif", 15));
    }
    let mut chart = builder.build_cartesian_2d(x, y).map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time since start (s)")
        .y_desc(y_desc)
        .light_line_style(WHITE)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// A chart on the run's time axis with a log-scale latency axis (ms, from
/// 0.01 to `y_max`), its mesh drawn: the latency panels' frame.
fn latency_chart<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    t_max: f64,
    y_max: f64,
    y_desc: &str,
) -> Result<
    ChartContext<
        'a,
        SVGBackend<'b>,
        Cartesian2d<RangedCoordf64, plotters::coord::combinators::LogCoord<f64>>,
    >,
> {
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(34)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..t_max, (0.01f64..y_max).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time since start (s)")
        .y_desc(y_desc)
        .y_label_formatter(&|v| format!("{v}"))
        .light_line_style(WHITE)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

fn canvas(svg: &mut String, height: u32) -> DrawingArea<SVGBackend<'_>, Shift> {
    SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area()
}

/// Latency over time, one panel per op function (`add`, `read`, ...): a dot
/// per completed client op at its invocation, height = latency (log scale),
/// coloured by outcome.
pub fn latency_panels(view: &super::RunView) -> Result<Vec<(String, String)>> {
    let (history, windows) = (view.history, &view.windows[..]);
    let mut by_f: BTreeMap<String, Vec<Dot>> = BTreeMap::new();
    for pair in view.client_pairs() {
        let inv = &history.ops[pair.invoke];
        if let Some(c) = pair.complete {
            let done = &history.ops[c];
            let lat_ms = (done.time.saturating_sub(inv.time)) as f64 / 1e6;
            by_f.entry(inv.f.clone()).or_default().push((
                inv.time as f64 / 1e9,
                lat_ms.max(0.01),
                done.kind,
            ));
        }
    }
    // The busiest functions get their own panels; the rest share one.
    let mut fs: Vec<(String, Vec<Dot>)> = by_f.into_iter().collect();
    fs.sort_by_key(|(_, pts)| std::cmp::Reverse(pts.len()));
    if fs.len() > MAX_PANELS {
        let rest: Vec<_> = fs.drain(MAX_PANELS - 1..).flat_map(|(_, p)| p).collect();
        fs.push(("other".to_string(), rest));
    }
    fs.sort_by(|a, b| a.0.cmp(&b.0));
    let t_max = end_of(history);
    fs.into_iter()
        .map(|(f, points)| Ok((f.clone(), latency_svg(&f, &points, t_max, windows)?)))
        .collect()
}

fn latency_svg(_f: &str, points: &[Dot], t_max: f64, windows: &[FaultWindow]) -> Result<String> {
    let stride = points.len().div_ceil(MAX_POINTS).max(1);
    let y_max = points.iter().map(|p| p.1).fold(10.0, f64::max) * 1.5;
    let mut svg = String::new();
    {
        let root = canvas(&mut svg, 260);
        root.fill(&WHITE).map_err(err)?;
        let mut chart = latency_chart(&root, t_max, y_max, "latency (ms)")?;
        shade_faults!(chart, windows, 0.01, y_max);
        for (kind, color, label) in [
            (OpType::Ok, OK, "ok"),
            (OpType::Info, INFO, "info"),
            (OpType::Fail, FAIL, "fail"),
        ] {
            let series: Vec<_> = points
                .iter()
                .filter(|p| p.2 == kind)
                .step_by(stride)
                .map(|p| Circle::new((p.0, p.1), 2, color.filled()))
                .collect();
            if series.is_empty() {
                continue;
            }
            chart
                .draw_series(series)
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
        }
        legend(&mut chart)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Median latency of the ok client ops each node served, per slice of the
/// run, one line per node (log scale): where one node is slow (a `slow`
/// fault, a gray failure) its line stands apart while the band is in force.
/// `None` when fewer than two nodes served ops (a history without nodes).
pub fn latency_by_node_svg(view: &super::RunView) -> Result<Option<String>> {
    let (history, windows) = (view.history, &view.windows[..]);
    let t_max = end_of(history);
    let width = t_max / BUCKETS as f64;
    let mut by_node: BTreeMap<&str, Vec<Vec<f64>>> = BTreeMap::new();
    for pair in view.client_pairs() {
        let Some(c) = pair.complete else { continue };
        let (inv, done) = (&history.ops[pair.invoke], &history.ops[c]);
        if done.kind != OpType::Ok {
            continue;
        }
        let Some(node) = done.node.as_deref().or(inv.node.as_deref()) else {
            continue;
        };
        let b = ((inv.time as f64 / 1e9) / width).floor() as usize;
        let lat_ms = (done.time.saturating_sub(inv.time) as f64 / 1e6).max(0.01);
        by_node
            .entry(node)
            .or_insert_with(|| vec![Vec::new(); BUCKETS])[b.min(BUCKETS - 1)]
        .push(lat_ms);
    }
    if by_node.len() < 2 {
        return Ok(None);
    }
    let lines: Vec<(&str, Vec<(f64, f64)>)> = by_node
        .into_iter()
        .map(|(node, mut buckets)| {
            let pts = buckets
                .iter_mut()
                .enumerate()
                .filter(|(_, l)| !l.is_empty())
                .map(|(i, l)| {
                    l.sort_by(f64::total_cmp);
                    ((i as f64 + 0.5) * width, l[(l.len() - 1) / 2])
                })
                .collect();
            (node, pts)
        })
        .collect();
    let y_max = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.1))
        .fold(10.0, f64::max)
        * 1.5;
    let mut svg = String::new();
    {
        let root = canvas(&mut svg, 260);
        root.fill(&WHITE).map_err(err)?;
        let mut chart = latency_chart(&root, t_max, y_max, "median latency (ms)")?;
        shade_faults!(chart, windows, 0.01, y_max);
        for (i, (node, pts)) in lines.into_iter().enumerate() {
            let colour = series_colour(i);
            chart
                .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
                .map_err(err)?
                .label(node.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2))
                });
        }
        legend(&mut chart)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// Throughput (completions per second by outcome) and availability (share
/// of completions that were `ok`) over time, in two stacked panels.
pub fn throughput_svg(history: &History, windows: &[FaultWindow]) -> Result<String> {
    let t_max = end_of(history);
    let width = t_max / BUCKETS as f64;
    let mut counts = vec![[0u32; 3]; BUCKETS];
    for op in history.ops.iter().filter(|o| o.process != Process::Nemesis) {
        let slot = match op.kind {
            OpType::Ok => 0,
            OpType::Fail => 1,
            OpType::Info => 2,
            OpType::Invoke => continue,
        };
        let b = ((op.time as f64 / 1e9) / width).floor() as usize;
        counts[b.min(BUCKETS - 1)][slot] += 1;
    }
    let rate = |slot: usize| -> Vec<(f64, f64)> {
        counts
            .iter()
            .enumerate()
            .map(|(i, c)| ((i as f64 + 0.5) * width, c[slot] as f64 / width))
            .collect()
    };
    let availability: Vec<(f64, f64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.iter().sum::<u32>() > 0)
        .map(|(i, c)| {
            (
                (i as f64 + 0.5) * width,
                100.0 * c[0] as f64 / c.iter().sum::<u32>() as f64,
            )
        })
        .collect();
    let y_max = counts
        .iter()
        .flat_map(|c| c.iter())
        .map(|&n| n as f64 / width)
        .fold(1.0, f64::max)
        * 1.2;
    let mut svg = String::new();
    {
        let root = canvas(&mut svg, 460);
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(250);
        {
            let mut chart = time_chart(
                &top,
                0f64..t_max,
                0f64..y_max,
                "completions / s",
                Some("throughput"),
                60,
            )?;
            shade_faults!(chart, windows, 0.0, y_max);
            for (slot, colour, label) in [(0, OK, "ok"), (2, INFO, "info"), (1, FAIL, "fail")] {
                let pts = rate(slot);
                if pts.iter().all(|p| p.1 == 0.0) {
                    continue;
                }
                chart
                    .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2))
                    });
            }
            legend(&mut chart)?;
        }
        {
            let mut chart = time_chart(
                &bottom,
                0f64..t_max,
                0f64..105f64,
                "ok share (%)",
                Some("availability"),
                60,
            )?;
            shade_faults!(chart, windows, 0.0, 105.0);
            chart
                .draw_series(LineSeries::new(
                    availability,
                    RGBColor(0x1F, 0x8A, 0x4C).stroke_width(2),
                ))
                .map_err(err)?
                .label("ok / all completions")
                .legend(|(x, y)| {
                    PathElement::new(
                        vec![(x, y), (x + 14, y)],
                        RGBColor(0x1F, 0x8A, 0x4C).stroke_width(2),
                    )
                });
            legend(&mut chart)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The most siblings a read returned, per second of the run, against the
/// most concurrent writers any read had (the bound DVV keeps to).
pub fn siblings_svg(
    max_per_second: &BTreeMap<u64, usize>,
    writers_max: f64,
    t_max: f64,
    windows: &[FaultWindow],
) -> Result<String> {
    let pts: Vec<(f64, f64)> = max_per_second
        .iter()
        .map(|(s, n)| (*s as f64 + 0.5, *n as f64))
        .collect();
    let y_max = pts.iter().map(|p| p.1).fold(writers_max, f64::max).max(2.0) * 1.2;
    let mut svg = String::new();
    {
        let root = canvas(&mut svg, 260);
        root.fill(&WHITE).map_err(err)?;
        let mut chart = time_chart(
            &root,
            0f64..t_max.max(1.0),
            0f64..y_max,
            "siblings",
            None,
            60,
        )?;
        shade_faults!(chart, windows, 0.0, y_max);
        let red = RGBColor(0xC0, 0x39, 0x2B);
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, writers_max), (t_max.max(1.0), writers_max)],
                red.stroke_width(1),
            ))
            .map_err(err)?
            .label("most concurrent writers of a read")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], red));
        chart
            .draw_series(LineSeries::new(pts.clone(), OK.stroke_width(2)))
            .map_err(err)?
            .label("most siblings in a read, per second")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], OK.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 2, OK.filled())))
            .map_err(err)?;
        legend(&mut chart)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Each node's wall-clock offset as the clock nemesis set it (steps).
pub fn clock_svg(
    offsets: &BTreeMap<String, Vec<(f64, f64)>>,
    t_max: f64,
    windows: &[FaultWindow],
) -> Result<String> {
    let extreme = offsets
        .values()
        .flatten()
        .map(|p| p.1.abs())
        .fold(100.0, f64::max)
        * 1.2;
    let mut svg = String::new();
    {
        let root = canvas(&mut svg, 260);
        root.fill(&WHITE).map_err(err)?;
        let mut chart = time_chart(
            &root,
            0f64..t_max,
            -extreme..extreme,
            "offset (ms)",
            None,
            70,
        )?;
        shade_faults!(chart, windows, -extreme, extreme);
        for (i, (node, steps)) in offsets.iter().enumerate() {
            // A step line: hold each offset until the next change.
            let mut pts = Vec::new();
            for (j, &(t, ms)) in steps.iter().enumerate() {
                if j > 0 {
                    pts.push((t, steps[j - 1].1));
                }
                pts.push((t, ms));
            }
            pts.push((t_max, steps.last().map_or(0.0, |s| s.1)));
            let colour = series_colour(i);
            chart
                .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
                .map_err(err)?
                .label(node.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2))
                });
        }
        legend(&mut chart)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// How convergence went after the last heal, on an axis of milliseconds
/// since the heal: the share of keys whose replicas agreed for good (the
/// time to converge), and the share of replicas holding their key's final
/// value (each replica's lag), both step curves from the convergence
/// checker's percentiles. `first_read_ms` marks the first local read: no
/// time below it can be seen.
pub fn convergence_svg(keys_ms: &[f64], replicas_ms: &[f64], first_read_ms: f64) -> Result<String> {
    /// (ms, share %) steps of a percentile curve.
    fn steps(curve: &[f64]) -> Vec<(f64, f64)> {
        let share = |i: usize| {
            if curve.len() == 1 {
                100.0
            } else {
                100.0 * i as f64 / (curve.len() - 1) as f64
            }
        };
        let mut out = vec![(0.0, 0.0)];
        for (i, &ms) in curve.iter().enumerate() {
            out.push((ms, if i == 0 { 0.0 } else { share(i - 1) }));
            out.push((ms, share(i)));
        }
        out
    }
    let last = keys_ms
        .iter()
        .chain(replicas_ms)
        .copied()
        .fold(first_read_ms, f64::max);
    let x_max = (last * 1.1).max(1.0);
    let mut svg = String::new();
    {
        let root = canvas(&mut svg, 260);
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..105f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time since the last heal (ms)")
            .y_desc("agreed (%)")
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        let grey = RGBColor(0x99, 0x99, 0x99);
        chart
            .draw_series(LineSeries::new(
                vec![(first_read_ms, 0.0), (first_read_ms, 105.0)],
                grey.stroke_width(1),
            ))
            .map_err(err)?
            .label("first local read")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], grey));
        let lag = RGBColor(0x4C, 0x72, 0xB0);
        if !replicas_ms.is_empty() {
            chart
                .draw_series(LineSeries::new(steps(replicas_ms), lag.stroke_width(1)))
                .map_err(err)?
                .label("replicas holding the final value")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], lag));
        }
        chart
            .draw_series(LineSeries::new(steps(keys_ms), OK.stroke_width(2)))
            .map_err(err)?
            .label("keys whose replicas agreed")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], OK.stroke_width(2)));
        legend(&mut chart)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}
