//! The `session` workload: does a client's view of a register ever go back?
//!
//! Clients read and write a few last-write-wins registers (`s0`, `s1`,
//! ...), each write a fresh, increasing value of its key. The store says
//! which version each value is (its timestamp), and every `ok` read or
//! write records it (`[key, {"value": v, "version": n}]`), so the sessions
//! checker judges Terry et al.'s four guarantees per process in the store's
//! own order, and the staleness checker measures how far behind reads were.
//! After the faults heal, every key's replicas are read locally for the
//! convergence checker.
//!
//! Client modes (`--client`) say where a process sends its requests:
//! - `sticky`: every op of a worker goes to the one node it is bound to,
//!   as in the other workloads.
//! - `random`: each op goes to a node drawn at random (seeded). Under R = 1
//!   and W = 1 with a sloppy quorum and partitions, different coordinators
//!   reach different replicas, and a process sees a newer version through
//!   one and an older one through the next: monotonic reads (and
//!   read-your-writes) break.
//!
//! Versions are wall-clock timestamps of the coordinating node, so the
//! clock nemesis breaks sessions whatever the routing: a coordinator whose
//! clock went back gives a process's later write an older version than its
//! earlier one (monotonic writes, writes-follow-reads; by the store's own
//! order, the later write lost).
//!
//! Where requests go is the runner's business ([`Routing`]): a client of
//! this workload is a quorum-mode [`crate::register::RegisterClient`] for
//! one node, and a `random` worker holds one per node.

use crate::{Invocation, OpSource, WorkloadError};
use serde_json::{json, Value};
use std::sync::Mutex;

/// The client modes of the session workload.
pub const MODES: &[&str] = &["sticky", "random"];

/// Which coordinator a process's requests go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Always the worker's own node.
    Sticky,
    /// A node drawn at random for every op.
    Random,
}

impl Routing {
    /// Parses a `--client` value.
    pub fn parse(s: &str) -> Result<Routing, WorkloadError> {
        match s {
            "sticky" => Ok(Routing::Sticky),
            "random" => Ok(Routing::Random),
            other => Err(WorkloadError::UnknownMode {
                workload: "session".into(),
                mode: other.into(),
                known: MODES.join(", "),
            }),
        }
    }

    /// The name `--client` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Routing::Sticky => "sticky",
            Routing::Random => "random",
        }
    }
}

/// The register key of key number `k`.
pub fn key(k: usize) -> String {
    format!("s{k}")
}

/// The registers a run with `keys` keys touches.
pub fn keys(keys: usize) -> Vec<String> {
    (0..keys.max(1)).map(key).collect()
}

/// Draws reads (60%) and writes (40%) of random keys from a seeded stream
/// shared by all workers; each write carries the next value of its key
/// (1, 2, 3, ... per key), so values are unique and increase per key.
pub struct Generator {
    keys: usize,
    state: Mutex<(u64, Vec<u64>)>,
}

impl Generator {
    /// A generator over `keys` registers, seeded.
    pub fn new(seed: u64, keys: usize) -> Self {
        let keys = keys.max(1);
        Generator {
            keys,
            state: Mutex::new((seed ^ 0x5E55_1011_C0FF_EE00, vec![0; keys])),
        }
    }

    /// The keys the workload touches.
    pub fn keys(&self) -> Vec<String> {
        keys(self.keys)
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
        let k = (z % self.keys as u64) as usize;
        if (z >> 20) % 10 < 6 {
            return Invocation {
                f: "read".into(),
                value: json!([key(k), Value::Null]),
            };
        }
        st.1[k] += 1;
        Invocation {
            f: "write".into(),
            value: json!([key(k), st.1[k]]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_carry_unique_increasing_values_per_key_and_reads_dominate() {
        let g = Generator::new(1, 3);
        let ops: Vec<Invocation> = (0..600).map(|_| g.next_op()).collect();
        let reads = ops.iter().filter(|o| o.f == "read").count();
        assert!((300..420).contains(&reads), "{reads}");
        for k in g.keys() {
            let written: Vec<u64> = ops
                .iter()
                .filter(|o| o.f == "write" && o.value[0] == json!(k))
                .map(|o| o.value[1].as_u64().unwrap())
                .collect();
            assert!(written.len() > 40, "{k}: {}", written.len());
            assert_eq!(written, (1..=written.len() as u64).collect::<Vec<_>>());
        }
        assert!(ops
            .iter()
            .filter(|o| o.f == "read")
            .all(|o| o.value[1].is_null()));
        let again: Vec<Invocation> = {
            let g = Generator::new(1, 3);
            (0..600).map(|_| g.next_op()).collect()
        };
        assert_eq!(ops, again, "same seed, same ops");
    }

    #[test]
    fn routing_modes_parse_and_reject_unknown() {
        assert_eq!(Routing::parse("sticky").unwrap(), Routing::Sticky);
        assert_eq!(Routing::parse("random").unwrap().name(), "random");
        let e = Routing::parse("cas").unwrap_err().to_string();
        assert!(e.contains("sticky, random"), "{e}");
    }
}
