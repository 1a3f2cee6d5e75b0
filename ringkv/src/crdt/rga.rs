//! The RGA: a replicated growable array, i.e. a sequence.
//!
//! Every insert gets a unique id, a Lamport counter (one more than any
//! this replica has seen) then the inserting node, and names the element
//! it follows (or the head). The list is the tree of these "follows"
//! links walked depth first, later inserts after the same element first;
//! a delete only marks its element as a tombstone, which keeps its place
//! for inserts that name it. Merge is the union of elements, a tombstone
//! on either side winning, so replicas that have seen the same inserts and
//! deletes show the same list, and each writer's own inserts keep their
//! order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A unique, totally ordered id for a sequence element: a Lamport counter,
/// then the inserting node.
pub type SeqId = (u64, String);

/// One element of a sequence, alive or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqItem {
    /// Its id.
    pub id: SeqId,
    /// The element it was inserted after (`None`: the head).
    pub after: Option<SeqId>,
    /// Its value.
    pub value: Value,
    /// Deleted (a tombstone keeps its place for later inserts).
    pub deleted: bool,
}

/// A replicated growable array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rga {
    /// Every element ever inserted, by id.
    pub items: BTreeMap<String, SeqItem>,
}

fn id_key(id: &SeqId) -> String {
    format!("{:020}:{}", id.0, id.1)
}

impl Rga {
    fn max_counter(&self) -> u64 {
        self.items.values().map(|i| i.id.0).max().unwrap_or(0)
    }

    /// The ids of the live elements, in list order.
    fn order(&self) -> Vec<SeqId> {
        self.full_order()
            .into_iter()
            .filter(|i| !i.deleted)
            .map(|i| i.id.clone())
            .collect()
    }

    /// Every element reachable from the head, tombstones included, in list
    /// order. An element whose predecessor this replica has not received
    /// yet is left out until it arrives.
    fn full_order(&self) -> Vec<&SeqItem> {
        // Children of each element (and of the head), newest first: a later
        // insert after the same element goes before earlier ones.
        let mut children: BTreeMap<Option<SeqId>, Vec<&SeqItem>> = BTreeMap::new();
        for item in self.items.values() {
            children.entry(item.after.clone()).or_default().push(item);
        }
        for list in children.values_mut() {
            list.sort_by(|a, b| b.id.cmp(&a.id));
        }
        let mut out = Vec::new();
        let mut stack: Vec<&SeqItem> = children.get(&None).cloned().unwrap_or_default();
        stack.reverse();
        while let Some(item) = stack.pop() {
            out.push(item);
            if let Some(kids) = children.get(&Some(item.id.clone())) {
                for k in kids.iter().rev() {
                    stack.push(k);
                }
            }
        }
        out
    }

    /// The id of the element holding `value`, deleted or not, the
    /// earliest inserted if several do (`None`: no such element here).
    /// Values compare as JSON.
    pub fn find(&self, value: &Value) -> Option<SeqId> {
        self.items
            .values()
            .filter(|i| i.value == *value)
            .map(|i| i.id.clone())
            .min()
    }

    /// The ids of every element holding `value`, deleted or not.
    pub fn ids_of(&self, value: &Value) -> Vec<SeqId> {
        let mut ids: Vec<SeqId> = self
            .items
            .values()
            .filter(|i| i.value == *value)
            .map(|i| i.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Inserts `value` as `node` right after the element `after` (alive or
    /// a tombstone, which keeps its place); returns the new element's id.
    ///
    /// Unlike a position, an id names the same place on every replica, so
    /// a writer that always inserts after its own previous element builds
    /// a chain that every replica lists in the order it was written. An
    /// `after` this replica does not hold yet leaves the new element out
    /// of the list until the predecessor arrives by merge.
    pub fn insert_after(&mut self, node: &str, after: &SeqId, value: Value) -> SeqId {
        let id = (self.max_counter() + 1, node.to_string());
        self.items.insert(
            id_key(&id),
            SeqItem {
                id: id.clone(),
                after: Some(after.clone()),
                value,
                deleted: false,
            },
        );
        id
    }

    /// Deletes the elements `ids` that this replica holds (deleting twice
    /// is harmless); returns how many it holds.
    pub fn delete_ids(&mut self, ids: &[SeqId]) -> usize {
        let mut held = 0;
        for id in ids {
            if let Some(item) = self.items.get_mut(&id_key(id)) {
                item.deleted = true;
                held += 1;
            }
        }
        held
    }

    /// The live values, in order.
    pub fn values(&self) -> Vec<Value> {
        self.order()
            .iter()
            .map(|id| self.items[&id_key(id)].value.clone())
            .collect()
    }

    /// Inserts `value` as `node` at position `at` of the live list (clamped
    /// to its length); returns the new element's id.
    pub fn insert(&mut self, node: &str, at: usize, value: Value) -> SeqId {
        let order = self.order();
        let at = at.min(order.len());
        let after = if at == 0 {
            None
        } else {
            order.get(at - 1).cloned()
        };
        let id = (self.max_counter() + 1, node.to_string());
        self.items.insert(
            id_key(&id),
            SeqItem {
                id: id.clone(),
                after,
                value,
                deleted: false,
            },
        );
        id
    }

    /// Deletes the live element at position `at`; false if there is none.
    pub fn delete(&mut self, at: usize) -> bool {
        let Some(id) = self.order().get(at).cloned() else {
            return false;
        };
        if let Some(item) = self.items.get_mut(&id_key(&id)) {
            item.deleted = true;
        }
        true
    }

    /// Union of elements; a tombstone on either side wins.
    pub fn merge(&mut self, other: &Rga) {
        for (k, theirs) in &other.items {
            match self.items.get_mut(k) {
                Some(mine) => mine.deleted |= theirs.deleted,
                None => {
                    self.items.insert(k.clone(), theirs.clone());
                }
            }
        }
    }
}
