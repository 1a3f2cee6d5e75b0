//! Handoff: moving keys this node holds but does not own to their owners.
//!
//! A node can hold keys it does not own: after a membership change moved
//! the ring, or as a fallback under a sloppy quorum (a *hint*). Every
//! `handoff_interval_ms` a scan pushes each such key's state to all of its
//! owners and drops the local copy once all of them acknowledged it, unless
//! a write changed it meanwhile (the next scan pushes the newer state). A
//! leaving node that holds nothing more becomes `left`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tracing::debug;

use super::{read, write, Coordinator};
use crate::membership::Status;
use crate::replica::{ReplicaOp, ReplicaReply};

/// What one handoff scan did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandoffReport {
    /// Keys pushed to their owners and dropped here.
    pub moved: usize,
    /// Keys this node should not hold that could not be moved yet.
    pub pending: usize,
}

impl Coordinator {
    /// Keys moved away by handoff since start, and keys waiting to move.
    pub fn handoff_counts(&self) -> (u64, u64) {
        (
            self.handed_off.load(Ordering::Relaxed),
            self.handoff_pending.load(Ordering::Relaxed),
        )
    }
    /// One handoff scan: every key held here whose preference list no longer
    /// includes this node is pushed to all its owners; once all of them
    /// acknowledged, the local copy is dropped (unless it changed meanwhile:
    /// then the next scan pushes the newer state). A leaving node that holds
    /// nothing more becomes `left`.
    pub async fn handoff_round(&self) -> HandoffReport {
        let ring = self.ring();
        let me = self.config.node.as_str();
        let mut report = HandoffReport::default();
        let n = self.config.n;
        let elsewhere = |key: &str| !ring.preference_list(key, n).contains(&me);
        for state in self.local_states(elsewhere) {
            let owners = ring.preference_list(state.key(), n);
            let op = state.clone().into_merge_op();
            if self.push_to_all(&owners, op).await && self.store.remove_if_unchanged(&state) {
                report.moved += 1;
            } else {
                report.pending += 1;
            }
        }
        self.handed_off
            .fetch_add(report.moved as u64, Ordering::Relaxed);
        self.handoff_pending
            .store(report.pending as u64, Ordering::Relaxed);
        if report.moved > 0 {
            debug!(moved = report.moved, pending = report.pending, "handoff");
        }
        let counts = self.store.counts();
        let holds_nothing =
            counts.kv == 0 && counts.set == 0 && counts.objects == 0 && counts.crdts == 0;
        let finished = {
            let mut m = write(&self.membership);
            m.my_status() == Status::Leaving && holds_nothing && m.set_my_status(Status::Left)
        };
        if finished {
            self.push_gossip();
        }
        report
    }

    /// Sends `op` to every node in `owners`; true if all acknowledged. An
    /// empty list (no valid node at all) never counts as delivered.
    async fn push_to_all(&self, owners: &[&str], op: ReplicaOp) -> bool {
        if owners.is_empty() {
            return false;
        }
        let op = Arc::new(op);
        let mut tasks = tokio::task::JoinSet::new();
        for name in owners {
            let Some(addr) = read(&self.membership).addr_of(name).map(str::to_string) else {
                return false;
            };
            let (client, op) = (self.client.clone(), op.clone());
            tasks.spawn(
                async move { matches!(client.call(&addr, &op).await, Ok(ReplicaReply::Ack)) },
            );
        }
        let mut all = true;
        while let Some(r) = tasks.join_next().await {
            all &= r.unwrap_or(false);
        }
        all
    }
}
