//! The `sequence` workload: a list CRDT (ringkv's RGA) under faults.
//!
//! Clients insert unique elements into a few shared lists (`l0`, `l1`, ...,
//! `--keys` of them), delete elements they have seen, and now and then read
//! a whole list; after the faults heal, every node reads every list, and
//! each list's replicas are read locally until they agree. The CRDT
//! checker's sequence part then asks that the final reads of a list be
//! identical and hold exactly the elements inserted and not deleted, that
//! each process's own inserts appear in the order it made them, and that
//! one order of the elements explains every read; the convergence checker
//! asks that the replicas agree.
//!
//! Each worker inserts every element right after its own previous
//! (acknowledged) element of that list, by value: ringkv resolves the value
//! to the element's id against a read quorum, and an element inserted after
//! another is listed after it on every replica, so a worker's inserts form
//! a chain in the order it made them. Its first insert into a list goes at
//! the end. A position would not do: the replica applying an insert may not
//! have seen the worker's previous one yet. When no replica of the quorum
//! holds the previous element (a 409), nothing was inserted: the op fails
//! and the next insert tries again. Elements are `worker × 1 000 000 + n`,
//! unique across workers.
//!
//! One client mode, `crdt`.

use crate::ringkv::{RequestError, RingkvClient};
use crate::{Client, Completion, Invocation, OpSource, WorkloadError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The client modes of the sequence workload.
pub const MODES: &[&str] = &["crdt"];

/// Parses a `--client` value.
pub fn parse_mode(s: &str) -> Result<&'static str, WorkloadError> {
    match s {
        "crdt" => Ok("crdt"),
        other => Err(WorkloadError::UnknownMode {
            workload: "sequence".into(),
            mode: other.into(),
            known: MODES.join(", "),
        }),
    }
}

/// The name of list number `k`.
pub fn key(k: usize) -> String {
    format!("l{k}")
}

/// The lists a run with `keys` lists touches.
pub fn keys(keys: usize) -> Vec<String> {
    (0..keys.max(1)).map(key).collect()
}

/// The final-phase operations, issued against every node: a read of each
/// list.
pub fn final_reads(keys: usize) -> Vec<Invocation> {
    self::keys(keys)
        .into_iter()
        .map(|k| Invocation {
            f: "read-list".into(),
            value: json!([k, null]),
        })
        .collect()
}

/// What one worker knows, shared by its generator and its client (the
/// built-in one or an adapter's): the element each insert goes after, and
/// the elements its deletes pick from.
#[derive(Debug, Default)]
pub struct Memory {
    /// Per list: the worker's last element whose insert was acknowledged.
    last_own: HashMap<String, Value>,
    /// Per list: the elements its latest read returned that it has not
    /// chosen to delete yet.
    seen: HashMap<String, Vec<Value>>,
}

impl Memory {
    /// The element an insert into `list` goes right after: the worker's
    /// last acknowledged one (`None`: at the end).
    pub fn after(&self, list: &str) -> Option<Value> {
        self.last_own.get(list).cloned()
    }

    /// `element`'s insert into `list` was acknowledged.
    pub fn inserted(&mut self, list: &str, element: Value) {
        self.last_own.insert(list.to_string(), element);
    }

    /// A read of `list` returned `items`: the deletes pick from them.
    pub fn saw(&mut self, list: &str, items: Vec<Value>) {
        self.seen.insert(list.to_string(), items);
    }
}

/// One worker's operations: inserts (50%), deletes of an element it has
/// seen (15%; a read when it has seen none in that list) and reads (35%)
/// of random lists, seeded per worker.
pub struct Generator {
    worker: u64,
    keys: usize,
    state: Mutex<(u64, u64)>,
    memory: Arc<Mutex<Memory>>,
}

impl Generator {
    /// Worker number `worker`'s generator over `keys` lists.
    pub fn new(seed: u64, worker: usize, keys: usize) -> Self {
        Generator {
            worker: worker as u64,
            keys: keys.max(1),
            state: Mutex::new((
                seed ^ 0x5E0_0000_0000_0000 ^ (worker as u64).wrapping_mul(0xA24B_AED4_963E_E407),
                0,
            )),
            memory: Arc::default(),
        }
    }

    /// This worker's memory, for a client of another store that must chain
    /// its inserts and remember its reads the same way.
    pub fn memory(&self) -> Arc<Mutex<Memory>> {
        self.memory.clone()
    }

    /// A client for one node that shares this worker's memory: it chains
    /// inserts after the worker's last acknowledged one, and remembers what
    /// its reads return for the generator to delete.
    pub fn client(&self, ringkv: RingkvClient) -> SequenceClient {
        SequenceClient {
            ringkv,
            memory: self.memory.clone(),
        }
    }
}

impl OpSource for Generator {
    fn next_op(&self) -> Invocation {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.0 = st.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = st.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let k = key((z % self.keys as u64) as usize);
        let dice = (z >> 20) % 20;
        if dice < 10 {
            st.1 += 1;
            return Invocation {
                f: "insert".into(),
                value: json!([k, (self.worker + 1) * 1_000_000 + st.1]),
            };
        }
        if dice < 13 {
            let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(pool) = memory.seen.get_mut(&k).filter(|p| !p.is_empty()) {
                let e = pool.swap_remove(((z >> 40) % pool.len() as u64) as usize);
                return Invocation {
                    f: "delete".into(),
                    value: json!([k, e]),
                };
            }
        }
        Invocation {
            f: "read-list".into(),
            value: json!([k, null]),
        }
    }
}

/// A sequence client bound to one ringkv node, for one worker.
pub struct SequenceClient {
    ringkv: RingkvClient,
    memory: Arc<Mutex<Memory>>,
}

impl SequenceClient {
    /// A client with a memory of its own (the final phase's readers).
    pub fn new(ringkv: RingkvClient) -> Self {
        SequenceClient {
            ringkv,
            memory: Arc::default(),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl Client for SequenceClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        let Some([k, arg]) = op.value.as_array().map(Vec::as_slice) else {
            return Completion::fail(op.value.clone(), "sequence ops take [list, element]");
        };
        let Some(list) = k.as_str() else {
            return Completion::fail(op.value.clone(), "list names are strings");
        };
        match op.f.as_str() {
            "insert" => {
                let after = self.memory().after(list);
                let r = self.ringkv.seq_insert(list, arg, after.as_ref()).await;
                if r.is_ok() {
                    self.memory().inserted(list, arg.clone());
                }
                Completion::of_write(op.value.clone(), r)
            }
            "delete" => {
                Completion::of_write(op.value.clone(), self.ringkv.seq_remove(list, arg).await)
            }
            "read-list" => match self.ringkv.crdt_read(list, "seq").await {
                Ok(v) => {
                    let items = v.get("items").cloned().unwrap_or(json!([]));
                    if let Some(a) = items.as_array() {
                        self.memory().saw(list, a.clone());
                    }
                    Completion::ok(json!([list, items]))
                }
                Err(RequestError::Definite(m)) | Err(RequestError::Indeterminate(m)) => {
                    Completion::fail(op.value.clone(), m)
                }
            },
            other => Completion::fail(op.value.clone(), format!("sequence has no op {other:?}")),
        }
    }
}

#[async_trait::async_trait]
impl crate::LocalRead for SequenceClient {
    async fn preflist(&self, key: &str) -> Result<Vec<String>, RequestError> {
        // ringkv places CRDT keys by their namespaced name.
        self.ringkv.preflist(&format!("seq/{key}")).await
    }

    async fn read_local(&self, key: &str) -> Result<Value, RequestError> {
        Ok(self
            .ringkv
            .crdt_read_local("seq", key)
            .await?
            .unwrap_or(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn inserts_are_unique_across_workers_and_deletes_name_elements_seen() {
        let a = Generator::new(4, 0, 2);
        let b = Generator::new(4, 1, 2);
        let ops: Vec<Invocation> = (0..300).flat_map(|_| [a.next_op(), b.next_op()]).collect();
        let inserted: Vec<u64> = ops
            .iter()
            .filter(|o| o.f == "insert")
            .map(|o| o.value[1].as_u64().unwrap())
            .collect();
        let mut unique = inserted.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), inserted.len());
        assert!(inserted.len() > 250, "{}", inserted.len());
        assert!(inserted.iter().any(|e| *e > 2_000_000));
        // Nothing seen yet: no delete.
        assert!(ops.iter().all(|o| o.f != "delete"));
        assert!(ops.iter().any(|o| o.f == "read-list"));
        assert!(ops
            .iter()
            .all(|o| ["l0", "l1"].contains(&o.value[0].as_str().unwrap())));
        // Once a read has returned elements, deletes name them, each once.
        a.memory
            .lock()
            .unwrap()
            .seen
            .insert("l0".into(), vec![json!(7), json!(8)]);
        let deletes: Vec<Value> = (0..200)
            .map(|_| a.next_op())
            .filter(|o| o.f == "delete")
            .map(|o| o.value)
            .collect();
        assert_eq!(deletes.len(), 2, "{deletes:?}");
        assert!(deletes.contains(&json!(["l0", 7])) && deletes.contains(&json!(["l0", 8])));
    }

    #[test]
    fn final_reads_cover_every_list() {
        let f = final_reads(3);
        assert_eq!(f.len(), 3);
        assert_eq!(f[2].value, json!(["l2", null]));
        assert!(f.iter().all(|o| o.f == "read-list"));
        assert!(parse_mode("rmw").is_err());
        assert_eq!(parse_mode("crdt").unwrap(), "crdt");
    }

    #[tokio::test]
    async fn a_refused_insert_leaves_the_chain_where_it_was() {
        let g = Generator::new(1, 0, 1);
        let c = g.client(RingkvClient::new("127.0.0.1:1", Duration::from_millis(300)));
        g.memory
            .lock()
            .unwrap()
            .last_own
            .insert("l0".into(), json!(5));
        let done = c
            .invoke(&Invocation {
                f: "insert".into(),
                value: json!(["l0", 6]),
            })
            .await;
        assert_eq!(done.kind, checkers::OpType::Fail);
        assert_eq!(g.memory.lock().unwrap().last_own["l0"], json!(5));
    }
}
