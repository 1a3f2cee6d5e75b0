//! Stores no one here wrote, shipped as descriptions (`--store garage`,
//! `--store couch`), end to end: real servers from a package registry in
//! network namespaces under real partitions, each with one setting its
//! documentation says is safe (expected valid) and one it says is not
//! (expected invalid, with the anomaly named).
//!
//! - Garage 2.5.0 (crates.io): `consistency_mode = "consistent"` promises
//!   read-after-write, so with the set-full checker's `linearizable = true`
//!   no read may miss an acknowledged add; `dangerous` (quorums of one)
//!   gives that up, and reads through a cut-off node come back stale.
//! - pouchdb-server 4.2.0 (npm), multi-master with continuous replication:
//!   a set kept as one document, written back after merging every
//!   conflicting revision, loses nothing; written back over the winning
//!   revision alone (`conflicts = "ignore"`, a client without conflict
//!   handling), the losing revisions' elements are lost.
//!
//! scripts/test installs both beforehand (Garage takes a quarter of an
//! hour to build the first time); a run would install them otherwise.

use crate::util::*;
use std::path::Path;

/// Flags every run here shares: five nodes, partitions every 3 s, a short
/// load, one seed.
const BASE: &[&str] = &[
    "--nodes",
    "5",
    "--nemesis",
    "partition",
    "--nemesis-interval",
    "3",
    "--time-limit",
    "12",
    "--quiesce",
    "5",
    "--seed",
    "20261208",
];

/// Runs `args` on top of [`BASE`] as the test `name`; its exit code and
/// results.
fn run(results: &Path, name: &str, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut all = vec!["--name", name];
    all.extend(args);
    let o = run_test_with(results, BASE, &all);
    let dir = run_dir(results, name);
    (o.status.code(), results_json(&dir), text(&o))
}

#[test]
fn garage_reads_after_writes_when_consistent_and_reads_stale_when_dangerous() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // Garage promises read-after-write: a stale read is a violation.
    let strict = tmp.path().join("strict.toml");
    std::fs::write(&strict, "[checkers.set-full]\nlinearizable = true\n").unwrap();
    let strict = strict.to_str().unwrap();
    let base = ["--store", "garage", "--workload", "set", "--config", strict];

    let (code, r, out) = run(tmp.path(), "consistent", &base);
    assert_eq!(code, Some(0), "{out}");
    let full = checker(&r, "set-full");
    assert_eq!(full["valid"], true, "{full}");
    assert!(out.contains(" 0 stale"), "{out}");

    let mut dangerous = base.to_vec();
    dangerous.extend(["--store-param", "consistency_mode=dangerous"]);
    let (code, r, out) = run(tmp.path(), "dangerous", &dangerous);
    assert_eq!(code, Some(1), "{out}");
    // Nothing lost: the anomaly is stale reads, named as such.
    assert_eq!(checker(&r, "set")["valid"], true, "{r}");
    let full = checker(&r, "set-full");
    assert_eq!(full["valid"], false, "{full}");
    let line = out
        .lines()
        .find(|l| l.starts_with("set-full"))
        .expect("a set-full line");
    assert!(
        line.contains("none of") && line.contains(" stale"),
        "{line}"
    );
    assert!(!line.contains(" 0 stale"), "{line}");
}

#[test]
fn couch_keeps_every_element_when_merging_conflicts_and_loses_some_when_ignoring_them() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let base = ["--store", "couch", "--workload", "set"];

    let (code, r, out) = run(tmp.path(), "merge", &base);
    assert_eq!(code, Some(0), "{out}");
    for name in ["set", "set-full", "convergence"] {
        assert_eq!(checker(&r, name)["valid"], true, "{name}: {r}");
    }

    let mut ignore = base.to_vec();
    ignore.extend(["--store-param", "conflicts=ignore"]);
    let (code, r, out) = run(tmp.path(), "ignore", &ignore);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(checker(&r, "set")["valid"], false, "{r}");
    let line = out
        .lines()
        .find(|l| l.starts_with("set "))
        .expect("a set line");
    assert!(line.contains("acknowledged elements lost"), "{line}");
    // The replicas still agree: the conflict was resolved, by dropping.
    assert_eq!(checker(&r, "convergence")["valid"], true, "{r}");
}
