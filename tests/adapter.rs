//! Any store through an adapter, end to end: ringkv nodes in network
//! namespaces described by a TOML file, a Python process per worker
//! speaking JSON lines, real partitions. And an adapter that breaks the
//! protocol: the run stops with one line naming it, keeping its history.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn checkout(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

#[test]
fn the_example_adapter_runs_the_set_workload_under_partitions_and_is_valid() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let store = checkout("examples/adapters/ringkv.toml");
    let o = run_test(
        tmp.path(),
        &[
            "--store",
            &store,
            "--workload",
            "set",
            "--nodes",
            "3",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "10",
            "--quiesce",
            "3",
            "--seed",
            "11",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("on 3 ringkv-py nodes"), "{}", text(&o));
    let dir = run_dir(tmp.path(), "ringkv-py-set-adapter");
    let r = results_json(&dir);
    assert_eq!(r["valid"], true, "{r}");
    for name in ["set", "set-full", "convergence", "perf"] {
        assert_eq!(checker(&r, name)["valid"], true, "{name}: {r}");
    }
    let h = history(&dir);
    assert!(
        count_ops(&h, "add", "ok") > 100,
        "too few adds went through"
    );
    assert!(
        h.iter().any(|o| o["f"] == "start-partition"),
        "no partition was applied"
    );
    // Every node read the whole set through its own adapter process, and
    // every key's replicas were read locally (read-local, preflist).
    let last_worker = h
        .iter()
        .filter(|o| o["f"] == "add")
        .filter_map(|o| o["process"].as_u64())
        .max()
        .unwrap();
    let finals: Vec<&str> = h
        .iter()
        .filter(|o| o["f"] == "read" && o["type"] == "ok")
        .filter(|o| o["process"].as_u64() > Some(last_worker))
        .filter_map(|o| o["node"].as_str())
        .collect();
    assert_eq!(finals.len(), 3, "{finals:?}");
    assert!(count_ops(&h, "read-local", "ok") >= 5 * 3);
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["store"], store.as_str());
    assert_eq!(test["client"], "adapter");
    // The adapters' stderr is kept in the run directory; the store's logs
    // where the description said.
    let logs: Vec<String> = std::fs::read_dir(dir.join("adapter"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for f in ["w0.stderr.log", "w5.stderr.log", "final-n3.stderr.log"] {
        assert!(logs.iter().any(|l| l == f), "{f} not in {logs:?}");
    }
    assert!(dir.join("n2/ringkv.log").is_file());
}

#[test]
fn a_malformed_reply_stops_the_run_naming_the_line_and_keeps_the_history() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let store = checkout("tests/fixtures/adapters/malformed.toml");
    let started = Instant::now();
    let o = run_test(
        tmp.path(),
        &[
            "--store",
            &store,
            "--workload",
            "set",
            "--nodes",
            "3",
            "--nemesis",
            "partition",
            "--time-limit",
            "60",
            "--seed",
            "2",
        ],
    );
    let took = started.elapsed();
    let out = text(&o);
    // A failed run, as any run error: not a verdict.
    assert_eq!(o.status.code(), Some(255), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("faultline: error: "))
        .unwrap_or_else(|| panic!("no error line in {out}"));
    let wanted = ": reply line 21 is not JSON: \"oops\" (docs/adapters.md#replies)";
    assert!(line.contains("adapter broken-py (worker "), "{line}");
    assert!(line.ends_with(wanted), "{line}");
    // It stopped at the failure, not at the 60 s time limit.
    assert!(took < Duration::from_secs(40), "took {took:?}");

    let dir = run_dir(tmp.path(), "broken-py-set-adapter");
    let r = results_json(&dir);
    assert!(r["error"].as_str().unwrap().ends_with(wanted), "{r}");
    assert_eq!(r["interrupted"], true);
    // What was recorded before stays: 20 correct replies per worker that
    // got that far, the offending op as info.
    let h = history(&dir);
    assert!(count_ops(&h, "add", "ok") >= 18, "{} ops", h.len());
    assert!(h
        .iter()
        .any(|o| o["type"] == "info" && o["error"].as_str().is_some_and(|e| e.ends_with(wanted))));
    // And it can still be analysed (the fixture keeps each process's set
    // in its own memory, so the verdict itself means nothing here).
    let hist: PathBuf = dir.join("history.jsonl");
    let check = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["check", hist.to_str().unwrap(), "--workload", "set"])
        .output()
        .unwrap();
    let said = text(&check);
    assert!(
        matches!(check.status.code(), Some(0..=2)),
        "check failed: {said}"
    );
    assert!(
        said.lines().any(|l| l.contains("history.jsonl: set ")),
        "{said}"
    );
}
