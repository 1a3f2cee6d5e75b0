//! The grow-only `/set`s of integers.
//!
//! A grow-only set only ever gains elements, so its merge is plain union:
//! an add goes to every replica at once and succeeds on W acks, and a read
//! returns the union of R replicas' sets (read-repairing the smaller ones).

use super::{CoordError, Coordinator, Need, QuorumKind};
use crate::replica::{ReplicaOp, ReplicaReply};
use crate::storage::GSet;

impl Coordinator {
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
}
