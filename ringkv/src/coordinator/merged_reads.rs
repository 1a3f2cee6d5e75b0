//! Quorum reads of mergeable states, and read repair.
//!
//! Every kind of value ringkv keeps (LWW and versioned registers, sets,
//! CRDTs) has a merge that is commutative, associative and idempotent, so a
//! read gathers R replies and merges the states they hold into one answer.
//! A replica that answered with anything other than the merged state is
//! stale; with `read_repair` on (the default), the coordinator sends it the
//! merged state in the background, so replicas converge on the keys that
//! are read without waiting for anti-entropy.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::debug;

use super::{CoordError, Coordinator, Need, QuorumKind};
use crate::replica::{ReplicaOp, ReplicaReply};

impl Coordinator {
    /// Read repairs sent since start.
    pub fn read_repair_count(&self) -> u64 {
        self.read_repairs.load(Ordering::Relaxed)
    }
    /// A quorum read of a mergeable state: gathers `r` replies, merges the
    /// states they hold (`state` picks it out of a reply), and read-repairs
    /// every replica that answered with something else (`repair` builds the
    /// merge op for it). `None` if no replica holds the key.
    pub(super) async fn read_merged<T: Clone + PartialEq>(
        &self,
        key: &str,
        op: ReplicaOp,
        r: impl Into<Need>,
        state: impl Fn(&ReplicaReply) -> Option<&T>,
        merge: impl Fn(&mut T, &T),
        repair: impl Fn(String, T) -> ReplicaOp,
    ) -> Result<Option<T>, CoordError> {
        let replies = self.gather(key, op, QuorumKind::Read, r, None).await?;
        let mut merged: Option<T> = None;
        for (_, reply) in &replies {
            if let Some(s) = state(reply) {
                match &mut merged {
                    Some(m) => merge(m, s),
                    None => merged = Some(s.clone()),
                }
            }
        }
        if let Some(m) = &merged {
            for (node, reply) in &replies {
                if state(reply) != Some(m) {
                    self.repair(node, repair(key.to_string(), m.clone()));
                }
            }
        }
        Ok(merged)
    }
    /// Read repair: sends the merged state to a replica that answered a read
    /// with an older one, in the background (when `read_repair` is on).
    fn repair(&self, node: &str, op: ReplicaOp) {
        if !self.config.read_repair {
            return;
        }
        self.read_repairs.fetch_add(1, Ordering::Relaxed);
        debug!(node, "read repair");
        let (tx, _rx) = mpsc::unbounded_channel();
        self.dispatch(node, &Arc::new(op), &tx);
    }
}
