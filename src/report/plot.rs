//! The latency-over-time plot, as inline SVG.
//!
//! One dot per completed client op at its invocation time, height = latency
//! (log scale), coloured by outcome with Jepsen's palette (ok blue, info
//! orange, fail pink); fault windows shaded in one colour per kind. Large histories are thinned
//! to a fixed number of dots so the page stays small (plotters spends ~90
//! bytes per dot).

use super::FaultWindow;
use anyhow::{anyhow, Result};
use checkers::{History, OpType, Process};
use plotters::prelude::*;

const MAX_POINTS: usize = 6000;
const OK: RGBColor = RGBColor(0x6D, 0xB6, 0xFE);
const INFO: RGBColor = RGBColor(0xFF, 0xAA, 0x26);
const FAIL: RGBColor = RGBColor(0xFE, 0x5B, 0xAA);

/// The band colour of a fault kind (grey for partitions, as Jepsen does).
fn kind_colour(kind: &str) -> RGBColor {
    match kind {
        "partition" => RGBColor(0x60, 0x60, 0x60),
        "loss" => RGBColor(0x8E, 0x44, 0xAD),
        "clock" => RGBColor(0x27, 0xAE, 0x60),
        "kill" => RGBColor(0xC0, 0x39, 0x2B),
        "pause" => RGBColor(0x29, 0x80, 0xB9),
        _ => RGBColor(0x80, 0x80, 0x80),
    }
}

/// Renders latency over time with fault windows shaded.
pub fn latency_svg(history: &History, windows: &[FaultWindow]) -> Result<String> {
    let mut points: Vec<(f64, f64, OpType)> = Vec::new();
    for pair in history.pairs() {
        let inv = &history.ops[pair.invoke];
        if inv.process == Process::Nemesis {
            continue;
        }
        if let Some(c) = pair.complete {
            let done = &history.ops[c];
            let lat_ms = (done.time.saturating_sub(inv.time)) as f64 / 1e6;
            points.push((inv.time as f64 / 1e9, lat_ms.max(0.01), done.kind));
        }
    }
    let stride = points.len().div_ceil(MAX_POINTS).max(1);
    let t_max = history
        .ops
        .last()
        .map(|o| o.time as f64 / 1e9)
        .unwrap_or(1.0)
        .max(1.0);
    let y_max = points.iter().map(|p| p.1).fold(10.0, f64::max) * 1.5;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 340)).into_drawing_area();
        let e = |e: &dyn std::fmt::Display| anyhow!("plotting latency: {e}");
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..t_max, (0.01f64..y_max).log_scale())
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("latency (ms)")
            .light_line_style(WHITE)
            .draw()
            .map_err(|x| e(&x))?;
        let mut kinds: Vec<&str> = windows.iter().map(|w| w.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            let shade = kind_colour(kind).mix(0.16);
            chart
                .draw_series(
                    windows
                        .iter()
                        .filter(|w| w.kind == kind)
                        .map(|w| Rectangle::new([(w.start, 0.01), (w.end, y_max)], shade.filled())),
                )
                .map_err(|x| e(&x))?
                .label(kind.to_string())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], shade.filled())
                });
        }
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
                .map_err(|x| e(&x))?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    Ok(svg)
}
