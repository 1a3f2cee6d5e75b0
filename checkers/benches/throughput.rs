//! Throughput and memory of the checkers on 1 M-op histories.
//!
//! For each history shape (set-full, counter, convergence) this writes a
//! 1 M-op JSONL history to a temporary file, then measures:
//!
//! - **stream**: reading the file line by line and feeding the online
//!   checker ([`checkers::stream::Stream`]): parse + check, constant memory;
//! - **history parse**: `parse::jsonl` of the whole text into a `History`;
//! - **history check**: the checker's `check(&History)` alone;
//!
//! printing ops/s, the peak RSS of each phase (`VmHWM` of a fresh child
//! process per phase, so phases do not inherit each other's heap) and the
//! file size.
//!
//! Run with `cargo bench -p checkers --bench throughput`; `BENCH_OPS` sets
//! the number of ops (default 1 000 000).

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
    online: fn() -> Box<dyn OnlineChecker>,
    check: fn(&History) -> CheckResult,
}

fn report(phase: &str, ops: usize, secs: f64, peak: u64, base: u64, file: u64) {
    println!(
        "  {phase:<15} {:>6.2} M ops/s  ({:.3} s)  peak RSS {} (+{} over the {} before; {:.2}× the file)",
        ops as f64 / secs / 1e6,
        secs,
        mib(peak),
        mib(peak.saturating_sub(base)),
        mib(base),
        peak.saturating_sub(base) as f64 / file as f64
    );
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
    let base = status("VmRSS:");
    let result = if phase == "stream" {
        let start = Instant::now();
        let mut s = Stream::new(vec![(shape.online)()]);
        // Read in 1 MiB chunks and feed the complete lines in place (no
        // per-line copy or allocation).
        let mut file = File::open(path).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = file.read(&mut buf[filled..]).unwrap();
            let eof = n == 0;
            filled += n;
            let end = if eof {
                filled
            } else {
                match buf[..filled].iter().rposition(|&b| b == b'\n') {
                    Some(p) => p + 1,
                    None => continue,
                }
            };
            let text = std::str::from_utf8(&buf[..end]).expect("UTF-8");
            let text = text.strip_suffix('\n').unwrap_or(text);
            if !text.is_empty() {
                for line in text.split('\n') {
                    s.feed_line(line).expect("valid line");
                }
            }
            buf.copy_within(end..filled, 0);
            filled -= end;
            if eof {
                break;
            }
        }
        // Every line of these shapes is read in place (`OpView`), so the
        // verdict comparison below covers that path.
        assert_eq!(s.parsed_count(), 0, "lines parsed into Op");
        let r = s.finish().remove(0);
        report(
            "stream",
            ops,
            start.elapsed().as_secs_f64(),
            status("VmHWM:"),
            base,
            size,
        );
        r
    } else {
        let text = std::fs::read_to_string(path).unwrap();
        let start = Instant::now();
        let history = parse::jsonl(&text).expect("valid history");
        let parse_secs = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let r = (shape.check)(&history);
        let check_secs = start.elapsed().as_secs_f64();
        let peak = status("VmHWM:");
        report("history parse", ops, parse_secs, peak, base, size);
        report("history check", ops, check_secs, peak, base, size);
        r
    };
    println!("{}", serde_json::to_string(&result).unwrap());
}

fn main() {
    let target: usize = std::env::var("BENCH_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
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
    let me = std::env::current_exe().expect("own path");
    let dir = std::env::temp_dir();
    for shape in &shapes() {
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
        let mut verdicts = Vec::new();
        for phase in ["stream", "history"] {
            let out = std::process::Command::new(&me)
                .env(
                    "FAULTLINE_BENCH_CHILD",
                    format!("{}|{phase}|{ops}|{size}|{}", shape.name, path.display()),
                )
                .output()
                .expect("child runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let mut lines: Vec<&str> = stdout.lines().collect();
            let verdict = lines.pop().unwrap_or_default().to_string();
            for l in lines {
                println!("{l}");
            }
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            verdicts.push(serde_json::from_str::<CheckResult>(&verdict).expect("verdict"));
        }
        assert_eq!(
            verdicts[0], verdicts[1],
            "streaming and History verdicts differ"
        );
        // Every generated history is correct (convergence: round 2 agrees).
        assert_eq!(
            verdicts[0].valid,
            Validity::Valid,
            "{}",
            verdicts[0].summary
        );
        println!(
            "  verdict: {} — {}",
            verdicts[0].valid.word(),
            verdicts[0].summary
        );
        let _ = std::fs::remove_file(&path);
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
