//! The client workers of the main phase: each a logical process bound to
//! one node (Jepsen's model), drawing ops from the shared generator at a
//! paced, seeded rhythm, recording each invocation and completion in the
//! history before and after calling its client. A completion that does not
//! come within the op timeout (plus a margin) is recorded as `info` and the
//! worker carries on under a new process id, as Jepsen does.

use super::history_log::{Entry, HistoryLog};
use super::nemesis::sleep_or_stop;
use checkers::{OpType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use workloads::{Client, Completion, Invocation, OpSource};

/// Paces one worker so that all workers together average the target rate.
///
/// Each worker sleeps a random gap, uniform in `[0, 2 × concurrency / rate)`,
/// before each op, as Jepsen's `stagger` does. Random gaps matter: evenly
/// spaced ops that finish before the next one starts never overlap, and a
/// test of concurrent clients without concurrency proves nothing. The gaps
/// come from the run's seed and the worker's number.
pub struct Pacer {
    rng: ChaCha8Rng,
    mean_gap: f64,
}

impl Pacer {
    /// A pacer for worker `worker` of `concurrency`, at `rate` ops/s in all.
    pub fn new(seed: u64, worker: usize, concurrency: usize, rate: f64) -> Self {
        Pacer {
            rng: ChaCha8Rng::seed_from_u64(
                seed.wrapping_add(0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(worker as u64 + 1)),
            ),
            mean_gap: concurrency as f64 / rate.max(0.001),
        }
    }

    /// Waits before the next op; false if stopped meanwhile.
    pub async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let gap = self.rng.random_range(0.0..2.0 * self.mean_gap);
        !sleep_or_stop(Duration::from_secs_f64(gap), stop).await
    }
}

/// One client worker: a logical process bound to one node, or (session
/// `random`) sending each op to a node drawn at random.
pub struct Worker {
    /// Its first process id (its number).
    pub first_process: u64,
    /// How far each new process id is from the last (the concurrency).
    pub stride: u64,
    /// The nodes it may send to, with a client for each: its own node
    /// first, the only one unless it routes at random.
    pub targets: Vec<(String, Arc<dyn Client>)>,
    /// Draws the node of each op when there are several (seeded).
    pub route: ChaCha8Rng,
    /// The history it records into.
    pub log: Arc<HistoryLog>,
    /// The longest it waits for a completion before recording `info`.
    pub hard_cap: Duration,
}

impl Worker {
    /// Runs until `stop`; returns the last process id it used.
    pub async fn run(
        mut self,
        gen: Arc<dyn OpSource>,
        mut pacer: Pacer,
        mut stop: watch::Receiver<bool>,
    ) -> u64 {
        let mut process = self.first_process;
        loop {
            if *stop.borrow() || !pacer.wait(&mut stop).await {
                return process;
            }
            let op = gen.next_op();
            let pick = match self.targets.len() {
                1 => 0,
                n => self.route.random_range(0..n),
            };
            let (node, client) = &self.targets[pick];
            let c = invoke(
                client.as_ref(),
                &op,
                process,
                node,
                &self.log,
                self.hard_cap,
            )
            .await;
            if c.kind == OpType::Info {
                // The op may still take effect: this process is done, as in
                // Jepsen, and the worker carries on under a fresh id.
                process += self.stride;
            }
        }
    }
}

/// Runs one op through `client` as a worker does: records the invocation,
/// waits at most `hard_cap`, records the completion (shared with the
/// overhead benchmark, so that it measures exactly this path).
pub(crate) async fn invoke(
    client: &dyn Client,
    op: &workloads::Invocation,
    process: u64,
    node: &str,
    log: &HistoryLog,
    hard_cap: Duration,
) -> Completion {
    log.record(Entry {
        kind: OpType::Invoke,
        process: Process::Client(process),
        f: op.f.clone(),
        value: op.value.clone(),
        node: Some(node.to_string()),
        error: None,
    });
    let c = match tokio::time::timeout(hard_cap, client.invoke(op)).await {
        Ok(c) => c,
        Err(_) => Completion::info(op.value.clone(), "timeout (harness)"),
    };
    log.record(Entry {
        kind: c.kind,
        process: Process::Client(process),
        f: op.f.clone(),
        value: c.value.clone(),
        node: Some(node.to_string()),
        error: c.error.clone(),
    });
    c
}

/// Performs one final read on one node, retrying a few times if it fails;
/// returns the process to use next (a fresh one after an `info`).
pub async fn final_read(
    client: &dyn Client,
    op: &Invocation,
    process: u64,
    node: &str,
    log: &HistoryLog,
    timeout: Duration,
) -> u64 {
    let mut process = process;
    for attempt in 0..5 {
        let c = invoke(
            client,
            op,
            process,
            node,
            log,
            timeout + Duration::from_secs(1),
        )
        .await;
        match c.kind {
            OpType::Ok => return process,
            OpType::Info => process += 1000,
            _ => {}
        }
        if attempt < 4 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    process
}
