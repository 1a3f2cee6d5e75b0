//! Counterexamples that tell the truth, on histories where they used not to:
//! Knossos's `memstress3-54` (values repeat, and the cause is a failed cas
//! that an earlier shrink left out) and a register with many indeterminate
//! writes (where the shrink used to run out of budget and keep everything).

use checkers::linear::{self, Model};
use checkers::{parse, History, OpType, Validity};
use serde_json::{json, Value};

use crate::util::{self, history as h};

/// A Knossos history vendored under `tests/data/knossos`.
fn knossos(path: &str) -> History {
    let text = util::read_data(&format!("knossos/{path}"));
    parse::edn(&text).unwrap_or_else(|e| panic!("knossos/{path}: {e}"))
}

/// The history without its failed ops (Knossos's reading).
fn without_failed(h: &History) -> History {
    let mut drop = vec![false; h.ops.len()];
    for pair in h.pairs() {
        if let Some(c) = pair.complete {
            if h.ops[c].kind == OpType::Fail {
                drop[pair.invoke] = true;
                drop[c] = true;
            }
        }
    }
    History::new(
        h.ops
            .iter()
            .zip(&drop)
            .filter(|(_, d)| !**d)
            .map(|(o, _)| o.clone())
            .collect(),
    )
}

/// One invocation with its completion, as the counterexample JSON has it.
struct Done {
    f: String,
    kind: &'static str,
    value: Value,
    result: Value,
    invoke: u64,
    complete: Option<u64>,
}

/// The history's ops, by invocation position (their `invoke_index` when
/// the history has no indices).
fn ops_of(h: &History) -> Vec<Done> {
    h.pairs()
        .into_iter()
        .map(|p| {
            let c = p.complete.map(|c| &h.ops[c]);
            Done {
                f: h.ops[p.invoke].f.clone(),
                kind: match c.map(|c| c.kind) {
                    Some(OpType::Ok) => "ok",
                    Some(OpType::Fail) => "fail",
                    _ => "info",
                },
                value: h.ops[p.invoke].value.clone(),
                result: c.map_or(Value::Null, |c| c.value.clone()),
                invoke: p.invoke as u64,
                complete: p.complete.map(|c| c as u64),
            }
        })
        .collect()
}

/// Every op setting a value that a counterexample's read returned (or ok
/// cas expected), invoked before that op completed, is in it.
fn assert_keeps_every_possible_writer(h: &History, r: &checkers::CheckResult) {
    let all = ops_of(h);
    let cex: Vec<u64> = r.details["violation"]["counterexample"]["ops"]
        .as_array()
        .unwrap_or_else(|| panic!("no counterexample: {}", r.details))
        .iter()
        .map(|o| o["invoke_index"].as_u64().unwrap())
        .collect();
    for o in all
        .iter()
        .filter(|o| cex.contains(&o.invoke) && o.kind == "ok")
    {
        let wanted = match o.f.as_str() {
            "read" => o.result.clone(),
            "cas" => o.value[0].clone(),
            _ => continue,
        };
        for w in &all {
            let sets = match (w.f.as_str(), w.kind) {
                (_, "fail") => continue,
                ("write", _) => &w.value,
                ("cas", _) => &w.value[1],
                _ => continue,
            };
            if *sets == wanted && w.invoke < o.complete.unwrap() {
                assert!(
                    cex.contains(&w.invoke),
                    "the counterexample leaves out the {} of {wanted} at #{}, which could explain the {} at #{}: {}",
                    w.f,
                    w.invoke,
                    o.f,
                    o.invoke,
                    r.summary
                );
            }
        }
    }
}

#[test]
fn memstress3_54_counterexample_keeps_the_failed_cas_and_every_write_of_3() {
    // Knossos files this history as good: it drops failed ops. faultline
    // reads a failed cas as evidence, and then it is not linearizable:
    // `cas [3 3]` failed at #96–#97 (so the register did not hold 3), yet
    // `cas 3→4` succeeded at #118–#126 and nothing wrote 3 in between.
    let h = knossos("cas-register/good/memstress3-54.edn");
    assert_eq!(
        linear::check(&without_failed(&h), Model::Register).valid,
        Validity::Valid
    );
    let r = linear::check(&h, Model::Register);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    let c = &r.details["violation"]["counterexample"];
    assert_eq!(c["kind"], "set", "{c}");
    let ops = c["ops"].as_array().unwrap();
    // The failed cas the verdict rests on is there.
    assert!(
        ops.iter()
            .any(|o| o["f"] == "cas" && o["type"] == "fail" && o["value"] == json!([3, 3])),
        "{}",
        r.summary
    );
    // The old counterexample: write 3, write 1, read 3, leaving out the
    // writes of 3 at #61–#72 and #62–#64.
    assert!(
        ops.iter()
            .filter(|o| o["f"] == "write" && o["value"] == 3)
            .count()
            >= 3,
        "{}",
        r.summary
    );
    assert_keeps_every_possible_writer(&h, &r);
    // It names the op its own search could not place.
    assert!(c["blocked_op"].is_object(), "{c}");
    assert_eq!(c["minimal"], true, "{c}");
}

/// Write 1, then `n` clients cut off mid-write (each a write of its own
/// value that never returns, half of them `info`), then `tail`.
fn many_pending(n: u64, tail: &[(u64, &str, &str, Value)]) -> History {
    let mut rows: Vec<(u64, &str, &str, Value)> = vec![
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
    ];
    for i in 0..n {
        rows.push((100 + i, "invoke", "write", json!(100 + i)));
        if i % 2 == 0 {
            rows.push((100 + i, "info", "write", json!(100 + i)));
        }
    }
    rows.extend(tail.iter().cloned());
    h(&rows)
}

#[test]
fn many_indeterminate_writes_nobody_read_leave_a_small_minimal_counterexample() {
    // 60 writes of unknown outcome, none of whose values anyone read, then
    // write 2 and a stale read of 1: the counterexample is the stale read
    // and the two writes, found in a handful of steps.
    let tail = [
        (1, "invoke", "write", json!(2)),
        (1, "ok", "write", json!(2)),
        (2, "invoke", "read", json!(null)),
        (2, "ok", "read", json!(1)),
    ];
    let r = linear::check(&many_pending(60, &tail), Model::Register);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    let c = &r.details["violation"]["counterexample"];
    assert_eq!(c["minimal"], true, "{c}");
    let ops = c["ops"].as_array().unwrap();
    assert_eq!(ops.len(), 3, "{c}");
    assert!(
        ops.iter().any(|o| o["f"] == "read" && o["result"] == 1),
        "{c}"
    );
    assert!(
        r.details["search_steps"].as_u64().unwrap() < 1_000,
        "{}",
        r.details
    );
    // If one of them had written 1 again, the read would be explained.
    let mut explained = tail.to_vec();
    explained.insert(2, (7, "invoke", "write", json!(1)));
    let r = linear::check(&many_pending(60, &explained), Model::Register);
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
}

#[test]
fn indeterminate_writes_before_a_failed_cas_are_evidence_it_may_rely_on() {
    // A failed cas [1 2] says the register did not hold 1 then: one of the
    // writes of unknown outcome may have changed it. Then a write of 1 of
    // unknown outcome makes a later read of 1 possible.
    let tail = [
        (1, "invoke", "cas", json!([1, 2])),
        (1, "fail", "cas", json!([1, 2])),
        (3, "invoke", "write", json!(1)),
        (2, "invoke", "read", json!(null)),
        (2, "ok", "read", json!(1)),
    ];
    let r = linear::check(&many_pending(40, &tail), Model::Register);
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    // Without that last write, the read of 1 after the failed cas is
    // impossible, and the counterexample keeps the failed cas with every
    // write it could have relied on.
    let stale = [
        tail[0].clone(),
        tail[1].clone(),
        tail[3].clone(),
        tail[4].clone(),
    ];
    let hist = many_pending(40, &stale);
    let r = linear::check(&hist, Model::Register);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    let c = &r.details["violation"]["counterexample"];
    let ops = c["ops"].as_array().unwrap();
    assert!(
        ops.iter().any(|o| o["f"] == "cas" && o["type"] == "fail"),
        "{c}"
    );
    assert_eq!(ops.len(), 43, "{c}");
    assert_keeps_every_possible_writer(&hist, &r);
}
