//! The faults below the store, end to end on real namespaces: power
//! failures through faultfs (a real FUSE mount over each node's data
//! directory), corrupted data files, and slow nodes in real cgroups.
//!
//! The schedules are fixed (`--nemesis-schedule`), so each test knows which
//! node is hit when; what a fault does to the store is read from the
//! verdict, the history and what the machine shows (`/proc/mounts`, the
//! cgroup's files). Needs root and `/dev/fuse` (as CI has): the tests fail,
//! rather than skip, without them.

use crate::util::*;
use nemeses::disk::Corruption;
use nemeses::schedule::{Action, Event, Fault};
use nemeses::Kind;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn all_nodes() -> Vec<String> {
    (1..=5).map(|i| format!("n{i}")).collect()
}

fn start(at_ms: u64, fault: Fault) -> Event {
    Event {
        at_ms,
        kind: fault.kind(),
        action: Action::Start { fault },
    }
}

fn stop(at_ms: u64, kind: Kind) -> Event {
    Event {
        at_ms,
        kind,
        action: Action::Stop,
    }
}

/// The nemesis ops of `h` with `f`, completed (`info`).
fn done<'a>(h: &'a [serde_json::Value], f: &str) -> Vec<&'a serde_json::Value> {
    h.iter()
        .filter(|o| o["process"] == "nemesis" && o["type"] == "info" && o["f"] == f)
        .collect()
}

/// faultfs mounts under `dir` on this machine.
fn mounts_under(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/mounts").unwrap();
    faultline::cluster::faultfs::mounts_under(&table, dir)
        .into_iter()
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn a_power_failure_loses_what_was_not_fsynced_and_nothing_that_was() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // Every node loses power at once (a coordinated failure), 2.5 s in.
    let schedule = write_schedule(
        tmp.path(),
        "power.json",
        &[
            start(
                2500,
                Fault::Power {
                    targets: all_nodes(),
                },
            ),
            stop(3500, Kind::Power),
        ],
    );
    for (fsync, code) in [("never", 1), ("always", 0)] {
        let name = format!("power-{fsync}");
        let o = run_test(
            tmp.path(),
            &[
                "--fsync",
                fsync,
                "--nemesis",
                "power",
                "--nemesis-schedule",
                schedule.to_str().unwrap(),
                "--time-limit",
                "6",
                "--quiesce",
                "2",
                "--rate",
                "100",
                "--seed",
                "21",
                "--name",
                &name,
            ],
        );
        assert_eq!(o.status.code(), Some(code), "{fsync}: {}", text(&o));
        let dir = run_dir(tmp.path(), &name);
        let h = history(&dir);
        // The fault happened, to every node, without an error.
        let off = done(&h, "power-off");
        assert_eq!(off.len(), 1, "{off:?}");
        assert!(off[0]["error"].is_null(), "{}", off[0]);
        assert_eq!(off[0]["value"]["targets"].as_array().unwrap().len(), 5);
        assert!(done(&h, "power-on")[0]["error"].is_null());
        // Acknowledged adds on both sides of it, so the verdict means
        // something.
        let acked = |before: bool| {
            let cut = off[0]["index"].as_u64().unwrap();
            h.iter()
                .filter(|o| o["f"] == "add" && o["type"] == "ok")
                .filter(|o| (o["index"].as_u64().unwrap() < cut) == before)
                .count()
        };
        assert!(acked(true) >= 20 && acked(false) >= 5, "{fsync}");
        let r = results_json(&dir);
        let set = checker(&r, "set");
        if fsync == "never" {
            // Written, acknowledged, never fsynced: gone with the power.
            assert!(set["details"]["lost_count"].as_u64().unwrap() > 0, "{set}");
        } else {
            assert_eq!(set["valid"], true, "{set}");
        }
        let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(report.contains("<td>power</td>"));
        // The mounts went with the run.
        assert!(mounts_under(tmp.path()).is_empty());
        let log = std::fs::read_to_string(dir.join("n1/faultfs.log")).unwrap();
        assert!(log.contains("mounted"), "{log}");
    }
}

#[test]
fn a_slow_node_keeps_answering_inside_a_cgroup_that_the_stop_removes() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let schedule = write_schedule(
        tmp.path(),
        "slow.json",
        &[
            start(
                1000,
                Fault::Slow {
                    targets: vec!["n2".into()],
                    cpu_percent: 5,
                    disk_delay_ms: 50,
                },
            ),
            stop(6000, Kind::Slow),
        ],
    );
    let child = faultline()
        .arg("test")
        .args(["--results", tmp.path().to_str().unwrap()])
        .args([
            "--nemesis",
            "slow",
            "--nemesis-schedule",
            schedule.to_str().unwrap(),
            "--time-limit",
            "8",
            "--quiesce",
            "1",
            "--rate",
            "100",
            "--name",
            "slow",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While the fault is in force: n2's ringkv is in the cgroup, whose
    // quota is 5 % of one CPU.
    let cgroup = format!("/sys/fs/cgroup/cpu/faultline-{}-n2", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    let (procs, quota) = loop {
        assert!(Instant::now() < deadline, "the slow fault never started");
        let procs = std::fs::read_to_string(format!("{cgroup}/cgroup.procs")).unwrap_or_default();
        if !procs.trim().is_empty() {
            let quota = std::fs::read_to_string(format!("{cgroup}/cpu.cfs_quota_us")).unwrap();
            break (procs, quota);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(quota.trim(), "5000");
    let pid: u32 = procs.lines().next().unwrap().trim().parse().unwrap();
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmdline.contains("ringkv"), "{cmdline}");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!Path::new(&cgroup).exists(), "the cgroup was left behind");
    let dir = run_dir(tmp.path(), "slow");
    let h = history(&dir);
    let on = done(&h, "start-slow");
    assert!(on[0]["error"].is_null(), "{}", on[0]);
    assert_eq!(on[0]["value"]["label"], "slow n2: 5% CPU, disk +50 ms");
    assert!(done(&h, "stop-slow")[0]["error"].is_null());
    // n2 kept answering while slow: it coordinated acknowledged writes.
    let (from, to) = (
        on[0]["index"].as_u64(),
        done(&h, "stop-slow")[0]["index"].as_u64(),
    );
    let during = h
        .iter()
        .filter(|o| o["type"] == "ok" && o["node"] == "n2")
        .filter(|o| o["index"].as_u64() > from && o["index"].as_u64() < to)
        .count();
    assert!(during > 0, "n2 answered nothing while slow");
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("<td>slow</td>"));
    // Each node's latency is drawn on its own line.
    assert!(report.contains("Latency by node"), "no latency by node");
    // The journal has the exact commands, the cgroup's among them.
    let journal = std::fs::read_to_string(dir.join("nemesis.jsonl")).unwrap();
    assert!(journal.contains("slow n2"), "{journal}");
    assert!(journal.contains("cpu.cfs_quota_us"), "{journal}");
}

#[test]
fn corrupted_files_are_recorded_with_what_changed_where() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let one = || vec!["n1".to_string()];
    let schedule = write_schedule(
        tmp.path(),
        "corrupt.json",
        &[
            start(
                1500,
                Fault::Corrupt {
                    targets: one(),
                    how: Corruption::Bitflip { bits: 8, seed: 3 },
                },
            ),
            stop(2500, Kind::Corrupt),
            start(
                3500,
                Fault::Corrupt {
                    targets: one(),
                    how: Corruption::Rollback,
                },
            ),
            stop(4500, Kind::Corrupt),
        ],
    );
    let o = run_test(
        tmp.path(),
        &[
            "--nemesis",
            "corrupt",
            "--nemesis-schedule",
            schedule.to_str().unwrap(),
            "--time-limit",
            "6",
            "--quiesce",
            "2",
            "--rate",
            "100",
            "--name",
            "corrupt",
        ],
    );
    // One node of five damaged: its peers hold every acknowledged element.
    assert!(matches!(o.status.code(), Some(0..=1)), "{}", text(&o));
    let h = history(&run_dir(tmp.path(), "corrupt"));
    let hits = done(&h, "corrupt");
    assert_eq!(hits.len(), 2, "{hits:?}");
    let flip = hits[0]["value"]["changes"][0].as_str().unwrap();
    assert!(
        flip.starts_with("n1: ") && flip.contains("ringkv.redb") && flip.contains("flipped"),
        "{flip}"
    );
    let back = hits[1]["value"]["changes"][0].as_str().unwrap();
    assert!(back.contains("rolled back"), "{back}");
    // The report's fault table and the journal say it too.
    let dir = run_dir(tmp.path(), "corrupt");
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("<td>corrupt</td>"));
    assert!(report.contains("corrupt n1: flip 8 bits: n1: flipped 8 bits of "));
    let journal = std::fs::read_to_string(dir.join("nemesis.jsonl")).unwrap();
    assert!(journal.contains("corrupt n1: roll back"), "{journal}");
}

#[test]
fn heal_after_a_dead_controller_leaves_no_mount_cgroup_or_process() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let schedule = write_schedule(
        tmp.path(),
        "held.json",
        &[
            start(
                800,
                Fault::Power {
                    targets: vec!["n1".into()],
                },
            ),
            start(
                800,
                Fault::Slow {
                    targets: vec!["n2".into()],
                    cpu_percent: 10,
                    disk_delay_ms: 20,
                },
            ),
        ],
    );
    let mut child = faultline()
        .arg("test")
        .args(["--results", tmp.path().to_str().unwrap()])
        .args([
            "--nemesis",
            "power,slow",
            "--nemesis-schedule",
            schedule.to_str().unwrap(),
            "--time-limit",
            "60",
            "--name",
            "held",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the faults never both took");
        let h = std::fs::read_dir(tmp.path().join("held"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path().join("history.jsonl"))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        let infos = |f: &str| {
            h.lines()
                .any(|l| l.contains(&format!("\"f\":\"{f}\"")) && l.contains("\"type\":\"info\""))
        };
        if infos("power-off") && infos("start-slow") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let cgroup = format!("/sys/fs/cgroup/cpu/faultline-{}-n2", child.id());
    assert!(Path::new(&cgroup).exists());
    assert_eq!(mounts_under(tmp.path()).len(), 5);
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind.
    child.wait().unwrap();
    let o = faultline().arg("heal").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("unmounted faultfs"), "{}", text(&o));
    assert!(mounts_under(tmp.path()).is_empty(), "{}", text(&o));
    assert!(!Path::new(&cgroup).exists(), "{}", text(&o));
    // No faultfs, no ringkv of the run is left.
    let tmp_path = tmp.path().display().to_string();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&tmp_path))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_node_whose_faultfs_cannot_mount_stops_the_run_naming_it_and_nothing_stays_mounted() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let real = std::path::PathBuf::from(env!("CARGO_BIN_EXE_faultline")).with_file_name("faultfs");
    let o = faultline()
        .env(
            "FAULTLINE_FAULTFS_BIN",
            repo("tests/fixtures/faultfs-fails-on-n3.sh"),
        )
        .env("REAL_FAULTFS", &real)
        .arg("test")
        .args(["--results", tmp.path().to_str().unwrap()])
        .args([
            "--nemesis",
            "power",
            "--time-limit",
            "3",
            "--name",
            "no-fuse",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(255), "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("faultfs on n3 did not mount"), "{err}");
    assert!(err.contains("/dev/fuse is missing"), "{err}");
    // n1 and n2 had mounted: unmounted before the run stopped.
    assert!(
        mounts_under(tmp.path()).is_empty(),
        "{:?}",
        mounts_under(tmp.path())
    );
}
