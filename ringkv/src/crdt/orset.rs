//! The OR-set: an add-wins observed-remove set, without tombstones.
//!
//! Every add of an element is tagged with a fresh *dot*, `(node, counter)`,
//! and the set keeps, per element, the dots of the adds that put it there,
//! plus a version vector of every dot it has seen. A remove deletes the
//! dots of the element that the remover has seen, and only those. When two
//! replicas merge, a dot survives if both hold it, or if the side lacking
//! it has never seen it (so cannot have removed it): an add concurrent
//! with a remove survives it (*add wins*), and removed elements leave
//! nothing behind (ORSWOT).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::versioning::{merge_vv, VersionVector};

/// One event at one node: `(node, counter)`.
pub type Dot = (String, u64);

/// An add-wins observed-remove set of JSON values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrSet {
    /// Live elements (as JSON text) and the dots of the adds that put them
    /// there.
    pub entries: BTreeMap<String, BTreeSet<Dot>>,
    /// Every dot this replica has seen, added or removed since.
    pub clock: VersionVector,
}

impl OrSet {
    /// Adds `element` as `node`: its old dots (seen here) are replaced by
    /// a fresh one.
    pub fn add(&mut self, node: &str, element: &Value) {
        let n = self.clock.get(node).copied().unwrap_or(0) + 1;
        self.clock.insert(node.to_string(), n);
        self.entries
            .insert(element.to_string(), BTreeSet::from([(node.to_string(), n)]));
    }

    /// Removes `element`: the adds this replica has seen are gone; adds it
    /// has not seen (concurrent ones) survive the merge.
    pub fn remove(&mut self, element: &Value) {
        self.entries.remove(&element.to_string());
    }

    /// Removes only the adds of `element` whose dots are in `observed`: an
    /// add this replica holds that the remover never saw survives.
    pub fn remove_observed(&mut self, element: &Value, observed: &BTreeSet<Dot>) {
        let k = element.to_string();
        if let Some(dots) = self.entries.get_mut(&k) {
            dots.retain(|d| !observed.contains(d));
            if dots.is_empty() {
                self.entries.remove(&k);
            }
        }
    }

    /// The elements, in a stable order.
    pub fn elements(&self) -> Vec<Value> {
        self.entries
            .keys()
            .map(|k| serde_json::from_str(k).expect("elements are stored as JSON"))
            .collect()
    }

    /// ORSWOT merge: a dot survives if both sides have it, or if the side
    /// lacking it has never seen it (so did not remove it).
    pub fn merge(&mut self, other: &OrSet) {
        let seen =
            |clock: &VersionVector, (node, c): &Dot| clock.get(node).copied().unwrap_or(0) >= *c;
        let keys: BTreeSet<String> = self
            .entries
            .keys()
            .chain(other.entries.keys())
            .cloned()
            .collect();
        let empty = BTreeSet::new();
        let mut merged = BTreeMap::new();
        for k in keys {
            let mine = self.entries.get(&k).unwrap_or(&empty);
            let theirs = other.entries.get(&k).unwrap_or(&empty);
            let dots: BTreeSet<Dot> = mine
                .iter()
                .filter(|d| theirs.contains(*d) || !seen(&other.clock, d))
                .chain(
                    theirs
                        .iter()
                        .filter(|d| !mine.contains(*d) && !seen(&self.clock, d)),
                )
                .cloned()
                .collect();
            if !dots.is_empty() {
                merged.insert(k, dots);
            }
        }
        self.entries = merged;
        self.clock = merge_vv(&self.clock, &other.clock);
    }
}
