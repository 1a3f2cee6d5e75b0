//! What the end-to-end tests of other stores share: running the
//! `faultline` binary and reading what a run left.
//!
//! Counts of acknowledged ops in these tests are floors that make a verdict
//! mean something (a few dozen ops, some under faults), never throughput
//! figures: the suite must pass with both cores busy elsewhere, where a run
//! completes a fraction of the ops it does on a quiet machine.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The tests build network namespaces and iptables rules: they fail,
/// rather than skip, without root, so a green run means the faults were
/// real.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the end-to-end tests build network namespaces and iptables rules: run them as root"
    );
}

/// The `faultline` binary, with the ringkv built beside it.
pub fn faultline() -> Command {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_faultline"));
    let ringkv = exe.with_file_name("ringkv");
    assert!(
        ringkv.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` so ringkv is built",
        ringkv.display()
    );
    let mut c = Command::new(exe);
    c.env("FAULTLINE_RINGKV_BIN", ringkv);
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

/// A small matrix of four short rows on 3 local nodes whose verdicts do not
/// depend on chance: `a-safe` as expected (valid), `b-wrong` differs (a safe
/// setting that expects to be caught), `c-broken` is an error (no ringkv
/// binary, so it fails at once), `d-safe` as expected. Exit code 255.
pub const SMALL_MATRIX: &str = r#"
name = "small"
[defaults]
nodes = 3
time_limit = 3
quiesce = 1
rate = 50
seed = 5
nemesis = { faults = [] }
checkers = { convergence = { timeout = 5 } }

[[row]]
name = "a-safe"
expect = "valid"
workload = { name = "set", client = "crdt" }

[[row]]
name = "b-wrong"
expect = "invalid"
workload = { name = "set", client = "crdt", keys = 2 }

[[row]]
name = "c-broken"
expect = "valid"
ringkv_bin = "/nonexistent/ringkv"

[[row]]
name = "d-safe"
expect = "valid"
workload = { name = "register", client = "cas" }
"#;

/// The outcomes in a matrix folder's `rows.json`: (name, expected, got),
/// in order.
pub fn matrix_rows(dir: &Path) -> Vec<(String, String, String)> {
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("rows.json")).unwrap()).unwrap();
    saved["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let got = match &o["got"]["detail"] {
                serde_json::Value::Bool(true) => "valid".to_string(),
                serde_json::Value::Bool(false) => "invalid".to_string(),
                serde_json::Value::String(s) if o["got"]["kind"] == "verdict" => s.clone(),
                _ => o["got"]["kind"].as_str().unwrap().to_string(),
            };
            (
                o["name"].as_str().unwrap().to_string(),
                o["expect"].as_str().unwrap().to_string(),
                got,
            )
        })
        .collect()
}

/// What [`SMALL_MATRIX`]'s rows get, as [`matrix_rows`] reads them.
pub fn small_matrix_verdicts() -> Vec<(String, String, String)> {
    [
        ("a-safe", "valid", "valid"),
        ("b-wrong", "invalid", "valid"),
        ("c-broken", "valid", "error"),
        ("d-safe", "valid", "valid"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect()
}

/// The one `matrix-<timestamp>` folder under `results`.
pub fn matrix_dir(results: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(results)
        .unwrap_or_else(|e| panic!("{}: {e}", results.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("matrix-")
        })
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// The line of a matrix's table that counts its rows, without the time.
pub fn count_line(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("matrix "))
        .unwrap_or_else(|| panic!("no count line in {stdout}"));
    line.rsplit_once(" (").map_or(line, |(a, _)| a).to_string()
}
