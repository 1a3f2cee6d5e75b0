//! The `set` workload: are acknowledged additions ever lost?
//!
//! Clients add unique integers (0, 1, 2, ...), with a read of the whole set
//! every tenth op, to a set spread over a few keys
//! (element `e` lives under key `set-{hash(e) mod keys}`, so several replica
//! groups take part and each op contends with its neighbours at random). After the faults heal and the cluster quiesces, every node is
//! asked for the whole set; the `set` checker then compares what was
//! acknowledged with what came back.
//!
//! Client modes (`--client`):
//! - `crdt`: `POST /set/{key}`, ringkv's grow-only set, merged by union on
//!   every replica. Safe: nothing acknowledged may be lost.
//! - `rmw`: read the register holding a list, append, write it back. Under
//!   last-write-wins, two clients that read the same list overwrite each
//!   other's element: lost updates, by design, to prove the checker sees them.

use crate::ringkv::{RequestError, RingkvClient};
use crate::{Client, Completion, Invocation, WorkloadError};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};

/// The client modes of the set workload.
pub const MODES: &[&str] = &["crdt", "rmw"];

/// How clients add to the set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Through the store's set CRDT.
    Crdt,
    /// Read-modify-write of a list in a last-write-wins register.
    Rmw,
}

impl Mode {
    /// Parses a `--client` value.
    pub fn parse(s: &str) -> Result<Mode, WorkloadError> {
        match s {
            "crdt" => Ok(Mode::Crdt),
            "rmw" => Ok(Mode::Rmw),
            other => Err(WorkloadError::UnknownMode {
                workload: "set".into(),
                mode: other.into(),
                known: MODES.join(", "),
            }),
        }
    }

    /// The name `--client` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Crdt => "crdt",
            Mode::Rmw => "rmw",
        }
    }
}

/// Hands out unique elements in order; shared by all workers.
#[derive(Debug, Default)]
pub struct Generator {
    next: AtomicI64,
}

impl Generator {
    /// A generator starting at 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next main-phase operation: add the next unused element, and
    /// every tenth op a read of the whole set, so that the set-full checker
    /// can time when each element became visible.
    pub fn next_op(&self) -> Invocation {
        let e = self.next.fetch_add(1, Ordering::Relaxed);
        if e % 10 == 9 {
            return Generator::final_read();
        }
        Invocation {
            f: "add".into(),
            value: json!(e),
        }
    }
}

impl crate::OpSource for Generator {
    fn next_op(&self) -> Invocation {
        Generator::next_op(self)
    }
}

impl Generator {
    /// The final-phase operation, issued once against every node.
    pub fn final_read() -> Invocation {
        Invocation {
            f: "read".into(),
            value: Value::Null,
        }
    }
}

/// The key an element is stored under.
///
/// A mixing hash (splitmix64's finaliser), not `element mod keys`: with the
/// modulus, consecutive elements go to different keys, so ops on one key are
/// always `keys` ops apart and concurrent clients almost never contend. With
/// the hash, each op picks an effectively random key, as contended as a real
/// workload.
pub fn key_for(element: i64, keys: usize) -> String {
    let mut z = (element as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("set-{}", z % keys.max(1) as u64)
}

/// A set-workload client bound to one ringkv node.
pub struct SetClient {
    ringkv: RingkvClient,
    mode: Mode,
    keys: usize,
    client_id: Option<String>,
}

/// The union of the lists held by a register's siblings: the client-side
/// merge that makes read-modify-write safe when the store keeps siblings.
fn merge_siblings(key: &str, values: Vec<Value>) -> Result<Vec<Value>, RequestError> {
    let mut all: BTreeSet<i64> = BTreeSet::new();
    for v in values {
        match v {
            Value::Array(items) => {
                for i in items {
                    all.insert(i.as_i64().ok_or_else(|| {
                        RequestError::Definite(format!("register {key} holds {i}, not an integer"))
                    })?);
                }
            }
            Value::Null => {}
            other => {
                return Err(RequestError::Definite(format!(
                    "register {key} holds {other}, not a list"
                )))
            }
        }
    }
    Ok(all.into_iter().map(Value::from).collect())
}

impl SetClient {
    /// A client for one node.
    pub fn new(ringkv: RingkvClient, mode: Mode, keys: usize) -> Self {
        SetClient {
            ringkv,
            mode,
            keys: keys.max(1),
            client_id: None,
        }
    }

    /// Names this client to the store (for per-client vector clocks).
    pub fn with_client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    async fn add(&self, e: i64) -> Result<(), RequestError> {
        let key = key_for(e, self.keys);
        match self.mode {
            Mode::Crdt => self.ringkv.set_add(&key, e).await,
            Mode::Rmw => {
                let current = self.ringkv.kv_get(&key).await?;
                let (values, context) = match current {
                    Some(v) => (v.values, v.context),
                    None => (Vec::new(), None),
                };
                let mut list = merge_siblings(&key, values)?;
                list.push(json!(e));
                self.ringkv
                    .kv_put(
                        &key,
                        &Value::Array(list),
                        context.as_ref(),
                        self.client_id.as_deref(),
                    )
                    .await
            }
        }
    }
}

#[async_trait::async_trait]
impl crate::LocalRead for SetClient {
    async fn preflist(&self, key: &str) -> Result<Vec<String>, RequestError> {
        self.ringkv.preflist(key).await
    }

    /// The sorted elements (crdt), the register as stored (rmw), or `null`.
    async fn read_local(&self, key: &str) -> Result<Value, RequestError> {
        Ok(match self.mode {
            Mode::Crdt => self
                .ringkv
                .set_read_local(key)
                .await?
                .map_or(Value::Null, |e| json!(e)),
            Mode::Rmw => self.ringkv.kv_read_local(key).await?.unwrap_or(Value::Null),
        })
    }
}

impl SetClient {
    async fn read_all(&self) -> Result<Vec<i64>, RequestError> {
        let mut all = BTreeSet::new();
        for k in 0..self.keys {
            let key = format!("set-{k}");
            match self.mode {
                Mode::Crdt => all.extend(self.ringkv.set_read(&key).await?),
                Mode::Rmw => {
                    if let Some(v) = self.ringkv.kv_get(&key).await? {
                        let list = merge_siblings(&key, v.values)?;
                        all.extend(list.iter().filter_map(Value::as_i64));
                    }
                }
            }
        }
        Ok(all.into_iter().collect())
    }
}

#[async_trait::async_trait]
impl Client for SetClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        match op.f.as_str() {
            "add" => {
                let Some(e) = op.value.as_i64() else {
                    return Completion::fail(op.value.clone(), "add needs an integer");
                };
                Completion::of_write(op.value.clone(), self.add(e).await)
            }
            "read" => Completion::of_read(Value::Null, self.read_all().await.map(|v| json!(v))),
            other => Completion::fail(op.value.clone(), format!("set has no op {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_unique_and_spread_over_keys() {
        let g = Generator::new();
        let ops: Vec<_> = (0..20).map(|_| g.next_op()).collect();
        assert_eq!(ops[0].value, json!(0));
        assert_eq!(ops[5].value, json!(5));
        assert_eq!(ops.iter().filter(|o| o.f == "read").count(), 2);
        assert!(ops[..9].iter().all(|o| o.f == "add"));
        assert_eq!(key_for(7, 1), "set-0");
        assert_eq!(key_for(7, 0), "set-0");
        // Consecutive elements must not simply rotate through the keys.
        let seq: Vec<String> = (0..50).map(|e| key_for(e, 5)).collect();
        assert!(seq.windows(2).any(|w| w[0] == w[1]), "{seq:?}");
        for k in 0..5 {
            let n = seq.iter().filter(|s| **s == format!("set-{k}")).count();
            assert!((3..=20).contains(&n), "key {k} got {n} of 50");
        }
    }

    #[test]
    fn siblings_merge_to_the_union_of_their_lists() {
        let merged = merge_siblings("k", vec![json!([1, 3]), json!([2, 3]), Value::Null]).unwrap();
        assert_eq!(merged, vec![json!(1), json!(2), json!(3)]);
        assert!(merge_siblings("k", vec![json!({"x": 1})]).is_err());
        assert!(merge_siblings("k", vec![json!(["a"])]).is_err());
    }

    #[test]
    fn modes_parse_and_reject_unknown() {
        assert_eq!(Mode::parse("crdt").unwrap(), Mode::Crdt);
        assert_eq!(Mode::parse("rmw").unwrap().name(), "rmw");
        let e = Mode::parse("lww").unwrap_err().to_string();
        assert!(e.contains("crdt, rmw"), "{e}");
    }
}
