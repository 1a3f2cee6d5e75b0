//! How the linearizability checker's cost grows with the history's length.
//!
//! Generates register histories over 10 keys (20 client slots, reads,
//! writes and cas of values 0..5; about 5 % of writes crash: an `info`
//! completion, the write applied or not at random, the client replaced by a
//! new process), each linearizable by construction (every op takes effect
//! on a simulated register between its invocation and completion), checks
//! each with `linear::check` (verdict only, `Options.counterexample =
//! false`), asserts the verdict is valid and prints ops, steps, peak cache
//! bytes and wall time.
//!
//! Run with `cargo bench -p checkers --bench linear_scale`;
//! `LINEAR_SCALE_OPS=10000,200000` sets the lengths (default 10 k, 50 k,
//! 100 k, 200 k). The instruction counts in `checkers/README.md` come from
//! `valgrind --tool=callgrind` on the built bench binary, one length at a
//! time.

use checkers::linear::{self, Model, Options};
use checkers::{parse, Validity};
use std::fmt::Write;
use std::time::Instant;

/// xorshift64*: deterministic, so every run checks the same histories.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy)]
enum F {
    Read,
    Write(u8),
    Cas(u8, u8),
}

#[derive(Clone, Copy)]
enum Slot {
    Idle,
    Invoked(u8, F),
    /// Took effect; the completion's type and value.
    Applied(u8, F, bool, Option<u8>),
}

fn val(v: Option<u8>) -> String {
    v.map_or("nil".to_string(), |v| v.to_string())
}

fn value(k: u8, f: F, read: Option<u8>) -> String {
    match f {
        F::Read => format!("[{k} {}]", val(read)),
        F::Write(v) => format!("[{k} {v}]"),
        F::Cas(o, n) => format!("[{k} [{o} {n}]]"),
    }
}

fn name(f: F) -> &'static str {
    match f {
        F::Read => "read",
        F::Write(_) => "write",
        F::Cas(..) => "cas",
    }
}

/// An EDN register history of `ops` invocations over 10 keys.
fn history(ops: usize, seed: u64) -> String {
    const KEYS: u64 = 10;
    const SLOTS: usize = 20;
    let mut rng = Rng(seed);
    let mut regs: [Option<u8>; KEYS as usize] = [None; KEYS as usize];
    let mut slots = [Slot::Idle; SLOTS];
    let mut pids: Vec<usize> = (0..SLOTS).collect();
    let mut next_pid = SLOTS;
    let mut invoked = 0;
    let mut out = String::new();
    loop {
        let s = rng.below(SLOTS as u64) as usize;
        let p = pids[s];
        match slots[s] {
            Slot::Idle => {
                if invoked == ops {
                    if slots.iter().all(|x| matches!(x, Slot::Idle)) {
                        return out;
                    }
                    continue;
                }
                let k = rng.below(KEYS) as u8;
                let f = match rng.below(10) {
                    0..=4 => F::Read,
                    5..=8 => F::Write(rng.below(5) as u8),
                    _ => F::Cas(rng.below(5) as u8, rng.below(5) as u8),
                };
                let _ = writeln!(
                    out,
                    "{{:type :invoke, :process {p}, :f :{}, :value {}}}",
                    name(f),
                    value(k, f, None)
                );
                invoked += 1;
                slots[s] = Slot::Invoked(k, f);
            }
            Slot::Invoked(k, f) => {
                let r = &mut regs[k as usize];
                if matches!(f, F::Write(_)) && rng.below(20) == 0 {
                    // A crashed write: it may or may not have happened.
                    if let (F::Write(v), true) = (f, rng.below(2) == 0) {
                        *r = Some(v);
                    }
                    let _ = writeln!(
                        out,
                        "{{:type :info, :process {p}, :f :write, :value {}}}",
                        value(k, f, None)
                    );
                    pids[s] = next_pid;
                    next_pid += 1;
                    slots[s] = Slot::Idle;
                    continue;
                }
                slots[s] = match f {
                    F::Read => Slot::Applied(k, f, true, *r),
                    F::Write(v) => {
                        *r = Some(v);
                        Slot::Applied(k, f, true, None)
                    }
                    F::Cas(o, n) => {
                        let ok = *r == Some(o);
                        if ok {
                            *r = Some(n);
                        }
                        Slot::Applied(k, f, ok, None)
                    }
                };
            }
            Slot::Applied(k, f, ok, read) => {
                let _ = writeln!(
                    out,
                    "{{:type :{}, :process {p}, :f :{}, :value {}}}",
                    if ok { "ok" } else { "fail" },
                    name(f),
                    value(k, f, read)
                );
                slots[s] = Slot::Idle;
            }
        }
    }
}

fn main() {
    let lengths: Vec<usize> = std::env::var("LINEAR_SCALE_OPS")
        .ok()
        .map(|s| {
            s.split(',')
                .map(|x| {
                    x.trim()
                        .parse()
                        .expect("LINEAR_SCALE_OPS: comma-separated op counts")
                })
                .collect()
        })
        .unwrap_or_else(|| vec![10_000, 50_000, 100_000, 200_000]);
    let opts = Options {
        counterexample: false,
        ..Options::default()
    };
    println!(
        "{:>8} {:>8} {:>12} {:>14} {:>10}",
        "ops", "verdict", "steps", "cache_bytes", "check_ms"
    );
    for n in lengths {
        let text = history(n, 0x9E37_79B9_7F4A_7C15 ^ n as u64);
        let h = parse::edn(&text).expect("generated history parses");
        let t = Instant::now();
        let r = linear::check_with(&h, Model::Register, &opts);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(r.valid, Validity::Valid, "{n} ops: {}", r.summary);
        println!(
            "{:>8} {:>8} {:>12} {:>14} {:>10.1}",
            n,
            format!("{:?}", r.valid),
            r.details["search_steps"].as_u64().unwrap_or(0),
            r.details["peak_cache_bytes"].as_u64().unwrap_or(0),
            ms
        );
    }
}
