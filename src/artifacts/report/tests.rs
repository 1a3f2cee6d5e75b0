use super::*;
use checkers::{Op, Validity};
use serde_json::json;

fn op(kind: OpType, process: Process, f: &str, value: Value, t_ms: u64) -> Op {
    Op {
        index: None,
        kind,
        process,
        f: f.into(),
        value,
        time: t_ms * 1_000_000,
        node: Some("n1".into()),
        error: None,
    }
}

fn cfg() -> TestConfig {
    super::synthetic::config()
}

fn history() -> History {
    use OpType::*;
    History::new(vec![
        op(Invoke, Process::Client(0), "add", json!(1), 0),
        op(Ok, Process::Client(0), "add", json!(1), 3),
        op(
            Invoke,
            Process::Nemesis,
            "start-partition",
            json!({"kind":"partition","shape":"isolate-one","components":[["n1"],["n2","n3"]]}),
            1000,
        ),
        op(Info, Process::Nemesis, "start-partition", json!(null), 1010),
        op(Invoke, Process::Client(1), "add", json!(2), 1500),
        op(
            Invoke,
            Process::Nemesis,
            "kill",
            json!({"kind":"kill","targets":["n2"],"label":"kill -9 n2"}),
            1600,
        ),
        op(Info, Process::Nemesis, "kill", json!(null), 1700),
        op(Info, Process::Client(1), "add", json!(2), 3500),
        op(Invoke, Process::Nemesis, "start", json!(["n2"]), 3600),
        op(Info, Process::Nemesis, "start", json!(["n2"]), 3700),
        op(
            Invoke,
            Process::Nemesis,
            "stop-partition",
            json!(null),
            4000,
        ),
        op(Info, Process::Nemesis, "stop-partition", json!(null), 4010),
        op(Invoke, Process::Client(2), "read", json!(null), 5000),
        op(
            Ok,
            Process::Client(2),
            "read",
            json!(["<script>alert(1)</script>"]),
            5010,
        ),
    ])
}

#[test]
fn fault_windows_span_start_to_stop() {
    let w = fault_windows(&history());
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].kind, "partition");
    assert_eq!(w[0].label, "n1 | n2,n3");
    assert!((w[0].start - 1.0).abs() < 1e-9 && (w[0].end - 4.01).abs() < 1e-9);
    assert_eq!(w[1].kind, "kill");
    assert_eq!(w[1].label, "kill -9 n2");
    assert!((w[1].start - 1.6).abs() < 1e-9 && (w[1].end - 3.7).abs() < 1e-9);
}

#[test]
fn unfinished_fault_extends_to_the_end() {
    let mut h = history();
    h.ops.truncate(8);
    let w = fault_windows(&h);
    assert_eq!(w.len(), 2);
    assert!(w.iter().all(|w| (w.end - 3.5).abs() < 1e-9), "{w:?}");
}

#[test]
fn report_escapes_store_values_and_shows_the_verdict() {
    let results = Results::from_checks(
        vec![checkers::CheckResult {
            checker: "set".into(),
            valid: Validity::Invalid,
            summary: "1 lost: <b>bold</b>".into(),
            details: json!({
                "lost": ["<img src=x onerror=alert(1)>"],
                "lost_details": [{"element": "</td><script>x</script>", "process": 3}],
                "lost_count": 1
            }),
        }],
        10,
    );
    let html = render(&cfg(), &history(), &results, &[]).unwrap();
    assert!(html.contains("INVALID"));
    assert!(!html.contains("<script>"), "unescaped script tag in report");
    assert!(
        !html.contains("<img src=x"),
        "unescaped attribute injection"
    );
    assert!(!html.contains("<b>bold</b>"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("<svg"), "latency plot missing");
    assert!(html.contains("n1 | n2,n3"));
    // Self-contained: nothing fetched from elsewhere.
    for fetch in ["src=\"http", "href=\"http", "<link", "url(http", "@import"] {
        assert!(!html.contains(fetch), "report fetches something: {fetch}");
    }
}

/// A history from JSON lines written inline (times in ms).
fn jsonl(lines: &[Value]) -> History {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    checkers::parse::jsonl(&text).unwrap()
}

fn fixture(name: &str) -> History {
    let path = format!(
        "{}/tests/fixtures/runs/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    checkers::parse::jsonl(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The rendered page's anomaly section (between its heading and the charts).
fn anomaly_section(html: &str) -> &str {
    let a = html
        .find(r#"<h2 id="anomalies">"#)
        .expect("anomalies heading");
    let b = html.find(r#"<h2 id="plots">"#).expect("charts heading");
    &html[a..b]
}

fn page(history: &History, checks: Vec<checkers::CheckResult>) -> String {
    let n = history.ops.len() as u64;
    render(&cfg(), history, &Results::from_checks(checks, n), &[]).unwrap()
}

/// Asserts `checker` is invalid and the page explains it: the anomaly kind,
/// a sentence fragment, and a lane diagram of its ops.
fn assert_explained(html: &str, checker: &str, kind: &str, fragment: &str) {
    let section = anomaly_section(html);
    assert!(
        section.contains(&format!("{checker} <span class=\"pill INVALID\">")),
        "{checker} not listed as invalid among the anomalies"
    );
    assert!(section.contains(kind), "no {kind:?} anomaly for {checker}");
    assert!(
        section.contains(fragment),
        "{checker}: {fragment:?} not in the explanation:\n{}",
        &section[..section.len().min(3000)]
    );
    assert!(
        section.contains("<svg"),
        "{checker}: no diagram of the ops involved"
    );
}

#[test]
fn lost_elements_of_a_real_run_are_explained_with_their_add_and_the_reads() {
    let h = fixture("set-rmw");
    let checks = workloads::check("set", &h).unwrap();
    let set: checkers::set::SetAnalysis =
        serde_json::from_value(checks[0].details.clone()).unwrap();
    let first = &set.lost[0];
    let html = page(&h, checks);
    assert_explained(
        &html,
        "set",
        "lost element",
        &format!(
            "element {} was acknowledged to process {} at",
            first.element,
            match first.process {
                Process::Client(n) => n,
                Process::Nemesis => unreachable!(),
            }
        ),
    );
    assert_explained(
        &html,
        "set-full",
        "lost element",
        "no read ever returned it",
    );
    // The add is highlighted in its diagram.
    assert!(anomaly_section(&html).contains(r##"stroke="#1d2330" stroke-width="2""##));
}

#[test]
fn counter_reads_out_of_bounds_are_explained() {
    let h = fixture("counter-rmw");
    let html = page(&h, workloads::check("counter", &h).unwrap());
    assert_explained(
        &html,
        "counter",
        "out-of-bounds read",
        "but the acknowledged and indeterminate increments up to then allow",
    );
}

#[test]
fn counter_reads_within_bounds_but_unreachable_are_explained() {
    // Maelstrom's example: add 10 acknowledged, +5, -1, -1 of unknown
    // outcome, then a read of 11 (within 8..=15, but no subset gives it).
    let mut ops = Vec::new();
    let mut op = |kind, p: u64, f: &str, value| {
        ops.push(checkers::Op {
            index: Some(ops.len() as u64),
            kind,
            process: checkers::Process::Client(p),
            f: f.into(),
            value,
            time: ops.len() as u64 * 1_000_000,
            node: None,
            error: None,
        })
    };
    use checkers::OpType::{Info, Invoke, Ok};
    op(Invoke, 0, "add", serde_json::json!(10));
    op(Ok, 0, "add", serde_json::json!(10));
    for (p, d) in [(1, 5), (2, -1), (3, -1)] {
        op(Invoke, p, "add", serde_json::json!(d));
        op(Info, p, "add", serde_json::json!(d));
    }
    op(Invoke, 4, "read", serde_json::Value::Null);
    op(Ok, 4, "read", serde_json::json!(11));
    let h = History::new(ops);
    let html = page(&h, workloads::check("counter", &h).unwrap());
    assert_explained(
        &html,
        "counter",
        "unreachable read",
        "no combination of the 3 increments whose outcome is unknown adds up to it: the nearest possible values are 10 and 13",
    );
}

#[test]
fn a_linearizability_counterexample_is_drawn_in_event_order_with_its_ops() {
    let h = fixture("register-quorum");
    let checks = workloads::check("register", &h).unwrap();
    let ops = checks[0].details["violation"]["counterexample"]["ops"]
        .as_array()
        .unwrap()
        .len();
    let html = page(&h, checks);
    assert_explained(
        &html,
        "linearizable",
        "not linearizable",
        &format!("The {ops} ops drawn below cannot be ordered on their own"),
    );
    let section = anomaly_section(&html);
    assert!(section.contains("event order"));
    // One bar per counterexample op, each with its tooltip.
    let diagram = &section[section.find("<svg").unwrap()..section.find("</svg>").unwrap()];
    assert_eq!(diagram.matches(r#"rx="3""#).count(), ops, "{diagram}");
}

#[test]
fn replicas_that_never_converged_are_named_with_their_values() {
    let h = fixture("set-noconv");
    let checks = workloads::check("set", &h).unwrap();
    let conv = checks.iter().find(|c| c.checker == "convergence").unwrap();
    assert_eq!(conv.valid, Validity::Invalid);
    let html = page(&h, checks);
    let section = anomaly_section(&html);
    assert!(section.contains("divergent key"));
    assert!(section.contains("never converged: after the last heal at"));
    assert!(
        section.contains("n1 holds"),
        "each replica's value is shown"
    );
    assert!(html.contains(r#"id="plot-convergence""#) || !html.contains("agree_curve"));
}

#[test]
fn siblings_sessions_and_crdt_anomalies_are_explained() {
    let ms = 1_000_000u64;
    let op = |i: u64, kind: &str, p: u64, f: &str, v: Value| json!({"index": i, "type": kind, "process": p, "f": f, "value": v, "time": i * ms, "node": "n1"});
    // Two writes one after the other, both returned as siblings.
    let siblings = jsonl(&[
        op(0, "invoke", 0, "write", json!(["s0", "a"])),
        op(1, "ok", 0, "write", json!(["s0", "a"])),
        op(2, "invoke", 1, "write", json!(["s0", "b"])),
        op(3, "ok", 1, "write", json!(["s0", "b"])),
        op(4, "invoke", 2, "read", json!(["s0", null])),
        op(5, "ok", 2, "read", json!(["s0", ["a", "b"]])),
    ]);
    let html = page(&siblings, workloads::check("siblings", &siblings).unwrap());
    assert_explained(
        &html,
        "siblings",
        "non-concurrent siblings",
        "but one finished before the other began",
    );

    // A session that reads 2 then 1 of the same register.
    let sessions = jsonl(&[
        op(0, "invoke", 0, "write", json!(["r", 1])),
        op(1, "ok", 0, "write", json!(["r", 1])),
        op(2, "invoke", 0, "write", json!(["r", 2])),
        op(3, "ok", 0, "write", json!(["r", 2])),
        op(4, "invoke", 1, "read", json!(["r", null])),
        op(5, "ok", 1, "read", json!(["r", 2])),
        op(6, "invoke", 1, "read", json!(["r", null])),
        op(7, "ok", 1, "read", json!(["r", 1])),
    ]);
    let html = page(&sessions, vec![checkers::sessions::check(&sessions)]);
    assert_explained(
        &html,
        "sessions",
        "monotonic reads",
        "process 1 broke monotonic reads on key r",
    );

    // An add that began after the remove ended, missing from the final read.
    let orset = jsonl(&[
        op(0, "invoke", 0, "add", json!(1)),
        op(1, "ok", 0, "add", json!(1)),
        op(2, "invoke", 0, "remove", json!(1)),
        op(3, "ok", 0, "remove", json!(1)),
        op(4, "invoke", 1, "add", json!(1)),
        op(5, "ok", 1, "add", json!(1)),
        op(6, "invoke", 2, "read", json!(null)),
        op(7, "ok", 2, "read", json!([])),
    ]);
    let html = page(&orset, workloads::check("or-set", &orset).unwrap());
    assert_explained(
        &html,
        "crdt",
        "OR-set lost-add",
        "OR-set lost-add in the read at op #",
    );
}

#[test]
fn a_valid_run_with_every_fault_kind_has_its_charts_and_no_anomaly() {
    let h = fixture("set-all");
    let checks = workloads::check("set", &h).unwrap();
    assert!(checks.iter().all(|c| c.valid == Validity::Valid));
    let html = page(&h, checks);
    assert!(html.contains("No anomaly to explain"));
    for id in [
        "plot-latency",
        "plot-throughput",
        "plot-convergence",
        "plot-clock",
        "plot-timeline",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    // The convergence chart is on its own axis, from the heal, with each
    // replica's lag beside the keys' time to converge.
    let chart = &html[html.find(r#"id="plot-convergence""#).unwrap()..];
    let chart = &chart[..chart.find("</figure>").unwrap_or(chart.len())];
    for text in [
        "time since the last heal (ms)",
        "replicas holding the final value",
        "Keys converged in p50",
        "replicas held their key",
        "the first read came",
    ] {
        assert!(
            chart.contains(text),
            "{text} missing from the convergence chart"
        );
    }
    for kind in ["partition", "clock", "kill", "pause"] {
        assert!(
            html.contains(&format!("{kind} ×")),
            "{kind} missing from the fault summary"
        );
    }
}

#[test]
fn a_100k_op_history_renders_a_bounded_page_with_an_aggregated_timeline() {
    let h = super::synthetic::set_history(100_000, 1);
    let checks = workloads::check("set", &h).unwrap();
    let t = std::time::Instant::now();
    let html = page(&h, checks);
    eprintln!(
        "100 k-op report: {:.1} MB in {:.2} s",
        html.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    assert!(html.len() < 5_000_000, "page is {} bytes", html.len());
    assert!(html.contains("client operations, aggregated"));
    assert!(html.contains(r#"id="plot-timeline""#));
}

#[test]
fn hostile_values_in_every_drawn_place_stay_text() {
    // Names, values, errors and fault labels that try to break out of the
    // SVG, an attribute or the page.
    let evil = "</svg><script>alert(1)</script>\"'&";
    let ms = 1_000_000u64;
    let h = jsonl(&[
        json!({"index": 0, "type": "invoke", "process": "nemesis", "f": "start-partition", "value": {"label": evil}, "time": 0}),
        json!({"index": 1, "type": "info", "process": "nemesis", "f": "start-partition", "value": null, "time": ms}),
        json!({"index": 2, "type": "invoke", "process": 0, "f": evil, "value": evil, "time": 2 * ms, "node": evil}),
        json!({"index": 3, "type": "info", "process": 0, "f": evil, "value": evil, "time": 3 * ms, "error": evil}),
        json!({"index": 4, "type": "invoke", "process": 1, "f": "read", "value": null, "time": 4 * ms}),
        json!({"index": 5, "type": "ok", "process": 1, "f": "read", "value": [evil], "time": 5 * ms}),
    ]);
    let html = page(&h, workloads::check("set", &h).unwrap());
    assert!(!html.contains("<script>"), "a script tag got through");
    assert_eq!(
        html.matches("<svg").count(),
        html.matches("</svg>").count(),
        "an SVG was closed early"
    );
}

#[test]
fn the_page_says_how_clocks_were_moved_and_on_which_store() {
    let results = Results::from_checks(Vec::new(), 0);
    let mut c = cfg();
    c.nemesis = vec![nemeses::Kind::Clock];
    let html = render(&c, &history(), &results, &[]).unwrap();
    assert!(html.contains("clocks moved per process with libfaketime"));
    c.clock_mode = crate::settings::ClockMode::Date;
    c.store = crate::settings::StoreKind::Etcd;
    let html = render(&c, &history(), &results, &[]).unwrap();
    assert!(html.contains("clocks moved host-wide with date -s"));
    assert!(
        html.contains("etcd nodes"),
        "the cluster line names the store"
    );
    c.nemesis = vec![nemeses::Kind::Partition];
    let html = render(&c, &history(), &results, &[]).unwrap();
    assert!(!html.contains("clocks moved"));
}

#[test]
fn lost_elements_of_a_keyed_set_are_explained_with_their_key() {
    // The real run's ops as Jepsen's `independent` tuples of one key.
    let mut h = fixture("set-rmw");
    for op in &mut h.ops {
        if op.process != Process::Nemesis && (op.f == "add" || op.f == "read") {
            op.value = serde_json::json!(["k1", op.value.clone()]);
        }
    }
    let checks = workloads::check("set", &h).unwrap();
    assert_eq!(
        checks[0].valid,
        checkers::Validity::Invalid,
        "{}",
        checks[0].summary
    );
    let set: checkers::set::SetAnalysis =
        serde_json::from_value(checks[0].details.clone()).unwrap();
    assert_eq!(set.keys[0].key, "k1");
    let first = &set.keys[0].analysis.lost[0];
    let html = page(&h, checks);
    assert_explained(
        &html,
        "set",
        "lost element",
        &format!("key k1: element {} was acknowledged to", first.element),
    );
}

#[test]
fn a_stale_read_found_without_searching_is_explained_with_its_three_ops() {
    // Crashed writes the search must try in every order, and a read of 1
    // after a write of 2 that began once the write of 1 had ended.
    let mut lines = Vec::new();
    let mut i = 0;
    let mut op = |t: &str, p: u64, f: &str, v: &str| {
        lines.push(format!(
            r#"{{"index":{i},"type":"{t}","process":{p},"f":"{f}","value":{v},"time":{}}}"#,
            i * 1_000_000
        ));
        i += 1;
    };
    for p in 0..14 {
        op("invoke", p, "write", &(100 + p).to_string());
    }
    for p in 0..7 {
        op("invoke", 20, "read", "null");
        op("ok", 20, "read", &(100 + 2 * p).to_string());
    }
    op("invoke", 21, "write", "1");
    op("ok", 21, "write", "1");
    op("invoke", 22, "write", "2");
    op("ok", 22, "write", "2");
    op("invoke", 20, "read", "null");
    op("ok", 20, "read", "1");
    let h = checkers::parse::jsonl(&lines.join("\n")).unwrap();
    // A search budget of one step: only the stale read can decide it.
    let options = checkers::linear::Options {
        budget: checkers::linear::Budget {
            max_steps: 1,
            max_cache_bytes: 1 << 20,
        },
        ..Default::default()
    };
    let checks = vec![checkers::linear::check_with(
        &h,
        checkers::linear::Model::Register,
        &options,
    )];
    assert_eq!(
        checks[0].valid,
        checkers::Validity::Invalid,
        "{}",
        checks[0].summary
    );
    assert_eq!(
        checks[0].details["violation"]["counterexample"]["kind"],
        "stale"
    );
    let html = page(&h, checks);
    assert_explained(
        &html,
        "linearizable",
        "not linearizable",
        "read → 1 by process 20 (ok) saw a value that no op could have left there",
    );
}
