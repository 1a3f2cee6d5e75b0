use super::*;
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
    assert_eq!(kinds, vec!["divergent", "reordered"]);
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
