//! Synthetic `set` histories of any length, for the report's size tests and
//! its benchmark: what a long run looks like to the report (many processes,
//! some retired after an `info`, partitions every few seconds, a few reads
//! of the whole set, final reads) without running a cluster for minutes.

use checkers::{History, Op, OpType, Process};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Workers running at once.
const WORKERS: u64 = 10;
/// One op in this many is a read of the whole set.
const READ_EVERY: usize = 5000;

/// A `set` history of about `ops` client ops (invocations and completions
/// counted separately, as `History::ops` does), seeded. Adds succeed 96 %
/// of the time, fail 2 %, end `info` 2 % (the worker then continues as a new
/// process, as faultline's workers do); a partition starts every 10 s and
/// lasts 5 s; every element acknowledged is in the final reads.
pub fn set_history(ops: usize, seed: u64) -> History {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<Op> = Vec::with_capacity(ops + 64);
    let mut procs: Vec<u64> = (0..WORKERS).collect();
    let mut next_proc = WORKERS;
    let mut present: Vec<i64> = Vec::new();
    let mut t: u64 = 1_000_000;
    let mut element: i64 = 0;
    let mut partitioned = false;
    let push =
        |out: &mut Vec<Op>, kind, process, f: &str, value: Value, time, node: Option<String>| {
            out.push(Op {
                index: Some(out.len() as u64),
                kind,
                process,
                f: f.into(),
                value,
                time,
                node,
                error: None,
            });
        };
    let mut n = 0usize;
    while out.len() + 2 * WORKERS as usize + 4 < ops {
        // A partition every 10 s of history time, healed after 5 s.
        let second = t / 1_000_000_000;
        let want = second % 10 >= 5;
        if want != partitioned {
            partitioned = want;
            let f = if want {
                "start-partition"
            } else {
                "stop-partition"
            };
            let v = if want {
                json!({"kind": "partition", "label": "partition n1,n2|n3,n4,n5", "components": [["n1","n2"],["n3","n4","n5"]]})
            } else {
                Value::Null
            };
            push(
                &mut out,
                OpType::Invoke,
                Process::Nemesis,
                f,
                v.clone(),
                t,
                None,
            );
            push(
                &mut out,
                OpType::Info,
                Process::Nemesis,
                f,
                v,
                t + 20_000,
                None,
            );
        }
        let w = rng.random_range(0..WORKERS) as usize;
        let p = procs[w];
        let node = Some(format!("n{}", w % 5 + 1));
        let latency = if partitioned && rng.random_bool(0.2) {
            rng.random_range(50_000_000..1_000_000_000)
        } else {
            rng.random_range(300_000..3_000_000)
        };
        n += 1;
        if n.is_multiple_of(READ_EVERY) {
            push(
                &mut out,
                OpType::Invoke,
                Process::Client(p),
                "read",
                Value::Null,
                t,
                node.clone(),
            );
            push(
                &mut out,
                OpType::Ok,
                Process::Client(p),
                "read",
                json!(present),
                t + latency,
                node,
            );
        } else {
            let e = element;
            element += 1;
            push(
                &mut out,
                OpType::Invoke,
                Process::Client(p),
                "add",
                json!(e),
                t,
                node.clone(),
            );
            let roll: f64 = rng.random();
            let kind = if roll < 0.96 {
                present.push(e);
                OpType::Ok
            } else if roll < 0.98 {
                OpType::Fail
            } else {
                procs[w] = next_proc;
                next_proc += 1;
                OpType::Info
            };
            push(
                &mut out,
                kind,
                Process::Client(p),
                "add",
                json!(e),
                t + latency,
                node,
            );
        }
        t += rng.random_range(200_000..1_800_000);
    }
    if partitioned {
        push(
            &mut out,
            OpType::Invoke,
            Process::Nemesis,
            "stop-partition",
            Value::Null,
            t,
            None,
        );
        push(
            &mut out,
            OpType::Info,
            Process::Nemesis,
            "stop-partition",
            Value::Null,
            t + 20_000,
            None,
        );
    }
    t += 1_000_000_000;
    for (i, p) in procs.iter().take(5).enumerate() {
        let node = Some(format!("n{}", i + 1));
        push(
            &mut out,
            OpType::Invoke,
            Process::Client(*p),
            "read",
            Value::Null,
            t,
            node.clone(),
        );
        push(
            &mut out,
            OpType::Ok,
            Process::Client(*p),
            "read",
            json!(present),
            t + 2_000_000,
            node,
        );
        t += 3_000_000;
    }
    History::new(out)
}

/// The configuration of a default `faultline test --seed 1`, to draw
/// synthetic histories with (the cluster line and reproduce command).
pub fn config() -> crate::settings::TestConfig {
    let mut args = crate::settings::default_test_args();
    args.seed = Some(1);
    crate::settings::test_config(args).expect("default config")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_history_is_valid_for_the_set_checkers_and_about_as_long_as_asked() {
        let h = set_history(20_000, 7);
        assert!(
            h.ops.len() <= 20_000 && h.ops.len() > 19_000,
            "{}",
            h.ops.len()
        );
        for r in workloads::check("set", &h).unwrap() {
            assert_eq!(
                r.valid,
                checkers::Validity::Valid,
                "{}: {}",
                r.checker,
                r.summary
            );
        }
        assert!(h.ops.iter().any(|o| o.f == "start-partition"));
        assert!(h
            .ops
            .iter()
            .any(|o| o.kind == OpType::Info && o.process != Process::Nemesis));
    }
}
