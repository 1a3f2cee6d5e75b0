//! The `counter` workload: does the store count every increment?
//!
//! Clients `add` small deltas (negative ones too) to one counter and now and
//! then `read` it; after the faults heal, every node reads it once more. The
//! counter checker judges each read against the bounds the acknowledged and
//! indeterminate adds allow.
//!
//! Client modes (`--client`):
//! - `crdt`: ringkv's PN-counter (`/counter`): increments merge, none is lost.
//! - `rmw`: read a number from a register, add, write it back: concurrent
//!   clients overwrite each other's increments under last-write-wins.

use crate::ringkv::{RequestError, RingkvClient};
use crate::{Client, Completion, Invocation, OpSource, WorkloadError};
use serde_json::{json, Value};
use std::sync::Mutex;

/// The client modes of the counter workload.
pub const MODES: &[&str] = &["crdt", "rmw"];

/// The one counter's key.
pub const KEY: &str = "counter";

/// How clients count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// ringkv's PN-counter.
    Crdt,
    /// Read-modify-write of a number in a register.
    Rmw,
}

impl Mode {
    /// Parses a `--client` value.
    pub fn parse(s: &str) -> Result<Mode, WorkloadError> {
        match s {
            "crdt" => Ok(Mode::Crdt),
            "rmw" => Ok(Mode::Rmw),
            other => Err(WorkloadError::UnknownMode {
                workload: "counter".into(),
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

/// Draws adds (80%, deltas from -2 to 5, never 0) and reads (20%) from a
/// seeded stream shared by all workers.
pub struct Generator {
    state: Mutex<u64>,
}

impl Generator {
    /// A seeded generator.
    pub fn new(seed: u64) -> Self {
        Generator {
            state: Mutex::new(seed ^ 0xC0FF_EE00_D15E_A5E5),
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
        if z.is_multiple_of(5) {
            return Generator::final_read();
        }
        let delta = [-2i64, -1, 1, 2, 3, 4, 5][((z >> 8) % 7) as usize];
        Invocation {
            f: "add".into(),
            value: json!(delta),
        }
    }
}

/// A counter-workload client bound to one ringkv node.
pub struct CounterClient {
    ringkv: RingkvClient,
    mode: Mode,
}

impl CounterClient {
    /// A client for one node.
    pub fn new(ringkv: RingkvClient, mode: Mode) -> Self {
        CounterClient { ringkv, mode }
    }

    async fn read(&self) -> Result<i64, RequestError> {
        let v = match self.mode {
            Mode::Crdt => self.ringkv.counter_read(KEY).await?,
            Mode::Rmw => self
                .ringkv
                .kv_get(KEY)
                .await?
                .and_then(|v| v.values.into_iter().next())
                .unwrap_or(json!(0)),
        };
        v.as_i64()
            .ok_or_else(|| RequestError::Definite(format!("counter holds {v}, not an integer")))
    }

    async fn add(&self, delta: i64) -> Result<(), RequestError> {
        match self.mode {
            Mode::Crdt => self.ringkv.counter_add(KEY, delta).await,
            Mode::Rmw => {
                let current = self.read().await?;
                self.ringkv
                    .kv_put(KEY, &json!(current + delta), None, None)
                    .await
            }
        }
    }
}

#[async_trait::async_trait]
impl crate::LocalRead for CounterClient {
    async fn preflist(&self, key: &str) -> Result<Vec<String>, RequestError> {
        match self.mode {
            // ringkv places CRDT keys by their namespaced name.
            Mode::Crdt => self.ringkv.preflist(&format!("counter/{key}")).await,
            Mode::Rmw => self.ringkv.preflist(key).await,
        }
    }

    /// The PN-counter's `{"value": n}` (crdt) or the register as stored
    /// (rmw); `null` when the replica holds nothing. There is one key.
    async fn read_local(&self, _key: &str) -> Result<Value, RequestError> {
        Ok(match self.mode {
            Mode::Crdt => self
                .ringkv
                .crdt_read_local("counter", KEY)
                .await?
                .unwrap_or(Value::Null),
            Mode::Rmw => self.ringkv.kv_read_local(KEY).await?.unwrap_or(Value::Null),
        })
    }
}

#[async_trait::async_trait]
impl Client for CounterClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        match op.f.as_str() {
            "add" => {
                let Some(delta) = op.value.as_i64() else {
                    return Completion::fail(op.value.clone(), "add needs an integer");
                };
                Completion::of_write(op.value.clone(), self.add(delta).await)
            }
            "read" => Completion::of_read(Value::Null, self.read().await.map(|v| json!(v))),
            other => Completion::fail(op.value.clone(), format!("counter has no op {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_seeded_mostly_adds_of_nonzero_deltas() {
        let a = Generator::new(1);
        let ops: Vec<Invocation> = (0..500).map(|_| a.next_op()).collect();
        let again: Vec<Invocation> = (0..500).map(|_| Generator::new(1).next_op()).collect();
        assert_ne!(ops.len(), 0);
        assert_eq!(ops[0], again[0]);
        let adds: Vec<i64> = ops.iter().filter_map(|o| o.value.as_i64()).collect();
        assert!(adds.len() > 300 && adds.len() < 480, "{}", adds.len());
        assert!(adds.iter().all(|d| *d != 0) && adds.iter().any(|d| *d < 0));
        assert!(ops.iter().any(|o| o.f == "read"));
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("crdt").unwrap().name(), "crdt");
        assert!(Mode::parse("lww")
            .unwrap_err()
            .to_string()
            .contains("crdt, rmw"));
    }
}
