//! The command line as scripts see it: verdict lines and exit codes of
//! `faultline check` on histories with known verdicts, and clear one-line
//! errors for bad input. No root needed.

use std::path::PathBuf;
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("running faultline")
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/histories")
        .join(name)
        .display()
        .to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn valid_histories_exit_zero() {
    for f in ["set-valid.jsonl", "set-valid.edn", "set-recovered.jsonl"] {
        let o = faultline(&["check", &fixture(f), "--workload", "set"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{f}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains("set valid"), "{f}: {}", stdout(&o));
    }
}

#[test]
fn recovered_indeterminate_adds_are_reported() {
    let o = faultline(&["check", &fixture("set-recovered.jsonl")]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("recovered"), "{}", stdout(&o));
}

#[test]
fn lost_and_unexpected_elements_are_invalid() {
    for (f, word) in [
        ("set-lost.jsonl", "lost"),
        ("set-lost-vector.edn", "lost"),
        ("set-unexpected.edn", "unexpected"),
    ] {
        let o = faultline(&["check", &fixture(f), "--workload", "set"]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{f}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let out = stdout(&o);
        assert!(out.contains("INVALID") && out.contains(word), "{f}: {out}");
    }
}

#[test]
fn several_files_give_one_line_each_and_the_worst_exit_code() {
    let o = faultline(&[
        "check",
        &fixture("set-valid.jsonl"),
        &fixture("set-lost.jsonl"),
        &fixture("set-valid.edn"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // One line per checker the set workload feeds, for each file.
    let out = stdout(&o);
    for f in ["set-valid.jsonl", "set-lost.jsonl", "set-valid.edn"] {
        let lines: Vec<&str> = out.lines().filter(|l| l.contains(f)).collect();
        assert!(lines.iter().any(|l| l.contains(": set ")), "{f}: {out}");
        assert!(
            lines.iter().any(|l| l.contains(": set-full ")),
            "{f}: {out}"
        );
        assert!(lines.iter().any(|l| l.contains(": perf ")), "{f}: {out}");
    }
    assert!(out.contains("set INVALID"), "{out}");
}

fn run(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runs")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn sequence_and_session_runs_are_checked_offline_with_their_checkers() {
    let o = faultline(&[
        "check",
        &run("sequence-crdt.jsonl"),
        "--workload",
        "sequence",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for line in ["crdt valid", "convergence valid", "perf valid"] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let o = faultline(&[
        "check",
        &run("session-random.jsonl"),
        "--workload",
        "session",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("sessions INVALID"), "{out}");
    assert!(out.contains("monotonic reads"), "{out}");
    for line in ["staleness valid", "convergence valid", "perf valid"] {
        assert!(out.contains(line), "{line}: {out}");
    }
    // The same history as a register workload: linearizability is judged on
    // the values, sessions on the store's versions.
    let o = faultline(&[
        "check",
        &run("session-random.jsonl"),
        "--workload",
        "register",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains(": linearizable ") && out.contains("sessions INVALID"),
        "{out}"
    );
}

#[test]
fn malformed_histories_name_the_file_and_line() {
    for f in ["set-malformed.jsonl", "set-malformed.edn"] {
        let o = faultline(&["check", &fixture(f)]);
        assert_eq!(o.status.code(), Some(254), "{f}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{f}: one line expected: {err}"
        );
        assert!(err.contains(f) && err.contains("line "), "{f}: {err}");
    }
}

#[test]
fn missing_file_and_unknown_workload_are_bad_arguments() {
    let o = faultline(&["check", "/nonexistent/history.jsonl"]);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("/nonexistent/history.jsonl"));
    let o = faultline(&["check", &fixture("set-valid.jsonl"), "--workload", "bank"]);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("bank"), "{}", stderr(&o));
}

#[test]
fn bad_test_flags_exit_254_before_touching_anything() {
    for args in [
        vec!["test", "--client", "lww"],
        vec!["test", "--nemesis", "meteor"],
        vec!["test", "--time-limit", "soon"],
        vec!["test", "--nodes", "0"],
        vec!["test", "--frobnicate"],
    ] {
        let o = faultline(&args);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty());
    }
}

#[test]
fn help_exits_zero() {
    let o = faultline(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("check"));
}

fn porcupine(file: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/bench/porcupine")
        .join(file);
    assert!(
        p.is_file(),
        "the Porcupine corpus is missing: {} (the shared directory must sit beside the repository)",
        p.display()
    );
    p.display().to_string()
}

#[test]
fn linearizability_verdicts_on_porcupine_files() {
    // etcd_005 is linearizable, etcd_000 is not (Porcupine's known verdicts).
    let o = faultline(&[
        "check",
        &porcupine("jepsen/etcd_005.log"),
        "--workload",
        "register",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("linearizable valid"), "{}", stdout(&o));
    let o = faultline(&[
        "check",
        &porcupine("jepsen/etcd_000.log"),
        "--workload",
        "register",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("linearizable INVALID") && stdout(&o).contains("cannot be linearized"),
        "{}",
        stdout(&o)
    );
    let o = faultline(&["check", &porcupine("kv/c01-bad.txt"), "--workload", "kv"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let o = faultline(&["check", &porcupine("kv/c01-ok.txt"), "--workload", "kv"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn kv_workload_has_no_live_client_yet() {
    let o = faultline(&["test", "--workload", "kv"]);
    assert_eq!(o.status.code(), Some(254), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("no live client yet"), "{}", stderr(&o));
}

#[test]
fn set_full_stays_valid_on_a_live_history_with_reads_during_the_run() {
    let o = faultline(&["check", &fixture("set-full-midrun-reads.jsonl")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains(
            ": set-full valid — none of 605 known elements lost (605 ok, 0 stale, 0 never read)"
        ),
        "{out}"
    );
}
