//! The `siblings` workload: does the store keep only truly concurrent
//! writes as siblings?
//!
//! Several writers write unique values to a few keys (`s0`, `s1`, ...) and
//! readers record every sibling a read returns. The siblings checker then
//! compares each read's sibling count with the number of writes that could
//! really have been concurrent with it: dotted version vectors must stay
//! within that bound; Riak's old node-keyed vector clocks explode past it.
//!
//! Client modes (`--client`):
//! - `context`: a write first reads the key and writes with the causal
//!   context it got (as a Riak client should), in one operation: a write
//!   that began after another completed has seen it and supersedes it.
//! - `blind`: writes carry no context, so every write is concurrent with
//!   everything before it: siblings pile up by design.

use crate::ringkv::{RequestError, RingkvClient};
use crate::{Client, Completion, Invocation, OpSource, WorkloadError};
use serde_json::{json, Value};
use std::sync::Mutex;

/// The client modes of the siblings workload.
pub const MODES: &[&str] = &["context", "blind"];

/// Whether writes carry the context of a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read, then write with the read's context.
    Context,
    /// Write without a context.
    Blind,
}

impl Mode {
    /// Parses a `--client` value.
    pub fn parse(s: &str) -> Result<Mode, WorkloadError> {
        match s {
            "context" => Ok(Mode::Context),
            "blind" => Ok(Mode::Blind),
            other => Err(WorkloadError::UnknownMode {
                workload: "siblings".into(),
                mode: other.into(),
                known: MODES.join(", "),
            }),
        }
    }

    /// The name `--client` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Context => "context",
            Mode::Blind => "blind",
        }
    }
}

/// Writes (70%) of unique values and reads (30%) on random keys, from a
/// seeded stream shared by all workers.
pub struct Generator {
    keys: usize,
    state: Mutex<(u64, u64)>,
}

impl Generator {
    /// A generator over `keys` keys, seeded.
    pub fn new(seed: u64, keys: usize) -> Self {
        Generator {
            keys: keys.max(1),
            state: Mutex::new((seed ^ 0x51B1_1265, 0)),
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
        let key = key(z % self.keys as u64);
        if (z >> 20) % 10 < 3 {
            return Invocation {
                f: "read".into(),
                value: json!([key, null]),
            };
        }
        st.1 += 1;
        Invocation {
            f: "write".into(),
            value: json!([key, st.1]),
        }
    }
}

/// A siblings-workload client bound to one ringkv node.
pub struct SiblingsClient {
    ringkv: RingkvClient,
    mode: Mode,
    client_id: String,
}

/// How long a `context` writer holds the context it read before writing
/// with it.
pub const THINK: std::time::Duration = std::time::Duration::from_millis(20);

impl SiblingsClient {
    /// A client for one node, named `client_id` to the store.
    pub fn new(ringkv: RingkvClient, mode: Mode, client_id: impl Into<String>) -> Self {
        SiblingsClient {
            ringkv,
            mode,
            client_id: client_id.into(),
        }
    }
}

#[async_trait::async_trait]
impl Client for SiblingsClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        let Some([k, v]) = op.value.as_array().map(Vec::as_slice) else {
            return Completion::fail(op.value.clone(), "siblings ops take [key, value]");
        };
        let Some(key) = k.as_str() else {
            return Completion::fail(op.value.clone(), "keys are strings");
        };
        match op.f.as_str() {
            "read" => Completion::of_read(
                op.value.clone(),
                self.ringkv
                    .kv_get(key)
                    .await
                    .map(|got| json!([key, got.map(|g| g.values).unwrap_or_default()])),
            ),
            "write" => {
                let (context, seen) = match self.mode {
                    Mode::Blind => (None, None),
                    Mode::Context => match self.ringkv.kv_get(key).await {
                        Ok(got) => {
                            // A client thinks between reading and writing
                            // back, as real ones do: other writers get in
                            // between. The op's span covers the read, so the
                            // checker still counts those writers as
                            // concurrent (DVV stays within them); a
                            // node-keyed clock cannot tell which siblings
                            // this writer saw and keeps them all.
                            tokio::time::sleep(THINK).await;
                            let seen = got.as_ref().map(|g| g.values.clone()).unwrap_or_default();
                            (got.and_then(|g| g.context), Some(seen))
                        }
                        // Nothing was written yet.
                        Err(RequestError::Definite(m)) | Err(RequestError::Indeterminate(m)) => {
                            return Completion::fail(op.value.clone(), m)
                        }
                    },
                };
                let done = Completion::of_write(
                    op.value.clone(),
                    self.ringkv
                        .kv_put(key, v, context.as_ref(), Some(&self.client_id))
                        .await,
                );
                with_seen(done, seen)
            }
            other => Completion::fail(op.value.clone(), format!("siblings has no op {other:?}")),
        }
    }
}

/// A write's completion, with the siblings its read saw (a context write):
/// `[k, v, {"seen": [...]}]`, which the siblings checker's causal bound
/// reads as the values the write superseded.
pub fn with_seen(mut done: Completion, seen: Option<Vec<Value>>) -> Completion {
    if let (Some(seen), Some(kv)) = (seen, done.value.as_array_mut()) {
        kv.push(json!({ "seen": seen }));
    }
    done
}

/// The final phase's reads: every key, once per node.
pub fn final_reads(keys: usize) -> Vec<Invocation> {
    self::keys(keys)
        .into_iter()
        .map(|k| Invocation {
            f: "read".into(),
            value: json!([k, null]),
        })
        .collect()
}

/// The name of key `k` (`s0`, `s1`, ...).
pub fn key(k: u64) -> String {
    format!("s{k}")
}

/// Every key a run with `keys` keys touches.
pub fn keys(keys: usize) -> Vec<String> {
    (0..keys.max(1) as u64).map(key).collect()
}

#[async_trait::async_trait]
impl crate::LocalRead for SiblingsClient {
    async fn preflist(&self, key: &str) -> Result<Vec<String>, RequestError> {
        self.ringkv.preflist(key).await
    }

    /// The object as this replica stores it (every sibling and its
    /// version), or `null`: replicas agree when they hold the same.
    async fn read_local(&self, key: &str) -> Result<Value, RequestError> {
        Ok(self.ringkv.kv_read_local(key).await?.unwrap_or(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_unique_and_keyed() {
        let g = Generator::new(2, 2);
        let ops: Vec<Invocation> = (0..200).map(|_| g.next_op()).collect();
        let written: Vec<u64> = ops
            .iter()
            .filter(|o| o.f == "write")
            .map(|o| o.value[1].as_u64().unwrap())
            .collect();
        let mut sorted = written.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), written.len(), "unique values");
        assert!(written.len() > 100 && written.len() < 180);
        assert!(ops
            .iter()
            .all(|o| ["s0", "s1"].contains(&o.value[0].as_str().unwrap())));
        assert!(Mode::parse("nope")
            .unwrap_err()
            .to_string()
            .contains("context, blind"));
    }
}
