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
    // n1 held 3 from its first read (op 7), n2 from op 13.
    assert_eq!(a.first_read_ms, 2.0);
    assert_eq!((a.replica_lag_ms.count, a.replica_lag_ms.max), (2, 108.0));
    assert_eq!(a.lag_curve_ms, vec![2.0, 108.0]);
    assert_eq!(a.lag_by_replica["n1"].max, 2.0);
    assert_eq!(a.lag_by_replica["n2"].max, 108.0);
    assert_eq!(
        a.summary(),
        "all 1 key agree on 2 replicas after the last heal at 0.0 s; converged 108.0 ms after the heal (p50 over keys), 108.0 ms at the latest; replicas lagged p50 2.0 ms, max 108.0 ms, slowest n2 (up to 2 read rounds per replica, the first 2.0 ms after the heal)"
    );
}

/// Three keys on three replicas, read in rounds 50 ms apart from the heal
/// on: `a` agrees at once, `b` when n3 catches up in round 2, `c` when n2
/// catches up in round 3, after n2 had once shown the final value and lost
/// it again (its lag counts from when it got it back for good).
#[test]
fn time_to_converge_and_each_replicas_lag_are_distributions_over_rounds() {
    let mut h = H::default();
    h.nemesis("start-partition");
    h.wait(1000);
    h.nemesis("stop-partition"); // op 1, at 1001 ms
    let rounds: [[(&str, &str, i64); 9]; 3] = [
        [
            ("n1", "a", 1),
            ("n2", "a", 1),
            ("n3", "a", 1),
            ("n1", "b", 2),
            ("n2", "b", 2),
            ("n3", "b", 0),
            ("n1", "c", 3),
            ("n2", "c", 3),
            ("n3", "c", 3),
        ],
        [
            ("n1", "a", 1),
            ("n2", "a", 1),
            ("n3", "a", 1),
            ("n1", "b", 2),
            ("n2", "b", 2),
            ("n3", "b", 2),
            ("n1", "c", 3),
            ("n2", "c", 9),
            ("n3", "c", 3),
        ],
        [
            ("n1", "a", 1),
            ("n2", "a", 1),
            ("n3", "a", 1),
            ("n1", "b", 2),
            ("n2", "b", 2),
            ("n3", "b", 2),
            ("n1", "c", 3),
            ("n2", "c", 3),
            ("n3", "c", 3),
        ],
    ];
    let mut round_start = Vec::new();
    for round in rounds {
        round_start.push(h.ops.len());
        for (i, (node, key, v)) in round.into_iter().enumerate() {
            local(&mut h, i as u64 % 3, node, key, json!(v));
        }
        h.wait(50);
    }
    let heal = 1001.0;
    // The completion of the j-th read of round r is op round_start[r] + 2j + 1,
    // at 1 ms per op plus 50 ms per earlier round.
    let at = |r: usize, j: usize| (round_start[r] + 2 * j + 1) as f64 + 50.0 * r as f64 + 1000.0;
    let a = analysis(&h);
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!(a.max_rounds, 3);
    // Only a never disagreed.
    assert_eq!(a.agreed_at_first_read_count, 1);
    assert_eq!(a.first_read_ms, at(0, 0) - heal);
    // a: agreed when its last replica was first read; b: at n3's read in
    // round 2; c: at n2's read in round 3 (n2's round-1 match broke).
    let mut converge = vec![at(0, 2) - heal, at(1, 5) - heal, at(2, 7) - heal];
    assert_eq!(a.agree_curve_ms, converge);
    converge.sort_by(f64::total_cmp);
    assert_eq!(a.time_to_agree_ms.max, at(2, 7) - heal);
    assert_eq!(a.time_to_agree_ms.count, 3);
    // Nine lags; n3 lagged on b, n2 on c.
    assert_eq!(a.replica_lag_ms.count, 9);
    assert_eq!(a.lag_by_replica["n3"].max, at(1, 5) - heal);
    assert_eq!(a.lag_by_replica["n2"].max, at(2, 7) - heal);
    assert_eq!(a.lag_by_replica["n1"].max, at(0, 6) - heal);
    assert_eq!(a.lag_curve_ms.len(), 9);
    assert_eq!(a.lag_curve_ms[0], at(0, 0) - heal);
    assert_eq!(a.lag_curve_ms[8], at(2, 7) - heal);
    assert!(a.summary().contains("slowest n2"), "{}", a.summary());
    // The same reads made only once, after a long wait, measure the wait.
    let mut late = H::default();
    late.nemesis("stop-partition");
    late.wait(5000);
    for (i, (node, key, v)) in rounds[2].into_iter().enumerate() {
        local(&mut late, i as u64 % 3, node, key, json!(v));
    }
    let l = analysis(&late);
    assert_eq!(l.validity(), Validity::Valid);
    assert!(l.time_to_agree_ms.p50 > 5000.0);
    assert_eq!(
        l.summary(),
        "all 3 keys agree on 3 replicas after the last heal at 0.0 s, each already at its first read, the first 5002.0 ms after the heal: they converged before it (1 read round per replica)"
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
