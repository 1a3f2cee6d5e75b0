//! The `or-set` workload: add-wins set semantics, under faults.
//!
//! Clients add and remove a few small integers (so adds and removes of one
//! element collide) in one OR-set and read it now and then; after the faults
//! heal every node reads it, and its replicas are read locally until they
//! agree. The CRDT checker judges add-wins: a remove removes only the adds
//! that completed before it began; an add concurrent with or after every
//! remove of its element must survive, and nothing removed may come back.
//!
//! One client mode, `crdt`: ringkv's OR-set (`/orset`), where a remove first
//! reads a quorum so it removes every add acknowledged before it.

use crate::ringkv::{RequestError, RingkvClient};
use crate::{Client, Completion, Invocation, OpSource, WorkloadError};
use serde_json::{json, Value};
use std::sync::Mutex;

/// The client modes of the or-set workload.
pub const MODES: &[&str] = &["crdt"];

/// The one set's key.
pub const KEY: &str = "orset";

/// Parses a `--client` value.
pub fn parse_mode(s: &str) -> Result<&'static str, WorkloadError> {
    match s {
        "crdt" => Ok("crdt"),
        other => Err(WorkloadError::UnknownMode {
            workload: "or-set".into(),
            mode: other.into(),
            known: MODES.join(", "),
        }),
    }
}

/// Adds (50%), removes (25%) and reads (25%) of elements 0..10, seeded.
pub struct Generator {
    state: Mutex<u64>,
}

impl Generator {
    /// A seeded generator.
    pub fn new(seed: u64) -> Self {
        Generator {
            state: Mutex::new(seed ^ 0x0A5E_7000_1234_5678),
        }
    }

    /// The final-phase operation, issued once against every node.
    pub fn final_read() -> Invocation {
        Invocation {
            f: "read".into(),
            value: Value::Null,
        }
    }
}

impl OpSource for Generator {
    fn next_op(&self) -> Invocation {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let e = json!((z >> 8) % 10);
        match z % 4 {
            0 | 1 => Invocation {
                f: "add".into(),
                value: e,
            },
            2 => Invocation {
                f: "remove".into(),
                value: e,
            },
            _ => Generator::final_read(),
        }
    }
}

/// An or-set client bound to one ringkv node.
pub struct OrSetClient {
    ringkv: RingkvClient,
}

impl OrSetClient {
    /// A client for one node.
    pub fn new(ringkv: RingkvClient) -> Self {
        OrSetClient { ringkv }
    }
}

#[async_trait::async_trait]
impl Client for OrSetClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        let result = match op.f.as_str() {
            "add" => self.ringkv.orset_update(KEY, "add", &op.value).await,
            "remove" => self.ringkv.orset_update(KEY, "remove", &op.value).await,
            "read" => {
                return Completion::of_read(
                    Value::Null,
                    self.ringkv
                        .crdt_read(KEY, "orset")
                        .await
                        .map(|v| v.get("elements").cloned().unwrap_or(json!([]))),
                );
            }
            other => {
                return Completion::fail(op.value.clone(), format!("or-set has no op {other:?}"))
            }
        };
        Completion::of_write(op.value.clone(), result)
    }
}

#[async_trait::async_trait]
impl crate::LocalRead for OrSetClient {
    async fn preflist(&self, key: &str) -> Result<Vec<String>, RequestError> {
        // ringkv places CRDT keys by their namespaced name.
        self.ringkv.preflist(&format!("orset/{key}")).await
    }

    async fn read_local(&self, key: &str) -> Result<Value, RequestError> {
        Ok(self
            .ringkv
            .crdt_read_local("orset", key)
            .await?
            .unwrap_or(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_collide_on_few_elements() {
        let g = Generator::new(3);
        let ops: Vec<Invocation> = (0..400).map(|_| g.next_op()).collect();
        for f in ["add", "remove", "read"] {
            assert!(ops.iter().filter(|o| o.f == f).count() > 60, "{f}");
        }
        assert!(ops
            .iter()
            .filter(|o| o.f != "read")
            .all(|o| o.value.as_u64().unwrap() < 10));
        assert!(parse_mode("rmw").is_err());
    }
}
