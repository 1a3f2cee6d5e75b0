//! `faultline test-all` for real: a tiny matrix of short runs on real
//! clusters, one of whose rows expects the wrong verdict, fails with exit 1
//! and a line naming that row; a row whose run fails is an error (exit
//! 255), never invalid. Needs root, as tests/e2e.rs does, and fails rather
//! than skips without it. The whole nightly.toml is not run here (it takes
//! about ten minutes): `faultline test-all --matrix nightly.toml`.

mod common;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `faultline`, run as root (the matrix builds network namespaces).
fn faultline() -> std::process::Command {
    common::require_root();
    common::faultline()
}

fn outputs(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The one `matrix-<timestamp>` folder under `results`.
fn matrix_dir(results: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(results)
        .unwrap()
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

fn junit(dir: &Path) -> junit_parser::TestSuites {
    junit_parser::from_reader(std::io::BufReader::new(
        std::fs::File::open(dir.join("junit.xml")).unwrap(),
    ))
    .expect("junit.xml is JUnit")
}

#[test]
fn a_row_with_a_wrong_expectation_fails_the_matrix_with_a_line_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let matrix = tmp.path().join("tiny.toml");
    std::fs::write(
        &matrix,
        r#"
[defaults]
nodes = 3
time_limit = 3
quiesce = 1
rate = 50
seed = 5
nemesis = { faults = [] }
checkers = { convergence = { timeout = 5 } }

[[row]]
name = "set-crdt-safe"
expect = "valid"
workload = { name = "set", client = "crdt" }

# A safe setting that expects to be caught: a wrong expectation.
[[row]]
name = "set-crdt-wrongly-unsafe"
expect = "invalid"
workload = { name = "set", client = "crdt", keys = 2 }
"#,
    )
    .unwrap();
    let results = tmp.path().join("results");
    let o = faultline()
        .args(["test-all", "--matrix", matrix.to_str().unwrap()])
        .args(["--results", results.to_str().unwrap()])
        .output()
        .unwrap();
    let (out, err) = outputs(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("FAIL row \"set-crdt-wrongly-unsafe\": expected invalid, got valid\n"),
        "{out}"
    );
    assert!(!out.contains("row \"set-crdt-safe\""), "{out}");
    assert!(
        out.contains("matrix tiny: 1 of 2 rows as expected, 1 differs, 0 errors"),
        "{out}"
    );
    // The table: both rows, their verdicts and their reports.
    let row = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no table line for {name}: {out}"))
            .to_string()
    };
    let safe = row("set-crdt-safe");
    assert!(safe.contains("valid     valid"), "{safe}");
    let report = safe.split_whitespace().last().unwrap();
    assert!(
        report.ends_with("report.html") && Path::new(report).is_file(),
        "{safe}"
    );
    assert!(
        row("set-crdt-wrongly-unsafe").contains("invalid   valid"),
        "{out}"
    );

    // Each row is a whole run, with its configuration beside it.
    let run = Path::new(report).parent().unwrap();
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("name = \"set-crdt-safe\""), "{config}");
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["seed"], 5);
    assert_eq!(test["config"]["row"], "set-crdt-safe");
    assert!(
        test["command"].as_str().unwrap().contains("--config"),
        "{test}"
    );

    let dir = matrix_dir(&results);
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        md.starts_with("### ❌ faultline matrix tiny: 1 of 2 rows as expected\n"),
        "{md}"
    );
    assert!(
        md.contains("| set-crdt-wrongly-unsafe | invalid | ❌ valid |"),
        "{md}"
    );
    assert!(md.contains("[report](../set-crdt-safe/"), "{md}");
    let s = &junit(&dir).suites[0];
    assert_eq!(s.name, "faultline.matrix.tiny");
    assert_eq!((s.tests, s.failures, s.errors), (2, 1, 0));
    let f = s
        .cases
        .iter()
        .find(|c| c.original_name == "set-crdt-wrongly-unsafe")
        .unwrap();
    assert_eq!(
        f.status.failure_as_ref().message,
        "expected invalid, got valid: -"
    );
    assert!(std::fs::read_to_string(dir.join("matrix.toml"))
        .unwrap()
        .contains("set-crdt-wrongly-unsafe"));
}

#[test]
fn a_row_whose_run_fails_is_an_error_never_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    let matrix = tmp.path().join("broken.toml");
    std::fs::write(
        &matrix,
        r#"
[[row]]
name = "no-ringkv"
expect = "invalid"
ringkv_bin = "/nonexistent/ringkv"
time_limit = 1
"#,
    )
    .unwrap();
    let results = tmp.path().join("results");
    let o = faultline()
        .args(["test-all", "--matrix", matrix.to_str().unwrap()])
        .args(["--results", results.to_str().unwrap()])
        .output()
        .unwrap();
    let (out, err) = outputs(&o);
    assert_eq!(o.status.code(), Some(255), "{out}{err}");
    assert!(
        out.contains("ERROR row \"no-ringkv\": the run failed (expected invalid): --ringkv-bin /nonexistent/ringkv: no such file"),
        "{out}"
    );
    let line = out.lines().find(|l| l.starts_with("no-ringkv ")).unwrap();
    assert!(line.contains("invalid   error"), "{line}");
    let s = &junit(&matrix_dir(&results)).suites[0];
    assert_eq!((s.tests, s.failures, s.errors), (1, 0, 1));
}
