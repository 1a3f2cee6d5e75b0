//! A real run leaves what CI acts on: `junit.xml` and `summary.md` in its
//! folder, `results/index.html` beside the runs, and its start time and
//! duration in `results.json`. Needs root, as the other end-to-end tests
//! (tests/e2e.rs) do, and fails rather than skips without it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run_dir(results: &Path, name: &str) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(results.join(name))
        .unwrap_or_else(|e| panic!("no results for {name}: {e}"))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn a_run_writes_junit_summary_and_the_index() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the end-to-end tests build network namespaces: run them as root"
    );
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_faultline"));
    let ringkv = exe.with_file_name("ringkv");
    assert!(
        ringkv.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` so ringkv is built",
        ringkv.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(&exe)
        .env("FAULTLINE_RINGKV_BIN", &ringkv)
        .args(["test", "--results", tmp.path().to_str().unwrap()])
        .args(["--nodes", "3", "--nemesis", "none", "--time-limit", "3"])
        .args(["--quiesce", "1", "--seed", "5", "--rate", "50"])
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{out}");
    let dir = run_dir(tmp.path(), "set-crdt");

    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let duration = r["duration_s"].as_f64().expect("duration_s");
    assert!((3.0..600.0).contains(&duration), "{duration}");
    let started = r["started"].as_str().expect("started");
    chrono::DateTime::parse_from_rfc3339(started).expect("started is RFC 3339");

    let suites = junit_parser::from_reader(std::io::BufReader::new(
        std::fs::File::open(dir.join("junit.xml")).unwrap(),
    ))
    .expect("junit.xml is JUnit");
    assert_eq!(suites.suites.len(), 1);
    let s = &suites.suites[0];
    assert_eq!(s.name, "faultline.set-crdt");
    let checkers: Vec<&str> = r["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checker"].as_str().unwrap())
        .collect();
    let cases: Vec<&str> = s.cases.iter().map(|c| c.original_name.as_str()).collect();
    assert_eq!(cases, checkers);
    assert!(s.cases.iter().all(|c| c.status.is_success()), "{s:?}");
    assert!(s
        .cases
        .iter()
        .all(|c| c.classname.as_deref() == Some("faultline.set-crdt.set")));
    assert_eq!(s.properties.hashmap["seed"], "5");

    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.starts_with("### ✅ faultline set-crdt: valid\n"), "{md}");
    assert!(
        md.contains("**Seed:** `5`") && md.contains("**Nemesis:** none"),
        "{md}"
    );
    let test_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    let command = test_json["command"].as_str().unwrap();
    assert!(md.contains(&format!("```sh\n{command}\n```")), "{md}");
    assert!(md.contains("[report.html](report.html)"), "{md}");

    let index = std::fs::read_to_string(tmp.path().join("index.html")).unwrap();
    let run = dir.file_name().unwrap().to_str().unwrap();
    assert!(
        index.contains(&format!("set-crdt&#x2F;{run}&#x2F;report.html")),
        "the index links the run's report: {index}"
    );
    assert!(
        index.contains("<td class=\"verdict valid\">valid</td>"),
        "{index}"
    );
}
