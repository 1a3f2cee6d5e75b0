//! Active anti-entropy: replicas compare hash trees of the keys they share
//! and exchange only what differs, so a replica that missed writes (it was
//! down, partitioned, or read repair was off) converges without any client
//! reading the key.
//!
//! The tree has two levels: [`LEAVES`] buckets, each the XOR of the hashes
//! of the (key, state) pairs whose key falls in it, under one root hash of
//! all leaves. A round between node A and its peer B:
//!
//! 1. A sends its root over the keys both own (by A's ring); B computes its
//!    own over the same key space. Equal roots: nothing to do.
//! 2. Otherwise B returns its leaves; A finds the buckets that differ and
//!    fetches B's states for the keys in them.
//! 3. A merges those states into its store (every state here merges
//!    idempotently), then pushes its own, now merged, state of each of those
//!    keys to B.
//!
//! A hash is over a key's whole state, serialized canonically (sets sorted,
//! vectors in maps, siblings normalised), so equal states hash equal on
//! every node.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// Number of leaf buckets in a tree.
pub const LEAVES: usize = 1024;

/// Path of the anti-entropy endpoint.
pub const AAE_PATH: &str = "/internal/aae";

pub use crate::storage::KeyState;

/// The bucket a key falls in.
pub fn bucket(key: &str) -> usize {
    (xxh3_64(key.as_bytes()) % LEAVES as u64) as usize
}

/// A two-level hash tree over some states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// Hash of all leaves.
    pub root: u64,
    /// Per-bucket XOR of state hashes.
    pub leaves: Vec<u64>,
}

impl Tree {
    /// Builds the tree of `states`.
    pub fn build<'a>(states: impl IntoIterator<Item = &'a KeyState>) -> Tree {
        let mut leaves = vec![0u64; LEAVES];
        for s in states {
            leaves[bucket(s.key())] ^= s.hash();
        }
        let bytes: Vec<u8> = leaves.iter().flat_map(|l| l.to_le_bytes()).collect();
        Tree {
            root: xxh3_64(&bytes),
            leaves,
        }
    }

    /// Buckets whose leaves differ.
    pub fn diff(&self, other: &Tree) -> Vec<u32> {
        self.leaves
            .iter()
            .zip(&other.leaves)
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i as u32)
            .collect()
    }
}

/// A request to a peer's anti-entropy endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "aae", rename_all = "snake_case")]
pub enum AaeRequest {
    /// "Here is my root over the keys we share; send your leaves if yours
    /// differs."
    Compare {
        /// The asking node.
        from: String,
        /// Its root.
        root: u64,
    },
    /// "Send your states of the keys we share in these buckets."
    Fetch {
        /// The asking node.
        from: String,
        /// Bucket numbers.
        buckets: Vec<u32>,
    },
}

/// A peer's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "aae", rename_all = "snake_case")]
pub enum AaeReply {
    /// The roots agree.
    Equal,
    /// The roots differ: the peer's leaves.
    Leaves {
        /// Per-bucket hashes.
        leaves: Vec<u64>,
    },
    /// The peer's states in the asked buckets.
    States {
        /// Key states.
        states: Vec<KeyState>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn set(key: &str, elems: &[i64]) -> KeyState {
        KeyState::Set {
            key: key.into(),
            elements: elems.iter().copied().collect::<BTreeSet<_>>(),
        }
    }

    #[test]
    fn equal_states_give_equal_trees_in_any_order() {
        let a = [set("x", &[1, 2]), set("y", &[3])];
        let b = [set("y", &[3]), set("x", &[2, 1])];
        assert_eq!(Tree::build(&a), Tree::build(&b));
        assert!(Tree::build(&a).diff(&Tree::build(&b)).is_empty());
    }

    #[test]
    fn a_diverged_key_shows_in_exactly_its_bucket() {
        let mine = [set("x", &[1, 2]), set("y", &[3]), set("z", &[])];
        let theirs = [set("x", &[1]), set("y", &[3]), set("z", &[])];
        let (t1, t2) = (Tree::build(&mine), Tree::build(&theirs));
        assert_ne!(t1.root, t2.root);
        assert_eq!(t1.diff(&t2), vec![bucket("x") as u32]);
        // A key one side lacks entirely differs too.
        let fewer = [set("y", &[3]), set("z", &[])];
        assert!(Tree::build(&fewer)
            .diff(&t1)
            .contains(&(bucket("x") as u32)));
    }
}
