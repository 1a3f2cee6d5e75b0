//! Conflict-free replicated data types with state-based merge.
//!
//! Each type is a state that replicas merge in any order, any number of
//! times, and still agree (merge is commutative, associative and idempotent:
//! property tests below). An operation is applied at one replica, which
//! stamps it with its own name; the resulting state is then merged into the
//! other replicas, exactly like a versioned register.
//!
//! - [`PnCounter`]: increments and decrements, one pair of counters per
//!   node; the value is the sum of increments minus the sum of decrements.
//! - [`OrSet`]: an observed-remove set without tombstones (ORSWOT). Every
//!   add gets a fresh *dot*; a remove deletes the dots of the element that
//!   the removing replica has seen, and only those, so an add concurrent
//!   with a remove survives it (*add wins*).
//! - [`Rga`]: a replicated growable array (a sequence): every insert gets a
//!   unique, Lamport-ordered id and names the element it follows; deletes
//!   leave a tombstone. Replicas that have seen the same inserts and deletes
//!   show the same list, and each replica's own inserts keep their order.
//!
//! Registers are CRDTs too and live under `/kv`: with `conflict = "lww"` a
//! key is a last-writer-wins register, with `conflict = "dvv"` a
//! multi-value register (see [`crate::versioning`]).
//!
//! Each type lives in its own module and is re-exported here; this module
//! holds what they share: the [`Crdt`] state a key stores, the [`CrdtOp`]
//! operations clients send, and how an operation reaches its type.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod counter;
mod orset;
mod rga;

pub use counter::PnCounter;
pub use orset::{Dot, OrSet};
pub use rga::{Rga, SeqId, SeqItem};

/// Any CRDT state, as stored and replicated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Crdt {
    /// A PN-counter.
    Counter(PnCounter),
    /// An OR-set.
    Orset(OrSet),
    /// A sequence.
    Seq(Rga),
}

/// An operation on a CRDT, applied at one replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CrdtOp {
    /// Counter: add (negative: subtract).
    Add {
        /// The amount.
        delta: i64,
    },
    /// OR-set: add an element.
    Insert {
        /// The element.
        element: Value,
    },
    /// OR-set: remove an element (the adds seen here).
    Remove {
        /// The element.
        element: Value,
    },
    /// OR-set: remove the adds of an element whose dots the remover
    /// observed (what the coordinator read before applying the remove).
    RemoveObserved {
        /// The element.
        element: Value,
        /// The dots of its adds that were observed.
        dots: BTreeSet<Dot>,
    },
    /// Sequence: insert `value` at position `at`.
    SeqInsert {
        /// Position in the live list.
        at: usize,
        /// The value.
        value: Value,
    },
    /// Sequence: delete the element at position `at`.
    SeqDelete {
        /// Position in the live list.
        at: usize,
    },
    /// Sequence, as a client asks for it: insert `value` right after the
    /// element holding `after`. The coordinator resolves it against a read
    /// quorum into [`CrdtOp::SeqInsertAfter`]; a replica given it directly
    /// resolves it against its own state (and ignores it if it has no such
    /// element).
    SeqInsertAfterValue {
        /// The value of the element to insert after.
        after: Value,
        /// The value to insert.
        value: Value,
    },
    /// Sequence, as a client asks for it: delete the elements holding
    /// `value`; resolved like [`CrdtOp::SeqInsertAfterValue`] into
    /// [`CrdtOp::SeqDeleteIds`].
    SeqDeleteValue {
        /// The value to delete.
        value: Value,
    },
    /// Sequence: merge `base` (what the coordinator's read quorum held, so
    /// the predecessor is present), then insert `value` right after the
    /// element `after`.
    SeqInsertAfter {
        /// The predecessor's id.
        after: SeqId,
        /// The value.
        value: Value,
        /// The state the id was resolved in.
        base: Rga,
    },
    /// Sequence: merge `base`, then delete the elements `ids`.
    SeqDeleteIds {
        /// The elements to delete.
        ids: Vec<SeqId>,
        /// The state the ids were resolved in.
        base: Rga,
    },
}

impl Crdt {
    /// The empty state of the type an op applies to.
    pub fn empty_for(op: &CrdtOp) -> Crdt {
        match op {
            CrdtOp::Add { .. } => Crdt::Counter(PnCounter::default()),
            CrdtOp::Insert { .. } | CrdtOp::Remove { .. } | CrdtOp::RemoveObserved { .. } => {
                Crdt::Orset(OrSet::default())
            }
            CrdtOp::SeqInsert { .. }
            | CrdtOp::SeqDelete { .. }
            | CrdtOp::SeqInsertAfterValue { .. }
            | CrdtOp::SeqDeleteValue { .. }
            | CrdtOp::SeqInsertAfter { .. }
            | CrdtOp::SeqDeleteIds { .. } => Crdt::Seq(Rga::default()),
        }
    }

    /// Applies `op` as `node`; false if the op does not fit this type.
    pub fn apply(&mut self, node: &str, op: &CrdtOp) -> bool {
        match (self, op) {
            (Crdt::Counter(c), CrdtOp::Add { delta }) => c.add(node, *delta),
            (Crdt::Orset(s), CrdtOp::Insert { element }) => s.add(node, element),
            (Crdt::Orset(s), CrdtOp::Remove { element }) => s.remove(element),
            (Crdt::Orset(s), CrdtOp::RemoveObserved { element, dots }) => {
                s.remove_observed(element, dots)
            }
            (Crdt::Seq(r), CrdtOp::SeqInsert { at, value }) => {
                r.insert(node, *at, value.clone());
            }
            (Crdt::Seq(r), CrdtOp::SeqDelete { at }) => {
                r.delete(*at);
            }
            (Crdt::Seq(r), CrdtOp::SeqInsertAfterValue { after, value }) => {
                if let Some(id) = r.find(after) {
                    r.insert_after(node, &id, value.clone());
                }
            }
            (Crdt::Seq(r), CrdtOp::SeqDeleteValue { value }) => {
                let ids = r.ids_of(value);
                r.delete_ids(&ids);
            }
            (Crdt::Seq(r), CrdtOp::SeqInsertAfter { after, value, base }) => {
                r.merge(base);
                r.insert_after(node, after, value.clone());
            }
            (Crdt::Seq(r), CrdtOp::SeqDeleteIds { ids, base }) => {
                r.merge(base);
                r.delete_ids(ids);
            }
            _ => return false,
        }
        true
    }

    /// Merges another replica's state of the same type (a different type is
    /// ignored: keys are namespaced by type).
    pub fn merge(&mut self, other: &Crdt) {
        match (self, other) {
            (Crdt::Counter(a), Crdt::Counter(b)) => a.merge(b),
            (Crdt::Orset(a), Crdt::Orset(b)) => a.merge(b),
            (Crdt::Seq(a), Crdt::Seq(b)) => a.merge(b),
            _ => {}
        }
    }

    /// The value clients see.
    pub fn view(&self) -> Value {
        match self {
            Crdt::Counter(c) => serde_json::json!({ "value": c.value() }),
            Crdt::Orset(s) => serde_json::json!({ "elements": s.elements() }),
            Crdt::Seq(r) => serde_json::json!({ "items": r.values() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A tiny deterministic generator (xorshift), so failures replay.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Three replicas receive random ops and random pairwise merges.
    fn replicas(kind: u64, seed: u64) -> Vec<Crdt> {
        let mut g = Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let empty = match kind {
            0 => Crdt::Counter(PnCounter::default()),
            1 => Crdt::Orset(OrSet::default()),
            _ => Crdt::Seq(Rga::default()),
        };
        let mut rs = vec![empty.clone(), empty.clone(), empty];
        for _ in 0..30 {
            let r = g.next(3) as usize;
            let node = ["n1", "n2", "n3"][r];
            let op = match kind {
                0 => CrdtOp::Add {
                    delta: g.next(11) as i64 - 5,
                },
                1 if g.next(3) == 0 => CrdtOp::Remove {
                    element: json!(g.next(5)),
                },
                1 => CrdtOp::Insert {
                    element: json!(g.next(5)),
                },
                _ if g.next(4) == 0 => CrdtOp::SeqDelete {
                    at: g.next(4) as usize,
                },
                // By value, resolved against this replica's own state, as
                // a replica does when given the client's form directly.
                _ if g.next(4) == 0 => CrdtOp::SeqInsertAfterValue {
                    after: json!(g.next(100)),
                    value: json!(g.next(100)),
                },
                _ if g.next(5) == 0 => CrdtOp::SeqDeleteValue {
                    value: json!(g.next(100)),
                },
                _ => CrdtOp::SeqInsert {
                    at: g.next(4) as usize,
                    value: json!(g.next(100)),
                },
            };
            assert!(rs[r].apply(node, &op));
            if g.next(3) == 0 {
                let (a, b) = (g.next(3) as usize, g.next(3) as usize);
                let src = rs[a].clone();
                rs[b].merge(&src);
            }
        }
        rs
    }

    fn merged(a: &Crdt, b: &Crdt) -> Crdt {
        let mut m = a.clone();
        m.merge(b);
        m
    }

    #[test]
    fn merge_is_commutative_associative_and_idempotent_and_replicas_converge() {
        for kind in 0..3 {
            for seed in 0..300 {
                let rs = replicas(kind, seed);
                let (a, b, c) = (&rs[0], &rs[1], &rs[2]);
                assert_eq!(merged(a, a), *a, "kind {kind} idempotent, seed {seed}");
                assert_eq!(
                    merged(a, b).view(),
                    merged(b, a).view(),
                    "kind {kind} commutative, seed {seed}"
                );
                assert_eq!(
                    merged(a, b),
                    merged(b, a),
                    "kind {kind} commutative state, seed {seed}"
                );
                assert_eq!(
                    merged(&merged(a, b), c),
                    merged(a, &merged(b, c)),
                    "kind {kind} associative, seed {seed}"
                );
                // Any merge order gives every replica the same view.
                let all1 = merged(&merged(a, b), c);
                let all2 = merged(&merged(c, a), b);
                assert_eq!(
                    all1.view(),
                    all2.view(),
                    "kind {kind} converge, seed {seed}"
                );
            }
        }
    }

    #[test]
    fn counter_sums_increments_and_decrements_across_replicas() {
        let mut a = PnCounter::default();
        let mut b = PnCounter::default();
        a.add("n1", 5);
        b.add("n2", 3);
        b.add("n2", -4);
        a.merge(&b);
        assert_eq!(a.value(), 4);
        a.merge(&b);
        assert_eq!(a.value(), 4, "merging twice counts once");
    }

    #[test]
    fn orset_add_wins_over_a_concurrent_remove_only() {
        let mut a = OrSet::default();
        a.add("n1", &json!("x"));
        let mut b = a.clone();
        // b removes the add it saw; a concurrently adds "x" again.
        b.remove(&json!("x"));
        a.add("n1", &json!("x"));
        let mut m = b.clone();
        m.merge(&a);
        assert_eq!(
            m.elements(),
            vec![json!("x")],
            "the concurrent add survives"
        );
        // A remove that has seen every add removes the element for good.
        let mut c = m.clone();
        c.remove(&json!("x"));
        m.merge(&c);
        assert!(m.elements().is_empty());
        // And an old state merged back does not resurrect it.
        m.merge(&a);
        assert!(m.elements().is_empty(), "{m:?}");
    }

    #[test]
    fn a_remove_of_observed_dots_spares_an_add_it_did_not_see() {
        let mut a = OrSet::default();
        a.add("n1", &json!("x"));
        let observed = a.entries[&json!("x").to_string()].clone();
        // Another add of "x" lands here before the remove is applied.
        let mut b = OrSet::default();
        b.add("n2", &json!("x"));
        a.merge(&b);
        a.remove_observed(&json!("x"), &observed);
        assert_eq!(a.elements(), vec![json!("x")], "the unseen add wins");
        let all = a.entries[&json!("x").to_string()].clone();
        a.remove_observed(&json!("x"), &all);
        assert!(a.elements().is_empty());
    }

    #[test]
    fn sequence_keeps_each_writers_order_and_converges() {
        let mut a = Rga::default();
        let mut b = Rga::default();
        for (i, v) in ["a1", "a2", "a3"].iter().enumerate() {
            a.insert("n1", i, json!(v));
        }
        for (i, v) in ["b1", "b2"].iter().enumerate() {
            b.insert("n2", i, json!(v));
        }
        let mut x = a.clone();
        x.merge(&b);
        let mut y = b.clone();
        y.merge(&a);
        assert_eq!(x.values(), y.values());
        let vals: Vec<String> = x
            .values()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let pos = |s: &str| vals.iter().position(|v| v == s).unwrap();
        assert!(pos("a1") < pos("a2") && pos("a2") < pos("a3"), "{vals:?}");
        assert!(pos("b1") < pos("b2"), "{vals:?}");
        // Insert in the middle, delete, merge: same everywhere.
        x.insert("n1", 1, json!("mid"));
        y.delete(0);
        x.merge(&y);
        y.merge(&x);
        assert_eq!(x.values(), y.values());
        assert_eq!(x.values().len(), 5);
    }

    fn strings(r: &Rga) -> Vec<String> {
        r.values()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn inserts_after_ones_own_last_element_keep_their_order_on_every_replica() {
        // Two writers chain their inserts on different replicas, each
        // after its own previous element, while a third interleaves
        // inserts at the head and deletes one of them.
        let mut a = Rga::default();
        let first = a.insert("n1", 0, json!("a0"));
        let mut b = a.clone();
        let mut c = a.clone();
        let mut last_a = first;
        let mut last_b = b.insert("n2", usize::MAX, json!("b0"));
        for i in 1..6 {
            last_a = a.insert_after("n1", &last_a, json!(format!("a{i}")));
            last_b = b.insert_after("n2", &last_b, json!(format!("b{i}")));
            c.insert("n3", 0, json!(format!("c{i}")));
            if i % 2 == 0 {
                let mut x = a.clone();
                x.merge(&c);
                c = x;
            }
        }
        let a1 = a.find(&json!("a1")).unwrap();
        b.merge(&a);
        b.delete_ids(std::slice::from_ref(&a1));
        // Inserting after a tombstone keeps its place.
        b.insert_after("n2", &a1, json!("after-a1"));
        let mut all = [a, b, c];
        for i in 0..3 {
            for j in 0..3 {
                let src = all[j].clone();
                all[i].merge(&src);
            }
        }
        assert_eq!(all[0].values(), all[1].values());
        assert_eq!(all[1].values(), all[2].values());
        let vals = strings(&all[0]);
        let pos = |s: &str| vals.iter().position(|v| v == s);
        assert_eq!(pos("a1"), None, "deleted: {vals:?}");
        for w in ["a", "b"] {
            let own: Vec<usize> = (0..6).filter_map(|i| pos(&format!("{w}{i}"))).collect();
            assert_eq!(own.len(), if w == "a" { 5 } else { 6 }, "{vals:?}");
            assert!(own.windows(2).all(|p| p[0] < p[1]), "{w}: {vals:?}");
        }
        assert!(
            pos("a0") < pos("after-a1") && pos("after-a1") < pos("a2"),
            "{vals:?}"
        );
    }

    #[test]
    fn an_element_whose_predecessor_has_not_arrived_shows_once_it_does() {
        let mut a = Rga::default();
        let x = a.insert("n1", 0, json!("x"));
        // A replica that never saw "x" is told to insert after it.
        let mut b = Rga::default();
        b.insert_after("n2", &x, json!("y"));
        assert!(b.values().is_empty(), "not reachable yet");
        b.merge(&a);
        assert_eq!(strings(&b), ["x", "y"]);
        // With the base merged first, as the coordinator sends it.
        let mut c = Crdt::Seq(Rga::default());
        assert!(c.apply(
            "n3",
            &CrdtOp::SeqInsertAfter {
                after: x.clone(),
                value: json!("z"),
                base: a.clone(),
            }
        ));
        assert_eq!(c.view(), json!({"items": ["x", "z"]}));
        assert!(c.apply(
            "n3",
            &CrdtOp::SeqDeleteIds {
                ids: vec![x],
                base: a
            }
        ));
        assert_eq!(c.view(), json!({"items": ["z"]}));
    }

    #[test]
    fn elements_are_found_by_value_deleted_or_not() {
        let mut r = Rga::default();
        let a = r.insert("n1", 0, json!(1));
        let b = r.insert("n1", 1, json!(2));
        let again = r.insert("n2", 2, json!(1));
        assert_eq!(r.find(&json!(1)), Some(a.clone()));
        assert_eq!(r.ids_of(&json!(1)), vec![a.clone(), again]);
        assert_eq!(r.find(&json!(3)), None);
        assert_eq!(r.delete_ids(&[b.clone(), (99, "n9".into())]), 1);
        assert_eq!(r.find(&json!(2)), Some(b));
        assert_eq!(r.values(), vec![json!(1), json!(1)]);
        // The client's form applied at a replica: resolved locally.
        let mut c = Crdt::Seq(r);
        assert!(c.apply(
            "n1",
            &CrdtOp::SeqInsertAfterValue {
                after: json!(2),
                value: json!(5)
            }
        ));
        assert_eq!(c.view(), json!({"items": [1, 5, 1]}));
        assert!(c.apply("n1", &CrdtOp::SeqDeleteValue { value: json!(1) }));
        assert_eq!(c.view(), json!({"items": [5]}));
        // Naming nothing changes nothing.
        let before = c.clone();
        assert!(c.apply(
            "n1",
            &CrdtOp::SeqInsertAfterValue {
                after: json!(7),
                value: json!(8)
            }
        ));
        assert_eq!(c, before);
    }
}
