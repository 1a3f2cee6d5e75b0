//! Running the `faultline` binary and reading what a run left: its
//! folder, `results.json`, `history.jsonl`, a checker's verdict.
//!
//! Counts of acknowledged ops in these tests are floors that make a verdict
//! mean something (a few dozen ops, some under faults), never throughput
//! figures: the suite must pass with both cores busy elsewhere, where a run
//! completes a fraction of the ops it does on a quiet machine.

use nemeses::schedule::Event;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `rel`, a path in this checkout (fixtures, examples, sources).
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The `faultline` binary under test, as it is: what a test that needs no
/// ringkv (or finds it itself, beside the binary) runs.
pub fn faultline_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

/// The `ringkv` binary, built beside `faultline` by `cargo test --workspace`.
pub fn ringkv_bin() -> PathBuf {
    let ringkv = PathBuf::from(env!("CARGO_BIN_EXE_faultline")).with_file_name("ringkv");
    assert!(
        ringkv.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` so ringkv is built",
        ringkv.display()
    );
    ringkv
}

/// The `faultline` binary, with the ringkv built beside it.
pub fn faultline() -> Command {
    let mut c = faultline_bin();
    c.env("FAULTLINE_RINGKV_BIN", ringkv_bin());
    c
}

/// `faultline test --results RESULTS ARGS...`, to completion.
pub fn run_test(results: &Path, args: &[&str]) -> Output {
    faultline()
        .arg("test")
        .args(["--results", results.to_str().unwrap()])
        .args(args)
        .output()
        .expect("running faultline test")
}

/// [`run_test`] with a test file's shared flags `base`, then `extra`.
pub fn run_test_with(results: &Path, base: &[&str], extra: &[&str]) -> Output {
    let args: Vec<&str> = base.iter().chain(extra).copied().collect();
    run_test(results, &args)
}

/// The single run directory under `results/<name>/` (its `latest` link
/// aside).
pub fn run_dir(results: &Path, name: &str) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(results.join(name))
        .unwrap_or_else(|e| panic!("no results for {name}: {e}"))
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// The run's `results.json`.
pub fn results_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// The run's `history.jsonl`, one value per op.
pub fn history(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A command's stdout, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's stderr, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout and stderr together, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The checker named `name` in a run's results.
pub fn checker<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checker"] == name)
        .unwrap_or_else(|| panic!("no {name} checker in {r}"))
}

/// How many ops of function `f` completed as `kind`.
pub fn count_ops(h: &[serde_json::Value], f: &str, kind: &str) -> usize {
    h.iter()
        .filter(|o| o["f"] == f && o["type"] == kind)
        .count()
}

/// Writes a nemesis schedule (`--nemesis-schedule`) to `dir/file`; returns
/// its path.
pub fn write_schedule(dir: &Path, file: &str, events: &[Event]) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(events).unwrap()).unwrap();
    path
}

/// A JUnit XML file, parsed.
pub fn read_junit(path: &Path) -> junit_parser::TestSuites {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    junit_parser::from_reader(std::io::BufReader::new(f)).expect("junit.xml parses as JUnit")
}
