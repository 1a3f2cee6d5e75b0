//! Any store through an adapter, end to end: ringkv nodes in network
//! namespaces described by a TOML file, a Python process per worker
//! speaking JSON lines, real partitions (root, as the other end-to-end
//! tests). And an adapter that breaks the protocol: the run stops with one
//! line naming it, keeping its history. The example adapter's outcomes are
//! also checked against one ringkv node on loopback, without root.

use crate::util::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use workloads::adapter::{AdapterClient, FailureSlot, ProcessSpec, Replicas, Shape};
use workloads::{Client, Invocation, LocalRead};

/// `rel` in this checkout, as a command-line word.
fn checkout(rel: &str) -> String {
    repo(rel).display().to_string()
}

#[test]
fn the_example_adapter_runs_the_set_workload_under_partitions_and_is_valid() {
    let _area = crate::util::area::enter(module_path!());
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
    // Enough acknowledged adds for the verdict to mean something, and some
    // of them while a partition was in force: not a throughput figure (a
    // Python process per worker on a loaded machine adds slowly).
    assert!(
        count_ops(&h, "add", "ok") >= 20,
        "too few adds went through"
    );
    let first_cut = h
        .iter()
        .position(|o| o["f"] == "start-partition")
        .expect("no partition was applied");
    assert!(
        h[first_cut..]
            .iter()
            .any(|o| o["f"] == "add" && o["type"] == "ok"),
        "no add went through once a partition was in force"
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
fn an_adapter_store_declares_its_data_and_takes_power_and_corrupt_faults() {
    use nemeses::schedule::{Action, Event, Fault};
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let store = checkout("examples/adapters/ringkv.toml");
    let all: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
    let event = |at_ms, fault: Option<Fault>, kind| Event {
        at_ms,
        kind,
        action: match fault {
            Some(fault) => Action::Start { fault },
            None => Action::Stop,
        },
    };
    let schedule = write_schedule(
        tmp.path(),
        "disk.json",
        &[
            event(
                2000,
                Some(Fault::Power { targets: all }),
                nemeses::Kind::Power,
            ),
            event(3000, None, nemeses::Kind::Power),
            event(
                4000,
                Some(Fault::Corrupt {
                    targets: vec!["n1".into()],
                    how: nemeses::disk::Corruption::Truncate {
                        bytes: 4096,
                        seed: 1,
                    },
                }),
                nemeses::Kind::Corrupt,
            ),
            event(5000, None, nemeses::Kind::Corrupt),
        ],
    );
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
            "power,corrupt",
            "--nemesis-schedule",
            schedule.to_str().unwrap(),
            "--time-limit",
            "7",
            "--quiesce",
            "3",
        ],
    );
    // The example fsyncs before acknowledging: nothing is lost.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = run_dir(tmp.path(), "ringkv-py-set-adapter");
    let h = history(&dir);
    for f in ["power-off", "power-on", "corrupt", "recover"] {
        let done = h
            .iter()
            .find(|o| o["process"] == "nemesis" && o["type"] == "info" && o["f"] == f)
            .unwrap_or_else(|| panic!("no {f}"));
        assert!(done["error"].is_null(), "{done}");
    }
    let cut = h
        .iter()
        .find(|o| o["f"] == "corrupt" && o["type"] == "info")
        .unwrap();
    assert!(
        cut["value"]["changes"][0]
            .as_str()
            .unwrap()
            .contains("/n1/data/ringkv.redb"),
        "{cut}"
    );
}

#[test]
fn a_store_is_formed_once_after_every_node_answers_its_ready_command() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let store = checkout("tests/fixtures/adapters/formed.toml");
    // Kills restart nodes, which must be ready again, never formed again.
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
            "kill",
            "--nemesis-interval",
            "1.5",
            "--time-limit",
            "6",
            "--quiesce",
            "2",
        ],
    );
    assert!(matches!(o.status.code(), Some(0..=1)), "{}", text(&o));
    let dir = run_dir(tmp.path(), "formed-set-adapter");
    for i in 1..=3 {
        let after = std::fs::read_to_string(dir.join(format!("n{i}/after-start"))).unwrap();
        assert_eq!(after, format!("n{i}\n"), "n{i}");
    }
    // The cluster's step ran once, on the first node, with every node.
    let formed = std::fs::read_to_string(dir.join("n1/cluster-formed")).unwrap();
    assert_eq!(formed.lines().count(), 1, "{formed}");
    for i in 1..=3 {
        assert!(formed.contains(&format!("n{i}@")), "{formed}");
    }
    assert!(!dir.join("n2/cluster-formed").exists());
    let h = history(&dir);
    let restarted = h
        .iter()
        .filter(|o| o["process"] == "nemesis" && o["f"] == "start" && o["type"] == "info")
        .collect::<Vec<_>>();
    assert!(!restarted.is_empty());
    assert!(
        restarted.iter().all(|o| o["error"].is_null()),
        "{restarted:?}"
    );
}

#[test]
fn a_malformed_reply_stops_the_run_naming_the_line_and_keeps_the_history() {
    let _area = crate::util::area::enter(module_path!());
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
    let check = faultline_bin()
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

/// One ringkv node on loopback, killed when dropped, and its address.
fn ringkv_on_loopback(dir: &Path) -> (KillOnDrop, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let conf = dir.join("ringkv.toml");
    std::fs::write(
        &conf,
        format!("node = \"n1\"\nlisten = \"{addr}\"\nn = 1\nr = 1\nw = 1\n[[nodes]]\nname = \"n1\"\naddr = \"{addr}\"\n"),
    )
    .unwrap();
    let child = Command::new(ringkv_bin())
        .args(["--config", conf.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ringkv is built beside faultline");
    let node = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "ringkv did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (node, addr)
}

fn example_client(
    dir: &Path,
    addr: &str,
    workload: &str,
    shape: Shape,
) -> (AdapterClient, FailureSlot) {
    let slot = FailureSlot::new();
    let spec = ProcessSpec {
        argv: [
            "python3",
            &checkout("examples/adapters/ringkv_adapter.py"),
            "client",
            "--addr",
            addr,
            "--workload",
            workload,
            "--timeout-ms",
            "1000",
        ]
        .map(str::to_string)
        .to_vec(),
        env: vec![],
        stderr_log: dir.join(format!("{workload}.stderr.log")),
        hello: None,
        keep_on_timeout: false,
    };
    let c = AdapterClient::new(
        "ringkv-py",
        "worker 0",
        spec,
        shape,
        Duration::from_millis(1500),
        slot.clone(),
    )
    .with_replicas(Replicas::Ask);
    (c, slot)
}

fn op(f: &str, value: serde_json::Value) -> Invocation {
    Invocation { f: f.into(), value }
}

/// Needs no root: one ringkv node on loopback, the example adapter in
/// front of it, and the outcomes it reports for what ringkv answers (or
/// does not).
#[tokio::test(flavor = "multi_thread")]
async fn the_example_adapter_reports_honest_outcomes_for_ringkvs_answers() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let (node, addr) = ringkv_on_loopback(tmp.path());
    let (set, slot) = example_client(tmp.path(), &addr, "set", Shape::Set { keys: 2 });
    for e in 0..6 {
        let c = set.invoke(&op("add", json!(e))).await;
        assert_eq!(c.kind, checkers::OpType::Ok, "{c:?}");
    }
    let read = set.invoke(&op("read", serde_json::Value::Null)).await;
    assert_eq!(read.value, json!([0, 1, 2, 3, 4, 5]), "{read:?}");
    assert_eq!(set.preflist("set-0").await.unwrap(), ["n1"]);
    let local0 = set.read_local("set-0").await.unwrap();
    let local1 = set.read_local("set-1").await.unwrap();
    let mut both: Vec<i64> = [local0, local1]
        .iter()
        .flat_map(|v| v.as_array().unwrap().iter().map(|e| e.as_i64().unwrap()))
        .collect();
    both.sort();
    assert_eq!(both, [0, 1, 2, 3, 4, 5]);

    let (reg, _) = example_client(tmp.path(), &addr, "register", Shape::Register);
    let r = reg.invoke(&op("read", json!(["r0", null]))).await;
    assert_eq!(r.value, json!(["r0", null]), "never written: {r:?}");
    let w = reg.invoke(&op("write", json!(["r0", 3]))).await;
    assert_eq!(w.kind, checkers::OpType::Ok, "{w:?}");
    let version = w.value[1]["version"].as_i64().expect("ringkv's ballot");
    let r = reg.invoke(&op("read", json!(["r0", null]))).await;
    assert_eq!(r.value, json!(["r0", {"value": 3, "version": version}]));
    let c = reg.invoke(&op("cas", json!(["r0", [4, 1]]))).await;
    assert_eq!(
        (c.kind, c.error.as_deref()),
        (checkers::OpType::Fail, Some("compare failed"))
    );
    let c = reg.invoke(&op("cas", json!(["r0", [3, 1]]))).await;
    assert_eq!(c.kind, checkers::OpType::Ok, "{c:?}");

    // The node is gone: nothing listens, so an add certainly did nothing.
    drop(node);
    let c = set.invoke(&op("add", json!(9))).await;
    assert_eq!(c.kind, checkers::OpType::Fail, "{c:?}");
    assert!(c.error.as_deref().unwrap().contains("refused"), "{c:?}");
    let c = reg.invoke(&op("read", json!(["r0", null]))).await;
    assert_eq!(c.kind, checkers::OpType::Fail, "{c:?}");
    assert_eq!(slot.get(), None, "the adapter kept to the protocol");
}

#[test]
fn logs_a_store_writes_outside_its_node_directory_are_collected_into_the_run() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // The example description, with one more log that lives elsewhere (as
    // a packaged store's /var/log/... would), written by a setup step.
    let elsewhere = tmp.path().join("var-log");
    std::fs::create_dir(&elsewhere).unwrap();
    let example = std::fs::read_to_string(checkout("examples/adapters/ringkv.toml")).unwrap();
    let adapter_dir = checkout("examples/adapters");
    let described = example
        .replace("{{ adapter_dir }}", &adapter_dir)
        .replace(
            "[node]\n",
            &format!(
                "[node]\nlogs = [\"{0}/store-{{{{ node }}}}.log\"]\nsetup = [[\"cp\", \"{{{{ dir }}}}/ringkv.toml\", \"{0}/store-{{{{ node }}}}.log\"]]\n",
                elsewhere.display()
            ),
        );
    let store = tmp.path().join("elsewhere.toml");
    std::fs::write(&store, described).unwrap();
    let o = run_test(
        tmp.path(),
        &[
            "--store",
            store.to_str().unwrap(),
            "--workload",
            "set",
            "--nodes",
            "3",
            "--nemesis",
            "none",
            "--time-limit",
            "2",
            "--quiesce",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = run_dir(tmp.path(), "ringkv-py-set-adapter");
    for n in ["n1", "n2", "n3"] {
        let copied = dir.join(n).join(format!("store-{n}.log"));
        let text = std::fs::read_to_string(&copied)
            .unwrap_or_else(|e| panic!("{}: {e}", copied.display()));
        assert!(text.contains(&format!("node = \"{n}\"")), "{text}");
    }
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("store-n2.log"), "the report links it");
}

/// A store that never becomes ready: the watchdog cuts the setup phase at
/// `--setup-timeout`, everything is torn down, and the run still leaves its
/// history, results and a report naming the phase (exit 255).
#[test]
fn the_watchdog_cuts_a_store_that_never_becomes_ready_and_still_reports() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let store = checkout("tests/fixtures/adapters/never-ready.toml");
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
            "--setup-timeout",
            "3",
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(255), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("faultline: error: "))
        .unwrap_or_else(|| panic!("no error line in {out}"));
    assert!(
        line.contains("the watchdog cut the setup phase after 3 s (--setup-timeout"),
        "{line}"
    );
    let dir = run_dir(tmp.path(), "never-ready-set-adapter");
    let r = results_json(&dir);
    assert_eq!(r["cut"]["phase"], "setup", "{r}");
    assert_eq!(r["cut"]["bound_s"], 3.0, "{r}");
    assert!(r["error"].as_str().unwrap().contains("watchdog"), "{r}");
    assert!(dir.join("history.jsonl").is_file());
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        report.contains("the watchdog cut the setup phase after 3 s"),
        "the report says which phase was cut"
    );
    let log = std::fs::read_to_string(dir.join("faultline.log")).unwrap();
    assert!(log.contains("watchdog: phase cut off"), "{log}");
    // What the store started was killed with its namespaces.
    let left = Command::new("pgrep")
        .args(["-f", "sleep 613.25"])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

/// `faultline conformance --store FILE ARGS...`, to completion.
fn conformance(results: &Path, file: &str, args: &[&str]) -> std::process::Output {
    faultline()
        .args(["conformance", "--store", &checkout(file)])
        .args(["--results", results.to_str().unwrap()])
        .args(args)
        .output()
        .expect("running faultline conformance")
}

#[test]
fn the_example_adapter_conforms_in_every_workload_it_declares() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let o = conformance(tmp.path(), "examples/adapters/ringkv.toml", &[]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for w in workloads::adapter::WORKLOADS_V2 {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{w} "))),
            "no step of {w}: {out}"
        );
    }
    // Every workload's local reads on every node, and the honesty step.
    assert!(out.contains("read-local of s0 on n3"), "{out}");
    assert!(
        out.contains("insert through a node whose store is killed: not ok  ok"),
        "{out}"
    );
    assert!(out.contains(" 0 fail"), "{out}");
    let table = std::fs::read_to_string(
        run_dir(tmp.path(), "ringkv-py-conformance").join("conformance.txt"),
    )
    .unwrap();
    assert_eq!(table, out.split_once('\n').unwrap().1, "the table is kept");
}

#[test]
fn conformance_names_a_broken_adapters_offending_line() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let cases = [
        // A reply that answers another request.
        (
            "wrong-id",
            "add 17 to set-0",
            "reply line 3 answers request 102, but request 2 was asked: \"{\\\"type\\\": \\\"ok\\\", \\\"id\\\": 102}\"",
        ),
        // A reply without its type.
        (
            "missing-type",
            "read of r0, never written: null",
            "has no \"type\" of \"ok\", \"fail\" or \"info\"",
        ),
        // An ok for what the store refused.
        (
            "ok-refused",
            "cas r0 from 2 to 3 while it holds 1: refused",
            "replied ok, but the register held 1, not 2",
        ),
        (
            "ok-refused",
            "insert after 999999, which no list holds: refused",
            "replied ok, but no element 999999 exists to insert after",
        ),
        // No hello.
        ("no-hello", "add 17 to set-0", "before answering the hello"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut outputs = std::collections::HashMap::new();
    for (mode, step, says) in cases {
        let out = outputs.entry(mode).or_insert_with(|| {
            let param = format!("break={mode}");
            let o = conformance(
                tmp.path(),
                "tests/fixtures/adapters/broken.toml",
                &["--nodes", "1", "--store-param", &param],
            );
            assert_eq!(o.status.code(), Some(1), "{mode}: {}", text(&o));
            stdout(&o)
        });
        let line = out
            .lines()
            .find(|l| l.contains(step) && l.contains("FAIL"))
            .unwrap_or_else(|| panic!("{mode}: no failed step {step:?}: {out}"));
        assert!(line.contains(says), "{mode}: {line}");
    }
    // The same adapter unbroken conforms: the failures are the breakage's.
    let o = conformance(
        tmp.path(),
        "tests/fixtures/adapters/broken.toml",
        &["--nodes", "1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
