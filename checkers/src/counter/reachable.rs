//! Reachable sums: which totals can some subset of a multiset of deltas make?
//!
//! A counter read is explained when the deltas certainly applied plus SOME
//! subset of the deltas whose outcome is unknown give exactly the value
//! read. The set of such subset sums is not an interval: `+5, -1, -1` reach
//! `-2, -1, 0, 3, 4, 5` and nothing in between. It is kept as a bitset over
//! the range `[Σ negative deltas, Σ positive deltas]`: bit `i` says whether
//! `lo + i` is reachable. Taking one more delta `d` in, every reachable total
//! stays reachable (the delta did not apply) and gains a twin `d` away (it
//! did): the bitset is or-ed with itself shifted by `|d|` (and, for a
//! negative `d`, the range's low end moves down by `|d|`). So a set of `k`
//! deltas whose absolute values sum to `R` costs `O(k · R / 64)` word
//! operations and `R / 8` bytes; [`Sums::cost_after`] lets the caller stop
//! before a budget is exceeded and fall back to the bounds. Once every total
//! of the range is reachable (many small deltas fill it fast), the set is
//! kept as the range alone, and a delta no longer than the range keeps it
//! so: it then costs nothing, whatever the range's length.

/// The totals reachable as the sum of some subset of the deltas taken in.
#[derive(Clone, Debug)]
pub(crate) struct Sums {
    /// The value of bit 0.
    lo: i128,
    /// How many values the range holds (`hi - lo + 1`).
    len: usize,
    /// Every value of the range is reachable: `bits` is then empty. Many
    /// small deltas soon fill their range; taking in a delta no longer than
    /// the range keeps it full, so it stays exact at no cost however long
    /// the range grows.
    full: bool,
    bits: Vec<u64>,
}

impl Default for Sums {
    /// The empty subset only: `{0}`.
    fn default() -> Self {
        Sums {
            lo: 0,
            len: 1,
            full: true,
            bits: Vec::new(),
        }
    }
}

/// Ranges at least this long are checked for being full after each delta.
const CHECK_FULL_FROM: usize = 128;

impl Sums {
    /// How many bits the bitset would hold after taking `d` in (0 when the
    /// range stays full).
    pub(crate) fn cost_after(&self, d: i128) -> usize {
        let shift = usize::try_from(d.unsigned_abs()).unwrap_or(usize::MAX);
        if self.full && shift <= self.len {
            return 0;
        }
        self.len.saturating_add(shift)
    }

    /// Takes one more delta in: every total, with and without it.
    pub(crate) fn add(&mut self, d: i128) {
        if d == 0 {
            return;
        }
        let shift = d.unsigned_abs() as usize;
        if self.full {
            if shift <= self.len {
                if d < 0 {
                    self.lo += d;
                }
                self.len += shift;
                return;
            }
            // Two ranges with a gap: back to bits.
            self.full = false;
            self.bits = vec![u64::MAX; self.len.div_ceil(64)];
            if !self.len.is_multiple_of(64) {
                *self.bits.last_mut().unwrap() = (1u64 << (self.len % 64)) - 1;
            }
        }
        if d < 0 {
            self.lo += d;
        }
        self.len += shift;
        self.bits.resize(self.len.div_ceil(64), 0);
        // Or with itself shifted up by `shift` bits: bit i gets bit i - shift
        // (for a negative d the old bits are the "applied" totals, which
        // sit `shift` below the new positions of the "not applied" ones;
        // either way it is the same or).
        let (words, rest) = (shift / 64, (shift % 64) as u32);
        for i in (words..self.bits.len()).rev() {
            let src = i - words;
            let mut w = self.bits[src] << rest;
            if rest > 0 && src > 0 {
                w |= self.bits[src - 1] >> (64 - rest);
            }
            self.bits[i] |= w;
        }
        if self.len >= CHECK_FULL_FROM {
            let whole = self.len / 64;
            let tail = self.len % 64;
            let full = self.bits[..whole].iter().all(|&w| w == u64::MAX)
                && (tail == 0 || self.bits[whole] == (1u64 << tail) - 1);
            if full {
                self.full = true;
                self.bits = Vec::new();
            }
        }
    }

    /// Whether `v` is reachable.
    pub(crate) fn contains(&self, v: i128) -> bool {
        let i = v - self.lo;
        if i < 0 || i >= self.len as i128 {
            return false;
        }
        if self.full {
            return true;
        }
        let i = i as usize;
        self.bits[i / 64] >> (i % 64) & 1 == 1
    }

    /// The reachable values nearest `v` below and above it (`v` excluded),
    /// found a word at a time.
    pub(crate) fn nearest(&self, v: i128) -> (Option<i128>, Option<i128>) {
        let n = self.len as i128;
        let i = v - self.lo;
        if self.full {
            let hi = self.lo + n - 1;
            return (
                (v > self.lo).then(|| (v - 1).min(hi)),
                (v < hi).then(|| (v + 1).max(self.lo)),
            );
        }
        // Highest set bit below index `i`.
        let below = if i <= 0 {
            None
        } else {
            let top = (i.min(n) - 1) as usize;
            let mut w = top / 64;
            let mut word = self.bits[w] & (u64::MAX >> (63 - top % 64));
            loop {
                if word != 0 {
                    break Some(self.lo + (w * 64 + 63 - word.leading_zeros() as usize) as i128);
                }
                if w == 0 {
                    break None;
                }
                w -= 1;
                word = self.bits[w];
            }
        };
        // Lowest set bit above index `i`.
        let above = if i + 1 >= n {
            None
        } else {
            let start = (i + 1).max(0) as usize;
            let mut w = start / 64;
            let mut word = self.bits[w] & (u64::MAX << (start % 64));
            loop {
                if word != 0 {
                    let at = w * 64 + word.trailing_zeros() as usize;
                    break (at < self.len).then_some(self.lo + at as i128);
                }
                w += 1;
                if w >= self.bits.len() {
                    break None;
                }
                word = self.bits[w];
            }
        };
        (below, above)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subset, by brute force.
    fn brute(deltas: &[i128]) -> Vec<i128> {
        let mut out: Vec<i128> = (0..1u32 << deltas.len())
            .map(|m| {
                (0..deltas.len())
                    .filter(|&i| m >> i & 1 == 1)
                    .map(|i| deltas[i])
                    .sum()
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn the_sums_are_exactly_the_subset_sums() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..500 {
            let mut deltas = Vec::new();
            let mut s = Sums::default();
            for _ in 0..(seed % 9) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly small, sometimes across a word boundary.
                let d = if seed.is_multiple_of(7) {
                    (seed % 200) as i128 - 100
                } else {
                    (seed % 11) as i128 - 5
                };
                deltas.push(d);
                s.add(d);
            }
            let want = brute(&deltas);
            let lo = deltas.iter().filter(|d| **d < 0).sum::<i128>();
            let hi = deltas.iter().filter(|d| **d > 0).sum::<i128>();
            let have: Vec<i128> = (lo - 3..=hi + 3).filter(|&v| s.contains(v)).collect();
            assert_eq!(have, want, "{deltas:?}");
            for v in lo - 3..=hi + 3 {
                let below = want.iter().rev().find(|&&x| x < v).copied();
                let above = want.iter().find(|&&x| x > v).copied();
                assert_eq!(s.nearest(v), (below, above), "{deltas:?} around {v}");
            }
        }
    }

    #[test]
    fn a_full_range_stays_a_range_until_a_gap_appears() {
        let mut s = Sums::default();
        for _ in 0..1_000 {
            s.add(3);
        }
        // 0, 3, 6, ...: a gap every step, so bits.
        assert!(!s.full && s.contains(2_997) && !s.contains(2_998));
        let mut s = Sums::default();
        for d in [1, -1, 2, 3, 5] {
            s.add(d);
        }
        assert!(s.full, "{s:?}");
        for _ in 0..1_000_000 {
            s.add(4);
        }
        assert!(s.full && s.cost_after(5) == 0 && s.contains(4_000_011));
        assert_eq!(s.nearest(-5), (None, Some(-1)));
        assert_eq!(s.nearest(0), (Some(-1), Some(1)));
        // A delta longer than the range leaves a gap.
        let mut s = Sums::default();
        s.add(1);
        s.add(10);
        assert_eq!(
            (0..12).filter(|&v| s.contains(v)).collect::<Vec<_>>(),
            [0, 1, 10, 11]
        );
    }

    #[test]
    fn maelstrom_example_has_a_gap() {
        let mut s = Sums::default();
        for d in [5, -1, -1] {
            s.add(d);
        }
        let have: Vec<i128> = (-5..10).filter(|&v| s.contains(v)).collect();
        assert_eq!(have, vec![-2, -1, 0, 3, 4, 5]);
        assert_eq!(s.nearest(1), (Some(0), Some(3)));
        assert_eq!(s.len, 8);
        assert_eq!(s.cost_after(-3), 11);
    }
}
