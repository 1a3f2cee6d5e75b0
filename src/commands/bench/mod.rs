//! `faultline bench`: ringkv's put and get throughput and latency, beside
//! etcd's under the same load generator.
//!
//! Each store runs as a three-node cluster on loopback (N = 3, R = W = 2 for
//! ringkv; a three-member Raft group for etcd), and the same closed-loop
//! generator drives it: `concurrency` workers, spread over the nodes, each
//! sending its next request as soon as the previous one answered, first
//! puts of `value_size`-byte values over `keys` keys for `duration`, then
//! gets of those keys for `duration`. ringkv runs once per fsync policy;
//! etcd always fsyncs its log before acknowledging, so the fair comparison
//! is with ringkv's `always`, and the ratio printed is for that pair.
//!
//! Side by side, not one after the other: every cluster is started first
//! and warmed up (a short put and get phase each, not counted); then
//! `rounds` rounds measure each cluster's put and get phases in turn, in
//! ABBA order (the stores in order in even rounds, reversed in odd ones),
//! so drift of the machine during the call hurts every store alike. Each
//! figure is the median over the rounds, with the min and max beside it;
//! the ratio is taken round by round (ringkv `always` over etcd in the same
//! round) and its median and spread printed.
//!
//! The stores are real processes with their data on disk in a temporary
//! directory: `ringkv` built beside faultline, and Debian's `etcd-server`
//! (etcd 3.4) through its v3 JSON gateway. No root is needed.
//!
//! With `--faultfs`, each ringkv policy also runs a second cluster whose
//! data directories are mounted through faultfs (the file system the
//! `power` and `slow` nemeses put under a store), measured in the same
//! rounds: the cost of that layer, as a ratio to the bare directories.
//!
//! [`overhead`] measures faultline itself: what recording a history costs
//! against a bare client on the same ringkv.

pub mod overhead;

use crate::settings::parse_seconds;
use crate::{exit, UsageError};

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Length of each phase (put, get).
    pub duration: Duration,
    /// Concurrent workers.
    pub concurrency: usize,
    /// Bytes per value.
    pub value_size: usize,
    /// Distinct keys.
    pub keys: usize,
    /// ringkv fsync policies to run.
    pub fsync: Vec<String>,
    /// Whether to run etcd too.
    pub etcd: bool,
    /// The ringkv binary.
    pub ringkv_bin: PathBuf,
    /// The faultfs program, when ringkv also runs on faultfs mounts.
    pub faultfs: Option<PathBuf>,
    /// Measured rounds (each store's put and get phases once a round).
    pub rounds: usize,
}

/// One phase's measurements.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Phase {
    /// Completed requests per second.
    pub ops_per_s: f64,
    /// Latency quantiles in milliseconds: p50, p90, p99, max.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest request.
    pub max_ms: f64,
    /// Requests that failed.
    pub errors: u64,
}

/// One store (and policy) measured: the median round's phases, and every
/// round's throughput.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// `ringkv` or `etcd`.
    pub store: String,
    /// The fsync policy.
    pub fsync: String,
    /// Puts: the round with the median throughput.
    pub put: Phase,
    /// Gets: the round with the median throughput.
    pub get: Phase,
    /// Put throughput of each round, in round order.
    pub put_rounds: Vec<f64>,
    /// Get throughput of each round, in round order.
    pub get_rounds: Vec<f64>,
}

/// Latency quantiles of `samples` (microseconds), in milliseconds.
pub fn quantiles(samples: &mut [u64]) -> (f64, f64, f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0, 0.0, 0.0);
    }
    samples.sort_unstable();
    let q = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i] as f64 / 1000.0
    };
    (
        q(0.5),
        q(0.9),
        q(0.99),
        *samples.last().unwrap() as f64 / 1000.0,
    )
}

/// A store the generator can drive.
trait Target: Send + Sync {
    /// Writes `value` under `key` through node `node`.
    fn put(&self, node: usize, key: &str, value: &str) -> reqwest::RequestBuilder;
    /// Reads `key` through node `node`.
    fn get(&self, node: usize, key: &str) -> reqwest::RequestBuilder;
}

struct RingkvTarget {
    http: reqwest::Client,
    addrs: Vec<String>,
}

impl Target for RingkvTarget {
    fn put(&self, node: usize, key: &str, value: &str) -> reqwest::RequestBuilder {
        self.http
            .put(format!("http://{}/kv/{key}", self.addrs[node]))
            .json(&serde_json::json!({ "value": value }))
    }
    fn get(&self, node: usize, key: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("http://{}/kv/{key}", self.addrs[node]))
    }
}

struct EtcdTarget {
    http: reqwest::Client,
    addrs: Vec<String>,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

impl Target for EtcdTarget {
    fn put(&self, node: usize, key: &str, value: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("http://{}/v3/kv/put", self.addrs[node]))
            .json(&serde_json::json!({ "key": b64(key), "value": b64(value) }))
    }
    fn get(&self, node: usize, key: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("http://{}/v3/kv/range", self.addrs[node]))
            .json(&serde_json::json!({ "key": b64(key) }))
    }
}

/// Runs one phase of closed-loop load.
async fn phase(target: Arc<dyn Target>, nodes: usize, cfg: &BenchConfig, put: bool) -> Phase {
    let value: Arc<str> = "v".repeat(cfg.value_size).into();
    let start = Instant::now();
    let end = start + cfg.duration;
    let mut workers = Vec::new();
    for w in 0..cfg.concurrency {
        let (target, value, keys) = (target.clone(), value.clone(), cfg.keys.max(1));
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = w;
            while Instant::now() < end {
                let key = format!("k{}", (i * 7919) % keys);
                i += KEY_STRIDE;
                let req = if put {
                    target.put(w % nodes, &key, &value)
                } else {
                    target.get(w % nodes, &key)
                };
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((lat, e)) = w.await {
            all.extend(lat);
            errors += e;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (p50, p90, p99, max) = quantiles(&mut all);
    Phase {
        ops_per_s: all.len() as f64 / elapsed,
        p50_ms: p50,
        p90_ms: p90,
        p99_ms: p99,
        max_ms: max,
        errors,
    }
}

/// How far a worker's key index moves per request: a prime, so workers
/// sweep the key space without marching in step.
const KEY_STRIDE: usize = 31;

/// Processes of a cluster, killed on drop.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// faultfs daemons and their mounts: stopped cleanly on drop (after the
/// store, which a [`Cluster`] drops first), then unmounted.
struct Mounted(Vec<(Child, PathBuf)>);

impl Drop for Mounted {
    fn drop(&mut self) {
        for (c, mount) in &mut self.0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
            // faultfs unmounts itself on SIGTERM; this is for one killed.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&*mount)
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Mounts faultfs at `mount` over `backing` (both created) and waits until
/// the mount is there.
fn mount_faultfs(bin: &Path, backing: &Path, mount: &Path, into: &mut Mounted) -> Result<()> {
    std::fs::create_dir_all(backing)?;
    std::fs::create_dir_all(mount)?;
    let log = std::fs::File::create(backing.with_extension("faultfs.log"))?;
    let child = Command::new(bin)
        .arg("--backing")
        .arg(backing)
        .arg("--mount")
        .arg(mount)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    into.0.push((child, mount.to_path_buf()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let table = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        if !crate::cluster::faultfs::mounts_under(&table, mount).is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "faultfs did not mount {} (its log: {}; it needs root and /dev/fuse)",
                mount.display(),
                backing.with_extension("faultfs.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_ports(k: usize) -> Result<Vec<u16>> {
    let ls: Vec<std::net::TcpListener> = (0..k)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()?;
    Ok(ls
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<_>>()?)
}

async fn wait_up(http: &reqwest::Client, urls: &[String], what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    for u in urls {
        loop {
            if http
                .get(u)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("{what} did not come up in 20 s ({u})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .pool_max_idle_per_host(256)
        .build()?)
}

/// A three-node ringkv cluster on loopback (N = 3, R = W = 2) with the
/// given fsync policy, its data under `dir` (through faultfs mounts when
/// `faultfs` names the program, pushed to `mounts`); up and answering when
/// this returns. Its processes die with the returned guard.
async fn start_ringkv(
    bin: &Path,
    fsync: &str,
    dir: &Path,
    faultfs: Option<&Path>,
    mounts: &mut Mounted,
) -> Result<(Procs, Vec<String>)> {
    let ports = free_ports(3)?;
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut nodes = String::new();
    for (i, a) in addrs.iter().enumerate() {
        nodes.push_str(&format!("[[nodes]]\nname = \"n{}\"\naddr = {a:?}\n", i + 1));
    }
    let mut procs = Procs(Vec::new());
    for i in 0..3 {
        let data = dir.join(format!("ringkv-{fsync}-n{}", i + 1));
        std::fs::create_dir_all(&data)?;
        if let Some(ffs) = faultfs {
            mount_faultfs(ffs, &data.join("db.backing"), &data.join("db"), mounts)?;
        }
        let config = data.join("ringkv.toml");
        std::fs::write(
            &config,
            format!(
                "node = \"n{}\"\nn = 3\nr = 2\nw = 2\nfsync = {fsync:?}\ndata_dir = {:?}\n{nodes}",
                i + 1,
                data.join("db").display().to_string()
            ),
        )?;
        let log = std::fs::File::create(data.join("ringkv.log"))?;
        procs.0.push(
            Command::new(bin)
                .arg("--config")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?,
        );
    }
    let http = http_client()?;
    let health: Vec<String> = addrs.iter().map(|a| format!("http://{a}/health")).collect();
    wait_up(&http, &health, "ringkv").await?;
    Ok((procs, addrs))
}

/// A running cluster under measurement.
struct Cluster {
    store: &'static str,
    fsync: String,
    target: Arc<dyn Target>,
    _procs: Procs,
    /// Dropped after the store's processes.
    _mounts: Mounted,
    puts: Vec<Phase>,
    gets: Vec<Phase>,
}

async fn start_ringkv_cluster(
    cfg: &BenchConfig,
    fsync: &str,
    dir: &Path,
    faultfs: Option<&Path>,
) -> Result<Cluster> {
    let mut mounts = Mounted(Vec::new());
    let sub = match faultfs {
        Some(_) => format!("ringkv-faultfs-{fsync}"),
        None => format!("ringkv-{fsync}"),
    };
    let (procs, addrs) =
        start_ringkv(&cfg.ringkv_bin, fsync, &dir.join(sub), faultfs, &mut mounts).await?;
    let http = http_client()?;
    Ok(Cluster {
        store: if faultfs.is_some() {
            RINGKV_ON_FAULTFS
        } else {
            "ringkv"
        },
        fsync: fsync.into(),
        target: Arc::new(RingkvTarget { http, addrs }),
        _procs: procs,
        _mounts: mounts,
        puts: Vec::new(),
        gets: Vec::new(),
    })
}

async fn start_etcd_cluster(dir: &Path) -> Result<Cluster> {
    let etcd = crate::cluster::control::os::find_program("etcd").context(
        "etcd is not installed: `apt-get install etcd-server` (Debian), or run with --stores ringkv",
    )?;
    let ports = free_ports(6)?;
    let client: Vec<String> = ports[..3]
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let peer: Vec<String> = ports[3..]
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let cluster = (0..3)
        .map(|i| format!("e{}={}", i + 1, peer[i]))
        .collect::<Vec<_>>()
        .join(",");
    let mut procs = Procs(Vec::new());
    for i in 0..3 {
        let data = dir.join(format!("etcd-e{}", i + 1));
        std::fs::create_dir_all(&data)?;
        let log = std::fs::File::create(dir.join(format!("etcd-e{}.log", i + 1)))?;
        procs.0.push(
            Command::new(&etcd)
                .args(["--name", &format!("e{}", i + 1)])
                .args(["--data-dir", &data.display().to_string()])
                .args(["--listen-client-urls", &client[i]])
                .args(["--advertise-client-urls", &client[i]])
                .args(["--listen-peer-urls", &peer[i]])
                .args(["--initial-advertise-peer-urls", &peer[i]])
                .args(["--initial-cluster", &cluster])
                .args(["--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", "faultline-bench"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting etcd")?,
        );
    }
    let http = http_client()?;
    let health: Vec<String> = client.iter().map(|c| format!("{c}/health")).collect();
    wait_up(&http, &health, "etcd").await?;
    let addrs = client
        .iter()
        .map(|c| c.trim_start_matches("http://").to_string())
        .collect();
    Ok(Cluster {
        store: "etcd",
        fsync: "always".into(),
        target: Arc::new(EtcdTarget { http, addrs }),
        _procs: procs,
        _mounts: Mounted(Vec::new()),
        puts: Vec::new(),
        gets: Vec::new(),
    })
}

/// The phase with the median throughput (the lower middle of an even
/// count), and every phase's throughput in order.
fn median(phases: &[Phase]) -> (Phase, Vec<f64>) {
    let rounds: Vec<f64> = phases.iter().map(|p| p.ops_per_s).collect();
    let mut order: Vec<&Phase> = phases.iter().collect();
    order.sort_by(|a, b| a.ops_per_s.total_cmp(&b.ops_per_s));
    let mid = order
        .get(order.len().saturating_sub(1) / 2)
        .map(|p| (*p).clone())
        .unwrap_or_default();
    (mid, rounds)
}

/// Starts every configured cluster, warms each up, then measures them in
/// ABBA rounds; returns one row per cluster.
pub async fn run(cfg: &BenchConfig) -> Result<Vec<Row>> {
    let dir = tempfile::tempdir().context("creating a scratch directory")?;
    let mut clusters = Vec::new();
    for policy in &cfg.fsync {
        eprintln!("faultline bench: starting ringkv, fsync {policy} ...");
        clusters.push(start_ringkv_cluster(cfg, policy, dir.path(), None).await?);
        if let Some(ffs) = &cfg.faultfs {
            eprintln!("faultline bench: starting ringkv on faultfs, fsync {policy} ...");
            clusters.push(start_ringkv_cluster(cfg, policy, dir.path(), Some(ffs)).await?);
        }
    }
    if cfg.etcd {
        eprintln!("faultline bench: starting etcd 3.4 ...");
        clusters.push(start_etcd_cluster(dir.path()).await?);
    }
    let warm = BenchConfig {
        duration: cfg.duration.min(Duration::from_secs(2)),
        ..cfg.clone()
    };
    eprintln!("faultline bench: warming up ...");
    for c in &clusters {
        phase(c.target.clone(), 3, &warm, true).await;
        phase(c.target.clone(), 3, &warm, false).await;
    }
    for round in 0..cfg.rounds.max(1) {
        eprintln!(
            "faultline bench: round {} of {} ...",
            round + 1,
            cfg.rounds.max(1)
        );
        let mut order: Vec<usize> = (0..clusters.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let c = &mut clusters[i];
            let put = phase(c.target.clone(), 3, cfg, true).await;
            let get = phase(c.target.clone(), 3, cfg, false).await;
            c.puts.push(put);
            c.gets.push(get);
        }
    }
    Ok(clusters
        .into_iter()
        .map(|c| {
            let (put, put_rounds) = median(&c.puts);
            let (get, get_rounds) = median(&c.gets);
            Row {
                store: c.store.into(),
                fsync: c.fsync,
                put,
                get,
                put_rounds,
                get_rounds,
            }
        })
        .collect())
}

/// The store name of ringkv's rows on faultfs mounts.
const RINGKV_ON_FAULTFS: &str = "ringkv+ffs";

/// Median, min and max of round-by-round ratios `a[i] / b[i]`.
fn ratios(a: &[f64], b: &[f64]) -> Option<(f64, f64, f64)> {
    let mut r: Vec<f64> = a
        .iter()
        .zip(b)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| a / b)
        .collect();
    if r.is_empty() {
        return None;
    }
    r.sort_by(f64::total_cmp);
    Some((r[(r.len() - 1) / 2], r[0], r[r.len() - 1]))
}

/// `min-max` of a round's figures.
fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() {
        String::new()
    } else {
        format!("{lo:.0}-{hi:.0}")
    }
}

/// Renders the rows as a table (medians over the rounds, with each
/// throughput's min-max), with the put and get throughput ratios of ringkv
/// (`always`) over etcd, round by round, when both ran.
pub fn table(rows: &[Row], cfg: &BenchConfig) -> String {
    let mut out = format!(
        "3 nodes, N=3 R=W=2 (ringkv) / 3-member Raft (etcd); {} workers, {} B values, {} keys, {:.0} s per phase; medians of {} rounds in ABBA order after a warm-up\n\n",
        cfg.concurrency,
        cfg.value_size,
        cfg.keys,
        cfg.duration.as_secs_f64(),
        cfg.rounds.max(1)
    );
    out.push_str(&format!(
        "{:<10} {:<9} {:>10} {:>13} {:>8} {:>8} {:>7} {:>10} {:>13} {:>8} {:>8} {:>7}\n",
        "store",
        "fsync",
        "put ops/s",
        "(min-max)",
        "p50 ms",
        "p99 ms",
        "errors",
        "get ops/s",
        "(min-max)",
        "p50 ms",
        "p99 ms",
        "errors"
    ));
    for r in rows {
        out.push_str(&format!(
            "{:<10} {:<9} {:>10.0} {:>13} {:>8.2} {:>8.2} {:>7} {:>10.0} {:>13} {:>8.2} {:>8.2} {:>7}\n",
            r.store,
            r.fsync,
            r.put.ops_per_s,
            spread(&r.put_rounds),
            r.put.p50_ms,
            r.put.p99_ms,
            r.put.errors,
            r.get.ops_per_s,
            spread(&r.get_rounds),
            r.get.p50_ms,
            r.get.p99_ms,
            r.get.errors
        ));
    }
    for on in rows.iter().filter(|r| r.store == RINGKV_ON_FAULTFS) {
        let bare = rows
            .iter()
            .find(|r| r.store == "ringkv" && r.fsync == on.fsync);
        if let Some(bare) = bare {
            if let (Some(put), Some(get)) = (
                ratios(&on.put_rounds, &bare.put_rounds),
                ratios(&on.get_rounds, &bare.get_rounds),
            ) {
                out.push_str(&format!(
                    "\nringkv on faultfs / on its bare directories (fsync {}), round by round: put throughput {:.2}x ({:.2}-{:.2}), get throughput {:.2}x ({:.2}-{:.2})\n",
                    on.fsync, put.0, put.1, put.2, get.0, get.1, get.2
                ));
            }
        }
    }
    let ringkv = rows
        .iter()
        .find(|r| r.store == "ringkv" && r.fsync == "always");
    let etcd = rows.iter().find(|r| r.store == "etcd");
    if let (Some(a), Some(e)) = (ringkv, etcd) {
        if let (Some(put), Some(get)) = (
            ratios(&a.put_rounds, &e.put_rounds),
            ratios(&a.get_rounds, &e.get_rounds),
        ) {
            out.push_str(&format!(
                "\nringkv (fsync always) / etcd, round by round: put throughput {:.2}x ({:.2}-{:.2}), get throughput {:.2}x ({:.2}-{:.2})\n",
                put.0, put.1, put.2, get.0, get.1, get.2
            ));
        }
    }
    out
}

/// `faultline bench` flags.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Length of each phase (puts, then gets): seconds, or `10s`.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    pub duration: f64,
    /// Concurrent client workers.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Distinct keys.
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,
    /// Stores to measure: `ringkv`, `etcd`, or both.
    #[arg(long, default_value = "ringkv,etcd")]
    pub stores: String,
    /// ringkv fsync policies to run.
    #[arg(long, default_value = "always,interval,never")]
    pub fsync: String,
    /// Measured rounds, each store's phases once a round, in ABBA order.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Also write the figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The ringkv binary (default: next to faultline).
    #[arg(long)]
    pub ringkv_bin: Option<PathBuf>,
    /// Also run each ringkv policy with its data directories mounted
    /// through faultfs (the file system under the `power` and `slow`
    /// nemeses), in the same rounds, and print its throughput as a ratio to
    /// the bare directories. Needs root and /dev/fuse.
    #[arg(long)]
    pub faultfs: bool,
    /// Measure faultline's own overhead instead: adds through the harness
    /// (history recorded) against a bare client, same ringkv, same
    /// concurrency (`--duration` per phase).
    #[arg(long)]
    pub overhead: bool,
}

/// Runs `faultline bench`.
pub fn main(a: BenchArgs) -> anyhow::Result<i32> {
    if a.overhead {
        let cfg = crate::commands::bench::overhead::OverheadConfig {
            duration: std::time::Duration::from_secs_f64(a.duration.max(0.1)),
            concurrency: a.concurrency as usize,
            rounds: 2,
            ringkv_bin: crate::stores::ringkv::cluster::find_ringkv(a.ringkv_bin.as_deref())?,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let o = rt.block_on(crate::commands::bench::overhead::run(&cfg))?;
        print!("{}", crate::commands::bench::overhead::table(&o));
        if let Some(path) = &a.json {
            std::fs::write(path, serde_json::to_string_pretty(&o)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(exit::VALID);
    }
    let stores: Vec<&str> = a.stores.split(',').map(str::trim).collect();
    if let Some(bad) = stores.iter().find(|s| !["ringkv", "etcd"].contains(s)) {
        return Err(UsageError(format!(
            "--stores: unknown store {bad:?} (known: ringkv, etcd)"
        ))
        .into());
    }
    let fsync: Vec<String> = if stores.contains(&"ringkv") {
        a.fsync.split(',').map(|s| s.trim().to_string()).collect()
    } else {
        Vec::new()
    };
    if let Some(bad) = fsync
        .iter()
        .find(|f| !["always", "interval", "never"].contains(&f.as_str()))
    {
        return Err(UsageError(format!(
            "--fsync: unknown policy {bad:?} (known: always, interval, never)"
        ))
        .into());
    }
    let cfg = crate::commands::bench::BenchConfig {
        duration: std::time::Duration::from_secs_f64(a.duration.max(0.1)),
        concurrency: a.concurrency as usize,
        value_size: a.value_size,
        keys: a.keys.max(1),
        fsync,
        etcd: stores.contains(&"etcd"),
        ringkv_bin: crate::stores::ringkv::cluster::find_ringkv(a.ringkv_bin.as_deref())?,
        rounds: a.rounds as usize,
        faultfs: if a.faultfs {
            Some(crate::cluster::shipped::find(
                "faultfs",
                None,
                "FAULTLINE_FAULTFS_BIN=PATH",
            )?)
        } else {
            None
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let rows = rt.block_on(crate::commands::bench::run(&cfg))?;
    print!("{}", crate::commands::bench::table(&rows, &cfg));
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(exit::VALID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_pick_ranks_and_report_milliseconds() {
        let mut s: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        let (p50, p90, p99, max) = quantiles(&mut s);
        assert_eq!((p50, p90, p99, max), (51.0, 90.0, 99.0, 100.0));
        assert_eq!(quantiles(&mut []), (0.0, 0.0, 0.0, 0.0));
    }

    #[test]
    fn the_table_states_the_ratio_for_the_fair_pair_only_round_by_round() {
        let row = |store: &str, fsync: &str, puts: &[f64]| {
            let phases: Vec<Phase> = puts
                .iter()
                .map(|&p| Phase {
                    ops_per_s: p,
                    ..Default::default()
                })
                .collect();
            let (put, put_rounds) = median(&phases);
            Row {
                store: store.into(),
                fsync: fsync.into(),
                put,
                get: Phase {
                    ops_per_s: 10.0,
                    ..Default::default()
                },
                put_rounds,
                get_rounds: vec![10.0; puts.len()],
            }
        };
        let cfg = BenchConfig {
            duration: Duration::from_secs(1),
            concurrency: 4,
            value_size: 10,
            keys: 10,
            fsync: vec![],
            etcd: true,
            ringkv_bin: PathBuf::new(),
            rounds: 3,
            faultfs: None,
        };
        // Rounds pair up: 300/100, 600/100, 200/200 → 3x, 6x, 1x; the
        // median ratio is 3x (not the ratio of the medians, 300/100).
        let t = table(
            &[
                row("ringkv", "never", &[900.0, 800.0, 1000.0]),
                row("ringkv", "always", &[300.0, 600.0, 200.0]),
                row("etcd", "always", &[100.0, 100.0, 200.0]),
            ],
            &cfg,
        );
        assert!(t.contains("put throughput 3.00x (1.00-6.00)"), "{t}");
        assert!(t.contains("get throughput 1.00x (1.00-1.00)"), "{t}");
        assert!(t.contains("900      800-1000"), "median and spread: {t}");
        let t = table(&[row("ringkv", "never", &[900.0])], &cfg);
        assert!(!t.contains("throughput"), "{t}");
    }

    #[test]
    fn the_median_phase_is_the_lower_middle() {
        let p = |x: f64| Phase {
            ops_per_s: x,
            p50_ms: x / 100.0,
            ..Default::default()
        };
        let (m, rounds) = median(&[p(5.0), p(1.0), p(3.0), p(9.0)]);
        assert_eq!((m.ops_per_s, m.p50_ms), (3.0, 0.03));
        assert_eq!(rounds, [5.0, 1.0, 3.0, 9.0]);
        assert_eq!(median(&[]).0.ops_per_s, 0.0);
    }
}
