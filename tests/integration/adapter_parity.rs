//! Every live workload through the example adapter, beside the built-in
//! client on the same seed: the same checkers, the same verdicts.
//!
//! The example adapter (`examples/adapters/ringkv_adapter.py`, protocol 2)
//! drives ringkv's HTTP API, so a pair of runs differs only in who talks
//! to the store: faultline's own Rust client, or a Python process per
//! worker behind the JSON-lines protocol. Each pair runs three nodes under
//! partitions with the same seed, so the same faults hit the same nodes at
//! the same times; the ops interleave differently (two processes are never
//! timed alike), so a pair is chosen where the verdict does not hinge on
//! timing: safe settings that must be valid, and one setting whose anomaly
//! (node-keyed vector clocks' sibling explosion) shows in any run of this
//! size. Every checker of both runs must agree with the other run and with
//! what is expected.

use crate::util::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Flags both runs share: three nodes, partitions every 2 s, a few
/// seconds of load, one seed.
const BASE: &[&str] = &[
    "--nodes",
    "3",
    "--nemesis",
    "partition",
    "--nemesis-interval",
    "2",
    "--time-limit",
    "6",
    "--quiesce",
    "3",
    "--rate",
    "60",
    "--seed",
    "20261208",
];

/// Each checker's verdict in a run's results: name → `true`, `false` or
/// `"unknown"`.
fn verdicts(dir: &Path) -> BTreeMap<String, serde_json::Value> {
    let r = results_json(dir);
    r["checkers"]
        .as_array()
        .unwrap_or_else(|| panic!("no checkers in {r}"))
        .iter()
        .map(|c| {
            (
                c["checker"].as_str().unwrap().to_string(),
                c["valid"].clone(),
            )
        })
        .collect()
}

/// Runs `workload` with `builtin` flags through ringkv's built-in client
/// and with `adapter` flags through the example adapter; both must give
/// every checker the same verdict, and the whole run `valid`.
fn pair(workload: &str, builtin: &[&str], adapter: &[&str], valid: bool) {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let store = repo("examples/adapters/ringkv.toml").display().to_string();
    let mut runs = Vec::new();
    for (name, extra) in [
        ("builtin", builtin.to_vec()),
        ("adapter", {
            let mut a = vec!["--store", store.as_str()];
            a.extend(adapter);
            a
        }),
    ] {
        let mut args = vec!["--workload", workload, "--name", name];
        args.extend(extra);
        let o = run_test_with(tmp.path(), BASE, &args);
        let dir = run_dir(tmp.path(), name);
        let v = verdicts(&dir);
        let code = if valid { 0 } else { 1 };
        assert_eq!(
            o.status.code(),
            Some(code),
            "{name} {workload}: {v:?}\n{}",
            text(&o)
        );
        runs.push((name, v, dir));
    }
    let (b, a) = (&runs[0].1, &runs[1].1);
    assert_eq!(
        b,
        a,
        "{workload}: the built-in client and the adapter disagree (runs in {} and {})",
        runs[0].2.display(),
        runs[1].2.display()
    );
    // Not vacuous: the history holds acknowledged ops of the workload.
    let h = history(&runs[1].2);
    let oks = h
        .iter()
        .filter(|o| o["type"] == "ok" && o["process"].is_u64())
        .count();
    assert!(
        oks >= 20,
        "{workload}: only {oks} ops went through the adapter"
    );
}

#[test]
fn set_through_the_adapter_gets_the_built_in_clients_verdicts() {
    let _area = crate::util::area::enter(module_path!());
    pair("set", &[], &[], true);
}

#[test]
fn register_through_the_adapter_gets_the_built_in_clients_verdicts() {
    let _area = crate::util::area::enter(module_path!());
    pair("register", &[], &[], true);
}

#[test]
fn counter_through_the_adapter_gets_the_built_in_clients_verdicts() {
    let _area = crate::util::area::enter(module_path!());
    pair("counter", &[], &[], true);
}

#[test]
fn siblings_with_dvv_through_the_adapter_get_the_built_in_clients_verdicts() {
    let _area = crate::util::area::enter(module_path!());
    pair(
        "siblings",
        &["--conflict", "dvv"],
        &["--store-param", "conflict=dvv"],
        true,
    );
}

#[test]
fn blind_siblings_under_node_clocks_explode_through_the_adapter_as_built_in() {
    let _area = crate::util::area::enter(module_path!());
    pair(
        "siblings",
        &["--client", "blind", "--conflict", "node-vclock"],
        &["--client", "blind", "--store-param", "conflict=node-vclock"],
        false,
    );
}

#[test]
fn or_set_through_the_adapter_gets_the_built_in_clients_verdicts() {
    let _area = crate::util::area::enter(module_path!());
    pair("or-set", &[], &[], true);
}

#[test]
fn sequence_through_the_adapter_gets_the_built_in_clients_verdicts() {
    let _area = crate::util::area::enter(module_path!());
    pair("sequence", &[], &[], true);
}

#[test]
fn session_through_the_adapter_gets_the_built_in_clients_verdicts() {
    let _area = crate::util::area::enter(module_path!());
    pair("session", &[], &[], true);
}
