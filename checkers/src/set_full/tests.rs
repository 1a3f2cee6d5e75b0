use super::*;
use crate::testkit::{H, MS};
use serde_json::json;
use OpType::{Fail, Info, Ok as Done};

fn analyze(h: &H, options: SetFullOptions) -> SetFullAnalysis {
    let mut c = SetFull::new(options);
    for op in &h.ops {
        c.observe(op);
    }
    c.analysis().expect("well-formed")
}

fn lin() -> SetFullOptions {
    SetFullOptions { linearizable: true }
}

#[test]
fn all_present_from_ack_on_is_valid_with_latencies() {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(1)) // ack at op 1
        .call(Done, 1, "add", json!(2)) // ack at op 3
        .read(2, "read", json!([1, 2])) // completes at op 5
        .read(3, "read", json!([2, 1]));
    let r = check(&h.history(), SetFullOptions::default());
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    assert_eq!(r.checker, "set-full");
    let a: SetFullAnalysis = serde_json::from_value(r.details).unwrap();
    assert_eq!((a.ok_count, a.lost_count, a.stale_count), (2, 0, 0));
    // Element 1: acked at 1 ms, stably visible from the read completing at 5 ms.
    assert_eq!(a.visibility_latency_ms.max, 4.0);
    assert_eq!(a.visibility_latency_ms.p50, 2.0);
    assert!(
        r.summary
            .starts_with("none of 2 known elements lost (2 ok, 0 stale, 0 never read)"),
        "{}",
        r.summary
    );
}

#[test]
fn element_that_vanishes_for_good_is_lost() {
    let mut h = H::default();
    h.wait(14_200)
        .call(Done, 0, "add", json!(1))
        .call(Done, 1, "add", json!(2))
        .read(2, "read", json!([1, 2]))
        .wait(3_000)
        .read(3, "read", json!([1]))
        .read(4, "read", json!([1]));
    let a = analyze(&h, SetFullOptions::default());
    assert_eq!(a.validity(), Validity::Invalid);
    assert_eq!(a.lost_count, 1);
    let l = &a.lost[0];
    assert_eq!(
        (l.element, l.ack_process, l.ack_index),
        (2, Some(Process::Client(1)), Some(3))
    );
    assert_eq!(l.absent_after_last_present, 2);
    assert_eq!(l.last_present.unwrap().index, 5);
    assert_eq!(
        a.summary(),
        "1 of 2 known elements lost: element 2 was acknowledged to process 1 at 14.2 s and is absent from the last 2 reads (the last began at 17.2 s); visibility latency p50 4.0 ms, p99 4.0 ms, max 4.0 ms"
    );
}

#[test]
fn stale_read_hidden_among_concurrent_adds_is_reported_and_invalid_only_if_linearizable() {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(1)); // element 1 acknowledged at op 1
                                      // Adds of 2 and 3 are in flight while process 5 reads: missing 2 or 3
                                      // would be fine, missing 1 is not.
    h.inv(1, "add", json!(2))
        .inv(2, "add", json!(3))
        .inv(5, "read", json!(null));
    h.ok(1, "add", json!(2));
    h.ok(5, "read", json!([2])); // began after 1's ack, misses it
    h.ok(2, "add", json!(3));
    h.read(6, "read", json!([1, 2, 3])); // 1 is back
    let a = analyze(&h, SetFullOptions::default());
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!((a.stale_count, a.lost_count, a.ok_count), (1, 0, 2));
    let s = &a.stale[0];
    assert_eq!(s.element, 1);
    assert_eq!(s.first_absent.unwrap().index, 6);
    assert_eq!(s.last_present.unwrap().index, 9);
    assert!(
        a.summary()
            .contains("e.g. element 1 missed by the read that began at"),
        "{}",
        a.summary()
    );
    let strict = analyze(&h, lin());
    assert_eq!(strict.validity(), Validity::Invalid);
    assert_eq!(check(&h.history(), lin()).valid, Validity::Invalid);
}

#[test]
fn read_overlapping_the_ack_may_miss_it() {
    // The read began before the add was acknowledged: not stale.
    let mut h = H::default();
    h.inv(0, "add", json!(1)).inv(1, "read", json!(null));
    h.ok(0, "add", json!(1)).ok(1, "read", json!([]));
    h.read(2, "read", json!([1]));
    let a = analyze(&h, lin());
    assert_eq!((a.stale_count, a.ok_count), (0, 1));
    assert_eq!(a.validity(), Validity::Valid);
}

#[test]
fn indeterminate_add_that_appears_late_is_recovered_not_stale() {
    let mut h = H::default();
    h.call(Info, 0, "add", json!(5)) // timed out
        .call(Done, 1, "add", json!(6))
        .read(2, "read", json!([6])) // 5 not there yet: fine, it was unknown
        .wait(500)
        .read(3, "read", json!([5, 6]))
        .read(4, "read", json!([6, 5]));
    let a = analyze(&h, lin());
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!((a.recovered_count, a.stale_count, a.lost_count), (1, 0, 0));
    assert_eq!(a.recovered[0].element, 5);
    assert!(a.summary().contains("1 of 1 indeterminate adds recovered"));
}

#[test]
fn recovered_element_that_vanishes_again_is_lost() {
    let mut h = H::default();
    h.call(Info, 0, "add", json!(5))
        .read(1, "read", json!([5]))
        .read(2, "read", json!([]));
    let a = analyze(&h, SetFullOptions::default());
    assert_eq!((a.recovered_count, a.lost_count), (1, 1));
    assert_eq!(a.validity(), Validity::Invalid);
}

#[test]
fn unexpected_and_failed_but_present_are_invalid() {
    let mut h = H::default();
    h.call(Fail, 0, "add", json!(1))
        .read(1, "read", json!([1, 99]));
    let a = analyze(&h, SetFullOptions::default());
    assert_eq!((a.unexpected_count, a.failed_but_present_count), (1, 1));
    assert_eq!(a.unexpected[0].element, 99);
    assert_eq!(a.validity(), Validity::Invalid);
    assert!(
        a.summary()
            .contains("1 element read but never added: element 99"),
        "{}",
        a.summary()
    );
}

#[test]
fn acknowledged_after_the_last_read_is_never_read() {
    let mut h = H::default();
    h.read(1, "read", json!([])).call(Done, 0, "add", json!(1));
    let a = analyze(&h, SetFullOptions::default());
    assert_eq!((a.never_read_count, a.lost_count), (1, 0));
    assert_eq!(a.validity(), Validity::Valid);
}

#[test]
fn keyed_sets_are_independent() {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(["a", 1]))
        .call(Done, 0, "add", json!(["b", 1]))
        .inv(1, "read", json!(["a", null]))
        .ok(1, "read", json!(["a", [1]]))
        .inv(1, "read", json!(["b", null]))
        .ok(1, "read", json!(["b", []]));
    let a = analyze(&h, SetFullOptions::default());
    assert_eq!(a.key_count, 2);
    assert_eq!((a.ok_count, a.lost_count), (1, 1));
    assert_eq!(a.lost[0].key, "b");
    assert!(
        a.summary().contains("element 1 of key b"),
        "{}",
        a.summary()
    );
}

#[test]
fn no_read_is_unknown_and_bad_values_are_unknown() {
    let mut h = H::default();
    h.call(Done, 0, "add", json!(1));
    assert_eq!(
        check(&h.history(), SetFullOptions::default()).valid,
        Validity::Unknown
    );
    h.read(1, "read", json!("nope"));
    let r = check(&h.history(), SetFullOptions::default());
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.summary
            .starts_with("malformed set-full history: op 3 (read)"),
        "{}",
        r.summary
    );
}

#[test]
fn pending_add_counts_as_indeterminate() {
    let mut h = H::default();
    h.inv(0, "add", json!(1)).read(1, "read", json!([1]));
    let a = analyze(&h, SetFullOptions::default());
    assert_eq!((a.indeterminate_count, a.recovered_count), (1, 1));
    let _ = MS;
}

/// The order of a read's elements, and repeats in it, change nothing: a
/// read's ids come from the key's last read when it lists the same
/// elements in the same places, from the table otherwise, and every mix of
/// the two must give the same analysis.
#[test]
fn the_order_of_read_elements_does_not_matter() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n.max(1)
    };
    for round in 0..200 {
        // Adds of 0..n to two keys, some failed or indeterminate, reads of
        // subsets (some lost, some unexpected) in three orders.
        let n = 2 + next(30) as i64;
        let mut sorted = H::default();
        let mut shuffled = H::default();
        let mut reversed = H::default();
        for step in 0..(3 * n) {
            let key = if next(2) == 0 { "a" } else { "b" };
            if step < n || next(3) > 0 {
                let e = step % n;
                let kind = match next(10) {
                    0 => Fail,
                    1 => Info,
                    _ => Done,
                };
                for h in [&mut sorted, &mut shuffled, &mut reversed] {
                    h.call(kind, 100 + step as u64, "add", json!([key, e]));
                }
            } else {
                let mut els: Vec<i64> = (0..n + 2).filter(|_| next(4) > 0).collect();
                if next(3) == 0 && !els.is_empty() {
                    let dup = els[next(els.len() as u64) as usize];
                    els.push(dup);
                }
                els.sort_unstable();
                let mut mixed = els.clone();
                for i in (1..mixed.len()).rev() {
                    mixed.swap(i, next(i as u64 + 1) as usize);
                }
                let mut back = els.clone();
                back.reverse();
                sorted.read(1, "read", json!([key, els]));
                shuffled.read(1, "read", json!([key, mixed]));
                reversed.read(1, "read", json!([key, back]));
            }
        }
        let a = analyze(&sorted, lin());
        assert_eq!(a, analyze(&shuffled, lin()), "round {round}");
        assert_eq!(a, analyze(&reversed, lin()), "round {round}");
    }
}
