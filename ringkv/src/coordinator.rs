//! Request coordination: any node can coordinate any request.
//!
//! The coordinator sends the operation to all N replicas of the key's
//! preference list at once (itself in-process, peers over HTTP), answers as
//! soon as the quorum (W acks for writes, R replies for reads) is in, and
//! leaves the remaining calls running in the background so that slow
//! replicas still receive writes. If the quorum cannot be reached within the
//! request timeout — or becomes impossible earlier because too many
//! replicas failed fast — the request fails with [`CoordError::Quorum`].
//!
//! This phase has strict quorums only: no sloppy quorum, hinted handoff,
//! read repair or anti-entropy.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use crate::config::Config;
use crate::replica::{self, ReplicaClient, ReplicaOp, ReplicaReply};
use crate::ring::Ring;
use crate::storage::{wall_clock_nanos, GSet, LwwValue, Store};

/// Whether a quorum counts write acknowledgements or read replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumKind {
    /// W: acknowledgements of a write.
    Write,
    /// R: replies to a read.
    Read,
}

/// Why a coordinated request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordError {
    /// The requested R or W is outside `1..=N` (client error).
    #[error("{param} must be an integer in 1..={n}, got {got}")]
    BadQuorum {
        /// `"r"` or `"w"`.
        param: &'static str,
        /// The value the client asked for, as given.
        got: String,
        /// The replication factor.
        n: usize,
    },
    /// Fewer than `needed` replicas answered successfully in time.
    #[error("quorum not reached: needed {needed}, got {got}")]
    Quorum {
        /// Read or write quorum.
        kind: QuorumKind,
        /// R or W.
        needed: usize,
        /// Successful acks / replies received before giving up.
        got: usize,
    },
}

/// A node's coordinator: configuration, ring, local replica and peer client.
#[derive(Debug)]
pub struct Coordinator {
    config: Config,
    ring: Ring,
    store: Arc<Store>,
    client: ReplicaClient,
}

impl Coordinator {
    /// Builds the coordinator for `config` with an empty local store.
    pub fn new(config: Config) -> Result<Coordinator, reqwest::Error> {
        let names: Vec<&str> = config.nodes.iter().map(|n| n.name.as_str()).collect();
        let ring = Ring::new(&names, config.vnodes);
        let client = ReplicaClient::new(config.request_timeout)?;
        Ok(Coordinator {
            config,
            ring,
            store: Arc::new(Store::new()),
            client,
        })
    }

    /// The validated configuration this node runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This node's own replica.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The N nodes responsible for `key`, owner first.
    pub fn preference_list(&self, key: &str) -> Vec<String> {
        self.ring
            .preference_list(key, self.config.n)
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// Resolves a per-request R or W: `None` means the configured default,
    /// anything else must parse as an integer in `1..=N`.
    pub fn resolve_quorum(
        &self,
        kind: QuorumKind,
        requested: Option<&str>,
    ) -> Result<usize, CoordError> {
        let (param, default) = match kind {
            QuorumKind::Read => ("r", self.config.r),
            QuorumKind::Write => ("w", self.config.w),
        };
        let Some(raw) = requested else {
            return Ok(default);
        };
        match raw.trim().parse::<usize>() {
            Ok(q) if (1..=self.config.n).contains(&q) => Ok(q),
            _ => Err(CoordError::BadQuorum {
                param,
                got: raw.to_string(),
                n: self.config.n,
            }),
        }
    }

    /// Writes a register value stamped with this node's wall clock; returns
    /// the timestamp once `w` replicas acknowledged.
    pub async fn put(
        &self,
        key: &str,
        value: serde_json::Value,
        w: usize,
    ) -> Result<u64, CoordError> {
        let timestamp = wall_clock_nanos();
        let op = ReplicaOp::WriteRegister {
            key: key.to_string(),
            value: LwwValue {
                value,
                timestamp,
                writer: self.config.node.clone(),
            },
        };
        self.quorum(key, op, QuorumKind::Write, w).await?;
        Ok(timestamp)
    }

    /// Reads a register from `r` replicas and returns the LWW-greatest value
    /// among them (`None` if none of them holds the key).
    pub async fn get(&self, key: &str, r: usize) -> Result<Option<LwwValue>, CoordError> {
        let op = ReplicaOp::ReadRegister {
            key: key.to_string(),
        };
        let replies = self.quorum(key, op, QuorumKind::Read, r).await?;
        Ok(LwwValue::merge_all(replies.into_iter().map(
            |reply| match reply {
                ReplicaReply::Register { value } => value,
                _ => None,
            },
        )))
    }

    /// Adds `element` to set `key` on `w` replicas.
    pub async fn add(&self, key: &str, element: i64, w: usize) -> Result<(), CoordError> {
        let op = ReplicaOp::AddElement {
            key: key.to_string(),
            element,
        };
        self.quorum(key, op, QuorumKind::Write, w).await?;
        Ok(())
    }

    /// Reads set `key` from `r` replicas and returns their union (empty if
    /// none holds it).
    pub async fn read_set(&self, key: &str, r: usize) -> Result<GSet, CoordError> {
        let op = ReplicaOp::ReadSet {
            key: key.to_string(),
        };
        let replies = self.quorum(key, op, QuorumKind::Read, r).await?;
        let mut union = GSet::new();
        for reply in replies {
            if let ReplicaReply::Set {
                elements: Some(elements),
            } = reply
            {
                union.extend(elements);
            }
        }
        Ok(union)
    }

    /// Sends `op` to every replica of `key` concurrently and returns the
    /// first `needed` well-formed replies.
    async fn quorum(
        &self,
        key: &str,
        op: ReplicaOp,
        kind: QuorumKind,
        needed: usize,
    ) -> Result<Vec<ReplicaReply>, CoordError> {
        let replicas = self.ring.preference_list(key, self.config.n);
        let total = replicas.len();
        let deadline = Instant::now() + self.config.request_timeout;
        let op = Arc::new(op);
        // Capacity `total`: senders never block, even after we stop reading.
        let (tx, mut rx) = mpsc::channel::<Option<ReplicaReply>>(total.max(1));

        let mut local = false;
        for name in &replicas {
            if *name == self.config.node {
                local = true;
                continue;
            }
            let Some(addr) = self.config.addr_of(name).map(str::to_string) else {
                let _ = tx.try_send(None);
                continue;
            };
            let (tx, op, client) = (tx.clone(), op.clone(), self.client.clone());
            // Spawned, not joined: calls outliving the quorum keep running.
            tokio::spawn(async move {
                let reply = match client.call(&addr, &op).await {
                    Ok(reply) => Some(reply),
                    Err(e) => {
                        debug!(error = %e, "replica call failed");
                        None
                    }
                };
                let _ = tx.send(reply).await;
            });
        }
        if local {
            let _ = tx.try_send(Some(replica::apply(&self.store, &op)));
        }
        drop(tx);

        let mut ok = Vec::with_capacity(needed);
        let mut failed = 0;
        while ok.len() < needed && total - failed >= needed {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Some(reply))) if reply_matches(&op, &reply) => ok.push(reply),
                Ok(Some(_)) => failed += 1,
                Ok(None) | Err(_) => break,
            }
        }
        if ok.len() >= needed {
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
}

/// Whether `reply` is the kind of answer `op` calls for; anything else
/// (a confused or incompatible peer) counts as a failed replica.
fn reply_matches(op: &ReplicaOp, reply: &ReplicaReply) -> bool {
    matches!(
        (op, reply),
        (ReplicaOp::WriteRegister { .. }, ReplicaReply::Ack)
            | (ReplicaOp::AddElement { .. }, ReplicaReply::Ack)
            | (
                ReplicaOp::ReadRegister { .. },
                ReplicaReply::Register { .. }
            )
            | (ReplicaOp::ReadSet { .. }, ReplicaReply::Set { .. })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    /// A cluster in which only `n1` (this process) exists; peers point at a
    /// reserved port on loopback where nothing listens, so calls fail fast.
    fn solo_with_dead_peers(n: usize, timeout_ms: u64) -> Coordinator {
        let text = format!(
            r#"
node = "n1"
n = {n}
r = 1
w = 1
request_timeout_ms = {timeout_ms}
[[nodes]]
name = "n1"
addr = "127.0.0.1:1"
[[nodes]]
name = "n2"
addr = "127.0.0.1:2"
[[nodes]]
name = "n3"
addr = "127.0.0.1:3"
"#
        );
        Coordinator::new(Config::from_toml_str(&text, Path::new("t.toml")).unwrap()).unwrap()
    }

    #[test]
    fn resolve_quorum_bounds() {
        let c = solo_with_dead_peers(3, 100);
        assert_eq!(c.resolve_quorum(QuorumKind::Read, None), Ok(1));
        assert_eq!(c.resolve_quorum(QuorumKind::Write, Some("3")), Ok(3));
        for bad in ["0", "4", "-1", "x", ""] {
            let e = c.resolve_quorum(QuorumKind::Write, Some(bad)).unwrap_err();
            assert!(
                matches!(e, CoordError::BadQuorum { param: "w", .. }),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn local_quorum_of_one_succeeds_and_dead_peers_fail_fast() {
        // N=3 of 3 nodes: n1 is in every preference list.
        let c = solo_with_dead_peers(3, 2000);
        let ts = c.put("k", serde_json::json!("v"), 1).await.unwrap();
        let got = c.get("k", 1).await.unwrap().unwrap();
        assert_eq!((got.timestamp, got.writer.as_str()), (ts, "n1"));
        c.add("s", 7, 1).await.unwrap();
        assert_eq!(c.read_set("s", 1).await.unwrap().len(), 1);

        // Peers refuse connections: failure is reported well before the
        // 2 s timeout, with the one local ack counted.
        let start = std::time::Instant::now();
        let e = c.put("k", serde_json::json!("v2"), 2).await.unwrap_err();
        assert!(start.elapsed() < Duration::from_millis(1500));
        assert_eq!(
            e,
            CoordError::Quorum {
                kind: QuorumKind::Write,
                needed: 2,
                got: 1
            }
        );
    }
}
