//! Redis with Sentinel, a store faultline did not write, end to end:
//! Debian's `redis-server` and `redis-sentinel` in network namespaces,
//! real partitions. Jepsen's record is the yardstick: a primary cut off
//! from the majority keeps acknowledging writes, Sentinel promotes a
//! replica on the majority side, and when the partition heals the old
//! primary becomes a replica and its acknowledged writes are gone.

use crate::util::*;
use nemeses::partition::Partition;
use nemeses::schedule::{Action, Event, Fault};
use nemeses::targets::{OTHERS, PRIMARY};

/// The shared flags: a short `set` run through Sentinel discovery.
const REDIS: &[&str] = &[
    "--store",
    "redis",
    "--workload",
    "set",
    "--rate",
    "100",
    "--keys",
    "3",
    "--quiesce",
    "2",
    "--seed",
    "7",
];

#[test]
fn isolating_the_primary_loses_acknowledged_elements_and_the_checkers_name_them() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // Whichever node is primary when the fault starts is cut off from the
    // others from 2 s to 8 s: the two Sentinels on the majority side judge
    // it down after 1.5 s and promote a replica, while every client still
    // writes to the old primary (its own Sentinel, cut off too, names it;
    // the others hold a connection to it). Sentinel demotes it only some
    // seconds after the heal: every element it acknowledged is lost.
    let file = isolate_primary_schedule(tmp.path());
    let o = run_test_with(
        tmp.path(),
        REDIS,
        &[
            "--nodes",
            "3",
            "--nemesis-schedule",
            file.to_str().unwrap(),
            "--time-limit",
            "14",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let dir = run_dir(tmp.path(), "redis-set-plain");
    let r = results_json(&dir);
    // The checkers name the lost elements.
    let set = checker(&r, "set");
    assert_eq!(set["valid"], false, "{set}");
    let summary = set["summary"].as_str().unwrap();
    assert!(summary.contains("acknowledged elements lost"), "{summary}");
    let full = checker(&r, "set-full");
    assert_eq!(full["valid"], false, "{full}");
    let full_summary = full["summary"].as_str().unwrap();
    assert!(
        full_summary.contains("was acknowledged to process"),
        "{full_summary}"
    );
    let lost = full["details"]["lost"]
        .as_array()
        .unwrap_or_else(|| panic!("no lost elements listed: {full}"));
    assert!(lost.len() >= 50, "{} lost: {full_summary}", lost.len());
    // The fault was resolved to the real primary (n1, the first one) when
    // it started: the history and the journal name it, never the
    // placeholder.
    let h = history(&dir);
    let start = h
        .iter()
        .find(|o| o["f"] == "start-partition" && o["type"] == "info")
        .expect("the partition started");
    assert_eq!(start["value"]["label"], "partition n1|n2,n3", "{start}");
    assert!(start["error"].is_null(), "{start}");
    let journal = std::fs::read_to_string(dir.join("nemesis.jsonl")).unwrap();
    assert!(
        journal.contains("\"fault\":\"partition n1|n2,n3\""),
        "{journal}"
    );
    let history_text = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        !history_text.contains(PRIMARY),
        "placeholder in the history"
    );
    // Lost elements were acknowledged once the partition was under way
    // (from the moment the nemesis began cutting) or after it healed (to
    // the old primary, before Sentinel demoted it), never before.
    let began = h
        .iter()
        .find(|o| o["f"] == "start-partition" && o["type"] == "invoke")
        .and_then(|o| o["time"].as_u64())
        .unwrap();
    for e in lost {
        let at = e["ack_time"].as_u64().unwrap_or_else(|| panic!("{e}"));
        assert!(at >= began, "acknowledged before the fault: {e}");
    }
    // Afterwards every replica holds the same set (the new primary's).
    let conv = checker(&r, "convergence");
    assert_eq!(conv["valid"], true, "{conv}");
    // Servers' and Sentinels' logs are in the run's folder: failover seen.
    let sentinel_logs: String = ["n2", "n3"]
        .iter()
        .map(|n| std::fs::read_to_string(dir.join(n).join("sentinel.log")).unwrap())
        .collect();
    assert!(
        sentinel_logs.contains("+switch-master"),
        "no failover logged"
    );
    assert!(dir.join("n1").join("redis.log").is_file());
}

/// A schedule that isolates whichever node is primary from 2 s to 8 s.
fn isolate_primary_schedule(dir: &std::path::Path) -> std::path::PathBuf {
    let isolate = Fault::Partition(Partition::isolate(PRIMARY, &[OTHERS.to_string()], false));
    let schedule = [
        Event {
            at_ms: 2000,
            kind: nemeses::Kind::Partition,
            action: Action::Start { fault: isolate },
        },
        Event {
            at_ms: 8000,
            kind: nemeses::Kind::Partition,
            action: Action::Stop,
        },
    ];
    write_schedule(dir, "isolate-primary.json", &schedule)
}

#[test]
fn with_wait_no_acknowledged_element_is_lost_when_the_primary_is_cut_off() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // The same cut, but each SADD waits for a replica: the cut-off
    // primary cannot get one, so what it takes is `info`, never `ok`, and
    // the replica Sentinel promotes (the most advanced) holds everything
    // that was acknowledged. Reads on the old primary still saw elements
    // that then vanished: set-full says so, set (lost acknowledged
    // elements) does not.
    let file = isolate_primary_schedule(tmp.path());
    let o = run_test_with(
        tmp.path(),
        REDIS,
        &[
            "--client",
            "wait",
            "--nodes",
            "3",
            "--nemesis-schedule",
            file.to_str().unwrap(),
            "--time-limit",
            "14",
        ],
    );
    let dir = run_dir(tmp.path(), "redis-set-wait");
    let r = results_json(&dir);
    let set = checker(&r, "set");
    assert_eq!(set["valid"], true, "{set}\n{}", text(&o));
    let h = history(&dir);
    assert!(
        count_ops(&h, "add", "ok") >= 20,
        "too few acknowledged adds"
    );
    assert!(
        count_ops(&h, "add", "info") > 0,
        "no SADD left without a replica"
    );
}

#[test]
fn without_faults_every_acknowledged_element_survives() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // Five nodes: n4 and n5 run no Sentinel and ask the others.
    let o = run_test_with(
        tmp.path(),
        REDIS,
        &["--nodes", "5", "--nemesis", "none", "--time-limit", "6"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = run_dir(tmp.path(), "redis-set-plain");
    let r = results_json(&dir);
    for c in ["set", "set-full", "convergence", "perf"] {
        assert_eq!(checker(&r, c)["valid"], true, "{}", checker(&r, c));
    }
    let h = history(&dir);
    // Enough acknowledged adds for "none lost" to mean something (not a
    // throughput figure: the machine may be loaded).
    assert!(count_ops(&h, "add", "ok") >= 50, "too few adds");
    assert_eq!(
        count_ops(&h, "add", "info"),
        0,
        "unknown outcomes without faults"
    );
    assert_eq!(
        count_ops(&h, "read", "ok"),
        h.iter()
            .filter(|o| o["f"] == "read" && o["type"] == "invoke")
            .count()
    );
    // Every node's workers wrote, through the one primary.
    for n in ["n1", "n2", "n3", "n4", "n5"] {
        assert!(
            h.iter()
                .any(|o| o["node"] == n && o["f"] == "add" && o["type"] == "ok"),
            "no add from {n}"
        );
    }
}

#[test]
fn usage_errors_name_what_redis_cannot_do() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["--nodes", "2"], "at least 3 nodes"),
        (vec!["--nemesis", "membership"], "no membership changes"),
        (vec!["--client", "crdt"], "plain, wait"),
    ] {
        let o = run_test_with(tmp.path(), REDIS, &args);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {}", text(&o));
        let t = text(&o);
        assert!(t.contains(says), "{args:?}: {t}");
    }
    let o = run_test(tmp.path(), &["--store", "redis", "--workload", "register"]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
    assert!(text(&o).contains("set workload only"), "{}", text(&o));
    // And a store without a primary refuses faults aimed at one.
    let o = run_test(tmp.path(), &["--nemesis-targets", "primary"]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
    assert!(text(&o).contains("has no primary"), "{}", text(&o));
}
