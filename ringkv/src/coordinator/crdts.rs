//! Updates and reads of the CRDTs: counters, OR-sets and sequences.
//!
//! An update is applied by one replica under its own name and its new
//! state merged into the others (see [`super::apply_then_merge`]); a read
//! merges R replicas' states. Some updates name what they act on as the
//! client saw it, and are first resolved against a read quorum (R + W > N,
//! so every update acknowledged before they began is seen): an OR-set
//! remove drops exactly the add dots the quorum holds (an add it did not
//! see survives: *add wins*), and a sequence insert or delete that names an
//! element by value is turned into element ids.

use super::{CoordError, Coordinator, Need};
use crate::crdt::{Crdt, CrdtOp};
use crate::replica::{ReplicaOp, ReplicaReply};

impl Coordinator {
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
}
