//! `faultline test`'s flags, as clap parses them: the low-level arguments
//! (ripgrep's `lowargs`). [`super::resolve`] turns them, with a `--config`
//! file laid under them, into a [`super::TestConfig`]; the value parsers
//! here (durations, intervals, schedules) are shared with the configuration
//! file, so a value means the same wherever it is written.

use crate::cluster::control::netns::DEFAULT_SUBNET;
use crate::UsageError;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `faultline test` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct TestArgs {
    /// Read the test's settings from a TOML file (see examples/test.toml);
    /// flags given on the command line override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The store to test: ringkv (the reference store, every workload),
    /// etcd (register), redis (set, with Sentinel failover), or the path
    /// of an adapter's .toml file (any store; docs/adapters.md).
    #[arg(long, default_value = "ringkv")]
    pub store: String,
    /// Workload to run: set, register, counter, siblings, or-set,
    /// sequence (inserts and deletes in shared lists: list-CRDT semantics,
    /// convergence) or session (register reads and writes through one
    /// coordinator or random ones: session guarantees, staleness).
    #[arg(long, default_value = "set")]
    pub workload: String,
    /// Client mode of the workload, the first being the default: set
    /// crdt|rmw, register cas|quorum, counter crdt|rmw, siblings
    /// context|blind, or-set crdt, sequence crdt, session sticky|random
    /// (each process's requests go to its own node, or to a random node
    /// per op).
    #[arg(long)]
    pub client: Option<String>,
    /// A parameter of a store described for an adapter, `KEY=VALUE`
    /// (repeatable): overrides the default its description's `[params]`
    /// gives, in every template (`--store-param consistency_mode=dangerous`).
    #[arg(long = "store-param", value_name = "KEY=VALUE")]
    pub store_param: Vec<String>,
    /// Faults to inject, comma-separated: partition, loss, clock, kill,
    /// pause, membership, netem; `all` for every kind this machine can
    /// inject; `none` for none.
    #[arg(long, default_value = "partition")]
    pub nemesis: String,
    /// Seconds each fault lasts, and the calm between faults of that kind:
    /// `5`, or per kind, `5,kill=10,clock=3`.
    #[arg(long, default_value = "5")]
    pub nemesis_interval: String,
    /// Replay a fault timeline from a file (a previous run's
    /// `schedule.json`, or one written by hand) instead of drawing one; the
    /// kinds in the file replace `--nemesis`.
    #[arg(long, value_name = "FILE")]
    pub nemesis_schedule: Option<PathBuf>,
    /// A fixed partition instead of random shapes, e.g. `n1,n2|n3,n4,n5`.
    #[arg(long)]
    pub partition: Option<String>,
    /// Make partitions one-way: only the first component drops traffic.
    #[arg(long)]
    pub one_way: bool,
    /// Which nodes faults hit: `nodes` (node sets drawn from the seed: one,
    /// a minority, a majority, all, and the partition shapes) or `primary`
    /// (the store's current primary, found when each fault starts: a
    /// partition isolates it from every other node, the other kinds hit
    /// it alone; stores with a primary only: redis).
    #[arg(long, default_value = "nodes")]
    pub nemesis_targets: String,
    /// Share of packets dropped by the `loss` nemesis (0 to 1).
    #[arg(long, default_value_t = 0.2)]
    pub loss_probability: f64,
    /// Largest clock offset of the `clock` nemesis: `5s`, `500ms`, `2m`.
    #[arg(long, default_value = "5s", value_parser = parse_seconds)]
    pub max_skew: f64,
    /// How the `clock` nemesis moves clocks: `faketime` (each store
    /// process under libfaketime, an offset file per node; the default) or
    /// `date` (`date -s` on SSH nodes: the whole host's clock, for stores
    /// libfaketime cannot reach, such as Go binaries).
    #[arg(long, value_enum, default_value_t = super::ClockMode::Faketime)]
    pub clock_mode: super::ClockMode,
    /// Length of the main phase: a number of seconds, or `30s`, `2m`.
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    pub time_limit: f64,
    /// Seed for the generated ops and the fault schedule (random if absent).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The nodes: a number is how many local nodes to run (network
    /// namespaces on this machine, as root); a comma-separated list of
    /// `host` or `host:port` (IPv6: `[addr]:port`) runs the test on those
    /// machines over SSH instead (see --username, --ssh-private-key,
    /// --remote-dir, and README "Running on your own VMs").
    #[arg(long, default_value = "5", value_name = "N|HOSTS")]
    pub nodes: crate::cluster::nodes::NodesArg,
    /// A file naming the SSH nodes, one `host[:port]` a line, instead of a
    /// list in --nodes.
    #[arg(long, value_name = "FILE")]
    pub nodes_file: Option<PathBuf>,
    /// SSH nodes only: leave ringkv running and its files on the nodes
    /// after the test (default: stop it, fetch its log, delete its
    /// directory).
    #[arg(long)]
    pub leave_db_running: bool,
    /// How to log in to SSH nodes (ignored for local nodes).
    #[command(flatten)]
    pub login: crate::cluster::nodes::LoginArgs,
    /// Concurrent client workers: a number (`10`), or, as Jepsen writes
    /// it, a multiple of the node count (`2n`: two per node; the default).
    #[arg(long, value_name = "N|Kn")]
    pub concurrency: Option<crate::settings::concurrency::Concurrency>,
    /// Target operations per second, all workers together.
    #[arg(long, default_value = "100")]
    pub rate: f64,
    /// Keys the set is spread over, or the number of registers or lists.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub keys: u16,
    /// The register workload writes and compares values drawn from
    /// `0..N`. Small ranges (the default, as Jepsen's `rand-int 5`) make
    /// reads, writes and compares collide; a large one makes each read name
    /// the write it saw, so a stale read cannot hide behind a pending write
    /// of the same value.
    #[arg(long, value_name = "N", default_value_t = workloads::register::DEFAULT_VALUES, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    pub values: u64,
    /// Longest wait between healing and the final reads: seconds, or `5s`.
    /// Every key's replicas are read meanwhile, rounds 25 ms apart, and the
    /// final reads start as soon as they agree.
    #[arg(long, default_value = "5", value_parser = parse_seconds)]
    pub quiesce: f64,
    /// After the final reads, how long replicas may take to agree before
    /// the convergence checker judges them: seconds, or `30s`.
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    pub convergence_timeout: f64,
    /// Client request timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub op_timeout_ms: u64,
    /// How long the store may take to start and become ready before the
    /// watchdog cuts the run (with a report): seconds, or `5m`.
    #[arg(long, default_value = "300", value_parser = parse_seconds)]
    pub setup_timeout: f64,
    /// How long every node's final reads may take together before the
    /// watchdog cuts the run (with a report): seconds, or `2m`.
    #[arg(long, default_value = "120", value_parser = parse_seconds)]
    pub final_timeout: f64,
    /// Write the run's `faultline.log` as JSON lines (one tracing event a
    /// line) instead of text.
    #[arg(long)]
    pub log_json: bool,
    /// How the store resolves concurrent writes to a register: `lww`,
    /// `vclock`, `dvv`, or `node-vclock` (Riak's sibling explosion).
    #[arg(long, default_value = "lww")]
    pub conflict: String,
    /// Let the store replace unreachable replicas by fallbacks (sloppy
    /// quorum with hinted handoff) instead of failing the request.
    #[arg(long)]
    pub sloppy_quorum: bool,
    /// Turn the store's read repair off.
    #[arg(long)]
    pub no_read_repair: bool,
    /// The store's anti-entropy interval: seconds, or `0` for off.
    #[arg(long, default_value = "2", value_parser = parse_seconds)]
    pub anti_entropy: f64,
    /// Durability of the store: `always` (fsync before every
    /// acknowledgment), `interval`, `never`, or `off` (memory only). For
    /// Redis: `appendfsync always`, `everysec` or `no`.
    #[arg(long, default_value = "always")]
    pub fsync: String,
    /// Replicas per key (N) of the store (default: 3, or the number of
    /// nodes when fewer).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=200))]
    pub n: Option<u8>,
    /// Read quorum of the store.
    #[arg(long, default_value_t = 2)]
    pub r: u8,
    /// Write quorum of the store.
    #[arg(long, default_value_t = 2)]
    pub w: u8,
    /// Subnet node addresses come from (a /24 per cluster).
    #[arg(long, default_value = DEFAULT_SUBNET)]
    pub subnet: String,
    /// Results directory.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Test name (results folder); default `<workload>-<client>`.
    #[arg(long)]
    pub name: Option<String>,
    /// The ringkv binary to run (default: next to faultline).
    #[arg(long)]
    pub ringkv_bin: Option<PathBuf>,
    /// Run the test this many times, as Jepsen's `--test-count`: each run
    /// has its own folder and seed (the first run's seed plus its number
    /// less one, so `--seed S` replays the whole series); stops at the
    /// first run that is not valid unless --keep-going. Exit code: the
    /// worst run's (error, then invalid, then unknown).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub test_count: u32,
    /// With --test-count: run every repetition even after one is not valid.
    #[arg(long, requires = "test_count")]
    pub keep_going: bool,
}

/// Parses `--nemesis-interval`: seconds for every kind, then optional
/// `kind=seconds` overrides.
pub fn parse_intervals(s: &str) -> Result<(f64, BTreeMap<nemeses::Kind, f64>), String> {
    let mut default = None;
    let mut per_kind = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) => {
                let Some(kind) = nemeses::Kind::parse(k) else {
                    return Err(format!(
                        "--nemesis-interval {s:?}: unknown kind {k:?} (known: {})",
                        nemeses::KINDS.join(", ")
                    ));
                };
                per_kind.insert(kind, parse_seconds(v)?);
            }
            None => default = Some(parse_seconds(part)?),
        }
    }
    let default = default.unwrap_or(5.0);
    if default < 0.5 || per_kind.values().any(|v| *v < 0.5) {
        return Err(format!(
            "--nemesis-interval {s:?}: every interval must be at least 0.5 s"
        ));
    }
    Ok((default, per_kind))
}

/// Reads and checks a `--nemesis-schedule` file against the cluster.
pub(crate) fn load_schedule(
    path: &std::path::Path,
    nodes: &[String],
) -> Result<Vec<nemeses::schedule::Event>, UsageError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("--nemesis-schedule {shown}: {e}")))?;
    let events: Vec<nemeses::schedule::Event> = serde_json::from_str(&text).map_err(|e| {
        UsageError(format!(
            "--nemesis-schedule {shown}: {e}; expected a JSON list of events like a run's schedule.json"
        ))
    })?;
    nemeses::schedule::validate(&events, nodes)
        .map_err(|e| UsageError(format!("--nemesis-schedule {shown}: {e}")))?;
    Ok(events)
}

/// Parses `30`, `30s`, `2m`, `1m30s`, `1.5` into seconds.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.parse::<f64>() {
        Ok(v) => v,
        Err(_) => humantime::parse_duration(t)
            .map_err(|_| format!("{s:?} is not a duration: use seconds (30) or a unit (30s, 2m)"))?
            .as_secs_f64(),
    };
    if !v.is_finite() || !(0.0..=7.0 * 86400.0).contains(&v) {
        return Err(format!("{s:?} is out of range (0 to 7 days)"));
    }
    Ok(v)
}
