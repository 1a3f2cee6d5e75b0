//! The memo of configurations already explored (Lowe's cache).
//!
//! A configuration is the set of linearized ops (a bitset) and the model
//! state reached. Two paths that linearize the same ops and reach the same
//! state have the same future, so the second one can be skipped.
//!
//! **Entries that do not grow with the history.** A bitset over all of a
//! key's ops would make every entry as long as the key's history (a
//! 100 k-op key: 12.5 KB an entry), so memory, and the time to copy and
//! compare entries, would grow with the square of the history's length.
//! But the search linearizes ops roughly in invocation order (an op is a
//! candidate only once every op that completed before its invocation is
//! linearized), so at any point the bitset is all ones up to a *window*
//! and all zeros after it. An entry stores only the window: `lo`, the
//! first 64-bit word that is not all ones, and the words from there to the
//! last word that is not zero. This is exact, not a summary: the window
//! determines the whole bitset, and the window of a bitset is unique, so
//! two entries are equal iff their bitsets are. The search maintains `lo`
//! and the window's end as it flips bits ([`Window`]).
//!
//! **Two regions.** An op with a completion is linearized before the search
//! passes its completion, so it holds a window open only while it is
//! concurrent with the search's frontier. An op with none (`info`, pending)
//! may stay unplaced for a long time, or for ever: the search need not
//! place it. So the search gives those ops a second region of the bitset,
//! with its own window, and an entry stores both windows: the first is as
//! wide as the history's concurrency, the second as wide as the
//! indeterminate ops between the oldest one not placed and the newest one
//! placed, a small fraction of the history (a key whose old indeterminate
//! write stays unplaced pays one bit per later indeterminate op, not one
//! per op).
//!
//! The set is an open-addressing table of `u64` slots (24 bits of the hash
//! as a tag, and the record's offset) pointing into one flat `Vec<u64>` of
//! records `[hash, state | lo << 32, lengths, lo of the second region,
//! both windows' words...]`, so an insertion allocates nothing (amortised) and memory is easy to account
//! for: [`Cache::bytes`] is the capacity of the two vectors, the bytes
//! actually allocated. A probe compares the tag first and reads a record
//! only when the tags match, which saves most cache misses on a large
//! table. The bitset's hash is maintained incrementally by the search
//! (Zobrist hashing: the XOR of one random key per linearized op), so
//! hashing a configuration costs O(1) instead of O(n).

use super::fxhash::splitmix64;

const EMPTY: u64 = u64::MAX;
/// Bits of a slot that hold the record's offset.
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
/// Words of a record before its windows.
const HEAD: usize = 4;

/// The part of a bitset an entry stores: words `lo..hi`; every word before
/// `lo` is all ones, every word from `hi` on is zero. Kept up to date by
/// [`Window::flipped`] as bits change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Window {
    /// The first word that is not all ones (`bits.len()` if none).
    pub lo: usize,
    /// One past the last word that is not zero (0 if none).
    pub hi: usize,
}

impl Window {
    /// The window of `bits`, computed from scratch.
    pub(crate) fn of(bits: &[u64]) -> Window {
        Window {
            lo: bits.iter().position(|&w| w != !0).unwrap_or(bits.len()),
            hi: bits.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1),
        }
    }

    /// Updates the window after word `w` of `bits` changed.
    #[inline]
    pub(crate) fn flipped(&mut self, bits: &[u64], w: usize) {
        let v = bits[w];
        if v != !0 {
            // Word `w` may be the first that is not full now.
            self.lo = self.lo.min(w);
        } else if w == self.lo {
            while self.lo < bits.len() && bits[self.lo] == !0 {
                self.lo += 1;
            }
        }
        if v != 0 {
            self.hi = self.hi.max(w + 1);
        } else if w + 1 == self.hi {
            while self.hi > 0 && bits[self.hi - 1] == 0 {
                self.hi -= 1;
            }
        }
    }

    /// The stored part of `bits`: `lo` and the words of the window.
    #[inline]
    pub(crate) fn part<'a>(&self, bits: &'a [u64]) -> (usize, &'a [u64]) {
        (self.lo, &bits[self.lo..self.hi.max(self.lo)])
    }
}

/// A hash set of (bitset, state) configurations.
#[derive(Default)]
pub(crate) struct Cache {
    slots: Vec<u64>,
    records: Vec<u64>,
    len: usize,
}

impl Cache {
    /// Empties the cache, keeping its memory unless it is large.
    pub(crate) fn reset(&mut self) {
        if self.slots.len() > 1 << 16 || self.slots.is_empty() {
            self.slots = vec![EMPTY; 1024];
            self.records = Vec::new();
        } else {
            self.slots.fill(EMPTY);
            self.records.clear();
        }
        self.len = 0;
    }

    /// Number of configurations stored.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of memory the cache holds (allocated, not just used).
    pub(crate) fn bytes(&self) -> usize {
        self.slots.capacity() * 8 + self.records.capacity() * 8
    }

    /// Inserts a configuration; true if it was not there yet. Its bitset
    /// is given in two regions (see the search's docs), each as its
    /// window's [`Window::part`]; `bits_hash` must be the Zobrist hash of
    /// the whole bitset.
    #[inline]
    pub(crate) fn insert(
        &mut self,
        bits_hash: u64,
        state: u32,
        (lo_a, a): (usize, &[u64]),
        (lo_b, b): (usize, &[u64]),
    ) -> bool {
        let h = splitmix64(bits_hash ^ (state as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let tag = h >> OFFSET_BITS;
        let head = [
            h,
            state as u64 | (lo_a as u64) << 32,
            a.len() as u64 | (b.len() as u64) << 32,
            lo_b as u64,
        ];
        let len = a.len() + b.len();
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                break;
            }
            if s >> OFFSET_BITS == tag {
                let r = (s & OFFSET_MASK) as usize;
                if self.records[r..r + HEAD] == head
                    && self.records[r + HEAD..r + HEAD + a.len()] == *a
                    && self.records[r + HEAD + a.len()..r + HEAD + len] == *b
                {
                    return false;
                }
            }
            i = (i + 1) & mask;
        }
        let offset = self.records.len() as u64;
        assert!(
            offset <= OFFSET_MASK,
            "linearizability cache: record offset overflow"
        );
        self.slots[i] = (tag << OFFSET_BITS) | offset;
        self.records.extend_from_slice(&head);
        self.records.extend_from_slice(a);
        self.records.extend_from_slice(b);
        self.len += 1;
        if self.len * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let cap = self.slots.len() * 2;
        let mask = cap - 1;
        let mut slots = vec![EMPTY; cap];
        let mut r = 0;
        while r < self.records.len() {
            let h = self.records[r];
            let mut i = (h as usize) & mask;
            while slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            slots[i] = ((h >> OFFSET_BITS) << OFFSET_BITS) | r as u64;
            let lens = self.records[r + 2];
            r += HEAD + (lens & 0xFFFF_FFFF) as usize + (lens >> 32) as usize;
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bitsets of 4 words, each word empty, full, or partly set, changed
    /// one word at a time in a random walk over all 256 of them: the
    /// incremental window is always the window computed from scratch, and
    /// the cache (with hashes made to collide) tells them all apart.
    #[test]
    fn windows_are_exact_and_tell_bitsets_apart() {
        const VALUES: [u64; 4] = [0, !0, 5, !0 ^ 4];
        let mut bits = vec![0u64; 4];
        let mut w = Window::of(&bits);
        assert_eq!(w, Window { lo: 0, hi: 0 });
        let mut cache = Cache::default();
        cache.reset();
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            let x = splitmix64(i);
            let word = (x % 4) as usize;
            bits[word] = VALUES[(x >> 8) as usize % 4];
            w.flipped(&bits, word);
            assert_eq!(w, Window::of(&bits), "{bits:x?}");
            let hash = bits.iter().fold(0, |a, &b| splitmix64(a ^ b)) & 0x3;
            let new = seen.insert(bits.clone());
            // The second region: the same bitset.
            let part = w.part(&bits);
            assert_eq!(cache.insert(hash, 7, part, part), new, "{bits:x?}");
        }
        assert_eq!(seen.len(), 256);
        assert_eq!(cache.len(), 256);
        // One record's window may not run on into the next.
        assert!(cache.insert(0, 7, (0, &[5]), (0, &[])));
        assert!(cache.insert(0, 7, (0, &[]), (0, &[5])));
        assert!(!cache.insert(0, 7, (0, &[5]), (0, &[])));
    }
}
