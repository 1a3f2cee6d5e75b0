//! Every file of the Porcupine corpus gets the verdict it is known to have.
//!
//! The corpus is vendored in `tests/data/porcupine` (origin in its `ORIGIN.md`);
//! `expected.tsv` lists each file, its format and its expected verdict.

use checkers::linear::{self, Model};
use checkers::{parse, Validity};

use crate::util;

/// The Porcupine corpus vendored under `tests/data/porcupine`, with its
/// list of expected verdicts.
fn corpus_dir() -> String {
    util::data("porcupine/expected.tsv");
    util::data("porcupine").display().to_string()
}

#[test]
fn every_corpus_file_gets_its_expected_verdict() {
    let dir = corpus_dir();
    let tsv = std::fs::read_to_string(format!("{dir}/expected.tsv")).unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        assert!(f.len() >= 4, "bad expected.tsv row {line:?}");
        let (file, format, expected) = (f[0], f[1], f[3]);
        if expected == "skip" {
            continue;
        }
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let history = parse::auto(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let model = match format {
            "etcd-log" => Model::Register,
            "kv-edn-line" => Model::Kv,
            other => panic!("{file}: unknown format {other}"),
        };
        let want = match expected {
            "valid" => Validity::Valid,
            "invalid" => Validity::Invalid,
            other => panic!("{file}: unknown expected verdict {other}"),
        };
        // Read as Porcupine's formats mean (`faultline check`'s default for
        // them): a failed cas is evidence, the register starts nil.
        let format = parse::detect(&text).unwrap().expect("a non-empty file");
        let reading = linear::Reading::for_format(format);
        assert_eq!(reading, linear::Reading::PORCUPINE, "{file}");
        let options = linear::Options {
            reading,
            ..linear::Options::default()
        };
        let r = linear::check_with(&history, model, &options);
        let verdict_only = linear::check_with(
            &history,
            model,
            &linear::Options {
                counterexample: false,
                ..options.clone()
            },
        );
        if verdict_only.valid != want {
            wrong.push(format!(
                "{file} (verdict only): expected {expected}, got {} ({})",
                verdict_only.valid.word(),
                verdict_only.summary
            ));
        }
        if r.valid != want {
            wrong.push(format!(
                "{file}: expected {expected}, got {} ({})",
                r.valid.word(),
                r.summary
            ));
        }
        if want == Validity::Invalid {
            let ce = r.details["violation"]["counterexample"]["ops"]
                .as_array()
                .map_or(0, Vec::len);
            assert!(
                ce >= 1,
                "{file}: an invalid verdict must come with a counterexample"
            );
        }
        checked += 1;
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(checked, 108, "expected 108 non-skipped corpus files");
}

#[test]
fn corpus_formats_are_detected_and_read_with_keys() {
    let dir = corpus_dir();
    let etcd = std::fs::read_to_string(format!("{dir}/jepsen/etcd_000.log")).unwrap();
    assert_eq!(parse::detect(&etcd).unwrap(), Some(parse::Format::EtcdLog));
    let h = parse::auto(&etcd).unwrap();
    assert_eq!(h.ops[0].f, "read");
    assert_eq!(h.ops[0].process, checkers::Process::Client(0));
    let kv = std::fs::read_to_string(format!("{dir}/kv/c01-ok.txt")).unwrap();
    assert_eq!(parse::detect(&kv).unwrap(), Some(parse::Format::EdnKeyed));
    let h = parse::auto(&kv).unwrap();
    assert_eq!(h.ops[0].value, serde_json::json!(["0", "x 0 0 y"]));
    let empty = std::fs::read_to_string(format!("{dir}/jepsen/etcd_095.log")).unwrap();
    assert!(parse::auto(&empty).unwrap().ops.is_empty());
}
