//! Linearizable `/cas` registers: single-decree Paxos per operation.
//!
//! Every read, write or compare-and-set of a `/cas` register runs one
//! Paxos round over the key's N primaries, as Cassandra's lightweight
//! transactions do: prepare with a fresh ballot at a majority, finish any
//! proposal an earlier proposer left half-done, read the latest commit,
//! then (for writes) propose and commit at a majority. Any two majorities
//! intersect, so the operations are linearizable while membership is
//! stable. Fallbacks never stand in here, and the acceptor state is not
//! handed off. The acceptor side is [`crate::paxos`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use super::{CoordError, Coordinator, QuorumKind};
use crate::paxos::{self, Ballot, Promise, Proposal};
use crate::replica::{ReplicaOp, ReplicaReply};

/// What became of a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepted {
    /// A majority accepted it: it is chosen.
    Chosen,
    /// Every acceptor refused it.
    Refused,
    /// Some may have accepted it, not provably a majority.
    Maybe,
}

/// The result of a Paxos register operation.
#[derive(Debug, Clone, PartialEq)]
pub enum CasOutcome {
    /// A read: the current value (`null`: absent) and the ballot it was
    /// committed at (`None`: never written).
    Read(serde_json::Value, Option<Ballot>),
    /// The write (or compare-and-set) took effect, chosen at this ballot.
    Written(Ballot),
    /// The compare-and-set found another value, and changed nothing.
    Mismatch(serde_json::Value),
}

impl Coordinator {
    /// A linearizable read, write or compare-and-set of the register `key`
    /// by Paxos over its N primaries (see [`crate::paxos`]). `new = None`
    /// reads; `expected = Some(e)` makes the write conditional on the
    /// current value being `e` (`null`: absent).
    pub async fn paxos(
        &self,
        key: &str,
        expected: Option<serde_json::Value>,
        new: Option<serde_json::Value>,
    ) -> Result<CasOutcome, CoordError> {
        let deadline = Instant::now() + self.config.request_timeout;
        let primaries = self.preference_list(key);
        let majority = primaries.len() / 2 + 1;
        let unavailable = || CoordError::Quorum {
            kind: if new.is_some() {
                QuorumKind::Write
            } else {
                QuorumKind::Read
            },
            needed: majority,
            got: 0,
        };
        let mut attempt = 0u32;
        while Instant::now() < deadline {
            if attempt > 0 {
                // Back off a little, differently per node, to break duels.
                let jitter = (xxhash_rust::xxh3::xxh3_64(
                    format!("{}{attempt}", self.config.node).as_bytes(),
                ) % 20) as u64;
                tokio::time::sleep(std::time::Duration::from_millis(2 + jitter)).await;
            }
            attempt += 1;
            let ballot: Ballot = (
                self.ballot.fetch_add(1, Ordering::SeqCst) + 1,
                self.config.node.clone(),
            );
            let prepare = ReplicaOp::PaxosPrepare {
                key: key.to_string(),
                ballot: ballot.clone(),
            };
            let replies = self
                .paxos_round(&primaries, prepare, majority, deadline)
                .await;
            let promises: Vec<Promise> = replies
                .into_iter()
                .filter_map(|r| match r {
                    ReplicaReply::Promise(p) => Some(p),
                    _ => None,
                })
                .collect();
            self.observe_ballots(promises.iter().filter_map(|p| p.promised.as_ref()));
            let granted: Vec<&Promise> = promises.iter().filter(|p| p.ok).collect();
            if granted.len() < majority {
                continue;
            }
            let (committed, in_progress) = paxos::read_promises(granted);
            if let Some(p) = in_progress {
                // Finish what an earlier proposer started, then start over.
                let again = Proposal {
                    ballot: ballot.clone(),
                    value: p.value,
                };
                let done = self
                    .propose_and_commit(key, &primaries, again, majority, deadline)
                    .await;
                debug!(key, ?done, "tried to finish an interrupted Paxos proposal");
                continue;
            }
            let (current, at) = committed
                .map(|c| (c.value, Some(c.ballot)))
                .unwrap_or((serde_json::Value::Null, None));
            let Some(value) = new.clone() else {
                return Ok(CasOutcome::Read(current, at));
            };
            if let Some(e) = &expected {
                if *e != current {
                    return Ok(CasOutcome::Mismatch(current));
                }
            }
            let proposal = Proposal {
                ballot: ballot.clone(),
                value,
            };
            match self
                .propose_and_commit(key, &primaries, proposal, majority, deadline)
                .await
            {
                // A majority accepted: the value is chosen, whether or not
                // the commit reached a majority yet (the next operation
                // finishes it).
                Accepted::Chosen => return Ok(CasOutcome::Written(ballot)),
                // Every acceptor refused: nothing of this attempt survives,
                // so trying again (and comparing again) is safe.
                Accepted::Refused => continue,
                // Some acceptor may hold it: a later proposer may choose it.
                // Retrying could apply it twice; the outcome is unknown.
                Accepted::Maybe => return Err(unavailable()),
            }
        }
        Err(unavailable())
    }

    /// A ballot as one integer, for clients that order a register's values
    /// by version: `counter × 1024 + rank`, the rank being the proposer's
    /// place among the configured node names in ballot (string) order, so
    /// versions compare as ballots do. Committed ballots grow along the
    /// register's linearization: a later committed value has a larger
    /// version.
    pub fn ballot_version(&self, ballot: &Ballot) -> u64 {
        let mut names: Vec<&str> = self.config.nodes.iter().map(|n| n.name.as_str()).collect();
        names.sort_unstable();
        let rank = names
            .iter()
            .position(|n| *n == ballot.1)
            .unwrap_or(names.len())
            .min(1023);
        ballot.0.saturating_mul(1024).saturating_add(rank as u64)
    }

    /// Phase 2 and, if chosen, the commit.
    async fn propose_and_commit(
        &self,
        key: &str,
        primaries: &[String],
        proposal: Proposal,
        majority: usize,
        deadline: Instant,
    ) -> Accepted {
        let accept = ReplicaOp::PaxosAccept {
            key: key.to_string(),
            proposal: proposal.clone(),
        };
        let replies = self
            .paxos_round(primaries, accept, majority, deadline)
            .await;
        let (mut accepted, mut refused) = (0, 0);
        for r in &replies {
            if let ReplicaReply::Accepted { ok, promised } = r {
                if *ok {
                    accepted += 1;
                } else {
                    refused += 1;
                }
                self.observe_ballots(promised.iter());
            }
        }
        if accepted < majority {
            return if refused == primaries.len() {
                Accepted::Refused
            } else {
                Accepted::Maybe
            };
        }
        let commit = ReplicaOp::PaxosCommit {
            key: key.to_string(),
            proposal,
        };
        // Best effort: a chosen value stays chosen even if this is lost.
        let _ = self
            .paxos_round(primaries, commit, majority, deadline)
            .await;
        Accepted::Chosen
    }

    /// Sends `op` to every primary and returns replies until `majority` of
    /// them are favourable, all have answered, or the deadline passes.
    async fn paxos_round(
        &self,
        primaries: &[String],
        op: ReplicaOp,
        majority: usize,
        deadline: Instant,
    ) -> Vec<ReplicaReply> {
        let op = Arc::new(op);
        let (tx, mut rx) = mpsc::unbounded_channel();
        for p in primaries {
            self.dispatch(p, &op, &tx);
        }
        drop(tx);
        let favourable = |r: &ReplicaReply| {
            matches!(
                r,
                ReplicaReply::Promise(Promise { ok: true, .. })
                    | ReplicaReply::Accepted { ok: true, .. }
                    | ReplicaReply::Ack
            )
        };
        let mut replies = Vec::new();
        let mut good = 0;
        let mut answered = 0;
        while good < majority && answered < primaries.len() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((_, reply))) => {
                    answered += 1;
                    if let Some(r) = reply {
                        good += usize::from(favourable(&r));
                        replies.push(r);
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        replies
    }

    /// Keeps this proposer's ballot counter above every ballot seen.
    fn observe_ballots<'a>(&self, ballots: impl Iterator<Item = &'a Ballot>) {
        for b in ballots {
            self.ballot.fetch_max(b.0, Ordering::SeqCst);
        }
    }
}
