//! Hand-built histories with known verdicts.

use super::*;
use crate::history::{Op, OpType, Process};
use search::Outcome;
use serde_json::json;

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

fn reg(rows: &[(u64, &str, &str, Value)]) -> CheckResult {
    check(&h(rows), Model::Register)
}

#[test]
fn sequential_register_history_is_valid_and_initial_value_is_nil() {
    let r = reg(&[
        (0, "invoke", "read", json!(null)),
        (0, "ok", "read", json!(null)),
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (0, "invoke", "cas", json!([1, 2])),
        (0, "ok", "cas", json!([1, 2])),
        (0, "invoke", "read", json!(null)),
        (0, "ok", "read", json!(2)),
    ]);
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    assert_eq!(r.checker, "linearizable");
}

#[test]
fn read_of_never_written_value_is_invalid() {
    let r = reg(&[
        (0, "invoke", "read", json!(null)),
        (0, "ok", "read", json!(5)),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    assert!(
        r.summary.contains("read by process 0 returned 5"),
        "{}",
        r.summary
    );
}

#[test]
fn stale_read_hidden_among_concurrent_writes_is_invalid() {
    // w1 completes; then w2 and w3 run concurrently with reads. Reader 3 sees
    // 2, then (strictly later) reader 4 sees 1: 1 was overwritten before w2
    // and w3 began, and nothing writes 1 again, so 1 is stale.
    let rows = [
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "write", json!(2)),
        (2, "invoke", "write", json!(3)),
        (3, "invoke", "read", json!(null)),
        (3, "ok", "read", json!(2)),
        (4, "invoke", "read", json!(null)),
        (4, "ok", "read", json!(1)),
        (1, "ok", "write", json!(2)),
        (2, "ok", "write", json!(3)),
    ];
    let r = reg(&rows);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    let ce = &r.details["violation"]["counterexample"]["ops"];
    let ops = ce.as_array().unwrap();
    // The shrunk set must contain the stale read and the read of 2, and
    // can do without the concurrent write of 3.
    assert!(
        ops.iter().any(|o| o["f"] == "read" && o["result"] == 1),
        "{ce}"
    );
    assert!(
        ops.iter().any(|o| o["f"] == "read" && o["result"] == 2),
        "{ce}"
    );
    assert!(!ops.iter().any(|o| o["value"] == 3), "{ce}");
    // Same history, but the stale reader overlaps the write of 2: valid.
    let mut ok_rows = rows.to_vec();
    ok_rows.swap(5, 6); // reader 4 invoked before reader 3 completed
    ok_rows.swap(4, 5);
    let r = reg(&ok_rows);
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
}

#[test]
fn the_counterexample_keeps_the_failure_the_history_has_when_values_repeat() {
    // 1 is written twice; a cas 1→2 and a cas 1→1 each see a 1 that was
    // really there (the second write of 1 sits between them). Later 3 is
    // written and a read still returns 1: that stale read is the only
    // thing wrong. Dropping the second write of 1 (the first one still
    // "provides" 1) would leave two compare-and-sets that cannot both
    // succeed, a failure the history does not have; the counterexample
    // must stay about the stale read.
    let r = reg(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "cas", json!([1, 2])),
        (1, "ok", "cas", json!([1, 2])),
        (2, "invoke", "write", json!(1)),
        (2, "ok", "write", json!(1)),
        (3, "invoke", "cas", json!([1, 1])),
        (3, "ok", "cas", json!([1, 1])),
        (4, "invoke", "write", json!(3)),
        (4, "ok", "write", json!(3)),
        (5, "invoke", "read", json!(null)),
        (5, "ok", "read", json!(1)),
    ]);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    let v = &r.details["violation"];
    assert_eq!(v["blocked_op"]["f"], "read", "{v}");
    let ops = v["counterexample"]["ops"].as_array().unwrap();
    // Not linearizable by itself for the stale read's reason: some write
    // of 1, the write of 3, the read of 1, and no pair of cas ops whose
    // own order fails.
    assert!(
        ops.iter().any(|o| o["f"] == "write" && o["value"] == 3),
        "{v}"
    );
    assert!(
        ops.iter().any(|o| o["f"] == "read" && o["result"] == 1),
        "{v}"
    );
    let cas = ops.iter().filter(|o| o["f"] == "cas").count();
    assert!(cas < 2, "two cas ops blamed: {v}");
    assert_eq!(v["counterexample"]["minimal"], true, "{v}");
}

#[test]
fn shrunk_counterexamples_fail_where_the_history_does_on_repeating_values() {
    // Sequential histories of writes and compare-and-sets over 3 values,
    // ending with one stale read: whatever the shrink keeps must, checked
    // alone, be stuck at that read too, never at a pair of ops that only
    // fails because the shrink dropped the write one of them really saw.
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for case in 0..300 {
        let mut rows: Vec<(u64, &str, &str, Value)> = Vec::new();
        let mut current: Option<u64> = None;
        let mut seen: Vec<u64> = Vec::new();
        for p in 0..24 {
            let v = next(3);
            let (f, value) = match current {
                Some(c) if next(2) == 0 => {
                    current = Some(v);
                    ("cas", json!([c, v]))
                }
                _ => {
                    current = Some(v);
                    ("write", json!(v))
                }
            };
            seen.push(v);
            rows.push((p, "invoke", f, value.clone()));
            rows.push((p, "ok", f, value));
        }
        let Some(stale) = seen.iter().copied().find(|v| Some(*v) != current) else {
            continue;
        };
        rows.push((99, "invoke", "read", json!(null)));
        rows.push((99, "ok", "read", json!(stale)));
        let r = reg(&rows);
        assert_eq!(r.valid, Validity::Invalid, "case {case}: {}", r.summary);
        let v = &r.details["violation"];
        assert_eq!(v["blocked_op"]["process"], 99, "case {case}: {v}");
        // The counterexample alone, in its real-time order.
        let mut alone: Vec<(u64, &str, &str, Value)> = Vec::new();
        for o in v["counterexample"]["ops"].as_array().unwrap() {
            let p = o["process"].as_u64().unwrap();
            let f = rows.iter().find(|r| r.0 == p).unwrap().2;
            alone.push((p, "invoke", f, o["value"].clone()));
            let done = if f == "read" {
                o["result"].clone()
            } else {
                o["value"].clone()
            };
            alone.push((p, "ok", f, done));
        }
        let again = reg(&alone);
        assert_eq!(again.valid, Validity::Invalid, "case {case}: {v}");
        assert_eq!(
            again.details["violation"]["blocked_op"]["process"], 99,
            "case {case}: the counterexample fails elsewhere: {v}"
        );
    }
}

#[test]
fn indeterminate_write_must_be_assumed_to_have_happened() {
    // The write of 7 timed out, yet a later read sees 7: valid only
    // because an info write may take effect after its invocation.
    let mut rows = vec![
        (0, "invoke", "write", json!(7)),
        (0, "info", "write", json!(null)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(7)),
    ];
    assert_eq!(reg(&rows).valid, Validity::Valid);
    // A failed write did not happen: the same read is then impossible.
    rows[1].1 = "fail";
    assert_eq!(reg(&rows).valid, Validity::Invalid);
    // An info write may also never happen: a read of nil afterwards is fine.
    rows[1].1 = "info";
    rows[3].3 = json!(null);
    assert_eq!(reg(&rows).valid, Validity::Valid);
    // But it cannot take effect before it was invoked.
    let r = reg(&[
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(7)),
        (0, "invoke", "write", json!(7)),
        (0, "info", "write", json!(null)),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn failed_cas_is_the_only_evidence_of_a_violation() {
    // The register holds 1 throughout (written before, read after), yet a
    // cas 1→2 in between failed: the register did not hold 1 then.
    let mut rows = vec![
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "cas", json!([1, 2])),
        (1, "fail", "cas", json!([1, 2])),
        (2, "invoke", "read", json!(null)),
        (2, "ok", "read", json!(1)),
    ];
    let r = reg(&rows);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    assert!(r.summary.contains("failed cas 1→2"), "{}", r.summary);
    // Dropping the evidence (as Knossos would for a failed op) makes it valid:
    // the failed cas is what the verdict rests on.
    rows.drain(2..4);
    assert_eq!(reg(&rows).valid, Validity::Valid);
    // A failed cas is evidence only as a compare that failed: one that
    // never reached the store (its error says so) did nothing.
    let mut hist = h(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "cas", json!([1, 2])),
        (1, "fail", "cas", json!([1, 2])),
        (2, "invoke", "read", json!(null)),
        (2, "ok", "read", json!(1)),
    ]);
    hist.ops[3].error = Some("connect: Connection refused".into());
    assert_eq!(check(&hist, Model::Register).valid, Validity::Valid);
    hist.ops[3].error = Some(compile::CAS_MISMATCH.into());
    assert_eq!(check(&hist, Model::Register).valid, Validity::Invalid);
    // A failed cas whose `old` differs from the value is fine.
    let r = reg(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "cas", json!([3, 2])),
        (1, "fail", "cas", json!([3, 2])),
    ]);
    assert_eq!(r.valid, Validity::Valid);
}

#[test]
fn pending_ops_at_the_end_may_or_may_not_have_happened() {
    let base = [
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "cas", json!([1, 5])),
        (2, "invoke", "read", json!(null)),
    ];
    for (seen, valid) in [
        (5, Validity::Valid),
        (1, Validity::Valid),
        (9, Validity::Invalid),
    ] {
        let mut rows = base.to_vec();
        rows.push((2, "ok", "read", json!(seen)));
        assert_eq!(reg(&rows).valid, valid, "read {seen}");
    }
    // A pending read tells nothing, and a history of only pending ops is valid.
    let r = reg(&[(3, "invoke", "read", json!(null))]);
    assert_eq!(r.valid, Validity::Valid);
}

#[test]
fn failed_reads_and_writes_did_nothing() {
    let r = reg(&[
        (0, "invoke", "write", json!(4)),
        (0, "fail", "write", json!(4)),
        (1, "invoke", "read", json!(null)),
        (1, "fail", "read", json!(null)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(null)),
    ]);
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
}

#[test]
fn keyed_register_is_split_by_key_and_unsplit_agrees() {
    let rows = [
        (0, "invoke", "write", json!(["a", 1])),
        (0, "ok", "write", json!(["a", 1])),
        (1, "invoke", "cas", json!(["b", [null, 3]])),
        (1, "ok", "cas", json!(["b", [null, 3]])),
        (2, "invoke", "read", json!(["a", null])),
        (2, "ok", "read", json!(["a", 1])),
        (2, "invoke", "read", json!(["b", null])),
        (2, "ok", "read", json!(["b", 1])),
    ];
    let r = reg(&rows);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.details["keys"], 2);
    assert_eq!(r.details["invalid_keys"], json!(["b"]));
    assert!(r.summary.contains("key b:"), "{}", r.summary);
    let opts = Options {
        split_by_key: false,
        ..Options::default()
    };
    let r = check_with(&h(&rows), Model::Register, &opts);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.details["split_by_key"], false);
    let mut fixed = rows.to_vec();
    fixed[7].3 = json!(["b", 3]);
    assert_eq!(reg(&fixed).valid, Validity::Valid);
    assert_eq!(
        check_with(&h(&fixed), Model::Register, &opts).valid,
        Validity::Valid
    );
}

#[test]
fn kv_appends_concatenate_and_keys_start_empty() {
    let kv = |rows: &[(u64, &str, &str, Value)]| check(&h(rows), Model::Kv);
    let rows = [
        (0, "invoke", "get", json!(["k", null])),
        (0, "ok", "get", json!(["k", ""])),
        (1, "invoke", "append", json!(["k", "x"])),
        (2, "invoke", "append", json!(["k", "y"])),
        (1, "ok", "append", json!(["k", "x"])),
        (2, "ok", "append", json!(["k", "y"])),
        (0, "invoke", "get", json!(["k", null])),
        (0, "ok", "get", json!(["k", "yx"])),
        (3, "invoke", "put", json!(["j", "z"])),
        (3, "ok", "put", json!(["j", "z"])),
        (3, "invoke", "append", json!(["j", "w"])),
    ];
    assert_eq!(kv(&rows).valid, Validity::Valid, "{}", kv(&rows).summary);
    let mut bad = rows.to_vec();
    bad[7].3 = json!(["k", "x"]); // y was appended and acknowledged: lost
    let r = kv(&bad);
    assert_eq!(r.valid, Validity::Invalid);
    assert!(
        r.summary.contains("key k:") && r.summary.contains("get by process 0 returned \"x\""),
        "{}",
        r.summary
    );
}

#[test]
fn budget_exhaustion_gives_unknown_not_a_guess() {
    // Many concurrent indeterminate writes and reads of two of them, one
    // after the other: finding the order needs many steps; one step is not
    // enough. (The history is linearizable.)
    let mut rows = Vec::new();
    for p in 0..12 {
        rows.push((p, "invoke", "write", json!(p)));
    }
    rows.push((20, "invoke", "read", json!(null)));
    rows.push((20, "ok", "read", json!(7)));
    rows.push((20, "invoke", "read", json!(null)));
    rows.push((20, "ok", "read", json!(3)));
    let opts = Options {
        budget: Budget {
            max_steps: 1,
            max_cache_bytes: 1 << 20,
        },
        split_by_key: true,
        ..Options::default()
    };
    let r = check_with(&h(&rows), Model::Register, &opts);
    assert_eq!(r.valid, Validity::Unknown, "{}", r.summary);
    assert!(r.summary.contains("budget ran out"), "{}", r.summary);
    assert_eq!(check(&h(&rows), Model::Register).valid, Validity::Valid);
}

#[test]
fn a_stale_read_is_invalid_even_when_the_search_runs_out_of_budget() {
    let opts = Options {
        budget: Budget {
            max_steps: 1,
            max_cache_bytes: 1 << 20,
        },
        ..Options::default()
    };
    // Indeterminate writes (which the search must try in every order)
    // around a write of 1 followed by a write of 2, then a read of 1.
    let mut rows = Vec::new();
    for p in 0..12 {
        rows.push((p, "invoke", "write", json!(100 + p)));
    }
    rows.push((20, "invoke", "read", json!(null)));
    rows.push((20, "ok", "read", json!(105)));
    rows.push((21, "invoke", "write", json!(1)));
    rows.push((21, "ok", "write", json!(1)));
    rows.push((22, "invoke", "write", json!(2)));
    rows.push((22, "ok", "write", json!(2)));
    rows.push((20, "invoke", "read", json!(null)));
    rows.push((20, "ok", "read", json!(1)));
    let r = check_with(&h(&rows), Model::Register, &opts);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    assert!(
        r.summary.contains(
            "read by process 20 returned 1 [#18–#19] cannot be linearized: the only write of 1, write 1 by process 21 [#14–#15], ended before write 2 by process 22 [#16–#17] began"
        ),
        "{}",
        r.summary
    );
    let c = &r.details["violation"]["counterexample"];
    assert_eq!(c["kind"], "stale");
    assert_eq!(c["ops"].as_array().unwrap().len(), 3);
    // The three ops alone are not linearizable; without the later write or
    // the read they are (the source stays: it is the only op that explains
    // the read, so the set is closed).
    let three = [
        rows[14].clone(),
        rows[15].clone(),
        rows[16].clone(),
        rows[17].clone(),
        rows[18].clone(),
        rows[19].clone(),
    ];
    assert_eq!(check(&h(&three), Model::Register).valid, Validity::Invalid);
    for drop in [2, 4] {
        let rest: Vec<_> = three
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop && *i != drop + 1)
            .map(|(_, r)| r.clone())
            .collect();
        assert_eq!(
            check(&h(&rest), Model::Register).valid,
            Validity::Valid,
            "without {drop}"
        );
    }
    // Without the write of 2 it is linearizable.
    let mut ok = rows.clone();
    ok.drain(16..18);
    assert_eq!(
        check_with(&h(&ok), Model::Register, &Options::default()).valid,
        Validity::Valid
    );

    // A read of a value nobody wrote, among the same indeterminate writes.
    let mut never = rows[..14].to_vec();
    never.push((20, "invoke", "read", json!(null)));
    never.push((20, "ok", "read", json!(99)));
    let r = check_with(&h(&never), Model::Register, &opts);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    assert!(
        r.summary
            .contains("no op wrote 99 and the register did not start with it"),
        "{}",
        r.summary
    );
}

#[test]
fn ops_that_do_not_fit_the_model_give_unknown_naming_the_op() {
    let r = reg(&[(0, "invoke", "cas", json!(3)), (0, "ok", "cas", json!(3))]);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.summary.contains("op 0: cas value must be [old new]"),
        "{}",
        r.summary
    );
    let r = check(&h(&[(0, "invoke", "add", json!(1))]), Model::Kv);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.summary.contains("get, put and append"), "{}", r.summary);
}

#[test]
fn counterexample_json_names_processes_indices_and_keys() {
    let r = reg(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(null)),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    let v = &r.details["violation"];
    assert_eq!(v["blocked_op"]["process"], 1);
    assert_eq!(v["blocked_op"]["invoke_index"], 2);
    assert_eq!(v["blocked_op"]["complete_index"], 3);
    assert_eq!(v["counterexample"]["ops"].as_array().unwrap().len(), 2);
    assert_eq!(v["counterexample"]["minimal"], true);
}

#[test]
fn compiling_by_key_equals_splitting_then_compiling() {
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/porcupine/kv/c10-bad.txt"
    );
    let mut histories = vec![
        h(&[
            (0, "invoke", "append", json!(["k", "x"])),
            (1, "invoke", "put", json!(["j", "z"])),
            (0, "ok", "append", json!(["k", "x"])),
            (1, "fail", "put", json!(null)),
            (2, "invoke", "get", json!(["k", null])),
            (2, "invoke", "get", json!(["j", null])),
            (2, "ok", "get", json!(["j", "z"])),
            (3, "invoke", "get", json!(["k", null])),
            (3, "info", "get", json!(null)),
            (4, "ok", "get", json!(["k", "q"])),
            (5, "invoke", "put", json!([7, "n"])),
            (5, "ok", "put", json!([7, "n"])),
        ]),
        h(&[(0, "invoke", "cas", json!(["a", [1, 2]]))]),
    ];
    let mut no_index = histories[0].clone();
    for op in &mut no_index.ops {
        op.index = None;
    }
    histories.push(no_index);
    if let Ok(text) = std::fs::read_to_string(corpus) {
        histories.push(crate::parse::auto(&text).unwrap());
    }
    for history in &histories {
        for (model, reading) in [
            (Model::Kv, Reading::FAULTLINE),
            (Model::Register, Reading::FAULTLINE),
            (Model::Register, Reading::KNOSSOS),
        ] {
            let initial = if model == Model::Kv { "" } else { "null" };
            let fast = compile::compile_by_key(history, model, initial, reading);
            let slow: Vec<_> = crate::keyed::by_key(history)
                .into_iter()
                .map(|(key, sub)| {
                    let mut values = Values::new(initial);
                    let r = compile::compile(
                        &sub,
                        model,
                        &mut values,
                        false,
                        Some(&key),
                        &mut Vec::new(),
                        reading,
                    );
                    (key, r, sub)
                })
                .collect();
            assert_eq!(fast.len(), slow.len());
            for ((k1, r1), (k2, r2, sub)) in fast.iter().zip(&slow) {
                assert_eq!(k1, k2);
                let (p1, p2) = match (r1, r2) {
                    (Ok((p1, _)), Ok(p2)) => (p1, p2),
                    (Err(e1), Err(e2)) => {
                        assert_eq!(e1, e2);
                        continue;
                    }
                    _ => panic!("{k1}: {r1:?} vs {r2:?}"),
                };
                assert_eq!(p1.ops, p2.ops);
                assert_eq!(p1.call_at, p2.call_at);
                assert_eq!(p1.return_at, p2.return_at);
                assert_eq!(p1.key_names, p2.key_names);
                for i in 0..p1.ops.len() {
                    // The same op, looked up in the whole history and in
                    // the sub-history.
                    let (v1, v2) = (p1.view(history, i), p2.view(sub, i));
                    assert_eq!(
                        (v1.key, v1.f, v1.argument, v1.result),
                        (v2.key, v2.f, v2.argument, v2.result)
                    );
                    let (a, b) = (v1.info, v2.info);
                    assert_eq!(
                        (
                            a.key,
                            a.process,
                            a.outcome,
                            a.invoke_index,
                            a.complete_index
                        ),
                        (
                            b.key,
                            b.process,
                            b.outcome,
                            b.invoke_index,
                            b.complete_index
                        )
                    );
                    assert_eq!(
                        (a.invoke_time, a.complete_time, a.done_at.is_some()),
                        (b.invoke_time, b.complete_time, b.done_at.is_some())
                    );
                }
            }
        }
    }
}

#[test]
fn a_search_stopped_by_the_step_limit_resumes_where_it_stopped() {
    // Many concurrent indeterminate writes and compare-and-sets (each
    // value expected by a cas, so that the search cannot merge them) and a
    // read of a value nobody wrote: thousands of configurations to rule
    // out. And a valid variant.
    let mut rows = Vec::new();
    for p in 0..9 {
        rows.push((p, "invoke", "write", json!(p)));
        rows.push((p + 10, "invoke", "cas", json!([p, (p + 1) % 9])));
    }
    rows.push((20, "invoke", "read", json!(null)));
    rows.push((20, "ok", "read", json!(99)));
    let bad = h(&rows);
    let last = rows.len() - 1;
    rows[last].3 = json!(4);
    let good = h(&rows);
    for (history, want_violation) in [(bad, true), (good, false)] {
        let compiled = || {
            let mut values = Values::new("null");
            let p = compile::compile(
                &history,
                Model::Register,
                &mut values,
                false,
                None,
                &mut Vec::new(),
                Reading::default(),
            )
            .unwrap();
            (p, Single::new(values))
        };
        let (p, mut m) = compiled();
        let ev = search::events(&p);
        let mut one = search::Search::default();
        one.reset(&p, &ev, None, &mut m);
        let mut spent = Spent::default();
        let outcome = one.run(&p, &mut m, &Budget::default(), &mut spent);
        assert_eq!(matches!(outcome, Outcome::Violation(_)), want_violation);
        let (full_steps, n) = (spent.steps, p.ops.len() as u64);
        assert!(full_steps > 100 || !want_violation, "{full_steps}");

        let (p, mut m) = compiled();
        let mut sliced = search::Search::default();
        sliced.reset(&p, &ev, None, &mut m);
        let mut spent = Spent::default();
        let mut stops = 0;
        let outcome = loop {
            let budget = Budget {
                max_steps: spent.steps + 7,
                ..Budget::default()
            };
            match sliced.run(&p, &mut m, &budget, &mut spent) {
                Outcome::OutOfBudget("step limit") => stops += 1,
                other => break other,
            }
        };
        assert_eq!(matches!(outcome, Outcome::Violation(_)), want_violation);
        assert!(stops > 10 || !want_violation, "{stops}");
        assert!(
            spent.steps <= full_steps + stops * (n + 1),
            "{} steps sliced vs {full_steps} in one go, {stops} stops",
            spent.steps
        );
    }
}

#[test]
fn equal_strings_get_equal_ids_however_they_were_built() {
    let mut v = Values::new("");
    let (a, b, c) = (v.intern("x 1 y"), v.intern("x 2 y"), v.intern("x"));
    let ab = v.concat(a, b);
    assert_eq!(v.text(ab), "x 1 yx 2 y");
    // The same text built another way, or read from the history, is the same id.
    let tail = v.intern(" 1 yx 2 y");
    assert_eq!(v.concat(c, tail), ab);
    assert_eq!(v.intern("x 1 yx 2 y"), ab);
    assert_ne!(v.concat(b, a), ab);
    assert_eq!(v.concat(0, a), a);
    assert_eq!(v.concat(a, 0), a);
    assert_eq!(v.len(ab), 10);
    // A flat value interned first is found by a later concatenation.
    let flat = v.intern("x 2 yx 1 y");
    assert_eq!(v.concat(b, a), flat);
}

#[test]
fn verdict_only_skips_the_counterexample_but_names_the_blocked_op() {
    let rows = [
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(null)),
    ];
    let opts = Options {
        counterexample: false,
        ..Options::default()
    };
    let r = check_with(&h(&rows), Model::Register, &opts);
    assert_eq!(r.valid, Validity::Invalid);
    assert!(
        r.summary.contains("read by process 1 returned null") && r.summary.contains("1 of 2 ops"),
        "{}",
        r.summary
    );
    let v = &r.details["violation"];
    assert_eq!(v["blocked_op"]["invoke_index"], 2);
    assert_eq!(v["longest_prefix"], json!([0]));
    assert_eq!(v["counterexample"], Value::Null);
    // The default still shrinks, with the same verdict.
    let full = reg(&rows);
    assert_eq!(full.valid, Validity::Invalid);
    assert_eq!(
        full.details["violation"]["longest_prefix"][0]["invoke_index"],
        0
    );
    assert_eq!(full.details["violation"]["counterexample"]["minimal"], true);
}

#[test]
fn colliding_hashes_never_merge_different_strings() {
    // Thue–Morse strings and their complements collide under any polynomial
    // hash modulo 2^64 at length 2^11: the ids must still differ.
    let mut t = vec![b'a'];
    while t.len() < 1 << 11 {
        let flipped: Vec<u8> = t
            .iter()
            .map(|&c| if c == b'a' { b'b' } else { b'a' })
            .collect();
        t.extend(flipped);
    }
    let u: Vec<u8> = t
        .iter()
        .map(|&c| if c == b'a' { b'b' } else { b'a' })
        .collect();
    let (t, u) = (String::from_utf8(t).unwrap(), String::from_utf8(u).unwrap());
    let mut v = Values::new("");
    let (a, b) = (v.intern(&t), v.intern(&u));
    assert_eq!(
        v.hash_of(a),
        v.hash_of(b),
        "the test needs a real collision"
    );
    assert_ne!(a, b);
    assert_eq!(v.text(b), u);
    // Built by concatenation, each still finds its own string.
    let (th, tt) = t.split_at(700);
    let (x, y) = (v.intern(th), v.intern(tt));
    assert_eq!(v.concat(x, y), a);
    let (uh, ut) = u.split_at(1000);
    let (x, y) = (v.intern(uh), v.intern(ut));
    assert_eq!(v.concat(x, y), b);
}

#[test]
fn a_shrink_out_of_budget_falls_back_to_the_blocked_op_and_the_prefix() {
    // A stale read among 16 ops; a shrink allowed 3 steps in all cannot
    // finish, and reports the search's own statement (the blocked op and
    // the 10-op prefix) instead of the whole key, marked not minimal. With
    // its budget it finds the 3 ops.
    let mut rows = vec![
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
    ];
    for p in 1..10 {
        rows.push((p, "invoke", "write", json!(10 + p)));
        rows.push((p, "ok", "write", json!(10 + p)));
    }
    rows.push((20, "invoke", "read", json!(null)));
    rows.push((20, "ok", "read", json!(1)));
    // Later ops, which the prefix never reaches.
    for p in 30..35 {
        rows.push((p, "invoke", "write", json!(p)));
        rows.push((p, "ok", "write", json!(p)));
    }
    let history = h(&rows);
    let mut values = Values::new("null");
    let p = compile::compile(
        &history,
        Model::Register,
        &mut values,
        false,
        None,
        &mut Vec::new(),
        Reading::default(),
    )
    .unwrap();
    let mut m = Single::new(values);
    let ev = search::events(&p);
    let live = vec![true; p.ops.len()];
    let mut s = search::Search::default();
    s.reset(&p, &ev, Some(&live), &mut m);
    let Outcome::Violation(stuck) = s.run(&p, &mut m, &Budget::default(), &mut Spent::default())
    else {
        panic!("not a violation");
    };
    let cut = counterexample::shrink_within(&p, &mut m, &live, &stuck, 10, 3, 3);
    assert!(cut.frontier && !cut.minimal);
    let mut want: Vec<usize> = stuck.prefix.iter().map(|&i| i as usize).collect();
    want.push(stuck.blocked as usize);
    want.sort_unstable();
    assert_eq!(cut.ops, want);
    assert!(cut.ops.len() < p.ops.len());
    let full = counterexample::shrink(&p, &mut m, &live, &stuck, 10);
    assert!(!full.frontier && full.minimal);
    assert_eq!(full.ops.len(), 3);
}

/// A long key's memo stays small: entries keep only the undecided window of
/// the linearized set, not a bit per op of the key (which would make this
/// key's 12 300 ops cost 193 words an entry), and
/// crashed writes that the search leaves unplaced do not hold that window
/// open over the ops after them.
#[test]
fn a_long_key_has_a_memo_that_does_not_grow_with_its_length() {
    let mut rows = Vec::new();
    let mut crashed = 100;
    for i in 0..6000u64 {
        let v = i % 5;
        // A read concurrent with a write of the value it returns.
        rows.push((0, "invoke", "write", json!(v)));
        rows.push((1, "invoke", "read", json!(null)));
        rows.push((0, "ok", "write", json!(v)));
        rows.push((1, "ok", "read", json!(v)));
        if i % 20 == 0 {
            // A crashed write of a value read later (so it is not pruned);
            // it need never be placed.
            rows.push((crashed, "invoke", "write", json!((v + 1) % 5)));
            rows.push((crashed, "info", "write", json!((v + 1) % 5)));
            crashed += 1;
        }
    }
    let r = reg(&rows);
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    // Bytes per entry, table slots and spare capacity included; a bit per
    // op would be over 1 500.
    let bytes = r.details["peak_cache_bytes"].as_u64().unwrap();
    let entries = r.details["peak_cache_entries"].as_u64().unwrap();
    assert!(entries > 1000, "{entries}");
    assert!(bytes < 256 * entries, "{bytes} bytes for {entries} entries");
}

/// A crashed write that cannot be placed until the very end (every op
/// after it is a cas or a read that its value would break) stays unplaced
/// for the whole search; it must not hold the memo's window open over every
/// op after it (the second region of the `cache` module's docs).
#[test]
fn a_crashed_write_left_unplaced_does_not_hold_the_memo_open() {
    let mut rows = vec![
        (0, "invoke", "write", json!(0)),
        (0, "ok", "write", json!(0)),
        (9, "invoke", "write", json!(9)),
        (9, "info", "write", json!(9)),
    ];
    for i in 0..6000u64 {
        let (a, b) = (i % 5, (i + 1) % 5);
        rows.push((0, "invoke", "cas", json!([a, b])));
        rows.push((1, "invoke", "read", json!(null)));
        rows.push((0, "ok", "cas", json!([a, b])));
        rows.push((1, "ok", "read", json!(b)));
    }
    // Only the crashed write explains this read.
    rows.push((1, "invoke", "read", json!(null)));
    rows.push((1, "ok", "read", json!(9)));
    let r = reg(&rows);
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    let bytes = r.details["peak_cache_bytes"].as_u64().unwrap();
    let entries = r.details["peak_cache_entries"].as_u64().unwrap();
    assert!(entries > 1000, "{entries}");
    assert!(bytes < 256 * entries, "{bytes} bytes for {entries} entries");
}

#[test]
fn crashed_ops_that_change_nothing_cost_no_steps() {
    // A thousand crashed cas ops expecting values the register never
    // holds again (a failed cas at the end keeps them from being pruned),
    // then 300 writes each read back. Every scan of the search passes the
    // crashed ops; they cannot fire, so passing them is not a step, and a
    // budget of a few steps per op decides the history.
    let mut rows = Vec::new();
    for p in 0..1000u64 {
        rows.push((p, "invoke", "cas", json!([100_000 + p, 200_000 + p])));
        rows.push((p, "info", "cas", json!([100_000 + p, 200_000 + p])));
    }
    for v in 0..300u64 {
        rows.push((2000, "invoke", "write", json!(v)));
        rows.push((2000, "ok", "write", json!(v)));
        rows.push((2001, "invoke", "read", json!(null)));
        rows.push((2001, "ok", "read", json!(v)));
    }
    rows.push((2002, "invoke", "cas", json!([-1, -2])));
    rows.push((2002, "fail", "cas", json!([-1, -2])));
    let opts = Options {
        budget: Budget {
            max_steps: 5_000,
            max_cache_bytes: 64 << 20,
        },
        ..Options::default()
    };
    let r = check_with(&h(&rows), Model::Register, &opts);
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    assert!(
        r.details["search_steps"].as_u64().unwrap() < 5_000,
        "{}",
        r.details
    );
}
