//! Active anti-entropy: repairing replicas that nobody reads.
//!
//! Read repair only fixes the keys that are read. Every
//! `anti_entropy_interval_ms` a node picks the next peer in turn and
//! compares the keys both of them own through a hash tree (see
//! [`crate::anti_entropy`]): roots first, then the leaves, then only the
//! key states in buckets that differ, which both sides merge, so the two
//! replicas end the round agreeing on every shared key.

use std::sync::atomic::Ordering;

use tracing::debug;

use super::{read, write, Coordinator};
use crate::anti_entropy::{self, AaeReply, AaeRequest, KeyState, Tree};
use crate::replica::ReplicaReply;

impl Coordinator {
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
    pub(super) fn local_states(&self, wanted: impl Fn(&str) -> bool) -> Vec<KeyState> {
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
}
