//! The command line: `faultline test`, `test-all`, `check`, `heal`,
//! `bench`, `report`, `index`, `serve`.
//!
//! Flag names follow Jepsen's where one exists (`--time-limit`,
//! `--concurrency`, `--nemesis`, ...), because scripts and muscle memory
//! rely on them.

pub mod bench;
pub mod check;
pub mod doctor;
pub mod matrix;
pub mod serve;

use crate::cluster::control::netns::{self, DEFAULT_SUBNET};
use crate::run::{self as runner, TestConfig};
use crate::stores::ringkv::cluster::{Conflict, Replication};
use crate::{exit, UsageError};
use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A Jepsen-style consistency testing harness.
#[derive(Parser, Debug)]
#[command(name = "faultline", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a test: cluster, clients, faults, checks, report.
    Test(Box<TestArgs>),
    /// Run a matrix of tests from a TOML file, each row with the verdict it
    /// expects; exit 0 when every row got it.
    TestAll(TestAllArgs),
    /// Join the results of a matrix's shards (`test-all --shard I/N`) into
    /// one summary, junit.xml and index; exit as test-all would have for
    /// all the rows.
    Merge(MergeArgs),
    /// Run one matrix row: what test-all runs each row as (its job is JSON
    /// on standard input).
    #[command(hide = true)]
    TestRow,
    /// Check stored histories offline (faultline JSONL or Jepsen EDN).
    Check(CheckArgs),
    /// Clean up after runs whose controller died: processes, namespaces,
    /// rules; with --nodes HOSTS, on those SSH nodes instead (faultline's
    /// iptables chains, clock offsets, ringkv processes).
    Heal(HealArgs),
    /// Measure ringkv's put/get throughput and latency beside etcd's.
    Bench(BenchArgs),
    /// Redraw a run's report.html from its stored files (after an upgrade,
    /// or with `--recheck` to run the checkers again).
    Report(ReportArgs),
    /// Regenerate results/index.html: every run, newest first, and a trend
    /// per test.
    Index(IndexArgs),
    /// Serve the results directory over HTTP on 127.0.0.1 (the index at /).
    Serve(ServeArgs),
    /// Check real nodes over SSH before a test: reachable, logged in, root,
    /// tools, disk, ringkv's port, clock. Exit 0 if a test could run, 1 if
    /// not.
    Doctor(crate::commands::doctor::DoctorArgs),
}

/// `faultline heal` flags: none for local runs; the node flags to heal SSH
/// nodes.
#[derive(clap::Args, Debug)]
pub struct HealArgs {
    /// The folder of the run to heal (`results/<test>/<time>`): its
    /// `test.json` says which SSH nodes it ran on and how to log in, so no
    /// node flags are needed (a password, never saved, is still given with
    /// --password).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["nodes", "nodes_file"])]
    pub run: Option<PathBuf>,
    /// SSH nodes to heal (as `faultline test --nodes HOSTS` named them).
    #[command(flatten)]
    pub ssh: crate::cluster::nodes::SshArgs,
    /// Only undo faults: leave ringkv running and its files in place.
    #[arg(long)]
    pub leave_db_running: bool,
}

/// `faultline report` flags.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The run's directory (holding test.json, history.jsonl, results.json).
    pub dir: PathBuf,
    /// Check the history again instead of reading results.json.
    #[arg(long)]
    pub recheck: bool,
}

/// `faultline index` flags.
#[derive(clap::Args, Debug)]
pub struct IndexArgs {
    /// Results directory.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

/// `faultline serve` flags.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Results directory.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one (the URL is printed).
    #[arg(long, default_value_t = crate::commands::serve::DEFAULT_PORT)]
    pub port: u16,
}

/// `faultline test-all` flags.
#[derive(clap::Args, Debug)]
pub struct TestAllArgs {
    /// The matrix: a TOML file of `[[row]]`s, each a test configuration
    /// (as `--config` takes) with a `name` and an `expect = "valid"` or
    /// `"invalid"`, over shared `[defaults]`.
    #[arg(long, value_name = "FILE")]
    pub matrix: PathBuf,
    /// Run only these rows (comma-separated names).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Results directory for every row and the matrix's summary (default:
    /// the `results` of `[defaults]`, or `results`).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// The ringkv binary to run (default: next to faultline).
    #[arg(long)]
    pub ringkv_bin: Option<PathBuf>,
    /// Run up to N rows at once, each a cluster of its own (local rows;
    /// rows on SSH nodes never share a host with another running row).
    /// Summaries are the same as with one at a time, in file order.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
    /// Run only shard I of N (from 1): rows are numbered from 0 in file
    /// order, and row k goes to shard (k mod N) + 1. For spreading a
    /// matrix over CI machines; `faultline merge` joins their results.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::commands::matrix::shard::Shard>,
}

/// `faultline merge` flags.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The shards' results: each a matrix folder (`matrix-<timestamp>`,
    /// holding rows.json) or a results folder holding one.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the merged summary goes, with a copy of every row's run
    /// folder and the index.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

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
    #[arg(long, default_value = "faketime", value_parser = ["faketime", "date"])]
    pub clock_mode: String,
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
    /// acknowledgment), `interval`, `never`, or `off` (memory only).
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
    /// Also write the figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The ringkv binary (default: next to faultline).
    #[arg(long)]
    pub ringkv_bin: Option<PathBuf>,
    /// Measure faultline's own overhead instead: adds through the harness
    /// (history recorded) against a bare client, same ringkv, same
    /// concurrency (`--duration` per phase).
    #[arg(long)]
    pub overhead: bool,
}

/// `faultline check` arguments.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// History files (history.jsonl, or Jepsen history.edn).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The workload that produced them (which checkers to run): set,
    /// register, kv, counter, siblings, or-set, sequence, session; or one
    /// of Knossos's models, checked for linearizability: mutex
    /// (acquire/release), multi-register (txn of [read k v]/[write k v];
    /// registers start as null), queue (enqueue/dequeue, any order),
    /// fifo-queue (enqueue/dequeue, first in first out), linear-set (add,
    /// read of the whole set).
    #[arg(long, default_value = "set")]
    pub workload: String,
    /// Also write the verdicts as JUnit XML (one test suite per file, one
    /// test case per checker) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write a Markdown summary (for a pull-request comment) to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also draw an HTML report per history into DIR (`<file stem>.html`).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// How a register history's outcomes are read: knossos, porcupine or
    /// faultline. Default: the file format's (knossos for Jepsen EDN,
    /// porcupine for Porcupine's files, faultline for JSONL; see README).
    #[arg(long, value_name = "NAME", value_parser = parse_reading)]
    pub reading: Option<checkers::linear::Reading>,
    /// Read every failed cas as evidence that the register did not hold its
    /// old value (for clients that guarantee a failed cas means the compare
    /// failed).
    #[arg(long)]
    pub fail_is_evidence: bool,
    /// The register's value before the first op, a JSON or EDN literal
    /// (`0`, `nil`, `"a"`). Default: nil. Knossos's tests use 0.
    #[arg(long, value_name = "V", value_parser = parse_initial_value)]
    pub initial_value: Option<serde_json::Value>,
}

/// Parses `--reading`.
fn parse_reading(s: &str) -> Result<checkers::linear::Reading, String> {
    use checkers::linear::Reading;
    Reading::named(s).ok_or_else(|| {
        let names: Vec<&str> = Reading::NAMED.iter().map(|(n, _)| *n).collect();
        format!("unknown reading {s:?}; known: {}", names.join(", "))
    })
}

/// Parses `--initial-value`.
fn parse_initial_value(s: &str) -> Result<serde_json::Value, String> {
    checkers::parse::literal(s).map_err(|e| {
        format!(
            "{s:?} is not a JSON or EDN literal ({}); e.g. 0, nil, \"a\"",
            e.message
        )
    })
}

/// Parses `--nemesis-interval`: seconds for every kind, then optional
/// `kind=seconds` overrides.
pub fn parse_intervals(s: &str) -> Result<(f64, BTreeMap<String, f64>), String> {
    let mut default = None;
    let mut per_kind = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) => {
                if !nemeses::KINDS.contains(&k) {
                    return Err(format!(
                        "--nemesis-interval {s:?}: unknown kind {k:?} (known: {})",
                        nemeses::KINDS.join(", ")
                    ));
                }
                per_kind.insert(k.to_string(), parse_seconds(v)?);
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
fn load_schedule(
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

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let clap_error = |e: clap::Error| {
        let code = match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
            _ => exit::BAD_ARGS,
        };
        let _ = e.print();
        code
    };
    // The matches are kept to tell flags given on the command line from
    // defaults, which `--config` files override.
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return clap_error(e),
    };
    crate::run::logging::init();
    let result = match cli.command {
        Command::Test(args) => match matches.subcommand_matches("test") {
            Some(m) => test(*args, m),
            None => unreachable!("clap matched the test subcommand"),
        },
        Command::TestAll(args) => crate::commands::matrix::main(&args),
        Command::Merge(args) => crate::commands::matrix::merge::main(&args),
        Command::TestRow => crate::commands::matrix::jobs::child_main(),
        Command::Check(args) => Ok(crate::commands::check::run(
            &args.paths,
            &args.workload,
            &crate::commands::check::Outputs {
                junit: args.junit,
                markdown: args.markdown,
                report: args.report,
            },
            &crate::commands::check::ReadingFlags {
                reading: args.reading,
                fail_is_evidence: args.fail_is_evidence,
                initial_value: args.initial_value,
            },
        )),
        Command::Heal(args) => match (
            &args.run,
            args.ssh.nodes.is_some() || args.ssh.nodes_file.is_some(),
        ) {
            (Some(dir), _) => crate::cluster::remote::heal_run(dir, &args),
            (None, true) => crate::cluster::remote::heal(&args),
            (None, false) => Ok(heal()),
        },
        Command::Bench(args) => bench(args),
        Command::Report(args) => {
            crate::artifacts::report::redraw(&args.dir, args.recheck).map(|v| {
                println!("report:  {}", args.dir.join("report.html").display());
                v.exit_code()
            })
        }
        Command::Index(args) => index(&args.results),
        Command::Serve(args) => crate::commands::serve::run(&args.results, args.port),
        Command::Doctor(args) => crate::commands::doctor::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("faultline: error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                exit::BAD_ARGS
            } else {
                exit::ERROR
            }
        }
    }
}

fn bench(a: BenchArgs) -> anyhow::Result<i32> {
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

fn index(results: &std::path::Path) -> anyhow::Result<i32> {
    if !results.is_dir() {
        return Err(UsageError(format!(
            "--results {}: no such directory",
            results.display()
        ))
        .into());
    }
    let path = crate::artifacts::index::write(results)?;
    println!("{}", path.display());
    Ok(exit::VALID)
}

/// `faultline heal` for local runs: every dead run's namespaces, processes
/// and clock offsets.
pub fn heal() -> i32 {
    let r = netns::heal_stale();
    if r.slots.is_empty() && r.orphans.is_empty() {
        println!("nothing to heal");
    }
    for s in &r.slots {
        println!("cleaned slot {s}: processes killed, namespaces, links and rules removed");
    }
    for o in &r.orphans {
        println!("removed orphan namespace {o}");
    }
    let mut code = exit::VALID;
    for d in &r.run_dirs {
        match crate::run::nemesis::heal_from_journal(d) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("faultline: error: {e:#}");
                code = exit::ERROR;
            }
        }
    }
    if !r.live.is_empty() {
        println!("left alone: slots {:?} belong to live runs", r.live);
    }
    code
}

/// Turns flags into a test configuration, rejecting what cannot work.
pub fn test_config(a: TestArgs) -> Result<TestConfig, UsageError> {
    let remote = match (&a.nodes, &a.nodes_file) {
        (crate::cluster::nodes::NodesArg::Count(_), None) => None,
        (crate::cluster::nodes::NodesArg::Hosts(h), None) => {
            Some(crate::cluster::nodes::node_list(Some(h), None)?)
        }
        (_, Some(f)) => Some(crate::cluster::nodes::node_list(None, Some(f))?),
    };
    let remote = match remote {
        None => None,
        Some(list) => Some(crate::cluster::nodes::RemoteNodes::from_setup(
            &a.login.resolve(list)?,
            a.leave_db_running,
        )),
    };
    let node_count: u16 = match (&remote, &a.nodes) {
        (Some(r), _) => r.hosts.len() as u16,
        (None, crate::cluster::nodes::NodesArg::Count(n)) => *n,
        (None, _) => unreachable!("a host list is remote"),
    };
    let store = crate::stores::by_name(&a.store)?;
    let client = store.validate(&a.workload, a.client.as_deref())?;
    let nemesis = nemeses::parse_kinds(&a.nemesis).map_err(|e| UsageError(e.to_string()))?;
    if !nemesis.is_empty() && node_count < 2 {
        return Err(UsageError(format!(
            "--nemesis {} needs at least 2 nodes (--nodes {})",
            a.nemesis, a.nodes
        )));
    }
    let n = match a.n {
        Some(n) if n as u16 > node_count => {
            return Err(UsageError(format!(
                "--n {n} must be at most the number of nodes (--nodes {})",
                a.nodes
            )))
        }
        Some(n) => n,
        None => 3.min(node_count as u8),
    };
    if a.r == 0 || a.r > n || a.w == 0 || a.w > n {
        return Err(UsageError(format!(
            "--r {} / --w {} must be between 1 and N={n}",
            a.r, a.w
        )));
    }
    if !(a.rate > 0.0 && a.rate.is_finite()) {
        return Err(UsageError(format!(
            "--rate {} must be a positive number",
            a.rate
        )));
    }
    let (default_interval, per_kind) = parse_intervals(&a.nemesis_interval).map_err(UsageError)?;
    if !(0.0..=1.0).contains(&a.loss_probability) {
        return Err(UsageError(format!(
            "--loss-probability {} must be between 0 and 1",
            a.loss_probability
        )));
    }
    let node_names: Vec<String> = (1..=node_count).map(|i| format!("n{i}")).collect();
    if let Some(spec) = &a.partition {
        nemeses::partition::Partition::explicit(spec, &node_names, a.one_way)
            .map_err(|e| UsageError(format!("--partition: {e}")))?;
    }
    let (nemesis, fixed_schedule) = match &a.nemesis_schedule {
        None => (nemesis, None),
        Some(path) => {
            let events = load_schedule(path, &node_names)?;
            let mut kinds: Vec<String> = Vec::new();
            for e in &events {
                if !kinds.contains(&e.kind) {
                    kinds.push(e.kind.clone());
                }
            }
            (kinds, Some(events))
        }
    };
    let nemesis_options = nemeses::schedule::Options {
        interval_ms: per_kind
            .into_iter()
            .map(|(k, v)| (k, (v * 1000.0) as u64))
            .collect(),
        default_interval_ms: (default_interval * 1000.0) as u64,
        loss_probability: a.loss_probability,
        max_skew_ms: (a.max_skew * 1000.0) as i64,
        partition: a.partition.clone(),
        one_way: a.one_way,
        targets: nemeses::targets::TargetMode::parse(&a.nemesis_targets).ok_or_else(|| {
            UsageError(format!(
                "--nemesis-targets {:?}: expected one of {}",
                a.nemesis_targets,
                nemeses::targets::TargetMode::NAMES
            ))
        })?,
    };
    a.subnet.parse::<netns::Subnet>().map_err(UsageError)?;
    if !crate::stores::ringkv::cluster::FSYNC_POLICIES.contains(&a.fsync.as_str()) {
        return Err(UsageError(format!(
            "--fsync {:?}: expected one of {}",
            a.fsync,
            crate::stores::ringkv::cluster::FSYNC_POLICIES.join(", ")
        )));
    }
    let conflict = Conflict::parse(&a.conflict).ok_or_else(|| {
        UsageError(format!(
            "--conflict {:?}: expected one of {}",
            a.conflict,
            Conflict::NAMES
        ))
    })?;
    if a.workload == "session" && conflict != Conflict::Lww {
        return Err(UsageError(format!(
            "--workload session orders each key's values by the store's last-write-wins timestamps, which --conflict {} does not have: use --conflict lww",
            conflict.name()
        )));
    }
    let seed = a.seed.unwrap_or_else(rand::random);
    let concurrency = a
        .concurrency
        .unwrap_or(crate::settings::concurrency::Concurrency::PerNode(2))
        .workers(node_count as usize)
        .map_err(UsageError)?;
    let name = a.name.unwrap_or_else(|| match (store.name(), conflict) {
        ("ringkv", Conflict::Lww) => format!("{}-{client}", a.workload),
        ("ringkv", c) => format!("{}-{client}-{}", a.workload, c.name()),
        (s, _) => format!("{s}-{}-{client}", a.workload),
    });
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(UsageError(format!(
            "--name {name:?} must be a plain folder name"
        )));
    }
    let mut command = format!(
        "faultline test --workload {} --client {client} --nemesis {} --nemesis-interval {} --time-limit {} --seed {seed} --nodes {} --concurrency {concurrency} --rate {} --keys {} --quiesce {} --r {} --w {} --conflict {}",
        a.workload,
        if nemesis.is_empty() { "none".to_string() } else { nemesis.join(",") },
        a.nemesis_interval.replace(' ', ""),
        a.time_limit,
        match &remote {
            Some(r) => r.hosts.join(","),
            None => node_count.to_string(),
        },
        a.rate,
        a.keys,
        a.quiesce,
        a.r,
        a.w,
        conflict.name()
    );
    if a.store != "ringkv" {
        command.push_str(&format!(" --store '{}'", a.store));
    }
    if a.values != workloads::register::DEFAULT_VALUES {
        command.push_str(&format!(" --values {}", a.values));
    }
    if let Some(n) = a.n {
        command.push_str(&format!(" --n {n}"));
    }
    if nemesis.iter().any(|k| k == "loss") {
        command.push_str(&format!(" --loss-probability {}", a.loss_probability));
    }
    if nemesis.iter().any(|k| k == "clock") {
        command.push_str(&format!(" --max-skew {}", a.max_skew));
    }
    if a.clock_mode == "date" {
        if remote.is_none() {
            return Err(UsageError(
                "--clock-mode date moves the whole host's clock with `date -s`: only for SSH nodes (--nodes HOSTS); local nodes move their clocks through libfaketime".into(),
            ));
        }
        command.push_str(" --clock-mode date");
    }
    if let Some(p) = &a.partition {
        command.push_str(&format!(" --partition '{p}'"));
    }
    if let Some(p) = &a.nemesis_schedule {
        command.push_str(&format!(" --nemesis-schedule '{}'", p.display()));
    }
    if a.one_way {
        command.push_str(" --one-way");
    }
    if !nemesis_options.targets.is_nodes() {
        command.push_str(&format!(
            " --nemesis-targets {}",
            nemesis_options.targets.name()
        ));
    }
    if a.sloppy_quorum {
        command.push_str(" --sloppy-quorum");
    }
    if a.no_read_repair {
        command.push_str(" --no-read-repair");
    }
    command.push_str(&format!(
        " --anti-entropy {} --fsync {}",
        a.anti_entropy, a.fsync
    ));
    if let Some(r) = &remote {
        command.push_str(&format!(
            " --username {} --remote-dir '{}'",
            r.username,
            r.remote_dir.display()
        ));
        if let Some(k) = &r.private_key {
            command.push_str(&format!(" --ssh-private-key '{}'", k.display()));
        }
        match &r.known_hosts {
            Some(f) => command.push_str(&format!(" --known-hosts '{}'", f.display())),
            None => command.push_str(" --no-strict-host-key-checking"),
        }
        if r.leave_db_running {
            command.push_str(" --leave-db-running");
        }
    }
    let cfg = TestConfig {
        store: a.store,
        clock_mode: a.clock_mode,
        name,
        workload: a.workload,
        client,
        nemesis,
        nemesis_options,
        optional_kinds: if a.nemesis.split(',').any(|k| k.trim() == "all") {
            vec!["netem".to_string()]
        } else {
            Vec::new()
        },
        fixed_schedule,
        time_limit_s: a.time_limit,
        seed,
        nodes: node_count as usize,
        remote,
        concurrency,
        rate: a.rate,
        keys: a.keys as usize,
        values: a.values,
        quiesce_s: a.quiesce,
        convergence_timeout_s: a.convergence_timeout,
        op_timeout_ms: a.op_timeout_ms,
        quorums: Replication {
            n,
            r: a.r,
            w: a.w,
            conflict,
            sloppy_quorum: a.sloppy_quorum,
            read_repair: !a.no_read_repair,
            anti_entropy_ms: (a.anti_entropy * 1000.0) as u64,
            fsync: a.fsync.clone(),
        },
        subnet: a.subnet,
        results: a.results,
        ringkv_bin: a.ringkv_bin,
        command,
        checker_options: Default::default(),
        config: None,
        watchdog: crate::run::Watchdog {
            setup_s: a.setup_timeout,
            final_reads_s: a.final_timeout,
        },
        log_json: a.log_json,
    };
    crate::stores::check_test(store.as_ref(), &cfg)?;
    Ok(cfg)
}

/// Turns flags and, with `--config FILE`, the file into a test
/// configuration: a flag given on the command line (as `matches`, the
/// `test` subcommand's, tell) wins over the file, and the file over the
/// flag's default.
pub fn test_config_with(a: TestArgs, matches: &ArgMatches) -> Result<TestConfig, UsageError> {
    let (a, file) = with_config_file(a, matches)?;
    test_config_from(a, file.as_ref())
}

/// The flags with the `--config` file laid under them (a flag given on the
/// command line wins), and the file as loaded.
fn with_config_file(
    a: TestArgs,
    matches: &ArgMatches,
) -> Result<
    (
        TestArgs,
        Option<(PathBuf, crate::settings::config_file::Loaded)>,
    ),
    UsageError,
> {
    let Some(path) = a.config.clone() else {
        return Ok((a, None));
    };
    let loaded = crate::settings::config_file::load(&path)?;
    let mut a = a;
    loaded.file.apply(&mut a, &|id| {
        matches.value_source(id) == Some(ValueSource::CommandLine)
    });
    Ok((a, Some((path, loaded))))
}

/// [`test_config`] of flags that [`with_config_file`] resolved.
fn test_config_from(
    a: TestArgs,
    file: Option<&(PathBuf, crate::settings::config_file::Loaded)>,
) -> Result<TestConfig, UsageError> {
    let Some((path, loaded)) = file else {
        return test_config(a);
    };
    let mut cfg = test_config(a).map_err(|e| {
        UsageError(format!(
            "{} (settings from {} and the command line)",
            e.0,
            path.display()
        ))
    })?;
    cfg.checker_options = loaded.file.checker_options();
    cfg.config = Some(crate::settings::config_file::ConfigSource {
        path: path.clone(),
        row: None,
        text: loaded.text.clone(),
    });
    Ok(cfg)
}

/// The configurations of `--test-count` runs: the same test, run `count`
/// times, the k-th (from 0) with the first's seed plus k.
pub fn test_configs(a: TestArgs, matches: &ArgMatches) -> Result<Vec<TestConfig>, UsageError> {
    let count = a.test_count.max(1);
    let (a, file) = with_config_file(a, matches)?;
    let first = test_config_from(a.clone(), file.as_ref())?;
    let mut out = vec![first];
    for k in 1..count {
        let mut next = a.clone();
        next.seed = Some(out[0].seed.wrapping_add(k as u64));
        out.push(test_config_from(next, file.as_ref())?);
    }
    Ok(out)
}

/// The defaults of `faultline test`'s flags, as `TestArgs`.
pub fn default_test_args() -> TestArgs {
    match Cli::try_parse_from(["faultline", "test"]).map(|c| c.command) {
        Ok(Command::Test(a)) => *a,
        _ => unreachable!("`faultline test` parses"),
    }
}

fn test(args: TestArgs, matches: &ArgMatches) -> anyhow::Result<i32> {
    let keep_going = args.keep_going;
    let cfgs = test_configs(args, matches)?;
    let count = cfgs.len();
    if count == 1 {
        return cfgs
            .into_iter()
            .next()
            .map_or(Ok(exit::ERROR), |c| test_once(c).map(|(code, _)| code));
    }
    let mut codes: Vec<i32> = Vec::new();
    for (k, cfg) in cfgs.into_iter().enumerate() {
        eprintln!("faultline: --test-count: run {} of {count}", k + 1);
        let (code, interrupted) = match test_once(cfg) {
            Ok(c) => c,
            Err(e) if e.downcast_ref::<UsageError>().is_some() => return Err(e),
            Err(e) => {
                eprintln!("faultline: error: {e:#}");
                (exit::ERROR, false)
            }
        };
        codes.push(code);
        // An interrupted run stops the series, --keep-going or not.
        if interrupted || (code != exit::VALID && !keep_going) {
            break;
        }
    }
    println!("{}", test_count_line(&codes, count));
    Ok(worst_exit_code(&codes))
}

/// The worst of several runs' exit codes: error (255), then invalid (1),
/// then unknown (2), then valid (0).
pub fn worst_exit_code(codes: &[i32]) -> i32 {
    let rank = |c: i32| match c {
        exit::VALID => 0,
        exit::UNKNOWN => 1,
        exit::INVALID => 2,
        _ => 3,
    };
    codes
        .iter()
        .copied()
        .max_by_key(|c| rank(*c))
        .unwrap_or(exit::VALID)
}

/// `test-count: 3 of 5 runs: 2 valid, 1 invalid (stopped at the first not valid)`.
pub fn test_count_line(codes: &[i32], count: usize) -> String {
    let n = |c: i32| codes.iter().filter(|x| **x == c).count();
    let errors = codes.len() - n(exit::VALID) - n(exit::INVALID) - n(exit::UNKNOWN);
    let mut line = format!(
        "test-count: {} of {count} runs: {} valid, {} invalid, {} unknown, {errors} error{}",
        codes.len(),
        n(exit::VALID),
        n(exit::INVALID),
        n(exit::UNKNOWN),
        if errors == 1 { "" } else { "s" }
    );
    if codes.len() < count {
        line.push_str(" (stopped early: a run was not valid, or was interrupted)");
    }
    line
}

/// One `faultline test` run: its verdict lines; its exit code, and whether
/// it was interrupted (Ctrl-C, SIGTERM).
fn test_once(cfg: TestConfig) -> anyhow::Result<(i32, bool)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // An adapter's file is named by the store it describes.
    let store = crate::stores::by_name(&cfg.store).map_or(cfg.store.clone(), |s| s.name().into());
    eprintln!(
        "faultline: {} / {} on {} {store} nodes, nemesis {}, {} s, seed {}",
        cfg.workload,
        cfg.client,
        cfg.nodes,
        if cfg.nemesis.is_empty() {
            "none".into()
        } else {
            cfg.nemesis.join(",")
        },
        cfg.time_limit_s,
        cfg.seed
    );
    let outcome = rt.block_on(runner::run(cfg))?;
    let r = &outcome.results;
    for c in &r.checkers {
        let width = r
            .checkers
            .iter()
            .map(|c| c.checker.len())
            .max()
            .unwrap_or(8);
        println!("{:<width$} {:<8} {}", c.checker, c.valid.word(), c.summary);
    }
    println!(
        "verdict: {}{}",
        r.valid.word(),
        if r.interrupted {
            " (interrupted: covers only what was recorded)"
        } else {
            ""
        }
    );
    println!("report:  {}", outcome.dir.file("report.html").display());
    if r.interrupted {
        return Ok((exit::ERROR, r.error.is_none()));
    }
    Ok((r.valid.exit_code(), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> TestArgs {
        let mut v = vec!["faultline", "test"];
        v.extend(extra);
        match Cli::try_parse_from(v).unwrap().command {
            Command::Test(a) => *a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn intervals_take_a_default_and_per_kind_overrides() {
        let (d, k) = parse_intervals("5,kill=10,clock=2.5").unwrap();
        assert_eq!(d, 5.0);
        assert_eq!(k["kill"], 10.0);
        assert_eq!(k["clock"], 2.5);
        let c = test_config(args(&[
            "--nemesis",
            "all",
            "--nemesis-interval",
            "3,kill=9",
        ]))
        .unwrap();
        assert_eq!(c.nemesis, nemeses::KINDS.to_vec());
        assert_eq!(c.nemesis_options.default_interval_ms, 3000);
        assert_eq!(c.nemesis_options.interval_ms["kill"], 9000);
        assert!(c
            .command
            .contains("--nemesis partition,loss,clock,kill,pause"));
    }

    #[test]
    fn a_schedule_file_replaces_the_drawn_timeline_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let kinds = vec!["kill".to_string(), "clock".to_string()];
        let t =
            nemeses::schedule::timeline(4, &kinds, &nodes, &Default::default(), 20_000).unwrap();
        let good = dir.path().join("schedule.json");
        std::fs::write(&good, serde_json::to_string(&t).unwrap()).unwrap();
        let c = test_config(args(&["--nemesis-schedule", good.to_str().unwrap()])).unwrap();
        assert_eq!(c.fixed_schedule.as_ref(), Some(&t));
        let mut expected: Vec<String> = Vec::new();
        for e in &t {
            if !expected.contains(&e.kind) {
                expected.push(e.kind.clone());
            }
        }
        assert_eq!(c.nemesis, expected);
        assert_eq!(expected.len(), 2);
        assert!(c.command.contains("--nemesis-schedule"));
        // Too few nodes for the file's targets.
        let e = test_config(args(&[
            "--nodes",
            "2",
            "--nemesis-schedule",
            good.to_str().unwrap(),
        ]))
        .unwrap_err()
        .0;
        assert!(
            e.contains("schedule.json") && e.contains("not a node"),
            "{e}"
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "[{\"at_ms\": 1}]").unwrap();
        let e = test_config(args(&["--nemesis-schedule", bad.to_str().unwrap()]))
            .unwrap_err()
            .0;
        assert!(e.contains("bad.json") && e.contains("schedule.json"), "{e}");
        let e = test_config(args(&["--nemesis-schedule", "/nonexistent/s.json"]))
            .unwrap_err()
            .0;
        assert!(e.contains("/nonexistent/s.json"), "{e}");
    }

    #[test]
    fn nemesis_targets_primary_needs_a_store_with_a_primary() {
        let redis = |extra: &[&str]| {
            let mut v = vec!["--store", "redis", "--nodes", "3"];
            v.extend(extra);
            test_config(args(&v))
        };
        let c = redis(&[
            "--nemesis",
            "partition,kill",
            "--nemesis-targets",
            "primary",
        ])
        .unwrap();
        assert_eq!(
            c.nemesis_options.targets,
            nemeses::targets::TargetMode::Primary
        );
        assert!(
            c.command.contains(" --nemesis-targets primary"),
            "{}",
            c.command
        );
        assert!(c.command.contains(" --store 'redis'"), "{}", c.command);
        assert_eq!(c.client, "plain");
        // The default draws node sets, and the command line says nothing.
        let c = redis(&[]).unwrap();
        assert!(c.nemesis_options.targets.is_nodes());
        assert!(!c.command.contains("nemesis-targets"));
        // A store without a primary refuses, in one line.
        let e = test_config(args(&["--nemesis-targets", "primary"]))
            .unwrap_err()
            .0;
        assert_eq!(
            e,
            "--nemesis-targets primary: --store ringkv has no primary to aim faults at (stores with one: redis)"
        );
        // So does a schedule file aimed at the primary.
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
        let opts = nemeses::schedule::Options {
            targets: nemeses::targets::TargetMode::Primary,
            ..Default::default()
        };
        let t =
            nemeses::schedule::timeline(4, &["kill".to_string()], &nodes, &opts, 20_000).unwrap();
        let file = dir.path().join("schedule.json");
        std::fs::write(&file, serde_json::to_string(&t).unwrap()).unwrap();
        let f = file.to_str().unwrap();
        let e = test_config(args(&["--nodes", "3", "--nemesis-schedule", f]))
            .unwrap_err()
            .0;
        assert!(e.contains("has no primary"), "{e}");
        let c = redis(&["--nemesis-schedule", f]).unwrap();
        assert_eq!(c.fixed_schedule.unwrap(), t);
        // Nonsense and a cluster too small for three Sentinels.
        let e = redis(&["--nemesis-targets", "leader"]).unwrap_err().0;
        assert!(e.contains("nodes, primary"), "{e}");
        let e = test_config(args(&["--store", "redis", "--nodes", "2"]))
            .unwrap_err()
            .0;
        assert!(e.contains("at least 3 nodes"), "{e}");
    }

    #[test]
    fn durations_accept_bare_seconds_and_units() {
        assert_eq!(parse_seconds("30").unwrap(), 30.0);
        assert_eq!(parse_seconds("30s").unwrap(), 30.0);
        assert_eq!(parse_seconds("2m").unwrap(), 120.0);
        assert_eq!(parse_seconds("1.5").unwrap(), 1.5);
        assert!(parse_seconds("soon").unwrap_err().contains("30s"));
        assert!(parse_seconds("-1").is_err());
    }

    #[test]
    fn defaults_are_the_documented_test() {
        let c = test_config(args(&["--seed", "7"])).unwrap();
        assert_eq!(c.nodes, 5);
        assert_eq!(c.concurrency, 10);
        assert_eq!(c.workload, "set");
        assert_eq!(c.client, "crdt");
        assert_eq!(c.nemesis, vec!["partition"]);
        assert_eq!(c.time_limit_s, 30.0);
        assert_eq!(c.name, "set-crdt");
        assert!(c.command.contains("--seed 7"));
    }

    #[test]
    fn nodes_is_a_count_of_local_nodes_or_a_list_of_ssh_hosts() {
        let c = test_config(args(&["--nodes", "3"])).unwrap();
        assert_eq!((c.nodes, c.remote.is_none()), (3, true));
        assert!(!c.command.contains("--remote-dir"), "{}", c.command);
        let c = test_config(args(&[
            "--nodes",
            "10.0.0.1,db2:2222,[fd00::3]",
            "--no-strict-host-key-checking",
            "--remote-dir",
            "/srv/fl",
            "--leave-db-running",
            "--password",
            "secret",
        ]))
        .unwrap();
        assert_eq!(c.nodes, 3);
        let r = c.remote.as_ref().unwrap();
        assert_eq!(r.hosts, ["10.0.0.1:22", "db2:2222", "[fd00::3]:22"]);
        assert_eq!(r.known_hosts, None);
        assert!(r.leave_db_running);
        assert!(
            c.command
                .contains("--nodes 10.0.0.1:22,db2:2222,[fd00::3]:22")
                && c.command.contains("--remote-dir '/srv/fl'")
                && c.command.contains("--no-strict-host-key-checking")
                && c.command.contains("--leave-db-running"),
            "{}",
            c.command
        );
        // The password never reaches test.json or the command.
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("secret") && !c.command.contains("secret"));
        assert_eq!(r.nodes()[1].name, "n2");
        // A host list needs at least two nodes for faults, as a count does.
        let e = test_config(args(&["--nodes", "a"])).unwrap_err().0;
        assert!(e.contains("at least 2 nodes"), "{e}");
        for bad in ["0", "201", "a;b", "root@a"] {
            assert!(
                Cli::try_parse_from(["faultline", "test", "--nodes", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_flags_are_usage_errors_naming_the_flag() {
        let e = test_config(args(&["--client", "lww"])).unwrap_err().0;
        assert!(e.contains("crdt, rmw"), "{e}");
        let e = test_config(args(&["--nemesis", "meteor"])).unwrap_err().0;
        assert!(e.contains("meteor"), "{e}");
        let e = test_config(args(&["--nodes", "1"])).unwrap_err().0;
        assert!(e.contains("at least 2 nodes"), "{e}");
        let e = test_config(args(&["--workload", "session", "--conflict", "dvv"]))
            .unwrap_err()
            .0;
        assert!(e.contains("--conflict lww"), "{e}");
        let c = test_config(args(&["--workload", "session", "--client", "random"])).unwrap();
        assert_eq!(
            (c.name.as_str(), c.client.as_str()),
            ("session-random", "random")
        );
        let e = test_config(args(&["--workload", "sequence", "--client", "sticky"]))
            .unwrap_err()
            .0;
        assert!(e.contains("no client mode \"sticky\""), "{e}");
        let e = test_config(args(&["--conflict", "lamport"])).unwrap_err().0;
        assert!(e.contains("--conflict") && e.contains("dvv"), "{e}");
        let c = test_config(args(&["--client", "rmw", "--conflict", "dvv"])).unwrap();
        assert_eq!(c.name, "set-rmw-dvv");
        assert_eq!(c.quorums.conflict, Conflict::Dvv);
        assert!(c.command.contains("--conflict dvv"));
        let e = test_config(args(&["--w", "4"])).unwrap_err().0;
        assert!(e.contains("--w"), "{e}");
        let e = test_config(args(&["--subnet", "10.0.0.0/30"]))
            .unwrap_err()
            .0;
        assert!(e.contains("subnet"), "{e}");
        assert!(Cli::try_parse_from(["faultline", "test", "--nodes", "0"]).is_err());
    }

    /// `faultline test ARGS` as the command line gives them, with `file`
    /// (if any) as its `--config`: every repetition's configuration.
    fn configs(file: Option<&str>, extra: &[&str]) -> Result<Vec<TestConfig>, UsageError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        let mut argv = vec!["faultline".to_string(), "test".to_string()];
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
            argv.extend(["--config".to_string(), path.display().to_string()]);
        }
        argv.extend(extra.iter().map(|s| s.to_string()));
        let m = Cli::command().try_get_matches_from(argv).unwrap();
        let sub = m.subcommand_matches("test").unwrap();
        match Cli::from_arg_matches(&m).unwrap().command {
            Command::Test(a) => test_configs(*a, sub),
            _ => unreachable!(),
        }
    }

    #[test]
    fn concurrency_is_a_number_or_a_multiple_of_the_node_count() {
        let c = test_config(args(&["--nodes", "3", "--concurrency", "2n"])).unwrap();
        assert_eq!(c.concurrency, 6);
        assert!(c.command.contains("--concurrency 6 "), "{}", c.command);
        let c = test_config(args(&["--nodes", "4", "--concurrency", "n"])).unwrap();
        assert_eq!(c.concurrency, 4);
        let c = test_config(args(&["--nodes", "4", "--concurrency", "7"])).unwrap();
        assert_eq!(c.concurrency, 7);
        let c = test_config(args(&["--nodes", "4"])).unwrap();
        assert_eq!(c.concurrency, 8, "the default is 2n");
        let e = test_config(args(&["--nodes", "200", "--concurrency", "6n"]))
            .unwrap_err()
            .0;
        assert_eq!(
            e,
            "--concurrency 6n is 1200 workers with 200 nodes; it must be 1 to 1000"
        );
        // Bad text stops at the edge, as clap's one-line error.
        for bad in ["2x", "0", "-3n", "1.5n"] {
            let flag = format!("--concurrency={bad}");
            let e = Cli::try_parse_from(["faultline", "test", &flag])
                .unwrap_err()
                .to_string();
            assert!(e.contains("--concurrency"), "{bad}: {e}");
        }
        // A configuration file takes a number or "Kn"; the flag wins.
        let file = "nodes = 3\nconcurrency = \"3n\"\n";
        assert_eq!(configs(Some(file), &[]).unwrap()[0].concurrency, 9);
        let c = &configs(Some(file), &["--concurrency", "1n"]).unwrap()[0];
        assert_eq!(c.concurrency, 3);
        let file = "nodes = 3\nconcurrency = 5\n";
        assert_eq!(configs(Some(file), &[]).unwrap()[0].concurrency, 5);
        let e = configs(Some("concurrency = \"two\"\n"), &[]).unwrap_err().0;
        assert!(e.contains("concurrency") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn test_count_repeats_the_test_with_the_seeds_that_follow_the_first() {
        let c = configs(None, &["--seed", "41", "--test-count", "3"]).unwrap();
        let seeds: Vec<u64> = c.iter().map(|c| c.seed).collect();
        assert_eq!(seeds, [41, 42, 43]);
        assert!(c[2].command.contains("--seed 43 "), "{}", c[2].command);
        assert!(c
            .iter()
            .all(|c| c.name == c.name.clone() && c.name == "set-crdt"));
        // Without --seed, the first is drawn and the others follow it.
        let c = configs(None, &["--test-count", "2"]).unwrap();
        assert_eq!(c[1].seed, c[0].seed.wrapping_add(1));
        // A seed from a configuration file counts from there.
        let c = configs(Some("seed = 7\n"), &["--test-count", "2"]).unwrap();
        assert_eq!((c[0].seed, c[1].seed), (7, 8));
        assert_eq!(c[1].config.as_ref().unwrap().text, "seed = 7\n");
        assert_eq!(configs(None, &[]).unwrap().len(), 1);
        for bad in [&["--test-count", "0"][..], &["--keep-going"]] {
            let mut argv = vec!["faultline", "test"];
            argv.extend(bad);
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_series_exits_with_its_worst_run_and_says_where_it_stopped() {
        use exit::*;
        assert_eq!(worst_exit_code(&[VALID, VALID]), VALID);
        assert_eq!(worst_exit_code(&[VALID, UNKNOWN, VALID]), UNKNOWN);
        assert_eq!(worst_exit_code(&[UNKNOWN, INVALID]), INVALID);
        assert_eq!(worst_exit_code(&[INVALID, ERROR, UNKNOWN]), ERROR);
        assert_eq!(
            test_count_line(&[VALID, INVALID], 5),
            "test-count: 2 of 5 runs: 1 valid, 1 invalid, 0 unknown, 0 errors (stopped early: a run was not valid, or was interrupted)"
        );
        assert_eq!(
            test_count_line(&[VALID, ERROR, VALID], 3),
            "test-count: 3 of 3 runs: 2 valid, 0 invalid, 0 unknown, 1 error"
        );
    }
}
