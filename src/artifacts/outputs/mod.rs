//! What CI acts on after a run: `junit.xml` (test results any CI server
//! shows) and `summary.md` (a pull-request comment or job summary).
//!
//! Both writers take a [`RunInfo`] (the few facts about the run they need)
//! and the [`Results`], not the whole `TestConfig`, so `faultline check`,
//! which re-checks a stored history and has no configuration, writes them
//! too.

pub mod junit;
pub mod markdown;

use crate::artifacts::results::{Results, RunDir};
use crate::settings::TestConfig;
use anyhow::Result;
use serde_json::Value;

/// The facts about a run the CI outputs show besides its results.
///
/// A plain struct rather than `TestConfig` because an offline check has
/// only a history file, a workload and a command line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunInfo {
    /// The test name (a run's folder under `results/`, or the checked file's
    /// name); JUnit suites are called `faultline.<test>`.
    pub test: String,
    /// The workload whose checkers ran (`set`, `register`, ...).
    pub workload: String,
    /// The exact command line that reproduces the run or the check.
    pub command: Option<String>,
    /// The seed of generated ops and faults, when there is one.
    pub seed: Option<u64>,
    /// Fault kinds injected (empty: none, or not known).
    pub nemesis: Vec<String>,
    /// A link to the run's HTML report, relative to where the outputs are
    /// written (`report.html` in a run directory); none for offline checks.
    pub report: Option<String>,
    /// A few anomalies in words, per checker (checker, sentence), from the
    /// report's explanations: what a reader of the summary alone needs to
    /// know what broke.
    pub highlights: Vec<(String, String)>,
}

impl RunInfo {
    /// The facts of a live run, with its report beside the outputs.
    pub fn from_config(cfg: &TestConfig) -> Self {
        RunInfo {
            test: cfg.name.clone(),
            workload: cfg.workload.to_string(),
            command: Some(cfg.command.clone()),
            seed: Some(cfg.seed),
            nemesis: cfg.nemesis.iter().map(|k| k.name().to_string()).collect(),
            report: Some("report.html".to_string()),
            highlights: Vec::new(),
        }
    }
}

/// Writes `junit.xml` and `summary.md` into a run directory.
pub fn write(dir: &RunDir, info: &RunInfo, results: &Results) -> Result<()> {
    junit::write(&dir.file("junit.xml"), &[(info, results)])?;
    markdown::write(&dir.file("summary.md"), &[(info, results)])
}

/// Names of arrays (or objects) in a checker's `details` that list what
/// went wrong: lost elements, violations, divergent keys, a
/// counterexample, ... Checkers use these names so reports can show their
/// findings without knowing each checker.
pub const ANOMALY_KEYS: &[&str] = &[
    "lost",
    "unexpected",
    "violations",
    "divergent",
    "out_of_bounds",
    "stale",
    "findings",
    "failed_but_present",
    "counterexample",
    "longest_prefix",
    "invalid_keys",
    "unknown_keys",
    "unknown_reasons",
    "malformed",
];

/// Entries shown per anomaly list.
const PER_LIST: usize = 5;
/// Characters shown per entry.
const PER_ENTRY: usize = 300;

/// A bounded plain-text account of the anomalies in a checker's `details`:
/// one line per list named in [`ANOMALY_KEYS`] (found up to a few levels
/// deep, e.g. `violation.counterexample`), with its length and first few
/// entries as compact JSON, cut to at most `max_bytes` bytes. Empty when
/// the details name no anomaly.
pub fn anomaly_text(details: &Value, max_bytes: usize) -> String {
    let mut lines = Vec::new();
    collect_anomalies(details, "", 0, &mut lines);
    truncate_bytes(&lines.join("\n"), max_bytes)
}

fn collect_anomalies(v: &Value, path: &str, depth: usize, out: &mut Vec<String>) {
    let Value::Object(map) = v else { return };
    if depth > 3 {
        return;
    }
    for (k, child) in map {
        let here = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        if ANOMALY_KEYS.contains(&k.as_str()) {
            match child {
                Value::Array(items) if !items.is_empty() => out.push(list_line(&here, items)),
                Value::Object(m) => match m.get("ops") {
                    Some(Value::Array(ops)) if !ops.is_empty() => {
                        out.push(list_line(&format!("{here}.ops"), ops))
                    }
                    _ if !m.is_empty() => out.push(format!(
                        "{here}: {}",
                        truncate_chars(&child.to_string(), PER_ENTRY)
                    )),
                    _ => {}
                },
                _ => {}
            }
        } else {
            collect_anomalies(child, &here, depth + 1, out);
        }
    }
}

fn list_line(name: &str, items: &[Value]) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(PER_LIST)
        .map(|i| match i {
            Value::String(s) => truncate_chars(s, PER_ENTRY),
            other => truncate_chars(&other.to_string(), PER_ENTRY),
        })
        .collect();
    let more = items.len().saturating_sub(PER_LIST);
    format!(
        "{name} ({}): {}{}",
        items.len(),
        shown.join("; "),
        if more > 0 {
            format!("; … and {more} more")
        } else {
            String::new()
        }
    )
}

/// `s` cut to at most `max` characters, with `…` marking a cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `s` cut to at most `max` bytes on a character boundary, with a marker.
pub(crate) fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    const MARK: &str = "\n… (cut; results.json has everything)";
    let mut end = max.saturating_sub(MARK.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &s[..end])
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Results shared by the JUnit and Markdown tests.

    use super::RunInfo;
    use crate::artifacts::results::Results;
    use checkers::{CheckResult, Validity};
    use serde_json::json;

    pub fn info() -> RunInfo {
        RunInfo {
            test: "set-rmw".into(),
            workload: "set".into(),
            command: Some("faultline test --workload set --client rmw --seed 42 --keys 1".into()),
            seed: Some(42),
            nemesis: vec!["partition".into(), "kill".into()],
            report: Some("report.html".into()),
            highlights: Vec::new(),
        }
    }

    pub fn check(
        name: &str,
        valid: Validity,
        summary: &str,
        details: serde_json::Value,
    ) -> CheckResult {
        CheckResult {
            checker: name.into(),
            valid,
            summary: summary.into(),
            details,
        }
    }

    pub fn valid() -> Results {
        let mut r = Results::from_checks(
            vec![
                check(
                    "set",
                    Validity::Valid,
                    "all 2096 acknowledged elements present in all 5 final reads",
                    json!({"lost": []}),
                ),
                check("perf", Validity::Valid, "availability 98.0%", json!({})),
            ],
            4310,
        );
        r.duration_s = Some(43.25);
        r.started = Some("2026-11-24T20:54:07.550+00:00".into());
        r
    }

    pub fn invalid() -> Results {
        let lost: Vec<_> = (0..32)
            .map(|e| json!({"element": e, "added_at": 1.5}))
            .collect();
        let mut r = Results::from_checks(
            vec![
                check(
                    "set",
                    Validity::Invalid,
                    "32 of 502 acknowledged elements lost (missing from final reads): 7, 11, 22, …",
                    json!({"lost": lost, "ok_count": 470}),
                ),
                check(
                    "convergence",
                    Validity::Unknown,
                    "no final read succeeded on n3",
                    json!({"divergent": []}),
                ),
                check("perf", Validity::Valid, "availability 91.0%", json!({})),
            ],
            1004,
        );
        r.duration_s = Some(51.0);
        r.started = Some("2026-11-24T21:03:00.000+00:00".into());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anomalies_name_each_list_its_length_and_first_entries() {
        let lost: Vec<_> = (0..12).collect();
        let d = json!({
            "lost": lost,
            "ok_count": 3,
            "stale": [],
            "violation": {"counterexample": {"ops": [{"f": "cas"}, {"f": "read"}], "minimal": true}},
            "divergent": [{"key": "k1", "values": {"n1": "[1]"}}],
        });
        let t = anomaly_text(&d, 4096);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(t.contains("lost (12): 0; 1; 2; 3; 4; … and 7 more"), "{t}");
        assert!(!t.contains("stale"), "empty lists are no anomaly: {t}");
        assert!(!t.contains("ok_count"), "{t}");
        assert!(
            t.contains(r#"violation.counterexample.ops (2): {"f":"cas"}; {"f":"read"}"#),
            "{t}"
        );
        assert!(t.contains(r#"divergent (1): {"key":"k1""#), "{t}");
        assert_eq!(anomaly_text(&json!({"count": 1}), 4096), "");
        assert_eq!(anomaly_text(&json!(null), 4096), "");
    }

    #[test]
    fn anomaly_text_is_bounded() {
        let big: Vec<String> = (0..100)
            .map(|i| format!("{i}{}", "é".repeat(500)))
            .collect();
        let d = json!({"lost": big.clone(), "stale": big.clone(), "violations": big, "a": {"b": {"unexpected": [1]}}});
        let t = anomaly_text(&d, 4096);
        assert!(t.len() <= 4096, "{}", t.len());
        assert!(t.ends_with("results.json has everything)"), "{t}");
        // Each entry is cut too.
        let first = t.lines().next().unwrap();
        assert!(first.chars().count() < 5 * 310 + 40, "{}", first.len());
    }

    #[test]
    fn truncation_keeps_short_strings_and_marks_cuts() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_bytes("short", 100), "short");
    }
}
