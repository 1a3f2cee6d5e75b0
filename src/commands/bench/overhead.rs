//! What faultline itself costs: ops per second through the harness against
//! a bare client, on the same ringkv, at the same concurrency, at full
//! speed and without faults.
//!
//! - **bare**: `concurrency` tasks, each adding the next unique element to
//!   ringkv's grow-only set through the project's HTTP client
//!   ([`workloads::ringkv::RingkvClient::set_add`]) in a closed loop, with
//!   no history and no generator: the load generator with nothing else.
//! - **harness**: the same adds, to the same keys, through exactly the path
//!   a `faultline test` worker takes: the `set` workload's client behind
//!   `runner::invoke`, which records the invocation and the
//!   completion in a [`HistoryLog`] (one unbuffered write per op, as in a
//!   real run) and bounds the op with the harness timeout.
//!
//! The phases alternate in ABBA order (bare, harness, harness, bare, ...)
//! on one cluster so that drift of the machine or of the store's size hurts
//! both alike;
//! the ratio is harness / bare. The store runs with `fsync never`, the
//! fastest setting, where any harness cost shows most. The history writer
//! is also timed alone (lines per second from several threads), to show it
//! is never the bottleneck.

use super::start_ringkv;
use crate::run::history_log::{Entry, HistoryLog};
use anyhow::Result;
use checkers::{OpType, Process};
use serde::Serialize;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::ringkv::RingkvClient;
use workloads::set::{key_for, Mode, SetClient};
use workloads::Invocation;

/// Keys the adds are spread over (the `set` workload's default).
const KEYS: usize = 5;
/// A request's timeout, as a test's default `--op-timeout`.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// What to measure.
#[derive(Clone, Debug)]
pub struct OverheadConfig {
    /// Length of each phase.
    pub duration: Duration,
    /// Concurrent workers, in both phases.
    pub concurrency: usize,
    /// Bare/harness pairs to alternate.
    pub rounds: usize,
    /// The ringkv binary.
    pub ringkv_bin: PathBuf,
}

/// The figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overhead {
    /// Workers.
    pub concurrency: usize,
    /// Seconds per phase.
    pub phase_s: f64,
    /// Acknowledged adds per second, bare client.
    pub bare_ops_per_s: f64,
    /// Acknowledged adds per second through the harness.
    pub harness_ops_per_s: f64,
    /// harness / bare.
    pub ratio: f64,
    /// History lines the writer alone takes per second.
    pub history_lines_per_s: f64,
    /// Adds that did not succeed (bare, harness): should be 0.
    pub errors: (u64, u64),
}

/// Runs the measurement on a fresh three-node ringkv cluster on loopback.
pub async fn run(cfg: &OverheadConfig) -> Result<Overhead> {
    let dir = tempfile::tempdir()?;
    let mut no_mounts = super::Mounted(Vec::new());
    let (procs, addrs) =
        start_ringkv(&cfg.ringkv_bin, "never", dir.path(), None, &mut no_mounts).await?;
    let next = Arc::new(AtomicI64::new(0));
    let log = Arc::new(HistoryLog::create(&dir.path().join("history.jsonl"))?);
    // Warm up connections and the store.
    bare(cfg, &addrs, &next, Duration::from_millis(500)).await?;
    let (mut bare_ops, mut harness_ops, mut secs) = (0u64, 0u64, (0f64, 0f64));
    let mut errors = (0, 0);
    // ABBA order (bare, harness, harness, bare, ...): the set grows as the
    // run goes, and a linear drift then hurts both sides alike.
    for round in 0..cfg.rounds.max(1) {
        for harness_turn in [round % 2 == 1, round % 2 == 0] {
            let t = Instant::now();
            if harness_turn {
                let (ok, err) = harness(cfg, &addrs, &next, &log, cfg.duration).await?;
                secs.1 += t.elapsed().as_secs_f64();
                harness_ops += ok;
                errors.1 += err;
            } else {
                let (ok, err) = bare(cfg, &addrs, &next, cfg.duration).await?;
                secs.0 += t.elapsed().as_secs_f64();
                bare_ops += ok;
                errors.0 += err;
            }
        }
    }
    drop(procs);
    let bare_rate = bare_ops as f64 / secs.0;
    let harness_rate = harness_ops as f64 / secs.1;
    Ok(Overhead {
        concurrency: cfg.concurrency,
        phase_s: cfg.duration.as_secs_f64(),
        bare_ops_per_s: bare_rate,
        harness_ops_per_s: harness_rate,
        ratio: harness_rate / bare_rate.max(f64::MIN_POSITIVE),
        history_lines_per_s: history_writer(dir.path().join("writer.jsonl"), cfg.concurrency)?,
        errors,
    })
}

/// Closed-loop adds through the bare client; (acknowledged, other).
async fn bare(
    cfg: &OverheadConfig,
    addrs: &[String],
    next: &Arc<AtomicI64>,
    duration: Duration,
) -> Result<(u64, u64)> {
    let end = Instant::now() + duration;
    let mut tasks = Vec::new();
    for w in 0..cfg.concurrency {
        let client = RingkvClient::new(&addrs[w % addrs.len()], OP_TIMEOUT);
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut err) = (0u64, 0u64);
            while Instant::now() < end {
                let e = next.fetch_add(1, Ordering::Relaxed);
                match client.set_add(&key_for(e, KEYS), e).await {
                    Ok(()) => ok += 1,
                    Err(_) => err += 1,
                }
            }
            (ok, err)
        }));
    }
    sum(tasks).await
}

/// The same adds through a worker's path, recorded in `log`.
async fn harness(
    cfg: &OverheadConfig,
    addrs: &[String],
    next: &Arc<AtomicI64>,
    log: &Arc<HistoryLog>,
    duration: Duration,
) -> Result<(u64, u64)> {
    let end = Instant::now() + duration;
    let mut tasks = Vec::new();
    for w in 0..cfg.concurrency {
        let node = format!("n{}", w % addrs.len() + 1);
        let client = SetClient::new(
            RingkvClient::new(&addrs[w % addrs.len()], OP_TIMEOUT),
            Mode::Crdt,
            KEYS,
        )
        .with_client_id(format!("w{w}"));
        let (next, log) = (next.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut err) = (0u64, 0u64);
            while Instant::now() < end {
                let op = Invocation {
                    f: "add".into(),
                    value: json!(next.fetch_add(1, Ordering::Relaxed)),
                };
                let c = crate::run::worker::invoke(
                    &client,
                    &op,
                    w as u64,
                    &node,
                    &log,
                    OP_TIMEOUT + Duration::from_secs(1),
                )
                .await;
                if c.kind == OpType::Ok {
                    ok += 1;
                } else {
                    err += 1;
                }
            }
            (ok, err)
        }));
    }
    sum(tasks).await
}

async fn sum(tasks: Vec<tokio::task::JoinHandle<(u64, u64)>>) -> Result<(u64, u64)> {
    let (mut ok, mut err) = (0, 0);
    for t in tasks {
        let (a, b) = t.await?;
        ok += a;
        err += b;
    }
    Ok((ok, err))
}

/// Lines per second the history writer takes from `threads` threads at
/// once, each line an add's completion as a worker records it.
fn history_writer(path: PathBuf, threads: usize) -> Result<f64> {
    const LINES: u64 = 200_000;
    let log = HistoryLog::create(&path)?;
    let written = AtomicU64::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for w in 0..threads.clamp(1, 64) {
            let (log, written) = (&log, &written);
            s.spawn(move || {
                while written.fetch_add(1, Ordering::Relaxed) < LINES {
                    log.record(Entry {
                        kind: OpType::Ok,
                        process: Process::Client(w as u64),
                        f: "add".into(),
                        value: json!(123_456),
                        node: Some("n1".into()),
                        error: None,
                    });
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    log.finish()?;
    Ok(LINES as f64 / secs)
}

/// The figures as a short table.
pub fn table(o: &Overhead) -> String {
    format!(
        "ringkv, 3 nodes on loopback, fsync never; {} workers, unique set adds, {:.0} s phases alternated\n\n\
         {:<40} {:>10.0} ops/s   ({} errors)\n\
         {:<40} {:>10.0} ops/s   ({} errors)\n\
         {:<40} {:>10.3}\n\
         {:<40} {:>10.0} lines/s (a client op is 2 lines)\n",
        o.concurrency,
        o.phase_s,
        "bare client (no history)",
        o.bare_ops_per_s,
        o.errors.0,
        "through the harness (history recorded)",
        o.harness_ops_per_s,
        o.errors.1,
        "ratio harness / bare",
        o.ratio,
        "history writer alone",
        o.history_lines_per_s,
    )
}
