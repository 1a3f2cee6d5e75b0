use super::*;
use crate::testkit::{H, MS};
use serde_json::json;

fn local(h: &mut H, p: u64, node: &str, k: &str, v: Value) {
    h.on(OpType::Invoke, p, "read-local", json!([k, null]), node)
        .on(OpType::Ok, p, "read-local", json!([k, v]), node);
}

fn analysis(h: &H) -> ConvergenceAnalysis {
    let mut c = Convergence::new();
    for op in &h.ops {
        c.observe(op);
    }
    c.analysis()
}

#[test]
fn replicas_that_agree_after_the_heal_are_valid_and_the_time_is_measured() {
    let mut h = H::default();
    h.nemesis("start-partition");
    local(&mut h, 0, "n1", "a", json!(1)); // before the heal: ignored
    local(&mut h, 1, "n2", "a", json!(2));
    h.nemesis("stop-partition"); // op 5, at 5 ms
                                 // Round 1: n2 has not caught up yet.
    local(&mut h, 0, "n1", "a", json!(3));
    local(&mut h, 1, "n2", "a", json!(2));
    h.wait(100);
    // Round 2: agreement at op 13 (113 ms).
    local(&mut h, 0, "n1", "a", json!(3));
    local(&mut h, 1, "n2", "a", json!(3));
    let a = analysis(&h);
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!((a.key_count, a.converged_count, a.max_rounds), (1, 1, 2));
    assert_eq!(a.heal_time, 5 * MS);
    assert_eq!(a.time_to_agree_ms.max, 108.0);
    assert_eq!(a.agree_curve_ms, vec![108.0]);
    assert_eq!(
        a.summary(),
        "all 1 key agree on 2 replicas after the last heal at 0.0 s; agreed 108.0 ms after the heal at the latest (p50 108.0 ms, 2 read rounds per replica)"
    );
}

#[test]
fn replicas_that_still_disagree_are_invalid_with_each_value() {
    let mut h = H::default();
    h.nemesis("stop-partition");
    local(&mut h, 0, "n1", "a", json!(1));
    local(&mut h, 1, "n2", "a", json!(1));
    local(&mut h, 2, "n3", "a", json!(1));
    local(&mut h, 0, "n1", "b", json!([1, 2]));
    local(&mut h, 1, "n2", "b", json!([1]));
    local(&mut h, 2, "n3", "b", json!([1, 2]));
    let r = check(&h.history());
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(
        r.summary,
        "1 of 2 keys diverge across 3 replicas after the last heal at 0.0 s: key b has n1=[1,2], n2=[1], n3=[1,2]"
    );
    let a: ConvergenceAnalysis = serde_json::from_value(r.details).unwrap();
    assert_eq!(a.divergent[0].values["n2"], "[1]");
}

#[test]
fn agreement_that_breaks_again_is_divergence() {
    let mut h = H::default();
    local(&mut h, 0, "n1", "a", json!(1));
    local(&mut h, 1, "n2", "a", json!(1));
    local(&mut h, 1, "n2", "a", json!(2));
    assert_eq!(analysis(&h).validity(), Validity::Invalid);
}

#[test]
fn key_missing_from_a_dump_diverges_and_an_unread_key_is_unknown() {
    // A dump of all keys per replica; n2's dump has no key b.
    let mut h = H::default();
    h.on(OpType::Invoke, 0, "read-local", json!(null), "n1")
        .on(OpType::Ok, 0, "read-local", json!({"a": 1, "b": 2}), "n1")
        .on(OpType::Invoke, 1, "read-local", json!(null), "n2")
        .on(OpType::Ok, 1, "read-local", json!({"a": 1}), "n2");
    let a = analysis(&h);
    assert_eq!(a.validity(), Validity::Invalid, "{}", a.summary());
    assert_eq!(a.divergent[0].key, "b");
    assert_eq!(a.divergent[0].values["n2"], "(absent)");
    assert_eq!(a.unread_count, 0);

    // With per-key reads, a key n2 was never asked for is not n2's (a
    // store that keeps each key on a few nodes): nothing to compare there.
    let mut h = H::default();
    local(&mut h, 0, "n1", "a", json!(1));
    local(&mut h, 1, "n2", "a", json!(1));
    local(&mut h, 0, "n1", "b", json!(2));
    let a = analysis(&h);
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    // But a key n2 was asked for and did not answer cannot be compared.
    h.on(OpType::Invoke, 1, "read-local", json!(["b", null]), "n2")
        .on(OpType::Fail, 1, "read-local", json!(["b", null]), "n2");
    let a = analysis(&h);
    assert_eq!(a.validity(), Validity::Unknown, "{}", a.summary());
    assert_eq!(a.unread[0].unread_on, vec!["n2".to_string()]);
    assert!(
        a.summary()
            .ends_with("1 key not read on every replica, e.g. key b on n2"),
        "{}",
        a.summary()
    );

    // Reads followed by a new fault and no heal cannot be judged.
    h.nemesis("kill");
    let a = analysis(&h);
    assert!(a.faulted_at_end);
    assert_eq!(a.validity(), Validity::Unknown);
    assert_eq!(check(&H::default().history()).valid, Validity::Unknown);
}

#[test]
fn the_agree_curve_has_one_point_per_percentile_at_most() {
    assert_eq!(agree_curve(&mut []), Vec::<f64>::new());
    let mut few = vec![3_000_000, 1_000_000, 2_000_000];
    assert_eq!(agree_curve(&mut few), vec![1.0, 2.0, 3.0]);
    let mut many: Vec<u64> = (1..=1000u64).rev().map(|i| i * 1_000_000).collect();
    let c = agree_curve(&mut many);
    assert_eq!(c.len(), 101);
    assert_eq!((c[0], c[50], c[100]), (1.0, 500.0, 1000.0));
    assert!(c.windows(2).all(|w| w[0] <= w[1]));
}
