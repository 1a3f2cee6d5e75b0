//! Interned lists of small integers: how a compound model state (a queue, a
//! set, a map of registers) becomes one `u32`.
//!
//! The search compares and hashes model states millions of times (Lowe's
//! memo keys on (linearized ops, state)). For a register a state is one
//! interned value, so that is one integer. A queue's state is a sequence of
//! values and a set's a collection of them; hashing and comparing those at
//! every step would cost time proportional to their size, and storing one
//! per memo entry would cost memory proportional to it.
//!
//! Instead every such state is written as a list of `u32` (value ids from
//! [`super::model::Values`], in a canonical order the model chooses: a set
//! sorted and without repeats, a FIFO queue front first, a map as sorted
//! `key, value` pairs) and *interned* here: each distinct list gets one id,
//! and equal lists get equal ids. So two states are equal iff their ids are,
//! and the search goes on comparing `u32`s. A new state is made (and hashed)
//! only the first time a transition reaches it; the models memoise each
//! transition (state id, op) → state id, so later visits are one hash-map
//! probe.
//!
//! The lists live back to back in one `Vec<u32>` (no allocation per list);
//! an index from the list's hash to its id finds it again, with a chain of
//! ids for lists whose hashes collide, and a candidate is accepted only
//! after comparing the lists themselves (equal ids iff equal lists,
//! whatever the hash does). Id 0 is always the empty list.

use super::fxhash::{splitmix64, FxHashMap};

const NO_ID: u32 = u32::MAX;

/// A table of interned lists of `u32`; id 0 is the empty list.
#[derive(Clone, Debug)]
pub(crate) struct Lists {
    /// All lists, back to back.
    items: Vec<u32>,
    /// List `i` is `items[spans[i].0 .. spans[i].0 + spans[i].1]`.
    spans: Vec<(u32, u32)>,
    /// Hash -> the last id with it; `same` chains the earlier ones.
    index: FxHashMap<u64, u32>,
    same: Vec<u32>,
}

impl Default for Lists {
    fn default() -> Self {
        let mut l = Lists {
            items: Vec::new(),
            spans: Vec::new(),
            index: FxHashMap::default(),
            same: Vec::new(),
        };
        l.intern(&[]);
        l
    }
}

fn hash(list: &[u32]) -> u64 {
    list.iter().fold(list.len() as u64, |h, &x| {
        splitmix64(h ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    })
}

impl Lists {
    /// The id of `list`, adding it if new.
    pub(crate) fn intern(&mut self, list: &[u32]) -> u32 {
        let h = hash(list);
        let first = self.index.get(&h).copied().unwrap_or(NO_ID);
        let mut c = first;
        while c != NO_ID {
            if self.get(c) == list {
                return c;
            }
            c = self.same[c as usize];
        }
        let id = self.spans.len() as u32;
        self.spans
            .push((self.items.len() as u32, list.len() as u32));
        self.items.extend_from_slice(list);
        self.same.push(first);
        self.index.insert(h, id);
        id
    }

    /// The list with id `id`.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> &[u32] {
        let (start, len) = self.spans[id as usize];
        &self.items[start as usize..(start + len) as usize]
    }

    /// How many distinct lists are interned.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lists_get_equal_ids_and_the_empty_list_is_zero() {
        let mut l = Lists::default();
        assert_eq!(l.intern(&[]), 0);
        let a = l.intern(&[1, 2, 3]);
        let b = l.intern(&[1, 2]);
        assert_ne!(a, b);
        assert_eq!(l.intern(&[1, 2, 3]), a);
        assert_eq!(l.get(a), &[1, 2, 3]);
        assert_eq!(l.get(b), &[1, 2]);
        assert_eq!(l.len(), 3);
        // Order matters: a list is not a set.
        assert_ne!(l.intern(&[3, 2, 1]), a);
    }

    #[test]
    fn many_lists_stay_distinct() {
        let mut l = Lists::default();
        let ids: Vec<u32> = (0..2000u32).map(|i| l.intern(&[i % 7, i / 7, i])).collect();
        for (i, &id) in ids.iter().enumerate() {
            let i = i as u32;
            assert_eq!(l.get(id), &[i % 7, i / 7, i]);
            assert_eq!(l.intern(&[i % 7, i / 7, i]), id);
        }
    }
}
