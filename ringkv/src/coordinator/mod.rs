//! Request coordination: any node can coordinate any request.
//!
//! A client may send any request to any node; that node becomes the
//! request's *coordinator*. It finds the key's preference list on the ring,
//! sends the operation to all N replicas at once (itself in-process, peers
//! over HTTP), answers as soon as the quorum is in (W acks for a write, R
//! replies for a read, of which PW/PR from the key's own primaries), and
//! leaves the remaining calls running in the background so that slow
//! replicas still receive writes. If the quorum cannot be reached within the
//! request timeout, or becomes impossible earlier because too many replicas
//! failed fast, the request fails with [`CoordError::Quorum`].
//!
//! This module holds the shared core: the [`Coordinator`] itself (config,
//! membership view, local store, peer client, counters), the quorum
//! vocabulary ([`Need`], [`QuorumKind`], [`CoordError`]) and the
//! preference list. Each job the coordinator does lives in its own
//! submodule, as another `impl Coordinator` block:
//!
//! - `quorum`: the fan-out every request uses, with strict quorums by
//!   default and, with `sloppy_quorum = true`, fallback nodes standing in
//!   for dead, failed or silent primaries (their copies are the hints that
//!   handoff later delivers);
//! - `merged_reads`: quorum reads that merge the replies' states and
//!   read-repair the replicas that answered with an older one;
//! - `apply_then_merge`: writes that one replica must stamp (versioned
//!   registers, CRDT updates), then merged into the others;
//! - `registers` and `sets`: the `/kv` registers (LWW or versioned)
//!   and the grow-only `/set`s;
//! - `crdts`: counters, OR-sets and sequences;
//! - `paxos_registers`: linearizable `/cas` registers by single-decree
//!   Paxos over the key's primaries;
//! - `membership`: gossip of the membership view, leave and join;
//! - `handoff`: moving keys this node holds but no longer owns (after a
//!   membership change, or a fallback's hints) to their owners;
//! - `anti_entropy`: hash-tree exchanges that repair replicas nobody
//!   reads.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::membership::Membership;
use crate::replica::ReplicaClient;
use crate::ring::Ring;
use crate::storage::Store;

mod anti_entropy;
mod apply_then_merge;
mod crdts;
mod handoff;
mod membership;
mod merged_reads;
mod paxos_registers;
mod quorum;
mod registers;
mod sets;

pub use handoff::HandoffReport;
pub use paxos_registers::CasOutcome;

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
    /// The key holds a different CRDT type than the operation is for.
    #[error("the key holds a different type")]
    WrongType,
    /// A sequence update named an element no replica of the read quorum
    /// holds (client error: nothing was changed).
    #[error("no element {0} in the sequence")]
    NoSuchElement(String),
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
    membership: Arc<RwLock<Membership>>,
    started: std::time::Instant,
    store: Arc<Store>,
    client: ReplicaClient,
    gossip_round: AtomicU64,
    handed_off: AtomicU64,
    handoff_pending: AtomicU64,
    read_repairs: AtomicU64,
    aae_round: AtomicU64,
    aae_repairs: AtomicU64,
    ballot: AtomicU64,
}

/// How many replies a request needs: `total` from any replicas, of which
/// at least `primaries` from the key's preference list (Riak's PR/PW: under
/// a sloppy quorum, fallbacks count toward R and W but not toward PR/PW).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// R or W.
    pub total: usize,
    /// PR or PW.
    pub primaries: usize,
}

impl From<usize> for Need {
    fn from(total: usize) -> Need {
        Need {
            total,
            primaries: 0,
        }
    }
}

impl Coordinator {
    /// Builds the coordinator for `config` with an empty, memory-only
    /// local store.
    pub fn new(config: Config) -> Result<Coordinator, reqwest::Error> {
        Coordinator::with_store(config, Store::new())
    }

    /// Builds the coordinator for `config` around `store`.
    pub fn with_store(config: Config, store: Store) -> Result<Coordinator, reqwest::Error> {
        let membership = Membership::new(&config, config.suspect_after);
        let client = ReplicaClient::new(config.request_timeout)?;
        Ok(Coordinator {
            config,
            membership: Arc::new(RwLock::new(membership)),
            started: std::time::Instant::now(),
            store: Arc::new(store),
            client,
            gossip_round: AtomicU64::new(0),
            handed_off: AtomicU64::new(0),
            handoff_pending: AtomicU64::new(0),
            read_repairs: AtomicU64::new(0),
            aae_round: AtomicU64::new(0),
            aae_repairs: AtomicU64::new(0),
            ballot: AtomicU64::new(0),
        })
    }

    fn ring(&self) -> Arc<Ring> {
        read(&self.membership).ring()
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
        self.ring()
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
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
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
