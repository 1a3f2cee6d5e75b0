//! Replica RPC: how a replica applies the operations a coordinator asks of
//! it to its [`Store`], and the HTTP client that carries them between nodes.
//! The messages themselves are [`crate::wire`]'s (re-exported here); the
//! endpoints that answer them are [`crate::peer_api`]'s.
//!
//! The transport is one internal endpoint, `POST /internal/op`, whose JSON
//! body is a [`ReplicaOp`] and whose reply is a [`ReplicaReply`]. Keys travel
//! in the body, never in the URL, so any key string round-trips unchanged.
//! Every call carries the configured timeout (connection included), so a
//! peer whose packets are silently dropped costs at most one timeout.

use std::time::Duration;

use serde::Serialize;

use crate::anti_entropy::{AaeReply, AaeRequest, AAE_PATH};
use crate::membership::Member;
use crate::storage::Store;

pub use crate::wire::{Gossip, ReplicaOp, ReplicaReply, GOSSIP_PATH, INTERNAL_OP_PATH};

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

#[cfg(test)]
mod tests {
    use super::*;

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
