//! Time to converge, measured on a live ringkv cluster: after the heal the
//! replicas are read in rounds until they agree, so the time reported is
//! the store's, not the quiescence wait's.
//!
//! n3 is cut off from n1 and n2 from 0.5 s until the end of the main phase
//! while clients add to five keys: n3 misses what the majority writes (and
//! the majority what n3 may have taken alone), so every key's replicas
//! disagree at the heal. Then:
//!
//! - with anti-entropy every 50 ms, the replicas agree within a few
//!   exchanges: the median time to converge is well under half the
//!   6 s quiescence, and the final reads start long before it is over;
//! - with anti-entropy slowed past the run's length (30 s: its only
//!   exchange is the one at start-up), nothing repairs the replicas during
//!   the quiescence (local reads do not repair): the rounds go on for all
//!   of it, and a key's replicas agree only if the final reads' read repair
//!   reaches all of them (it need not: then the key diverges, and the
//!   checker says so), so the times rise past the quiescence.
//!
//! (An interval between the two, 2 s say, lands in between, but where
//! depends on the phase of the nodes' anti-entropy ticks against the heal:
//! no bound on it would follow from what is checked.)
//!
//! Needs root, like every live test; each run takes its own cluster slot.

use crate::util::*;
use nemeses::partition::Partition;
use nemeses::schedule::{Action, Event, Fault};
use serde_json::Value;
use std::path::{Path, PathBuf};

const QUIESCE_MS: f64 = 6000.0;

/// n3 cut off from 0.5 s on; the heal at the end of the main phase ends it.
fn isolate_n3(dir: &Path) -> PathBuf {
    let nodes = ["n1", "n2", "n3"].map(String::from);
    let cut = Fault::Partition(Partition::isolate("n3", &nodes, false));
    let schedule = [Event {
        at_ms: 500,
        kind: nemeses::Kind::Partition,
        action: Action::Start { fault: cut },
    }];
    write_schedule(dir, "isolate-n3.json", &schedule)
}

/// A short set run with anti-entropy every `anti_entropy` seconds; its
/// folder and the convergence checker's result.
fn run(results: &Path, name: &str, anti_entropy: &str) -> (PathBuf, Value) {
    let schedule = isolate_n3(results);
    let o = run_test(
        results,
        &[
            "--name",
            name,
            "--nodes",
            "3",
            "--workload",
            "set",
            "--keys",
            "5",
            "--rate",
            "100",
            "--time-limit",
            "3",
            "--nemesis-schedule",
            schedule.to_str().unwrap(),
            "--quiesce",
            "6",
            "--convergence-timeout",
            "4",
            "--anti-entropy",
            anti_entropy,
            "--seed",
            "5",
        ],
    );
    let dir = run_dir(results, name);
    let conv = checker(&results_json(&dir), "convergence").clone();
    assert!(dir.join("results.json").is_file(), "{}", text(&o));
    (dir, conv)
}

fn ms(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Time from the last heal to the first final read, in ms.
fn final_reads_after_heal_ms(dir: &Path) -> f64 {
    let h = history(dir);
    let heal = h
        .iter()
        .rev()
        .find(|o| o["process"] == "nemesis" && o["f"] == "stop-partition")
        .expect("the partition was healed");
    let first_final = h
        .iter()
        .skip_while(|o| o["index"] != heal["index"])
        .find(|o| o["f"] == "read" && o["type"] == "invoke")
        .expect("final reads after the heal");
    (ms(&first_final["time"]) - ms(&heal["time"])) / 1e6
}

/// `history.edn` holds exactly the ops of `history.jsonl`.
fn assert_edn_matches(dir: &Path) {
    let jsonl = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let edn = std::fs::read_to_string(dir.join("history.edn")).expect("history.edn written");
    let from_jsonl = checkers::parse::jsonl(&jsonl).unwrap();
    let from_edn = checkers::parse::edn(&edn).unwrap();
    assert!(from_jsonl.ops.len() > 100, "{} ops", from_jsonl.ops.len());
    assert_eq!(from_edn.ops.len(), from_jsonl.ops.len());
    for (e, j) in from_edn.ops.iter().zip(&from_jsonl.ops) {
        assert_eq!(e, j);
    }
    assert!(edn.starts_with("{:type :"), "{}", &edn[..80]);
    assert!(edn.contains(":process :nemesis"));
}

#[test]
fn time_to_converge_is_the_stores_and_rises_when_anti_entropy_slows() {
    let _area = crate::util::area::enter(module_path!());
    require_root();
    let tmp = tempfile::tempdir().unwrap();

    let (fast, conv) = run(tmp.path(), "fast-ae", "0.05");
    assert_eq!(conv["valid"], true, "{conv}");
    let f = &conv["details"];
    assert_eq!(f["time_to_agree_ms"]["count"], 5, "{f}");
    let fast_p50 = ms(&f["time_to_agree_ms"]["p50"]);
    assert!(fast_p50 < QUIESCE_MS / 2.0, "{f}");
    // Rounds began at the heal, and the final reads as soon as the
    // replicas agreed, long before the quiescence was over.
    assert!(ms(&f["first_read_ms"]) < QUIESCE_MS / 2.0, "{f}");
    assert!(final_reads_after_heal_ms(&fast) < QUIESCE_MS / 2.0, "{f}");
    // Each replica's lag is measured.
    assert_eq!(f["replica_lag_ms"]["count"], 15, "{f}");
    let lags = f["lag_by_replica"].as_object().unwrap();
    assert_eq!(lags.len(), 3, "{f}");
    assert_edn_matches(&fast);

    let (slow, conv) = run(tmp.path(), "slow-ae", "30");
    let s = &conv["details"];
    // Every key either converged or diverges to the end (never: time +∞),
    // and the checker's verdict says which.
    let converged = s["converged_count"].as_u64().unwrap();
    let divergent = s["divergent_count"].as_u64().unwrap();
    assert_eq!(converged + divergent, 5, "{s}");
    assert_eq!(conv["valid"], divergent == 0, "{conv}");
    // The median key's time: the third smallest (one curve point per key).
    let curve: Vec<f64> = s["agree_curve_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(ms)
        .collect();
    let slow_median = curve.get(2).copied().unwrap_or(f64::INFINITY);
    assert!(
        slow_median > fast_p50,
        "slow {slow_median} ms, fast {fast_p50} ms"
    );
    // Nothing repaired the replicas before the final reads, which waited
    // out the quiescence while the rounds read on: no key agreed before.
    assert!(curve.iter().all(|&t| t > QUIESCE_MS), "{s}");
    assert!(slow_median > QUIESCE_MS, "{s}");
    assert!(final_reads_after_heal_ms(&slow) >= QUIESCE_MS, "{s}");
    assert!(s["max_rounds"].as_u64().unwrap() > 10, "{s}");
    assert_eq!(s["agreed_at_first_read_count"], 0, "{s}");
    // n3 missed the majority's writes: where it caught up, it lagged past
    // the quiescence.
    if converged > 0 {
        assert!(ms(&s["lag_by_replica"]["n3"]["max"]) > QUIESCE_MS, "{s}");
    }
    assert_edn_matches(&slow);
}
