//! `history.edn` reads back, through `checkers::parse::edn`, to exactly the
//! history it was written from: every workload's op shapes, nemesis ops and
//! hostile strings.

use super::*;
use serde_json::json;

fn op(kind: OpType, process: Process, f: &str, value: Value) -> Op {
    Op {
        index: None,
        kind,
        process,
        f: f.into(),
        value,
        time: 0,
        node: None,
        error: None,
    }
}

/// Numbers the ops and gives them increasing times, as the log does.
fn history(ops: Vec<Op>) -> History {
    History::new(
        ops.into_iter()
            .enumerate()
            .map(|(i, mut o)| {
                o.index = Some(i as u64);
                o.time = 1_000_000 * i as u64 + 17;
                o
            })
            .collect(),
    )
}

fn round_trip(h: &History) -> History {
    let text = to_string(h);
    checkers::parse::edn(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn c(p: u64) -> Process {
    Process::Client(p)
}

use OpType::{Fail, Info, Invoke, Ok as Okk};

/// One invocation and completion of each shape every workload records.
fn workload_shapes() -> Vec<Op> {
    let mut ops = vec![
        // set and orset
        op(Invoke, c(0), "add", json!(5)),
        op(Okk, c(0), "add", json!(5)),
        op(Invoke, c(1), "read", Value::Null),
        op(Okk, c(1), "read", json!([1, 2, 3, 5])),
        op(Invoke, c(2), "remove", json!(3)),
        op(Fail, c(2), "remove", json!(3)),
        // register (independent keys, versioned reads), cas
        op(Invoke, c(3), "read", json!(["r0", null])),
        op(Okk, c(3), "read", json!(["r0", {"value": 3, "version": 7}])),
        op(Invoke, c(4), "write", json!(["r1", 4])),
        op(
            Okk,
            c(4),
            "write",
            json!(["r1", {"value": 4, "version": 8}]),
        ),
        op(Invoke, c(5), "cas", json!(["r1", [4, 6]])),
        op(Fail, c(5), "cas", json!(["r1", [4, 6]])),
        // counter
        op(Invoke, c(6), "add", json!(-3)),
        op(Okk, c(6), "add", json!(-3)),
        op(Invoke, c(6), "read", Value::Null),
        op(Okk, c(6), "read", json!(42)),
        // sequence, session, siblings
        op(Invoke, c(7), "append", json!(["l0", 2_000_006])),
        op(Okk, c(7), "append", json!(["l0", 2_000_006])),
        op(Invoke, c(7), "read", json!(["l0", null])),
        op(Okk, c(7), "read", json!(["l0", [1_000_001, 2_000_006]])),
        op(Invoke, c(8), "write", json!(["s3", 9])),
        op(Info, c(8), "write", json!(["s3", 9])),
        // convergence: one key, and a dump of several
        op(Invoke, c(9), "read-local", json!(["k1", null])),
        op(Okk, c(9), "read-local", json!(["k1", [1, 2]])),
        op(Invoke, c(10), "read-local", Value::Null),
        op(Okk, c(10), "read-local", json!({"k1": [1, 2], "k2": null})),
        // floats, booleans, big numbers, empty collections
        op(
            Okk,
            c(11),
            "read",
            json!([1.5, -0.25, 1e300, 2.0, true, false, [], {}]),
        ),
        op(Okk, c(11), "read", json!([i64::MIN, i64::MAX, 0])),
        // nemesis
        op(
            Invoke,
            Process::Nemesis,
            "start-partition",
            json!([["n1"], ["n2", "n3"]]),
        ),
        op(
            Info,
            Process::Nemesis,
            "start-partition",
            json!({"n1": ["n2", "n3"], "n2": ["n1"]}),
        ),
        op(Invoke, Process::Nemesis, "kill", json!(["n2"])),
        op(
            Info,
            Process::Nemesis,
            "bump-clock",
            json!({"n1": 250, "n3": -1000}),
        ),
        op(Invoke, Process::Nemesis, "heal", Value::Null),
        op(Info, Process::Nemesis, "stop-partition", json!("healed")),
    ];
    ops[1].node = Some("n1".into());
    ops[21].error = Some("timeout (harness)".into());
    ops[21].node = Some("n3".into());
    ops[5].error = Some("precondition failed".into());
    ops
}

#[test]
fn every_workload_shape_reads_back_unchanged() {
    let h = history(workload_shapes());
    assert_eq!(round_trip(&h), h);
}

#[test]
fn ops_are_written_as_jepsen_op_maps() {
    let mut o = op(Invoke, c(0), "add", json!(1));
    o.index = Some(0);
    o.time = 123;
    let mut s = String::new();
    op_edn(&o, &mut s);
    assert_eq!(
        s,
        "{:type :invoke, :f :add, :value 1, :process 0, :time 123, :index 0}"
    );
    let mut n = op(
        Info,
        Process::Nemesis,
        "start-partition",
        json!({"value": 3, "n 1": "x"}),
    );
    n.time = 5;
    n.node = Some("n1".into());
    n.error = Some("said \"no\"".into());
    let mut s = String::new();
    op_edn(&n, &mut s);
    assert_eq!(
        s,
        r#"{:type :info, :f :start-partition, :value {"n 1" "x", :value 3}, :process :nemesis, :time 5, :node "n1", :error "said \"no\""}"#
    );
    let mut s = String::new();
    value_edn(&json!(["a", null, 2.0, [true]]), &mut s);
    assert_eq!(s, r#"["a" nil 2.0 [true]]"#);
}

/// Strings that would break a naive writer: quotes, backslashes, control
/// characters, EDN syntax, non-ASCII, escapes written out literally.
const HOSTILE: &[&str] = &[
    "",
    "\"",
    "\\",
    "\\\"",
    "a\"b\\c",
    "line\nbreak\r\n\ttab",
    "\u{0}\u{1}\u{8}\u{c}\u{1b}\u{7f}",
    "\\u0041 is not A",
    "\\n is not a newline",
    ":keyword-looking",
    "nil",
    "true",
    "#{1 2}",
    "#_ discard",
    "; comment",
    "a, b, c",
    "{:type :ok}",
    "[unclosed",
    "é ü 漢字 🦀 \u{200b}\u{feff}",
    "\u{d7ff}\u{e000}\u{10ffff}",
    "##NaN",
    "1/3",
    "123N",
];

#[test]
fn hostile_strings_read_back_unchanged_wherever_they_are() {
    let mut ops = Vec::new();
    for (i, s) in HOSTILE.iter().enumerate() {
        let mut map = serde_json::Map::new();
        map.insert(s.to_string(), json!(s));
        map.insert(format!("k{i}"), json!([s, {"inner": s}]));
        let mut o = op(Info, c(i as u64), s, json!([s, map]));
        o.node = Some(s.to_string());
        o.error = Some(s.to_string());
        ops.push(o);
        ops.push(op(Invoke, Process::Nemesis, s, json!({ *s: s })));
    }
    let h = history(ops);
    assert_eq!(round_trip(&h), h);
}

#[test]
fn f_names_that_are_not_keywords_are_strings() {
    for f in [
        "has space",
        "",
        "a/b",
        ":x",
        "1abc",
        "-1",
        "x.",
        "a#b",
        "ok",
    ] {
        let h = history(vec![op(Invoke, c(0), f, Value::Null)]);
        let text = to_string(&h);
        let keyword = text.contains(&format!(":f :{f},"));
        assert_eq!(keyword, f == "ok", "{f}: {text}");
        assert_eq!(round_trip(&h), h, "{f}");
    }
}

#[test]
fn the_file_is_written_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.edn");
    let h = history(workload_shapes());
    write(&h, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), h.ops.len());
    assert_eq!(checkers::parse::edn(&text).unwrap(), h);
    // `faultline check` tells it from JSONL by itself.
    assert_eq!(checkers::parse::auto(&text).unwrap(), h);
}

/// Cost on a large history, against what a run already spends on it (the
/// recording's per-op write, re-reading the JSONL). Prints; asserts nothing
/// about speed. `cargo test --lib history_edn::tests::cost -- --ignored --nocapture`
#[test]
#[ignore]
fn cost() {
    use std::time::Instant;
    let n = 1_000_000u64;
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("history.jsonl");
    let log = crate::run::history_log::HistoryLog::create(&jsonl).unwrap();
    let t = Instant::now();
    for i in 0..n {
        let (kind, value) = match i % 4 {
            0 => (Invoke, json!(["r7", null])),
            1 => (Okk, json!(["r7", {"value": i, "version": i}])),
            2 => (Invoke, json!(["r3", i])),
            _ => (Info, json!(["r3", i])),
        };
        log.record(crate::run::history_log::Entry {
            kind,
            process: c(i % 10),
            f: "write".into(),
            value,
            node: Some("n2".into()),
            error: (i % 4 == 3).then(|| "timeout".into()),
        });
    }
    log.finish().unwrap();
    let record = t.elapsed();
    let t = Instant::now();
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let h = checkers::parse::jsonl(&text).unwrap();
    let reread = t.elapsed();
    let t = Instant::now();
    write(&h, &dir.path().join("history.edn")).unwrap();
    let edn = t.elapsed();
    let t = Instant::now();
    let mut s = String::new();
    for op in &h.ops {
        s.clear();
        op_edn(op, &mut s);
    }
    let format_only = t.elapsed();
    let size = |p: &str| std::fs::metadata(dir.path().join(p)).unwrap().len() / 1_000_000;
    eprintln!(
        "{n} ops: record (JSONL, one write per op) {record:?}; re-read JSONL {reread:?}; \
         write EDN {edn:?} (formatting alone {format_only:?}); JSONL {} MB, EDN {} MB",
        size("history.jsonl"),
        size("history.edn")
    );
}
