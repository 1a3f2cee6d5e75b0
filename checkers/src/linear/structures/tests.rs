//! Hand-built histories with known verdicts for the structured models, and
//! a comparison with a brute-force checker on small random histories.

use crate::history::{History, Op, OpType, Process};
use crate::linear::{check, check_multi_register, Model, Options};
use crate::verdict::{CheckResult, Validity};
use serde_json::{json, Value};

/// One recorded op: process, type, f, value.
type Row = (u64, &'static str, &'static str, Value);

/// A history from `(process, type, f, value)` rows, in real-time order.
fn h(rows: &[(u64, &str, &str, Value)]) -> History {
    History::new(
        rows.iter()
            .enumerate()
            .map(|(i, (p, t, f, v))| Op {
                index: Some(i as u64),
                kind: match *t {
                    "invoke" => OpType::Invoke,
                    "ok" => OpType::Ok,
                    "fail" => OpType::Fail,
                    _ => OpType::Info,
                },
                process: Process::Client(*p),
                f: f.to_string(),
                value: v.clone(),
                time: 0,
                node: None,
                error: None,
            })
            .collect(),
    )
}

fn verdict(model: Model, rows: &[(u64, &str, &str, Value)]) -> CheckResult {
    check(&h(rows), model)
}

#[track_caller]
fn assert_verdict(model: Model, rows: &[(u64, &str, &str, Value)], want: Validity) {
    let r = verdict(model, rows);
    assert_eq!(r.valid, want, "{}: {}", model.name(), r.summary);
}

use Validity::{Invalid, Valid};

// ---------------------------------------------------------------- mutex

#[test]
fn mutex_sequential_acquire_release_is_valid() {
    assert_verdict(
        Model::Mutex,
        &[
            (0, "invoke", "acquire", json!(null)),
            (0, "ok", "acquire", json!(null)),
            (0, "invoke", "release", json!(null)),
            (0, "ok", "release", json!(null)),
            (1, "invoke", "acquire", json!(null)),
            (1, "ok", "acquire", json!(null)),
        ],
        Valid,
    );
}

#[test]
fn mutex_two_concurrent_acquires_both_ok_is_invalid() {
    let rows = [
        (0, "invoke", "acquire", json!(null)),
        (1, "invoke", "acquire", json!(null)),
        (0, "ok", "acquire", json!(null)),
        (1, "ok", "acquire", json!(null)),
    ];
    let r = verdict(Model::Mutex, &rows);
    assert_eq!(r.valid, Invalid, "{}", r.summary);
    assert!(r.summary.contains("acquire by process"), "{}", r.summary);
    assert!(r.summary.contains("value at held"), "{}", r.summary);
    assert_eq!(
        r.details["violation"]["counterexample"]["ops"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn mutex_acquire_overlapping_a_release_is_valid() {
    assert_verdict(
        Model::Mutex,
        &[
            (0, "invoke", "acquire", json!(null)),
            (0, "ok", "acquire", json!(null)),
            (0, "invoke", "release", json!(null)),
            (1, "invoke", "acquire", json!(null)),
            (1, "ok", "acquire", json!(null)),
            (0, "ok", "release", json!(null)),
        ],
        Valid,
    );
}

#[test]
fn mutex_release_of_a_free_lock_is_invalid_and_failed_ops_did_nothing() {
    assert_verdict(
        Model::Mutex,
        &[
            (0, "invoke", "release", json!(null)),
            (0, "ok", "release", json!(null)),
        ],
        Invalid,
    );
    // The etcd file's shape: releases that failed (`:not-held`) and an
    // acquire that failed are dropped.
    assert_verdict(
        Model::Mutex,
        &[
            (0, "invoke", "release", json!(null)),
            (0, "fail", "release", json!(null)),
            (1, "invoke", "acquire", json!(null)),
            (1, "ok", "acquire", json!(null)),
            (2, "invoke", "acquire", json!(null)),
            (2, "fail", "acquire", json!(null)),
        ],
        Valid,
    );
}

#[test]
fn mutex_holder_is_not_tracked_as_in_knossos() {
    // Process 1 releases the lock process 0 holds: legal in Knossos's model.
    assert_verdict(
        Model::Mutex,
        &[
            (0, "invoke", "acquire", json!(null)),
            (0, "ok", "acquire", json!(null)),
            (1, "invoke", "release", json!(null)),
            (1, "ok", "release", json!(null)),
        ],
        Valid,
    );
}

#[test]
fn mutex_indeterminate_acquire_may_or_may_not_have_happened() {
    // It happened: the later release needs it.
    assert_verdict(
        Model::Mutex,
        &[
            (0, "invoke", "acquire", json!(null)),
            (0, "info", "acquire", json!(null)),
            (1, "invoke", "release", json!(null)),
            (1, "ok", "release", json!(null)),
        ],
        Valid,
    );
    // It did not: the later acquire needs the lock free.
    assert_verdict(
        Model::Mutex,
        &[
            (0, "invoke", "acquire", json!(null)),
            (0, "info", "acquire", json!(null)),
            (1, "invoke", "acquire", json!(null)),
            (1, "ok", "acquire", json!(null)),
        ],
        Valid,
    );
    // But not both: it cannot take effect before its invocation.
    assert_verdict(
        Model::Mutex,
        &[
            (1, "invoke", "release", json!(null)),
            (1, "ok", "release", json!(null)),
            (0, "invoke", "acquire", json!(null)),
            (0, "info", "acquire", json!(null)),
        ],
        Invalid,
    );
}

// ---------------------------------------------------------------- queues

const QUEUES: [Model; 2] = [Model::Queue, Model::FifoQueue];

#[test]
fn dequeue_of_a_value_only_a_crashed_enqueue_sent_is_valid() {
    for m in QUEUES {
        assert_verdict(
            m,
            &[
                (0, "invoke", "enqueue", json!(1)),
                (0, "info", "enqueue", json!(1)),
                (1, "invoke", "dequeue", json!(null)),
                (1, "ok", "dequeue", json!(1)),
            ],
            Valid,
        );
    }
}

#[test]
fn double_dequeue_of_one_value_is_invalid_in_both_queues() {
    for m in QUEUES {
        assert_verdict(
            m,
            &[
                (0, "invoke", "enqueue", json!(1)),
                (0, "ok", "enqueue", json!(1)),
                (1, "invoke", "dequeue", json!(null)),
                (2, "invoke", "dequeue", json!(null)),
                (1, "ok", "dequeue", json!(1)),
                (2, "ok", "dequeue", json!(1)),
            ],
            Invalid,
        );
        // Enqueued twice, it may come out twice.
        assert_verdict(
            m,
            &[
                (0, "invoke", "enqueue", json!(1)),
                (0, "ok", "enqueue", json!(1)),
                (0, "invoke", "enqueue", json!(1)),
                (0, "ok", "enqueue", json!(1)),
                (1, "invoke", "dequeue", json!(null)),
                (2, "invoke", "dequeue", json!(null)),
                (1, "ok", "dequeue", json!(1)),
                (2, "ok", "dequeue", json!(1)),
            ],
            Valid,
        );
    }
}

#[test]
fn out_of_order_dequeue_is_legal_only_in_the_unordered_queue() {
    let rows = [
        (0, "invoke", "enqueue", json!(1)),
        (0, "ok", "enqueue", json!(1)),
        (0, "invoke", "enqueue", json!(2)),
        (0, "ok", "enqueue", json!(2)),
        (1, "invoke", "dequeue", json!(null)),
        (1, "ok", "dequeue", json!(2)),
    ];
    assert_verdict(Model::Queue, &rows, Valid);
    let r = verdict(Model::FifoQueue, &rows);
    assert_eq!(r.valid, Invalid, "{}", r.summary);
    assert!(
        r.summary.contains("dequeue by process 1 returned 2"),
        "{}",
        r.summary
    );
    assert!(r.summary.contains("value at [1, 2]"), "{}", r.summary);
    // Concurrent enqueues may be ordered either way.
    assert_verdict(
        Model::FifoQueue,
        &[
            (0, "invoke", "enqueue", json!(1)),
            (2, "invoke", "enqueue", json!(2)),
            (0, "ok", "enqueue", json!(1)),
            (2, "ok", "enqueue", json!(2)),
            (1, "invoke", "dequeue", json!(null)),
            (1, "ok", "dequeue", json!(2)),
        ],
        Valid,
    );
}

#[test]
fn dequeue_of_what_nobody_enqueued_or_before_its_enqueue_is_invalid() {
    for m in QUEUES {
        assert_verdict(
            m,
            &[
                (0, "invoke", "enqueue", json!(1)),
                (0, "ok", "enqueue", json!(1)),
                (1, "invoke", "dequeue", json!(null)),
                (1, "ok", "dequeue", json!(3)),
            ],
            Invalid,
        );
        assert_verdict(
            m,
            &[
                (1, "invoke", "dequeue", json!(null)),
                (1, "ok", "dequeue", json!(1)),
                (0, "invoke", "enqueue", json!(1)),
                (0, "ok", "enqueue", json!(1)),
            ],
            Invalid,
        );
        // A failed enqueue did nothing.
        assert_verdict(
            m,
            &[
                (0, "invoke", "enqueue", json!(1)),
                (0, "fail", "enqueue", json!(1)),
                (1, "invoke", "dequeue", json!(null)),
                (1, "ok", "dequeue", json!(1)),
            ],
            Invalid,
        );
    }
}

#[test]
fn empty_dequeues_tell_nothing() {
    for m in QUEUES {
        for (t, v) in [("fail", json!(null)), ("ok", json!(null))] {
            assert_verdict(
                m,
                &[
                    (0, "invoke", "enqueue", json!(1)),
                    (0, "ok", "enqueue", json!(1)),
                    (1, "invoke", "dequeue", json!(null)),
                    (1, t, "dequeue", v.clone()),
                    (1, "invoke", "dequeue", json!(null)),
                    (1, "ok", "dequeue", json!(1)),
                ],
                Valid,
            );
        }
    }
}

#[test]
fn a_crashed_fifo_dequeue_may_have_taken_the_front() {
    // Knossos would call this invalid (it applies the crashed dequeue's
    // nil value, which never matches): here the crashed dequeue took 1.
    let rows = [
        (0, "invoke", "enqueue", json!(1)),
        (0, "ok", "enqueue", json!(1)),
        (0, "invoke", "enqueue", json!(2)),
        (0, "ok", "enqueue", json!(2)),
        (1, "invoke", "dequeue", json!(null)),
        (1, "info", "dequeue", json!(null)),
        (2, "invoke", "dequeue", json!(null)),
        (2, "ok", "dequeue", json!(2)),
    ];
    assert_verdict(Model::FifoQueue, &rows, Valid);
    // But it takes only one.
    let mut more = rows.to_vec();
    more.splice(
        2..2,
        [
            (0, "invoke", "enqueue", json!(0)),
            (0, "ok", "enqueue", json!(0)),
        ],
    );
    assert_verdict(Model::FifoQueue, &more, Invalid);
}

#[test]
fn keyed_queues_are_split_and_the_bad_key_is_named() {
    let rows = [
        (0, "invoke", "enqueue", json!(["a", 1])),
        (0, "ok", "enqueue", json!(["a", 1])),
        (0, "invoke", "enqueue", json!(["b", 1])),
        (0, "ok", "enqueue", json!(["b", 1])),
        (0, "invoke", "enqueue", json!(["b", 2])),
        (0, "ok", "enqueue", json!(["b", 2])),
        (1, "invoke", "dequeue", json!(["a", null])),
        (1, "ok", "dequeue", json!(["a", 1])),
        (1, "invoke", "dequeue", json!(["b", null])),
        (1, "ok", "dequeue", json!(["b", 2])),
    ];
    let r = verdict(Model::FifoQueue, &rows);
    assert_eq!(r.valid, Invalid, "{}", r.summary);
    assert_eq!(r.details["keys"], 2);
    assert_eq!(r.details["invalid_keys"], json!(["b"]));
    assert_verdict(Model::Queue, &rows, Valid);
}

// ---------------------------------------------------------------- set

#[test]
fn set_read_missing_an_acknowledged_add_is_invalid() {
    let r = verdict(
        Model::LinearSet,
        &[
            (0, "invoke", "add", json!(1)),
            (0, "ok", "add", json!(1)),
            (0, "invoke", "add", json!(2)),
            (0, "ok", "add", json!(2)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([2])),
        ],
    );
    assert_eq!(r.valid, Invalid, "{}", r.summary);
    assert!(r.summary.contains("value at #{1, 2}"), "{}", r.summary);
}

#[test]
fn set_reads_see_concurrent_and_crashed_adds_either_way_but_only_grow() {
    // A concurrent add may or may not be seen.
    for seen in [json!([1]), json!([1, 2]), json!([2, 1])] {
        assert_verdict(
            Model::LinearSet,
            &[
                (0, "invoke", "add", json!(1)),
                (0, "ok", "add", json!(1)),
                (0, "invoke", "add", json!(2)),
                (1, "invoke", "read", json!(null)),
                (1, "ok", "read", seen),
                (0, "ok", "add", json!(2)),
            ],
            Valid,
        );
    }
    // A crashed add seen later, and not before.
    assert_verdict(
        Model::LinearSet,
        &[
            (0, "invoke", "add", json!(1)),
            (0, "info", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([])),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([1])),
        ],
        Valid,
    );
    // Once seen, it cannot vanish.
    assert_verdict(
        Model::LinearSet,
        &[
            (0, "invoke", "add", json!(1)),
            (0, "info", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([1])),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([])),
        ],
        Invalid,
    );
    // A failed add did nothing; a value nobody added cannot be read.
    for add in ["fail", "ok"] {
        assert_verdict(
            Model::LinearSet,
            &[
                (0, "invoke", "add", json!(1)),
                (0, add, "add", json!(1)),
                (1, "invoke", "read", json!(null)),
                (1, "ok", "read", json!([1, 3])),
            ],
            Invalid,
        );
    }
}

#[test]
fn set_read_must_return_a_collection() {
    let r = verdict(
        Model::LinearSet,
        &[
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(3)),
        ],
    );
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.summary.contains("whole set"), "{}", r.summary);
}

// ---------------------------------------------------------------- multi-register

#[test]
fn multi_register_transactions_are_atomic() {
    let writes = |a, b| json!([["write", "x", a], ["write", "y", b]]);
    let read = |a, b| json!([["read", "x", a], ["read", "y", b]]);
    let rows = |seen: Value| {
        vec![
            (0, "invoke", "txn", writes(1, 1)),
            (1, "invoke", "txn", writes(2, 2)),
            (0, "ok", "txn", writes(1, 1)),
            (1, "ok", "txn", writes(2, 2)),
            (2, "invoke", "txn", read(Value::Null, Value::Null)),
            (2, "ok", "txn", seen),
        ]
    };
    assert_verdict(Model::MultiRegister, &rows(read(json!(2), json!(2))), Valid);
    assert_verdict(Model::MultiRegister, &rows(read(json!(1), json!(1))), Valid);
    // A torn read: half of each transaction.
    assert_verdict(
        Model::MultiRegister,
        &rows(read(json!(1), json!(2))),
        Invalid,
    );
    // A nil read is no evidence.
    assert_verdict(
        Model::MultiRegister,
        &rows(read(json!(1), Value::Null)),
        Valid,
    );
}

#[test]
fn multi_register_reads_its_own_writes_and_spells_r_and_w_too() {
    let own = |v| {
        vec![
            (0, "invoke", "txn", json!([["w", "x", 5], ["r", "x", null]])),
            (0, "ok", "txn", json!([["w", "x", 5], ["r", "x", v]])),
        ]
    };
    assert_verdict(Model::MultiRegister, &own(5), Valid);
    assert_verdict(Model::MultiRegister, &own(4), Invalid);
    // Writing null makes the register null again (as at the start).
    assert_verdict(
        Model::MultiRegister,
        &[
            (0, "invoke", "txn", json!([["w", "x", 5], ["w", "x", null]])),
            (0, "ok", "txn", json!([["w", "x", 5], ["w", "x", null]])),
            (0, "invoke", "txn", json!([["r", "x", null]])),
            (0, "ok", "txn", json!([["r", "x", null]])),
            (1, "invoke", "txn", json!([["w", "y", 1]])),
            (1, "ok", "txn", json!([["w", "y", 1]])),
        ],
        Valid,
    );
}

#[test]
fn multi_register_crashed_txn_writes_may_be_seen_failed_ones_not() {
    let rows = |t| {
        vec![
            (
                0,
                "invoke",
                "txn",
                json!([["write", "x", 1], ["read", "y", null]]),
            ),
            (0, t, "txn", json!([["write", "x", 1], ["read", "y", null]])),
            (1, "invoke", "txn", json!([["read", "x", null]])),
            (1, "ok", "txn", json!([["read", "x", 1]])),
        ]
    };
    assert_verdict(Model::MultiRegister, &rows("info"), Valid);
    assert_verdict(Model::MultiRegister, &rows("fail"), Invalid);
}

#[test]
fn multi_register_initial_values_and_keyed_tuples() {
    let h0 = h(&[
        (
            0,
            "invoke",
            "txn",
            json!([["read", "x", null], ["read", "y", null]]),
        ),
        (0, "ok", "txn", json!([["read", "x", 0], ["read", "y", 0]])),
    ]);
    let zero = json!({"x": 0, "y": 0});
    assert_eq!(
        check_multi_register(&h0, zero.as_object().unwrap(), &Options::default()).valid,
        Valid
    );
    assert_eq!(check(&h0, Model::MultiRegister).valid, Invalid);
    // A txn of two micro-ops is not a [key value] tuple...
    assert_eq!(check(&h0, Model::MultiRegister).details["keys"], 1);
    // ... but [key [micro-ops]] is.
    let keyed = h(&[
        (0, "invoke", "txn", json!(["k1", [["write", "x", 1]]])),
        (0, "ok", "txn", json!(["k1", [["write", "x", 1]]])),
        (1, "invoke", "txn", json!(["k2", [["read", "x", null]]])),
        (1, "ok", "txn", json!(["k2", [["read", "x", 1]]])),
    ]);
    let r = check(&keyed, Model::MultiRegister);
    assert_eq!(r.valid, Invalid, "{}", r.summary);
    assert_eq!(r.details["invalid_keys"], json!(["k2"]));
}

#[test]
fn ops_a_model_does_not_know_give_unknown_with_the_fix() {
    let r = verdict(
        Model::Mutex,
        &[
            (0, "invoke", "lock", json!(null)),
            (0, "ok", "lock", json!(null)),
        ],
    );
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.summary
            .contains("mutex model knows acquire and release, not \"lock\""),
        "{}",
        r.summary
    );
    let r = verdict(
        Model::MultiRegister,
        &[(0, "invoke", "txn", json!([["cas", "x", 1]]))],
    );
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.summary.contains("[read k v] or [write k v]"),
        "{}",
        r.summary
    );
}

// ---------------------------------------------------------------- brute force

/// A tiny xorshift generator (deterministic: the same histories every run).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What a recorded op is, for the brute-force checker.
#[derive(Clone, Copy, Debug)]
enum Act {
    Enqueue(i64),
    /// An ok dequeue that returned a value.
    Dequeue(i64),
    /// A dequeue whose result is unknown (info or pending).
    DequeueUnknown,
    Acquire,
    Release,
}

/// One op: its invocation's and completion's positions (`None`: may take
/// effect at any time after its invocation, or never) and what it did.
#[derive(Clone, Copy, Debug)]
struct BOp {
    call: usize,
    ret: Option<usize>,
    act: Act,
}

/// Is there an order of some of the ops (all those with a completion),
/// each placed after every op that completed before it was invoked, that
/// the specification accepts? Tries every order; for the unordered queue an
/// unknown dequeue may take out any one element (or nothing, if empty).
fn brute(model: Model, ops: &[BOp]) -> bool {
    fn go(model: Model, ops: &[BOp], done: &mut Vec<bool>, state: &mut Vec<i64>) -> bool {
        if (0..ops.len()).all(|i| done[i] || ops[i].ret.is_none()) {
            return true;
        }
        // The earliest completion among ops not yet placed.
        let first_ret = (0..ops.len())
            .filter(|&i| !done[i])
            .filter_map(|i| ops[i].ret)
            .min()
            .unwrap_or(usize::MAX);
        for i in 0..ops.len() {
            if done[i] || ops[i].call > first_ret {
                continue;
            }
            let saved = state.clone();
            let mut nexts: Vec<Vec<i64>> = Vec::new();
            match (model, ops[i].act) {
                (Model::Mutex, Act::Acquire) if state.is_empty() => nexts.push(vec![1]),
                (Model::Mutex, Act::Release) if !state.is_empty() => nexts.push(vec![]),
                (_, Act::Enqueue(v)) => {
                    let mut s = state.clone();
                    s.push(v);
                    nexts.push(s);
                }
                (Model::FifoQueue, Act::Dequeue(v)) if state.first() == Some(&v) => {
                    nexts.push(state[1..].to_vec())
                }
                (Model::Queue, Act::Dequeue(v)) => {
                    if let Some(at) = state.iter().position(|&x| x == v) {
                        let mut s = state.clone();
                        s.remove(at);
                        nexts.push(s);
                    }
                }
                (Model::FifoQueue, Act::DequeueUnknown) => {
                    nexts.push(state.get(1..).unwrap_or_default().to_vec())
                }
                (Model::Queue, Act::DequeueUnknown) => {
                    if state.is_empty() {
                        nexts.push(vec![]);
                    }
                    for at in 0..state.len() {
                        let mut s = state.clone();
                        s.remove(at);
                        nexts.push(s);
                    }
                }
                _ => {}
            }
            for next in nexts {
                *state = next;
                done[i] = true;
                if go(model, ops, done, state) {
                    return true;
                }
                done[i] = false;
            }
            *state = saved;
        }
        false
    }
    go(model, ops, &mut vec![false; ops.len()], &mut Vec::new())
}

/// A random history of at most `n` ops by 3 processes, as rows and as the
/// brute-force checker's ops. Completions: 70 % ok, 15 % info, 15 % fail
/// (a failed op is left out of the brute-force ops: it did nothing); a
/// dequeue returns a random small value, or nil (empty: no evidence).
fn random_history(model: Model, rng: &mut Rng, n: usize) -> (Vec<Row>, Vec<BOp>) {
    let mut rows = Vec::new();
    let mut ops = Vec::new();
    // Per process: the op it has under way (row of its invocation, f, arg).
    let mut open: [Option<(usize, &'static str, i64)>; 3] = [None; 3];
    let mut started = 0;
    while started < n || open.iter().any(Option::is_some) {
        let p = rng.below(3) as usize;
        match open[p] {
            None if started < n => {
                let (f, arg) = match model {
                    Model::Mutex if rng.below(2) == 0 => ("acquire", 0),
                    Model::Mutex => ("release", 0),
                    _ if rng.below(2) == 0 => ("enqueue", 1 + rng.below(3) as i64),
                    _ => ("dequeue", 0),
                };
                let v = if f == "enqueue" {
                    json!(arg)
                } else {
                    json!(null)
                };
                open[p] = Some((rows.len(), f, arg));
                rows.push((p as u64, "invoke", f, v));
                started += 1;
            }
            None => {}
            Some((call, f, arg)) => {
                open[p] = None;
                let t = match rng.below(20) {
                    0..=13 => "ok",
                    14..=16 => "info",
                    _ => "fail",
                };
                // Leave some ops pending at the end: no completion at all.
                if t == "info" && started >= n && rng.below(2) == 0 {
                    let act = match f {
                        "enqueue" => Act::Enqueue(arg),
                        "dequeue" => Act::DequeueUnknown,
                        "acquire" => Act::Acquire,
                        _ => Act::Release,
                    };
                    ops.push(BOp {
                        call,
                        ret: None,
                        act,
                    });
                    continue;
                }
                let (v, act) = match f {
                    "enqueue" => (json!(arg), Act::Enqueue(arg)),
                    "dequeue" => match (t, rng.below(4)) {
                        ("ok", 0) => (json!(null), Act::DequeueUnknown),
                        ("ok", x) => (json!(x), Act::Dequeue(x as i64)),
                        _ => (json!(null), Act::DequeueUnknown),
                    },
                    "acquire" => (json!(null), Act::Acquire),
                    _ => (json!(null), Act::Release),
                };
                let ret = (t == "ok").then_some(rows.len());
                rows.push((p as u64, t, f, v.clone()));
                // An ok dequeue of nil (empty) is no evidence: as if
                // unknown, except that it must not take anything out...
                // so it is left out, like a failed op.
                let empty_ok = t == "ok" && f == "dequeue" && v.is_null();
                if t != "fail" && !empty_ok {
                    ops.push(BOp { call, ret, act });
                }
            }
        }
    }
    (rows, ops)
}

#[test]
fn verdicts_match_a_brute_force_checker_on_small_random_histories() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for model in [Model::Queue, Model::FifoQueue, Model::Mutex] {
        let (mut valid, mut invalid) = (0, 0);
        for round in 0..1000 {
            let (rows, ops) = random_history(model, &mut rng, 3 + round % 6);
            let want = brute(model, &ops);
            let r = check(&h(&rows), model);
            let got = match r.valid {
                Valid => true,
                Invalid => false,
                Validity::Unknown => panic!("{}: unknown: {}", model.name(), r.summary),
            };
            assert_eq!(
                got,
                want,
                "{} disagrees with brute force on {rows:?}: {}",
                model.name(),
                r.summary
            );
            if want {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        // Both verdicts are well represented, so the comparison means
        // something either way.
        assert!(
            valid > 60 && invalid > 60,
            "{}: {valid} valid, {invalid} invalid",
            model.name()
        );
    }
}
