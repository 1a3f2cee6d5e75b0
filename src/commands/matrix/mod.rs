//! `faultline test-all --matrix FILE`: many tests, each with the verdict it
//! expects.
//!
//! A matrix file is rows of test configurations (the format of
//! `faultline test --config`, [`crate::settings::config_file`]) over shared defaults:
//!
//! ```toml
//! name = "nightly"            # optional; default: the file's name
//! [defaults]                  # any test configuration key
//! nodes = 5
//! time_limit = "20s"
//!
//! [[row]]
//! name = "set-rmw-lww"        # required: the row's results folder
//! expect = "invalid"          # required: "valid" or "invalid"
//! workload = { name = "set", client = "rmw", keys = 1 }
//! ```
//!
//! A row is its `[defaults]` with the row's keys laid over them (tables
//! merge key by key). Every row is checked before any runs: a bad matrix
//! is a usage error (exit 254) naming the file, the row and the key. Rows
//! then run one after another (one cluster at a time), each a whole
//! `faultline test` run with its own folder, report, `junit.xml` and
//! `summary.md`, and the row's configuration as `config.toml`.
//!
//! A row is *as expected* when its verdict is the one it expects. Unknown
//! is never as expected (it hides whether the anomaly is there), and it
//! never hides invalid: a run's verdict is its worst checker's. A run that
//! fails (the harness, not the store: a node that will not start, a fault
//! that cannot be applied) is an *error*, shown as `error`, never as
//! `invalid`. The matrix's own `summary.md` and `junit.xml` (one test case
//! per row) go to `results/matrix-<timestamp>/`, with `rows.json` (the
//! outcomes, for `faultline merge`), and the exit code is [`exit_code`]'s:
//! 0 every row as expected, 1 some row's verdict differs, 255 some row's
//! run failed or the matrix was interrupted.
//!
//! Rows run in child processes, up to `--jobs` at once ([`jobs`]); a
//! machine can run one shard of the rows (`--shard I/N`, [`shard`]), and
//! `faultline merge` joins the shards' results into one summary
//! ([`merge`]).

pub mod jobs;
pub mod merge;
pub mod shard;
pub mod summary;

pub use summary::{count_line, junit, markdown, table, write_outputs, Saved, SavedRow};

use crate::artifacts::outputs::truncate_chars;
use crate::run::{self as runner};
use crate::settings::config_file::{self as config};
use crate::settings::ConfigSource;
use crate::settings::TestConfig;
use crate::settings::{default_test_args, test_config};
use crate::{exit, UsageError};
use anyhow::{Context, Result};
use checkers::{CheckResult, Validity};
use serde::{Deserialize, Serialize};
use shard::Shard;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The verdict a row expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Every checker finds the history valid: the setting is safe.
    Valid,
    /// Some checker finds an anomaly: the setting is unsafe and the test
    /// must catch it.
    Invalid,
}

impl Expect {
    /// `valid` or `invalid`.
    pub fn word(self) -> &'static str {
        match self {
            Expect::Valid => "valid",
            Expect::Invalid => "invalid",
        }
    }

    fn validity(self) -> Validity {
        match self {
            Expect::Valid => Validity::Valid,
            Expect::Invalid => Validity::Invalid,
        }
    }
}

/// One row of a matrix: a test and the verdict it expects.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The row's name (its test name and results folder).
    pub name: String,
    /// The verdict it expects.
    pub expect: Expect,
    /// The test it runs.
    pub config: TestConfig,
}

/// A matrix file, read and checked.
#[derive(Clone, Debug)]
pub struct Matrix {
    /// Its name (`name = ...`, or the file's name without `.toml`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The file's text (copied beside the matrix's summary).
    pub text: String,
    /// Where the matrix's summary folder goes.
    pub results: PathBuf,
    /// Its rows, in file order (only those `--only` names, if given; only
    /// this shard's, after [`Matrix::shard`]).
    pub rows: Vec<Row>,
    /// The names of every row of the file (after `--only`), in file order:
    /// what the shards together run.
    pub all_rows: Vec<String>,
    /// The shard these rows are, if the matrix was cut.
    pub shard: Option<Shard>,
}

impl Matrix {
    /// Keeps only the rows of `shard` ([`Shard::takes`]).
    pub fn shard(mut self, shard: Shard) -> Matrix {
        let mut k = 0;
        self.rows.retain(|_| {
            k += 1;
            shard.takes(k - 1)
        });
        self.shard = Some(shard);
        self
    }
}

/// What `faultline test-all`'s flags set over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--results`: every row's results directory, and the matrix's.
    pub results: Option<PathBuf>,
    /// `--ringkv-bin`: the ringkv binary of every row.
    pub ringkv_bin: Option<PathBuf>,
    /// `--only`: the rows to run (all when empty).
    pub only: Vec<String>,
}

fn usage(msg: String) -> UsageError {
    UsageError(msg)
}

/// Reads and checks the matrix at `path`.
pub fn load(path: &Path, o: &Overrides) -> Result<Matrix, UsageError> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| usage(format!("--matrix {shown}: {e}")))?;
    parse(&text, path, o)
}

/// Reads a matrix from `text` (the contents of `path`, which names it in
/// errors) and checks every row.
pub fn parse(text: &str, path: &Path, o: &Overrides) -> Result<Matrix, UsageError> {
    use toml::Value;
    let shown = path.display().to_string();
    let mut top = config::parse_table(text, &shown)?;
    let name = match top.remove("name") {
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "matrix".into()),
        Some(Value::String(s)) => s,
        Some(v) => return Err(usage(format!("{shown}: name = {v}: expected a string"))),
    };
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(usage(format!(
            "{shown}: name {name:?} must be a plain folder name"
        )));
    }
    let defaults = match top.remove("defaults") {
        None => toml::Table::new(),
        Some(Value::Table(t)) => t,
        Some(v) => {
            return Err(usage(format!(
                "{shown}: defaults = {v}: expected a table ([defaults])"
            )))
        }
    };
    let rows = match top.remove("row") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        None | Some(Value::Array(_)) => {
            return Err(usage(format!(
                "{shown}: no rows: a matrix needs at least one [[row]] with a name and an expect"
            )))
        }
        Some(v) => {
            return Err(usage(format!(
                "{shown}: row = {v}: expected rows as [[row]] tables"
            )))
        }
    };
    if let Some(k) = top.keys().next() {
        return Err(usage(format!(
            "{shown}: unknown key {k} at the top level (known: name, defaults, row)"
        )));
    }
    for k in ["name", "expect"] {
        if defaults.contains_key(k) {
            return Err(usage(format!(
                "{shown}: [defaults] {k}: each row has its own {k}"
            )));
        }
    }
    let defaults_file = config::from_table(defaults.clone(), &format!("{shown}: [defaults]"))?;
    let mut out: Vec<Row> = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        let Value::Table(mut t) = row else {
            return Err(usage(format!(
                "{shown}: row {}: expected a table ([[row]])",
                i + 1
            )));
        };
        let name = match t.get("name") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => {
                return Err(usage(format!(
                    "{shown}: row {}: name = {v}: expected a string",
                    i + 1
                )))
            }
            None => {
                return Err(usage(format!(
                    "{shown}: row {}: no name (each row needs name = \"…\", its results folder)",
                    i + 1
                )))
            }
        };
        let origin = format!("{shown}: row {name:?}");
        let expect = match t.remove("expect") {
            Some(Value::String(s)) if s == "valid" => Expect::Valid,
            Some(Value::String(s)) if s == "invalid" => Expect::Invalid,
            Some(v) => {
                return Err(usage(format!(
                    "{origin}: expect = {v}: expected \"valid\" or \"invalid\""
                )))
            }
            None => {
                return Err(usage(format!(
                    "{origin}: no expect (expect = \"valid\" or \"invalid\")"
                )))
            }
        };
        if out.iter().any(|r| r.name == name) {
            return Err(usage(format!(
                "{shown}: two rows are named {name:?}; row names must differ (each is a results folder)"
            )));
        }
        let mut merged = defaults.clone();
        config::merge(&mut merged, t);
        let file = config::from_table(merged.clone(), &origin)?;
        let mut a = default_test_args();
        if let Some(r) = &o.results {
            a.results = r.clone();
        }
        if let Some(b) = &o.ringkv_bin {
            a.ringkv_bin = Some(b.clone());
        }
        file.apply(&mut a, &|id| match id {
            "results" => o.results.is_some(),
            "ringkv_bin" => o.ringkv_bin.is_some(),
            _ => false,
        });
        let mut cfg = test_config(a).map_err(|e| usage(format!("{origin}: {}", e.0)))?;
        cfg.checker_options = file.checker_options();
        cfg.config = Some(ConfigSource {
            path: path.to_path_buf(),
            row: Some(name.clone()),
            text: format!(
                "# Row {name:?} of {shown}, with its [defaults] merged in.\n# Run it alone: faultline test --config config.toml\n\n{}",
                toml::to_string(&merged).unwrap_or_default()
            ),
        });
        out.push(Row {
            name,
            expect,
            config: cfg,
        });
    }
    if !o.only.is_empty() {
        for n in &o.only {
            if !out.iter().any(|r| &r.name == n) {
                let names: Vec<&str> = out.iter().map(|r| r.name.as_str()).collect();
                return Err(usage(format!(
                    "--only {n}: no such row in {shown} (rows: {})",
                    names.join(", ")
                )));
            }
        }
        out.retain(|r| o.only.contains(&r.name));
    }
    Ok(Matrix {
        name,
        path: path.to_path_buf(),
        text: text.to_string(),
        results: o
            .results
            .clone()
            .or(defaults_file.results)
            .unwrap_or_else(|| PathBuf::from("results")),
        all_rows: out.iter().map(|r| r.name.clone()).collect(),
        rows: out,
        shard: None,
    })
}

/// How a row's run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Got {
    /// The checkers' verdict (the worst of them).
    Verdict(Validity),
    /// The run failed or was interrupted: the harness's failure, not the
    /// store's, so no verdict.
    Error(String),
    /// Not run: the matrix was interrupted before.
    NotRun,
    /// `faultline merge` found the row in no shard's results, or in more
    /// than one (the text says which).
    NotMerged(String),
}

impl Got {
    /// `valid`, `invalid`, `unknown`, `error` or `not run`.
    pub fn word(&self) -> &'static str {
        match self {
            Got::Verdict(Validity::Valid) => "valid",
            Got::Verdict(Validity::Invalid) => "invalid",
            Got::Verdict(Validity::Unknown) => "unknown",
            Got::Error(_) => "error",
            Got::NotRun => "not run",
            Got::NotMerged(_) => "unmerged",
        }
    }
}

/// One row's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RowOutcome {
    /// The row's name.
    pub name: String,
    /// What it expected.
    pub expect: Expect,
    /// What it got.
    pub got: Got,
    /// The checkers that did not find the history valid.
    pub anomalies: Vec<CheckResult>,
    /// Wall time of the row, setup to report, in seconds.
    pub duration_s: f64,
    /// The run's report, when the run got that far.
    pub report: Option<PathBuf>,
    /// The run's seed.
    pub seed: u64,
    /// The command that reproduces the run.
    pub command: String,
}

impl RowOutcome {
    /// The row got the verdict it expects.
    pub fn as_expected(&self) -> bool {
        self.got == Got::Verdict(self.expect.validity())
    }

    /// The row's run failed (or was not run): no verdict at all.
    pub fn errored(&self) -> bool {
        matches!(self.got, Got::Error(_) | Got::NotRun | Got::NotMerged(_))
    }

    /// One line on what was found: each checker that was not valid with
    /// its summary, or the error's first line; `-` when valid.
    pub fn anomaly_line(&self) -> String {
        match &self.got {
            Got::Error(e) => e.lines().next().unwrap_or_default().to_string(),
            Got::NotRun => "the matrix was interrupted before this row".into(),
            Got::NotMerged(why) => why.clone(),
            Got::Verdict(_) if self.anomalies.is_empty() => "-".into(),
            Got::Verdict(_) => self
                .anomalies
                .iter()
                .map(|c| {
                    if c.valid == Validity::Unknown {
                        format!("{} (unknown): {}", c.checker, c.summary)
                    } else {
                        format!("{}: {}", c.checker, c.summary)
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    /// The line that says why a row is not as expected (none when it is).
    pub fn complaint(&self) -> Option<String> {
        if self.as_expected() {
            return None;
        }
        Some(match &self.got {
            Got::Error(e) => format!(
                "ERROR row {:?}: the run failed (expected {}): {}",
                self.name,
                self.expect.word(),
                e.lines().next().unwrap_or_default()
            ),
            Got::NotRun => format!("ERROR row {:?}: not run (interrupted)", self.name),
            Got::NotMerged(why) => format!("ERROR row {:?}: {why}", self.name),
            Got::Verdict(_) => format!(
                "FAIL row {:?}: expected {}, got {}{}",
                self.name,
                self.expect.word(),
                self.got.word(),
                match self.anomalies.first() {
                    Some(_) => format!(" ({})", truncate_chars(&self.anomaly_line(), 300)),
                    None => String::new(),
                }
            ),
        })
    }
}

/// The matrix's exit code: 255 ([`exit::ERROR`]) when a row's run failed
/// or was not run, else 1 ([`exit::INVALID`]) when a row's verdict differs
/// from what it expects, else 0.
pub fn exit_code(rows: &[RowOutcome]) -> i32 {
    if rows.iter().any(RowOutcome::errored) {
        exit::ERROR
    } else if rows.iter().any(|r| !r.as_expected()) {
        exit::INVALID
    } else {
        exit::VALID
    }
}

/// Runs one row (a whole `faultline test` run, in a runtime of its own so
/// nothing of one run outlives it); the flag is true when the run was
/// interrupted (Ctrl-C, SIGTERM) and the matrix should stop.
pub fn run_row(row: &Row) -> (RowOutcome, bool) {
    let started = Instant::now();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(runner::run(row.config.clone())));
    let mut out = not_run(row);
    let mut stop = false;
    match result {
        Ok(outcome) => {
            let r = &outcome.results;
            // A run cut short, or whose history could not be written whole,
            // has no verdict to compare.
            out.got = if r.interrupted || r.error.is_some() {
                stop = r.interrupted && r.error.is_none();
                Got::Error(r.error.clone().unwrap_or_else(|| {
                    "interrupted (Ctrl-C or SIGTERM): the verdict covers only what was recorded"
                        .into()
                }))
            } else {
                Got::Verdict(r.valid)
            };
            out.anomalies = r
                .checkers
                .iter()
                .filter(|c| c.valid != Validity::Valid)
                .cloned()
                .collect();
            out.report = Some(outcome.dir.file("report.html"));
        }
        Err(e) => out.got = Got::Error(format!("{e:#}")),
    }
    out.duration_s = started.elapsed().as_secs_f64();
    (out, stop)
}

/// A row's outcome before it runs (and if it never does).
fn not_run(row: &Row) -> RowOutcome {
    RowOutcome {
        name: row.name.clone(),
        expect: row.expect,
        got: Got::NotRun,
        anomalies: Vec::new(),
        duration_s: 0.0,
        report: None,
        seed: row.config.seed,
        command: row.config.command.clone(),
    }
}

/// Prints the summary table and writes the matrix folder; returns the
/// exit code ([`exit_code`]).
pub fn finish(m: &Matrix, rows: &[RowOutcome]) -> i32 {
    println!();
    print!("{}", table(&m.name, rows));
    match write_outputs(m, rows) {
        Ok(dir) => {
            println!("summary: {}", dir.join("summary.md").display());
            println!("junit:   {}", dir.join("junit.xml").display());
            exit_code(rows)
        }
        Err(e) => {
            eprintln!("faultline: error: {e:#}");
            exit::ERROR
        }
    }
}

/// `faultline test-all`: reads the matrix (this shard's rows, with
/// `--shard`), runs its rows (`--jobs` at once), prints and writes the
/// summary; returns the exit code ([`exit_code`]).
pub fn main(a: &TestAllArgs) -> Result<i32> {
    let mut m = load(
        &a.matrix,
        &Overrides {
            results: a.results.clone(),
            ringkv_bin: a.ringkv_bin.clone(),
            only: a.only.clone(),
        },
    )?;
    let all = m.rows.len();
    if let Some(s) = a.shard {
        m = m.shard(s);
    }
    let names: Vec<&str> = m.rows.iter().map(|r| r.name.as_str()).collect();
    eprintln!(
        "faultline: matrix {}: {} rows from {}{}, {}",
        m.name,
        m.rows.len(),
        m.path.display(),
        match a.shard {
            Some(s) => format!(
                " (shard {s}: rows {} of {all})",
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ),
            None => String::new(),
        },
        match a.jobs {
            1 => "one after another".to_string(),
            n => format!("up to {n} at once"),
        }
    );
    let exe = std::env::current_exe().context("finding the faultline binary to run rows with")?;
    let rows = jobs::run(&m, a.jobs as usize, &exe)?;
    Ok(finish(&m, &rows))
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

#[cfg(test)]
mod tests;
