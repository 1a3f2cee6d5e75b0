//! Judging reads against the exact set of reachable totals.
//!
//! A read is possible when its value is the certainly applied sum plus the
//! deltas of *some* subset of the adds that may or may not have counted for
//! it. The reads are judged in completion order: the adds of unknown
//! outcome join one growing bitset of subset sums ([`super::reachable`]) as
//! their invocations pass, each once, and the few acknowledged adds that
//! overlapped a read are tried against it by enumerating their distinct
//! subset sums (up to [`MAX_ENUMERATED`] of them; beyond, they are or-ed
//! into a copy of the bitset). Once the bitset would span more than
//! [`EXACT_RANGE_BUDGET`] values it is dropped and reads are left to the
//! bounds: [`Reach::Unknown`].

use super::{reachable, ReadRec, EXACT_RANGE_BUDGET, MAX_ENUMERATED};

/// Whether some subset sum `x` of `deltas` has `hit(x)`, trying each
/// distinct sum once as it is found; `None` if the distinct sums are more
/// than `cap` (each delta merges the sums found so far with themselves
/// shifted by it).
pub(super) fn subset_sums(
    deltas: &[i128],
    cap: usize,
    mut hit: impl FnMut(i128) -> bool,
) -> Option<bool> {
    if hit(0) {
        return Some(true);
    }
    let mut sums = vec![0i128];
    let mut merged = Vec::new();
    for &d in deltas {
        merged.clear();
        let (mut i, mut j) = (0, 0);
        loop {
            let next = match (sums.get(i), sums.get(j).map(|x| x + d)) {
                (Some(&a), Some(b)) if a <= b => {
                    i += 1;
                    a
                }
                (_, Some(b)) => {
                    j += 1;
                    if hit(b) {
                        return Some(true);
                    }
                    b
                }
                (Some(&a), None) => {
                    i += 1;
                    a
                }
                (None, None) => break,
            };
            if merged.last() != Some(&next) {
                merged.push(next);
            }
        }
        if merged.len() > cap {
            return None;
        }
        std::mem::swap(&mut sums, &mut merged);
    }
    Some(false)
}

/// Whether a read's value is a reachable total.
pub(super) enum Reach {
    /// Reachable (or not judged here: outside the bounds).
    Yes,
    /// Not reachable: the nearest reachable totals (when known) and how
    /// many possible deltas there were.
    No {
        nearest: Option<(Option<i128>, Option<i128>)>,
        possible: usize,
    },
    /// Over budget: not decided.
    Unknown,
}

/// Judges reads in completion order against the reachable totals.
pub(super) struct Judge {
    /// Adds of unknown outcome, by invocation: (invocation, delta).
    unknown: Vec<(u64, i128)>,
    /// How many of them are in `sums`.
    taken: usize,
    /// Their subset sums, while within budget.
    sums: Option<reachable::Sums>,
    /// `ok` adds that overlapped a read, by invocation.
    overlapping: Vec<(u64, u64, i128)>,
    next_overlapping: usize,
    /// The ones invoked before the current read completed and not yet known
    /// to be done before every later read began.
    pool: Vec<(u64, u64, i128)>,
    /// For each read (in completion order), the earliest invocation among
    /// it and the reads after it.
    earliest_after: Vec<u64>,
    /// Scratch: the deltas of the `ok` adds overlapping the current read.
    concurrent: Vec<i128>,
}

impl Judge {
    /// A judge over the adds that may count (`uncertain`: invocation,
    /// completion or `u64::MAX` when unknown, delta) for `reads`.
    pub(super) fn new(uncertain: Vec<(u64, u64, i128)>, reads: &[ReadRec]) -> Self {
        let mut unknown: Vec<(u64, i128)> = Vec::new();
        let mut overlapping = Vec::new();
        for (i, c, d) in uncertain {
            if c == u64::MAX {
                unknown.push((i, d));
            } else {
                overlapping.push((i, c, d));
            }
        }
        unknown.sort_unstable_by_key(|u| u.0);
        overlapping.sort_unstable_by_key(|u| u.0);
        let mut earliest_after = vec![u64::MAX; reads.len()];
        let mut m = u64::MAX;
        for (k, r) in reads.iter().enumerate().rev() {
            m = m.min(r.invoke);
            earliest_after[k] = m;
        }
        Judge {
            unknown,
            taken: 0,
            sums: Some(reachable::Sums::default()),
            overlapping,
            next_overlapping: 0,
            pool: Vec::new(),
            earliest_after,
            concurrent: Vec::new(),
        }
    }

    /// Advances to read `k` (reads come in completion order) and, if
    /// `within` its bounds, decides whether its value is reachable (and, if
    /// not and `want_nearest`, which reachable totals are nearest).
    pub(super) fn read(
        &mut self,
        k: usize,
        r: &ReadRec,
        within: bool,
        want_nearest: bool,
    ) -> Reach {
        while self.taken < self.unknown.len() && self.unknown[self.taken].0 < r.complete {
            let d = self.unknown[self.taken].1;
            if let Some(s) = &mut self.sums {
                if s.cost_after(d) > EXACT_RANGE_BUDGET {
                    self.sums = None;
                } else {
                    s.add(d);
                }
            }
            self.taken += 1;
        }
        while self.next_overlapping < self.overlapping.len()
            && self.overlapping[self.next_overlapping].0 < r.complete
        {
            self.pool.push(self.overlapping[self.next_overlapping]);
            self.next_overlapping += 1;
        }
        let earliest = self.earliest_after[k];
        self.pool.retain(|a| a.1 > earliest);
        if !within {
            return Reach::Yes;
        }
        let Some(sums) = &self.sums else {
            return Reach::Unknown;
        };
        let mut concurrent = std::mem::take(&mut self.concurrent);
        concurrent.clear();
        concurrent.extend(self.pool.iter().filter(|a| a.1 > r.invoke).map(|a| a.2));
        let reach = Self::reach(sums, &concurrent, self.taken, r, want_nearest);
        self.concurrent = concurrent;
        reach
    }

    /// Whether `r`'s value is `r.certain` plus a total of `sums` plus a
    /// subset sum of `concurrent` (`taken` deltas are in `sums`).
    fn reach(
        sums: &reachable::Sums,
        concurrent: &[i128],
        taken: usize,
        r: &ReadRec,
        want_nearest: bool,
    ) -> Reach {
        let target = i128::from(r.value) - r.certain;
        let possible = taken + concurrent.len();
        // The distinct subset sums of the overlapping adds (few: they are as
        // many as the adds in flight together, with small deltas), each
        // tried against the bitset as it is found; `None` when there are
        // too many.
        let small = subset_sums(concurrent, MAX_ENUMERATED, |x| sums.contains(target - x));
        if small == Some(true) {
            return Reach::Yes;
        }
        if small.is_some() && !want_nearest {
            return Reach::No {
                nearest: None,
                possible,
            };
        }
        // Too many to enumerate, or unreachable and the nearest reachable
        // totals wanted: or them into a copy.
        let mut all = sums.clone();
        for &d in concurrent {
            if all.cost_after(d) > EXACT_RANGE_BUDGET {
                return Reach::Unknown;
            }
            all.add(d);
        }
        if all.contains(target) {
            return Reach::Yes;
        }
        let nearest = want_nearest.then(|| {
            let (below, above) = all.nearest(target);
            (below.map(|b| b + r.certain), above.map(|a| a + r.certain))
        });
        Reach::No { nearest, possible }
    }
}
