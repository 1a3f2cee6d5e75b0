//! `faultline check`: verdicts for stored histories, offline.

use crate::artifacts::outputs::RunInfo;
use crate::artifacts::publish::{Checked, Publisher, ReportTarget, Targets};
use crate::artifacts::results::Results;
use crate::exit;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use workloads::Workload;

/// Files `faultline check` also writes its verdicts to, for CI.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    /// JUnit XML: one test suite per history, one test case per checker.
    pub junit: Option<PathBuf>,
    /// A Markdown summary: one section per history.
    pub markdown: Option<PathBuf>,
    /// A directory for one HTML report per history (`<file stem>.html`).
    pub report: Option<PathBuf>,
}

/// How `faultline check` reads a register history's outcomes (its
/// `--reading`, `--fail-is-evidence` and `--initial-value` flags). What is
/// not set comes from each file's format
/// ([`checkers::linear::Reading::for_format`]); the readings are tabled in
/// README.md ("How `faultline check` reads an op's outcome").
#[derive(Clone, Debug, Default)]
pub struct ReadingFlags {
    /// `--reading NAME`: this reading whatever the format.
    pub reading: Option<checkers::linear::Reading>,
    /// `--fail-is-evidence`: every failed cas is evidence.
    pub fail_is_evidence: bool,
    /// `--initial-value V`: the register's value before the first op.
    pub initial_value: Option<Value>,
}

impl ReadingFlags {
    /// Whether any flag was given.
    fn any(&self) -> bool {
        self.reading.is_some() || self.fail_is_evidence || self.initial_value.is_some()
    }

    /// Why the flags do not fit `workload`, if they do not: readings are
    /// the register model's, an initial value the register's, kv's or
    /// multi-register's (a map of register to value).
    fn misfit(&self, workload: Workload) -> Option<String> {
        let reading = self.reading.is_some() || self.fail_is_evidence;
        match workload {
            Workload::Register => None,
            Workload::Kv | Workload::Model(checkers::linear::Model::MultiRegister) if !reading => {
                None
            }
            _ if reading => Some(format!(
                "--reading and --fail-is-evidence apply to --workload register (how a register history's outcomes are read), not {workload}"
            )),
            _ if self.initial_value.is_some() => Some(format!(
                "--initial-value applies to --workload register, kv or multi-register, not {workload}"
            )),
            _ => None,
        }
    }

    /// The linearizability options for a file of `format` (`None`: empty).
    fn linear(&self, format: Option<checkers::parse::Format>) -> checkers::linear::Options {
        use checkers::linear::Reading;
        let mut reading = self
            .reading
            .or(format.map(Reading::for_format))
            .unwrap_or_default();
        if self.fail_is_evidence {
            reading = reading.fail_is_evidence();
        }
        checkers::linear::Options {
            reading,
            initial_value: self.initial_value.clone(),
            ..Default::default()
        }
    }

    /// The flags as they are typed, each with a leading space.
    fn args(&self) -> String {
        let mut out = String::new();
        if let Some(r) = self.reading {
            out += &format!(" --reading {}", r.describe());
        }
        if self.fail_is_evidence {
            out += " --fail-is-evidence";
        }
        if let Some(v) = &self.initial_value {
            out += &format!(" --initial-value {}", shell_quote(&v.to_string()));
        }
        out
    }
}

/// Checks every file, prints one verdict line each, writes the requested
/// CI outputs, and returns the exit code of the worst: unreadable or
/// malformed input, or an output that cannot be written (254), beats
/// invalid (1) beats unknown (2) beats valid (0).
pub fn run(paths: &[PathBuf], workload: &str, outputs: &Outputs, flags: &ReadingFlags) -> i32 {
    let workload = match Workload::parse(workload) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("faultline: error: {e}");
            return exit::BAD_ARGS;
        }
    };
    if let Some(e) = flags.misfit(workload) {
        eprintln!("faultline: error: {e}");
        return exit::BAD_ARGS;
    }
    let mut worst = checkers::Validity::Valid;
    let mut bad_input = false;
    let mut publisher = Publisher::new(Targets {
        report: outputs.report.clone().map(ReportTarget::Dir),
        junit: outputs.junit.clone(),
        markdown: outputs.markdown.clone(),
        ..Targets::default()
    });
    for path in paths {
        let mut info = run_info(path, workload);
        if flags.any() {
            info.command = info.command.map(|c| c + &flags.args());
        }
        let (history, results) = match check_file(path, workload, flags, &publisher) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("faultline: error: {e}");
                bad_input = true;
                let mut r = Results::from_checks(Vec::new(), 0);
                r.error = Some(e);
                publisher.failed(info, r);
                continue;
            }
        };
        for r in &results.checkers {
            worst = worst.worst(r.valid);
            // A reader that stopped reading (`| head`) does not stop the
            // check: the exit code still says the verdict.
            let _ = writeln!(
                std::io::stdout(),
                "{}: {} {} — {}",
                path.display(),
                r.checker,
                r.valid.word(),
                r.summary
            );
        }
        let mut page_config = vec![
            ("history".to_string(), path.display().to_string()),
            ("workload".to_string(), info.workload.clone()),
        ];
        if let Some(seed) = info.seed {
            page_config.push(("seed".into(), seed.to_string()));
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "history".into());
        match publisher.publish(Checked {
            info,
            history: &history,
            results: &results,
            config: None,
            page_config,
            stem,
        }) {
            Ok(Some(p)) => {
                let _ = writeln!(
                    std::io::stdout(),
                    "{}: report {}",
                    path.display(),
                    p.display()
                );
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("faultline: error: --report: {e:#}");
                bad_input = true;
            }
        }
    }
    if let Err(e) = publisher.finish() {
        eprintln!("faultline: error: {e:#}");
        bad_input = true;
    }
    if bad_input {
        exit::BAD_ARGS
    } else {
        worst.exit_code()
    }
}

/// Reads and checks one history file: streamed through the workload's
/// online checkers when they can all stream, the file is JSONL and nothing
/// written needs the ops themselves (a report or a CI file); otherwise
/// parsed whole. Both give the same results. The history is returned only
/// when it was parsed whole (an empty one otherwise).
fn check_file(
    path: &Path,
    workload: Workload,
    flags: &ReadingFlags,
    publisher: &Publisher,
) -> Result<(checkers::History, Results), String> {
    if !publisher.needs_history() {
        if let Some(checks) = workload.online_checks(&workloads::CheckOptions::default()) {
            if let Some(results) = stream_file(path, checks)? {
                return Ok((checkers::History::default(), results));
            }
        }
    }
    whole_file(path, workload, flags)
}

/// Bytes read from a history file at a time when it is streamed.
const CHUNK: usize = 1 << 20;

/// Streams a JSONL history through `checks` (in a thread of their own when
/// there is a second core, so that reading and checking overlap), or
/// `None` when the file is not JSONL. A line that is not a JSON op stops
/// the check with the error parsing the whole file would give.
fn stream_file(
    path: &Path,
    checks: Vec<workloads::OnlineCheck>,
) -> Result<Option<Results>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let at = |e: checkers::parse::ParseError| format!("{}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    // Enough of the start to tell the format by.
    while filled < buf.len() {
        match file.read(&mut buf[filled..]).map_err(cannot)? {
            0 => break,
            n => filled += n,
        }
    }
    let head = match std::str::from_utf8(&buf[..filled]) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or(""),
    };
    match checkers::parse::detect(head) {
        Ok(None | Some(checkers::parse::Format::Jsonl)) => {}
        // Other formats, and text that is none (for the whole-file
        // parser's error), are read whole.
        _ => return Ok(None),
    }
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let mut stream = if two_cores {
        checkers::stream::Stream::threaded(checks)
    } else {
        checkers::stream::Stream::new(
            checks
                .into_iter()
                .map(|c| -> Box<dyn checkers::stream::OnlineChecker> { c })
                .collect(),
        )
    };
    stream.feed_bytes(&buf[..filled]).map_err(at)?;
    loop {
        match file.read(&mut buf).map_err(cannot)? {
            0 => break,
            n => stream.feed_bytes(&buf[..n]).map_err(at)?,
        }
    }
    stream.end_input().map_err(at)?;
    let ops = stream.op_count();
    Ok(Some(Results::from_checks(stream.finish(), ops)))
}

/// Reads, parses and checks one history file whole.
fn whole_file(
    path: &Path,
    workload: Workload,
    flags: &ReadingFlags,
) -> Result<(checkers::History, Results), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let at = |e: checkers::parse::ParseError| format!("{}: {e}", path.display());
    let format = checkers::parse::detect(&text).map_err(at)?;
    let history = checkers::parse::auto(&text).map_err(at)?;
    let options = workloads::CheckOptions {
        linear: flags.linear(format),
        ..Default::default()
    };
    let checks = workload.check_with(&history, &options);
    let results = Results::from_checks(checks, history.ops.len() as u64);
    Ok((history, results))
}

/// What the CI outputs say about a checked file: its run's name, seed and
/// faults when it sits in a run directory beside a readable `test.json`,
/// otherwise its file name; and the command that checks it again.
pub fn run_info(path: &Path, workload: Workload) -> RunInfo {
    let cfg: Option<Value> = path
        .parent()
        .map(|d| d.join("test.json"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok());
    let field = |k: &str| cfg.as_ref().and_then(|c| c.get(k));
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "check".to_string());
    RunInfo {
        test: field("name")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or(stem),
        workload: workload.to_string(),
        command: Some(format!(
            "faultline check --workload {} {}",
            shell_quote(workload.name()),
            shell_quote(&path.display().to_string())
        )),
        seed: field("seed").and_then(Value::as_u64),
        nemesis: field("nemesis")
            .and_then(Value::as_array)
            .map(|ks| {
                ks.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        report: None,
        highlights: Vec::new(),
    }
}

/// `s` as one shell word: unchanged when it holds only safe characters,
/// otherwise single-quoted.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
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

/// Runs `faultline check` on its arguments.
pub fn main(args: CheckArgs) -> i32 {
    run(
        &args.paths,
        &args.workload,
        &Outputs {
            junit: args.junit,
            markdown: args.markdown,
            report: args.report,
        },
        &ReadingFlags {
            reading: args.reading,
            fail_is_evidence: args.fail_is_evidence,
            initial_value: args.initial_value,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_in_a_run_directory_takes_the_run_name_seed_and_faults() {
        let tmp = tempfile::tempdir().unwrap();
        let h = tmp.path().join("history.jsonl");
        let info = run_info(&h, Workload::Set);
        assert_eq!(info.test, "history");
        assert_eq!(info.seed, None);
        std::fs::write(
            tmp.path().join("test.json"),
            r#"{"name": "set-rmw", "seed": 42, "nemesis": ["partition", "kill"]}"#,
        )
        .unwrap();
        let info = run_info(&h, Workload::Set);
        assert_eq!(info.test, "set-rmw");
        assert_eq!(info.seed, Some(42));
        assert_eq!(info.nemesis, ["partition", "kill"]);
        assert_eq!(
            info.command.as_deref(),
            Some(format!("faultline check --workload set {}", h.display()).as_str())
        );
        assert_eq!(info.report, None);
    }

    #[test]
    fn reading_flags_default_from_the_format_and_override_it() {
        use checkers::linear::Reading;
        use checkers::parse::Format;
        let none = ReadingFlags::default();
        assert_eq!(none.linear(Some(Format::Edn)).reading, Reading::KNOSSOS);
        assert_eq!(none.linear(Some(Format::Jsonl)).reading, Reading::FAULTLINE);
        assert_eq!(
            none.linear(Some(Format::EtcdLog)).reading,
            Reading::PORCUPINE
        );
        assert_eq!(none.linear(None).reading, Reading::FAULTLINE);
        assert_eq!(none.args(), "");
        let flags = ReadingFlags {
            reading: Some(Reading::PORCUPINE),
            fail_is_evidence: true,
            initial_value: Some(serde_json::json!("a b")),
        };
        let o = flags.linear(Some(Format::Edn));
        assert_eq!(o.reading, Reading::PORCUPINE.fail_is_evidence());
        assert_eq!(o.initial_value, Some(serde_json::json!("a b")));
        assert_eq!(
            flags.args(),
            r#" --reading porcupine --fail-is-evidence --initial-value '"a b"'"#
        );
        assert_eq!(flags.misfit(Workload::parse("register").unwrap()), None);
        assert!(flags.misfit(Workload::parse("kv").unwrap()).is_some());
        let init = ReadingFlags {
            initial_value: Some(serde_json::json!(0)),
            ..Default::default()
        };
        assert_eq!(init.misfit(Workload::parse("kv").unwrap()), None);
        assert!(init.misfit(Workload::parse("set").unwrap()).is_some());
        assert_eq!(none.misfit(Workload::parse("set").unwrap()), None);
    }

    #[test]
    fn shell_quoting_keeps_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("results/a-b_c.jsonl"), "results/a-b_c.jsonl");
        assert_eq!(shell_quote("my file"), "'my file'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote(""), "''");
    }
}
