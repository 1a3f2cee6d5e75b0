//! The command line: `faultline test`, `test-all`, `conformance`, `check`, `generate`, `heal`,
//! `bench`, `report`, `index`, `serve`.
//!
//! Flag names follow Jepsen's where one exists (`--time-limit`,
//! `--concurrency`, `--nemesis`, ...), because scripts and muscle memory
//! rely on them.

pub mod bench;
pub mod check;
pub mod conformance;
pub mod doctor;
pub mod generate;
pub mod heal;
pub mod index;
pub mod matrix;
pub mod report;
pub mod serve;
pub mod test;

use crate::settings::TestArgs;
use crate::{exit, UsageError};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
    TestAll(matrix::TestAllArgs),
    /// Join the results of a matrix's shards (`test-all --shard I/N`) into
    /// one summary, junit.xml and index; exit as test-all would have for
    /// all the rows.
    Merge(matrix::merge::MergeArgs),
    /// Run one matrix row: what test-all runs each row as (its job is JSON
    /// on standard input).
    #[command(hide = true)]
    TestRow,
    /// Try an adapter against its store before a first test: start a small
    /// cluster from its description, drive every op kind it declares once,
    /// check every reply; exit 0 when all conform, 1 when one does not.
    Conformance(conformance::ConformanceArgs),
    /// Check stored histories offline (faultline JSONL or Jepsen EDN).
    Check(check::CheckArgs),
    /// Write a synthetic history of known verdict and any size (set,
    /// counter, register), for measuring the checkers.
    Generate(generate::GenerateArgs),
    /// Clean up after runs whose controller died: processes, namespaces,
    /// rules; with --nodes HOSTS, on those SSH nodes instead (faultline's
    /// iptables chains, clock offsets, ringkv processes).
    Heal(heal::HealArgs),
    /// Measure ringkv's put/get throughput and latency beside etcd's.
    Bench(bench::BenchArgs),
    /// Redraw a run's report.html from its stored files (after an upgrade,
    /// or with `--recheck` to run the checkers again).
    Report(report::ReportArgs),
    /// Regenerate results/index.html: every run, newest first, and a trend
    /// per test.
    Index(index::IndexArgs),
    /// Serve the results directory over HTTP on 127.0.0.1 (the index at /).
    Serve(serve::ServeArgs),
    /// Check real nodes over SSH before a test: reachable, logged in, root,
    /// tools, disk, ringkv's port, clock. Exit 0 if a test could run, 1 if
    /// not.
    Doctor(doctor::DoctorArgs),
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
            Some(m) => test::main(*args, m),
            None => unreachable!("clap matched the test subcommand"),
        },
        Command::TestAll(args) => matrix::main(&args),
        Command::Merge(args) => matrix::merge::main(&args),
        Command::TestRow => matrix::jobs::child_main(),
        Command::Check(args) => Ok(check::main(args)),
        Command::Conformance(args) => conformance::main(args),
        Command::Generate(args) => generate::main(args),
        Command::Heal(args) => heal::main(&args),
        Command::Bench(args) => bench::main(args),
        Command::Report(args) => report::main(&args),
        Command::Index(args) => index::main(&args),
        Command::Serve(args) => serve::main(&args),
        Command::Doctor(args) => doctor::run(&args),
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
