use super::judge::subset_sums;
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
        "all 1 read possible (2 adds acknowledged summing to 3, 0 indeterminate); every read checked exactly; final read 3 (possible 3..=3)"
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

/// Maelstrom's pn-counter checker tests (`maelstrom.workload.pn-counter-test`),
/// with invocations added (Maelstrom's test histories hold completions only)
/// and one process per op, in order.
mod maelstrom {
    use super::*;

    /// `(type, f, value)` rows: each an invocation and its completion.
    fn history(rows: &[(OpType, &str, i64)]) -> H {
        let mut h = H::default();
        for (p, &(kind, f, v)) in rows.iter().enumerate() {
            if f == "read" {
                h.read(p as u64, f, json!(v));
            } else {
                h.call(kind, p as u64, f, json!(v));
            }
        }
        h
    }

    #[test]
    fn empty_is_unknown_not_valid() {
        // Maelstrom: valid, acceptable [[0 0]]. faultline: nothing was read,
        // so nothing supports a pass; unknown (the verdict's documented
        // meaning for "no evidence").
        let r = check(&H::default().history());
        assert_eq!(r.valid, Validity::Unknown, "{}", r.summary);
    }

    #[test]
    fn definite() {
        // Maelstrom: invalid, the read of 4 is the error; acceptable [[5 5]].
        let a = analyze(&history(&[
            (Done, "add", 2),
            (Done, "add", 3),
            (Done, "read", 5),
            (Done, "read", 4),
        ]));
        assert_eq!(a.validity(), Validity::Invalid);
        assert_eq!(a.out_of_bounds_count + a.unreachable_count, 1);
        let r = &a.out_of_bounds[0];
        assert_eq!((r.value, r.lower, r.upper), (4, 5, 5));
        assert_eq!(
            a.final_reads.iter().map(|r| r.value).collect::<Vec<_>>(),
            [5, 4]
        );
    }

    #[test]
    fn indefinite() {
        // Maelstrom: invalid, the read of 11 is the error; acceptable
        // [[8 10] [13 15]]. The bounds (8..=15) alone would pass it.
        let h = history(&[
            (Done, "add", 10),
            (Info, "add", 5),
            (Info, "add", -1),
            (Info, "add", -1),
            (Done, "read", 11),
            (Done, "read", 15),
        ]);
        let a = analyze(&h);
        assert_eq!(a.validity(), Validity::Invalid, "{}", a.summary());
        assert_eq!((a.out_of_bounds_count, a.unreachable_count), (0, 1));
        let r = &a.unreachable[0];
        assert_eq!((r.value, r.lower, r.upper, r.certain), (11, 8, 15, 10));
        assert_eq!(r.nearest, Some((Some(10), Some(13))));
        assert_eq!(r.possible_count, Some(3));
        assert!(r.exact);
        assert_eq!((a.exact_read_count, a.bounds_only_read_count), (2, 0));
        assert_eq!(
            a.summary(),
            "1 of 2 reads unreachable: process 4 read 11 at 0.0 s, within 8..=15 but no subset of the 3 deltas of unknown outcome gives it (10 certainly applied; nearest possible 10 and 13); every read checked exactly; final read 15 (possible 8..=15)"
        );
        // Every value Maelstrom accepts passes, every other one fails.
        for v in 5..=18 {
            let mut rows = vec![
                (Done, "add", 10),
                (Info, "add", 5),
                (Info, "add", -1),
                (Info, "add", -1),
            ];
            rows.push((Done, "read", v));
            let want = if (8..=10).contains(&v) || (13..=15).contains(&v) {
                Validity::Valid
            } else {
                Validity::Invalid
            };
            assert_eq!(analyze(&history(&rows)).validity(), want, "read {v}");
        }
    }
}

#[test]
fn overlapping_acknowledged_adds_count_as_a_subset_too() {
    // Two adds of 5, both acknowledged, overlap a read: it may see 0, 5 or
    // 10, never 3 (the bounds 0..=10 would allow it).
    let build = |v| {
        let mut h = H::default();
        h.inv(0, "add", json!(5))
            .inv(1, "add", json!(5))
            .inv(2, "read", json!(null))
            .ok(2, "read", json!(v))
            .ok(0, "add", json!(5))
            .ok(1, "add", json!(5));
        analyze(&h)
    };
    for v in [0, 5, 10] {
        assert_eq!(build(v).validity(), Validity::Valid, "read {v}");
    }
    let a = build(3);
    assert_eq!(a.validity(), Validity::Invalid, "{}", a.summary());
    assert_eq!((a.unreachable[0].lower, a.unreachable[0].upper), (0, 10));
    assert_eq!(a.unreachable[0].nearest, Some((Some(0), Some(5))));
    // An add acknowledged before the read began is certain, one that
    // failed never counts, one invoked after the read never counts.
    let mut h = H::default();
    h.call(Done, 0, "add", json!(5))
        .inv(1, "add", json!(4))
        .inv(3, "add", json!(100))
        .inv(2, "read", json!(null))
        .ok(2, "read", json!(9))
        .op(Fail, 3, "add", json!(100))
        .ok(1, "add", json!(4))
        .call(Done, 4, "add", json!(1000));
    assert_eq!(analyze(&h).validity(), Validity::Valid);
}

#[test]
fn a_read_over_the_budget_is_judged_by_its_bounds_and_says_so() {
    // Two deltas of unknown outcome spanning 80 001 totals, over the
    // budget: the read of 1 (reachable are 0, 40 000 and 80 000) is only
    // checked against the bounds, and the result says so.
    let mut h = H::default();
    h.call(Info, 0, "add", json!(40_000))
        .call(Info, 1, "add", json!(40_000))
        .read(2, "read", json!(1));
    let a = analyze(&h);
    assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
    assert_eq!((a.exact_read_count, a.bounds_only_read_count), (0, 1));
    assert!(!a.final_reads[0].exact);
    assert!(
        a.summary()
            .contains("0 checked exactly, 1 against bounds only (their reachable totals spanned over 65536 values)"),
        "{}",
        a.summary()
    );
    // Within the budget the same shape is decided exactly.
    let mut h = H::default();
    h.call(Info, 0, "add", json!(30_000))
        .call(Info, 1, "add", json!(30_000))
        .read(2, "read", json!(1));
    let a = analyze(&h);
    assert_eq!(a.validity(), Validity::Invalid, "{}", a.summary());
    assert_eq!(a.unreachable[0].nearest, Some((Some(0), Some(30_000))));
}

#[test]
fn exact_verdicts_match_brute_force_on_random_concurrent_histories() {
    // Random interleavings of adds (ok, info, fail, pending) and reads with
    // small deltas; each ok read is checked by enumerating every subset of
    // its possible deltas.
    let mut seed = 0x0123_4567_89AB_CDEF_u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..2000 {
        let mut h = H::default();
        // Per process: Some((is_read, delta)) while in flight.
        let mut open: Vec<Option<(bool, i64)>> = vec![None; 4];
        // (invoke pos, complete pos or MAX, delta, outcome) of adds.
        let mut adds: Vec<(usize, usize, i64, OpType)> = Vec::new();
        let mut reads: Vec<(usize, usize, i64)> = Vec::new();
        let mut started = [0usize; 4];
        for _ in 0..14 {
            let p = next(4) as usize;
            let pos = h.ops.len();
            match open[p] {
                None => {
                    let is_read = next(3) == 0;
                    let d = next(9) as i64 - 3;
                    if is_read {
                        h.inv(p as u64, "read", json!(null));
                    } else {
                        h.inv(p as u64, "add", json!(d));
                    }
                    open[p] = Some((is_read, d));
                    started[p] = pos;
                }
                Some((true, _)) => {
                    // Near the sum of what was invoked so far, or anything.
                    let invoked: i64 = adds.iter().map(|a| a.2).sum();
                    let v = if next(2) == 0 {
                        invoked - next(3) as i64
                    } else {
                        next(12) as i64 - 3
                    };
                    h.ok(p as u64, "read", json!(v));
                    reads.push((started[p], pos, v));
                    open[p] = None;
                }
                Some((false, d)) => {
                    let kind = [Done, Done, Info, Fail][next(4) as usize];
                    h.op(kind, p as u64, "add", json!(d));
                    let end = if kind == Info { usize::MAX } else { pos };
                    adds.push((started[p], end, d, kind));
                    open[p] = None;
                }
            }
        }
        for (p, o) in open.iter().enumerate() {
            if let Some((false, d)) = o {
                adds.push((started[p], usize::MAX, *d, Info));
            }
        }
        let expected = reads.iter().all(|&(ri, rc, v)| {
            let certain: i64 = adds
                .iter()
                .filter(|a| a.3 == Done && a.1 < ri)
                .map(|a| a.2)
                .sum();
            let possible: Vec<i64> = adds
                .iter()
                .filter(|a| a.3 != Fail && a.0 < rc && !(a.3 == Done && a.1 < ri))
                .map(|a| a.2)
                .collect();
            (0..1u32 << possible.len()).any(|m| {
                certain
                    + (0..possible.len())
                        .filter(|&i| m >> i & 1 == 1)
                        .map(|i| possible[i])
                        .sum::<i64>()
                    == v
            })
        });
        let a = analyze(&h);
        if reads.is_empty() {
            continue;
        }
        let want = if expected {
            valid += 1;
            Validity::Valid
        } else {
            invalid += 1;
            Validity::Invalid
        };
        assert_eq!(
            a.validity(),
            want,
            "case {case}: {}\n{:?}",
            a.summary(),
            h.ops
        );
        assert_eq!(a.bounds_only_read_count, 0);
    }
    assert!(
        valid > 200 && invalid > 200,
        "{valid} valid, {invalid} invalid"
    );
}

#[test]
fn subset_sums_are_tried_until_there_are_too_many() {
    let list = |deltas: &[i128], cap| {
        let mut seen = Vec::new();
        subset_sums(deltas, cap, |x| {
            seen.push(x);
            false
        })
        .map(|_| {
            seen.sort_unstable();
            seen.dedup();
            seen
        })
    };
    assert_eq!(list(&[5, -1, -1], 64), Some(vec![-2, -1, 0, 3, 4, 5]));
    assert_eq!(list(&[], 64), Some(vec![0]));
    assert_eq!(list(&[1, 2, 4, 8, 16, 32, 64], 64), None);
    assert_eq!(list(&[1; 100], 200).map(|s| s.len()), Some(101));
    assert_eq!(subset_sums(&[5, -1, -1], 64, |x| x == 3), Some(true));
    assert_eq!(subset_sums(&[5, -1, -1], 64, |x| x == 1), Some(false));
}
