//! The `/kv` registers: last-writer-wins or versioned.
//!
//! With `conflict = "lww"` a register is written at every replica at once,
//! stamped with the coordinator's wall clock, and a read returns the
//! greatest `(timestamp, writer)` among R replies. In the sibling modes
//! (`vclock`, `dvv`, `node-vclock`) a write carries the reader's causal
//! context: one replica applies it against that context (see
//! [`super::apply_then_merge`]), and a read merges the replicas' sibling
//! sets (see [`crate::versioning`]).

use super::{CoordError, Coordinator, Need, QuorumKind};
use crate::replica::{ReplicaOp, ReplicaReply};
use crate::storage::{wall_clock_nanos, LwwValue};
use crate::versioning::{Object, VersionVector};

impl Coordinator {
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
}
