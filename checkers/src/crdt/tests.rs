use super::*;
use crate::history::OpType;
use crate::testkit::H;
use serde_json::json;
use OpType::{Info, Ok as Done};

fn or_set(final_read: Value) -> CrdtAnalysis {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(1)); // observed by the remove below
    h.inv(1, "remove", json!(1)).inv(2, "add", json!(1)); // concurrent add
    h.ok(1, "remove", json!(1)).ok(2, "add", json!(1));
    h.call(Done, 0, "add", json!(2))
        .call(Done, 0, "remove", json!(2));
    h.read(3, "read", final_read);
    analyze(&h.history())
}

#[test]
fn or_set_add_wins_over_a_remove_that_cannot_have_seen_it() {
    // The add concurrent with the remove may or may not have been observed
    // by it: either final read is fine.
    let a = or_set(json!([1]));
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert!(!a.sequence.present && !a.pn_counter.present);
    assert_eq!(a.summary(), "OR-set: all 1 final read(s) consistent");
    assert_eq!(or_set(json!([])).validity(), Validity::Valid);
    // An add that began after the remove ended cannot have been observed
    // by it: it must survive.
    let mut h = H::default();
    h.call(Done, 0, "add", json!(1));
    h.call(Done, 1, "remove", json!(1));
    h.call(Done, 2, "add", json!(1));
    h.read(3, "read", json!([]));
    let a = analyze(&h.history());
    assert_eq!(a.validity(), Validity::Invalid);
    assert_eq!(a.or_set.findings[0].kind, "lost-add");
    assert_eq!(a.or_set.findings[0].element.as_deref(), Some("1"));
}

#[test]
fn or_set_removed_element_must_not_come_back_nor_strangers_appear() {
    let a = or_set(json!([1, 2, 9]));
    assert_eq!(a.validity(), Validity::Invalid);
    let kinds: Vec<&str> = a.or_set.findings.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(kinds, vec!["resurrected", "unexpected"]);
    assert!(
        a.summary()
            .starts_with("OR-set: 2 finding(s), first: resurrected 2 in read"),
        "{}",
        a.summary()
    );
}

#[test]
fn or_set_indeterminate_remove_allows_either() {
    for read in [json!([]), json!([1])] {
        let mut h = H::default();
        h.call(Done, 0, "add", json!(1))
            .call(Info, 1, "remove", json!(1));
        h.read(2, "read", read);
        assert_eq!(analyze(&h.history()).validity(), Validity::Valid);
    }
}

#[test]
fn pn_counter_final_value_within_indeterminate_bounds() {
    let build = |v| {
        let mut h = H::default();
        h.call(Done, 0, "increment", json!(5))
            .call(Done, 0, "decrement", json!(2))
            .call(Info, 1, "increment", json!(3))
            .read(2, "read-counter", json!(v));
        analyze(&h.history())
    };
    assert_eq!(build(3).validity(), Validity::Valid);
    assert_eq!(build(6).validity(), Validity::Valid);
    let a = build(7);
    assert_eq!(a.validity(), Validity::Invalid);
    assert!(
        a.summary()
            .starts_with("PN-counter: 1 of 1 read out of bounds: process 2 read 7"),
        "{}",
        a.summary()
    );
    assert_eq!(a.pn_counter.final_read_count, 1);
}

fn sequence(n1: Value, n2: Value) -> CrdtAnalysis {
    let mut h = H::default();
    h.call(Done, 0, "insert", json!("a"))
        .call(Done, 0, "insert", json!("b"))
        .call(Done, 1, "insert", json!("c"))
        .call(Done, 1, "delete", json!("c"));
    h.on(OpType::Invoke, 2, "read-list", json!(null), "n1")
        .on(Done, 2, "read-list", n1, "n1");
    h.on(OpType::Invoke, 3, "read-list", json!(null), "n2")
        .on(Done, 3, "read-list", n2, "n2");
    analyze(&h.history())
}

#[test]
fn sequence_replicas_converge_on_the_inserted_elements_in_order() {
    let a = sequence(json!(["a", "b"]), json!(["a", "b"]));
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!(a.sequence.final_read_count, 2);
}

#[test]
fn sequence_divergence_reordering_and_missing_elements_are_invalid() {
    let a = sequence(json!(["a", "b"]), json!(["b", "a"]));
    let kinds: Vec<&str> = a
        .sequence
        .findings
        .iter()
        .map(|f| f.kind.as_str())
        .collect();
    assert_eq!(kinds, vec!["divergent", "reordered", "order"]);
    assert_eq!(a.sequence.findings[1].node.as_deref(), Some("n2"));
    let a = sequence(json!(["a"]), json!(["a", "c", "c"]));
    let kinds: Vec<&str> = a
        .sequence
        .findings
        .iter()
        .map(|f| f.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "missing",
            "divergent",
            "unexpected",
            "duplicate",
            "unexpected",
            "missing"
        ]
    );
    assert_eq!(a.validity(), Validity::Invalid);
    assert_eq!(check(&H::default().history()).valid, Validity::Unknown);
}

fn kinds(p: &PartAnalysis) -> Vec<&str> {
    p.findings.iter().map(|f| f.kind.as_str()).collect()
}

/// Two processes build chains on lists `l0` and `l1`; process 2 deletes
/// what it saw; `n1` and `n2` read both lists at the end.
fn lists(mid: Value, finals: [(&str, Value); 4]) -> CrdtAnalysis {
    let mut h = H::default();
    h.call(Done, 0, "insert", json!(["l0", 1]))
        .call(Done, 1, "insert", json!(["l0", 2]))
        .call(Done, 0, "insert", json!(["l0", 3]))
        .call(Done, 1, "insert", json!(["l1", 4]));
    h.inv(2, "read-list", json!(["l0", null]))
        .ok(2, "read-list", json!(["l0", mid]));
    h.call(Done, 2, "delete", json!(["l0", 2]))
        .call(Done, 1, "insert", json!(["l0", 5]));
    for (node, list) in finals {
        let key = list[0].clone();
        h.on(OpType::Invoke, 3, "read-list", json!([key, null]), node)
            .on(Done, 3, "read-list", list, node);
    }
    analyze(&h.history())
}

fn good_finals() -> [(&'static str, Value); 4] {
    [
        ("n1", json!(["l0", [1, 3, 5]])),
        ("n2", json!(["l0", [1, 3, 5]])),
        ("n1", json!(["l1", [4]])),
        ("n2", json!(["l1", [4]])),
    ]
}

#[test]
fn named_lists_are_judged_each_on_its_own() {
    let a = lists(json!([1, 2, 3]), good_finals());
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!(a.sequence.final_read_count, 4);
    assert_eq!(a.summary(), "sequence: all 4 final read(s) consistent");
    // Process 1's 2 and 5 may be interleaved with process 0's chain in any
    // way that keeps each process's own order and every read's order.
    let mut f = good_finals();
    f[0].1 = json!(["l0", [5, 1, 3]]);
    f[1].1 = json!(["l0", [5, 1, 3]]);
    assert_eq!(lists(json!([2, 1, 3]), f).validity(), Validity::Valid);
    // An element of l1 showing in l0 is unexpected there.
    let mut f = good_finals();
    f[0].1 = json!(["l0", [1, 3, 4, 5]]);
    f[1].1 = json!(["l0", [1, 3, 4, 5]]);
    let a = lists(json!([1, 2, 3]), f);
    assert_eq!(kinds(&a.sequence), ["unexpected", "unexpected"]);
    assert_eq!(a.sequence.findings[0].key.as_deref(), Some("l0"));
    assert!(
        a.summary()
            .starts_with("sequence: 2 finding(s), first: unexpected 4 of list l0 in read"),
        "{}",
        a.summary()
    );
}

#[test]
fn a_mid_run_read_whose_order_the_final_reads_contradict_is_an_order_finding() {
    // 2 is process 1's, 3 process 0's: no process's own order is broken,
    // and the replicas agree, yet the mid-run read saw 2 before 3 and the
    // final reads show 3 before 2.
    let mut h = H::default();
    h.call(Done, 0, "insert", json!(["l", 1]))
        .call(Done, 1, "insert", json!(["l", 2]))
        .call(Done, 0, "insert", json!(["l", 3]));
    h.inv(2, "read-list", json!(["l", null]))
        .ok(2, "read-list", json!(["l", [1, 2, 3]]));
    h.call(Done, 1, "insert", json!(["l", 9]));
    for node in ["n1", "n2"] {
        h.on(OpType::Invoke, 3, "read-list", json!(["l", null]), node)
            .on(Done, 3, "read-list", json!(["l", [1, 3, 2, 9]]), node);
    }
    let a = analyze(&h.history());
    assert_eq!(kinds(&a.sequence), ["order"], "{}", a.summary());
    let f = &a.sequence.findings[0];
    assert_eq!(f.read_index, 11, "the read closing the cycle");
    assert!(
        f.note.contains("read 7 lists 2 before 3") && f.note.contains("read 11 lists 3 before 2"),
        "{}",
        f.note
    );
    assert_eq!(a.validity(), Validity::Invalid);
}

#[test]
fn three_reads_that_pairwise_agree_but_admit_no_single_order_are_invalid() {
    // 1 before 2, 2 before 3, 3 before 1: no two reads disagree on a pair.
    let mut h = H::default();
    for (p, e) in [(0, 1), (1, 2), (2, 3)] {
        h.call(Done, p, "insert", json!(e));
    }
    for (p, read) in [(3, json!([1, 2])), (4, json!([2, 3])), (5, json!([3, 1]))] {
        h.read(p, "read-list", read);
    }
    // The last three reads are the final ones of one replica (no node):
    // only the last counts as final; all three count for the order.
    let a = analyze(&h.history());
    assert_eq!(kinds(&a.sequence), ["missing", "order"], "{}", a.summary());
    assert!(a.sequence.findings[1].note.contains("3 before 1"));
}

#[test]
fn a_mid_run_read_of_an_element_not_yet_or_never_inserted_is_unexpected() {
    let mut h = H::default();
    h.read(9, "read-list", json!([7]));
    h.call(Done, 0, "insert", json!(7));
    h.call(OpType::Fail, 0, "insert", json!(8));
    h.read(9, "read-list", json!([7, 8, 7]));
    h.call(Done, 0, "insert", json!(10));
    h.on(OpType::Invoke, 3, "read-list", json!(null), "n1").on(
        Done,
        3,
        "read-list",
        json!([7, 10]),
        "n1",
    );
    let a = analyze(&h.history());
    let found: Vec<(&str, Option<&str>)> = a
        .sequence
        .findings
        .iter()
        .map(|f| (f.kind.as_str(), f.element.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("unexpected", Some("7")),
            ("unexpected", Some("8")),
            ("duplicate", Some("7")),
        ]
    );
}

#[test]
fn a_process_whose_later_insert_precedes_an_earlier_one_mid_run_is_reordered() {
    let mut h = H::default();
    h.call(Done, 0, "insert", json!("a"))
        .call(Info, 0, "insert", json!("b"))
        .read(1, "read-list", json!(["b", "a"]))
        .call(Done, 2, "insert", json!("c"));
    h.on(OpType::Invoke, 3, "read-list", json!(null), "n1").on(
        Done,
        3,
        "read-list",
        json!(["a", "c"]),
        "n1",
    );
    let a = analyze(&h.history());
    assert_eq!(kinds(&a.sequence), ["reordered"], "{}", a.summary());
    assert!(a.sequence.findings[0]
        .note
        .contains("process 0 inserted \"a\" before \"b\""));
}

#[test]
fn deletes_excuse_absence_only_when_they_may_have_happened() {
    let build = |delete: OpType, final_read: Value| {
        let mut h = H::default();
        h.call(Done, 0, "insert", json!(1))
            .call(Done, 0, "insert", json!(2))
            .call(delete, 1, "delete", json!(2));
        h.on(OpType::Invoke, 3, "read-list", json!(null), "n1").on(
            Done,
            3,
            "read-list",
            final_read,
            "n1",
        );
        analyze(&h.history())
    };
    // An indeterminate delete: either is fine.
    assert_eq!(build(Info, json!([1])).validity(), Validity::Valid);
    assert_eq!(build(Info, json!([1, 2])).validity(), Validity::Valid);
    // A failed delete did nothing: 2 must stay.
    assert_eq!(
        kinds(&build(OpType::Fail, json!([1])).sequence),
        ["missing"]
    );
    // An acknowledged delete: 2 must go.
    assert_eq!(kinds(&build(Done, json!([1, 2])).sequence), ["unexpected"]);
    assert_eq!(build(Done, json!([1])).validity(), Validity::Valid);
}

#[test]
fn a_list_with_inserts_but_no_final_read_leaves_the_verdict_unknown() {
    // Every final read of l1 failed: only l0's are left.
    let mut h = H::default();
    h.call(Done, 0, "insert", json!(["l0", 1]))
        .call(Done, 1, "insert", json!(["l1", 4]));
    h.on(OpType::Invoke, 3, "read-list", json!(["l0", null]), "n1")
        .on(Done, 3, "read-list", json!(["l0", [1]]), "n1");
    h.on(OpType::Invoke, 4, "read-list", json!(["l1", null]), "n1")
        .on(OpType::Fail, 4, "read-list", json!(["l1", null]), "n1");
    let a = analyze(&h.history());
    assert_eq!(a.validity(), Validity::Unknown, "{}", a.summary());
    assert_eq!(a.sequence.unjudged_keys, ["l1"]);
    assert_eq!(
        a.summary(),
        "sequence: 1 final read(s) consistent, but no final read of list(s) l1"
    );
}
