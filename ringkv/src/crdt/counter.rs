//! The PN-counter: a counter that goes up and down, replicated.
//!
//! Each node keeps two totals of its own, its increments and its
//! decrements, which only grow; the value is the sum of all increments
//! minus the sum of all decrements. Since each node only ever raises its
//! own totals, merging two replicas takes each total's maximum, and
//! replicas that have exchanged states agree, whatever the order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Increments and decrements per node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PnCounter {
    /// Total increments, per node.
    pub p: BTreeMap<String, u64>,
    /// Total decrements, per node.
    pub n: BTreeMap<String, u64>,
}

impl PnCounter {
    /// Adds `delta` (negative: a decrement) as `node`.
    pub fn add(&mut self, node: &str, delta: i64) {
        let side = if delta >= 0 { &mut self.p } else { &mut self.n };
        *side.entry(node.to_string()).or_insert(0) += delta.unsigned_abs();
    }

    /// The counter's value.
    pub fn value(&self) -> i64 {
        let p: u64 = self.p.values().sum();
        let n: u64 = self.n.values().sum();
        p as i64 - n as i64
    }

    /// Pointwise maximum.
    pub fn merge(&mut self, other: &PnCounter) {
        for (side, theirs) in [(&mut self.p, &other.p), (&mut self.n, &other.n)] {
            for (k, v) in theirs {
                let e = side.entry(k.clone()).or_insert(0);
                *e = (*e).max(*v);
            }
        }
    }
}
