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
//! Quorums are strict: no sloppy quorum, hinted handoff, read repair or
//! anti-entropy yet. Membership changes (see [`crate::membership`]) move the
//! ring under the coordinator; [`Coordinator::handoff_round`] then moves the
//! data: every key this node holds but no longer owns is pushed to its new
//! owners and dropped here once they all acknowledged it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use crate::anti_entropy::{self, AaeReply, AaeRequest, KeyState, Tree};
use crate::config::Config;
use crate::crdt::{Crdt, CrdtOp};
use crate::membership::{Member, Membership, Status};
use crate::paxos::{self, Ballot, Promise, Proposal};
use crate::replica::{self, Gossip, ReplicaClient, ReplicaOp, ReplicaReply};
use crate::ring::Ring;
use crate::storage::{wall_clock_nanos, GSet, LwwValue, Store};
use crate::versioning::{Object, VersionVector};

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

/// How long a join waits to hear what peers remember of this node.
const JOIN_PULL_LIMIT: std::time::Duration = std::time::Duration::from_millis(300);

/// What one handoff scan did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandoffReport {
    /// Keys pushed to their owners and dropped here.
    pub moved: usize,
    /// Keys this node should not hold that could not be moved yet.
    pub pending: usize,
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

    /// This node's view of the membership, with each member's liveness.
    pub fn members(&self) -> Vec<(Member, bool)> {
        let m = read(&self.membership);
        m.members()
            .into_iter()
            .map(|mem| {
                let alive = m.is_alive(&mem.name, self.started);
                (mem, alive)
            })
            .collect()
    }

    /// The nodes of the current ring.
    pub fn ring_nodes(&self) -> Vec<String> {
        self.ring().nodes().to_vec()
    }

    /// This node's own membership status.
    pub fn status(&self) -> Status {
        read(&self.membership).my_status()
    }

    /// Keys moved away by handoff since start, and keys waiting to move.
    pub fn handoff_counts(&self) -> (u64, u64) {
        (
            self.handed_off.load(Ordering::Relaxed),
            self.handoff_pending.load(Ordering::Relaxed),
        )
    }

    /// Leaves the ring: the node stops owning keys at once, hands its data
    /// to the new owners in the next handoff scans, and becomes `left` when
    /// it holds nothing more. Returns the new status.
    pub async fn leave(&self) -> Status {
        let changed = {
            let mut m = write(&self.membership);
            match m.my_status() {
                Status::Valid => m.set_my_status(Status::Leaving),
                _ => false,
            }
        };
        if changed {
            self.push_gossip();
        }
        self.status()
    }

    /// Joins the ring again (a no-op for a valid node). Returns the new
    /// status.
    pub async fn join(&self) -> Status {
        // Learn first what the cluster remembers of this node (a restarted
        // node starts from version 0), so that the join outranks any leave;
        // briefly, since unreachable peers will hear of it by gossip anyway.
        let _ = tokio::time::timeout(JOIN_PULL_LIMIT, self.gossip_to_all()).await;
        let changed = write(&self.membership).set_my_status(Status::Valid);
        if changed {
            self.push_gossip();
        }
        self.status()
    }

    /// Sends this node's view to every peer in the background, so a change
    /// spreads at once rather than at gossip pace, without making the admin
    /// request that caused it wait for slow or unreachable peers.
    fn push_gossip(&self) {
        let peers = read(&self.membership).peers();
        for (name, addr) in peers {
            let (client, membership, me) = (
                self.client.clone(),
                self.membership.clone(),
                self.config.node.clone(),
            );
            tokio::spawn(async move {
                let msg = Gossip {
                    from: me,
                    members: read(&membership).members(),
                };
                if let Ok(theirs) = client.gossip(&addr, &msg).await {
                    let mut m = write(&membership);
                    m.heard_from(&name);
                    m.merge(&theirs);
                }
            });
        }
    }

    /// Merges a peer's view and returns ours.
    pub fn receive_gossip(&self, msg: &Gossip) -> Vec<Member> {
        let mut m = write(&self.membership);
        m.heard_from(&msg.from);
        if m.merge(&msg.members) {
            debug!(from = %msg.from, ring = ?m.ring().nodes(), "membership changed by gossip");
        }
        m.members()
    }

    /// One gossip round: exchange views with the next peer in turn.
    pub async fn gossip_once(&self) {
        let peers = read(&self.membership).peers();
        if peers.is_empty() {
            return;
        }
        let i = self.gossip_round.fetch_add(1, Ordering::Relaxed) as usize;
        let (name, addr) = &peers[i % peers.len()];
        self.exchange(name, addr).await;
    }

    async fn gossip_to_all(&self) {
        let peers = read(&self.membership).peers();
        let mut tasks = tokio::task::JoinSet::new();
        for (name, addr) in peers {
            let (client, membership, me) = (
                self.client.clone(),
                self.membership.clone(),
                self.config.node.clone(),
            );
            tasks.spawn(async move {
                let msg = Gossip {
                    from: me,
                    members: read(&membership).members(),
                };
                if let Ok(theirs) = client.gossip(&addr, &msg).await {
                    let mut m = write(&membership);
                    m.heard_from(&name);
                    m.merge(&theirs);
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn exchange(&self, name: &str, addr: &str) {
        let msg = Gossip {
            from: self.config.node.clone(),
            members: read(&self.membership).members(),
        };
        match self.client.gossip(addr, &msg).await {
            Ok(theirs) => {
                let mut m = write(&self.membership);
                m.heard_from(name);
                if m.merge(&theirs) {
                    debug!(peer = name, ring = ?m.ring().nodes(), "membership changed by gossip");
                }
            }
            Err(e) => debug!(peer = name, error = %e, "gossip failed"),
        }
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

    /// Writes a register value stamped with this node's wall clock; returns
    /// the timestamp once `w` replicas acknowledged.
    pub async fn put(
        &self,
        key: &str,
        value: serde_json::Value,
        w: impl Into<Need>,
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
    pub async fn get(&self, key: &str, r: impl Into<Need>) -> Result<Option<LwwValue>, CoordError> {
        let op = ReplicaOp::ReadRegister {
            key: key.to_string(),
        };
        self.read_merged(
            key,
            op,
            r,
            |reply| match reply {
                ReplicaReply::Register { value } => value.as_ref(),
                _ => None,
            },
            |m: &mut LwwValue, v| m.merge(v.clone()),
            |key, value| ReplicaOp::WriteRegister { key, value },
        )
        .await
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

    /// Every key state this node holds for keys that both it and `peer`
    /// own (by this node's ring): the key space two replicas compare.
    fn shared_states(&self, peer: &str, buckets: Option<&[u32]>) -> Vec<KeyState> {
        let ring = self.ring();
        let me = self.config.node.as_str();
        let n = self.config.n;
        let wanted = |key: &str| {
            let owners = ring.preference_list(key, n);
            owners.contains(&me)
                && owners.contains(&peer)
                && buckets.is_none_or(|b| b.contains(&(anti_entropy::bucket(key) as u32)))
        };
        self.local_states(wanted)
    }

    /// This replica's state of every key `wanted` accepts.
    fn local_states(&self, wanted: impl Fn(&str) -> bool) -> Vec<KeyState> {
        let mut out = Vec::new();
        for key in self.store.register_keys().into_iter().filter(|k| wanted(k)) {
            if let Some(value) = self.store.read_register(&key) {
                out.push(KeyState::Register { key, value });
            }
        }
        for key in self.store.set_keys().into_iter().filter(|k| wanted(k)) {
            if let Some(elements) = self.store.read_set(&key) {
                out.push(KeyState::Set { key, elements });
            }
        }
        for key in self.store.object_keys().into_iter().filter(|k| wanted(k)) {
            if let Some(object) = self.store.read_object(&key) {
                out.push(KeyState::Object { key, object });
            }
        }
        for key in self.store.crdt_keys().into_iter().filter(|k| wanted(k)) {
            if let Some(state) = self.store.read_crdt(&key) {
                out.push(KeyState::Crdt { key, state });
            }
        }
        out
    }

    /// Answers a peer's anti-entropy request.
    pub fn answer_aae(&self, req: &AaeRequest) -> AaeReply {
        match req {
            AaeRequest::Compare { from, root } => {
                write(&self.membership).heard_from(from);
                let tree = Tree::build(&self.shared_states(from, None));
                if tree.root == *root {
                    AaeReply::Equal
                } else {
                    AaeReply::Leaves {
                        leaves: tree.leaves,
                    }
                }
            }
            AaeRequest::Fetch { from, buckets } => AaeReply::States {
                states: self.shared_states(from, Some(buckets)),
            },
        }
    }

    /// Merges one key state into the local store; true if it changed it.
    fn merge_state(&self, state: &KeyState) -> bool {
        match state {
            KeyState::Register { key, value } => {
                let before = self.store.read_register(key);
                let after = self.store.write_register(key, value.clone());
                before.as_ref() != Some(&after)
            }
            KeyState::Set { key, elements } => {
                let before = self.store.read_set(key);
                self.store.merge_set(key, elements);
                before != self.store.read_set(key)
            }
            KeyState::Object { key, object } => {
                let before = self.store.read_object(key);
                self.store.merge_object(key, object);
                before != self.store.read_object(key)
            }
            KeyState::Crdt { key, state } => {
                let before = self.store.read_crdt(key);
                self.store.merge_crdt(key, state);
                before != self.store.read_crdt(key)
            }
        }
    }

    /// One anti-entropy exchange with the next peer in turn; returns the
    /// number of key states repaired (here and on the peer).
    pub async fn anti_entropy_round(&self) -> usize {
        let peers: Vec<(String, String)> = read(&self.membership).peers();
        if peers.is_empty() {
            return 0;
        }
        let i = self.aae_round.fetch_add(1, Ordering::Relaxed) as usize;
        let (peer, addr) = &peers[i % peers.len()];
        let me = self.config.node.clone();
        let mine = self.shared_states(peer, None);
        let tree = Tree::build(&mine);
        let compare = AaeRequest::Compare {
            from: me.clone(),
            root: tree.root,
        };
        let leaves = match self.client.aae(addr, &compare).await {
            Ok(AaeReply::Leaves { leaves }) if leaves.len() == anti_entropy::LEAVES => leaves,
            Ok(_) => return 0,
            Err(e) => {
                debug!(peer, error = %e, "anti-entropy compare failed");
                return 0;
            }
        };
        let theirs = Tree { root: 0, leaves };
        let buckets = tree.diff(&theirs);
        if buckets.is_empty() {
            return 0;
        }
        let fetch = AaeRequest::Fetch {
            from: me,
            buckets: buckets.clone(),
        };
        let Ok(AaeReply::States { states }) = self.client.aae(addr, &fetch).await else {
            return 0;
        };
        let mut repaired = 0;
        for st in &states {
            if self.merge_state(st) {
                repaired += 1;
            }
        }
        // Push back every key in those buckets whose merged state differs
        // from what the peer sent (or that the peer lacks).
        for mine in self.shared_states(peer, Some(&buckets)) {
            if states.contains(&mine) {
                continue;
            }
            let op = mine.into_merge_op();
            if matches!(self.client.call(addr, &op).await, Ok(ReplicaReply::Ack)) {
                repaired += 1;
            }
        }
        if repaired > 0 {
            debug!(peer, repaired, "anti-entropy repaired keys");
        }
        self.aae_repairs
            .fetch_add(repaired as u64, Ordering::Relaxed);
        repaired
    }

    /// Key states repaired by anti-entropy since start.
    pub fn aae_repair_count(&self) -> u64 {
        self.aae_repairs.load(Ordering::Relaxed)
    }

    /// Read repairs sent since start.
    pub fn read_repair_count(&self) -> u64 {
        self.read_repairs.load(Ordering::Relaxed)
    }

    /// Adds `element` to set `key` on `w` replicas.
    pub async fn add(&self, key: &str, element: i64, w: impl Into<Need>) -> Result<(), CoordError> {
        let op = ReplicaOp::AddElement {
            key: key.to_string(),
            element,
        };
        self.quorum(key, op, QuorumKind::Write, w).await?;
        Ok(())
    }

    /// Reads set `key` from `r` replicas and returns their union (empty if
    /// none holds it).
    pub async fn read_set(&self, key: &str, r: impl Into<Need>) -> Result<GSet, CoordError> {
        let op = ReplicaOp::ReadSet {
            key: key.to_string(),
        };
        let union = self
            .read_merged(
                key,
                op,
                r,
                |reply| match reply {
                    ReplicaReply::Set { elements } => elements.as_ref(),
                    _ => None,
                },
                |m: &mut GSet, e| m.extend(e.iter().copied()),
                |key, elements| ReplicaOp::MergeSet { key, elements },
            )
            .await?;
        Ok(union.unwrap_or_default())
    }

    /// Writes a versioned register (sibling modes): one replica of the
    /// preference list (this node when it is one, else the first that
    /// answers) applies the write against `context` and the resulting state
    /// is merged into the others; succeeds once `w` replicas hold it.
    /// Returns the new state as the coordinating replica saw it.
    pub async fn put_object(
        &self,
        key: &str,
        value: serde_json::Value,
        context: VersionVector,
        client: Option<String>,
        w: impl Into<Need>,
    ) -> Result<Object, CoordError> {
        let w = w.into();
        let op = ReplicaOp::UpdateObject {
            key: key.to_string(),
            mode: self.config.conflict,
            value,
            context,
            client,
        };
        let (by, reply) = self.coordinate(key, &op, w.total).await?;
        let ReplicaReply::Object {
            object: Some(object),
        } = reply
        else {
            return Err(CoordError::WrongType);
        };
        let merge = ReplicaOp::MergeObject {
            key: key.to_string(),
            object: object.clone(),
        };
        self.replicate_rest(key, merge, &by, w).await?;
        Ok(object)
    }

    /// Applies a CRDT operation: one replica (chosen as for
    /// [`Self::put_object`]) applies it under its own name, and the new
    /// state is merged into the others; succeeds once `w` replicas hold it.
    pub async fn update_crdt(
        &self,
        key: &str,
        change: CrdtOp,
        w: impl Into<Need>,
    ) -> Result<Crdt, CoordError> {
        let w = w.into();
        // An OR-set remove removes exactly the adds it observed: the dots a
        // read quorum holds for the element when the remove begins (R + W > N:
        // every add acknowledged before), not adds that reach the applying
        // replica later (those are concurrent, and add wins).
        let change = match change {
            CrdtOp::Remove { element } => {
                let seen = self.read_crdt(key, self.config.r).await?;
                let dots = match &seen {
                    Some(Crdt::Orset(s)) => s.entries.get(&element.to_string()).cloned(),
                    _ => None,
                };
                CrdtOp::RemoveObserved {
                    element,
                    dots: dots.unwrap_or_default(),
                }
            }
            // A sequence update naming an element by value is resolved to
            // ids against a read quorum (R + W > N: every insert
            // acknowledged before it began), and carries that state so
            // the applying replica holds the element it names.
            CrdtOp::SeqInsertAfterValue { after, value } => {
                let base = self.read_seq(key).await?;
                let id = base
                    .find(&after)
                    .ok_or_else(|| CoordError::NoSuchElement(after.to_string()))?;
                CrdtOp::SeqInsertAfter {
                    after: id,
                    value,
                    base,
                }
            }
            CrdtOp::SeqDeleteValue { value } => {
                let base = self.read_seq(key).await?;
                let ids = base.ids_of(&value);
                if ids.is_empty() {
                    return Err(CoordError::NoSuchElement(value.to_string()));
                }
                // Deleted already: written again, so W replicas hold the
                // tombstone before the delete is acknowledged.
                CrdtOp::SeqDeleteIds { ids, base }
            }
            other => other,
        };
        let op = ReplicaOp::UpdateCrdt {
            key: key.to_string(),
            change,
        };
        let (by, reply) = self.coordinate(key, &op, w.total).await?;
        let ReplicaReply::Crdt { state: Some(state) } = reply else {
            return Err(CoordError::WrongType);
        };
        let merge = ReplicaOp::MergeCrdt {
            key: key.to_string(),
            state: state.clone(),
        };
        self.replicate_rest(key, merge, &by, w).await?;
        Ok(state)
    }

    /// The sequence at `key` as a read quorum holds it (empty if absent).
    async fn read_seq(&self, key: &str) -> Result<crate::crdt::Rga, CoordError> {
        match self.read_crdt(key, self.config.r).await? {
            Some(Crdt::Seq(r)) => Ok(r),
            Some(_) => Err(CoordError::WrongType),
            None => Ok(Default::default()),
        }
    }

    /// After replica `by` applied a write, merges its result (`merge`) into
    /// the other replicas until `w` replicas in all hold it (`by` counts,
    /// toward PW too when it is a primary).
    async fn replicate_rest(
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

    /// Reads a CRDT from `r` replicas and merges their states (read repair
    /// as for registers).
    pub async fn read_crdt(
        &self,
        key: &str,
        r: impl Into<Need>,
    ) -> Result<Option<Crdt>, CoordError> {
        let op = ReplicaOp::ReadCrdt {
            key: key.to_string(),
        };
        self.read_merged(
            key,
            op,
            r,
            |reply| match reply {
                ReplicaReply::Crdt { state } => state.as_ref(),
                _ => None,
            },
            Crdt::merge,
            |key, state| ReplicaOp::MergeCrdt { key, state },
        )
        .await
    }

    /// Has one replica apply `op` (a write that must be stamped by a single
    /// replica): this node if it is a primary, else primaries the failure
    /// detector thinks alive, then (sloppy quorum) live fallbacks. Returns
    /// the replica that applied it and its reply.
    async fn coordinate(
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

    /// Reads a versioned register from `r` replicas and merges their states
    /// (`None` if none holds the key).
    pub async fn get_object(
        &self,
        key: &str,
        r: impl Into<Need>,
    ) -> Result<Option<Object>, CoordError> {
        let op = ReplicaOp::ReadObject {
            key: key.to_string(),
        };
        self.read_merged(
            key,
            op,
            r,
            |reply| match reply {
                ReplicaReply::Object { object } => object.as_ref(),
                _ => None,
            },
            Object::merge,
            |key, object| ReplicaOp::MergeObject { key, object },
        )
        .await
    }

    /// A quorum read of a mergeable state: gathers `r` replies, merges the
    /// states they hold (`state` picks it out of a reply), and read-repairs
    /// every replica that answered with something else (`repair` builds the
    /// merge op for it). `None` if no replica holds the key.
    async fn read_merged<T: Clone + PartialEq>(
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

    /// Sends `op` to every replica of `key` concurrently and returns the
    /// first `needed` well-formed replies.
    async fn quorum(
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
    async fn quorum_except(
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
    async fn gather(
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
    fn dispatch(
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

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// Whether `reply` is the kind of answer `op` calls for; anything else
/// (a confused or incompatible peer) counts as a failed replica.
fn reply_matches(op: &ReplicaOp, reply: &ReplicaReply) -> bool {
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
