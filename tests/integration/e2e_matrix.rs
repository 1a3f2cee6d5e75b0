//! `faultline test-all` for real: a tiny matrix of short runs on real
//! clusters, one of whose rows expects the wrong verdict, fails with exit 1
//! and a line naming that row; a row whose run fails is an error (exit
//! 255), never invalid. Needs root, as the `e2e` area does, and fails rather
//! than skips without it. The whole nightly.toml is not run here (it takes
//! about ten minutes): `faultline test-all --matrix nightly.toml`.
//!
//! Also: `--jobs 2` runs rows at once with the verdicts of `--jobs 1`;
//! shards merged give the whole matrix's rows and summary; `faultline test
//! --test-count` repeats a run, each in its folder, `latest` at the last.

use crate::util;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `faultline`, run as root (the matrix builds network namespaces).
fn faultline() -> std::process::Command {
    util::require_root();
    util::faultline()
}

/// A command's stdout and stderr.
fn outputs(o: &Output) -> (String, String) {
    (util::stdout(o), util::stderr(o))
}

use util::{matrix_dir, namespaces_of};

/// A matrix folder's `junit.xml`.
fn junit(dir: &Path) -> junit_parser::TestSuites {
    util::read_junit(&dir.join("junit.xml"))
}

#[test]
fn a_row_with_a_wrong_expectation_fails_the_matrix_with_a_line_naming_it() {
    let _area = crate::util::area::enter(module_path!());
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
    let _area = crate::util::area::enter(module_path!());
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

/// `test-all --matrix M --results R ARGS`, to completion.
fn test_all(matrix: &Path, results: &Path, args: &[&str]) -> Output {
    faultline()
        .args(["test-all", "--matrix", matrix.to_str().unwrap()])
        .args(["--results", results.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

/// Each row's run interval (start, end) in seconds since the epoch, from
/// its results.json, by row name; rows without a run are left out.
fn intervals(results: &Path) -> Vec<(String, f64, f64)> {
    let mut out = Vec::new();
    for (name, _, _) in util::small_matrix_verdicts() {
        let Ok(entries) = std::fs::read_dir(results.join(&name)) else {
            continue;
        };
        for e in entries
            .flatten()
            .filter(|e| e.file_type().unwrap().is_dir())
        {
            let r = util::results_json(&e.path());
            let started = chrono::DateTime::parse_from_rfc3339(r["started"].as_str().unwrap())
                .unwrap()
                .timestamp_micros() as f64
                / 1e6;
            out.push((
                name.clone(),
                started,
                started + r["duration_s"].as_f64().unwrap(),
            ));
        }
    }
    out
}

fn overlaps(a: &(String, f64, f64), b: &(String, f64, f64)) -> bool {
    a.1 < b.2 && b.1 < a.2
}

/// The JUnit cases of a matrix folder: (name, status), in order.
fn junit_cases(dir: &Path) -> Vec<(String, String)> {
    junit(dir).suites[0]
        .cases
        .iter()
        .map(|c| {
            let status = if c.status.is_success() {
                "ok"
            } else if c.status.is_error() {
                "error"
            } else if c.status.is_failure() {
                "failure"
            } else {
                "skipped"
            };
            (c.original_name.clone(), status.to_string())
        })
        .collect()
}

#[test]
fn jobs_run_rows_at_once_and_shards_merge_into_the_whole_matrix() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let matrix = tmp.path().join("small.toml");
    std::fs::write(&matrix, util::SMALL_MATRIX).unwrap();
    let want = util::small_matrix_verdicts();

    // One at a time: the baseline. No two runs overlap.
    let seq = tmp.path().join("seq");
    let o = test_all(&matrix, &seq, &[]);
    let (out, err) = outputs(&o);
    assert_eq!(o.status.code(), Some(255), "{out}{err}");
    let seq_dir = matrix_dir(&seq);
    assert_eq!(util::matrix_rows(&seq_dir), want);
    let count = util::count_line(&out);
    assert_eq!(
        count,
        "matrix small: 2 of 4 rows as expected, 1 differs, 1 error"
    );
    let runs = intervals(&seq);
    assert_eq!(runs.len(), 3, "{runs:?}");
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[i + 1..] {
            assert!(!overlaps(a, b), "--jobs 1 ran {a:?} and {b:?} together");
        }
    }

    // Two at a time: the first two rows start together, so their runs
    // overlap; verdicts, table, summary and JUnit are the baseline's.
    let par = tmp.path().join("par");
    let o = test_all(&matrix, &par, &["--jobs", "2"]);
    let (pout, perr) = outputs(&o);
    assert_eq!(o.status.code(), Some(255), "{pout}{perr}");
    assert!(
        perr.contains("4 rows from") && perr.contains("up to 2 at once"),
        "{perr}"
    );
    let par_dir = matrix_dir(&par);
    assert_eq!(util::matrix_rows(&par_dir), want);
    assert_eq!(util::count_line(&pout), count);
    assert_eq!(junit_cases(&par_dir), junit_cases(&seq_dir));
    let runs = intervals(&par);
    let (a, b) = (&runs[0], &runs[1]);
    assert_eq!((a.0.as_str(), b.0.as_str()), ("a-safe", "b-wrong"));
    assert!(overlaps(a, b), "--jobs 2: {a:?} and {b:?} did not overlap");
    // Each row's lines are prefixed with its name.
    assert!(perr.contains("[a-safe] faultline: 3 nodes on"), "{perr}");
    assert!(perr.contains("[b-wrong] faultline: 3 nodes on"), "{perr}");
    // The table lists rows in file order whatever order they ended in.
    let table: Vec<&str> = pout
        .lines()
        .skip_while(|l| !l.starts_with("row "))
        .skip(1)
        .take(4)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(table, ["a-safe", "b-wrong", "c-broken", "d-safe"], "{pout}");
    // Each test's folder has a latest link at its run.
    let latest = std::fs::canonicalize(par.join("a-safe/latest")).unwrap();
    assert_eq!(
        latest,
        std::fs::canonicalize(util::run_dir(&par, "a-safe")).unwrap()
    );

    // Shards 1/2 and 2/2, on "two machines" at once, merged: the
    // baseline's rows, verdicts, summary and JUnit.
    let shard = |i: &str, dir: &Path| {
        faultline()
            .args(["test-all", "--matrix", matrix.to_str().unwrap()])
            .args(["--results", dir.to_str().unwrap(), "--shard", i])
            .output()
            .unwrap()
    };
    let (s1, s2) = (tmp.path().join("s1"), tmp.path().join("s2"));
    let (o1, o2) = std::thread::scope(|sc| {
        let h1 = sc.spawn(|| shard("1/2", &s1));
        let h2 = sc.spawn(|| shard("2/2", &s2));
        (h1.join().unwrap(), h2.join().unwrap())
    });
    // Shard 1: rows 0 and 2 (a-safe, c-broken); shard 2: b-wrong, d-safe.
    assert_eq!(o1.status.code(), Some(255), "{}", util::text(&o1));
    assert_eq!(o2.status.code(), Some(1), "{}", util::text(&o2));
    let names = |d: &Path| -> Vec<String> {
        util::matrix_rows(&matrix_dir(d))
            .into_iter()
            .map(|r| r.0)
            .collect()
    };
    assert_eq!(names(&s1), ["a-safe", "c-broken"]);
    assert_eq!(names(&s2), ["b-wrong", "d-safe"]);
    let merged = tmp.path().join("merged");
    let o = faultline()
        .args(["merge", "--results", merged.to_str().unwrap()])
        .args([s2.to_str().unwrap(), s1.to_str().unwrap()])
        .output()
        .unwrap();
    let (mout, merr) = outputs(&o);
    assert_eq!(o.status.code(), Some(255), "{mout}{merr}");
    let merged_dir = matrix_dir(&merged);
    assert_eq!(util::matrix_rows(&merged_dir), want);
    assert_eq!(util::count_line(&mout), count);
    assert_eq!(junit_cases(&merged_dir), junit_cases(&seq_dir));
    let md = std::fs::read_to_string(merged_dir.join("summary.md")).unwrap();
    let seq_md = std::fs::read_to_string(seq_dir.join("summary.md")).unwrap();
    assert_eq!(md.lines().next(), seq_md.lines().next());
    for row in ["a-safe", "b-wrong", "d-safe"] {
        let link = format!("[report](../{row}/");
        assert!(md.contains(&link), "{md}");
        // The link resolves inside the merged folder.
        assert!(util::run_dir(&merged, row).join("report.html").is_file());
    }
    assert!(merged.join("index.html").is_file());
}

#[test]
fn test_count_repeats_a_run_each_in_its_folder_and_stops_at_the_first_failure() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let base = [
        "--nodes",
        "3",
        "--time-limit",
        "2",
        "--quiesce",
        "1",
        "--rate",
        "50",
        "--nemesis",
        "none",
        "--convergence-timeout",
        "5",
        "--concurrency",
        "2n",
        "--seed",
        "11",
        "--name",
        "rep",
    ];
    let o = util::run_test_with(&results, &base, &["--test-count", "2"]);
    let text = util::text(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("test-count: 2 of 2 runs: 2 valid, 0 invalid, 0 unknown, 0 errors"),
        "{text}"
    );
    let mut runs: Vec<PathBuf> = std::fs::read_dir(results.join("rep"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.path())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let seeds: Vec<u64> = runs
        .iter()
        .map(|r| {
            let t: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(r.join("test.json")).unwrap())
                    .unwrap();
            assert_eq!(t["concurrency"], 6, "2n on 3 nodes");
            t["seed"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(seeds, [11, 12]);
    // results/rep/latest is the second run, results/latest too.
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap();
    assert_eq!(canon(&results.join("rep/latest")), canon(&runs[1]));
    assert_eq!(canon(&results.join("latest")), canon(&runs[1]));

    // A series stops at its first run that is not valid (here a run that
    // fails: no ringkv) unless --keep-going; the exit code is the worst.
    let broken = ["--ringkv-bin", "/nonexistent/ringkv", "--test-count", "3"];
    let o = util::run_test_with(&results, &base, &broken);
    let text = util::text(&o);
    assert_eq!(o.status.code(), Some(255), "{text}");
    assert!(
        text.contains(
            "test-count: 1 of 3 runs: 0 valid, 0 invalid, 0 unknown, 1 error (stopped early"
        ),
        "{text}"
    );
    let mut keep = broken.to_vec();
    keep.push("--keep-going");
    let o = util::run_test_with(&results, &base, &keep);
    let text = util::text(&o);
    assert_eq!(o.status.code(), Some(255), "{text}");
    assert!(
        text.contains("test-count: 3 of 3 runs: 0 valid, 0 invalid, 0 unknown, 3 errors\n"),
        "{text}"
    );
}

#[test]
fn ctrl_c_stops_the_running_rows_cleanly_and_starts_no_more() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let matrix = tmp.path().join("long.toml");
    // Rows far longer than the test waits: only the interrupt ends them.
    let rows: String = ["a", "b", "c"]
        .iter()
        .map(|n| format!("[[row]]\nname = \"{n}\"\nexpect = \"valid\"\n"))
        .collect();
    std::fs::write(
        &matrix,
        format!(
            "[defaults]\nnodes = 3\ntime_limit = \"10m\"\nquiesce = 1\nrate = 50\nnemesis = {{ faults = [] }}\ncheckers = {{ convergence = {{ timeout = 5 }} }}\nworkload = {{ name = \"set\", client = \"crdt\" }}\n{rows}"
        ),
    )
    .unwrap();
    let results = tmp.path().join("results");
    let child = faultline()
        .args(["test-all", "--matrix", matrix.to_str().unwrap()])
        .args(["--results", results.to_str().unwrap(), "--jobs", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until rows a and b are in their main phase (ops on disk).
    let started = std::time::Instant::now();
    let history = |row: &str| -> usize {
        std::fs::read_dir(results.join(row))
            .ok()
            .and_then(|mut d| d.find(|e| e.as_ref().is_ok_and(|e| e.file_type().unwrap().is_dir())))
            .and_then(|e| std::fs::read_to_string(e.unwrap().path().join("history.jsonl")).ok())
            .map_or(0, |t| t.lines().count())
    };
    while history("a") < 20 || history("b") < 20 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "rows a and b never got going"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Ctrl-C at a terminal reaches the matrix (the rows have process
    // groups of their own): the matrix passes it on.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = outputs(&o);
    assert_eq!(o.status.code(), Some(255), "{out}{err}");
    assert!(
        err.contains("interrupted; 2 rows running will heal"),
        "{err}"
    );
    let dir = matrix_dir(&results);
    let got: Vec<(String, String)> = util::matrix_rows(&dir)
        .into_iter()
        .map(|(n, _, g)| (n, g))
        .collect();
    let want: Vec<(String, String)> = [("a", "error"), ("b", "error"), ("c", "not_run")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want, "{out}");
    assert!(
        out.contains("ERROR row \"c\": not run (interrupted)"),
        "{out}"
    );
    for row in ["a", "b"] {
        let r = util::results_json(&util::run_dir(&results, row));
        assert_eq!(r["interrupted"], true, "{r}");
        assert!(r["op_count"].as_u64().unwrap() >= 20, "{r}");
        // Each row healed and removed its cluster.
        let slot = err
            .lines()
            .find_map(|l| l.strip_prefix(&format!("[{row}] faultline: 3 nodes on flbr")))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("row {row}'s slot: {err}"))
            .to_string();
        assert!(
            namespaces_of(&format!("fl{slot}-")).is_empty(),
            "slot {slot} left behind"
        );
    }
    assert!(!results.join("c").exists(), "row c never started");
}
