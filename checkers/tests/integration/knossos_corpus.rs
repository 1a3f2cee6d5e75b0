//! Knossos's published histories get the verdicts Knossos's own tests give them.
//!
//! The files are vendored in `tests/data/knossos` (origin, licence and the
//! assertions reproduced in its `ORIGIN.md`). Knossos checks every file of
//! `data/cas-register/good` valid and every file of `data/cas-register/bad`
//! invalid against `(cas-register 0)`: a register starting at 0, failed ops
//! dropped, a read of nil always legal. That is faultline's Knossos reading
//! (the default for Jepsen EDN) with the initial value 0, i.e.
//! `faultline check --workload register --initial-value 0`.

use checkers::linear::{self, Model, Reading};
use checkers::{parse, Validity};
use serde_json::{json, Value};

use crate::util;

/// A folder of the Knossos corpus vendored under `tests/data/knossos`.
fn dir(folder: &str) -> std::path::PathBuf {
    util::data(&format!("knossos/{folder}"))
}

/// Every `.edn` file of a folder, sorted, with its text.
fn files(folder: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "edn"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// The options `faultline check --workload register` uses for a Jepsen EDN
/// file, with `--initial-value` and `--fail-is-evidence` as given.
fn options(text: &str, initial: Option<Value>, fail_is_evidence: bool) -> linear::Options {
    let format = parse::detect(text).unwrap().expect("a non-empty history");
    assert_eq!(format, parse::Format::Edn);
    let mut reading = Reading::for_format(format);
    if fail_is_evidence {
        reading = reading.fail_is_evidence();
    }
    linear::Options {
        reading,
        initial_value: initial,
        ..linear::Options::default()
    }
}

fn check(text: &str, initial: Option<Value>, fail_is_evidence: bool) -> checkers::CheckResult {
    let h = parse::auto(text).unwrap_or_else(|e| panic!("{e}"));
    linear::check_with(
        &h,
        Model::Register,
        &options(text, initial, fail_is_evidence),
    )
}

/// With `--initial-value 0`, as Knossos's tests; and without it (nil), which
/// gives the same verdicts on this corpus: a read of nil is no evidence
/// under Knossos's reading, and no good history needs the 0.
#[test]
fn every_cas_register_file_gets_knossos_verdict() {
    let mut wrong = Vec::new();
    let mut counted = [0usize; 2];
    for (folder, want) in [
        ("cas-register/good", Validity::Valid),
        ("cas-register/bad", Validity::Invalid),
    ] {
        for (name, text) in files(folder) {
            let r = check(&text, Some(json!(0)), false);
            let from_nil = check(&text, None, false);
            for (r, how) in [(&r, "from 0"), (&from_nil, "from nil")] {
                if r.valid != want {
                    wrong.push(format!(
                        "{folder}/{name} ({how}): expected {}, got {} ({})",
                        want.word(),
                        r.valid.word(),
                        r.summary
                    ));
                }
            }
            if want == Validity::Invalid {
                let ce = r.details["violation"]["counterexample"]["ops"]
                    .as_array()
                    .map_or(0, Vec::len);
                assert!(ce >= 1, "{name}: an invalid verdict needs a counterexample");
            }
            assert_eq!(r.details["reading"], "knossos", "{name}");
            assert_eq!(r.details["initial_value"], 0, "{name}");
            counted[usize::from(want == Validity::Invalid)] += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} verdicts differ from Knossos's:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(counted, [113, 7], "113 good and 7 bad files");
}

/// Knossos's `rethink-fail-minimal-test` and `rethink-fail-smaller-test`
/// check these two from `(cas-register nil)`: invalid too.
#[test]
fn rethink_failures_are_invalid_from_nil_as_well() {
    for name in ["rethink-fail-minimal.edn", "rethink-fail-smaller.edn"] {
        let text = std::fs::read_to_string(dir("cas-register/bad").join(name)).unwrap();
        let r = check(&text, None, false);
        assert_eq!(r.valid, Validity::Invalid, "{name}: {}", r.summary);
        assert_eq!(r.details["initial_value"], Value::Null);
    }
}

/// The op Knossos's tests name as the one that cannot be linearized
/// (its `:op`, a completion, by `:index`): faultline's search blocks on the
/// same op.
#[test]
fn the_blocked_op_is_the_one_knossos_names() {
    for (name, initial, complete_index) in [
        ("immediate-failure.edn", json!(0), 3),
        ("bad-analysis.edn", json!(0), 14),
        ("cas-failure.edn", json!(0), 491),
        ("rethink-fail-minimal.edn", Value::Null, 4),
        ("rethink-fail-smaller.edn", Value::Null, 217),
    ] {
        let text = std::fs::read_to_string(dir("cas-register/bad").join(name)).unwrap();
        let r = check(&text, Some(initial), false);
        let blocked = &r.details["violation"]["blocked_op"];
        assert_eq!(
            blocked["complete_index"], complete_index,
            "{name}: {}",
            r.summary
        );
    }
}

/// Why the reading matters: taking every failed cas as evidence (as
/// faultline did for every input before readings) turns 9 of Knossos's good
/// histories invalid (8 mongodb ones, whose clients fail reads, writes and
/// cas alike, and memstress3-54); only the reading differs.
#[test]
fn failed_cas_as_evidence_turns_good_mongodb_and_memstress_histories_invalid() {
    for name in [
        "mongodb-v0-ack-rollback-0.edn",
        "mongodb-v0-ack-rollback-5.edn",
        "mongodb-v0-ack-rollback-8.edn",
        "memstress3-54.edn",
    ] {
        let text = std::fs::read_to_string(dir("cas-register/good").join(name)).unwrap();
        assert_eq!(
            check(&text, Some(json!(0)), false).valid,
            Validity::Valid,
            "{name}"
        );
        let r = check(&text, Some(json!(0)), true);
        assert_eq!(r.valid, Validity::Invalid, "{name}: {}", r.summary);
    }
}
