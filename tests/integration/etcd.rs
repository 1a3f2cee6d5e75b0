//! etcd, a store faultline did not write, end to end: Debian's
//! `etcd-server` 3.4, five members in network namespaces, real partitions
//! and `kill -9`. Jepsen's record is the yardstick: linearizable reads pass,
//! serializable reads can be stale.

use crate::util::*;

/// The shared flags: a short register run.
const ETCD: &[&str] = &[
    "--store",
    "etcd",
    "--workload",
    "register",
    "--rate",
    "150",
    "--quiesce",
    "2",
    "--seed",
    "5",
];

#[test]
fn linearizable_reads_stay_linearizable_under_partitions_and_kills() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test_with(
        tmp.path(),
        ETCD,
        &[
            "--client",
            "linearizable",
            "--keys",
            "2",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "14",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = run_dir(tmp.path(), "etcd-register-linearizable");
    let r = results_json(&dir);
    let lin = checker(&r, "linearizable");
    assert_eq!(lin["valid"], true, "{lin}");
    // The faults happened, and the store kept serving through them.
    let h = history(&dir);
    assert!(count_ops(&h, "kill", "info") >= 1, "no kill recorded");
    assert!(
        count_ops(&h, "start-partition", "info") >= 1,
        "no partition"
    );
    assert!(count_ops(&h, "read", "ok") >= 20, "too few reads");
    assert!(count_ops(&h, "cas", "ok") >= 3, "too few swaps");
    // Every member holds every key at the same revision after the heal.
    let conv = checker(&r, "convergence");
    assert_eq!(conv["valid"], true, "{conv}");
    assert!(count_ops(&h, "read-local", "ok") >= 10);
    // The members' logs are in the run's folder, the write-ahead logs not.
    assert!(dir.join("n1").join("etcd.log").is_file());
    assert!(!dir.join("n1").join("data").exists());
}

#[test]
fn serializable_reads_on_a_cut_off_member_are_stale_and_named() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // n1 is cut off from the other four from 5 s to 10 s: the majority
    // keeps writing one register while n1's three clients read n1's frozen
    // copy (their writes time out after 1 s, so they read often). Values are
    // drawn from a million (`--values`), so a read names the write it saw:
    // with Jepsen's five values, every stale value also had a timed-out
    // write of the same value pending, which may take effect at any time,
    // and linearizability could explain the stale read by it (the staleness
    // checker, ordering by etcd's revisions, still saw it).
    let o = run_test_with(
        tmp.path(),
        ETCD,
        &[
            "--client",
            "serializable",
            "--keys",
            "1",
            "--values",
            "1000000",
            "--concurrency",
            "15",
            "--op-timeout-ms",
            "1000",
            "--nemesis",
            "partition",
            "--partition",
            "n1|n2,n3,n4,n5",
            "--nemesis-interval",
            "5",
            "--time-limit",
            "12",
        ],
    );
    let dir = run_dir(tmp.path(), "etcd-register-serializable");
    let r = results_json(&dir);
    let lin = checker(&r, "linearizable");
    let stale = checker(&r, "staleness");
    assert!(
        stale["details"]["stale_read_count"].as_u64().unwrap_or(0) > 0,
        "{stale}"
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(lin["valid"], false, "{lin}");
    assert!(
        lin["summary"]
            .as_str()
            .unwrap()
            .contains("cannot be linearized"),
        "{lin}"
    );
    // What cannot be ordered is a read, and the counterexample keeps it.
    // It is closed: every write of the value the read returned that could
    // have come before it is in it too, or, if its budgeted shrink gave up,
    // it is the blocked op and the longest linearizable prefix (`frontier`,
    // not minimal).
    let v = &lin["details"]["violation"];
    assert_eq!(v["blocked_op"]["f"], "read", "{lin}");
    let c = &v["counterexample"];
    let ops = c["ops"]
        .as_array()
        .unwrap_or_else(|| panic!("no counterexample: {lin}"));
    assert!(ops.iter().any(|o| o["f"] == "read"), "{lin}");
    if c["kind"] == "set" {
        let read = ops
            .iter()
            .find(|o| o == &&c["blocked_op"])
            .unwrap_or(&v["blocked_op"]);
        let seen = &read["result"];
        let before = read["complete_index"].as_u64().unwrap_or(u64::MAX);
        // Writes of that value invoked before the read completed, but for
        // those that failed (they did nothing).
        let h = history(&dir);
        let mut open = std::collections::HashMap::new();
        let mut writers = 0;
        for o in &h {
            let p = o["process"].clone().to_string();
            if o["type"] == "invoke" {
                open.insert(p, o);
            } else if let Some(i) = open.remove(&p) {
                if i["f"] == "write"
                    && &i["value"][1] == seen
                    && i["index"].as_u64().unwrap() < before
                    && o["type"] != "fail"
                {
                    writers += 1;
                }
            }
        }
        // Still open at the end: indeterminate.
        writers += open
            .values()
            .filter(|i| i["f"] == "write" && &i["value"][1] == seen)
            .filter(|i| i["index"].as_u64().unwrap() < before)
            .count();
        let kept = ops
            .iter()
            .filter(|o| o["f"] == "write" && &o["value"] == seen)
            .count();
        if read["f"] == "read" {
            assert_eq!(
                kept, writers,
                "every write of {seen} before the read: {lin}"
            );
        }
    } else {
        assert_eq!(c["kind"], "frontier", "{lin}");
        assert_eq!(c["minimal"], false, "{lin}");
    }
    // The staleness checker sees reads behind the latest acknowledged
    // version, and the report tells the reviewer in words.
    let stale = checker(&r, "staleness");
    assert!(
        stale["details"]["stale_read_count"].as_u64().unwrap_or(0) > 0,
        "{stale}"
    );
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("cannot be linearized"));
}

#[test]
fn clock_faults_are_refused_with_the_reason_and_other_workloads_too() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_test_with(
        tmp.path(),
        ETCD,
        &[
            "--client",
            "linearizable",
            "--nemesis",
            "clock",
            "--time-limit",
            "2",
        ],
    );
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
    assert!(text(&o).contains("Go binary"), "{}", text(&o));
    let o = run_test(tmp.path(), &["--store", "etcd", "--workload", "set"]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
    assert!(text(&o).contains("--workload register"), "{}", text(&o));
    let o = run_test(
        tmp.path(),
        &[
            "--store",
            "etcd",
            "--workload",
            "register",
            "--client",
            "cas",
        ],
    );
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
    assert!(
        text(&o).contains("linearizable, serializable"),
        "{}",
        text(&o)
    );
}
