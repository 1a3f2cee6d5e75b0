use super::*;
use crate::testkit::H;
use serde_json::json;
use OpType::{Info, Ok as Done};

fn read(h: &mut H, p: u64, k: &str, s: Value) {
    h.inv(p, "read", json!([k, null]))
        .ok(p, "read", json!([k, s]));
}

fn with(bound: SiblingBound) -> SiblingsOptions {
    SiblingsOptions { bound }
}

#[test]
fn concurrent_writers_explain_their_siblings() {
    let mut h = H::default();
    h.inv(0, "write", json!(["k", "a"]))
        .inv(1, "write", json!(["k", "b"]));
    h.ok(0, "write", json!(["k", "a"]))
        .ok(1, "write", json!(["k", "b"]));
    read(&mut h, 2, "k", json!(["a", "b"]));
    read(
        &mut h,
        2,
        "k",
        json!({"siblings": ["b", "a"], "context": "opaque"}),
    );
    let r = check(&h.history(), SiblingsOptions::default());
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    let a: SiblingsAnalysis = serde_json::from_value(r.details).unwrap();
    assert_eq!((a.read_count, a.siblings.max, a.writers.max), (2, 2.0, 2.0));
    assert_eq!(
        r.summary,
        "all 2 reads within the bound; siblings per read p50 2 p99 2 max 2 (concurrent writers max 2)"
    );
}

#[test]
fn siblings_that_look_concurrent_but_are_not() {
    // Process 0's write completes before process 1's begins: under DVV the
    // second supersedes the first, yet the store keeps both.
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", "a"]))
        .call(Done, 1, "write", json!(["k", "b"]));
    read(&mut h, 2, "k", json!(["a", "b"]));
    let a = analyze(&h.history(), SiblingsOptions::default());
    assert_eq!(a.validity(), Validity::Invalid);
    assert_eq!((a.over_bound_count, a.not_concurrent_count), (1, 1));
    let v = a
        .violations
        .iter()
        .find(|v| v.kind == ViolationKind::NotConcurrent)
        .unwrap();
    assert_eq!((v.writers, v.siblings, v.read_index), (1, 2, 5));
    assert_eq!(
        (v.writes[0].value.as_str(), v.writes[1].value.as_str()),
        ("\"a\"", "\"b\"")
    );
    assert!(
        a.summary().starts_with(
            "2 sibling violations: read 5 of key k returned 2 siblings but had 1 concurrent writer"
        ),
        "{}",
        a.summary()
    );
    // A caller who allows two siblings, or measures only, accepts it.
    assert_eq!(
        analyze(&h.history(), with(SiblingBound::AtMost(2))).validity(),
        Validity::Valid
    );
    assert_eq!(
        analyze(&h.history(), with(SiblingBound::Unbounded)).validity(),
        Validity::Valid
    );
}

#[test]
fn superseded_sibling_is_not_concurrent_even_within_the_count() {
    // a then b sequentially, c concurrent with b: [a, c] has 2 siblings and
    // 2 concurrent writers (b, c), but a was superseded by b before the read.
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", "a"]));
    h.inv(1, "write", json!(["k", "b"]))
        .inv(2, "write", json!(["k", "c"]));
    h.ok(1, "write", json!(["k", "b"]))
        .ok(2, "write", json!(["k", "c"]));
    read(&mut h, 3, "k", json!(["a", "c"]));
    let a = analyze(&h.history(), SiblingsOptions::default());
    assert_eq!(
        (a.over_bound_count, a.not_concurrent_count),
        (0, 1),
        "{}",
        a.summary()
    );
    assert!(a.summary().contains("the write of \"a\" (process 0) completed at 0.0 s before the write of \"c\" (process 2) began"), "{}", a.summary());
}

#[test]
fn indeterminate_write_may_be_concurrent_with_anything_later() {
    let mut h = H::default();
    h.call(Info, 0, "write", json!(["k", 1]))
        .call(Done, 1, "write", json!(["k", 2]));
    read(&mut h, 2, "k", json!([1, 2]));
    let a = analyze(&h.history(), SiblingsOptions::default());
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
}

#[test]
fn unknown_values_fixed_bounds_and_empty_reads() {
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", 1]));
    read(&mut h, 1, "k", json!([1, 9]));
    read(&mut h, 1, "k", json!(null));
    read(&mut h, 1, "k", json!(1));
    let a = analyze(&h.history(), with(SiblingBound::AtMost(1)));
    assert_eq!((a.unexpected_count, a.over_bound_count), (1, 1));
    assert_eq!(a.violations[0].value.as_deref(), Some("9"));
    assert_eq!(a.siblings.count, 3);
    assert_eq!(a.per_key["k"].max, 2.0);
    assert_eq!(
        check(&H::default().history(), SiblingsOptions::default()).valid,
        Validity::Unknown
    );
}

#[test]
fn sibling_superseded_by_a_write_missing_from_the_read_is_caught() {
    // c overlaps both a and b; b began after a completed and finished
    // before the read, so a is superseded: [a, c] cannot be DVV siblings,
    // though the count (2 concurrent writers: b and c) is fine.
    let mut h = H::default();
    h.inv(2, "write", json!(["k", "c"]));
    h.call(Done, 0, "write", json!(["k", "a"]));
    h.call(Done, 1, "write", json!(["k", "b"]));
    h.ok(2, "write", json!(["k", "c"]));
    read(&mut h, 3, "k", json!(["a", "c"]));
    let a = analyze(&h.history(), SiblingsOptions::default());
    assert_eq!(
        (a.over_bound_count, a.not_concurrent_count),
        (0, 1),
        "{}",
        a.summary()
    );
    let v = &a.violations[0];
    assert_eq!(
        (
            v.writers,
            v.writes[0].value.as_str(),
            v.writes[1].value.as_str()
        ),
        (2, "\"a\"", "\"b\"")
    );
}

/// A context write of `v` to `k` by `p` whose read saw `seen`.
fn context_write(h: &mut H, kind: OpType, p: u64, k: &str, v: Value, seen: Value) {
    h.inv(p, "write", json!([k, v]))
        .op(kind, p, "write", json!([k, v, {"seen": seen}]));
}

fn causal() -> SiblingsOptions {
    with(SiblingBound::Causal)
}

#[test]
fn at_rest_a_dvv_store_holds_exactly_what_no_write_superseded() {
    // a, then b written with the context of a read that saw a; c blind and
    // concurrent. While the partition lasts a read is stale ([a] alone),
    // which the causal bound allows; at rest [b, c] is exactly right.
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", "a"]));
    h.nemesis("start-partition");
    context_write(&mut h, Done, 1, "k", json!("b"), json!(["a"]));
    h.call(Done, 2, "write", json!(["k", "c"]));
    read(&mut h, 3, "k", json!(["a"]));
    h.nemesis("stop-partition");
    read(&mut h, 3, "k", json!(["c", "b"]));
    let a = analyze(&h.history(), causal());
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!((a.read_count, a.at_rest_count), (2, 1));
    assert!(
        a.summary().starts_with(
            "all 1 read at rest hold exactly the values no write superseded (of 2 in all)"
        ),
        "{}",
        a.summary()
    );
    // The real-time bound calls the same history invalid: c began after b
    // completed, so under quorum contexts c would have superseded b; but c
    // was written blind (it read nothing), so causally they are siblings.
    assert_eq!(
        analyze(&h.history(), SiblingsOptions::default()).not_concurrent_count,
        1
    );
}

#[test]
fn at_rest_a_superseded_sibling_kept_is_an_explosion() {
    // b's write read a and superseded it; a node-keyed clock keeps a anyway.
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", "a"]));
    context_write(&mut h, Done, 1, "k", json!("b"), json!(["a"]));
    read(&mut h, 2, "k", json!(["a", "b"]));
    let a = analyze(&h.history(), causal());
    assert_eq!(
        (a.superseded_count, a.lost_count),
        (1, 0),
        "{}",
        a.summary()
    );
    assert!(
        a.summary().contains(
            "read 5 of key k at rest returned \"a\" (written by process 0), which the write of \"b\" (process 1) had read and superseded at 0.0 s: a superseded sibling kept"
        ),
        "{}",
        a.summary()
    );
}

#[test]
fn at_rest_a_value_no_write_saw_must_survive() {
    // Last write wins: b's writer never read a (blind), yet a is gone.
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", "a"]));
    h.call(Done, 1, "write", json!(["k", "b"]));
    read(&mut h, 2, "k", json!(["b"]));
    let a = analyze(&h.history(), causal());
    assert_eq!(
        (a.superseded_count, a.lost_count),
        (0, 1),
        "{}",
        a.summary()
    );
    assert!(
        a.summary().contains(
            "read 5 of key k at rest does not hold \"a\", acknowledged to process 0 at 0.0 s and read by no later write: a lost write"
        ),
        "{}",
        a.summary()
    );
    // Had b's read seen a (a context write), a was superseded: valid.
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", "a"]));
    context_write(&mut h, Done, 1, "k", json!("b"), json!(["a"]));
    read(&mut h, 2, "k", json!(["b"]));
    assert_eq!(analyze(&h.history(), causal()).validity(), Validity::Valid);
    // So had a write whose outcome is unknown seen it: it may have landed.
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", "a"]));
    context_write(&mut h, Info, 1, "k", json!("b"), json!(["a"]));
    read(&mut h, 2, "k", json!(["b"]));
    assert_eq!(analyze(&h.history(), causal()).validity(), Validity::Valid);
    // ...but not a write that failed: it did nothing.
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", "a"]));
    context_write(&mut h, OpType::Fail, 1, "k", json!("b"), json!(["a"]));
    h.call(Done, 2, "write", json!(["k", "c"]));
    read(&mut h, 3, "k", json!(["c"]));
    assert_eq!(analyze(&h.history(), causal()).lost_count, 1);
}

#[test]
fn without_a_read_at_rest_the_causal_bound_cannot_judge() {
    // The only read overlaps a write.
    let mut h = H::default();
    h.inv(0, "write", json!(["k", "a"]));
    read(&mut h, 1, "k", json!([]));
    h.ok(0, "write", json!(["k", "a"]));
    let a = analyze(&h.history(), causal());
    assert_eq!(a.validity(), Validity::Unknown, "{}", a.summary());
    assert!(
        a.summary().starts_with("no read at rest"),
        "{}",
        a.summary()
    );
    // A value no one wrote is caught at any time.
    let mut h = H::default();
    h.call(Done, 0, "write", json!(["k", "a"]));
    h.nemesis("start-partition");
    read(&mut h, 1, "k", json!(["z"]));
    h.nemesis("stop-partition");
    read(&mut h, 1, "k", json!(["a"]));
    let a = analyze(&h.history(), causal());
    assert_eq!(
        (a.unexpected_count, a.at_rest_count),
        (1, 1),
        "{}",
        a.summary()
    );
}
