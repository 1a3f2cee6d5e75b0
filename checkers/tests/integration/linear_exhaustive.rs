//! The linearizability checker against an exhaustive one, on thousands of
//! small random register histories, and its counterexamples held to the
//! truth.
//!
//! Each history is made by running a few processes against a simulated
//! register (values from a small set, so they repeat) with crashes (`info`
//! ops that did or did not take effect), processes that never return
//! (pending ops), failed and ok compare-and-sets and reads; some histories
//! then get one result corrupted (a read returning another value, a cas
//! whose outcome is flipped), so about half are not linearizable. The
//! exhaustive checker written here tries every order of every subset of the
//! indeterminate ops that respects real time, under a reading given as a
//! parameter: faultline's (a failed `cas` is evidence that the register did
//! not hold `old`), failed ops dropped, and Knossos's (failed ops dropped and
//! a read of nil no evidence). faultline is run with the matching
//! [`Reading`]; failed ops dropped is also checked on the history with its
//! failed ops taken out, under faultline's reading.
//!
//! Every counterexample faultline prints must be true: checked alone by the
//! exhaustive checker, with every write of a value one of its reads returned
//! (or one of its cas ops expected) that was invoked before that op completed
//! added back, it is still not linearizable; and none such was left out.
//! The generator is seeded: the same histories every run.

use checkers::linear::reading::{FailedCas, NilRead};
use checkers::linear::{self, Model, Options, Reading};
use checkers::{History, Op, OpType, Process, Validity};
use serde_json::{json, Value};
use std::collections::HashSet;

use crate::util::{Seeded, SplitMix64 as Rng};

/// What an op did, as the exhaustive checker reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum F {
    Read,
    Write,
    Cas,
}

/// How an op ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Ok,
    Fail,
    /// `info` or pending: took effect or not, at some point after invocation.
    Unknown,
}

/// One op of a generated history. Values: 0 is `nil`, 1.. are numbers.
#[derive(Clone, Copy, Debug)]
struct GOp {
    process: u64,
    f: F,
    /// Write: the value; cas: (old, new); read: the result.
    a: u8,
    b: u8,
    end: End,
    /// Positions of the invocation and completion in the history.
    invoke: usize,
    complete: Option<usize>,
}

fn val(v: u8) -> Value {
    if v == 0 {
        Value::Null
    } else {
        json!(v)
    }
}

/// Generates a history: `procs` processes, `ops` invocations in all.
fn generate(rng: &mut Rng) -> Vec<GOp> {
    let procs = 2 + rng.below(3);
    let budget = 3 + rng.below(8) as usize;
    let values = 1 + rng.below(3) as u8;
    let mut ops: Vec<GOp> = Vec::new();
    // Per process slot: (process id, in-flight op index, applied?, retired?).
    let mut slots: Vec<(u64, Option<usize>, bool)> = (0..procs).map(|p| (p, None, false)).collect();
    let mut next_process = procs;
    let mut register = 0u8;
    let mut pos = 0usize;
    let mut invoked = 0;
    let mut guard = 0;
    while guard < 1000 {
        guard += 1;
        let idle = slots.iter().all(|s| s.1.is_none());
        if invoked >= budget && idle {
            break;
        }
        let s = rng.below(slots.len() as u64) as usize;
        match slots[s].1 {
            None if invoked < budget => {
                let f = match rng.below(3) {
                    0 => F::Read,
                    1 => F::Write,
                    _ => F::Cas,
                };
                let a = rng.below(values as u64 + 1) as u8;
                let b = 1 + rng.below(values as u64) as u8;
                ops.push(GOp {
                    process: slots[s].0,
                    f,
                    a: if f == F::Write { b } else { a },
                    b,
                    end: End::Ok,
                    invoke: pos,
                    complete: None,
                });
                pos += 1;
                invoked += 1;
                slots[s].1 = Some(ops.len() - 1);
                slots[s].2 = false;
            }
            None => {}
            Some(i) if !slots[s].2 => {
                // Take effect now, or crash before taking effect.
                if rng.chance(10) {
                    let o = &mut ops[i];
                    o.end = End::Unknown;
                    if o.f == F::Read || rng.chance(50) {
                        o.complete = Some(pos);
                        pos += 1;
                    }
                    slots[s] = (next_process, None, false);
                    next_process += 1;
                    continue;
                }
                let o = &mut ops[i];
                match o.f {
                    F::Read => o.a = register,
                    F::Write => register = o.a,
                    F::Cas if register == o.a => register = o.b,
                    F::Cas => o.end = End::Fail,
                }
                slots[s].2 = true;
            }
            Some(i) => {
                // Complete: ok (or fail), or info / pending after taking effect.
                let o = &mut ops[i];
                if o.f != F::Read && o.end == End::Ok && rng.chance(15) {
                    o.end = End::Unknown;
                    if rng.chance(50) {
                        o.complete = Some(pos);
                        pos += 1;
                    }
                    slots[s] = (next_process, None, false);
                    next_process += 1;
                    continue;
                }
                o.complete = Some(pos);
                pos += 1;
                slots[s].1 = None;
            }
        }
    }
    // Left in flight: pending.
    for s in &slots {
        if let Some(i) = s.1 {
            ops[i].end = End::Unknown;
            ops[i].complete = None;
        }
    }
    // Corrupt one result in some histories.
    if rng.chance(50) {
        let done: Vec<usize> = (0..ops.len())
            .filter(|&i| ops[i].complete.is_some() && ops[i].end != End::Unknown)
            .filter(|&i| ops[i].f != F::Write)
            .collect();
        if !done.is_empty() {
            let i = done[rng.below(done.len() as u64) as usize];
            let o = &mut ops[i];
            match o.f {
                F::Read => o.a = (o.a + 1 + rng.below(values as u64) as u8) % (values + 1),
                _ => {
                    o.end = if o.end == End::Ok { End::Fail } else { End::Ok };
                }
            }
        }
    }
    ops
}

/// The history faultline reads: indices are positions.
fn history(ops: &[GOp], keep: impl Fn(&GOp) -> bool) -> History {
    let mut events: Vec<(usize, Op)> = Vec::new();
    for o in ops.iter().filter(|o| keep(o)) {
        let (f, arg) = match o.f {
            F::Read => ("read", Value::Null),
            F::Write => ("write", val(o.a)),
            F::Cas => ("cas", json!([val(o.a), val(o.b)])),
        };
        let op = |kind, value| Op {
            index: None,
            kind,
            process: Process::Client(o.process),
            f: f.to_string(),
            value,
            time: 0,
            node: None,
            error: None,
        };
        events.push((o.invoke, op(OpType::Invoke, arg.clone())));
        if let Some(c) = o.complete {
            let (kind, value) = match (o.end, o.f) {
                (End::Ok, F::Read) => (OpType::Ok, val(o.a)),
                (End::Ok, _) => (OpType::Ok, arg),
                (End::Fail, _) => (OpType::Fail, arg),
                (End::Unknown, _) => (OpType::Info, arg),
            };
            events.push((c, op(kind, value)));
        }
    }
    events.sort_by_key(|e| e.0);
    History::new(
        events
            .into_iter()
            .map(|(p, mut op)| {
                op.index = Some(p as u64);
                op
            })
            .collect(),
    )
}

/// How failed ops (and reads of nil) are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading2 {
    /// faultline's: a failed cas happened and found the register not
    /// holding `old`; failed reads and writes did nothing.
    FailedCasIsEvidence,
    /// Failed ops did nothing.
    FailedOpsDropped,
    /// Knossos's: failed ops did nothing, and a read of nil is always legal.
    Knossos,
}

impl Reading2 {
    /// faultline's option for it.
    fn option(self) -> Reading {
        match self {
            Reading2::FailedCasIsEvidence => Reading::FAULTLINE,
            Reading2::FailedOpsDropped => Reading {
                failed_cas: FailedCas::Dropped,
                nil_read: NilRead::Observed,
            },
            Reading2::Knossos => Reading::KNOSSOS,
        }
    }
}

/// Is there an order of the ops (`ops[i]` for `i` in `set`), each taking
/// effect once between its invocation and completion, or for indeterminate
/// ones at most once after their invocation, that a register starting at
/// nil allows? Tries every order of every subset of the indeterminate ops
/// (remembering the (done, value) pairs that failed, which only prunes
/// repeats of the same question).
fn exhaustive(ops: &[GOp], set: &[usize], reading: Reading2) -> bool {
    // What must happen, and what may.
    let mut must: Vec<usize> = Vec::new();
    let mut may: Vec<usize> = Vec::new();
    for &i in set {
        let o = &ops[i];
        match (o.end, o.f) {
            (End::Ok, F::Read) if o.a == 0 && reading == Reading2::Knossos => {}
            (End::Ok, _) => must.push(i),
            (End::Fail, F::Cas) if reading == Reading2::FailedCasIsEvidence => must.push(i),
            (End::Fail, _) => {}
            (End::Unknown, F::Read) => {}
            (End::Unknown, _) => may.push(i),
        }
    }
    let all: Vec<usize> = must.iter().chain(&may).copied().collect();
    let required: u32 = (0..must.len()).fold(0, |m, k| m | 1 << k);
    let mut failed: HashSet<(u32, u8)> = HashSet::new();
    fn go(
        ops: &[GOp],
        all: &[usize],
        required: u32,
        done: u32,
        value: u8,
        failed: &mut HashSet<(u32, u8)>,
    ) -> bool {
        if done & required == required {
            return true;
        }
        if failed.contains(&(done, value)) {
            return false;
        }
        for (k, &i) in all.iter().enumerate() {
            if done & (1 << k) != 0 {
                continue;
            }
            // Real time: every op that completed before this one was
            // invoked must already have taken effect (or, if optional and
            // with no completion, never constrains).
            let o = &ops[i];
            let ready = all.iter().enumerate().all(|(j, &x)| {
                done & (1 << j) != 0
                    || j >= required.count_ones() as usize
                    || ops[x].complete.is_none_or(|c| c > o.invoke)
            });
            if !ready {
                continue;
            }
            let next = match (o.f, o.end) {
                (F::Read, _) if value == o.a => Some(value),
                (F::Read, _) => None,
                (F::Write, _) => Some(o.a),
                (F::Cas, End::Fail) if value != o.a => Some(value),
                (F::Cas, End::Fail) => None,
                (F::Cas, End::Ok) if value == o.a => Some(o.b),
                (F::Cas, End::Ok) => None,
                (F::Cas, End::Unknown) if value == o.a => Some(o.b),
                // An indeterminate cas that found another value did nothing.
                (F::Cas, End::Unknown) => Some(value),
            };
            if let Some(v) = next {
                if go(ops, all, required, done | 1 << k, v, failed) {
                    return true;
                }
            }
        }
        failed.insert((done, value));
        false
    }
    go(ops, &all, required, 0, 0, &mut failed)
}

fn describe(ops: &[GOp]) -> String {
    ops.iter()
        .map(|o| format!("{o:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The writes (and cas ops that set a value) left out of `set` whose value
/// an op of `set` read or expected, invoked before that op completed.
fn omitted_providers(ops: &[GOp], set: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    for &r in set {
        let o = &ops[r];
        let wanted = match (o.f, o.end) {
            (F::Read, End::Ok) => o.a,
            (F::Cas, End::Ok) => o.a,
            _ => continue,
        };
        let Some(done) = o.complete else { continue };
        for (w, x) in ops.iter().enumerate() {
            let sets = match (x.f, x.end) {
                (F::Write, End::Ok | End::Unknown) => Some(x.a),
                (F::Cas, End::Ok | End::Unknown) => Some(x.b),
                _ => None,
            };
            if sets == Some(wanted) && x.invoke < done && !set.contains(&w) && !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

/// The generated ops a counterexample names (by their invocation index).
fn counterexample_ops(c: &serde_json::Value, ops: &[GOp]) -> Vec<usize> {
    c["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let at = o["invoke_index"].as_u64().unwrap() as usize;
            ops.iter().position(|g| g.invoke == at).unwrap()
        })
        .collect()
}

#[test]
fn verdicts_match_an_exhaustive_checker_and_counterexamples_are_true() {
    let mut rng = Rng(0x005E_ED0F_FA17_11E5);
    let (mut valid, mut invalid, mut with_failed_cas, mut cexes) = (0, 0, 0, 0);
    for case in 0..3000 {
        let ops = generate(&mut rng);
        for reading in [
            Reading2::FailedCasIsEvidence,
            Reading2::FailedOpsDropped,
            Reading2::Knossos,
        ] {
            let h = history(&ops, |_| true);
            let live: Vec<usize> = (0..ops.len()).collect();
            let expected = exhaustive(&ops, &live, reading);
            let options = Options {
                reading: reading.option(),
                ..Options::default()
            };
            let r = linear::check_with(&h, Model::Register, &options);
            let want = if expected {
                Validity::Valid
            } else {
                Validity::Invalid
            };
            assert_eq!(
                r.valid,
                want,
                "case {case} ({reading:?}): {}\n{}",
                r.summary,
                describe(&ops)
            );
            if reading == Reading2::FailedOpsDropped {
                // The same, with the failed ops taken out of the history.
                let without = history(&ops, |o| o.end != End::Fail);
                assert_eq!(
                    linear::check(&without, Model::Register).valid,
                    want,
                    "case {case}, failed ops taken out\n{}",
                    describe(&ops)
                );
            }
            if expected {
                valid += 1;
                continue;
            }
            invalid += 1;
            if ops.iter().any(|o| o.end == End::Fail && o.f == F::Cas) {
                with_failed_cas += 1;
            }
            let c = &r.details["violation"]["counterexample"];
            assert_eq!(c["kind"], "set", "case {case}: {c}");
            let set = counterexample_ops(c, &ops);
            let omitted = omitted_providers(&ops, &set);
            assert!(
                omitted.is_empty(),
                "case {case} ({reading:?}): the counterexample leaves out {omitted:?}, which could explain it: {c}\n{}",
                describe(&ops)
            );
            let mut with_them = set.clone();
            with_them.extend(omitted);
            assert!(
                !exhaustive(&ops, &with_them, reading),
                "case {case} ({reading:?}): the counterexample is linearizable by itself: {c}\n{}",
                describe(&ops)
            );
            cexes += 1;
        }
    }
    // The generator makes both verdicts, and failed cas ops among them.
    assert!(
        valid > 1500 && invalid > 1500,
        "{valid} valid, {invalid} invalid"
    );
    assert!(with_failed_cas > 500, "{with_failed_cas}");
    assert_eq!(cexes, invalid);
}

#[test]
fn stale_observations_found_without_searching_are_true_violations() {
    // With a search budget of one step, a key is decided only by a stale
    // observation (or by a search that needs no more): such a verdict
    // must be the exhaustive checker's, and its ops a true, closed
    // counterexample.
    let mut rng = Rng(0x57A1_E0B5_E7FA_CE01);
    let (mut stale, mut unknown) = (0, 0);
    for case in 0..3000 {
        let ops = generate(&mut rng);
        for reading in [
            Reading2::FailedCasIsEvidence,
            Reading2::FailedOpsDropped,
            Reading2::Knossos,
        ] {
            let h = history(&ops, |_| true);
            let live: Vec<usize> = (0..ops.len()).collect();
            let expected = exhaustive(&ops, &live, reading);
            let options = Options {
                reading: reading.option(),
                budget: checkers::linear::Budget {
                    max_steps: 1,
                    max_cache_bytes: 1 << 20,
                },
                ..Options::default()
            };
            let r = linear::check_with(&h, Model::Register, &options);
            match r.valid {
                Validity::Unknown => {
                    unknown += 1;
                    continue;
                }
                Validity::Valid => {
                    assert!(expected, "case {case} ({reading:?}): {}", r.summary);
                    continue;
                }
                Validity::Invalid => assert!(
                    !expected,
                    "case {case} ({reading:?}): called invalid, but it is linearizable: {}\n{}",
                    r.summary,
                    describe(&ops)
                ),
            }
            let c = &r.details["violation"]["counterexample"];
            if c["kind"] != "stale" {
                continue;
            }
            stale += 1;
            let set = counterexample_ops(c, &ops);
            let omitted = omitted_providers(&ops, &set);
            assert!(
                omitted.is_empty(),
                "case {case} ({reading:?}): the stale counterexample leaves out {omitted:?}: {c}\n{}",
                describe(&ops)
            );
            assert!(
                !exhaustive(&ops, &set, reading),
                "case {case} ({reading:?}): the stale counterexample is linearizable by itself: {c}\n{}",
                describe(&ops)
            );
        }
    }
    // Not vacuous: many keys are decided this way, and many are left.
    assert!(
        stale > 300 && unknown > 300,
        "{stale} stale, {unknown} unknown"
    );
}
