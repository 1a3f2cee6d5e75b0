//! The quorum fan-out every coordinated request goes through.
//!
//! A request is sent to the replicas of its key concurrently and counts as
//! done once `needed` of them answered with the kind of reply the operation
//! calls for. Calls that outlive the quorum keep running, so slow replicas
//! still receive writes. Under a strict quorum only the key's N primaries
//! count. Under a sloppy quorum a primary the failure detector presumes
//! dead is replaced at once by the next node along the ring (a
//! *fallback*), and so is one that fails or stays silent for half the
//! request timeout; fallbacks count toward R and W but never toward PR and
//! PW. A fallback stores what it receives like any replica; since it does
//! not own the key, its handoff scans later push that copy, the *hint*, to
//! the owners.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use super::{read, write, CoordError, Coordinator, Need, QuorumKind};
use crate::replica::{self, ReplicaOp, ReplicaReply};

impl Coordinator {
    /// Sends `op` to every replica of `key` concurrently and returns the
    /// first `needed` well-formed replies.
    pub(super) async fn quorum(
        &self,
        key: &str,
        op: ReplicaOp,
        kind: QuorumKind,
        needed: impl Into<Need>,
    ) -> Result<Vec<ReplicaReply>, CoordError> {
        self.quorum_except(key, op, kind, needed, None).await
    }

    /// [`Self::quorum`] over the preference list minus `skip` (a replica
    /// that already applied the operation).
    pub(super) async fn quorum_except(
        &self,
        key: &str,
        op: ReplicaOp,
        kind: QuorumKind,
        needed: impl Into<Need>,
        skip: Option<&str>,
    ) -> Result<Vec<ReplicaReply>, CoordError> {
        let replies = self.gather(key, op, kind, needed, skip).await?;
        Ok(replies.into_iter().map(|(_, r)| r).collect())
    }

    /// Sends `op` to the replicas of `key` and returns the first `needed`
    /// well-formed replies with the node that gave each.
    ///
    /// Strict quorum: only the N preference-list nodes count. Sloppy quorum
    /// (`sloppy_quorum = true`): a primary the failure detector thinks dead
    /// is replaced at once by the next node along the ring (a *fallback*),
    /// and so is one that fails, or has not answered by half the request
    /// timeout. A fallback stores what it receives like any replica; since it
    /// does not own the key, its handoff scans push it to the owners once
    /// they all answer, and then drop it: that copy is the *hint*.
    pub(super) async fn gather(
        &self,
        key: &str,
        op: ReplicaOp,
        kind: QuorumKind,
        need: impl Into<Need>,
        skip: Option<&str>,
    ) -> Result<Vec<(String, ReplicaReply)>, CoordError> {
        let need = need.into();
        let needed = need.total;
        let ring = self.ring();
        let order = ring.preference_list(key, usize::MAX);
        let n = self.config.n.min(order.len());
        let sloppy = self.config.sloppy_quorum;
        let mut fallbacks: std::collections::VecDeque<String> = if sloppy {
            order[n..]
                .iter()
                .filter(|f| Some(**f) != skip)
                .map(|f| f.to_string())
                .collect()
        } else {
            Default::default()
        };
        let primaries: Vec<String> = order[..n]
            .iter()
            .filter(|r| Some(**r) != skip)
            .map(|r| r.to_string())
            .collect();
        let deadline = Instant::now() + self.config.request_timeout;
        let soft_deadline = Instant::now() + self.config.request_timeout / 2;
        let op = Arc::new(op);
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, Option<ReplicaReply>)>();
        let mut pending: std::collections::HashSet<String> = Default::default();

        for p in &primaries {
            let dead = sloppy && !read(&self.membership).is_alive(p, self.started);
            match (dead, fallbacks.pop_front()) {
                (true, Some(f)) => {
                    debug!(key, primary = %p, fallback = %f, "primary presumed dead: using a fallback");
                    self.dispatch(&f, &op, &tx);
                    pending.insert(f);
                }
                (_, f) => {
                    if let Some(f) = f {
                        fallbacks.push_front(f);
                    }
                    self.dispatch(p, &op, &tx);
                    pending.insert(p.clone());
                }
            }
        }

        let mut ok: Vec<(String, ReplicaReply)> = Vec::with_capacity(needed);
        let mut primary_ok = 0;
        let mut soft_done = !sloppy;
        while ok.len() < needed || primary_ok < need.primaries {
            if ok.len() + pending.len() < needed && fallbacks.is_empty() {
                break;
            }
            let primaries_pending = pending.iter().filter(|p| primaries.contains(p)).count();
            if primary_ok + primaries_pending < need.primaries {
                break;
            }
            let wake = if soft_done { deadline } else { soft_deadline };
            match tokio::time::timeout_at(wake, rx.recv()).await {
                Ok(Some((node, Some(reply)))) if reply_matches(&op, &reply) => {
                    pending.remove(&node);
                    primary_ok += usize::from(primaries.contains(&node));
                    ok.push((node, reply));
                }
                Ok(Some((node, _))) => {
                    pending.remove(&node);
                    if let Some(f) = fallbacks.pop_front() {
                        debug!(key, failed = %node, fallback = %f, "replica failed: using a fallback");
                        self.dispatch(&f, &op, &tx);
                        pending.insert(f);
                    }
                }
                Ok(None) => break,
                Err(_) if !soft_done => {
                    // Half the time is gone: back every silent replica with
                    // a fallback, keeping the silent ones in the race.
                    soft_done = true;
                    let silent = pending.len();
                    for _ in 0..silent {
                        let Some(f) = fallbacks.pop_front() else {
                            break;
                        };
                        self.dispatch(&f, &op, &tx);
                        pending.insert(f);
                    }
                }
                Err(_) => break,
            }
        }
        if ok.len() >= needed && primary_ok >= need.primaries {
            Ok(ok)
        } else {
            debug!(key, ?kind, needed, got = ok.len(), "quorum not reached");
            Err(CoordError::Quorum {
                kind,
                needed,
                got: ok.len(),
            })
        }
    }

    /// Sends `op` to `node` (applied in-process when it is this node); the
    /// reply, or `None` on failure, arrives on `tx` tagged with the node.
    /// Spawned, not joined: calls outliving the quorum keep running.
    pub(super) fn dispatch(
        &self,
        node: &str,
        op: &Arc<ReplicaOp>,
        tx: &mpsc::UnboundedSender<(String, Option<ReplicaReply>)>,
    ) {
        if node == self.config.node {
            let reply = replica::apply(&self.store, &self.config.node, op);
            let (store, tx, node) = (self.store.clone(), tx.clone(), node.to_string());
            // The local replica counts once its write is as durable as the
            // fsync policy promises.
            tokio::spawn(async move {
                store.sync().await;
                let _ = tx.send((node, Some(reply)));
            });
            return;
        }
        let Some(addr) = read(&self.membership).addr_of(node).map(str::to_string) else {
            let _ = tx.send((node.to_string(), None));
            return;
        };
        let (tx, op, client) = (tx.clone(), op.clone(), self.client.clone());
        let (membership, peer) = (self.membership.clone(), node.to_string());
        tokio::spawn(async move {
            let reply = match client.call(&addr, &op).await {
                Ok(reply) => {
                    write(&membership).heard_from(&peer);
                    Some(reply)
                }
                Err(e) => {
                    debug!(error = %e, "replica call failed");
                    None
                }
            };
            let _ = tx.send((peer, reply));
        });
    }
}

/// Whether `reply` is the kind of answer `op` calls for; anything else
/// (a confused or incompatible peer) counts as a failed replica.
pub(super) fn reply_matches(op: &ReplicaOp, reply: &ReplicaReply) -> bool {
    matches!(
        (op, reply),
        (ReplicaOp::WriteRegister { .. }, ReplicaReply::Ack)
            | (ReplicaOp::AddElement { .. }, ReplicaReply::Ack)
            | (ReplicaOp::MergeSet { .. }, ReplicaReply::Ack)
            | (ReplicaOp::MergeObject { .. }, ReplicaReply::Ack)
            | (ReplicaOp::ReadObject { .. }, ReplicaReply::Object { .. })
            | (
                ReplicaOp::UpdateObject { .. },
                ReplicaReply::Object { object: Some(_) }
            )
            | (
                ReplicaOp::ReadRegister { .. },
                ReplicaReply::Register { .. }
            )
            | (ReplicaOp::ReadSet { .. }, ReplicaReply::Set { .. })
            | (ReplicaOp::MergeCrdt { .. }, ReplicaReply::Ack)
            | (ReplicaOp::ReadCrdt { .. }, ReplicaReply::Crdt { .. })
            | (
                ReplicaOp::UpdateCrdt { .. },
                ReplicaReply::Crdt { state: Some(_) }
            )
    )
}
