//! `faultline bench` end to end: real three-node clusters on loopback, a
//! second per phase, two rounds in ABBA order, figures that are numbers and
//! a round-by-round ratio when etcd runs.

use crate::util::faultline;

#[test]
fn bench_measures_ringkv_per_fsync_policy_and_etcd_beside_it() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let etcd = faultline::cluster::control::os::find_program("etcd").is_some();
    let stores = if etcd { "ringkv,etcd" } else { "ringkv" };
    let o = faultline()
        .args([
            "bench",
            "--duration",
            "1",
            "--concurrency",
            "4",
            "--keys",
            "50",
        ])
        .args([
            "--fsync",
            "always,never",
            "--stores",
            stores,
            "--rounds",
            "2",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rows.len(), if etcd { 3 } else { 2 }, "{out}");
    for r in &rows {
        for phase in ["put", "get"] {
            let ops = r[phase]["ops_per_s"].as_f64().unwrap();
            assert!(ops > 10.0, "{} {phase}: {ops} ops/s\n{out}", r["store"]);
            assert_eq!(r[phase]["errors"], 0, "{out}");
            assert!(r[phase]["p99_ms"].as_f64().unwrap() >= r[phase]["p50_ms"].as_f64().unwrap());
            // Two measured rounds, the median one's phase reported.
            let rounds = r[format!("{phase}_rounds")].as_array().unwrap();
            assert_eq!(rounds.len(), 2, "{out}");
            assert!(rounds.iter().any(|x| x.as_f64() == Some(ops)), "{out}");
        }
    }
    let row = |store: &str, fsync: &str| {
        out.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() > 2 && w[0] == store && w[1] == fsync
        })
    };
    assert!(row("ringkv", "always") && row("ringkv", "never"), "{out}");
    if etcd {
        assert!(
            out.contains("round by round: put throughput") && out.contains("get throughput"),
            "{out}"
        );
    }
    // With --faultfs, ringkv also runs on faultfs mounts (root), and the
    // cost of the layer is a ratio round by round.
    let o = faultline()
        .args([
            "bench",
            "--duration",
            "1",
            "--concurrency",
            "4",
            "--keys",
            "50",
        ])
        .args([
            "--fsync",
            "always",
            "--stores",
            "ringkv",
            "--rounds",
            "2",
            "--faultfs",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let row = |store: &str| {
        out.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() > 2 && w[0] == store && w[1] == "always"
        })
    };
    assert!(row("ringkv") && row("ringkv+ffs"), "{out}");
    assert!(
        out.contains("ringkv on faultfs / on its bare directories (fsync always), round by round: put throughput"),
        "{out}"
    );
    let table = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        !table.contains("ringkv-faultfs-always"),
        "a mount was left behind"
    );
    let bad = faultline()
        .args(["bench", "--stores", "redis"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("redis"));
}

#[test]
fn overhead_bench_prints_both_rates_their_ratio_and_the_writers_speed() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("overhead.json");
    let o = faultline()
        .args([
            "bench",
            "--overhead",
            "--duration",
            "1",
            "--concurrency",
            "4",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for line in [
        "bare client (no history)",
        "through the harness (history recorded)",
        "ratio harness / bare",
        "history writer alone",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let (bare, harness) = (
        r["bare_ops_per_s"].as_f64().unwrap(),
        r["harness_ops_per_s"].as_f64().unwrap(),
    );
    assert!(bare > 10.0 && harness > 10.0, "{out}");
    // The ratio is what the two rates say (its size depends on the machine:
    // README reports a quiet run; this only checks the arithmetic).
    assert!((r["ratio"].as_f64().unwrap() - harness / bare).abs() < 1e-9);
    assert_eq!(r["errors"], serde_json::json!([0, 0]), "{out}");
    // The writer alone is far faster than any run needs.
    assert!(
        r["history_lines_per_s"].as_f64().unwrap() > 10.0 * 2.0 * harness,
        "{out}"
    );
}
