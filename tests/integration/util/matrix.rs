//! The small matrix several areas run (`test-all`, its shards and merges,
//! the CI examples): four short rows whose verdicts do not depend on
//! chance, and readers for what a matrix leaves on disk.

use std::path::{Path, PathBuf};

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
