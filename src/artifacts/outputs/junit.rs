//! `junit.xml`: a run's verdicts as JUnit test results.
//!
//! CI servers (GitLab, Jenkins, GitHub actions that publish test results)
//! read JUnit XML and show failures beside the build. One test suite per
//! run, named `faultline.<test>`; one test case per checker (classname
//! `faultline.<test>.<workload>`): a valid checker passes, an invalid one
//! is a `failure` whose message is the checker's summary and whose text
//! lists the anomalies from its details, an unknown one is an `error` of
//! type `unknown`. A run cut short adds a test case `run` with an `error`,
//! so an interrupted run never looks green. The XML is written by
//! `quick-junit`, which escapes every value and drops the control
//! characters XML 1.0 cannot carry.

use super::{anomaly_text, truncate_chars, RunInfo};
use crate::artifacts::results::Results;
use anyhow::{Context, Result};
use checkers::Validity;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::Path;
use std::time::Duration;

/// Bytes of anomaly details in one failure's text.
const DETAILS_BYTES: usize = 4096;
/// Characters of a summary in a failure's `message` attribute.
const MESSAGE_CHARS: usize = 1000;

/// The test suite of one run (or one checked history).
pub fn test_suite(info: &RunInfo, results: &Results) -> TestSuite {
    let mut suite = TestSuite::new(format!("faultline.{}", info.test));
    let classname = format!("faultline.{}.{}", info.test, info.workload);
    for c in &results.checkers {
        let status = match c.valid {
            Validity::Valid => TestCaseStatus::success(),
            Validity::Invalid => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type("invalid")
                    .set_message(truncate_chars(&c.summary, MESSAGE_CHARS));
                let anomalies = anomaly_text(&c.details, DETAILS_BYTES);
                let sentences: String = info
                    .highlights
                    .iter()
                    .filter(|(checker, _)| *checker == c.checker)
                    .map(|(_, text)| format!("- {text}\n"))
                    .collect();
                let mut text = c.summary.clone();
                if !sentences.is_empty() {
                    text.push_str("\n\n");
                    text.push_str(&truncate_chars(&sentences, DETAILS_BYTES));
                }
                if !anomalies.is_empty() {
                    text.push_str("\n\n");
                    text.push_str(&anomalies);
                }
                s.set_description(text);
                s
            }
            Validity::Unknown => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_type("unknown")
                    .set_message(truncate_chars(&c.summary, MESSAGE_CHARS))
                    .set_description(c.summary.clone());
                s
            }
        };
        let mut case = TestCase::new(c.checker.clone(), status);
        // Checkers do not time themselves; JUnit readers expect a time.
        case.set_classname(classname.clone())
            .set_time(Duration::ZERO);
        suite.add_test_case(case);
    }
    if let Some(text) = run_error(results) {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
        s.set_type(if results.error.is_some() {
            "error"
        } else {
            "interrupted"
        })
        .set_message(truncate_chars(
            text.lines().next().unwrap_or_default(),
            MESSAGE_CHARS,
        ))
        .set_description(text);
        let mut case = TestCase::new("run", s);
        case.set_classname(classname.clone())
            .set_time(Duration::from_secs_f64(
                results.duration_s.unwrap_or(0.0).max(0.0),
            ));
        suite.add_test_case(case);
    }
    let mut props = vec![
        ("verdict", results.valid.word().to_string()),
        ("workload", info.workload.clone()),
        ("op_count", results.op_count.to_string()),
    ];
    if let Some(seed) = info.seed {
        props.push(("seed", seed.to_string()));
    }
    if !info.nemesis.is_empty() {
        props.push(("nemesis", info.nemesis.join(",")));
    }
    if let Some(cmd) = &info.command {
        props.push(("command", cmd.clone()));
    }
    suite.add_properties(
        props
            .into_iter()
            .map(|(k, v)| quick_junit::Property::new(k, v)),
    );
    suite.set_time(Duration::from_secs_f64(
        results.duration_s.unwrap_or(0.0).max(0.0),
    ));
    if let Some(t) = results
        .started
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    {
        suite.set_timestamp(t);
    }
    suite
}

/// Why the run's verdict covers less than a whole run, if it does: the
/// run's error, an interruption, or no checker at all.
fn run_error(results: &Results) -> Option<String> {
    if let Some(e) = &results.error {
        return Some(e.clone());
    }
    if results.interrupted {
        return Some(
            "interrupted (Ctrl-C or SIGTERM): the verdict covers only what was recorded".into(),
        );
    }
    if results.checkers.is_empty() {
        return Some("no checker ran, so there is no verdict".into());
    }
    None
}

/// A JUnit report with one suite per run.
pub fn report(runs: &[(&RunInfo, &Results)]) -> Report {
    let mut report = Report::new("faultline");
    report.add_test_suites(runs.iter().map(|(i, r)| test_suite(i, r)));
    report
}

/// The JUnit XML of `runs`, as text.
pub fn render(runs: &[(&RunInfo, &Results)]) -> Result<String> {
    report(runs)
        .to_string()
        .context("serializing the JUnit report")
}

/// Writes the JUnit XML of `runs` to `path`.
pub fn write(path: &Path, runs: &[(&RunInfo, &Results)]) -> Result<()> {
    let xml = render(runs)?;
    std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::outputs::fixtures::{check, info, invalid, valid};
    use serde_json::json;

    /// Parses with an independent JUnit reader (junit-parser, not
    /// quick-junit which wrote it): structure, counts and attributes.
    fn read(xml: &str) -> junit_parser::TestSuites {
        junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes()))
            .unwrap_or_else(|e| panic!("not JUnit: {e}\n{xml}"))
    }

    /// The text of each test case's failure or error, exactly. junit-parser
    /// 1.7 trims text chunks, joins them with newlines and drops entity
    /// references (`&lt;`), so element text is read back with quick-junit's
    /// own JUnit deserializer instead.
    fn texts(xml: &str) -> Vec<Option<String>> {
        let r = Report::deserialize_from_str(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        r.test_suites
            .iter()
            .flat_map(|s| s.test_cases.iter())
            .map(|c| match &c.status {
                TestCaseStatus::NonSuccess { description, .. } => {
                    description.as_ref().map(|d| d.to_string())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_valid_run_is_one_suite_of_passing_checkers() {
        let xml = render(&[(&info(), &valid())]).unwrap();
        let parsed = read(&xml);
        assert_eq!(parsed.suites.len(), 1);
        let s = &parsed.suites[0];
        assert_eq!(s.name, "faultline.set-rmw");
        assert_eq!((s.tests, s.failures, s.errors), (2, 0, 0));
        assert_eq!(s.time, 43.25);
        let names: Vec<&str> = s.cases.iter().map(|c| c.original_name.as_str()).collect();
        assert_eq!(names, ["set", "perf"]);
        for c in &s.cases {
            assert!(c.status.is_success(), "{c:?}");
            assert_eq!(c.classname.as_deref(), Some("faultline.set-rmw.set"));
            assert_eq!(c.time, 0.0);
        }
        let props = &s.properties.hashmap;
        assert_eq!(props["seed"], "42");
        assert_eq!(props["verdict"], "valid");
        assert_eq!(props["nemesis"], "partition,kill");
        assert!(props["command"].starts_with("faultline test"));
        assert!(s.timestamp.is_some(), "{xml}");
    }

    #[test]
    fn invalid_is_a_failure_with_details_and_unknown_an_error() {
        let xml = render(&[(&info(), &invalid())]).unwrap();
        let s = &read(&xml).suites[0];
        assert_eq!((s.tests, s.failures, s.errors), (3, 1, 1));
        let set = &s.cases[0];
        assert!(set.status.is_failure(), "{set:?}");
        let f = set.status.failure_as_ref();
        assert_eq!(
            f.message,
            "32 of 502 acknowledged elements lost (missing from final reads): 7, 11, 22, …"
        );
        assert_eq!(f.failure_type, "invalid");
        let text = texts(&xml)[0].clone().unwrap();
        assert!(text.starts_with("32 of 502"), "{text}");
        assert!(
            text.contains(
                r#"lost (32): {"added_at":1.5,"element":0}; {"added_at":1.5,"element":1}"#
            ),
            "{text}"
        );
        assert!(text.contains("… and 27 more"), "{text}");
        let conv = &s.cases[1];
        assert!(conv.status.is_error(), "{conv:?}");
        let e = conv.status.error_as_ref();
        assert_eq!(e.error_type, "unknown");
        assert_eq!(e.message, "no final read succeeded on n3");
        assert!(s.cases[2].status.is_success());
        assert!(!s.cases.iter().any(|c| c.original_name == "run"));
    }

    #[test]
    fn failure_details_stay_bounded() {
        let lost: Vec<String> = (0..10_000)
            .map(|i| format!("element {i} {}", "x".repeat(200)))
            .collect();
        let r = Results::from_checks(
            vec![check(
                "set",
                Validity::Invalid,
                "lost",
                json!({"lost": lost.clone(), "stale": lost.clone(), "violations": lost}),
            )],
            1,
        );
        let xml = render(&[(&info(), &r)]).unwrap();
        assert!(xml.len() < 8_000, "{} bytes", xml.len());
        assert!(read(&xml).suites[0].cases[0].status.is_failure());
        let text = texts(&xml)[0].clone().unwrap();
        assert!(text.contains("lost (10000): element 0"), "{text}");
        assert!(text.len() <= 4096 + "lost".len() + 2, "{}", text.len());
    }

    #[test]
    fn an_interrupted_or_failed_run_adds_an_erroring_run_case() {
        let mut r = valid();
        r.interrupted = true;
        let s = &read(&render(&[(&info(), &r)]).unwrap()).suites[0];
        assert_eq!((s.tests, s.errors), (3, 1));
        let run = s.cases.iter().find(|c| c.original_name == "run").unwrap();
        let e = run.status.error_as_ref();
        assert_eq!(e.error_type, "interrupted");
        assert!(e.message.starts_with("interrupted"), "{}", e.message);

        r.error = Some("starting n3: address in use\ncaused by: bind".into());
        let s = &read(&render(&[(&info(), &r)]).unwrap()).suites[0];
        let run = s.cases.iter().find(|c| c.original_name == "run").unwrap();
        let e = run.status.error_as_ref();
        assert_eq!(e.error_type, "error");
        assert_eq!(e.message, "starting n3: address in use");
        let xml = render(&[(&info(), &r)]).unwrap();
        assert_eq!(
            texts(&xml).last().unwrap().as_deref(),
            Some("starting n3: address in use\ncaused by: bind")
        );
        assert_eq!(run.time, 43.25);

        // No checker at all is no green suite either.
        let none = Results::from_checks(vec![], 0);
        let s = &read(&render(&[(&info(), &none)]).unwrap()).suites[0];
        assert_eq!((s.tests, s.errors), (1, 1));
    }

    #[test]
    fn stored_values_survive_as_text_and_control_characters_are_dropped() {
        let nasty = "<script>alert(1)</script> ]]> & \"q\" 'a' \u{1}\u{8}\u{1f}end";
        let mut i = info();
        i.test = "t<script>".into();
        let r = Results::from_checks(
            vec![check(
                "set",
                Validity::Invalid,
                nasty,
                json!({"lost": [nasty]}),
            )],
            1,
        );
        let xml = render(&[(&i, &r)]).unwrap();
        assert!(!xml.contains("<script>"), "{xml}");
        assert!(
            !xml.contains("]]>"),
            "a CDATA end marker must be escaped: {xml}"
        );
        assert!(!xml.contains('\u{1}') && !xml.contains('\u{8}'), "{xml}");
        let s = &read(&xml).suites[0];
        assert_eq!(s.name, "faultline.t<script>");
        let f = s.cases[0].status.failure_as_ref();
        let expected = "<script>alert(1)</script> ]]> & \"q\" 'a' end";
        assert_eq!(f.message, expected);
        let text = texts(&xml)[0].clone().unwrap();
        assert!(text.starts_with(expected), "{text}");
        assert!(
            text.contains("lost (1): <script>alert(1)</script> ]]> & \"q\" 'a' end"),
            "{text}"
        );
    }

    #[test]
    fn several_checked_files_are_several_suites() {
        let mut other = info();
        other.test = "set-valid".into();
        let xml = render(&[(&info(), &invalid()), (&other, &valid())]).unwrap();
        let parsed = read(&xml);
        let names: Vec<&str> = parsed.suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["faultline.set-rmw", "faultline.set-valid"]);
        assert_eq!((parsed.tests, parsed.failures, parsed.errors), (5, 1, 1));
    }
}
