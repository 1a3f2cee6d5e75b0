//! Writes that one replica applies and the others merge.
//!
//! Some writes cannot be applied independently at every replica: a
//! versioned register's new sibling needs one dot or vector entry, and a
//! CRDT operation is stamped with the name of the replica that applies it.
//! Such a write goes to one replica first (this node when it is a primary,
//! then primaries presumed alive, then, under a sloppy quorum, live
//! fallbacks); the state that replica returns is then merged into the
//! others until W replicas in all hold it.

use tokio::time::Instant;

use super::quorum::reply_matches;
use super::{read, write, CoordError, Coordinator, Need, QuorumKind};
use crate::replica::{self, ReplicaOp, ReplicaReply};

impl Coordinator {
    /// Has one replica apply `op` (a write that must be stamped by a single
    /// replica): this node if it is a primary, else primaries the failure
    /// detector thinks alive, then (sloppy quorum) live fallbacks. Returns
    /// the replica that applied it and its reply.
    pub(super) async fn coordinate(
        &self,
        key: &str,
        op: &ReplicaOp,
        w: usize,
    ) -> Result<(String, ReplicaReply), CoordError> {
        let deadline = Instant::now() + self.config.request_timeout;
        let primaries: Vec<String> = self.preference_list(key);
        let mut owners = primaries.clone();
        if self.config.sloppy_quorum {
            owners.extend(
                self.ring()
                    .preference_list(key, usize::MAX)
                    .into_iter()
                    .skip(primaries.len())
                    .map(str::to_string),
            );
        }
        owners.sort_by_key(|o| {
            let primary = primaries.contains(o);
            let alive = read(&self.membership).is_alive(o, self.started);
            match (*o == self.config.node && primary, primary, alive) {
                (true, _, _) => 0,
                (_, true, true) => 1,
                (_, false, true) => 2,
                _ => 3,
            }
        });
        for owner in &owners {
            if Instant::now() >= deadline {
                break;
            }
            let reply = if *owner == self.config.node {
                let reply = replica::apply(&self.store, &self.config.node, op);
                self.store.sync().await;
                Some(reply)
            } else {
                let Some(addr) = read(&self.membership).addr_of(owner).map(str::to_string) else {
                    continue;
                };
                match tokio::time::timeout_at(deadline, self.client.call(&addr, op)).await {
                    Ok(Ok(r)) => {
                        write(&self.membership).heard_from(owner);
                        Some(r)
                    }
                    _ => None,
                }
            };
            match reply {
                Some(ReplicaReply::WrongType) => return Err(CoordError::WrongType),
                Some(r) if reply_matches(op, &r) => return Ok((owner.clone(), r)),
                _ => {}
            }
        }
        Err(CoordError::Quorum {
            kind: QuorumKind::Write,
            needed: w,
            got: 0,
        })
    }
    /// After replica `by` applied a write, merges its result (`merge`) into
    /// the other replicas until `w` replicas in all hold it (`by` counts,
    /// toward PW too when it is a primary).
    pub(super) async fn replicate_rest(
        &self,
        key: &str,
        merge: ReplicaOp,
        by: &str,
        w: Need,
    ) -> Result<(), CoordError> {
        let by_primary = self.preference_list(key).iter().any(|p| p == by);
        let rest = Need {
            total: w.total.saturating_sub(1),
            primaries: w.primaries.saturating_sub(usize::from(by_primary)),
        };
        self.quorum_except(key, merge, QuorumKind::Write, rest, Some(by))
            .await
            .map(|_| ())
            .map_err(|e| match e {
                CoordError::Quorum { kind, got, .. } => CoordError::Quorum {
                    kind,
                    needed: w.total,
                    got: got + 1,
                },
                other => other,
            })
    }
}
