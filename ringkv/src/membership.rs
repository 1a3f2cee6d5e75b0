//! Membership: who is in the ring, spread by gossip, with a failure detector.
//!
//! Every node keeps a *view*: one entry per known node with its address, its
//! [`Status`] and a version. Only a node itself changes its own entry (an
//! admin asks it to leave or join), bumping the version; views are merged
//! entry by entry, the higher version winning. Because each entry has a
//! single writer, this merge is a state-based CRDT (commutative,
//! associative, idempotent): any two nodes that have exchanged views, in any
//! order and any number of times, hold the same view. No clock is involved,
//! so clock faults cannot confuse membership.
//!
//! The ring is derived from the view: nodes whose status is
//! [`Status::Valid`]. A leaving node drops out of the ring at once, keeps
//! serving as a coordinator, hands its data to the new owners (see
//! `handoff`), and declares itself [`Status::Left`] when it holds nothing
//! more. A node that joins again re-enters the ring; the nodes that lose
//! ownership of some keys to it hand those keys over.
//!
//! Liveness is separate from membership: a peer is *alive* while it has
//! answered any message within the suspicion timeout (a heartbeat failure
//! detector fed by gossip and replica calls). Membership says who should
//! hold data; liveness says who can be reached now.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ring::Ring;

/// A node's place in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In the ring: holds data for its share of keys.
    Valid,
    /// Out of the ring, still handing its data to the new owners.
    Leaving,
    /// Out of the ring, holding nothing; may join again.
    Left,
}

/// One node as a view knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The node's name.
    pub name: String,
    /// Its `host:port`.
    pub addr: String,
    /// Its status.
    pub status: Status,
    /// Bumped by the node itself on every change of its own entry.
    pub version: u64,
}

/// This node's view of the membership, the ring derived from it, and when
/// each peer was last heard from.
#[derive(Debug)]
pub struct Membership {
    me: String,
    vnodes: usize,
    members: BTreeMap<String, Member>,
    ring: Arc<Ring>,
    last_heard: HashMap<String, Instant>,
    suspect_after: Duration,
}

impl Membership {
    /// The initial view: every configured node valid at version 0.
    pub fn new(config: &Config, suspect_after: Duration) -> Membership {
        let members = config
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    Member {
                        name: n.name.clone(),
                        addr: n.addr.clone(),
                        status: Status::Valid,
                        version: 0,
                    },
                )
            })
            .collect();
        let mut m = Membership {
            me: config.node.clone(),
            vnodes: config.vnodes,
            members,
            ring: Arc::new(Ring::new::<String>(&[], 1)),
            last_heard: HashMap::new(),
            suspect_after,
        };
        m.rebuild_ring();
        m
    }

    /// The current ring (valid nodes only).
    pub fn ring(&self) -> Arc<Ring> {
        self.ring.clone()
    }

    /// Every known node, by name.
    pub fn members(&self) -> Vec<Member> {
        self.members.values().cloned().collect()
    }

    /// This node's own status.
    pub fn my_status(&self) -> Status {
        self.members[&self.me].status
    }

    /// The address of a known node.
    pub fn addr_of(&self, name: &str) -> Option<&str> {
        self.members.get(name).map(|m| m.addr.as_str())
    }

    /// Changes this node's own status (a leave or join asked by an admin, or
    /// the end of a handoff); returns false if it already had that status.
    pub fn set_my_status(&mut self, status: Status) -> bool {
        let me = self.members.get_mut(&self.me).expect("self is a member");
        if me.status == status {
            return false;
        }
        me.status = status;
        me.version += 1;
        self.rebuild_ring();
        true
    }

    /// Merges a peer's view into this one; returns true if anything changed.
    ///
    /// A higher version of this node's own entry (this node restarted and
    /// forgot a leave the others remember) is adopted like any other: the
    /// cluster's memory of a node outlives the node's.
    pub fn merge(&mut self, theirs: &[Member]) -> bool {
        let mut changed = false;
        for m in theirs {
            match self.members.get_mut(&m.name) {
                Some(mine) if mine.version >= m.version => {}
                Some(mine) => {
                    *mine = m.clone();
                    changed = true;
                }
                None => {
                    self.members.insert(m.name.clone(), m.clone());
                    changed = true;
                }
            }
        }
        if changed {
            self.rebuild_ring();
        }
        changed
    }

    /// Records that `peer` answered just now.
    pub fn heard_from(&mut self, peer: &str) {
        self.last_heard.insert(peer.to_string(), Instant::now());
    }

    /// Whether `peer` answered within the suspicion timeout (this node is
    /// always alive to itself). A peer never heard from counts as alive
    /// until the timeout has passed since this node started.
    pub fn is_alive(&self, peer: &str, started: Instant) -> bool {
        if peer == self.me {
            return true;
        }
        let since = self.last_heard.get(peer).copied().unwrap_or(started);
        since.elapsed() < self.suspect_after
    }

    /// Peers to gossip with: every other known node.
    pub fn peers(&self) -> Vec<(String, String)> {
        self.members
            .values()
            .filter(|m| m.name != self.me)
            .map(|m| (m.name.clone(), m.addr.clone()))
            .collect()
    }

    fn rebuild_ring(&mut self) {
        let valid: Vec<&str> = self
            .members
            .values()
            .filter(|m| m.status == Status::Valid)
            .map(|m| m.name.as_str())
            .collect();
        self.ring = Arc::new(Ring::new(&valid, self.vnodes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(me: &str) -> Config {
        let text = format!(
            "node = {me:?}\nvnodes = 8\n[[nodes]]\nname = \"n1\"\naddr = \"127.0.0.1:1\"\n\
             [[nodes]]\nname = \"n2\"\naddr = \"127.0.0.1:2\"\n[[nodes]]\nname = \"n3\"\naddr = \"127.0.0.1:3\"\n"
        );
        Config::from_toml_str(&text, Path::new("t.toml")).unwrap()
    }

    fn view(me: &str) -> Membership {
        Membership::new(&config(me), Duration::from_secs(1))
    }

    #[test]
    fn leaving_drops_out_of_the_ring_and_gossip_spreads_it() {
        let mut a = view("n1");
        let mut b = view("n2");
        assert_eq!(a.ring().nodes().len(), 3);
        assert!(a.set_my_status(Status::Leaving));
        assert!(
            !a.set_my_status(Status::Leaving),
            "no change, no version bump"
        );
        assert_eq!(a.ring().nodes(), ["n2", "n3"]);
        assert!(b.merge(&a.members()));
        assert_eq!(b.ring().nodes(), ["n2", "n3"]);
        assert!(!b.merge(&a.members()), "merging twice changes nothing");
        a.set_my_status(Status::Left);
        a.set_my_status(Status::Valid);
        b.merge(&a.members());
        assert_eq!(b.ring().nodes().len(), 3);
        assert_eq!(b.members()[0].version, 3);
    }

    #[test]
    fn merge_is_commutative_associative_and_idempotent() {
        let mut x = view("n1");
        x.set_my_status(Status::Leaving);
        let mut y = view("n2");
        y.set_my_status(Status::Leaving);
        y.set_my_status(Status::Left);
        let z = view("n3");
        let views = [x.members(), y.members(), z.members()];
        let orders = [[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0], [0, 0, 1]];
        let mut results = Vec::new();
        for order in orders {
            let mut m = view("n3");
            for i in order {
                m.merge(&views[i]);
            }
            // [0, 0, 1] never saw view 2, which holds nothing new.
            results.push(m.members());
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    }

    #[test]
    fn a_restarted_node_adopts_what_the_cluster_remembers_of_it() {
        let mut before = view("n1");
        before.set_my_status(Status::Leaving);
        before.set_my_status(Status::Left);
        let mut peer = view("n2");
        peer.merge(&before.members());
        let mut restarted = view("n1");
        assert_eq!(restarted.my_status(), Status::Valid);
        restarted.merge(&peer.members());
        assert_eq!(restarted.my_status(), Status::Left);
    }

    #[test]
    fn liveness_follows_messages() {
        let mut m = Membership::new(&config("n1"), Duration::from_millis(50));
        let started = Instant::now();
        assert!(m.is_alive("n2", started));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!m.is_alive("n2", started));
        m.heard_from("n2");
        assert!(m.is_alive("n2", started));
        assert!(m.is_alive("n1", started));
    }
}
