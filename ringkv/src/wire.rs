//! The replica wire protocol: the messages nodes send each other over
//! HTTP, and the paths they are posted to.
//!
//! A coordinator asks a replica for one [`ReplicaOp`] at a time (`POST` a
//! JSON body to [`INTERNAL_OP_PATH`]) and gets a [`ReplicaReply`]; nodes
//! spread membership with [`Gossip`] at [`GOSSIP_PATH`]. These are plain
//! data: how a replica applies an op is [`crate::replica`], who serves
//! the paths is [`crate::peer_api`], who calls them is
//! [`crate::coordinator`]. All three import the protocol from here, so it
//! depends only on the value types it carries.

use serde::{Deserialize, Serialize};

use crate::crdt::{Crdt, CrdtOp};
use crate::membership::Member;
use crate::paxos::{Ballot, Promise, Proposal};
use crate::storage::{GSet, KeyState, LwwValue};
use crate::versioning::{Mode, Object, VersionVector};

/// Path of the single internal replica endpoint.
pub const INTERNAL_OP_PATH: &str = "/internal/op";

/// One operation on one replica's local state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReplicaOp {
    /// Merge a register value into the replica (LWW).
    WriteRegister {
        /// Register key.
        key: String,
        /// The timestamped value chosen by the coordinator.
        value: LwwValue,
    },
    /// Return the replica's register value, if any.
    ReadRegister {
        /// Register key.
        key: String,
    },
    /// Add an element to the replica's set.
    AddElement {
        /// Set key.
        key: String,
        /// Element to add.
        element: i64,
    },
    /// Return the replica's set, if it has one.
    ReadSet {
        /// Set key.
        key: String,
    },
    /// Merge a whole set into the replica's (handoff).
    MergeSet {
        /// Set key.
        key: String,
        /// Elements to add.
        elements: GSet,
    },
    /// Apply a client write to a versioned register, this replica
    /// coordinating it; replies with the key's new state.
    UpdateObject {
        /// Register key.
        key: String,
        /// The cluster's conflict mode.
        mode: Mode,
        /// The value written.
        value: serde_json::Value,
        /// The causal context the client sent.
        context: VersionVector,
        /// The client's id, if it gave one.
        client: Option<String>,
    },
    /// Merge another replica's state of a versioned register.
    MergeObject {
        /// Register key.
        key: String,
        /// The state to merge.
        object: Object,
    },
    /// Return the replica's state of a versioned register.
    ReadObject {
        /// Register key.
        key: String,
    },
    /// Apply a CRDT operation, this replica coordinating it; replies with
    /// the new state.
    UpdateCrdt {
        /// Namespaced key (`counter/x`).
        key: String,
        /// The operation.
        change: CrdtOp,
    },
    /// Merge another replica's CRDT state.
    MergeCrdt {
        /// Namespaced key.
        key: String,
        /// The state.
        state: Crdt,
    },
    /// Return the replica's CRDT state.
    ReadCrdt {
        /// Namespaced key.
        key: String,
    },
    /// Paxos phase 1 for a compare-and-set register.
    PaxosPrepare {
        /// Namespaced key (`cas/x`).
        key: String,
        /// The proposer's ballot.
        ballot: Ballot,
    },
    /// Paxos phase 2.
    PaxosAccept {
        /// Namespaced key.
        key: String,
        /// The proposal.
        proposal: Proposal,
    },
    /// Paxos: learn a committed value.
    PaxosCommit {
        /// Namespaced key.
        key: String,
        /// The committed proposal.
        proposal: Proposal,
    },
}

/// Path of the gossip endpoint.
pub const GOSSIP_PATH: &str = "/internal/gossip";

/// A gossip message: the sender and its membership view. The reply is the
/// receiver's view after merging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gossip {
    /// The sender's name.
    pub from: String,
    /// The sender's view.
    pub members: Vec<Member>,
}

/// A replica's answer to a [`ReplicaOp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum ReplicaReply {
    /// The write was applied (merged) locally.
    Ack,
    /// The replica's register value (`None`: key absent on this replica).
    Register {
        /// The stored value, if any.
        value: Option<LwwValue>,
    },
    /// The replica's set (`None`: key absent on this replica).
    Set {
        /// The stored elements, if any.
        elements: Option<GSet>,
    },
    /// The replica's state of a versioned register.
    Object {
        /// The state, if the replica has the key.
        object: Option<Object>,
    },
    /// The replica's state of a CRDT.
    Crdt {
        /// The state, if the replica has the key.
        state: Option<Crdt>,
    },
    /// The operation does not fit the type the key holds.
    WrongType,
    /// An acceptor's promise (or refusal).
    Promise(Promise),
    /// An acceptor's answer to a proposal.
    Accepted {
        /// Whether it accepted.
        ok: bool,
        /// Its promised ballot.
        promised: Option<Ballot>,
    },
}

impl KeyState {
    /// The replica op that merges this state into another replica.
    pub fn into_merge_op(self) -> ReplicaOp {
        match self {
            KeyState::Register { key, value } => ReplicaOp::WriteRegister { key, value },
            KeyState::Set { key, elements } => ReplicaOp::MergeSet { key, elements },
            KeyState::Object { key, object } => ReplicaOp::MergeObject { key, object },
            KeyState::Crdt { key, state } => ReplicaOp::MergeCrdt { key, state },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_format_round_trips() {
        let op = ReplicaOp::WriteRegister {
            key: "a/b c".into(),
            value: LwwValue {
                value: json!({"x": [1, 2]}),
                timestamp: 1_700_000_000_000_000_000,
                writer: "n1".into(),
            },
        };
        let text = serde_json::to_string(&op).unwrap();
        assert!(text.contains("\"op\":\"write_register\""), "{text}");
        assert_eq!(serde_json::from_str::<ReplicaOp>(&text).unwrap(), op);

        let reply = ReplicaReply::Set {
            elements: Some([3, 1].into_iter().collect()),
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(text, r#"{"reply":"set","elements":[1,3]}"#);
        assert_eq!(serde_json::from_str::<ReplicaReply>(&text).unwrap(), reply);
    }
}
