//! Replica RPC: the operations a coordinator asks a replica to perform, how
//! a replica applies them to its [`Store`], and the HTTP transport between
//! nodes.
//!
//! The transport is one internal endpoint, `POST /internal/op`, whose JSON
//! body is a [`ReplicaOp`] and whose reply is a [`ReplicaReply`]. Keys travel
//! in the body, never in the URL, so any key string round-trips unchanged.
//! Every call carries the configured timeout (connection included), so a
//! peer whose packets are silently dropped costs at most one timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::anti_entropy::{AaeReply, AaeRequest, AAE_PATH};
use crate::coordinator::Coordinator;
use crate::crdt::{Crdt, CrdtOp};
use crate::membership::Member;
use crate::paxos::{Ballot, Promise, Proposal};
use crate::storage::{GSet, LwwValue, Store};
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

/// Applies `op` to the local store of node `node`. Used both for the
/// coordinator's own replica (no HTTP round trip) and by the internal
/// endpoint.
pub fn apply(store: &Store, node: &str, op: &ReplicaOp) -> ReplicaReply {
    match op {
        ReplicaOp::WriteRegister { key, value } => {
            store.write_register(key, value.clone());
            ReplicaReply::Ack
        }
        ReplicaOp::ReadRegister { key } => ReplicaReply::Register {
            value: store.read_register(key),
        },
        ReplicaOp::AddElement { key, element } => {
            store.add_element(key, *element);
            ReplicaReply::Ack
        }
        ReplicaOp::ReadSet { key } => ReplicaReply::Set {
            elements: store.read_set(key),
        },
        ReplicaOp::MergeSet { key, elements } => {
            store.merge_set(key, elements);
            ReplicaReply::Ack
        }
        ReplicaOp::UpdateObject {
            key,
            mode,
            value,
            context,
            client,
        } => ReplicaReply::Object {
            object: Some(store.update_object(
                key,
                *mode,
                value.clone(),
                context,
                node,
                client.as_deref(),
            )),
        },
        ReplicaOp::MergeObject { key, object } => {
            store.merge_object(key, object);
            ReplicaReply::Ack
        }
        ReplicaOp::ReadObject { key } => ReplicaReply::Object {
            object: store.read_object(key),
        },
        ReplicaOp::UpdateCrdt { key, change } => match store.update_crdt(key, change, node) {
            Some(state) => ReplicaReply::Crdt { state: Some(state) },
            None => ReplicaReply::WrongType,
        },
        ReplicaOp::MergeCrdt { key, state } => {
            store.merge_crdt(key, state);
            ReplicaReply::Ack
        }
        ReplicaOp::ReadCrdt { key } => ReplicaReply::Crdt {
            state: store.read_crdt(key),
        },
        ReplicaOp::PaxosPrepare { key, ballot } => {
            ReplicaReply::Promise(store.with_acceptor(key, |a| a.prepare(ballot)))
        }
        ReplicaOp::PaxosAccept { key, proposal } => {
            let (ok, promised) = store.with_acceptor(key, |a| a.accept(proposal));
            ReplicaReply::Accepted { ok, promised }
        }
        ReplicaOp::PaxosCommit { key, proposal } => {
            store.with_acceptor(key, |a| a.commit(proposal));
            ReplicaReply::Ack
        }
    }
}

/// Why one replica call failed. The coordinator counts these as missing
/// replies; they never reach the client directly.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Connection refused, reset, timed out, or the body could not be read.
    #[error("replica {addr}: transport: {source}")]
    Transport {
        /// The replica's address.
        addr: String,
        /// The underlying HTTP client error.
        source: reqwest::Error,
    },
    /// The replica answered with a non-success status.
    #[error("replica {addr}: HTTP {status}")]
    Status {
        /// The replica's address.
        addr: String,
        /// The status it returned.
        status: u16,
    },
}

/// HTTP client for the internal replica endpoint, shared by all requests so
/// that connections to peers are pooled.
#[derive(Debug, Clone)]
pub struct ReplicaClient {
    http: reqwest::Client,
}

impl ReplicaClient {
    /// Builds a client whose every call (connect included) is bounded by
    /// `timeout`. Proxies from the environment are ignored: peers are always
    /// addressed directly.
    pub fn new(timeout: Duration) -> Result<ReplicaClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(ReplicaClient { http })
    }

    /// Sends `op` to the replica at `addr` (`host:port`).
    pub async fn call(&self, addr: &str, op: &ReplicaOp) -> Result<ReplicaReply, RpcError> {
        self.post(addr, INTERNAL_OP_PATH, op).await
    }

    /// Sends an anti-entropy request to `addr`.
    pub async fn aae(&self, addr: &str, req: &AaeRequest) -> Result<AaeReply, RpcError> {
        self.post(addr, AAE_PATH, req).await
    }

    /// Sends this node's view to `addr` and returns the peer's merged view.
    pub async fn gossip(&self, addr: &str, msg: &Gossip) -> Result<Vec<Member>, RpcError> {
        self.post(addr, GOSSIP_PATH, msg).await
    }

    async fn post<B: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        body: &B,
    ) -> Result<R, RpcError> {
        let transport = |source| RpcError::Transport {
            addr: addr.to_string(),
            source,
        };
        let resp = self
            .http
            .post(format!("http://{addr}{path}"))
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(RpcError::Status {
                addr: addr.to_string(),
                status: status.as_u16(),
            });
        }
        resp.json::<R>().await.map_err(transport)
    }
}

/// Routes for the internal replica endpoint.
pub fn router(state: Arc<Coordinator>) -> Router {
    Router::new()
        .route(INTERNAL_OP_PATH, post(handle_op))
        .route(GOSSIP_PATH, post(handle_gossip))
        .route(AAE_PATH, post(handle_aae))
        .with_state(state)
}

async fn handle_aae(State(coord): State<Arc<Coordinator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<AaeRequest>(&body) {
        Ok(req) => Json(coord.answer_aae(&req)).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": format!("invalid anti-entropy request: {e}") })),
        )
            .into_response(),
    }
}

async fn handle_gossip(State(coord): State<Arc<Coordinator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Gossip>(&body) {
        Ok(msg) => Json(coord.receive_gossip(&msg)).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": format!("invalid gossip: {e}") })),
        )
            .into_response(),
    }
}

async fn handle_op(State(coord): State<Arc<Coordinator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ReplicaOp>(&body) {
        Ok(op) => {
            let reply = apply(coord.store(), &coord.config().node, &op);
            // Acknowledge only what the fsync policy says must be on disk.
            coord.store().sync().await;
            Json(reply).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": format!("invalid replica op: {e}") })),
        )
            .into_response(),
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

    #[test]
    fn apply_reads_and_writes() {
        let store = Store::new();
        let key = "k".to_string();
        assert_eq!(
            apply(&store, "n1", &ReplicaOp::ReadSet { key: key.clone() }),
            ReplicaReply::Set { elements: None }
        );
        assert_eq!(
            apply(
                &store,
                "n1",
                &ReplicaOp::AddElement {
                    key: key.clone(),
                    element: 4
                }
            ),
            ReplicaReply::Ack
        );
        assert_eq!(
            apply(&store, "n1", &ReplicaOp::ReadSet { key: key.clone() }),
            ReplicaReply::Set {
                elements: Some([4].into_iter().collect())
            }
        );
        assert_eq!(
            apply(&store, "n1", &ReplicaOp::ReadRegister { key }),
            ReplicaReply::Register { value: None }
        );
    }
}
