//! The memo of configurations already explored (Lowe's cache).
//!
//! A configuration is the set of linearized ops (a bitset) and the model
//! state reached. Two paths that linearize the same ops and reach the same
//! state have the same future, so the second one can be skipped.
//!
//! The set is an open-addressing table of `u64` slots (32 bits of the hash
//! as a tag, and an index) pointing into one flat `Vec<u64>` of records
//! `[hash, state, bitset words...]`, so an insertion allocates nothing
//! (amortised) and memory is easy to account for. A probe compares the tag
//! first and reads a record only when the tags match, which saves most cache
//! misses on a large table. The
//! bitset's hash is maintained incrementally by the search (Zobrist hashing:
//! the XOR of one random key per linearized op), so hashing a configuration
//! costs O(1) instead of O(n).

use super::fxhash::splitmix64;

const EMPTY: u64 = u64::MAX;

/// A hash set of (bitset, state) configurations.
#[derive(Default)]
pub(crate) struct Cache {
    words: usize,
    slots: Vec<u64>,
    records: Vec<u64>,
    len: usize,
}

impl Cache {
    /// Empties the cache, for bitsets of `words` 64-bit words, keeping its
    /// memory unless it is large.
    pub(crate) fn reset(&mut self, words: usize) {
        self.words = words;
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

    /// Bytes of memory the cache holds.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.capacity() * 8 + self.records.capacity() * 8
    }

    /// Inserts a configuration; true if it was not there yet.
    /// `bits_hash` must be the Zobrist hash of `bits`.
    #[inline]
    pub(crate) fn insert(&mut self, bits_hash: u64, state: u32, bits: &[u64]) -> bool {
        let h = splitmix64(bits_hash ^ (state as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let tag = h >> 32;
        let stride = self.words + 2;
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                break;
            }
            if s >> 32 == tag {
                let r = (s & 0xFFFF_FFFF) as usize * stride;
                let rec = &self.records[r..r + stride];
                if rec[0] == h && rec[1] == state as u64 && rec[2..].iter().eq(bits.iter()) {
                    return false;
                }
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = (tag << 32) | self.len as u64;
        self.records.push(h);
        self.records.push(state as u64);
        self.records.extend_from_slice(bits);
        self.len += 1;
        if self.len * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let stride = self.words + 2;
        let cap = self.slots.len() * 2;
        let mask = cap - 1;
        let mut slots = vec![EMPTY; cap];
        for e in 0..self.len {
            let h = self.records[e * stride];
            let mut i = (h as usize) & mask;
            while slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            slots[i] = ((h >> 32) << 32) | e as u64;
        }
        self.slots = slots;
    }
}
