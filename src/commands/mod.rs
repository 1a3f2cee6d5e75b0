//! The command line: `faultline test`, `test-all`, `check`, `heal`,
//! `bench`, `report`, `index`, `serve`.
//!
//! Flag names follow Jepsen's where one exists (`--time-limit`,
//! `--concurrency`, `--nemesis`, ...), because scripts and muscle memory
//! rely on them.

pub mod bench;
pub mod check;
pub mod doctor;
pub mod heal;
pub mod matrix;
pub mod serve;

use crate::run::{self as runner};
use crate::settings::{parse_seconds, test_configs, TestArgs, TestConfig};
use crate::{exit, UsageError};
use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
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
    Heal(heal::HealArgs),
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
        Command::Heal(args) => heal::main(&args),
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
