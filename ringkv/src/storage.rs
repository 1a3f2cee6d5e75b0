//! A node's replica: every key it holds, and the merge rules of the simple
//! value kinds.
//!
//! * [`LwwValue`]: a last-writer-wins register. The coordinator stamps each
//!   write with its own wall clock, so clock skew between nodes decides which
//!   of two concurrent writes survives — exactly what faultline wants to
//!   provoke and observe.
//! * [`GSet`]: a grow-only set of `i64`, a state-based CRDT whose merge is
//!   union.
//!
//! The [`Store`] also keeps versioned registers ([`crate::versioning`]),
//! CRDTs ([`crate::crdt`]) and Paxos acceptor state ([`crate::paxos`]).
//! Each kind lives in its own namespace: register `"a"` and set `"a"` are
//! unrelated. The maps are in memory; a store opened on a directory
//! ([`Store::open`]) also sends every change to disk ([`crate::durable`])
//! and reads it back at start-up, while a memory-only store ([`Store::new`])
//! starts empty after a restart.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::crdt::{Crdt, CrdtOp};
use crate::durable::{DurableError, FsyncPolicy, Mutation, Persister};
use crate::paxos::Acceptor;
use crate::versioning::{Mode, Object, VersionVector};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// Which namespace a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// LWW registers (`/kv/...`).
    Kv,
    /// Grow-only sets (`/set/...`).
    Set,
}

impl Kind {
    /// Parses the `kv` / `set` path segment used by the admin API.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "kv" => Some(Kind::Kv),
            "set" => Some(Kind::Set),
            _ => None,
        }
    }
}

/// Current wall-clock time in nanoseconds since the UNIX epoch.
///
/// Deliberately `SystemTime` (not a monotonic clock): LWW timestamps must
/// follow the node's possibly-skewed wall clock (e.g. under libfaketime).
/// A clock set before 1970 yields 0.
pub fn wall_clock_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A last-writer-wins register value as stored on a replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LwwValue {
    /// The client's JSON value.
    pub value: serde_json::Value,
    /// Nanoseconds since the UNIX epoch on the coordinator's wall clock.
    pub timestamp: u64,
    /// Name of the coordinating node; breaks timestamp ties.
    pub writer: String,
}

impl LwwValue {
    /// Total order used by the merge: `(timestamp, writer)`, and — only when
    /// both are equal, e.g. two writes in the same nanosecond under a frozen
    /// fake clock — the value's JSON text, so replicas still converge.
    pub fn lww_cmp(&self, other: &LwwValue) -> Ordering {
        (self.timestamp, &self.writer)
            .cmp(&(other.timestamp, &other.writer))
            .then_with(|| {
                if self.value == other.value {
                    Ordering::Equal
                } else {
                    self.value.to_string().cmp(&other.value.to_string())
                }
            })
    }

    /// Merges `other` into `self`, keeping the greater of the two.
    /// Commutative, associative and idempotent.
    pub fn merge(&mut self, other: LwwValue) {
        if other.lww_cmp(self) == Ordering::Greater {
            *self = other;
        }
    }

    /// Merges an iterator of optional values; `None` if all are absent.
    pub fn merge_all<I: IntoIterator<Item = Option<LwwValue>>>(values: I) -> Option<LwwValue> {
        values.into_iter().flatten().reduce(|mut acc, v| {
            acc.merge(v);
            acc
        })
    }
}

/// A grow-only set of `i64` elements (state-based CRDT).
pub type GSet = BTreeSet<i64>;

/// Merges `other` into `into` (set union).
pub fn merge_gset(into: &mut GSet, other: &GSet) {
    into.extend(other.iter().copied());
}

/// Per-namespace key counts, for `/admin/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyCounts {
    /// Number of register keys held.
    pub kv: usize,
    /// Number of set keys held.
    pub set: usize,
    /// Number of versioned register keys (sibling modes) held.
    pub objects: usize,
    /// Of those, keys that hold more than one sibling.
    pub with_siblings: usize,
    /// The most siblings any key holds.
    pub max_siblings: usize,
    /// Number of CRDT keys held.
    pub crdts: usize,
}

/// This node's replica of every key it has been sent.
///
/// Critical sections are a single map operation, so a plain `std` mutex is
/// enough and never held across an `.await`.
#[derive(Debug, Default)]
pub struct Store {
    registers: Mutex<HashMap<String, LwwValue>>,
    sets: Mutex<HashMap<String, GSet>>,
    objects: Mutex<HashMap<String, Object>>,
    crdts: Mutex<HashMap<String, Crdt>>,
    paxos: Mutex<HashMap<String, Acceptor>>,
    persist: Option<Persister>,
    seq: AtomicU64,
}

impl Store {
    /// An empty, memory-only store: everything is lost when the process
    /// ends.
    pub fn new() -> Store {
        Store::default()
    }

    /// A store kept on disk in `dir` under `policy`, holding what an
    /// earlier run persisted there.
    pub fn open(dir: &Path, policy: FsyncPolicy) -> Result<Store, DurableError> {
        let (persister, loaded) = Persister::open(dir, policy)?;
        let bad = |what: &str, key: &str, e: serde_json::Error| DurableError::Open {
            dir: dir.to_path_buf(),
            message: format!("{what} {key:?} is corrupt: {e}"),
        };
        let mut registers = HashMap::new();
        for (k, v) in loaded.registers {
            let value = serde_json::from_slice(&v).map_err(|e| bad("register", &k, e))?;
            registers.insert(k, value);
        }
        let mut objects = HashMap::new();
        for (k, v) in loaded.objects {
            let value = serde_json::from_slice(&v).map_err(|e| bad("object", &k, e))?;
            objects.insert(k, value);
        }
        let mut crdts = HashMap::new();
        for (k, v) in loaded.crdts {
            let value = serde_json::from_slice(&v).map_err(|e| bad("crdt", &k, e))?;
            crdts.insert(k, value);
        }
        let mut paxos = HashMap::new();
        for (k, v) in loaded.paxos {
            let value = serde_json::from_slice(&v).map_err(|e| bad("paxos state", &k, e))?;
            paxos.insert(k, value);
        }
        let mut sets: HashMap<String, GSet> = HashMap::new();
        for (k, e) in loaded.elements {
            sets.entry(k).or_default().insert(e);
        }
        Ok(Store {
            registers: Mutex::new(registers),
            sets: Mutex::new(sets),
            objects: Mutex::new(objects),
            crdts: Mutex::new(crdts),
            paxos: Mutex::new(paxos),
            persist: Some(persister),
            seq: AtomicU64::new(0),
        })
    }

    /// Queues a mutation for the disk; called with the key's map locked so
    /// the disk sees changes in the order memory did.
    fn log(&self, m: impl FnOnce() -> Mutation) {
        if let Some(p) = &self.persist {
            let seq = self.seq.fetch_add(1, AtomicOrdering::SeqCst) + 1;
            p.submit(seq, m());
        }
    }

    /// Waits until every change made so far is as durable as the fsync
    /// policy promises before an acknowledgment (a no-op in memory, and
    /// under `interval` and `never`).
    pub async fn sync(&self) {
        if let Some(p) = &self.persist {
            p.wait(self.seq.load(AtomicOrdering::SeqCst)).await;
        }
    }

    /// Makes everything durable and stops writing (clean shutdown).
    pub fn close(&self) {
        if let Some(p) = &self.persist {
            p.close();
        }
    }

    /// Merges a register write into the local replica; returns the value now
    /// held (which may be an older write's if `value` lost the merge).
    pub fn write_register(&self, key: &str, value: LwwValue) -> LwwValue {
        let mut map = lock(&self.registers);
        let now = match map.get_mut(key) {
            Some(cur) => {
                if value.lww_cmp(cur) != Ordering::Greater {
                    return cur.clone();
                }
                cur.merge(value);
                cur.clone()
            }
            None => {
                map.insert(key.to_string(), value.clone());
                value
            }
        };
        self.log(|| Mutation::Register(key.to_string(), json_bytes(&now)));
        now
    }

    /// The local replica of a register, if any.
    pub fn read_register(&self, key: &str) -> Option<LwwValue> {
        lock(&self.registers).get(key).cloned()
    }

    /// Adds an element to the local replica of a set.
    pub fn add_element(&self, key: &str, element: i64) {
        let mut map = lock(&self.sets);
        if map.entry(key.to_string()).or_default().insert(element) {
            self.log(|| Mutation::Elements(key.to_string(), vec![element]));
        }
    }

    /// Merges a whole set state into the local replica.
    pub fn merge_set(&self, key: &str, other: &GSet) {
        let mut map = lock(&self.sets);
        let mine = map.entry(key.to_string()).or_default();
        let new: Vec<i64> = other.difference(mine).copied().collect();
        merge_gset(mine, other);
        if !new.is_empty() {
            self.log(|| Mutation::Elements(key.to_string(), new));
        }
    }

    /// The local replica of a set, if this node has ever seen the key.
    pub fn read_set(&self, key: &str) -> Option<GSet> {
        lock(&self.sets).get(key).cloned()
    }

    /// Keys of the registers this replica holds.
    pub fn register_keys(&self) -> Vec<String> {
        lock(&self.registers).keys().cloned().collect()
    }

    /// Keys of the sets this replica holds.
    pub fn set_keys(&self) -> Vec<String> {
        lock(&self.sets).keys().cloned().collect()
    }

    /// Drops register `key` if it still holds exactly `value`: a handoff
    /// deletes what it pushed, never a write that arrived meanwhile.
    pub fn remove_register_if(&self, key: &str, value: &LwwValue) -> bool {
        let removed = remove_if_same(&mut lock(&self.registers), key, value);
        if removed {
            self.log(|| Mutation::RemoveRegister(key.to_string()));
        }
        removed
    }

    /// Drops set `key` if it still has exactly `len` elements (a grow-only
    /// set that did not grow is unchanged).
    pub fn remove_set_if(&self, key: &str, len: usize) -> bool {
        let mut map = lock(&self.sets);
        if map.get(key).map(|s| s.len()) == Some(len) {
            map.remove(key);
            self.log(|| Mutation::RemoveSet(key.to_string()));
            true
        } else {
            false
        }
    }

    /// Applies a client write to a versioned register (this replica
    /// coordinates it) and returns the key's new state.
    pub fn update_object(
        &self,
        key: &str,
        mode: Mode,
        value: serde_json::Value,
        context: &VersionVector,
        node: &str,
        client: Option<&str>,
    ) -> Object {
        let mut map = lock(&self.objects);
        let obj = map
            .entry(key.to_string())
            .or_insert_with(|| Object::empty(mode));
        obj.update(value, context, node, client);
        let now = obj.clone();
        self.log(|| Mutation::Object(key.to_string(), json_bytes(&now)));
        now
    }

    /// Merges another replica's state of a versioned register.
    pub fn merge_object(&self, key: &str, other: &Object) {
        let mut map = lock(&self.objects);
        if let Some(now) = merge_entry(&mut map, key, other, Object::merge) {
            self.log(|| Mutation::Object(key.to_string(), json_bytes(&now)));
        }
    }

    /// The local state of a versioned register.
    pub fn read_object(&self, key: &str) -> Option<Object> {
        lock(&self.objects).get(key).cloned()
    }

    /// Keys of the versioned registers this replica holds.
    pub fn object_keys(&self) -> Vec<String> {
        lock(&self.objects).keys().cloned().collect()
    }

    /// Drops versioned register `key` if it is still exactly `state`.
    pub fn remove_object_if(&self, key: &str, state: &Object) -> bool {
        let removed = remove_if_same(&mut lock(&self.objects), key, state);
        if removed {
            self.log(|| Mutation::RemoveObject(key.to_string()));
        }
        removed
    }

    /// Applies a CRDT operation as `node` (this replica coordinates it);
    /// returns the new state, or `None` if the key holds another type.
    pub fn update_crdt(&self, key: &str, op: &CrdtOp, node: &str) -> Option<Crdt> {
        let mut map = lock(&self.crdts);
        let state = map
            .entry(key.to_string())
            .or_insert_with(|| Crdt::empty_for(op));
        if !state.apply(node, op) {
            return None;
        }
        let now = state.clone();
        self.log(|| Mutation::Crdt(key.to_string(), json_bytes(&now)));
        Some(now)
    }

    /// Merges another replica's state of a CRDT.
    pub fn merge_crdt(&self, key: &str, other: &Crdt) {
        let mut map = lock(&self.crdts);
        if let Some(now) = merge_entry(&mut map, key, other, Crdt::merge) {
            self.log(|| Mutation::Crdt(key.to_string(), json_bytes(&now)));
        }
    }

    /// The local state of a CRDT.
    pub fn read_crdt(&self, key: &str) -> Option<Crdt> {
        lock(&self.crdts).get(key).cloned()
    }

    /// Keys of the CRDTs this replica holds (`type/key`).
    pub fn crdt_keys(&self) -> Vec<String> {
        lock(&self.crdts).keys().cloned().collect()
    }

    /// Drops CRDT `key` if it is still exactly `state`.
    pub fn remove_crdt_if(&self, key: &str, state: &Crdt) -> bool {
        let removed = remove_if_same(&mut lock(&self.crdts), key, state);
        if removed {
            self.log(|| Mutation::RemoveCrdt(key.to_string()));
        }
        removed
    }

    /// Runs `f` on the Paxos acceptor of `key` and persists its new state.
    pub fn with_acceptor<T>(&self, key: &str, f: impl FnOnce(&mut Acceptor) -> T) -> T {
        let mut map = lock(&self.paxos);
        let acc = map.entry(key.to_string()).or_default();
        let before = acc.clone();
        let out = f(acc);
        if *acc != before {
            let now = acc.clone();
            self.log(|| Mutation::Paxos(key.to_string(), json_bytes(&now)));
        }
        out
    }

    /// The committed value of a Paxos register on this replica (admin).
    pub fn paxos_committed(&self, key: &str) -> Option<serde_json::Value> {
        lock(&self.paxos)
            .get(key)
            .and_then(|a| a.committed.as_ref().map(|c| c.value.clone()))
    }

    /// Drops a key if it still holds exactly `state` (handoff: what was
    /// pushed is dropped, never a write that arrived meanwhile).
    pub fn remove_if_unchanged(&self, state: &KeyState) -> bool {
        match state {
            KeyState::Register { key, value } => self.remove_register_if(key, value),
            KeyState::Set { key, elements } => self.remove_set_if(key, elements.len()),
            KeyState::Object { key, object } => self.remove_object_if(key, object),
            KeyState::Crdt { key, state } => self.remove_crdt_if(key, state),
        }
    }

    /// How many keys of each kind this replica holds.
    pub fn counts(&self) -> KeyCounts {
        let objects = lock(&self.objects);
        KeyCounts {
            kv: lock(&self.registers).len(),
            set: lock(&self.sets).len(),
            objects: objects.len(),
            with_siblings: objects.values().filter(|o| o.siblings.len() > 1).count(),
            max_siblings: objects
                .values()
                .map(|o| o.siblings.len())
                .max()
                .unwrap_or(0),
            crdts: lock(&self.crdts).len(),
        }
    }
}

/// Locks a mutex, recovering from poisoning: every critical section leaves
/// the map consistent, so a panic elsewhere must not take the replica down.
/// Merges `other` into the state of `key` (inserting it if absent);
/// returns the new state if anything changed.
fn merge_entry<T: Clone + PartialEq>(
    map: &mut HashMap<String, T>,
    key: &str,
    other: &T,
    merge: impl Fn(&mut T, &T),
) -> Option<T> {
    match map.get_mut(key) {
        Some(mine) => {
            let before = mine.clone();
            merge(mine, other);
            (*mine != before).then(|| mine.clone())
        }
        None => {
            map.insert(key.to_string(), other.clone());
            Some(other.clone())
        }
    }
}

/// Removes `key` if it still holds exactly `state` (a handoff drops what
/// it pushed, never a write that arrived meanwhile).
fn remove_if_same<T: PartialEq>(map: &mut HashMap<String, T>, key: &str, state: &T) -> bool {
    if map.get(key) == Some(state) {
        map.remove(key);
        true
    } else {
        false
    }
}

fn json_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("store values serialize")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One key's full state on a replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyState {
    /// An LWW register.
    Register {
        /// The key.
        key: String,
        /// Its value.
        value: LwwValue,
    },
    /// A grow-only set.
    Set {
        /// The key.
        key: String,
        /// Its elements.
        elements: GSet,
    },
    /// A versioned register.
    Object {
        /// The key.
        key: String,
        /// Its state.
        object: Object,
    },
    /// A CRDT.
    Crdt {
        /// The namespaced key.
        key: String,
        /// Its state.
        state: Crdt,
    },
}

impl KeyState {
    /// The key.
    pub fn key(&self) -> &str {
        match self {
            KeyState::Register { key, .. }
            | KeyState::Set { key, .. }
            | KeyState::Object { key, .. }
            | KeyState::Crdt { key, .. } => key,
        }
    }

    /// A hash of the kind, key and state.
    pub fn hash(&self) -> u64 {
        xxh3_64(
            serde_json::to_string(self)
                .expect("states serialize")
                .as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(value: serde_json::Value, timestamp: u64, writer: &str) -> LwwValue {
        LwwValue {
            value,
            timestamp,
            writer: writer.into(),
        }
    }

    #[test]
    fn later_timestamp_wins() {
        let mut a = v(json!(1), 10, "n9");
        a.merge(v(json!(2), 11, "n1"));
        assert_eq!(a.value, json!(2));
        let mut b = v(json!(2), 11, "n1");
        b.merge(v(json!(1), 10, "n9"));
        assert_eq!(b.value, json!(2));
    }

    #[test]
    fn timestamp_tie_broken_by_writer() {
        let x = v(json!("from-n1"), 5, "n1");
        let y = v(json!("from-n2"), 5, "n2");
        let mut a = x.clone();
        a.merge(y.clone());
        let mut b = y.clone();
        b.merge(x.clone());
        assert_eq!(a, b);
        assert_eq!(a.writer, "n2");
    }

    #[test]
    fn full_tie_broken_by_value_deterministically() {
        let x = v(json!({"a": 1}), 5, "n1");
        let y = v(json!([1, 2]), 5, "n1");
        let mut a = x.clone();
        a.merge(y.clone());
        let mut b = y;
        b.merge(x);
        assert_eq!(a, b);
    }

    #[test]
    fn merge_is_idempotent_and_merge_all_handles_absent() {
        let x = v(json!(null), 7, "n3");
        let mut a = x.clone();
        a.merge(x.clone());
        assert_eq!(a, x);
        assert_eq!(LwwValue::merge_all([None, None]), None);
        let m = LwwValue::merge_all([None, Some(v(json!(1), 1, "n1")), Some(x.clone()), None]);
        assert_eq!(m, Some(x));
    }

    #[test]
    fn gset_union() {
        let mut a: GSet = [1, 3].into_iter().collect();
        let b: GSet = [2, 3, -4].into_iter().collect();
        merge_gset(&mut a, &b);
        assert_eq!(a.into_iter().collect::<Vec<_>>(), vec![-4, 1, 2, 3]);
    }

    #[test]
    fn store_namespaces_are_separate_and_write_merges() {
        let s = Store::new();
        s.write_register("a", v(json!("new"), 20, "n1"));
        let held = s.write_register("a", v(json!("old"), 10, "n2"));
        assert_eq!(held.value, json!("new"));
        assert_eq!(s.read_set("a"), None);
        s.add_element("a", 5);
        s.add_element("a", 1);
        s.merge_set("a", &[9].into_iter().collect());
        assert_eq!(
            s.read_set("a").unwrap().into_iter().collect::<Vec<_>>(),
            vec![1, 5, 9]
        );
        assert_eq!(s.read_register("a").unwrap().value, json!("new"));
        let c = s.counts();
        assert_eq!((c.kv, c.set, c.objects), (1, 1, 0));
    }

    #[test]
    fn wall_clock_is_plausible() {
        // After 2020-01-01 in nanoseconds.
        assert!(wall_clock_nanos() > 1_577_836_800_000_000_000);
    }
}
