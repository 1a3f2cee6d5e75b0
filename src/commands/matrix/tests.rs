//! The matrix: parsing rows, running them, and what it writes.

use super::*;
use crate::settings::Conflict;
use serde_json::json;

fn parse_text(text: &str) -> Result<Matrix, String> {
    parse(text, Path::new("m.toml"), &Overrides::default()).map_err(|e| {
        assert!(!e.0.contains('\n'), "one line: {}", e.0);
        e.0
    })
}

const TWO: &str = r#"
    [defaults]
    nodes = 3
    time_limit = 4
    [defaults.store]
    r = 1
    [defaults.nemesis]
    faults = ["partition"]

    [[row]]
    name = "a"
    expect = "valid"
    store = { w = 1 }

    [[row]]
    name = "b"
    expect = "invalid"
    nodes = 4
    workload = { name = "set", client = "rmw", keys = 1 }
    nemesis = { faults = [] }
    [row.checkers.siblings]
    bound = 2
"#;

#[test]
fn rows_are_their_defaults_with_their_own_keys_laid_over() {
    let m = parse_text(TWO).unwrap();
    assert_eq!(m.name, "m");
    assert_eq!(m.results, PathBuf::from("results"));
    let [a, b] = &m.rows[..] else {
        panic!("{:?}", m.rows)
    };
    assert_eq!((a.name.as_str(), a.expect), ("a", Expect::Valid));
    assert_eq!(a.config.name, "a", "the row's name is its test name");
    assert_eq!((a.config.nodes, a.config.time_limit_s), (3, 4.0));
    assert_eq!((a.config.quorums.r, a.config.quorums.w), (1, 1));
    assert_eq!(a.config.nemesis, [nemeses::Kind::Partition]);
    assert_eq!(b.expect, Expect::Invalid);
    assert_eq!((b.config.nodes, b.config.time_limit_s), (4, 4.0));
    assert_eq!((b.config.quorums.r, b.config.quorums.w), (1, 2));
    assert!(b.config.nemesis.is_empty());
    assert_eq!(
        b.config.client,
        workloads::ClientMode::parse("rmw").unwrap()
    );
    assert_eq!(
        b.config.checker_options.siblings_bound,
        Some(checkers::siblings::SiblingBound::AtMost(2))
    );
    // The row's own file, defaults merged in, without `expect`; it
    // reads back as the same test.
    let src = b.config.config.as_ref().unwrap();
    assert_eq!(src.row.as_deref(), Some("b"));
    assert!(!src.text.contains("expect"), "{}", src.text);
    let again = config::from_table(config::parse_table(&src.text, "b").unwrap(), "b").unwrap();
    assert_eq!(
        (again.nodes, again.store.r),
        (
            Some(crate::settings::config_file::Nodes(
                crate::cluster::nodes::NodesArg::Count(4)
            )),
            Some(1)
        )
    );

    let only = parse(
        TWO,
        Path::new("m.toml"),
        &Overrides {
            only: vec!["b".into()],
            results: Some("/tmp/r".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(only.rows.len(), 1);
    assert_eq!(only.rows[0].config.results, PathBuf::from("/tmp/r"));
    assert_eq!(only.results, PathBuf::from("/tmp/r"));
}

#[test]
fn a_shard_keeps_its_rows_and_knows_the_whole_matrix() {
    let m = parse_text(TWO).unwrap();
    let s1 = m.clone().shard("1/2".parse().unwrap());
    let s2 = m.clone().shard("2/2".parse().unwrap());
    let names = |m: &Matrix| m.rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        (names(&s1), names(&s2)),
        (vec!["a".to_string()], vec!["b".to_string()])
    );
    assert_eq!(s1.all_rows, ["a", "b"]);
    assert_eq!(s2.shard.map(|s| s.to_string()).as_deref(), Some("2/2"));
    let s3 = m.shard("3/3".parse().unwrap());
    assert!(s3.rows.is_empty() && s3.all_rows.len() == 2);
}

#[test]
fn outcomes_round_trip_through_rows_json() {
    let mut rows = mixed();
    rows.push(outcome("skipped", Expect::Valid, Got::NotRun));
    rows.push(outcome(
        "lost",
        Expect::Valid,
        Got::NotMerged("in no shard".into()),
    ));
    let text = serde_json::to_string(&rows).unwrap();
    let back: Vec<RowOutcome> = serde_json::from_str(&text).unwrap();
    for (a, b) in rows.iter().zip(&back) {
        assert_eq!((&a.name, a.expect, &a.got), (&b.name, b.expect, &b.got));
        assert_eq!(a.anomalies, b.anomalies);
        assert_eq!(
            (a.duration_s, a.seed, &a.report),
            (b.duration_s, b.seed, &b.report)
        );
    }
    assert!(text.contains(r#""expect":"invalid""#), "{text}");
}

#[test]
fn the_readme_example_is_a_valid_matrix() {
    let text = crate::settings::config_file::tests::readme_toml("## A matrix of tests");
    let m = parse_text(&text).unwrap();
    assert_eq!(m.name, "nightly");
    assert_eq!(m.rows[0].expect, Expect::Invalid);
    assert_eq!(m.rows[0].config.time_limit_s, 30.0);
}

#[test]
fn nightly_parses_and_pairs_every_unsafe_setting_with_invalid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("nightly.toml");
    let m = load(&path, &Overrides::default()).unwrap();
    assert_eq!(m.name, "nightly");
    let row = |n: &str| {
        m.rows
            .iter()
            .find(|r| r.name == n)
            .unwrap_or_else(|| panic!("no row {n}"))
    };
    let invalid: Vec<&str> = m
        .rows
        .iter()
        .filter(|r| r.expect == Expect::Invalid)
        .map(|r| r.name.as_str())
        .collect();
    assert!(invalid.len() >= 5, "{invalid:?}");
    let c = &row("siblings-node-vclock").config;
    assert_eq!(c.quorums.conflict, Conflict::NodeVclock);
    assert_eq!(row("siblings-dvv").config.quorums.conflict, Conflict::Dvv);
    let c = &row("register-quorum").config;
    assert_eq!(
        (c.client.name(), row("register-quorum").expect),
        ("quorum", Expect::Invalid)
    );
    let c = &row("set-crdt-no-repair").config;
    assert!(!c.quorums.read_repair && c.quorums.anti_entropy_ms == 0);
    // The power pair differs in fsync only, on the same fixed timeline.
    let (never, always) = (
        &row("ringkv-power-fsync-never").config,
        &row("ringkv-power-fsync-always").config,
    );
    assert_eq!(
        (never.quorums.fsync.as_str(), always.quorums.fsync.as_str()),
        ("never", "always")
    );
    assert!(never.fixed_schedule.is_some() && never.fixed_schedule == always.fixed_schedule);
    assert_eq!(never.nemesis, [nemeses::Kind::Power]);
    // Bounded: the main phases alone stay under 20 minutes, so the whole
    // matrix (start-up, heal, final reads, checks) stays under 45 on one
    // machine (a quarter of that over examples/ci's four shards).
    let total: f64 = m
        .rows
        .iter()
        .map(|r| r.config.time_limit_s + r.config.quiesce_s)
        .sum();
    assert!(total < 1200.0, "{total}");
}

#[test]
fn a_bad_matrix_names_the_file_the_row_and_the_key() {
    for (text, want) in [
        ("", "m.toml: no rows"),
        ("[[row]]\nexpect = \"valid\"\n", "m.toml: row 1: no name"),
        ("[[row]]\nname = \"a\"\n", "m.toml: row \"a\": no expect (expect = \"valid\" or \"invalid\")"),
        ("[[row]]\nname = \"a\"\nexpect = \"unknown\"\n", "m.toml: row \"a\": expect = \"unknown\": expected \"valid\" or \"invalid\""),
        ("[[row]]\nname = \"a\"\nexpect = \"valid\"\n[[row]]\nname = \"a\"\nexpect = \"valid\"\n", "m.toml: two rows are named \"a\""),
        ("rows = 1\n[[row]]\nname = \"a\"\nexpect = \"valid\"\n", "m.toml: unknown key rows at the top level (known: name, defaults, row)"),
        ("[[row]]\nname = \"a\"\nexpect = \"valid\"\n[row.store]\nconflict = \"x\"\n", "m.toml: row \"a\": store.conflict: \"x\" is not a conflict mode; expected one of lww"),
        ("[[row]]\nname = \"a\"\nexpect = \"valid\"\nnodez = 3\n", "m.toml: row \"a\": unknown key nodez"),
        ("[defaults]\nnodez = 3\n[[row]]\nname = \"a\"\nexpect = \"valid\"\n", "m.toml: [defaults]: unknown key nodez"),
        ("[defaults]\nexpect = \"valid\"\n[[row]]\nname = \"a\"\nexpect = \"valid\"\n", "m.toml: [defaults] expect: each row has its own expect"),
        ("[[row]]\nname = \"a\"\nexpect = \"valid\"\nnodes = 1\n", "m.toml: row \"a\": --nemesis partition needs at least 2 nodes"),
        ("[[row]]\nname = \"a/b\"\nexpect = \"valid\"\n", "m.toml: row \"a/b\": name: \"a/b\" must be a plain folder name"),
    ] {
        let e = parse_text(text).unwrap_err();
        assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
    }
    let e = parse(
        TWO,
        Path::new("m.toml"),
        &Overrides {
            only: vec!["c".into()],
            ..Default::default()
        },
    )
    .unwrap_err()
    .0;
    assert_eq!(e, "--only c: no such row in m.toml (rows: a, b)");
}

/// A row's outcome as a run would leave it (its report under
/// `results/<name>/20261124T220000.000/`).
pub(crate) fn outcome(name: &str, expect: Expect, got: Got) -> RowOutcome {
    let anomalies = match &got {
        Got::Verdict(Validity::Invalid) => vec![CheckResult {
            checker: "set".into(),
            valid: Validity::Invalid,
            summary: "3 of 90 acknowledged elements lost: 7, 11, <b>|".into(),
            details: json!({"lost": [7, 11, 22]}),
        }],
        Got::Verdict(Validity::Unknown) => vec![CheckResult {
            checker: "convergence".into(),
            valid: Validity::Unknown,
            summary: "no final read succeeded".into(),
            details: json!({}),
        }],
        _ => vec![],
    };
    RowOutcome {
        name: name.into(),
        expect,
        report: matches!(got, Got::Verdict(_))
            .then(|| PathBuf::from(format!("results/{name}/20261124T220000.000/report.html"))),
        got,
        anomalies,
        duration_s: 30.5,
        seed: 42,
        command: format!("faultline test --name {name}"),
    }
}

fn mixed() -> Vec<RowOutcome> {
    vec![
        outcome("caught", Expect::Invalid, Got::Verdict(Validity::Invalid)),
        outcome("safe", Expect::Valid, Got::Verdict(Validity::Valid)),
        outcome("missed", Expect::Invalid, Got::Verdict(Validity::Valid)),
        outcome(
            "undecided",
            Expect::Invalid,
            Got::Verdict(Validity::Unknown),
        ),
        outcome(
            "crashed",
            Expect::Invalid,
            Got::Error("starting n3: address in use\ncaused by: bind".into()),
        ),
    ]
}

#[test]
fn exit_codes_tell_a_crash_from_a_verdict_that_differs() {
    let mut rows = mixed();
    assert_eq!(exit_code(&rows), exit::ERROR);
    rows.pop();
    assert_eq!(
        exit_code(&rows),
        exit::INVALID,
        "unknown is never as expected"
    );
    rows.pop();
    assert_eq!(exit_code(&rows), exit::INVALID);
    rows.pop();
    assert_eq!(
        exit_code(&rows),
        exit::VALID,
        "an unsafe row caught is as expected"
    );
    rows.push(outcome("skipped", Expect::Valid, Got::NotRun));
    assert_eq!(exit_code(&rows), exit::ERROR);
}

#[test]
fn the_table_shows_every_row_and_a_line_per_row_not_as_expected() {
    let t = table("nightly", &mixed());
    let lines: Vec<&str> = t.lines().collect();
    assert!(
        lines[0].starts_with("row") && lines[0].contains("expected  got"),
        "{t}"
    );
    assert!(
        lines[1].starts_with("caught") && lines[1].contains("invalid"),
        "{t}"
    );
    assert!(
        lines[1].contains("results/caught/20261124T220000.000/report.html"),
        "{t}"
    );
    assert!(
        lines[5].starts_with("crashed") && lines[5].contains(" error "),
        "{t}"
    );
    assert!(lines[5].contains("starting n3: address in use"), "{t}");
    assert!(
        t.contains("FAIL row \"missed\": expected invalid, got valid\n"),
        "{t}"
    );
    assert!(t.contains("FAIL row \"undecided\": expected invalid, got unknown (convergence (unknown): no final read succeeded)"), "{t}");
    assert!(t.contains("ERROR row \"crashed\": the run failed (expected invalid): starting n3: address in use\n"), "{t}");
    assert!(
        !t.contains("row \"caught\"") && !t.contains("row \"safe\""),
        "{t}"
    );
    assert!(
        t.ends_with("matrix nightly: 2 of 5 rows as expected, 2 differ, 1 error (2 min 33 s)\n"),
        "{t}"
    );
}

#[test]
fn markdown_links_reports_from_the_matrix_folder_and_escapes_values() {
    let md = markdown(
        "nightly",
        &mixed(),
        Path::new("results/matrix-20261124T230000.000"),
    );
    assert!(
        md.starts_with("### 💥 faultline matrix nightly: 2 of 5 rows as expected\n"),
        "{md}"
    );
    assert!(md.contains("| caught | invalid | ✅ invalid | set: 3 of 90 acknowledged elements lost: 7, 11, &lt;b&gt;\\| | 30.5 s | [report](../caught/20261124T220000.000/report.html) |"), "{md}");
    assert!(md.contains("| missed | invalid | ❌ valid | - |"), "{md}");
    assert!(md.contains("| undecided | invalid | ⚠️ unknown |"), "{md}");
    assert!(
        md.contains("| crashed | invalid | 💥 error | starting n3: address in use | 30.5 s | - |"),
        "{md}"
    );
    assert!(
        md.contains("- FAIL row \"missed\": expected invalid, got valid\n"),
        "{md}"
    );
    let ok = markdown("n", &mixed()[..2], Path::new("results/m"));
    assert!(
        ok.starts_with("### ✅ faultline matrix n: 2 of 2 rows as expected"),
        "{ok}"
    );
}

#[test]
fn junit_has_one_case_per_row_failures_for_verdicts_errors_for_crashes() {
    let mut rows = mixed();
    rows.push(outcome("skipped", Expect::Valid, Got::NotRun));
    let xml = junit("nightly", &rows).to_string().unwrap();
    let parsed = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes()))
        .unwrap_or_else(|e| panic!("not JUnit: {e}\n{xml}"));
    let s = &parsed.suites[0];
    assert_eq!(s.name, "faultline.matrix.nightly");
    assert_eq!(
        (s.tests, s.failures, s.errors, s.skipped),
        (6, 2, 1, 1),
        "{xml}"
    );
    let case = |n: &str| s.cases.iter().find(|c| c.original_name == n).unwrap();
    assert!(case("caught").status.is_success());
    assert!(case("safe").status.is_success());
    let f = case("missed").status.failure_as_ref();
    assert_eq!(f.failure_type, "unexpected-verdict");
    assert_eq!(f.message, "expected invalid, got valid: -");
    assert_eq!(
        case("undecided").status.failure_as_ref().failure_type,
        "unknown"
    );
    let e = case("crashed").status.error_as_ref();
    assert_eq!(
        (e.error_type.as_str(), e.message.as_str()),
        ("error", "starting n3: address in use")
    );
    assert!(case("skipped").status.is_skipped());
    let c = case("caught");
    assert_eq!(c.time, 30.5);
    assert_eq!(c.classname.as_deref(), Some("faultline.matrix.nightly"));
    assert!(
        c.system_out
            .as_deref()
            .is_some_and(|o| o.starts_with("caught as expected: set: 3 of 90")),
        "{c:?}"
    );
    assert_eq!(c.properties.hashmap["expected"], "invalid");
    assert_eq!(c.properties.hashmap["got"], "invalid");
    assert_eq!(c.properties.hashmap["seed"], "42");
}
