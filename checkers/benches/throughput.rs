//! Throughput and memory of the streaming checkers on 1 M-op histories.
//!
//! For each history shape (set-full, counter, convergence) this writes a
//! 1 M-op JSONL history to a temporary file, then measures, each phase in a
//! fresh process (so that phases do not inherit each other's heap):
//!
//! - **stream**: reading the file in 1 MiB chunks and feeding them to a
//!   [`checkers::stream::Stream`] whose checker runs in the reading thread
//!   ([`Stream::new`]): parse + check, end to end;
//! - **stream 2 threads**: the same with the checker in a thread of its own
//!   ([`Stream::threaded`]), reading and checking overlapping;
//! - **history parse** / **history check**: `parse::jsonl` of the whole
//!   text into a `History`, then the checker's `check(&History)` alone;
//!
//! printing ops/s (wall clock), the CPU time the phase used (all threads),
//! and the peak RSS (`VmHWM`) beside the file size. The stream phases run
//! `BENCH_RUNS` times (default 5); their best and median are printed too,
//! and the load average before and after, since the machine may be shared.
//! Every run's verdict must equal `check`'s.
//!
//! Run with `cargo bench -p checkers --bench throughput`; `BENCH_OPS` sets
//! the number of ops (default 1 000 000), `BENCH_DIR` keeps the histories
//! in that directory.

use std::fs::File;
use std::io::{Read, Write};
use std::time::Instant;

use checkers::convergence::{self, Convergence};
use checkers::counter::{self, Counter, CounterOps};
use checkers::set_full::{self, SetFull, SetFullOptions};
use checkers::stream::{OnlineChecker, Stream};
use checkers::{parse, CheckResult, History, Validity};

fn status(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// CPU seconds this process used so far, every thread (ended ones too).
fn cpu_secs() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

/// A keyed set-full history: per key 20 adds and a read after every 5,
/// returning every element acknowledged so far; process ids rotate.
fn set_full_history(ops: usize, out: &mut impl Write) -> usize {
    let per_key = 50;
    let mut n = 0;
    let mut t = 0u64;
    let mut key = 0;
    while n + per_key <= ops {
        let mut acked: Vec<u64> = Vec::new();
        for i in 0..20u64 {
            let p = (key * 7 + i) % 16;
            let e = key * 100 + i;
            t += 1_000;
            writeln!(
                out,
                r#"{{"type":"invoke","process":{p},"f":"add","value":["k{key}",{e}],"time":{t}}}"#
            )
            .unwrap();
            t += 1_000;
            writeln!(
                out,
                r#"{{"type":"ok","process":{p},"f":"add","value":["k{key}",{e}],"time":{t}}}"#
            )
            .unwrap();
            acked.push(e);
            if i % 5 == 4 {
                let list = acked
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                t += 1_000;
                writeln!(out, r#"{{"type":"invoke","process":16,"f":"read","value":["k{key}",null],"time":{t}}}"#).unwrap();
                t += 1_000;
                writeln!(out, r#"{{"type":"ok","process":16,"f":"read","value":["k{key}",[{list}]],"time":{t}}}"#).unwrap();
            }
        }
        n += per_key;
        key += 1;
    }
    n
}

/// A counter history: adds of deltas in -3..=5 and a read after every
/// third add, returning the exact sum.
fn counter_history(ops: usize, out: &mut impl Write) -> usize {
    let mut sum = 0i64;
    let mut n = 0;
    let mut t = 0u64;
    let mut i = 0i64;
    while n + 4 <= ops {
        let p = i % 16;
        let d = (i * 7919) % 9 - 3;
        t += 1_000;
        writeln!(
            out,
            r#"{{"type":"invoke","process":{p},"f":"add","value":{d},"time":{t}}}"#
        )
        .unwrap();
        t += 1_000;
        writeln!(
            out,
            r#"{{"type":"ok","process":{p},"f":"add","value":{d},"time":{t}}}"#
        )
        .unwrap();
        sum += d;
        n += 2;
        if i % 3 == 2 {
            t += 1_000;
            writeln!(
                out,
                r#"{{"type":"invoke","process":16,"f":"read","value":null,"time":{t}}}"#
            )
            .unwrap();
            t += 1_000;
            writeln!(
                out,
                r#"{{"type":"ok","process":16,"f":"read","value":{sum},"time":{t}}}"#
            )
            .unwrap();
            n += 2;
        }
        i += 1;
    }
    n
}

/// A convergence history: a heal, then two rounds of local reads of every
/// key on 3 replicas; replicas disagree in round 1 on every 10th key.
fn convergence_history(ops: usize, out: &mut impl Write) -> usize {
    writeln!(
        out,
        r#"{{"type":"info","process":"nemesis","f":"stop-partition","value":null,"time":0}}"#
    )
    .unwrap();
    let keys = (ops - 1) / 12;
    let mut t = 0u64;
    for round in 0..2 {
        for k in 0..keys {
            for (p, node) in ["n1", "n2", "n3"].iter().enumerate() {
                let v = if round == 0 && k % 10 == 0 && p == 2 {
                    k + 1
                } else {
                    k
                };
                t += 1_000;
                writeln!(out, r#"{{"type":"invoke","process":{p},"f":"read-local","value":["k{k}",null],"time":{t},"node":"{node}"}}"#).unwrap();
                t += 1_000;
                writeln!(out, r#"{{"type":"ok","process":{p},"f":"read-local","value":["k{k}",{v}],"time":{t},"node":"{node}"}}"#).unwrap();
            }
        }
    }
    1 + keys * 12
}

struct Shape {
    name: &'static str,
    generate: fn(usize, &mut dyn Write) -> usize,
    online: fn() -> Box<dyn OnlineChecker + Send>,
    check: fn(&History) -> CheckResult,
}

/// One measured phase, as printed by a child and read by the parent.
struct Run {
    ops_per_sec: f64,
    cpu: f64,
    peak: u64,
}

fn report(phase: &str, ops: usize, secs: f64, cpu: f64, peak: u64, file: u64) -> Run {
    println!(
        "  {phase:<18} {:>6.2} M ops/s  ({:.3} s, CPU {:.3} s)  peak RSS {} ({:.2}× the file)",
        ops as f64 / secs / 1e6,
        secs,
        cpu,
        mib(peak),
        peak as f64 / file as f64
    );
    Run {
        ops_per_sec: ops as f64 / secs,
        cpu,
        peak,
    }
}

fn shapes() -> [Shape; 3] {
    [
        Shape {
            name: "set-full",
            generate: |n, w| set_full_history(n, &mut WriteRef(w)),
            online: || Box::new(SetFull::new(SetFullOptions::default())),
            check: |h| set_full::check(h, SetFullOptions::default()),
        },
        Shape {
            name: "counter",
            generate: |n, w| counter_history(n, &mut WriteRef(w)),
            online: || Box::new(Counter::new(CounterOps::COUNTER, "counter")),
            check: counter::check,
        },
        Shape {
            name: "convergence",
            generate: |n, w| convergence_history(n, &mut WriteRef(w)),
            online: || Box::new(Convergence::new()),
            check: convergence::check,
        },
    ]
}

/// Runs one phase in this (fresh) process and prints its line; the verdict
/// goes to stdout as JSON on the last line for the parent to compare.
fn child(shape: &Shape, phase: &str, path: &str, ops: usize, size: u64) {
    let result = if phase.starts_with("stream") {
        let cpu0 = cpu_secs();
        let start = Instant::now();
        let mut s = if phase == "stream" {
            let c: Box<dyn OnlineChecker> = (shape.online)();
            Stream::new(vec![c])
        } else {
            Stream::threaded(vec![(shape.online)()])
        };
        // Read in 1 MiB chunks, each fed as it is (the stream splits lines
        // and reads them in place).
        let mut file = File::open(path).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            s.feed_bytes(&buf[..n]).expect("valid lines");
        }
        s.end_input().expect("valid last line");
        // Every line of these shapes is read in place (`OpView`), so the
        // verdict comparison covers that path.
        assert_eq!(s.parsed_count(), 0, "lines parsed into Op");
        let r = s.finish().remove(0);
        let name = if phase == "stream" {
            "stream"
        } else {
            "stream 2 threads"
        };
        report(
            name,
            ops,
            start.elapsed().as_secs_f64(),
            cpu_secs() - cpu0,
            status("VmHWM:"),
            size,
        );
        r
    } else {
        let text = std::fs::read_to_string(path).unwrap();
        let cpu0 = cpu_secs();
        let start = Instant::now();
        let history = parse::jsonl(&text).expect("valid history");
        let parse_secs = start.elapsed().as_secs_f64();
        let cpu1 = cpu_secs();
        let start = Instant::now();
        let r = (shape.check)(&history);
        let check_secs = start.elapsed().as_secs_f64();
        let peak = status("VmHWM:");
        report("history parse", ops, parse_secs, cpu1 - cpu0, peak, size);
        report(
            "history check",
            ops,
            check_secs,
            cpu_secs() - cpu1,
            peak,
            size,
        );
        r
    };
    println!("{}", serde_json::to_string(&result).unwrap());
}

/// Runs a phase in a child process: its printed lines, and its verdict.
fn run_child(
    shape: &Shape,
    phase: &str,
    ops: usize,
    size: u64,
    path: &std::path::Path,
) -> (Vec<String>, CheckResult) {
    let me = std::env::current_exe().expect("own path");
    let out = std::process::Command::new(me)
        .env(
            "FAULTLINE_BENCH_CHILD",
            format!("{}|{phase}|{ops}|{size}|{}", shape.name, path.display()),
        )
        .output()
        .expect("child runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    let verdict = lines.pop().unwrap_or_default();
    (lines, serde_json::from_str(&verdict).expect("verdict"))
}

/// Reads back a child's report line.
fn parse_run(line: &str) -> Option<Run> {
    let ops = line.split("M ops/s").next()?.split_whitespace().last()?;
    let cpu = line.split("CPU ").nth(1)?.split(' ').next()?;
    let peak = line.split("peak RSS ").nth(1)?.split(' ').next()?;
    Some(Run {
        ops_per_sec: ops.parse::<f64>().ok()? * 1e6,
        cpu: cpu.parse().ok()?,
        peak: (peak.parse::<f64>().ok()? * 1024.0 * 1024.0) as u64,
    })
}

fn main() {
    let target: usize = std::env::var("BENCH_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    if let Ok(spec) = std::env::var("FAULTLINE_BENCH_CHILD") {
        let parts: Vec<&str> = spec.splitn(5, '|').collect();
        let shape = shapes().into_iter().find(|s| s.name == parts[0]).unwrap();
        child(
            &shape,
            parts[1],
            parts[4],
            parts[2].parse().unwrap(),
            parts[3].parse().unwrap(),
        );
        return;
    }
    let only: Vec<String> = std::env::var("BENCH_SHAPES")
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let keep = std::env::var_os("BENCH_DIR");
    let dir = keep
        .clone()
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    println!(
        "{} CPUs; load average {} (1, 5, 15 min); {runs} runs of each stream phase",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    let mut summary = Vec::new();
    for shape in shapes()
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| o == s.name))
    {
        let path = dir.join(format!(
            "faultline-bench-{}-{}.jsonl",
            shape.name,
            std::process::id()
        ));
        let ops = {
            let mut f = std::io::BufWriter::new(File::create(&path).expect("temp file"));
            let n = (shape.generate)(target, &mut f);
            f.flush().unwrap();
            n
        };
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(1);
        println!("{}: {} ops, history file {}", shape.name, ops, mib(size));
        let (lines, reference) = run_child(shape, "history", ops, size, &path);
        for l in &lines {
            println!("{l}");
        }
        for phase in ["stream", "stream2"] {
            let mut got = Vec::new();
            for _ in 0..runs {
                let (lines, verdict) = run_child(shape, phase, ops, size, &path);
                for l in &lines {
                    println!("{l}");
                    got.extend(parse_run(l));
                }
                assert_eq!(verdict, reference, "streaming and History verdicts differ");
            }
            got.sort_by(|a, b| b.ops_per_sec.total_cmp(&a.ops_per_sec));
            if let (Some(best), Some(median)) = (got.first(), got.get(got.len() / 2)) {
                let peak = got.iter().map(|r| r.peak).max().unwrap_or(0);
                let cpu = median.cpu;
                let line = format!(
                    "{:<12} {:<17} best {:>5.2}, median {:>5.2} M ops/s; median CPU {:.3} s ({:.2} M ops per CPU-second); peak RSS {} = {:.2}× the file",
                    shape.name,
                    if phase == "stream" { "1 thread" } else { "2 threads" },
                    best.ops_per_sec / 1e6,
                    median.ops_per_sec / 1e6,
                    cpu,
                    ops as f64 / cpu / 1e6,
                    mib(peak),
                    peak as f64 / size as f64
                );
                summary.push(line);
            }
        }
        // Every generated history is correct (convergence: round 2 agrees).
        assert_eq!(reference.valid, Validity::Valid, "{}", reference.summary);
        println!(
            "  verdict: {} — {}",
            reference.valid.word(),
            reference.summary
        );
        if keep.is_none() {
            let _ = std::fs::remove_file(&path);
        }
    }
    println!("summary (load average now {}):", loadavg());
    for l in summary {
        println!("  {l}");
    }
}

/// Adapts `&mut dyn Write` to `impl Write`.
struct WriteRef<'a>(&'a mut dyn Write);

impl Write for WriteRef<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
