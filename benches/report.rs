//! How long `report.html` takes to draw, and how big it gets, as histories
//! grow: synthetic `set` histories of 1 k to 1 M ops (see
//! `faultline::artifacts::report::synthetic`), each checked by the `set` workload's
//! checkers and then rendered.
//!
//! There is no peer to run beside (Jepsen draws its timeline and plots in
//! Clojure with gnuplot, not runnable here), so the figure that matters is
//! relative: drawing the report against checking the same history, side by
//! side, plus the page's size, which must stay bounded (under 5 MB) however
//! long the history.
//!
//! Run with `cargo bench -p faultline --bench report`; `BENCH_OPS` sets the
//! sizes (comma-separated, default `1000,10000,100000,1000000`).

use faultline::artifacts::report;
use faultline::artifacts::results::Results;
use std::time::Instant;

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_OPS")
        .unwrap_or_else(|_| "1000,10000,100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let cfg = report::synthetic::config();
    println!(
        "{:>9}  {:>10}  {:>10}  {:>12}  {:>10}  {:>9}",
        "ops", "check", "render", "render/check", "page", "bytes/op"
    );
    for n in sizes {
        let history = report::synthetic::set_history(n, 1);
        let t = Instant::now();
        let checks = workloads::check("set", &history).expect("set workload");
        let check = t.elapsed();
        let results = Results::from_checks(checks, history.ops.len() as u64);
        // Best of three renders.
        let mut render = std::time::Duration::MAX;
        let mut size = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let html = report::render(&cfg, &history, &results, &[]).expect("render");
            render = render.min(t.elapsed());
            size = html.len();
        }
        println!(
            "{:>9}  {:>8.1} ms  {:>8.1} ms  {:>11.2}×  {:>7.2} MB  {:>9.1}",
            history.ops.len(),
            check.as_secs_f64() * 1e3,
            render.as_secs_f64() * 1e3,
            render.as_secs_f64() / check.as_secs_f64(),
            size as f64 / 1e6,
            size as f64 / history.ops.len() as f64
        );
        assert!(size < 5_000_000, "the page must stay under 5 MB");
    }
}
