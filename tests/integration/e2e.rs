//! End to end, for real: ringkv clusters in network namespaces, partitions
//! made of iptables rules, short bounded runs. Needs root (as CI has); the
//! tests fail, rather than skip, without it, so a green run always means the
//! faults were real.
//!
//! Each test uses its own results directory and its own cluster slot, so
//! they may run in parallel.

use crate::util::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Waits until a run under `name_dir` has ops and at least one fault on
/// disk; returns its history path.
fn wait_for_fault(name_dir: &Path) -> PathBuf {
    wait_for(name_dir, |text| {
        text.lines().count() > 50 && text.contains("\"start-partition\"")
    })
}

/// Waits until the history of the run under `name_dir` satisfies `ready`;
/// returns its path.
fn wait_for(name_dir: &Path, ready: impl Fn(&str) -> bool) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        assert!(
            Instant::now() < deadline,
            "the run never got to the awaited state"
        );
        std::thread::sleep(Duration::from_millis(100));
        let Some(dir) = std::fs::read_dir(name_dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path())
        else {
            continue;
        };
        let h = dir.join("history.jsonl");
        if ready(&std::fs::read_to_string(&h).unwrap_or_default()) {
            return h;
        }
    }
}

/// The `f` of the last completed nemesis op of each kind, in `text`.
fn last_nemesis_fs(text: &str) -> Vec<String> {
    let mut last = std::collections::BTreeMap::new();
    for op in text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|o| o["process"] == "nemesis" && o["type"] == "info")
    {
        let f = op["f"].as_str().unwrap_or_default().to_string();
        let kind = op["value"]["kind"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| f.clone());
        last.insert(
            if f.contains("clock") {
                "clock".into()
            } else {
                kind
            },
            f,
        );
    }
    last.into_values().collect()
}

/// The slot a live run holds, from its state file.
fn slot_of(pid: u32) -> String {
    let file = std::fs::read_dir("/run/faultline/clusters")
        .unwrap()
        .flatten()
        .find(|e| {
            std::fs::read_to_string(e.path())
                .map(|t| t.contains(&format!("\"owner_pid\": {pid}")))
                .unwrap_or(false)
        })
        .expect("the run's slot file")
        .path();
    file.file_stem()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("slot-")
        .to_string()
}

#[test]
fn crdt_set_under_partitions_is_valid() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test(
        tmp.path(),
        &[
            "--client",
            "crdt",
            "--time-limit",
            "8",
            "--nemesis-interval",
            "2",
            "--quiesce",
            "2",
            "--seed",
            "11",
            "--rate",
            "150",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("verdict: valid"));
    let dir = run_dir(tmp.path(), "set-crdt");
    let r = results_json(&dir);
    assert_eq!(r["valid"], serde_json::json!(true));
    let set = &r["checkers"][0];
    assert!(
        set["details"]["acknowledged_count"].as_u64().unwrap() >= 40,
        "{set}"
    );
    // One final read per node, plus any main-phase read invoked after the
    // last add (the checker counts those as final too: nothing could still
    // be missing from them).
    assert!(
        set["details"]["final_read_count"].as_u64().unwrap() >= 5,
        "{set}"
    );
    // The other checkers the set workload feeds ran, and agree.
    let names: Vec<&str> = r["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checker"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["set", "set-full", "convergence", "perf"]);
    let conv = &r["checkers"][2];
    assert_eq!(conv["valid"], true, "{conv}");
    assert_eq!(conv["details"]["key_count"], 5, "{conv}");
    // Faults really happened, were recorded, and were healed.
    let h = history(&dir);
    let starts = h
        .iter()
        .filter(|o| o["process"] == "nemesis" && o["f"] == "start-partition" && o["type"] == "info")
        .count();
    assert!(starts >= 1, "no partition was applied");
    let last_nemesis = h.iter().rev().find(|o| o["process"] == "nemesis").unwrap();
    assert_eq!(last_nemesis["f"], "stop-partition");
    // Everything a reviewer needs is there.
    for f in [
        "test.json",
        "report.html",
        "nemesis.jsonl",
        "n1/ringkv.log",
        "n5/ringkv.toml",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("<svg") && report.contains("valid"));
    assert!(tmp.path().join("latest").join("results.json").is_file());
}

#[test]
fn without_repair_replicas_that_missed_writes_never_converge() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // The same CRDT set, but ringkv's read repair and anti-entropy off: a
    // replica cut off during a write (W = 2 of N = 3) stays behind. Quorum
    // reads still see everything; only reading each replica shows it.
    let o = run_test(
        tmp.path(),
        &[
            "--time-limit",
            "8",
            "--nemesis-interval",
            "2",
            "--quiesce",
            "1",
            "--seed",
            "11",
            "--rate",
            "150",
            "--no-read-repair",
            "--anti-entropy",
            "0",
            "--convergence-timeout",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = results_json(&run_dir(tmp.path(), "set-crdt"));
    let by_name = |n: &str| {
        r["checkers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["checker"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_name("set")["valid"],
        true,
        "no acknowledged element is lost"
    );
    let conv = by_name("convergence");
    assert_eq!(conv["valid"], false, "{conv}");
    let first = &conv["details"]["divergent"][0];
    assert!(first["values"].as_object().unwrap().len() >= 2, "{first}");
    assert!(text(&o).contains("diverge"), "{}", text(&o));
}

#[test]
fn rmw_set_over_lww_loses_acknowledged_elements() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // One contended key: concurrent read-modify-writes overwrite each other.
    let o = run_test(
        tmp.path(),
        &[
            "--client",
            "rmw",
            "--conflict",
            "lww",
            "--nemesis",
            "partition,clock",
            "--time-limit",
            "6",
            "--nemesis-interval",
            "2",
            "--quiesce",
            "2",
            "--seed",
            "12",
            "--keys",
            "1",
            "--rate",
            "200",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("verdict: INVALID"));
    let dir = run_dir(tmp.path(), "set-rmw");
    let r = results_json(&dir);
    assert_eq!(r["valid"], serde_json::json!(false));
    let d = &r["checkers"][0]["details"];
    let lost = d["lost_count"].as_u64().unwrap();
    assert!(lost > 0, "{d}");
    // Each lost element was really acknowledged and really absent.
    let h = history(&dir);
    let first = &d["lost"][0];
    let e = &first["element"];
    assert!(h
        .iter()
        .any(|o| o["f"] == "add" && o["type"] == "ok" && &o["value"] == e));
    // The final reads (reads during the run may still have seen it).
    let final_indices: Vec<&serde_json::Value> = d["final_reads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["index"])
        .collect();
    let finals: Vec<_> = h
        .iter()
        .filter(|o| o["f"] == "read" && o["type"] == "ok" && final_indices.contains(&&o["index"]))
        .collect();
    assert!(!finals.is_empty(), "{d}");
    assert!(finals
        .iter()
        .all(|r| !r["value"].as_array().unwrap().contains(e)));
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("INVALID") && report.contains("lost"));
}

#[test]
fn rmw_set_keeps_every_element_when_the_store_keeps_siblings() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    for conflict in ["dvv", "vclock"] {
        let tmp = tempfile::tempdir().unwrap();
        // The same contention that loses elements under LWW: one key, many
        // concurrent read-modify-writes, partitions and kill -9 (the store
        // fsyncs before acknowledging). Siblings are merged by the client
        // and written back with their context.
        let o = run_test(
            tmp.path(),
            &[
                "--client",
                "rmw",
                "--conflict",
                conflict,
                "--nemesis",
                "partition,kill",
                "--time-limit",
                "6",
                "--nemesis-interval",
                "2",
                "--quiesce",
                "2",
                "--seed",
                "12",
                "--keys",
                "1",
                "--rate",
                "200",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{conflict}: {}", text(&o));
        let dir = run_dir(tmp.path(), &format!("set-rmw-{conflict}"));
        let r = results_json(&dir);
        let d = &r["checkers"][0]["details"];
        assert!(
            d["acknowledged_count"].as_u64().unwrap() >= 30,
            "{conflict}: {d}"
        );
        let config = std::fs::read_to_string(dir.join("n1/ringkv.toml")).unwrap();
        assert!(
            config.contains(&format!("conflict = \"{conflict}\"")),
            "{config}"
        );
    }
}

#[test]
fn paxos_registers_are_linearizable_under_faults_and_quorum_registers_are_not() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let common = [
        "--workload",
        "register",
        "--nemesis-interval",
        "2",
        "--time-limit",
        "8",
        "--keys",
        "3",
        "--rate",
        "100",
        "--seed",
        "3",
    ];
    // Every operation a Paxos round: linearizable through partitions, kill
    // -9 and clock bumps.
    let mut args = common.to_vec();
    args.extend(["--client", "cas", "--nemesis", "partition,kill,clock"]);
    let o = run_test(tmp.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = results_json(&run_dir(tmp.path(), "register-cas"));
    let lin = &r["checkers"][0];
    assert_eq!(
        (lin["checker"].as_str(), &lin["valid"]),
        (Some("linearizable"), &json!(true))
    );
    // The values repeat, but every read and write carries the ballot it was
    // chosen at: in that order no session ever goes back.
    assert_eq!(
        checker_names(&r),
        ["linearizable", "sessions", "staleness", "perf"]
    );
    let sessions = &r["checkers"][1];
    assert_eq!(sessions["valid"], true, "{sessions}");
    assert!(
        sessions["details"]["ok_read_count"].as_u64().unwrap() >= 10,
        "{sessions}"
    );
    // Plain quorum reads and writes with a read-then-write cas: the checker
    // finds ops no order explains, and names them.
    let mut args = common.to_vec();
    args.extend(["--client", "quorum", "--nemesis", "partition,clock"]);
    let o = run_test(tmp.path(), &args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = results_json(&run_dir(tmp.path(), "register-quorum"));
    let lin = &r["checkers"][0];
    assert_eq!(lin["valid"], false, "{lin}");
    // Judged in the store's own order (last-write-wins timestamps, which
    // the clock nemesis skews): whatever sessions says is the store's truth.
    // Its replicas, read locally after the heal, must agree (last-write-wins
    // registers repaired by anti-entropy).
    assert_eq!(
        checker_names(&r),
        [
            "linearizable",
            "sessions",
            "staleness",
            "convergence",
            "perf"
        ]
    );
    assert_eq!(r["checkers"][3]["valid"], true, "{}", r["checkers"][3]);
    assert!(
        lin["summary"]
            .as_str()
            .unwrap()
            .contains("cannot be linearized"),
        "{lin}"
    );
    // The counterexample is closed (every write of a value its reads saw
    // that could have come first is kept: with values 0-4, possibly
    // dozens), or the blocked op and the longest prefix if its budgeted
    // shrink gave up; either way it holds the op it blames.
    let c = &lin["details"]["violation"]["counterexample"];
    let ops = c["ops"]
        .as_array()
        .unwrap_or_else(|| panic!("no counterexample ops: {lin}"));
    assert!(ops.contains(&c["blocked_op"]), "{lin}");
    assert!(c["kind"] == "set" || c["kind"] == "frontier", "{lin}");
}

#[test]
fn pn_counter_counts_every_increment_and_read_modify_write_loses_some() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let run = |client: &str| {
        run_test(
            tmp.path(),
            &[
                "--workload",
                "counter",
                "--client",
                client,
                "--nemesis",
                "partition,kill",
                "--nemesis-interval",
                "2",
                "--time-limit",
                "6",
                "--quiesce",
                "1",
                "--seed",
                "5",
                "--rate",
                "100",
            ],
        )
    };
    let o = run("crdt");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = results_json(&run_dir(tmp.path(), "counter-crdt"));
    let names: Vec<&str> = r["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checker"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["counter", "convergence", "perf"]);
    assert!(
        r["checkers"][0]["details"]["final_reads"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    let o = run("rmw");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = results_json(&run_dir(tmp.path(), "counter-rmw"));
    let c = &r["checkers"][0];
    assert_eq!(c["valid"], false, "{c}");
    assert!(
        c["summary"].as_str().unwrap().contains("out of bounds"),
        "{c}"
    );
}

#[test]
fn dotted_version_vectors_bound_siblings_and_node_clocks_explode() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let run = |conflict: &str, nemesis: &str| {
        run_test(
            tmp.path(),
            &[
                "--workload",
                "siblings",
                "--conflict",
                conflict,
                "--nemesis",
                nemesis,
                "--nemesis-interval",
                "2",
                "--time-limit",
                "6",
                "--quiesce",
                "0",
                "--seed",
                "5",
                "--keys",
                "1",
                "--rate",
                "200",
            ],
        )
    };
    // Ten writers on one key, each writing with the context it just read.
    let o = run("dvv", "partition");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = results_json(&run_dir(tmp.path(), "siblings-context-dvv"));
    let s = &r["checkers"][0];
    assert_eq!(
        (s["checker"].as_str(), &s["valid"]),
        (Some("siblings"), &json!(true)),
        "{s}"
    );
    // After the heal every replica of the key holds the same siblings.
    let c = &r["checkers"][1];
    assert_eq!(
        (c["checker"].as_str(), &c["valid"]),
        (Some("convergence"), &json!(true)),
        "{c}"
    );
    let o = run("node-vclock", "none");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = results_json(&run_dir(tmp.path(), "siblings-context-node-vclock"));
    let s = &r["checkers"][0];
    assert_eq!(s["valid"], false, "{s}");
    assert!(
        s["summary"]
            .as_str()
            .unwrap()
            .contains("concurrent writers"),
        "{s}"
    );
}

#[test]
fn or_set_keeps_adds_no_remove_could_have_seen_under_faults() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test(
        tmp.path(),
        &[
            "--workload",
            "or-set",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "6",
            "--quiesce",
            "1",
            "--seed",
            "6",
            "--rate",
            "100",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = results_json(&run_dir(tmp.path(), "or-set-crdt"));
    let names: Vec<&str> = r["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checker"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["crdt", "convergence", "perf"]);
    assert_eq!(
        r["checkers"][0]["details"]["or_set"]["final_read_count"], 5,
        "{r}"
    );
}

/// The names of the checkers a run's results list, in order.
fn checker_names(r: &serde_json::Value) -> Vec<&str> {
    r["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checker"].as_str().unwrap())
        .collect()
}

#[test]
fn sequence_crdt_under_partitions_keeps_every_list_and_each_writers_order() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test(
        tmp.path(),
        &[
            "--workload",
            "sequence",
            "--keys",
            "3",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "8",
            // An insert a partition left on one replica (its outcome
            // unknown) must reach a second one before the final reads, or
            // coordinators reading different pairs disagree: a node's
            // anti-entropy meets at least three of its four peers in the
            // quiescence, so at least one of the key's other replicas.
            "--anti-entropy",
            "1",
            "--quiesce",
            "4",
            "--seed",
            "12",
            "--rate",
            "100",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = run_dir(tmp.path(), "sequence-crdt");
    let r = results_json(&dir);
    assert_eq!(checker_names(&r), ["crdt", "convergence", "perf"]);
    let seq = &r["checkers"][0]["details"]["sequence"];
    assert_eq!(r["checkers"][0]["valid"], true, "{seq}");
    // Every node read every list at the end, and they agreed.
    assert_eq!(seq["final_read_count"], 15, "{seq}");
    assert_eq!(r["checkers"][1]["valid"], true, "{}", r["checkers"][1]);
    // What was judged: real contention on shared lists under real faults.
    let h = history(&dir);
    assert!(h.iter().any(|o| o["f"] == "start-partition"));
    assert!(count_ops(&h, "insert", "ok") >= 30, "inserts");
    assert!(count_ops(&h, "delete", "ok") >= 3, "deletes");
    let reads: Vec<&serde_json::Value> = h
        .iter()
        .filter(|o| o["f"] == "read-list" && o["type"] == "ok")
        .collect();
    assert!(reads.len() >= 10, "{} reads", reads.len());
    // Seen directly, not through the checker: each list's final reads
    // (the last read of it from each node) are identical and hold several
    // writers' chains, interleaved, each writer's elements (worker × 1e6 +
    // its n-th element) in the order it made them.
    let acknowledged: std::collections::BTreeSet<(&str, u64)> = h
        .iter()
        .filter(|o| o["f"] == "insert" && o["type"] == "ok")
        .map(|o| {
            (
                o["value"][0].as_str().unwrap(),
                o["value"][1].as_u64().unwrap(),
            )
        })
        .collect();
    for list in ["l0", "l1", "l2"] {
        let mut last: std::collections::BTreeMap<&str, &serde_json::Value> = Default::default();
        for o in reads.iter().filter(|o| o["value"][0] == list) {
            last.insert(o["node"].as_str().unwrap(), &o["value"][1]);
        }
        assert_eq!(last.len(), 5, "{list}");
        let first = last["n1"];
        assert!(last.values().all(|l| *l == first), "{list}: {last:?}");
        let elements: Vec<u64> = first
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_u64().unwrap())
            .collect();
        let mut by_writer: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
        for e in &elements {
            by_writer.entry(e / 1_000_000).or_default().push(*e);
        }
        assert!(
            elements.len() > 10 && by_writer.len() >= 4,
            "{list}: {elements:?}"
        );
        // Each writer chains an insert after its last *acknowledged* one: an
        // insert whose outcome is unknown (timed out, then applied) sits
        // after the same element as the writer's next one, and RGA puts the
        // newer first. So the writer's order holds for acknowledged inserts.
        for (w, own) in &by_writer {
            let acked: Vec<u64> = own
                .iter()
                .copied()
                .filter(|e| acknowledged.contains(&(list, *e)))
                .collect();
            assert!(
                acked.windows(2).all(|p| p[0] < p[1]),
                "{list}, writer {w}: {acked:?} (all: {own:?})"
            );
        }
    }
}

#[test]
fn session_with_random_coordinators_under_sloppy_quorums_breaks_session_guarantees() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test(
        tmp.path(),
        &[
            "--workload",
            "session",
            "--client",
            "random",
            "--sloppy-quorum",
            "--r",
            "1",
            "--w",
            "1",
            "--keys",
            "2",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "8",
            "--quiesce",
            "1",
            "--seed",
            "21",
            "--rate",
            "100",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let dir = run_dir(tmp.path(), "session-random");
    let r = results_json(&dir);
    assert_eq!(
        checker_names(&r),
        ["sessions", "staleness", "convergence", "perf"]
    );
    let s = &r["checkers"][0];
    assert_eq!(s["valid"], false, "{s}");
    let summary = s["summary"].as_str().unwrap();
    assert!(
        summary.contains("session guarantee violation")
            && (summary.contains("monotonic reads") || summary.contains("read-your-writes")),
        "{summary}"
    );
    // Each violation names two ops of one process; with random
    // coordinators, some such pair went through two different nodes.
    let h = history(&dir);
    let node_of = |index: &serde_json::Value| -> String {
        h.iter()
            .find(|o| &o["index"] == index)
            .and_then(|o| o["node"].as_str())
            .unwrap()
            .to_string()
    };
    let violations = s["details"]["violations"].as_array().unwrap();
    assert!(
        violations
            .iter()
            .any(|v| node_of(&v["earlier"]["index"]) != node_of(&v["later"]["index"])),
        "{s}"
    );
    // Staleness measured what the sessions saw.
    assert!(
        r["checkers"][1]["details"]["stale_read_count"]
            .as_u64()
            .unwrap()
            > 0,
        "{}",
        r["checkers"][1]
    );
}

#[test]
fn session_with_sticky_coordinators_under_strict_quorums_holds_every_guarantee() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test(
        tmp.path(),
        &[
            "--workload",
            "session",
            "--keys",
            "2",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "8",
            "--quiesce",
            "1",
            "--seed",
            "21",
            "--rate",
            "100",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = run_dir(tmp.path(), "session-sticky");
    let r = results_json(&dir);
    assert_eq!(
        checker_names(&r),
        ["sessions", "staleness", "convergence", "perf"]
    );
    let s = &r["checkers"][0];
    assert_eq!(s["valid"], true, "{s}");
    assert!(s["details"]["ok_read_count"].as_u64().unwrap() >= 30, "{s}");
    assert!(
        s["details"]["ok_write_count"].as_u64().unwrap() >= 20,
        "{s}"
    );
    // Sticky: every op of a process went to one node, under real faults.
    let h = history(&dir);
    assert!(h.iter().any(|o| o["f"] == "start-partition"));
    let mut node_of: std::collections::HashMap<u64, &str> = Default::default();
    for o in h.iter().filter(|o| o["f"] == "read" || o["f"] == "write") {
        let p = o["process"].as_u64().unwrap();
        let n = o["node"].as_str().unwrap();
        assert_eq!(*node_of.entry(p).or_insert(n), n, "process {p}");
    }
}

#[test]
fn sigkilled_run_leaves_a_checkable_history_and_heal_cleans_up() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = faultline()
        .arg("test")
        .args(["--results", tmp.path().to_str().unwrap()])
        .args([
            "--time-limit",
            "60",
            "--nemesis",
            "partition,clock",
            "--nemesis-interval",
            "4",
            "--seed",
            "13",
            "--name",
            "killed",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it while a partition and a clock bump are both in force.
    let hist = wait_for(&tmp.path().join("killed"), |text| {
        let last = last_nemesis_fs(text);
        last.contains(&"start-partition".to_string()) && last.contains(&"bump-clock".to_string())
    });
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(hist.with_file_name("test.json")).unwrap())
            .unwrap();
    assert_eq!(config["seed"], 13);
    let slot = slot_of(child.id());
    let slot_file = PathBuf::from(format!("/run/faultline/clusters/slot-{slot}.json"));
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind.
                           // Not reaped yet: the dead controller stays a zombie (as when its parent
                           // is slow to reap it), which `heal` must count as dead.
    let stat = format!("/proc/{}/stat", child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&stat).is_ok_and(|s| s.contains(") Z")) {
        assert!(
            Instant::now() < deadline,
            "the killed controller never died"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = hist.parent().unwrap();
    let offsets = || -> Vec<String> {
        (1..=5)
            .map(|i| std::fs::read_to_string(run.join(format!("n{i}/faketime.rc"))).unwrap())
            .collect()
    };
    assert!(
        offsets().iter().any(|o| o != "+0.000s\n"),
        "expected a skewed clock left behind: {:?}",
        offsets()
    );

    // Whatever was recorded is readable by `faultline check`.
    let o = faultline()
        .args(["check", hist.to_str().unwrap(), "--workload", "set"])
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "check could not read the history of a killed run: {}",
        text(&o)
    );
    // The dead run left its namespaces (with their partition rules); heal
    // removes exactly those, and resets the clocks the journal names.
    let prefix = format!("fl{slot}-");
    assert!(
        !namespaces_of(&prefix).is_empty(),
        "expected leftovers of the killed run"
    );
    let o = faultline().arg("heal").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("cleaned slot {slot}")),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("reset clock offset"), "{}", text(&o));
    assert!(
        namespaces_of(&prefix).is_empty(),
        "heal left namespaces behind"
    );
    assert!(!slot_file.exists());
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&links.stdout).contains(&format!("flbr{slot}:")));
    assert!(
        offsets().iter().all(|o| o == "+0.000s\n"),
        "offset files still in effect: {:?}",
        offsets()
    );
    child.wait().unwrap();
}

#[test]
fn every_fault_kind_in_one_run_is_scheduled_recorded_and_reported() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test(
        tmp.path(),
        &[
            "--nemesis",
            "all",
            "--nemesis-interval",
            "1.5",
            "--time-limit",
            "9",
            "--quiesce",
            "1",
            "--seed",
            "15",
            "--rate",
            "100",
            "--name",
            "all",
        ],
    );
    // Killing in-memory ringkv nodes may lose data: any verdict will do,
    // the run itself must not fail.
    assert!(matches!(o.status.code(), Some(0..=2)), "{}", text(&o));
    let dir = run_dir(tmp.path(), "all");
    let h = history(&dir);
    let nemesis: Vec<&serde_json::Value> = h
        .iter()
        .filter(|o| o["process"] == "nemesis" && o["type"] == "invoke")
        .collect();
    for f in [
        "start-partition",
        "stop-partition",
        "start-loss",
        "stop-loss",
        "reset-clock",
        "kill",
        "start",
        "pause",
        "resume",
    ] {
        assert!(nemesis.iter().any(|o| o["f"] == f), "no {f} in the history");
    }
    assert!(nemesis
        .iter()
        .any(|o| o["f"] == "bump-clock" || o["f"] == "strobe-clock"));
    // The history follows the schedule the seed gave, event for event; the
    // final heal may add stops after it.
    let schedule: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("schedule.json")).unwrap()).unwrap();
    let planned: Vec<(String, String)> = schedule
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(planned.len() >= 10, "{planned:?}");
    let recorded: Vec<(String, String)> = nemesis
        .iter()
        .map(|o| {
            let f = o["f"].as_str().unwrap();
            let (kind, starts) = nemeses::schedule::kind_of_f(f).unwrap();
            (
                kind.to_string(),
                if starts { "start" } else { "stop" }.to_string(),
            )
        })
        .collect();
    // Faults are applied in schedule order; one slow to apply delays those
    // after it, and the time limit may cut the tail. What follows the
    // executed prefix is the final heal: stops only.
    let done = recorded
        .iter()
        .zip(&planned)
        .take_while(|(r, p)| r == p)
        .count();
    assert!(
        done >= 12,
        "only {done} events followed the schedule: {recorded:?}"
    );
    assert!(
        recorded[done..].iter().all(|(_, a)| a == "stop"),
        "after the schedule, only heal stops may follow: {:?}",
        &recorded[done..]
    );
    // Every window is listed in the report.
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let netem_missing = text(&o).contains("runs without netem");
    for kind in nemeses::KINDS {
        if *kind == "netem" && netem_missing {
            assert!(!report.contains("<td>netem</td>"));
            continue;
        }
        assert!(
            report.contains(&format!("<td>{kind}</td>")),
            "no {kind} window in the report"
        );
    }
    // The same seed gives the same schedule again.
    let again = run_test(
        tmp.path(),
        &[
            "--nemesis",
            "all",
            "--nemesis-interval",
            "1.5",
            "--time-limit",
            "2",
            "--quiesce",
            "0",
            "--seed",
            "15",
            "--rate",
            "20",
            "--name",
            "again",
        ],
    );
    assert!(
        matches!(again.status.code(), Some(0..=2)),
        "{}",
        text(&again)
    );
    let again: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(run_dir(tmp.path(), "again").join("schedule.json")).unwrap(),
    )
    .unwrap();
    let n = again.len();
    assert!(n >= 1);
    assert_eq!(&schedule[..n], &again[..], "same seed, different faults");
}

#[test]
fn ctrl_c_and_sigterm_heal_tear_down_and_keep_partial_results() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    for (signal, name) in [
        (nix::sys::signal::Signal::SIGINT, "sigint"),
        (nix::sys::signal::Signal::SIGTERM, "sigterm"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let child = faultline()
            .arg("test")
            .args(["--results", tmp.path().to_str().unwrap()])
            .args([
                "--time-limit",
                "60",
                "--nemesis-interval",
                "1",
                "--seed",
                "14",
                "--name",
                name,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let hist = wait_for_fault(&tmp.path().join(name));
        let slot = slot_of(child.id());
        let sent = Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(
            sent.elapsed() < Duration::from_secs(20),
            "{name}: slow to stop"
        );
        assert_eq!(o.status.code(), Some(255), "{name}: {}", text(&o));
        assert!(text(&o).contains("interrupted"), "{name}: {}", text(&o));
        // Healed: the last fault op is a stop, and nothing is left behind.
        let h = history(hist.parent().unwrap());
        let last = h.iter().rev().find(|o| o["process"] == "nemesis").unwrap();
        assert_eq!(last["f"], "stop-partition", "{name}");
        assert!(
            namespaces_of(&format!("fl{slot}-")).is_empty(),
            "{name}: namespaces left"
        );
        assert!(!Path::new(&format!("/run/faultline/clusters/slot-{slot}.json")).exists());
        // Partial results are saved and say so.
        let r = results_json(hist.parent().unwrap());
        assert_eq!(r["interrupted"], true, "{name}");
        assert!(hist.with_file_name("report.html").is_file());
    }
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_heal_cleans_up_after_it() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let child = faultline()
        .arg("test")
        .args(["--results", tmp.path().to_str().unwrap()])
        .args([
            "--time-limit",
            "60",
            "--nemesis-interval",
            "1",
            "--seed",
            "15",
        ])
        .args(["--name", "twice"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let hist = wait_for_fault(&tmp.path().join("twice"));
    let slot = slot_of(child.id());
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let sent = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "a second Ctrl-C must not wait for the heal"
    );
    assert_eq!(o.status.code(), Some(255), "{}", text(&o));
    assert!(text(&o).contains("interrupted twice"), "{}", text(&o));
    assert!(text(&o).contains("faultline heal"), "{}", text(&o));
    // What was recorded is kept and readable.
    let o = faultline()
        .args(["check", hist.to_str().unwrap(), "--workload", "set"])
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0..=2)), "{}", text(&o));
    // `faultline heal` finishes the job the second Ctrl-C skipped (the
    // first may already have removed some of it).
    let o = faultline().arg("heal").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        namespaces_of(&format!("fl{slot}-")).is_empty(),
        "namespaces left after heal"
    );
    assert!(!Path::new(&format!("/run/faultline/clusters/slot-{slot}.json")).exists());
}

#[test]
fn netem_runs_where_the_kernel_has_it_and_says_so_where_not() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test(
        tmp.path(),
        &[
            "--nemesis",
            "netem",
            "--nemesis-interval",
            "1",
            "--time-limit",
            "3",
            "--quiesce",
            "0",
            "--seed",
            "16",
            "--rate",
            "20",
            "--nodes",
            "3",
            "--name",
            "netem",
        ],
    );
    let out = text(&o);
    if out.contains("lacks") {
        // Asked for by name on a kernel without netem: a clear error, before
        // any fault, naming what is missing and what to use instead.
        assert_eq!(o.status.code(), Some(255), "{out}");
        assert!(
            out.contains("sch_netem") && out.contains("--nemesis loss"),
            "{out}"
        );
        let h = history(&run_dir(tmp.path(), "netem"));
        assert!(
            h.iter().all(|op| op["process"] != "nemesis"),
            "a fault was recorded"
        );
    } else {
        assert!(matches!(o.status.code(), Some(0..=2)), "{out}");
        let h = history(&run_dir(tmp.path(), "netem"));
        assert!(h.iter().any(|op| op["f"] == "start-netem"), "{out}");
        assert!(h.iter().any(|op| op["f"] == "stop-netem"), "{out}");
    }
}

/// A real run leaves what CI acts on: `junit.xml` and `summary.md` in its
/// folder, `results/index.html` beside the runs, and its start time and
/// duration in `results.json`.
#[test]
fn a_run_writes_junit_summary_and_the_index() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test(
        tmp.path(),
        &[
            "--nodes",
            "3",
            "--nemesis",
            "none",
            "--time-limit",
            "3",
            "--quiesce",
            "1",
            "--seed",
            "5",
            "--rate",
            "50",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let dir = run_dir(tmp.path(), "set-crdt");

    let r = results_json(&dir);
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

/// A run you can watch: on a terminal (a pseudo-terminal from util-linux's
/// `script`) a live status line goes through the phases; without one, plain
/// status lines; either way the controller's log is in the run's folder.
#[test]
fn a_run_shows_its_phases_live_on_a_terminal_and_plain_lines_without() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("tty");
    let cmd = format!(
        "{} test --results {} --nodes 3 --time-limit 4 --quiesce 2 --seed 5",
        env!("CARGO_BIN_EXE_faultline"),
        results.display()
    );
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env_remove("FAULTLINE_STATUS")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("running faultline under script(1)");
    let tty = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{tty}");
    // The phases in the order they came (each redraw names the current one;
    // short phases may pass between two redraws, 200 ms apart, but setup
    // is drawn first and the main phase lasts 4 s).
    let order = [
        "setup",
        "main",
        "heal",
        "quiesce",
        "final reads",
        "convergence",
    ];
    let mut seen: Vec<usize> = Vec::new();
    for chunk in tty.split(['\r', '\n']) {
        for (i, phase) in order.iter().enumerate() {
            if chunk.contains(&format!("] {phase} ")) && seen.last() != Some(&i) {
                seen.push(i);
            }
        }
    }
    assert_eq!(seen[..2], [0, 1], "{tty}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}: {tty}");
    assert!(tty.contains("ops ok "), "{tty}");
    assert!(tty.contains("faults in force: "), "{tty}");
    let dir = run_dir(&results, "set-crdt");
    let log = std::fs::read_to_string(dir.join("faultline.log")).unwrap();
    for phase in ["main", "heal", "quiesce", "final reads", "check", "report"] {
        assert!(
            log.contains(&format!("phase phase={phase} ")),
            "{phase}: {log}"
        );
    }

    // Without a terminal: a plain line every few seconds (the run lasts
    // longer than one period: 4 s main phase, 2 s quiescence).
    let results = tmp.path().join("plain");
    let o = run_test(
        &results,
        &[
            "--nodes",
            "3",
            "--time-limit",
            "4",
            "--quiesce",
            "2",
            "--seed",
            "5",
            "--log-json",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let status: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("faultline: [") && l.contains(" · ops ok "))
        .collect();
    assert!(!status.is_empty(), "no status line: {out}");
    assert!(
        !out.contains('\r'),
        "no terminal redraws without a terminal"
    );
    let dir = run_dir(&results, "set-crdt");
    let log = std::fs::read_to_string(dir.join("faultline.log")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["message"] == "phase" && e["fields"]["phase"] == "final reads"),
        "{log}"
    );
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("href=\"faultline.log\""));
}
