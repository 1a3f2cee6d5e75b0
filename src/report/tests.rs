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
    crate::cli::test_config(
        match <crate::cli::Cli as clap::Parser>::try_parse_from([
            "faultline",
            "test",
            "--seed",
            "1",
        ])
        .unwrap()
        .command
        {
            crate::cli::Command::Test(a) => *a,
            _ => unreachable!(),
        },
    )
    .unwrap()
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
