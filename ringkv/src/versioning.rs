//! Versioned values with siblings: how concurrent writes to one key are
//! kept, compared and merged, in three causality-tracking modes beside
//! last-write-wins.
//!
//! A client reads a key and gets its *siblings* (the values no write has yet
//! superseded) and a *causal context*. When it writes, it sends the context
//! back: the write supersedes exactly what that context covers. Writes whose
//! contexts do not cover each other are concurrent and become siblings,
//! which the next reader merges (as Riak and Dynamo do).
//!
//! - [`Mode::Dvv`], dotted version vectors: each sibling carries a *dot*,
//!   the single event (coordinating node, counter) that created it; the
//!   object carries a version vector summarising everything it has seen. A
//!   write drops precisely the siblings whose dots its context covers, so
//!   siblings never outnumber truly concurrent writes.
//! - [`Mode::Vclock`], a version vector per sibling, keyed by the writing
//!   *client* at its coordinating node (the node alone when the client gives
//!   no id). Correct, but vectors grow with clients times nodes.
//! - [`Mode::NodeVclock`], one version vector for the whole object, keyed by
//!   the coordinating node, with no dots: Riak's historical behaviour. A
//!   write whose context does not cover the whole object cannot tell which
//!   siblings its writer saw, so it keeps them all: with writers that
//!   interleave, siblings pile up past the number of writers (*sibling
//!   explosion*). It exists so the harness can show the anomaly, and DVV
//!   its cure.
//!
//! `merge` is commutative, associative and idempotent for `dvv` and
//! `vclock` (property tests below): replicas that exchange state in any
//! order converge. For `node-vclock` it is commutative and idempotent but
//! *not* associative: an object-level clock cannot tell which siblings a
//! newer state superseded, so the result depends on the order replicas meet.
//! That is the same flaw that makes it explode, kept on purpose.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A version vector: events seen per actor.
pub type VersionVector = BTreeMap<String, u64>;

/// How a cluster resolves concurrent writes to a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Last write wins by the coordinator's wall clock: concurrent writes
    /// are silently lost, more so under clock skew.
    Lww,
    /// Per-sibling version vectors keyed by client.
    Vclock,
    /// Dotted version vectors.
    Dvv,
    /// Object-level version vectors keyed by node, no dots (sibling
    /// explosion).
    NodeVclock,
}

impl Mode {
    /// Parses a config or flag value.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "lww" => Some(Mode::Lww),
            "vclock" => Some(Mode::Vclock),
            "dvv" => Some(Mode::Dvv),
            "node-vclock" => Some(Mode::NodeVclock),
            _ => None,
        }
    }

    /// The accepted names, for error messages.
    pub const NAMES: &'static str = "lww, vclock, dvv, node-vclock";
}

/// `a` has seen everything `b` has.
pub fn descends(a: &VersionVector, b: &VersionVector) -> bool {
    b.iter().all(|(k, n)| a.get(k).copied().unwrap_or(0) >= *n)
}

/// The least vector that descends both.
pub fn merge_vv(a: &VersionVector, b: &VersionVector) -> VersionVector {
    let mut out = a.clone();
    for (k, n) in b {
        let e = out.entry(k.clone()).or_insert(0);
        *e = (*e).max(*n);
    }
    out
}

fn get(v: &VersionVector, k: &str) -> u64 {
    v.get(k).copied().unwrap_or(0)
}

/// One of a key's current values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sibling {
    /// The value a client wrote.
    pub value: Value,
    /// DVV: the event that wrote it, `(node, counter)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dot: Option<(String, u64)>,
    /// Vclock: its own version vector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clock: VersionVector,
}

/// A key's state on one replica in a sibling mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// The mode it was written in.
    pub mode: Mode,
    /// The values not yet superseded, in a canonical order.
    pub siblings: Vec<Sibling>,
    /// Everything this replica has seen of the key: the causal context
    /// handed to readers.
    pub clock: VersionVector,
}

impl Object {
    /// An empty object (a key never written).
    pub fn empty(mode: Mode) -> Object {
        Object {
            mode,
            siblings: Vec::new(),
            clock: VersionVector::new(),
        }
    }

    /// Applies a client write at the coordinating replica `node`: `value`
    /// supersedes what `context` covers. `client` names the writer for
    /// [`Mode::Vclock`] (the node stands in when it is absent).
    pub fn update(
        &mut self,
        value: Value,
        context: &VersionVector,
        node: &str,
        client: Option<&str>,
    ) {
        match self.mode {
            Mode::Dvv => {
                let n = get(&self.clock, node).max(get(context, node)) + 1;
                self.siblings.retain(|s| match &s.dot {
                    Some((a, c)) => *c > get(context, a),
                    None => false,
                });
                self.clock = merge_vv(&self.clock, context);
                self.clock.insert(node.to_string(), n);
                self.siblings.push(Sibling {
                    value,
                    dot: Some((node.to_string(), n)),
                    clock: VersionVector::new(),
                });
            }
            Mode::Vclock => {
                // The actor is the client *at this node*: a counter only this
                // replica advances, so two writes never share a clock even
                // when one client writes through several nodes.
                let actor = match client {
                    Some(c) => format!("{c}@{node}"),
                    None => node.to_string(),
                };
                let actor = actor.as_str();
                let mut clock = context.clone();
                let seen = self
                    .siblings
                    .iter()
                    .map(|s| get(&s.clock, actor))
                    .chain([get(context, actor), get(&self.clock, actor)])
                    .max()
                    .unwrap_or(0);
                clock.insert(actor.to_string(), seen + 1);
                self.siblings.retain(|s| !descends(&clock, &s.clock));
                self.siblings.push(Sibling {
                    value,
                    dot: None,
                    clock,
                });
                self.clock = self
                    .siblings
                    .iter()
                    .fold(self.clock.clone(), |acc, s| merge_vv(&acc, &s.clock));
            }
            Mode::NodeVclock => {
                if !descends(context, &self.clock) {
                    // The writer did not see everything here, and with no
                    // dots nothing says which siblings it did see: keep all.
                } else {
                    self.siblings.clear();
                }
                let n = get(&self.clock, node).max(get(context, node)) + 1;
                self.clock = merge_vv(&self.clock, context);
                self.clock.insert(node.to_string(), n);
                self.siblings.push(Sibling {
                    value,
                    dot: None,
                    clock: VersionVector::new(),
                });
            }
            Mode::Lww => unreachable!("LWW registers are not objects"),
        }
        self.normalise();
    }

    /// Merges another replica's state of the same key into this one.
    pub fn merge(&mut self, other: &Object) {
        match self.mode {
            Mode::Dvv => {
                let mut kept: Vec<Sibling> = self
                    .siblings
                    .iter()
                    .filter(|s| {
                        other.siblings.iter().any(|o| o.dot == s.dot) || !covered(s, &other.clock)
                    })
                    .cloned()
                    .collect();
                for s in &other.siblings {
                    if !covered(s, &self.clock) && !kept.iter().any(|k| k.dot == s.dot) {
                        kept.push(s.clone());
                    }
                }
                self.siblings = kept;
                self.clock = merge_vv(&self.clock, &other.clock);
            }
            Mode::Vclock => {
                let all: Vec<Sibling> = self
                    .siblings
                    .iter()
                    .chain(&other.siblings)
                    .cloned()
                    .collect();
                let mut kept: Vec<Sibling> = Vec::new();
                for s in &all {
                    let dominated = all
                        .iter()
                        .any(|o| o.clock != s.clock && descends(&o.clock, &s.clock));
                    if !dominated && !kept.iter().any(|k| k.clock == s.clock) {
                        kept.push(s.clone());
                    }
                }
                self.siblings = kept;
                self.clock = merge_vv(&self.clock, &other.clock);
            }
            Mode::NodeVclock => {
                if descends(&other.clock, &self.clock) && other.clock != self.clock {
                    self.siblings = other.siblings.clone();
                } else if !descends(&self.clock, &other.clock) {
                    for s in &other.siblings {
                        if !self.siblings.iter().any(|k| k.value == s.value) {
                            self.siblings.push(s.clone());
                        }
                    }
                } else if self.clock == other.clock {
                    // Equal clocks: the same history. Union is harmless and
                    // keeps the merge commutative if contents ever differ.
                    for s in &other.siblings {
                        if !self.siblings.iter().any(|k| k.value == s.value) {
                            self.siblings.push(s.clone());
                        }
                    }
                }
                self.clock = merge_vv(&self.clock, &other.clock);
            }
            Mode::Lww => unreachable!("LWW registers are not objects"),
        }
        self.normalise();
    }

    /// Sorts siblings canonically so equal states compare equal.
    fn normalise(&mut self) {
        self.siblings.sort_by(|a, b| {
            (&a.dot, &a.clock, a.value.to_string()).cmp(&(&b.dot, &b.clock, b.value.to_string()))
        });
    }

    /// The sibling values, for clients.
    pub fn values(&self) -> Vec<Value> {
        self.siblings.iter().map(|s| s.value.clone()).collect()
    }
}

fn covered(s: &Sibling, clock: &VersionVector) -> bool {
    match &s.dot {
        Some((a, c)) => *c <= get(clock, a),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vv(pairs: &[(&str, u64)]) -> VersionVector {
        pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    #[test]
    fn vector_comparison() {
        let a = vv(&[("n1", 2), ("n2", 1)]);
        let b = vv(&[("n1", 1)]);
        assert!(descends(&a, &b) && !descends(&b, &a));
        let c = vv(&[("n2", 3)]);
        assert!(!descends(&a, &c) && !descends(&c, &a), "concurrent");
        assert_eq!(merge_vv(&a, &c), vv(&[("n1", 2), ("n2", 3)]));
        assert!(descends(&a, &VersionVector::new()));
    }

    /// Two writers that each read, then write with what they read, while the
    /// other writes in between: the interleaving that explodes siblings.
    fn interleaved(mode: Mode, rounds: usize) -> Vec<usize> {
        let mut o = Object::empty(mode);
        let mut ctx = [VersionVector::new(), VersionVector::new()];
        let mut counts = Vec::new();
        for i in 0..rounds {
            let w = i % 2;
            // Writer w writes with the context it read before the other's
            // last write, then reads again.
            o.update(json!(i), &ctx[w].clone(), "n1", Some(["c1", "c2"][w]));
            ctx[w] = o.clock.clone();
            counts.push(o.siblings.len());
        }
        counts
    }

    #[test]
    fn dvv_bounds_siblings_by_concurrent_writers_node_vclock_explodes() {
        let dvv = interleaved(Mode::Dvv, 20);
        assert!(dvv.iter().all(|&n| n <= 2), "dvv: {dvv:?}");
        let vclock = interleaved(Mode::Vclock, 20);
        assert!(vclock.iter().all(|&n| n <= 2), "vclock: {vclock:?}");
        let exploded = interleaved(Mode::NodeVclock, 20);
        assert!(*exploded.last().unwrap() > 10, "node-vclock: {exploded:?}");
    }

    #[test]
    fn a_write_with_a_fresh_context_replaces_everything() {
        for mode in [Mode::Dvv, Mode::Vclock, Mode::NodeVclock] {
            let mut o = Object::empty(mode);
            o.update(json!(1), &VersionVector::new(), "n1", Some("a"));
            o.update(json!(2), &VersionVector::new(), "n1", Some("b"));
            assert_eq!(
                o.siblings.len(),
                2,
                "{mode:?}: concurrent writes are siblings"
            );
            let ctx = o.clock.clone();
            o.update(json!(3), &ctx, "n2", Some("a"));
            assert_eq!(o.values(), vec![json!(3)], "{mode:?}");
        }
    }

    /// Builds a few divergent replicas of one key by applying writes at
    /// different nodes with various contexts.
    fn replicas(mode: Mode, seed: u64) -> Vec<Object> {
        let mut rs = vec![
            Object::empty(mode),
            Object::empty(mode),
            Object::empty(mode),
        ];
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..12 {
            let r = (next() % 3) as usize;
            let ctx_from = (next() % 3) as usize;
            let ctx = if next() % 2 == 0 {
                rs[ctx_from].clock.clone()
            } else {
                VersionVector::new()
            };
            let node = ["n1", "n2", "n3"][r];
            let client = ["a", "b"][(next() % 2) as usize];
            rs[r].update(json!(i), &ctx, node, Some(client));
            if next() % 3 == 0 {
                let (s, d) = ((next() % 3) as usize, (next() % 3) as usize);
                let src = rs[s].clone();
                rs[d].merge(&src);
            }
        }
        rs
    }

    fn merged(a: &Object, b: &Object) -> Object {
        let mut m = a.clone();
        m.merge(b);
        m
    }

    #[test]
    fn merge_is_commutative_associative_and_idempotent() {
        for mode in [Mode::Dvv, Mode::Vclock, Mode::NodeVclock] {
            for seed in 0..300 {
                let rs = replicas(mode, seed);
                let (a, b, c) = (&rs[0], &rs[1], &rs[2]);
                assert_eq!(merged(a, a), *a, "{mode:?} idempotent, seed {seed}");
                assert_eq!(
                    merged(a, b),
                    merged(b, a),
                    "{mode:?} commutative, seed {seed}"
                );
                if mode != Mode::NodeVclock {
                    assert_eq!(
                        merged(&merged(a, b), c),
                        merged(a, &merged(b, c)),
                        "{mode:?} associative, seed {seed}"
                    );
                }
            }
        }
    }

    #[test]
    fn dvv_merge_keeps_exactly_the_concurrent_writes() {
        let mut r1 = Object::empty(Mode::Dvv);
        let mut r2 = Object::empty(Mode::Dvv);
        r1.update(json!("a"), &VersionVector::new(), "n1", None);
        r2.merge(&r1);
        let ctx = r2.clock.clone();
        // On r2, a write that saw "a" replaces it; on r1, a concurrent one.
        r2.update(json!("b"), &ctx, "n2", None);
        r1.update(json!("c"), &VersionVector::new(), "n1", None);
        r1.merge(&r2);
        let mut vals = r1.values();
        vals.sort_by_key(|v| v.to_string());
        assert_eq!(
            vals,
            vec![json!("b"), json!("c")],
            "\"a\" was superseded by \"b\""
        );
    }
}

#[cfg(test)]
mod node_vclock_flaw {
    use super::*;
    use serde_json::json;

    /// The documented flaw, pinned: merge order changes the result.
    #[test]
    fn node_vclock_merge_is_not_associative() {
        let mut a = Object::empty(Mode::NodeVclock);
        a.update(json!("a"), &VersionVector::new(), "n1", None);
        let mut c = a.clone();
        c.update(json!("c"), &a.clock.clone(), "n1", None);
        let mut b = Object::empty(Mode::NodeVclock);
        b.update(json!("b"), &VersionVector::new(), "n2", None);
        let mut left = a.clone();
        left.merge(&b);
        left.merge(&c);
        let mut bc = b.clone();
        bc.merge(&c);
        let mut right = a.clone();
        right.merge(&bc);
        assert_eq!(left.siblings.len(), 3, "stale \"a\" kept: {left:?}");
        assert_eq!(right.siblings.len(), 2, "{right:?}");
    }
}
