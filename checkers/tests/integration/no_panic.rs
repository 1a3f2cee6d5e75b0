//! No input makes the importers or the checkers panic.
//!
//! A small seeded generator (xorshift, no dependency) builds thousands of
//! random histories: random op kinds, processes (nemesis included), function
//! names of every workload, values of every shape (wrong ones on purpose:
//! huge numbers, floats, strings, nested lists, objects), completions without
//! invocations, times up to `u64::MAX`. Each is written as JSONL and as EDN,
//! then truncated and garbled, and fed to `parse::auto`, `parse::jsonl`,
//! `parse::edn` and to every checker of the crate. Errors and unknown
//! verdicts are fine; a panic fails the test with the seed and case that
//! caused it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use checkers::convergence;
use checkers::counter::{self, Counter, CounterOps};
use checkers::linear::{self, Budget, Model};
use checkers::perf::{self, Perf, PerfOptions};
use checkers::set_full::{self, SetFull, SetFullOptions};
use checkers::siblings::{self, SiblingBound, SiblingsOptions};
use checkers::staleness::{self, StalenessOptions};
use checkers::stream::{OpView, Stream};
use checkers::{crdt, parse, sessions, set, History, Op, OpType, Process};
use serde_json::{json, Value};

use crate::util::{Seeded, XorShift64Star as Rng};

const FS: &[&str] = &[
    "add",
    "read",
    "write",
    "put",
    "get",
    "cas",
    "remove",
    "increment",
    "decrement",
    "read-counter",
    "insert",
    "delete",
    "read-list",
    "read-local",
    "local-read",
    "append",
];
const NEMESIS_FS: &[&str] = &[
    "start-partition",
    "stop-partition",
    "kill",
    "start",
    "pause",
    "resume",
    "bump-clock",
    "strobe-clock",
    "reset-clock",
    "heal",
];

fn scalar(r: &mut Rng) -> Value {
    match r.below(12) {
        0 => Value::Null,
        1 => json!(u64::MAX),
        2 => json!(i64::MIN),
        3 => json!(i64::MAX),
        4 => json!(1e300),
        5 => json!(-0.5),
        6 => json!("x"),
        7 => json!(true),
        _ => json!(r.below(6) as i64 - 1),
    }
}

fn value(r: &mut Rng, depth: u32) -> Value {
    if depth > 3 {
        return scalar(r);
    }
    match r.below(10) {
        0..=3 => scalar(r),
        4 => Value::Array((0..r.below(5)).map(|_| value(r, depth + 1)).collect()),
        5 | 6 => json!([scalar(r), value(r, depth + 1)]),
        7 => json!({"siblings": value(r, depth + 1), "context": "c"}),
        8 => json!({"version": scalar(r), "value": scalar(r)}),
        _ => json!({"a": scalar(r), "b": value(r, depth + 1)}),
    }
}

fn history(r: &mut Rng) -> History {
    let n = r.below(60);
    let mut ops = Vec::new();
    let mut time = 0u64;
    for i in 0..n {
        let process = if r.chance(10) {
            Process::Nemesis
        } else {
            Process::Client(r.below(5))
        };
        let f = if process == Process::Nemesis {
            r.pick(NEMESIS_FS)
        } else {
            r.pick(FS)
        };
        time = if r.chance(3) {
            u64::MAX - r.below(3)
        } else {
            time.saturating_add(r.below(2_000_000_000))
        };
        ops.push(Op {
            index: if r.chance(80) { Some(i) } else { None },
            kind: *r.pick(&[OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info]),
            process,
            f: f.to_string(),
            value: value(r, 0),
            time,
            node: if r.chance(50) {
                Some(r.pick(&["n1", "n2", "n3"]).to_string())
            } else {
                None
            },
            error: None,
        });
    }
    History::new(ops)
}

/// A history that follows the rules more often (invocations then
/// completions per process), so checkers reach their deeper paths.
fn plausible(r: &mut Rng) -> History {
    let mut h = history(r);
    let mut open: Vec<Option<usize>> = vec![None; 5];
    for i in 0..h.ops.len() {
        let Process::Client(p) = h.ops[i].process else {
            continue;
        };
        let p = p as usize;
        match open[p] {
            Some(inv) if r.chance(85) => {
                h.ops[i].kind = *r.pick(&[OpType::Ok, OpType::Ok, OpType::Fail, OpType::Info]);
                h.ops[i].f = h.ops[inv].f.clone();
                open[p] = None;
            }
            _ => {
                h.ops[i].kind = OpType::Invoke;
                open[p] = Some(i);
            }
        }
        if r.chance(50) {
            h.ops[i].value = json!(r.below(8) as i64 - 2);
        }
    }
    h
}

fn edn_value(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(edn_value).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!(":{k} {}", edn_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn edn(h: &History) -> String {
    let mut s = String::from("[");
    for op in &h.ops {
        s.push_str(&format!(
            "{{:type :{}, :process {}, :f :{}, :value {}, :time {}}}\n",
            serde_json::to_value(op.kind).unwrap().as_str().unwrap(),
            match op.process {
                Process::Nemesis => ":nemesis".to_string(),
                Process::Client(n) => n.to_string(),
            },
            op.f,
            edn_value(&op.value),
            op.time
        ));
    }
    s.push(']');
    s
}

fn jsonl(h: &History) -> String {
    h.ops
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn garble(r: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    if !bytes.is_empty() && r.chance(50) {
        let cut = r.below(bytes.len() as u64) as usize;
        bytes.truncate(cut);
    }
    for _ in 0..r.below(4) {
        if bytes.is_empty() {
            break;
        }
        let i = r.below(bytes.len() as u64) as usize;
        bytes[i] = *r.pick(b"{}[]()#:\" \n,;\\0-9eE.x");
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn every_checker(h: &History) {
    let _ = set::check(h);
    for linearizable in [false, true] {
        let _ = set_full::check(h, SetFullOptions { linearizable });
    }
    let _ = counter::check(h);
    let _ = convergence::check(h);
    let _ = perf::check(h, PerfOptions::default());
    let _ = perf::check(h, PerfOptions { window_ns: 0 });
    for bound in [
        SiblingBound::Writers,
        SiblingBound::AtMost(0),
        SiblingBound::Unbounded,
    ] {
        let _ = siblings::check(h, SiblingsOptions { bound });
    }
    let _ = sessions::check(h);
    let _ = staleness::check(h, StalenessOptions::default());
    let _ = staleness::check(
        h,
        StalenessOptions {
            max_versions_behind: Some(0),
            max_visibility_ms: Some(0.0),
        },
    );
    let _ = crdt::check(h);
    let options = linear::Options {
        budget: Budget {
            max_steps: 20_000,
            max_cache_bytes: 1 << 20,
        },
        ..Default::default()
    };
    for model in Model::ALL {
        let _ = linear::check_with(h, model, &options);
    }
    // The streaming path, fed op by op and line by line.
    let mut s = Stream::new(vec![
        Box::new(SetFull::new(SetFullOptions::default())),
        Box::new(Counter::new(CounterOps::COUNTER, "counter")),
        Box::new(convergence::Convergence::new()),
        Box::new(Perf::new(PerfOptions::default())),
    ]);
    for op in &h.ops {
        s.feed(op);
    }
    let _ = s.finish();
}

fn importers(text: &str) -> Vec<History> {
    let mut out: Vec<History> = Vec::new();
    out.extend(
        [parse::auto(text), parse::jsonl(text), parse::edn(text)]
            .into_iter()
            .flatten(),
    );
    // The streaming path, line by line: lines in faultline's plain shape
    // are read in place (`OpView`), others parsed into `Op`s; either way no
    // panic, and when the whole text parses, the verdicts of the `check`
    // functions.
    let mut s = Stream::new(vec![
        Box::new(SetFull::new(SetFullOptions::default())),
        Box::new(Counter::new(CounterOps::COUNTER, "counter")),
        Box::new(convergence::Convergence::new()),
        Box::new(Perf::new(PerfOptions::default())),
    ]);
    for line in text.lines() {
        let _ = s.feed_line(line);
        let _ = OpView::parse(line).map(|v| v.to_op());
    }
    let streamed = s.finish();
    // The same text as bytes cut at odd places, in the caller's thread and
    // in a checking thread of its own: the same verdicts (the same lines
    // are skipped as errors).
    let chunk = 1 + text.len() % 13;
    for threaded in [false, true] {
        let checkers: Vec<Box<dyn checkers::stream::OnlineChecker + Send>> = vec![
            Box::new(SetFull::new(SetFullOptions::default())),
            Box::new(Counter::new(CounterOps::COUNTER, "counter")),
            Box::new(convergence::Convergence::new()),
            Box::new(Perf::new(PerfOptions::default())),
        ];
        let mut b = if threaded {
            Stream::threaded(checkers)
        } else {
            Stream::new(
                checkers
                    .into_iter()
                    .map(|c| -> Box<dyn checkers::stream::OnlineChecker> { c })
                    .collect(),
            )
        };
        // `lines()` also drops a `\r` before each `\n`, as the stream does.
        for piece in text.as_bytes().chunks(chunk) {
            let _ = b.feed_bytes(piece);
        }
        let _ = b.end_input();
        assert_eq!(
            b.finish(),
            streamed,
            "bytes-fed verdicts differ for\n{text}"
        );
    }
    if let Ok(h) = parse::jsonl(text) {
        let checked = [
            set_full::check(&h, SetFullOptions::default()),
            counter::check(&h),
            convergence::check(&h),
            perf::check(&h, PerfOptions::default()),
        ];
        assert_eq!(streamed, checked, "streamed verdicts differ for\n{text}");
    }
    out
}

fn case(seed: u64) {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    // Random bytes.
    let bytes: Vec<u8> = (0..r.below(200)).map(|_| r.next() as u8).collect();
    for h in importers(&String::from_utf8_lossy(&bytes)) {
        every_checker(&h);
    }
    // Random and plausible histories, whole, as text, and garbled.
    let h = if r.chance(50) {
        history(&mut r)
    } else {
        plausible(&mut r)
    };
    every_checker(&h);
    let plain = jsonl(&h);
    let spaced = plain.replace(':', " : ").replace(',', " ,\t");
    for text in [plain, spaced, edn(&h)] {
        for parsed in importers(&text) {
            every_checker(&parsed);
        }
        let bad = garble(&mut r, &text);
        for parsed in importers(&bad) {
            every_checker(&parsed);
        }
    }
}

#[test]
fn no_input_makes_importers_or_checkers_panic() {
    let cases: u64 = std::env::var("NO_PANIC_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    for seed in 0..cases {
        if catch_unwind(AssertUnwindSafe(|| case(seed))).is_err() {
            panic!("seed {seed} panicked (rerun: only this seed, see case())");
        }
    }
}

#[test]
fn the_generator_reaches_the_checkers_deeper_paths() {
    // A test that cannot fail is a defect: make sure plausible histories
    // give each checker something to judge, not only malformed input.
    let mut r = Rng(7);
    let mut judged = 0;
    for _ in 0..300 {
        let h = plausible(&mut r);
        if counter::check(&h).valid != checkers::Validity::Unknown {
            judged += 1;
        }
    }
    assert!(judged > 10, "only {judged} counter histories were judged");
}
