//! Benchmark of the linearizability checker on the Porcupine corpus.
//!
//! Run with `cargo bench -p checkers --bench linear`. In one process, for
//! every file of `tests/data/porcupine/expected.tsv` (skips excluded),
//! parses and checks the file, asserts the expected verdict, and prints
//! faultline's times (best of several runs): parsing alone; parse + verdict
//! (`Options.counterexample = false`, what Porcupine's check time measures:
//! its check, without visualization); and parse + check with the
//! counterexample shrunk (the default) — beside Porcupine's check time and
//! the two ratios. Then times the kv c10 files checked without splitting by
//! key. `LINEAR_BENCH_ONLY=<substring>` restricts it to matching files,
//! `LINEAR_BENCH_RUNS=<n>` sets the runs per file.

use checkers::linear::{self, Model, Options};
use checkers::{parse, Validity};
use std::time::{Duration, Instant};

/// Runs per file (best taken); `LINEAR_BENCH_RUNS` overrides.
const RUNS: usize = 20;

fn main() {
    let runs: usize = std::env::var("LINEAR_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(RUNS);
    // For profiling the verdict-only path: `LINEAR_BENCH_SKIP_FULL=1` (also
    // skips the unsplit c10 runs).
    let skip_full = std::env::var_os("LINEAR_BENCH_SKIP_FULL").is_some();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/porcupine");
    let tsv = std::fs::read_to_string(format!("{dir}/expected.tsv")).unwrap_or_else(|e| {
        panic!("cannot read {dir}/expected.tsv ({e}); the corpus is vendored in the repository")
    });
    let mut rows = Vec::new();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 || f[3] == "skip" {
            continue;
        }
        if let Ok(only) = std::env::var("LINEAR_BENCH_ONLY") {
            if !f[0].contains(only.as_str()) {
                continue;
            }
        }
        let text = std::fs::read_to_string(format!("{dir}/{}", f[0])).expect("reading corpus file");
        let model = if f[1] == "etcd-log" {
            Model::Register
        } else {
            Model::Kv
        };
        let expected = if f[3] == "valid" {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        let porcupine_us: f64 = f[4].parse().expect("porcupine_check_us");
        rows.push((f[0].to_string(), text, model, expected, porcupine_us));
    }
    println!(
        "{:<22} {:>8} {:>9} {:>9} {:>11} {:>11} {:>13} {:>7} {:>7}",
        "file",
        "verdict",
        "steps",
        "parse_us",
        "verdict_us",
        "full_us",
        "porcupine_us",
        "ratio",
        "ratio_f"
    );
    let verdict_only = Options {
        counterexample: false,
        ..Options::default()
    };
    let wall = Instant::now();
    let (mut sum_verdict, mut sum_full, mut sum_porc) = (0.0, 0.0, 0.0);
    let mut worst: Vec<(f64, f64, String)> = Vec::new();
    for (name, text, model, expected, porc) in &rows {
        let mut best_parse = Duration::MAX;
        let mut best_verdict = Duration::MAX;
        let mut best_full = Duration::MAX;
        let mut steps = 0;
        for _ in 0..runs {
            let t0 = Instant::now();
            let h = parse::auto(text).expect("corpus file parses");
            let t1 = Instant::now();
            let r = linear::check_with(&h, *model, &verdict_only);
            let t2 = Instant::now();
            assert_eq!(r.valid, *expected, "{name}: {}", r.summary);
            best_parse = best_parse.min(t1 - t0);
            best_verdict = best_verdict.min(t2 - t0);
            steps = r.details["search_steps"].as_u64().unwrap_or(0);
            if skip_full {
                best_full = best_verdict;
                continue;
            }
            let t0 = Instant::now();
            let h = parse::auto(text).expect("corpus file parses");
            let r = linear::check(&h, *model);
            let t2 = Instant::now();
            assert_eq!(r.valid, *expected, "{name}: {}", r.summary);
            best_full = best_full.min(t2 - t0);
        }
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let (parse_us, verdict, full) = (us(best_parse), us(best_verdict), us(best_full));
        sum_verdict += verdict;
        sum_full += full;
        sum_porc += porc;
        worst.push((verdict / porc, full / porc, name.clone()));
        println!(
            "{:<22} {:>8} {:>9} {:>9.1} {:>11.1} {:>11.1} {:>13.1} {:>7.3} {:>7.3}",
            name,
            expected.word(),
            steps,
            parse_us,
            verdict,
            full,
            porc,
            verdict / porc,
            full / porc
        );
    }
    let wall = wall.elapsed();
    println!(
        "TOTAL ({} files)                            {:>11.1} {:>11.1} {:>13.1} {:>7.3} {:>7.3}   (sums of best-of-{runs}, parsing included; whole loop wall {:.1} ms)",
        rows.len(),
        sum_verdict,
        sum_full,
        sum_porc,
        sum_verdict / sum_porc,
        sum_full / sum_porc,
        wall.as_secs_f64() * 1e3
    );
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("worst ratios, verdict only (parse + verdict / porcupine check):");
    for (r, _, n) in worst.iter().take(8) {
        println!("  {n:<22} {r:.3}");
    }
    println!(
        "files slower than porcupine (verdict only): {}",
        worst.iter().filter(|w| w.0 > 1.0).count()
    );
    worst.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("worst ratios with counterexample (parse + check / porcupine check):");
    for (_, r, n) in worst.iter().take(5) {
        println!("  {n:<22} {r:.3}");
    }
    // One cold pass, as `faultline check` would do it.
    let t = Instant::now();
    for (_, text, model, _, _) in &rows {
        let h = parse::auto(text).expect("parses");
        std::hint::black_box(linear::check(&h, *model));
    }
    println!(
        "one cold pass over the corpus: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    if skip_full {
        return;
    }
    println!(
        "\nkv c10 without splitting by key, best of 3 (Porcupine: c10-ok 2.6 s, c10-bad 3.3 s):"
    );
    for name in ["kv/c10-ok.txt", "kv/c10-bad.txt"] {
        let Some((_, text, _, expected, _)) = rows.iter().find(|r| r.0 == name) else {
            continue;
        };
        let h = parse::auto(text).expect("parses");
        let mut line = format!("  {name:<16}");
        for (what, counterexample) in [("verdict", false), ("with counterexample", true)] {
            let unsplit = Options {
                split_by_key: false,
                counterexample,
                ..Options::default()
            };
            let mut best = Duration::MAX;
            let mut r = None;
            for _ in 0..3 {
                let t = Instant::now();
                let res = linear::check_with(&h, Model::Kv, &unsplit);
                best = best.min(t.elapsed());
                assert_eq!(res.valid, *expected, "{name} unsplit: {}", res.summary);
                r = Some(res);
            }
            let r = r.expect("ran");
            line += &format!(
                "  {what} {:>7.1} ms ({} steps{})",
                best.as_secs_f64() * 1e3,
                r.details["search_steps"],
                match r.details["violation"]["counterexample"]["ops"].as_array() {
                    Some(ops) => format!(
                        ", counterexample of {} ops{}",
                        ops.len(),
                        if r.details["violation"]["counterexample"]["minimal"] == true {
                            ", minimal"
                        } else {
                            ", not fully shrunk"
                        }
                    ),
                    None => String::new(),
                }
            );
        }
        println!("{line}");
    }
}
