use super::*;
use crate::testkit::H;
use serde_json::json;
use OpType::{Fail, Info, Ok as Done};

fn analyze(h: &H) -> CounterAnalysis {
    let mut c = Counter::new(CounterOps::COUNTER, NAME);
    for op in &h.ops {
        c.observe(op);
    }
    c.analysis().expect("well-formed")
}

#[test]
fn reads_of_the_acknowledged_sum_are_valid() {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(1))
        .call(Done, 1, "add", json!(2))
        .read(2, "read", json!(3));
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    assert_eq!(
        r.summary,
        "all 1 read within bounds (2 adds acknowledged summing to 3, 0 indeterminate); final read 3 (possible 3..=3)"
    );
}

#[test]
fn read_below_the_certain_sum_is_invalid_with_its_bounds() {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(5)).read(1, "read", json!(3));
    let a = analyze(&h);
    assert_eq!(a.validity(), Validity::Invalid);
    let r = &a.out_of_bounds[0];
    assert_eq!((r.value, r.lower, r.upper, r.index), (3, 5, 5, 3));
    assert!(
        a.summary().starts_with(
            "1 of 1 read out of bounds: process 1 read 3 at 0.0 s, possible values 5..=5"
        ),
        "{}",
        a.summary()
    );
}

#[test]
fn concurrent_negative_delta_lowers_the_lower_bound_only() {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(5));
    h.inv(1, "add", json!(-2)).inv(2, "read", json!(null));
    h.ok(2, "read", json!(3)).ok(1, "add", json!(-2));
    let a = analyze(&h);
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!(a.final_reads.len(), 0, "the read overlapped an add");

    let mut h = H::default();
    h.call(Done, 0, "add", json!(5));
    h.inv(1, "add", json!(-2)).inv(2, "read", json!(null));
    h.ok(2, "read", json!(6)).ok(1, "add", json!(-2));
    let a = analyze(&h);
    assert_eq!(a.validity(), Validity::Invalid);
    assert_eq!((a.out_of_bounds[0].lower, a.out_of_bounds[0].upper), (3, 5));
}

#[test]
fn read_within_bounds_only_because_of_an_indeterminate_increment() {
    let build = |outcome| {
        let mut h = H::default();
        h.call(Done, 0, "add", json!(1))
            .call(outcome, 1, "add", json!(10))
            .read(2, "read", json!(11));
        h
    };
    let a = analyze(&build(Info));
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!((a.final_reads[0].lower, a.final_reads[0].upper), (1, 11));
    assert_eq!(a.indeterminate_count, 1);
    // The same read after the increment *failed* cannot be explained.
    let a = analyze(&build(Fail));
    assert_eq!(a.validity(), Validity::Invalid);
    assert_eq!((a.out_of_bounds[0].lower, a.out_of_bounds[0].upper), (1, 1));
}

#[test]
fn indeterminate_decrement_may_apply_later_and_pending_adds_count_too() {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(10))
        .call(Info, 1, "add", json!(-4))
        .inv(3, "add", json!(7)) // never completes
        .read(2, "read", json!(6))
        .read(4, "read", json!(13));
    let a = analyze(&h);
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!((a.final_reads.len(), a.indeterminate_count), (2, 2));
    h.read(5, "read", json!(18));
    let a = analyze(&h);
    assert_eq!(a.out_of_bounds_count, 1);
    assert_eq!(
        (a.out_of_bounds[0].lower, a.out_of_bounds[0].upper),
        (6, 17)
    );
}

#[test]
fn add_invoked_after_the_read_completed_does_not_count() {
    let mut h = H::default();
    h.read(2, "read", json!(1)).call(Done, 0, "add", json!(1));
    let a = analyze(&h);
    assert_eq!(a.validity(), Validity::Invalid);
}

#[test]
fn malformed_values_and_no_reads_are_unknown() {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(1));
    assert_eq!(check(&h.history()).valid, Validity::Unknown);
    h.read(1, "read", json!([1]));
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.summary.contains("read result must be an integer"),
        "{}",
        r.summary
    );
    let mut h = H::default();
    h.call(Done, 0, "add", json!(u64::MAX))
        .read(1, "read", json!(1));
    assert_eq!(check(&h.history()).valid, Validity::Unknown);
}
