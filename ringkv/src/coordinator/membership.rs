//! Gossip of the membership view, and leaving and joining the ring.
//!
//! Each node keeps a view of the cluster (see [`crate::membership`]): every
//! node's status and a version only that node bumps. Views spread by
//! gossip, one peer per round, and merge entry by entry, so nodes that
//! have heard from each other agree whatever the order of messages. A leave
//! or join changes this node's own entry and is pushed to every peer at
//! once; the ring under the coordinator follows the view, and
//! [`super::handoff`] then moves the data.

use std::sync::atomic::Ordering;

use tracing::debug;

use super::{read, write, Coordinator};
use crate::membership::{Member, Status};
use crate::replica::Gossip;

/// How long a join waits to hear what peers remember of this node.
const JOIN_PULL_LIMIT: std::time::Duration = std::time::Duration::from_millis(300);

impl Coordinator {
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
    pub(super) fn push_gossip(&self) {
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
}
