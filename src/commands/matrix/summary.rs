//! What a matrix reports when its rows are done: the table printed on the
//! terminal, and in `results/matrix-<timestamp>/` a Markdown summary, a
//! JUnit file (one test case per row, a row that did not get its expected
//! verdict failing) and `rows.json`, which `faultline merge` joins across
//! shards.

use super::shard::Shard;
use super::{exit_code, Got, Matrix, RowOutcome};
use crate::artifacts::outputs::markdown::escape;
use crate::artifacts::outputs::{anomaly_text, truncate_chars};
use crate::exit;
use anyhow::{Context, Result};
use checkers::Validity;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A duration as a person reads it: `4.2 s`, `3 min 05 s`.
pub fn seconds(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let s = s.round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// The summary as a plain-text table (row, expected, got, anomalies,
/// duration, report), then one line per row not as expected, then the
/// count.
pub fn table(name: &str, rows: &[RowOutcome]) -> String {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.expect.word().to_string(),
                r.got.word().to_string(),
                truncate_chars(&r.anomaly_line().replace(['\n', '\r'], " "), 72),
                seconds(r.duration_s),
                r.report
                    .as_ref()
                    .map_or("-".into(), |p| p.display().to_string()),
            ]
        })
        .collect();
    let head = ["row", "expected", "got", "anomalies", "duration", "report"];
    let mut width = head.map(|h| h.chars().count());
    for c in &cells {
        for (w, cell) in width.iter_mut().zip(c) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |c: &[String; 6]| {
        let mut s = String::new();
        for (i, cell) in c.iter().enumerate() {
            if i + 1 == c.len() {
                s.push_str(cell);
            } else {
                let pad = width[i] - cell.chars().count();
                let _ = write!(s, "{cell}{}  ", " ".repeat(pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&head.map(String::from));
    for c in &cells {
        out.push_str(&line(c));
    }
    out.push('\n');
    for r in rows {
        if let Some(c) = r.complaint() {
            out.push_str(&c);
            out.push('\n');
        }
    }
    out.push_str(&count_line(name, rows));
    out.push('\n');
    out
}

/// `matrix NAME: 11 of 12 rows as expected, 1 differs, 0 errors (9 min 41 s)`.
pub fn count_line(name: &str, rows: &[RowOutcome]) -> String {
    let ok = rows.iter().filter(|r| r.as_expected()).count();
    let errors = rows.iter().filter(|r| r.errored()).count();
    let differ = rows.len() - ok - errors;
    let total: f64 = rows.iter().map(|r| r.duration_s).sum();
    format!(
        "matrix {name}: {ok} of {} rows as expected, {differ} differ{}, {errors} error{} ({})",
        rows.len(),
        if differ == 1 { "s" } else { "" },
        if errors == 1 { "" } else { "s" },
        seconds(total)
    )
}

/// A link from the matrix folder `from` to `to` (both under the same
/// results root when relative), as a relative path where possible.
fn relative_link(from: &Path, to: &Path) -> String {
    match from.parent().map(|root| to.strip_prefix(root)) {
        Some(Ok(rel)) => format!("../{}", rel.display()),
        _ => to.display().to_string(),
    }
}

fn md_link_target(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' | '(' | ')' | '<' | '>' | '"' | '\\' | '`' => format!("%{:02X}", c as u32),
            c if c.is_control() => String::new(),
            c => c.to_string(),
        })
        .collect()
}

/// The summary as Markdown (for a job summary or a pull-request comment):
/// a heading with the count, the table with reports linked relative to
/// `dir` (the matrix's folder), and a line per row not as expected. Values
/// from the store are escaped.
pub fn markdown(name: &str, rows: &[RowOutcome], dir: &Path) -> String {
    let ok = rows.iter().filter(|r| r.as_expected()).count();
    let badge = match exit_code(rows) {
        exit::VALID => "✅",
        exit::INVALID => "❌",
        _ => "💥",
    };
    let mut md = format!(
        "### {badge} faultline matrix {}: {ok} of {} rows as expected\n\n",
        escape(name),
        rows.len()
    );
    md.push_str(
        "| row | expected | got | anomalies | duration | report |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let mark = if r.as_expected() {
            "✅"
        } else if r.errored() {
            "💥"
        } else if r.got == Got::Verdict(Validity::Unknown) {
            "⚠️"
        } else {
            "❌"
        };
        let _ = writeln!(
            md,
            "| {} | {} | {mark} {} | {} | {} | {} |",
            escape(&r.name),
            r.expect.word(),
            r.got.word(),
            escape(&truncate_chars(&r.anomaly_line(), 200)),
            seconds(r.duration_s),
            match &r.report {
                Some(p) => format!("[report]({})", md_link_target(&relative_link(dir, p))),
                None => "-".into(),
            }
        );
    }
    let complaints: Vec<String> = rows.iter().filter_map(RowOutcome::complaint).collect();
    if !complaints.is_empty() {
        md.push('\n');
        for c in complaints {
            let _ = writeln!(md, "- {}", escape(&c));
        }
    }
    let _ = writeln!(md, "\n{}", escape(&count_line(name, rows)));
    md
}

/// The matrix as JUnit: one suite `faultline.matrix.<name>`, one test case
/// per row. A row as expected passes (an unsafe row that was caught too);
/// a row whose verdict differs is a `failure` (type `unexpected-verdict`,
/// or `unknown`) with what the checkers found; a row whose run failed is
/// an `error`; a row not run is skipped.
pub fn junit(name: &str, rows: &[RowOutcome]) -> Report {
    let mut suite = TestSuite::new(format!("faultline.matrix.{name}"));
    let classname = format!("faultline.matrix.{name}");
    for r in rows {
        let status = if r.as_expected() {
            TestCaseStatus::success()
        } else {
            match &r.got {
                Got::Error(e) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_type("error")
                        .set_message(truncate_chars(e.lines().next().unwrap_or_default(), 1000))
                        .set_description(e.clone());
                    s
                }
                Got::NotRun => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message("not run: the matrix was interrupted before this row");
                    s
                }
                Got::NotMerged(why) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_type("merge").set_message(why.clone());
                    s
                }
                Got::Verdict(v) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_type(if *v == Validity::Unknown {
                        "unknown"
                    } else {
                        "unexpected-verdict"
                    })
                    .set_message(truncate_chars(
                        &format!(
                            "expected {}, got {}: {}",
                            r.expect.word(),
                            r.got.word(),
                            r.anomaly_line()
                        ),
                        1000,
                    ));
                    let mut text = String::new();
                    for c in &r.anomalies {
                        let _ = writeln!(text, "{} {}: {}", c.checker, c.valid.word(), c.summary);
                        let a = anomaly_text(&c.details, 2048);
                        if !a.is_empty() {
                            let _ = writeln!(text, "{a}");
                        }
                    }
                    if text.is_empty() {
                        text = format!(
                            "every checker found the history valid; the row expects {}",
                            r.expect.word()
                        );
                    }
                    s.set_description(text);
                    s
                }
            }
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_classname(classname.clone())
            .set_time(Duration::from_secs_f64(r.duration_s.max(0.0)));
        if r.as_expected() && !r.anomalies.is_empty() {
            // What an unsafe row was caught with, for the CI's test page.
            case.set_system_out(format!("caught as expected: {}", r.anomaly_line()));
        }
        let mut props = vec![
            Property::new("expected", r.expect.word()),
            Property::new("got", r.got.word()),
            Property::new("seed", r.seed.to_string()),
            Property::new("command", r.command.clone()),
        ];
        if let Some(p) = &r.report {
            props.push(Property::new("report", p.display().to_string()));
        }
        case.add_properties(props);
        suite.add_test_case(case);
    }
    suite.set_time(Duration::from_secs_f64(
        rows.iter().map(|r| r.duration_s.max(0.0)).sum(),
    ));
    let mut report = Report::new("faultline");
    report.add_test_suite(suite);
    report
}

/// `rows.json` in a matrix folder: the outcomes, for `faultline merge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    /// The matrix's name.
    pub matrix: String,
    /// The shard these outcomes are, if the matrix was cut.
    pub shard: Option<Shard>,
    /// Every row of the matrix (after `--only`), in file order: what the
    /// shards together run.
    pub rows: Vec<String>,
    /// This run's rows' outcomes, in file order.
    pub outcomes: Vec<SavedRow>,
}

/// One row's outcome as saved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedRow {
    /// The outcome (its `report` as this machine saw it).
    #[serde(flatten)]
    pub outcome: RowOutcome,
    /// The row's run folder relative to the results folder
    /// (`<test>/<timestamp>`), to find it once the folder is moved.
    pub run: Option<PathBuf>,
}

/// Writes `summary.md`, `junit.xml`, `rows.json` ([`Saved`]) and a copy of
/// the matrix file (`matrix.toml`) into a new
/// `<results>/matrix-<timestamp>/`; returns that folder.
pub fn write_outputs(m: &Matrix, rows: &[RowOutcome]) -> Result<PathBuf> {
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f");
    std::fs::create_dir_all(&m.results)
        .with_context(|| format!("creating {}", m.results.display()))?;
    let dir = crate::artifacts::results::create_unique(&m.results, &format!("matrix-{stamp}"))?;
    let md = dir.join("summary.md");
    std::fs::write(&md, markdown(&m.name, rows, &dir))
        .with_context(|| format!("writing {}", md.display()))?;
    let xml = junit(&m.name, rows)
        .to_string()
        .context("serializing the matrix's JUnit report")?;
    let junit_path = dir.join("junit.xml");
    std::fs::write(&junit_path, xml)
        .with_context(|| format!("writing {}", junit_path.display()))?;
    let saved = Saved {
        matrix: m.name.clone(),
        shard: m.shard,
        rows: m.all_rows.clone(),
        outcomes: rows
            .iter()
            .map(|o| SavedRow {
                run: o
                    .report
                    .as_ref()
                    .and_then(|r| r.parent())
                    .and_then(|d| d.strip_prefix(&m.results).ok())
                    .map(Path::to_path_buf),
                outcome: o.clone(),
            })
            .collect(),
    };
    let json = dir.join("rows.json");
    std::fs::write(&json, serde_json::to_string_pretty(&saved)? + "\n")
        .with_context(|| format!("writing {}", json.display()))?;
    let copy = dir.join("matrix.toml");
    std::fs::write(&copy, &m.text).with_context(|| format!("writing {}", copy.display()))?;
    Ok(dir)
}
