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

use crate::artifacts::outputs::markdown::escape;
use crate::artifacts::outputs::{anomaly_text, truncate_chars};
use crate::run::{self as runner};
use crate::settings::config_file::{self as config};
use crate::settings::ConfigSource;
use crate::settings::TestConfig;
use crate::settings::{default_test_args, test_config};
use crate::{exit, UsageError};
use anyhow::{Context, Result};
use checkers::{CheckResult, Validity};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};
use shard::Shard;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

fn seconds(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let s = s.round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// The summary as a plain-text table (row, expected, got, anomalies,
/// duration, report), then one line per row not as expected, then the
/// count.
pub fn table(name: &str, rows: &[RowOutcome]) -> String {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.expect.word().to_string(),
                r.got.word().to_string(),
                truncate_chars(&r.anomaly_line().replace(['\n', '\r'], " "), 72),
                seconds(r.duration_s),
                r.report
                    .as_ref()
                    .map_or("-".into(), |p| p.display().to_string()),
            ]
        })
        .collect();
    let head = ["row", "expected", "got", "anomalies", "duration", "report"];
    let mut width = head.map(|h| h.chars().count());
    for c in &cells {
        for (w, cell) in width.iter_mut().zip(c) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |c: &[String; 6]| {
        let mut s = String::new();
        for (i, cell) in c.iter().enumerate() {
            if i + 1 == c.len() {
                s.push_str(cell);
            } else {
                let pad = width[i] - cell.chars().count();
                let _ = write!(s, "{cell}{}  ", " ".repeat(pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&head.map(String::from));
    for c in &cells {
        out.push_str(&line(c));
    }
    out.push('\n');
    for r in rows {
        if let Some(c) = r.complaint() {
            out.push_str(&c);
            out.push('\n');
        }
    }
    out.push_str(&count_line(name, rows));
    out.push('\n');
    out
}

/// `matrix NAME: 11 of 12 rows as expected, 1 differs, 0 errors (9 min 41 s)`.
pub fn count_line(name: &str, rows: &[RowOutcome]) -> String {
    let ok = rows.iter().filter(|r| r.as_expected()).count();
    let errors = rows.iter().filter(|r| r.errored()).count();
    let differ = rows.len() - ok - errors;
    let total: f64 = rows.iter().map(|r| r.duration_s).sum();
    format!(
        "matrix {name}: {ok} of {} rows as expected, {differ} differ{}, {errors} error{} ({})",
        rows.len(),
        if differ == 1 { "s" } else { "" },
        if errors == 1 { "" } else { "s" },
        seconds(total)
    )
}

/// A link from the matrix folder `from` to `to` (both under the same
/// results root when relative), as a relative path where possible.
fn relative_link(from: &Path, to: &Path) -> String {
    match from.parent().map(|root| to.strip_prefix(root)) {
        Some(Ok(rel)) => format!("../{}", rel.display()),
        _ => to.display().to_string(),
    }
}

fn md_link_target(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' | '(' | ')' | '<' | '>' | '"' | '\\' | '`' => format!("%{:02X}", c as u32),
            c if c.is_control() => String::new(),
            c => c.to_string(),
        })
        .collect()
}

/// The summary as Markdown (for a job summary or a pull-request comment):
/// a heading with the count, the table with reports linked relative to
/// `dir` (the matrix's folder), and a line per row not as expected. Values
/// from the store are escaped.
pub fn markdown(name: &str, rows: &[RowOutcome], dir: &Path) -> String {
    let ok = rows.iter().filter(|r| r.as_expected()).count();
    let badge = match exit_code(rows) {
        exit::VALID => "✅",
        exit::INVALID => "❌",
        _ => "💥",
    };
    let mut md = format!(
        "### {badge} faultline matrix {}: {ok} of {} rows as expected\n\n",
        escape(name),
        rows.len()
    );
    md.push_str(
        "| row | expected | got | anomalies | duration | report |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let mark = if r.as_expected() {
            "✅"
        } else if r.errored() {
            "💥"
        } else if r.got == Got::Verdict(Validity::Unknown) {
            "⚠️"
        } else {
            "❌"
        };
        let _ = writeln!(
            md,
            "| {} | {} | {mark} {} | {} | {} | {} |",
            escape(&r.name),
            r.expect.word(),
            r.got.word(),
            escape(&truncate_chars(&r.anomaly_line(), 200)),
            seconds(r.duration_s),
            match &r.report {
                Some(p) => format!("[report]({})", md_link_target(&relative_link(dir, p))),
                None => "-".into(),
            }
        );
    }
    let complaints: Vec<String> = rows.iter().filter_map(RowOutcome::complaint).collect();
    if !complaints.is_empty() {
        md.push('\n');
        for c in complaints {
            let _ = writeln!(md, "- {}", escape(&c));
        }
    }
    let _ = writeln!(md, "\n{}", escape(&count_line(name, rows)));
    md
}

/// The matrix as JUnit: one suite `faultline.matrix.<name>`, one test case
/// per row. A row as expected passes (an unsafe row that was caught too);
/// a row whose verdict differs is a `failure` (type `unexpected-verdict`,
/// or `unknown`) with what the checkers found; a row whose run failed is
/// an `error`; a row not run is skipped.
pub fn junit(name: &str, rows: &[RowOutcome]) -> Report {
    let mut suite = TestSuite::new(format!("faultline.matrix.{name}"));
    let classname = format!("faultline.matrix.{name}");
    for r in rows {
        let status = if r.as_expected() {
            TestCaseStatus::success()
        } else {
            match &r.got {
                Got::Error(e) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_type("error")
                        .set_message(truncate_chars(e.lines().next().unwrap_or_default(), 1000))
                        .set_description(e.clone());
                    s
                }
                Got::NotRun => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message("not run: the matrix was interrupted before this row");
                    s
                }
                Got::NotMerged(why) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_type("merge").set_message(why.clone());
                    s
                }
                Got::Verdict(v) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_type(if *v == Validity::Unknown {
                        "unknown"
                    } else {
                        "unexpected-verdict"
                    })
                    .set_message(truncate_chars(
                        &format!(
                            "expected {}, got {}: {}",
                            r.expect.word(),
                            r.got.word(),
                            r.anomaly_line()
                        ),
                        1000,
                    ));
                    let mut text = String::new();
                    for c in &r.anomalies {
                        let _ = writeln!(text, "{} {}: {}", c.checker, c.valid.word(), c.summary);
                        let a = anomaly_text(&c.details, 2048);
                        if !a.is_empty() {
                            let _ = writeln!(text, "{a}");
                        }
                    }
                    if text.is_empty() {
                        text = format!(
                            "every checker found the history valid; the row expects {}",
                            r.expect.word()
                        );
                    }
                    s.set_description(text);
                    s
                }
            }
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_classname(classname.clone())
            .set_time(Duration::from_secs_f64(r.duration_s.max(0.0)));
        if r.as_expected() && !r.anomalies.is_empty() {
            // What an unsafe row was caught with, for the CI's test page.
            case.set_system_out(format!("caught as expected: {}", r.anomaly_line()));
        }
        let mut props = vec![
            Property::new("expected", r.expect.word()),
            Property::new("got", r.got.word()),
            Property::new("seed", r.seed.to_string()),
            Property::new("command", r.command.clone()),
        ];
        if let Some(p) = &r.report {
            props.push(Property::new("report", p.display().to_string()));
        }
        case.add_properties(props);
        suite.add_test_case(case);
    }
    suite.set_time(Duration::from_secs_f64(
        rows.iter().map(|r| r.duration_s.max(0.0)).sum(),
    ));
    let mut report = Report::new("faultline");
    report.add_test_suite(suite);
    report
}

/// `rows.json` in a matrix folder: the outcomes, for `faultline merge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    /// The matrix's name.
    pub matrix: String,
    /// The shard these outcomes are, if the matrix was cut.
    pub shard: Option<Shard>,
    /// Every row of the matrix (after `--only`), in file order: what the
    /// shards together run.
    pub rows: Vec<String>,
    /// This run's rows' outcomes, in file order.
    pub outcomes: Vec<SavedRow>,
}

/// One row's outcome as saved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedRow {
    /// The outcome (its `report` as this machine saw it).
    #[serde(flatten)]
    pub outcome: RowOutcome,
    /// The row's run folder relative to the results folder
    /// (`<test>/<timestamp>`), to find it once the folder is moved.
    pub run: Option<PathBuf>,
}

/// Writes `summary.md`, `junit.xml`, `rows.json` ([`Saved`]) and a copy of
/// the matrix file (`matrix.toml`) into a new
/// `<results>/matrix-<timestamp>/`; returns that folder.
pub fn write_outputs(m: &Matrix, rows: &[RowOutcome]) -> Result<PathBuf> {
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f");
    std::fs::create_dir_all(&m.results)
        .with_context(|| format!("creating {}", m.results.display()))?;
    let dir = crate::artifacts::results::create_unique(&m.results, &format!("matrix-{stamp}"))?;
    let md = dir.join("summary.md");
    std::fs::write(&md, markdown(&m.name, rows, &dir))
        .with_context(|| format!("writing {}", md.display()))?;
    let xml = junit(&m.name, rows)
        .to_string()
        .context("serializing the matrix's JUnit report")?;
    let junit_path = dir.join("junit.xml");
    std::fs::write(&junit_path, xml)
        .with_context(|| format!("writing {}", junit_path.display()))?;
    let saved = Saved {
        matrix: m.name.clone(),
        shard: m.shard,
        rows: m.all_rows.clone(),
        outcomes: rows
            .iter()
            .map(|o| SavedRow {
                run: o
                    .report
                    .as_ref()
                    .and_then(|r| r.parent())
                    .and_then(|d| d.strip_prefix(&m.results).ok())
                    .map(Path::to_path_buf),
                outcome: o.clone(),
            })
            .collect(),
    };
    let json = dir.join("rows.json");
    std::fs::write(&json, serde_json::to_string_pretty(&saved)? + "\n")
        .with_context(|| format!("writing {}", json.display()))?;
    let copy = dir.join("matrix.toml");
    std::fs::write(&copy, &m.text).with_context(|| format!("writing {}", copy.display()))?;
    Ok(dir)
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
mod tests {
    use super::*;
    use crate::settings::Conflict;
    use serde_json::json;

    fn parse_text(text: &str) -> Result<Matrix, String> {
        parse(text, Path::new("m.toml"), &Overrides::default()).map_err(|e| {
            assert!(!e.0.contains('\n'), "one line: {}", e.0);
            e.0
        })
    }

    const TWO: &str = r#"
        [defaults]
        nodes = 3
        time_limit = 4
        [defaults.store]
        r = 1
        [defaults.nemesis]
        faults = ["partition"]

        [[row]]
        name = "a"
        expect = "valid"
        store = { w = 1 }

        [[row]]
        name = "b"
        expect = "invalid"
        nodes = 4
        workload = { name = "set", client = "rmw", keys = 1 }
        nemesis = { faults = [] }
        [row.checkers.siblings]
        bound = 2
    "#;

    #[test]
    fn rows_are_their_defaults_with_their_own_keys_laid_over() {
        let m = parse_text(TWO).unwrap();
        assert_eq!(m.name, "m");
        assert_eq!(m.results, PathBuf::from("results"));
        let [a, b] = &m.rows[..] else {
            panic!("{:?}", m.rows)
        };
        assert_eq!((a.name.as_str(), a.expect), ("a", Expect::Valid));
        assert_eq!(a.config.name, "a", "the row's name is its test name");
        assert_eq!((a.config.nodes, a.config.time_limit_s), (3, 4.0));
        assert_eq!((a.config.quorums.r, a.config.quorums.w), (1, 1));
        assert_eq!(a.config.nemesis, ["partition"]);
        assert_eq!(b.expect, Expect::Invalid);
        assert_eq!((b.config.nodes, b.config.time_limit_s), (4, 4.0));
        assert_eq!((b.config.quorums.r, b.config.quorums.w), (1, 2));
        assert!(b.config.nemesis.is_empty());
        assert_eq!(b.config.client, "rmw");
        assert_eq!(
            b.config.checker_options.siblings_bound,
            Some(checkers::siblings::SiblingBound::AtMost(2))
        );
        // The row's own file, defaults merged in, without `expect`; it
        // reads back as the same test.
        let src = b.config.config.as_ref().unwrap();
        assert_eq!(src.row.as_deref(), Some("b"));
        assert!(!src.text.contains("expect"), "{}", src.text);
        let again = config::from_table(config::parse_table(&src.text, "b").unwrap(), "b").unwrap();
        assert_eq!(
            (again.nodes, again.store.r),
            (
                Some(crate::settings::config_file::Nodes(
                    crate::cluster::nodes::NodesArg::Count(4)
                )),
                Some(1)
            )
        );

        let only = parse(
            TWO,
            Path::new("m.toml"),
            &Overrides {
                only: vec!["b".into()],
                results: Some("/tmp/r".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(only.rows.len(), 1);
        assert_eq!(only.rows[0].config.results, PathBuf::from("/tmp/r"));
        assert_eq!(only.results, PathBuf::from("/tmp/r"));
    }

    #[test]
    fn a_shard_keeps_its_rows_and_knows_the_whole_matrix() {
        let m = parse_text(TWO).unwrap();
        let s1 = m.clone().shard("1/2".parse().unwrap());
        let s2 = m.clone().shard("2/2".parse().unwrap());
        let names = |m: &Matrix| m.rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            (names(&s1), names(&s2)),
            (vec!["a".to_string()], vec!["b".to_string()])
        );
        assert_eq!(s1.all_rows, ["a", "b"]);
        assert_eq!(s2.shard.map(|s| s.to_string()).as_deref(), Some("2/2"));
        let s3 = m.shard("3/3".parse().unwrap());
        assert!(s3.rows.is_empty() && s3.all_rows.len() == 2);
    }

    #[test]
    fn outcomes_round_trip_through_rows_json() {
        let mut rows = mixed();
        rows.push(outcome("skipped", Expect::Valid, Got::NotRun));
        rows.push(outcome(
            "lost",
            Expect::Valid,
            Got::NotMerged("in no shard".into()),
        ));
        let text = serde_json::to_string(&rows).unwrap();
        let back: Vec<RowOutcome> = serde_json::from_str(&text).unwrap();
        for (a, b) in rows.iter().zip(&back) {
            assert_eq!((&a.name, a.expect, &a.got), (&b.name, b.expect, &b.got));
            assert_eq!(a.anomalies, b.anomalies);
            assert_eq!(
                (a.duration_s, a.seed, &a.report),
                (b.duration_s, b.seed, &b.report)
            );
        }
        assert!(text.contains(r#""expect":"invalid""#), "{text}");
    }

    #[test]
    fn the_readme_example_is_a_valid_matrix() {
        let text = crate::settings::config_file::tests::readme_toml("## A matrix of tests");
        let m = parse_text(&text).unwrap();
        assert_eq!(m.name, "nightly");
        assert_eq!(m.rows[0].expect, Expect::Invalid);
        assert_eq!(m.rows[0].config.time_limit_s, 30.0);
    }

    #[test]
    fn nightly_parses_and_pairs_every_unsafe_setting_with_invalid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("nightly.toml");
        let m = load(&path, &Overrides::default()).unwrap();
        assert_eq!(m.name, "nightly");
        let row = |n: &str| {
            m.rows
                .iter()
                .find(|r| r.name == n)
                .unwrap_or_else(|| panic!("no row {n}"))
        };
        let invalid: Vec<&str> = m
            .rows
            .iter()
            .filter(|r| r.expect == Expect::Invalid)
            .map(|r| r.name.as_str())
            .collect();
        assert!(invalid.len() >= 5, "{invalid:?}");
        let c = &row("siblings-node-vclock").config;
        assert_eq!(c.quorums.conflict, Conflict::NodeVclock);
        assert_eq!(row("siblings-dvv").config.quorums.conflict, Conflict::Dvv);
        let c = &row("register-quorum").config;
        assert_eq!(
            (c.client.as_str(), row("register-quorum").expect),
            ("quorum", Expect::Invalid)
        );
        let c = &row("set-crdt-no-repair").config;
        assert!(!c.quorums.read_repair && c.quorums.anti_entropy_ms == 0);
        // Bounded: the main phases alone stay under 12 minutes, so the whole
        // matrix (start-up, heal, final reads, checks) stays well under 20.
        let total: f64 = m
            .rows
            .iter()
            .map(|r| r.config.time_limit_s + r.config.quiesce_s)
            .sum();
        assert!(total < 720.0, "{total}");
    }

    #[test]
    fn a_bad_matrix_names_the_file_the_row_and_the_key() {
        for (text, want) in [
            ("", "m.toml: no rows"),
            ("[[row]]\nexpect = \"valid\"\n", "m.toml: row 1: no name"),
            ("[[row]]\nname = \"a\"\n", "m.toml: row \"a\": no expect (expect = \"valid\" or \"invalid\")"),
            ("[[row]]\nname = \"a\"\nexpect = \"unknown\"\n", "m.toml: row \"a\": expect = \"unknown\": expected \"valid\" or \"invalid\""),
            ("[[row]]\nname = \"a\"\nexpect = \"valid\"\n[[row]]\nname = \"a\"\nexpect = \"valid\"\n", "m.toml: two rows are named \"a\""),
            ("rows = 1\n[[row]]\nname = \"a\"\nexpect = \"valid\"\n", "m.toml: unknown key rows at the top level (known: name, defaults, row)"),
            ("[[row]]\nname = \"a\"\nexpect = \"valid\"\n[row.store]\nconflict = \"x\"\n", "m.toml: row \"a\": store.conflict: \"x\" is not a conflict mode; expected one of lww"),
            ("[[row]]\nname = \"a\"\nexpect = \"valid\"\nnodez = 3\n", "m.toml: row \"a\": unknown key nodez"),
            ("[defaults]\nnodez = 3\n[[row]]\nname = \"a\"\nexpect = \"valid\"\n", "m.toml: [defaults]: unknown key nodez"),
            ("[defaults]\nexpect = \"valid\"\n[[row]]\nname = \"a\"\nexpect = \"valid\"\n", "m.toml: [defaults] expect: each row has its own expect"),
            ("[[row]]\nname = \"a\"\nexpect = \"valid\"\nnodes = 1\n", "m.toml: row \"a\": --nemesis partition needs at least 2 nodes"),
            ("[[row]]\nname = \"a/b\"\nexpect = \"valid\"\n", "m.toml: row \"a/b\": name: \"a/b\" must be a plain folder name"),
        ] {
            let e = parse_text(text).unwrap_err();
            assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
        }
        let e = parse(
            TWO,
            Path::new("m.toml"),
            &Overrides {
                only: vec!["c".into()],
                ..Default::default()
            },
        )
        .unwrap_err()
        .0;
        assert_eq!(e, "--only c: no such row in m.toml (rows: a, b)");
    }

    /// A row's outcome as a run would leave it (its report under
    /// `results/<name>/20261124T220000.000/`).
    pub(crate) fn outcome(name: &str, expect: Expect, got: Got) -> RowOutcome {
        let anomalies = match &got {
            Got::Verdict(Validity::Invalid) => vec![CheckResult {
                checker: "set".into(),
                valid: Validity::Invalid,
                summary: "3 of 90 acknowledged elements lost: 7, 11, <b>|".into(),
                details: json!({"lost": [7, 11, 22]}),
            }],
            Got::Verdict(Validity::Unknown) => vec![CheckResult {
                checker: "convergence".into(),
                valid: Validity::Unknown,
                summary: "no final read succeeded".into(),
                details: json!({}),
            }],
            _ => vec![],
        };
        RowOutcome {
            name: name.into(),
            expect,
            report: matches!(got, Got::Verdict(_))
                .then(|| PathBuf::from(format!("results/{name}/20261124T220000.000/report.html"))),
            got,
            anomalies,
            duration_s: 30.5,
            seed: 42,
            command: format!("faultline test --name {name}"),
        }
    }

    fn mixed() -> Vec<RowOutcome> {
        vec![
            outcome("caught", Expect::Invalid, Got::Verdict(Validity::Invalid)),
            outcome("safe", Expect::Valid, Got::Verdict(Validity::Valid)),
            outcome("missed", Expect::Invalid, Got::Verdict(Validity::Valid)),
            outcome(
                "undecided",
                Expect::Invalid,
                Got::Verdict(Validity::Unknown),
            ),
            outcome(
                "crashed",
                Expect::Invalid,
                Got::Error("starting n3: address in use\ncaused by: bind".into()),
            ),
        ]
    }

    #[test]
    fn exit_codes_tell_a_crash_from_a_verdict_that_differs() {
        let mut rows = mixed();
        assert_eq!(exit_code(&rows), exit::ERROR);
        rows.pop();
        assert_eq!(
            exit_code(&rows),
            exit::INVALID,
            "unknown is never as expected"
        );
        rows.pop();
        assert_eq!(exit_code(&rows), exit::INVALID);
        rows.pop();
        assert_eq!(
            exit_code(&rows),
            exit::VALID,
            "an unsafe row caught is as expected"
        );
        rows.push(outcome("skipped", Expect::Valid, Got::NotRun));
        assert_eq!(exit_code(&rows), exit::ERROR);
    }

    #[test]
    fn the_table_shows_every_row_and_a_line_per_row_not_as_expected() {
        let t = table("nightly", &mixed());
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("row") && lines[0].contains("expected  got"),
            "{t}"
        );
        assert!(
            lines[1].starts_with("caught") && lines[1].contains("invalid"),
            "{t}"
        );
        assert!(
            lines[1].contains("results/caught/20261124T220000.000/report.html"),
            "{t}"
        );
        assert!(
            lines[5].starts_with("crashed") && lines[5].contains(" error "),
            "{t}"
        );
        assert!(lines[5].contains("starting n3: address in use"), "{t}");
        assert!(
            t.contains("FAIL row \"missed\": expected invalid, got valid\n"),
            "{t}"
        );
        assert!(t.contains("FAIL row \"undecided\": expected invalid, got unknown (convergence (unknown): no final read succeeded)"), "{t}");
        assert!(t.contains("ERROR row \"crashed\": the run failed (expected invalid): starting n3: address in use\n"), "{t}");
        assert!(
            !t.contains("row \"caught\"") && !t.contains("row \"safe\""),
            "{t}"
        );
        assert!(
            t.ends_with(
                "matrix nightly: 2 of 5 rows as expected, 2 differ, 1 error (2 min 33 s)\n"
            ),
            "{t}"
        );
    }

    #[test]
    fn markdown_links_reports_from_the_matrix_folder_and_escapes_values() {
        let md = markdown(
            "nightly",
            &mixed(),
            Path::new("results/matrix-20261124T230000.000"),
        );
        assert!(
            md.starts_with("### 💥 faultline matrix nightly: 2 of 5 rows as expected\n"),
            "{md}"
        );
        assert!(md.contains("| caught | invalid | ✅ invalid | set: 3 of 90 acknowledged elements lost: 7, 11, &lt;b&gt;\\| | 30.5 s | [report](../caught/20261124T220000.000/report.html) |"), "{md}");
        assert!(md.contains("| missed | invalid | ❌ valid | - |"), "{md}");
        assert!(md.contains("| undecided | invalid | ⚠️ unknown |"), "{md}");
        assert!(
            md.contains(
                "| crashed | invalid | 💥 error | starting n3: address in use | 30.5 s | - |"
            ),
            "{md}"
        );
        assert!(
            md.contains("- FAIL row \"missed\": expected invalid, got valid\n"),
            "{md}"
        );
        let ok = markdown("n", &mixed()[..2], Path::new("results/m"));
        assert!(
            ok.starts_with("### ✅ faultline matrix n: 2 of 2 rows as expected"),
            "{ok}"
        );
    }

    #[test]
    fn junit_has_one_case_per_row_failures_for_verdicts_errors_for_crashes() {
        let mut rows = mixed();
        rows.push(outcome("skipped", Expect::Valid, Got::NotRun));
        let xml = junit("nightly", &rows).to_string().unwrap();
        let parsed = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes()))
            .unwrap_or_else(|e| panic!("not JUnit: {e}\n{xml}"));
        let s = &parsed.suites[0];
        assert_eq!(s.name, "faultline.matrix.nightly");
        assert_eq!(
            (s.tests, s.failures, s.errors, s.skipped),
            (6, 2, 1, 1),
            "{xml}"
        );
        let case = |n: &str| s.cases.iter().find(|c| c.original_name == n).unwrap();
        assert!(case("caught").status.is_success());
        assert!(case("safe").status.is_success());
        let f = case("missed").status.failure_as_ref();
        assert_eq!(f.failure_type, "unexpected-verdict");
        assert_eq!(f.message, "expected invalid, got valid: -");
        assert_eq!(
            case("undecided").status.failure_as_ref().failure_type,
            "unknown"
        );
        let e = case("crashed").status.error_as_ref();
        assert_eq!(
            (e.error_type.as_str(), e.message.as_str()),
            ("error", "starting n3: address in use")
        );
        assert!(case("skipped").status.is_skipped());
        let c = case("caught");
        assert_eq!(c.time, 30.5);
        assert_eq!(c.classname.as_deref(), Some("faultline.matrix.nightly"));
        assert!(
            c.system_out
                .as_deref()
                .is_some_and(|o| o.starts_with("caught as expected: set: 3 of 90")),
            "{c:?}"
        );
        assert_eq!(c.properties.hashmap["expected"], "invalid");
        assert_eq!(c.properties.hashmap["got"], "invalid");
        assert_eq!(c.properties.hashmap["seed"], "42");
    }
}
