use super::*;
use crate::history::{Op, OpType};
use serde_json::{json, Value};

/// Builds histories op by op, with `time` = position and `index` unset.
#[derive(Default)]
struct H {
    ops: Vec<Op>,
}

impl H {
    fn push(
        &mut self,
        kind: OpType,
        process: Process,
        f: &str,
        value: Value,
        node: Option<&str>,
    ) -> &mut Self {
        let time = self.ops.len() as u64 * 10;
        self.ops.push(Op {
            index: None,
            kind,
            process,
            f: f.into(),
            value,
            time,
            node: node.map(String::from),
            error: None,
        });
        self
    }
    fn invoke_add(&mut self, p: u64, e: i64) -> &mut Self {
        self.push(OpType::Invoke, Process::Client(p), "add", json!(e), None)
    }
    fn done_add(&mut self, kind: OpType, p: u64, e: i64) -> &mut Self {
        self.push(kind, Process::Client(p), "add", json!(e), None)
    }
    /// A whole add: invoke then complete.
    fn add(&mut self, kind: OpType, p: u64, e: i64) -> &mut Self {
        self.invoke_add(p, e).done_add(kind, p, e)
    }
    fn invoke_read(&mut self, p: u64) -> &mut Self {
        self.push(
            OpType::Invoke,
            Process::Client(p),
            "read",
            Value::Null,
            None,
        )
    }
    fn ok_read(&mut self, p: u64, elements: &[i64], node: &str) -> &mut Self {
        self.push(
            OpType::Ok,
            Process::Client(p),
            "read",
            json!(elements),
            Some(node),
        )
    }
    fn read(&mut self, p: u64, elements: &[i64], node: &str) -> &mut Self {
        self.invoke_read(p).ok_read(p, elements, node)
    }
    fn nemesis(&mut self, kind: OpType, f: &str) -> &mut Self {
        self.push(kind, Process::Nemesis, f, json!(["n1"]), None)
    }
    fn history(&self) -> History {
        History::new(self.ops.clone())
    }
    fn analyze(&self) -> SetAnalysis {
        analyze(&self.history()).expect("well-formed history")
    }
}

use OpType::{Fail, Info, Ok as Done};

#[test]
fn everything_acknowledged_and_present_is_valid() {
    let mut h = H::default();
    h.add(Done, 0, 1).add(Done, 1, 2).add(Done, 0, 3);
    for n in 1..=5 {
        h.read(10 + n, &[3, 2, 1], &format!("n{n}"));
    }
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    assert_eq!(r.checker, "set");
    assert_eq!(
        r.summary,
        "all 3 acknowledged elements present in all 5 final reads"
    );
    let a: SetAnalysis = serde_json::from_value(r.details).unwrap();
    assert_eq!(a.acknowledged_count, 3);
    assert_eq!(a.final_read_count, 5);
    assert_eq!(a.final_reads[0].node.as_deref(), Some("n1"));
    assert_eq!(a.final_reads[0].size, 3);
}

#[test]
fn missing_from_one_of_five_final_reads_is_lost() {
    let mut h = H::default();
    h.add(Done, 0, 1).add(Done, 1, 2).add(Done, 2, 3);
    h.read(10, &[1, 2, 3], "n1")
        .read(11, &[1, 2, 3], "n2")
        .read(12, &[1, 3], "n3")
        .read(13, &[1, 2, 3], "n4")
        .read(14, &[1, 2, 3], "n5");
    let a = h.analyze();
    assert_eq!(a.validity(), Validity::Invalid);
    assert_eq!(a.lost_count, 1);
    let lost = &a.lost[0];
    assert_eq!(lost.element, 2);
    assert_eq!(lost.process, Process::Client(1));
    assert_eq!(lost.ack_index, 3);
    assert_eq!(lost.ack_time, 30);
    assert_eq!((lost.missing_from, lost.final_reads), (1, 5));
    assert_eq!(lost.nodes, vec!["n3".to_string()]);
    assert_eq!(
        a.summary(),
        "1 of 3 acknowledged elements lost (missing from final reads): 2"
    );
}

#[test]
fn indeterminate_add_that_appears_is_recovered_and_valid() {
    let mut h = H::default();
    h.add(Done, 0, 1).add(Info, 1, 2);
    h.read(5, &[1, 2], "n1");
    let a = h.analyze();
    assert_eq!(a.validity(), Validity::Valid);
    assert_eq!(a.recovered, vec![2]);
    assert_eq!(a.indeterminate_absent_count, 0);
    assert_eq!(
        a.summary(),
        "the 1 acknowledged element present in the final read; 1 of 1 indeterminate adds recovered"
    );
}

#[test]
fn indeterminate_add_that_is_absent_is_valid() {
    let mut h = H::default();
    h.add(Done, 0, 1).add(Info, 1, 2).invoke_add(2, 3); // 3 stays pending
    h.read(5, &[1], "n1");
    let a = h.analyze();
    assert_eq!(a.validity(), Validity::Valid);
    assert_eq!(a.indeterminate_count, 2);
    assert_eq!(a.recovered_count, 0);
    assert_eq!(a.indeterminate_absent_count, 2);
}

#[test]
fn pending_add_neither_delays_the_final_phase_nor_is_lost() {
    let mut h = H::default();
    h.invoke_add(0, 7).add(Done, 1, 1).read(5, &[1, 7], "n1");
    let a = h.analyze();
    assert_eq!(a.final_read_count, 1);
    assert!(!a.fallback);
    assert_eq!(a.recovered, vec![7]);
    assert_eq!(a.validity(), Validity::Valid);
}

#[test]
fn failed_add_that_is_present_is_invalid() {
    let mut h = H::default();
    h.add(Done, 0, 1).add(Fail, 1, 2);
    h.read(5, &[1, 2], "n1");
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.details["failed_but_present"], json!([2]));
    assert_eq!(r.details["failed_count"], json!(1));
    assert_eq!(
        r.summary,
        "the 1 acknowledged element present in the final read; 1 element whose add failed present anyway: 2"
    );
}

#[test]
fn failed_add_that_is_absent_is_valid() {
    let mut h = H::default();
    h.add(Done, 0, 1).add(Fail, 1, 2).read(5, &[1], "n1");
    assert_eq!(check(&h.history()).valid, Validity::Valid);
}

#[test]
fn element_never_attempted_is_unexpected() {
    let mut h = H::default();
    h.add(Done, 0, 1)
        .read(5, &[1, 42], "n1")
        .read(6, &[1], "n2");
    let a = h.analyze();
    assert_eq!(a.validity(), Validity::Invalid);
    assert_eq!(a.unexpected, vec![42]);
    assert!(
        a.summary().contains("1 element read but never added: 42"),
        "{}",
        a.summary()
    );
}

#[test]
fn fallback_read_judges_only_elements_acked_before_it_began() {
    // No read starts after the last add completes: the read invoked last is
    // the fallback. 1 was acked before it began; 2 was acked while it ran.
    let mut h = H::default();
    h.add(Done, 0, 1)
        .invoke_read(9)
        .invoke_add(1, 2)
        .done_add(Done, 1, 2)
        .ok_read(9, &[1], "n1");
    let a = h.analyze();
    assert!(a.fallback);
    assert_eq!(a.validity(), Validity::Valid);
    assert_eq!(a.lost_count, 0);
    assert_eq!(a.unconfirmed, vec![2]);
    assert!(
        a.summary()
            .contains("1 of 2 acknowledged elements present in the last read"),
        "{}",
        a.summary()
    );
    assert!(a
        .summary()
        .contains("1 acknowledged after it began and absent (unconfirmed)"));
}

#[test]
fn fallback_read_missing_an_element_acked_before_it_is_lost() {
    let mut h = H::default();
    h.add(Done, 0, 1)
        .add(Done, 0, 3)
        .invoke_read(9)
        .invoke_add(1, 2)
        .done_add(Done, 1, 2)
        .ok_read(9, &[3], "n1");
    let a = h.analyze();
    assert!(a.fallback);
    assert_eq!(a.validity(), Validity::Invalid);
    assert_eq!(
        a.lost.iter().map(|l| l.element).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(a.unconfirmed, vec![2]);
    assert_eq!(
        a.summary(),
        "1 of 3 acknowledged elements lost (missing from the last read): 1; 1 acknowledged after the last read began (unconfirmed)"
    );
}

#[test]
fn reads_concurrent_with_adds_are_not_final() {
    let mut h = H::default();
    // A read that overlaps the add of 2 and misses it, and one that ends
    // before the last add even starts: neither is final.
    h.add(Done, 0, 1)
        .invoke_read(8)
        .invoke_add(1, 2)
        .ok_read(8, &[1], "n1")
        .done_add(Done, 1, 2)
        .read(8, &[1, 2], "n1")
        .invoke_add(0, 3)
        .invoke_read(9)
        .done_add(Info, 0, 3)
        .ok_read(9, &[1], "n2");
    // Final phase: only reads invoked after the info completion of 3.
    h.read(10, &[1, 2, 3], "n1").read(11, &[1, 2], "n2");
    let a = h.analyze();
    assert_eq!(a.ok_read_count, 5);
    assert_eq!(a.final_read_count, 2);
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!(a.recovered, vec![3]);
}

#[test]
fn no_successful_read_is_unknown() {
    let mut h = H::default();
    h.add(Done, 0, 1)
        .invoke_read(1)
        .push(Fail, Process::Client(1), "read", Value::Null, None);
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(
        r.summary,
        "no successful read: cannot tell whether the 1 acknowledged element survived"
    );
    assert_eq!(check(&History::default()).valid, Validity::Unknown);
}

#[test]
fn nemesis_ops_interleaved_do_not_confuse_pairing() {
    let mut h = H::default();
    h.nemesis(OpType::Invoke, "start-partition")
        .invoke_add(0, 1)
        .nemesis(Info, "start-partition")
        .invoke_add(1, 2)
        .done_add(Done, 0, 1)
        .nemesis(OpType::Invoke, "stop-partition")
        .done_add(Fail, 1, 2)
        .nemesis(Info, "stop-partition")
        // A nemesis op named like a client op is still ignored.
        .push(
            OpType::Invoke,
            Process::Nemesis,
            "add",
            json!("not a number"),
            None,
        )
        .read(3, &[1], "n1");
    let a = h.analyze();
    assert_eq!(a.acknowledged_count, 1);
    assert_eq!(a.failed_count, 1);
    assert_eq!(a.final_read_count, 1);
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
}

#[test]
fn malformed_values_are_unknown_and_name_the_op() {
    let mut h = H::default();
    h.add(Done, 0, 1)
        .push(OpType::Invoke, Process::Client(1), "add", json!("x"), None);
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(
        r.summary,
        "malformed set history: op 2 (add): add value must be an integer element or [key, element], found \"x\""
    );
    assert_eq!(r.details["malformed"]["index"], json!(2));

    let mut h = H::default();
    h.add(Done, 0, 1)
        .invoke_read(1)
        .push(Done, Process::Client(1), "read", json!([1, 2.5]), None);
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.summary
            .contains("op 3 (read): read result must contain only integers, found 2.5"),
        "{}",
        r.summary
    );

    let mut h = H::default();
    h.invoke_read(1)
        .push(Done, Process::Client(1), "read", Value::Null, None);
    assert!(check(&h.history())
        .summary
        .contains("must be a list or set of integers, found null"));
}

#[test]
fn duplicate_adds_count_once_and_the_best_outcome_wins() {
    let mut h = H::default();
    h.add(Fail, 0, 1)
        .add(Info, 1, 1)
        .add(Done, 2, 1)
        .add(Fail, 0, 2)
        .add(Info, 3, 2);
    h.read(5, &[1], "n1");
    let a = h.analyze();
    assert_eq!(a.attempt_count, 2);
    assert_eq!(a.acknowledged_count, 1);
    assert_eq!(a.indeterminate_count, 1);
    assert_eq!(a.failed_count, 0);
    assert_eq!(a.validity(), Validity::Valid);
}

#[test]
fn add_value_may_come_from_the_completion() {
    let mut h = H::default();
    h.push(OpType::Invoke, Process::Client(0), "add", Value::Null, None)
        .done_add(Done, 0, 5)
        .read(1, &[], "n1");
    let a = h.analyze();
    assert_eq!(
        a.lost.iter().map(|l| l.element).collect::<Vec<_>>(),
        vec![5]
    );
}

#[test]
fn lists_are_capped_counts_exact_and_summaries_truncated() {
    let mut h = H::default();
    for e in 0..1500 {
        h.add(Done, 0, e);
    }
    h.read(1, &[], "n1").read(2, &[0], "n2");
    let a = h.analyze();
    assert_eq!(a.lost_count, 1500);
    assert_eq!(a.lost.len(), DETAIL_CAP);
    assert_eq!(a.lost[0].element, 0);
    assert_eq!((a.lost[0].missing_from, a.lost[0].final_reads), (1, 2));
    assert_eq!(a.lost[0].nodes, vec!["n1".to_string()]);
    assert_eq!(a.lost[1].missing_from, 2);
    assert_eq!(
        a.summary(),
        "1500 of 1500 acknowledged elements lost (missing from final reads): 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …"
    );
}

#[test]
fn sets_read_from_edn_work() {
    let text = "[{:type :invoke, :process 0, :f :add, :value 1}
                 {:type :ok, :process 0, :f :add, :value 1}
                 {:type :invoke, :process 1, :f :read, :value nil}
                 {:type :ok, :process 1, :f :read, :value #{1}}]";
    let r = check(&crate::parse::edn(text).unwrap());
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
}

#[test]
fn a_200k_op_history_is_checked_in_linear_time() {
    let mut ops = Vec::with_capacity(200_010);
    let mk = |kind, p: u64, f: &str, value: Value| Op {
        index: None,
        kind,
        process: Process::Client(p),
        f: f.into(),
        value,
        time: 0,
        node: None,
        error: None,
    };
    // 100k adds from 10 interleaved processes.
    for e in 0..100_000i64 {
        let p = (e % 10) as u64;
        ops.push(mk(OpType::Invoke, p, "add", json!(e)));
        let kind = match e % 50 {
            0 => Info,
            1 => Fail,
            _ => Done,
        };
        ops.push(mk(kind, p, "add", json!(e)));
    }
    let all: Vec<i64> = (0..100_000).filter(|e| e % 50 != 1).collect();
    for r in 0..5u64 {
        ops.push(mk(OpType::Invoke, 100 + r, "read", Value::Null));
        let mut seen = all.clone();
        if r == 4 {
            seen.retain(|e| e % 1000 != 7);
        }
        ops.push(mk(Done, 100 + r, "read", json!(seen)));
    }
    let a = analyze(&History::new(ops)).unwrap();
    assert_eq!(a.attempt_count, 100_000);
    assert_eq!(a.final_read_count, 5);
    assert_eq!(a.lost_count, 100);
    assert_eq!(a.recovered_count, 2000);
    assert_eq!(a.validity(), Validity::Invalid);
}

/// The fixture histories used by the CLI tests have the verdicts their README
/// promises.
#[test]
fn fixtures_have_their_documented_verdicts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/histories");
    let expect = [
        ("set-valid.jsonl", Some(Validity::Valid)),
        ("set-lost.jsonl", Some(Validity::Invalid)),
        ("set-recovered.jsonl", Some(Validity::Valid)),
        ("set-unexpected.edn", Some(Validity::Invalid)),
        ("set-lost-vector.edn", Some(Validity::Invalid)),
        ("set-valid.edn", Some(Validity::Valid)),
        ("set-malformed.jsonl", None),
        ("set-malformed.edn", None),
    ];
    for (name, verdict) in expect {
        let path = dir.join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match (crate::parse::auto(&text), verdict) {
            (Ok(h), Some(v)) => {
                let r = check(&h);
                assert_eq!(r.valid, v, "{name}: {}", r.summary);
                eprintln!("{name}: {} — {}", r.valid.word(), r.summary);
            }
            (Err(e), None) => eprintln!("{name}: {e}"),
            (Ok(_), None) => panic!("{name} should not parse"),
            (Err(e), Some(_)) => panic!("{name}: {e}"),
        }
    }
    let e = crate::parse::auto(&std::fs::read_to_string(dir.join("set-malformed.jsonl")).unwrap())
        .unwrap_err();
    assert_eq!(e.line, 4, "{e}");
}

/// A keyed op: `[key, value]`.
fn kv(k: &str, v: Value) -> Value {
    json!([k, v])
}

#[test]
fn keyed_sets_are_judged_per_key_against_their_own_final_reads() {
    let c = |p| Process::Client(p);
    let mut h = H::default();
    h.push(OpType::Invoke, c(0), "add", kv("a", json!(1)), None)
        .push(Done, c(0), "add", kv("a", json!(1)), None)
        .push(OpType::Invoke, c(0), "add", kv("a", json!(2)), None)
        .push(Done, c(0), "add", kv("a", json!(2)), None)
        // Key b's add is in flight while a is read: a's read is still
        // final (its own adds are done), b's adds are another set.
        .push(OpType::Invoke, c(1), "add", kv("b", json!(1)), None)
        .push(
            OpType::Invoke,
            c(2),
            "read",
            kv("a", Value::Null),
            Some("n1"),
        )
        .push(Done, c(2), "read", kv("a", json!([1, 2])), Some("n1"))
        .push(Done, c(1), "add", kv("b", json!(1)), None)
        .push(OpType::Invoke, c(1), "add", kv("b", json!(3)), None)
        .push(Done, c(1), "add", kv("b", json!(3)), None)
        .push(
            OpType::Invoke,
            c(2),
            "read",
            kv("b", Value::Null),
            Some("n2"),
        )
        .push(Done, c(2), "read", kv("b", json!([1])), Some("n2"));
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    assert!(
        r.summary
            .starts_with("1 of 2 keys invalid (1 of 4 acknowledged elements lost")
            && r.summary
                .contains("key b: 1 of 2 acknowledged elements lost (missing from final reads): 3"),
        "{}",
        r.summary
    );
    let a = analyze(&h.history()).unwrap();
    assert_eq!((a.key_count, a.acknowledged_count, a.lost_count), (2, 4, 1));
    assert_eq!(a.keys.len(), 1);
    assert_eq!(a.keys[0].key, "b");
    assert_eq!(a.keys[0].analysis.lost[0].element, 3);
    assert_eq!(a.keys[0].analysis.lost[0].nodes, ["n2"]);
    assert!(a.lost.is_empty(), "lists live in each key's analysis");

    // The same history with b's read complete is valid.
    let mut ok = H { ops: h.ops.clone() };
    ok.ops.last_mut().unwrap().value = kv("b", json!([1, 3]));
    let r = check(&ok.history());
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    assert_eq!(
        r.summary,
        "all 4 acknowledged elements present in the final reads of all 2 keys"
    );
    assert_eq!(r.details.get("keys"), None);
}

#[test]
fn a_key_never_read_leaves_a_keyed_history_unknown() {
    let c = |p| Process::Client(p);
    let mut h = H::default();
    h.push(OpType::Invoke, c(0), "add", kv("a", json!(1)), None)
        .push(Done, c(0), "add", kv("a", json!(1)), None)
        .push(OpType::Invoke, c(0), "add", kv("z", json!(9)), None)
        .push(Done, c(0), "add", kv("z", json!(9)), None)
        .push(OpType::Invoke, c(2), "read", kv("a", Value::Null), None)
        .push(Done, c(2), "read", kv("a", json!([1])), None);
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Unknown, "{}", r.summary);
    assert!(
        r.summary
            .starts_with("no successful read of 1 of 2 keys (z)"),
        "{}",
        r.summary
    );
    // A lost element elsewhere still makes it invalid.
    h.ops.last_mut().unwrap().value = kv("a", json!([]));
    assert_eq!(check(&h.history()).valid, Validity::Invalid);
}

#[test]
fn an_unkeyed_history_checked_whole_and_op_by_op_agree_with_keyed_copies() {
    // Every unkeyed history of these tests, wrapped as key "k": the keyed
    // analysis of one key has the unkeyed one's counts and verdict.
    let mut h = H::default();
    h.add(Done, 0, 1)
        .add(Done, 1, 2)
        .add(OpType::Info, 2, 3)
        .add(OpType::Fail, 3, 4)
        .read(5, &[1, 3, 4], "n1")
        .read(6, &[1, 2, 3], "n2");
    let plain = analyze(&h.history()).unwrap();
    let mut keyed = h.history();
    for op in &mut keyed.ops {
        if op.f == "add" || op.f == "read" {
            op.value = kv("k", op.value.clone());
        }
    }
    let k = analyze(&keyed).unwrap();
    assert_eq!(k.key_count, 1);
    assert_eq!(k.validity(), plain.validity());
    assert_eq!(k.keys[0].analysis, plain);
    assert_eq!(
        (k.lost_count, k.failed_but_present_count, k.recovered_count),
        (
            plain.lost_count,
            plain.failed_but_present_count,
            plain.recovered_count
        )
    );
}

#[test]
fn small_and_large_final_reads_are_judged_alike() {
    // A final read much smaller than the set is searched element by
    // element, a larger one walked in order beside the sorted elements:
    // the same findings either way.
    for (reads, padding) in [(3u64, 0i64), (12, 0), (3, 100)] {
        let mut h = H::default();
        h.add(Done, 0, 1)
            .add(Done, 1, 2)
            .add(Done, 2, 3)
            .add(OpType::Info, 3, 4)
            .add(OpType::Fail, 4, 5);
        // Failed adds of other elements make the set large without
        // changing what the reads must hold.
        for e in 0..padding {
            h.add(OpType::Fail, 5, 1000 + e);
        }
        for r in 0..reads {
            let seen: &[i64] = match r {
                1 => &[1, 3, 4, 3],
                2 => &[1, 2, 3, 5, 9],
                _ => &[3, 2, 1],
            };
            h.read(10 + r, seen, &format!("n{r}"));
        }
        let a = h.analyze();
        assert_eq!(a.final_read_count, reads as usize);
        assert_eq!((a.lost_count, a.lost[0].element), (1, 2), "{reads}");
        assert_eq!(
            (a.lost[0].missing_from, &a.lost[0].nodes[..]),
            (1, &["n1".to_string()][..])
        );
        assert_eq!(a.unexpected, [9]);
        assert_eq!(a.failed_but_present, [5]);
        assert_eq!(a.recovered, [4]);
        assert_eq!(a.final_reads[1].size, 3, "distinct elements");
    }
}
