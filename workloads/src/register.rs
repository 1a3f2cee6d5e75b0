//! The `register` workload: is the store linearizable, key by key?
//!
//! Clients read, write and compare-and-set a few registers (`r0`, `r1`,
//! ...), many ops per key, with small values so that operations collide.
//! Every op's value is a Jepsen `[key, value]` tuple (`cas` carries
//! `[key, [old, new]]`), so the linearizability checker splits the history
//! by key and searches each key on its own. Registers start as `null`.
//!
//! When the store says which version a value is (the Paxos ballot it was
//! chosen at; the last-write-wins timestamp), an `ok` read completes with
//! `[key, {"value": v, "version": n}]` and an `ok` write with
//! `[key, {"value": v, "version": n}]`: the session-guarantee and
//! staleness checkers order a key's values by that version (small values
//! repeat, so the values themselves cannot be versions), and the
//! linearizability checker is handed the history without them
//! ([`checkers::versioned::without_versions`]).
//!
//! Client modes (`--client`):
//! - `cas`: ringkv's `/cas` registers, where every operation is a Paxos round
//!   over the key's replicas: linearizable, under partitions, kills and
//!   pauses alike. A 409 is a compare that failed (nothing changed).
//! - `quorum`: plain R/W quorum reads and writes of `/kv` registers, and a
//!   compare-and-set done by the client as read-then-write. Dynamo-style,
//!   not linearizable: with last-write-wins and skewed clocks, or sloppy
//!   quorums, the checker finds a history no order explains.

use crate::ringkv::{RequestError, RingkvClient};
use crate::{Client, Completion, Invocation, OpSource, WorkloadError};
use serde_json::{json, Value};
use std::sync::Mutex;

/// The client modes of the register workload.
pub const MODES: &[&str] = &["cas", "quorum"];

/// How clients reach the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// ringkv's Paxos registers.
    Cas,
    /// Quorum reads and writes, client-side compare-and-set.
    Quorum,
}

impl Mode {
    /// Parses a `--client` value.
    pub fn parse(s: &str) -> Result<Mode, WorkloadError> {
        match s {
            "cas" => Ok(Mode::Cas),
            "quorum" => Ok(Mode::Quorum),
            other => Err(WorkloadError::UnknownMode {
                workload: "register".into(),
                mode: other.into(),
                known: MODES.join(", "),
            }),
        }
    }

    /// The name `--client` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Cas => "cas",
            Mode::Quorum => "quorum",
        }
    }
}

/// Values written are small integers by default (Jepsen's `rand-int 5`), so
/// reads and compares collide often.
pub const DEFAULT_VALUES: u64 = 5;

/// Draws read (40%), write (40%) and cas (20%) ops on random keys from a
/// seeded stream shared by all workers.
pub struct Generator {
    keys: usize,
    values: u64,
    state: Mutex<u64>,
}

impl Generator {
    /// A generator over `keys` registers whose values are drawn from
    /// `0..values`, seeded.
    pub fn new(seed: u64, keys: usize, values: u64) -> Self {
        Generator {
            keys: keys.max(1),
            values: values.max(2),
            state: Mutex::new(seed ^ 0x5DEE_CE66_D1CE_4E5B),
        }
    }

    fn next_u64(&self) -> u64 {
        // splitmix64: tiny, seedable, good enough to pick ops.
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl OpSource for Generator {
    fn next_op(&self) -> Invocation {
        let r = self.next_u64();
        let key = key(r % self.keys as u64);
        let dice = (r >> 16) % 10;
        let v = (r >> 32) % self.values;
        let w = (r >> 40) % self.values;
        match dice {
            0..=3 => Invocation {
                f: "read".into(),
                value: json!([key, null]),
            },
            4..=7 => Invocation {
                f: "write".into(),
                value: json!([key, v]),
            },
            _ => Invocation {
                f: "cas".into(),
                value: json!([key, [v, w]]),
            },
        }
    }
}

/// A register-workload client bound to one ringkv node.
pub struct RegisterClient {
    ringkv: RingkvClient,
    mode: Mode,
}

impl RegisterClient {
    /// A client for one node.
    pub fn new(ringkv: RingkvClient, mode: Mode) -> Self {
        RegisterClient { ringkv, mode }
    }

    /// The value and, when the store reports one, its version.
    async fn read(&self, key: &str) -> Result<(Value, Option<i64>), RequestError> {
        match self.mode {
            Mode::Cas => self.ringkv.cas_read(key).await,
            Mode::Quorum => Ok(match self.ringkv.kv_get(key).await? {
                Some(v) => (
                    v.values.into_iter().next().unwrap_or(Value::Null),
                    v.version,
                ),
                None => (Value::Null, None),
            }),
        }
    }

    /// The version the store gave the write, when it reports one.
    async fn write(&self, key: &str, v: &Value) -> Result<Option<i64>, RequestError> {
        match self.mode {
            Mode::Cas => self.ringkv.cas_write(key, v).await,
            Mode::Quorum => self.ringkv.kv_put_versioned(key, v).await,
        }
    }

    /// `Ok(true)`: swapped; `Ok(false)`: the register held something else.
    async fn cas(&self, key: &str, old: &Value, new: &Value) -> Result<bool, RequestError> {
        match self.mode {
            Mode::Cas => self.ringkv.cas_swap(key, old, new).await,
            Mode::Quorum => {
                // Not atomic: another write may land between the two.
                let (current, _) = self.read(key).await?;
                if current != *old {
                    return Ok(false);
                }
                self.ringkv.kv_put(key, new, None, None).await?;
                Ok(true)
            }
        }
    }
}

#[async_trait::async_trait]
impl Client for RegisterClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        let Some([k, arg]) = op.value.as_array().map(Vec::as_slice) else {
            return Completion::fail(op.value.clone(), "register ops take [key, value]");
        };
        let Some(key) = k.as_str() else {
            return Completion::fail(op.value.clone(), "register keys are strings");
        };
        match op.f.as_str() {
            "read" => match self.read(key).await {
                Ok((v, version)) => Completion::ok(json!([key, versioned(v, version)])),
                // A read that did not answer changed nothing.
                Err(RequestError::Definite(m)) | Err(RequestError::Indeterminate(m)) => {
                    Completion::fail(op.value.clone(), m)
                }
            },
            "write" => match self.write(key, arg).await {
                Ok(version) => Completion::ok(json!([key, versioned(arg.clone(), version)])),
                Err(RequestError::Definite(m)) => Completion::fail(op.value.clone(), m),
                Err(RequestError::Indeterminate(m)) => Completion::info(op.value.clone(), m),
            },
            "cas" => {
                let Some([old, new]) = arg.as_array().map(Vec::as_slice) else {
                    return Completion::fail(op.value.clone(), "cas takes [key, [old, new]]");
                };
                match self.cas(key, old, new).await {
                    Ok(true) => Completion::ok(op.value.clone()),
                    // Evidence the register held something else.
                    Ok(false) => {
                        Completion::fail(op.value.clone(), checkers::linear::compile::CAS_MISMATCH)
                    }
                    Err(RequestError::Definite(m)) => Completion::fail(op.value.clone(), m),
                    Err(RequestError::Indeterminate(m)) => Completion::info(op.value.clone(), m),
                }
            }
            other => Completion::fail(op.value.clone(), format!("register has no op {other:?}")),
        }
    }
}

#[async_trait::async_trait]
impl crate::LocalRead for RegisterClient {
    async fn preflist(&self, key: &str) -> Result<Vec<String>, RequestError> {
        match self.mode {
            // ringkv places Paxos registers by their namespaced name.
            Mode::Cas => self.ringkv.preflist(&format!("cas/{key}")).await,
            Mode::Quorum => self.ringkv.preflist(key).await,
        }
    }

    async fn read_local(&self, key: &str) -> Result<Value, RequestError> {
        let local = match self.mode {
            Mode::Cas => self.ringkv.crdt_read_local("cas", key).await?,
            Mode::Quorum => self.ringkv.kv_read_local(key).await?,
        };
        Ok(local.unwrap_or(Value::Null))
    }
}

/// A value with the store's version of it, as the session and staleness
/// checkers read it (`{"value": v, "version": n}`); the bare value when
/// there is no version (a register never written reads as `null`, the
/// initial value).
pub fn versioned(value: Value, version: Option<i64>) -> Value {
    match version {
        Some(n) => json!({ "value": value, "version": n }),
        None => value,
    }
}

/// The name of register `k` (`r0`, `r1`, ...).
pub fn key(k: u64) -> String {
    format!("r{k}")
}

/// Every register a run with `keys` keys touches.
pub fn keys(keys: usize) -> Vec<String> {
    (0..keys.max(1) as u64).map(key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_keyed_seeded_and_mixed() {
        let a = Generator::new(7, 3, DEFAULT_VALUES);
        let b = Generator::new(7, 3, DEFAULT_VALUES);
        let ops: Vec<Invocation> = (0..300).map(|_| a.next_op()).collect();
        let again: Vec<Invocation> = (0..300).map(|_| b.next_op()).collect();
        assert_eq!(ops, again, "same seed, same ops");
        for f in ["read", "write", "cas"] {
            let n = ops.iter().filter(|o| o.f == f).count();
            assert!(n > 30, "{f}: {n}");
        }
        for o in &ops {
            let kv = o.value.as_array().unwrap();
            assert!(["r0", "r1", "r2"].contains(&kv[0].as_str().unwrap()));
        }
        assert!(ops
            .iter()
            .any(|o| o.f == "cas" && o.value[1].as_array().unwrap().len() == 2));
        assert_ne!(
            ops,
            (0..300)
                .map(|_| Generator::new(8, 3, DEFAULT_VALUES).next_op())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn values_stay_in_their_range_and_a_wide_range_rarely_repeats() {
        let written = |values| {
            let g = Generator::new(3, 1, values);
            (0..2000)
                .map(|_| g.next_op())
                .filter(|o| o.f == "write")
                .map(|o| o.value[1].as_u64().unwrap())
                .collect::<Vec<u64>>()
        };
        let small = written(DEFAULT_VALUES);
        assert!(small.iter().all(|&v| v < DEFAULT_VALUES));
        let wide = written(1_000_000);
        assert!(wide.iter().all(|&v| v < 1_000_000));
        let distinct: std::collections::HashSet<_> = wide.iter().collect();
        // About 800 writes over a million values: a few coincide at most.
        assert!(
            distinct.len() + 5 >= wide.len(),
            "{} of {}",
            distinct.len(),
            wide.len()
        );
    }

    #[test]
    fn versions_wrap_values_and_their_absence_leaves_them_bare() {
        assert_eq!(
            versioned(json!(3), Some(7)),
            json!({"value": 3, "version": 7})
        );
        assert_eq!(versioned(json!(3), None), json!(3));
        assert_eq!(versioned(Value::Null, None), Value::Null);
    }

    #[test]
    fn modes_parse_and_reject_unknown() {
        assert_eq!(Mode::parse("cas").unwrap(), Mode::Cas);
        assert_eq!(Mode::parse("quorum").unwrap().name(), "quorum");
        assert!(Mode::parse("paxos")
            .unwrap_err()
            .to_string()
            .contains("cas, quorum"));
    }
}
