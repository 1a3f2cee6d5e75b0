//! `results/index.html`: every run at a glance, and a trend per test.
//!
//! Regenerated after every run, by `faultline serve` at start and by
//! `faultline index`. It lists every run directory under
//! `results/<test>/<timestamp>/`, newest first, with its verdict, the
//! summaries of its non-valid checkers, seed and duration, linking to its
//! report; above, one row of coloured squares per test name shows its last
//! runs oldest to newest. The page is self-contained (inline CSS, no
//! script, no external request) and every value passes through tera's
//! HTML autoescaping (the template is named `*.html`).
//!
//! A run directory whose files are missing or malformed (a run that died,
//! or is still going) is listed as `incomplete`: the index never fails
//! because of what it finds in `results/`.

use crate::artifacts::outputs::truncate_chars;
use crate::artifacts::results::Results;
use anyhow::{Context, Result};
use checkers::Validity;
use chrono::{DateTime, Local, NaiveDateTime};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

const TEMPLATE: &str = include_str!("index.html");

/// Runs per test shown in its trend.
pub const TREND_RUNS: usize = 50;
/// Characters of one anomaly shown in the list.
const ANOMALY_CHARS: usize = 160;
/// Anomalies shown per run.
const ANOMALIES_SHOWN: usize = 3;

/// What a run directory says about its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every checker found the history valid.
    Valid,
    /// A checker found an anomaly.
    Invalid,
    /// A checker could not decide.
    Unknown,
    /// No readable `results.json`: the run died, or is still going.
    Incomplete,
}

impl Status {
    /// The word shown for it, as the CLI prints verdicts.
    pub fn word(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Invalid => "INVALID",
            Status::Unknown => "unknown",
            Status::Incomplete => "incomplete",
        }
    }
}

impl From<Validity> for Status {
    fn from(v: Validity) -> Self {
        match v {
            Validity::Valid => Status::Valid,
            Validity::Invalid => Status::Invalid,
            Validity::Unknown => Status::Unknown,
        }
    }
}

/// One run directory, as the index shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// Test name (the folder under `results/`).
    pub test: String,
    /// The run folder's name (its start time).
    pub run: String,
    /// A link to its report (or results), relative to `results/` and
    /// percent-encoded; none when the folder has neither.
    pub href: Option<String>,
    /// When it started, for humans.
    pub date: String,
    /// Seed from `test.json`.
    pub seed: Option<String>,
    /// Workload from `test.json`.
    pub workload: Option<String>,
    /// Fault kinds from `test.json`.
    pub nemesis: Option<String>,
    /// Its verdict (CSS class and colour).
    pub status: Status,
    /// The verdict as a word.
    pub verdict: &'static str,
    /// The run was cut short.
    pub interrupted: bool,
    /// What went wrong: the summaries of non-valid checkers (cut), the
    /// run's error, or why it is incomplete.
    pub anomalies: Vec<String>,
    /// How long it took, for humans.
    pub duration: Option<String>,
    #[serde(skip)]
    sort_key: NaiveDateTime,
}

/// One test name's recent runs, oldest first, for the trend row.
#[derive(Clone, Debug, Serialize)]
pub struct Trend {
    /// Test name.
    pub test: String,
    /// Its last [`TREND_RUNS`] runs, oldest to newest.
    pub cells: Vec<TrendCell>,
    /// Runs of this test in all.
    pub total: usize,
}

/// One square of a trend row.
#[derive(Clone, Debug, Serialize)]
pub struct TrendCell {
    /// The run's verdict (its colour).
    pub status: Status,
    /// Link to the run's report, if it has one.
    pub href: Option<String>,
    /// Tooltip: date, verdict, first anomaly.
    pub title: String,
}

/// Characters left as they are in a path segment of a link.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn link(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| utf8_percent_encode(p, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Real (not symlinked) subdirectories of `dir` whose names are not hidden.
fn subdirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// Files whose presence makes a folder a run directory.
const RUN_FILES: &[&str] = &["results.json", "test.json", "history.jsonl"];

/// Every run directory under `root`, newest first. Never fails: a folder
/// that cannot be read is skipped, a run whose files are missing or
/// malformed is listed as incomplete.
pub fn scan(root: &Path) -> Vec<RunRow> {
    let mut rows = Vec::new();
    for (test, test_dir) in subdirs(root) {
        for (run, dir) in subdirs(&test_dir) {
            if RUN_FILES.iter().any(|f| dir.join(f).is_file()) {
                rows.push(read_run(&test, &run, &dir));
            }
        }
    }
    rows.sort_by(|a, b| {
        b.sort_key
            .cmp(&a.sort_key)
            .then_with(|| a.test.cmp(&b.test))
            .then_with(|| b.run.cmp(&a.run))
    });
    rows
}

fn read_run(test: &str, run: &str, dir: &Path) -> RunRow {
    let cfg: Option<Value> = std::fs::read_to_string(dir.join("test.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let results: Result<Results, String> = match std::fs::read_to_string(dir.join("results.json")) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("no results.json: the run died or is still going".to_string())
        }
        Err(e) => Err(format!("results.json unreadable: {e}")),
        Ok(t) => serde_json::from_str(&t).map_err(|e| format!("results.json malformed: {e}")),
    };
    let started = results
        .as_ref()
        .ok()
        .and_then(|r| r.started.as_deref())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Local).naive_local());
    let sort_key = NaiveDateTime::parse_from_str(run, "%Y%m%dT%H%M%S%.f")
        .ok()
        .or(started)
        .or_else(|| {
            let m = std::fs::metadata(dir).and_then(|m| m.modified()).ok()?;
            Some(DateTime::<Local>::from(m).naive_local())
        })
        .unwrap_or_default();
    let href = ["report.html", "results.json"]
        .iter()
        .find(|f| dir.join(f).is_file())
        .map(|f| link(&[test, run, f]));
    let field = |k: &str| cfg.as_ref().and_then(|c| c.get(k));
    let seed = field("seed").and_then(|s| match s {
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let workload = field("workload").and_then(Value::as_str).map(String::from);
    let nemesis = field("nemesis").and_then(Value::as_array).map(|ks| {
        let ks: Vec<&str> = ks.iter().filter_map(Value::as_str).collect();
        if ks.is_empty() {
            "none".to_string()
        } else {
            ks.join(",")
        }
    });
    let (status, interrupted, anomalies, duration) = match &results {
        Err(why) => (Status::Incomplete, false, vec![why.clone()], None),
        Ok(r) => {
            let mut anomalies = Vec::new();
            if let Some(e) = &r.error {
                anomalies.push(format!("error: {}", truncate_chars(e, ANOMALY_CHARS)));
            }
            let bad: Vec<String> = r
                .checkers
                .iter()
                .filter(|c| c.valid != Validity::Valid)
                .map(|c| {
                    truncate_chars(
                        &format!("{} {}: {}", c.checker, c.valid.word(), c.summary),
                        ANOMALY_CHARS,
                    )
                })
                .collect();
            let more = bad.len().saturating_sub(ANOMALIES_SHOWN);
            anomalies.extend(bad.into_iter().take(ANOMALIES_SHOWN));
            if more > 0 {
                anomalies.push(format!("… and {more} more"));
            }
            (
                Status::from(r.valid),
                r.interrupted,
                anomalies,
                r.duration_s.map(human_duration),
            )
        }
    };
    RunRow {
        test: test.to_string(),
        run: run.to_string(),
        href,
        date: sort_key.format("%Y-%m-%d %H:%M:%S").to_string(),
        seed,
        workload,
        nemesis,
        status,
        verdict: status.word(),
        interrupted,
        anomalies,
        duration,
        sort_key,
    }
}

fn human_duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".into();
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let s = s.round() as u64;
    if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    }
}

/// One trend per test name (alphabetical), each its last
/// [`TREND_RUNS`] runs oldest to newest; `rows` newest first, as
/// [`scan`] gives them.
pub fn trends(rows: &[RunRow]) -> Vec<Trend> {
    let mut by_test: BTreeMap<&str, Vec<&RunRow>> = BTreeMap::new();
    for r in rows {
        by_test.entry(&r.test).or_default().push(r);
    }
    by_test
        .into_iter()
        .map(|(test, runs)| {
            let total = runs.len();
            let mut cells: Vec<TrendCell> = runs
                .iter()
                .take(TREND_RUNS)
                .map(|r| TrendCell {
                    status: r.status,
                    href: r.href.clone(),
                    title: match r.anomalies.first() {
                        Some(a) => format!("{}: {} — {a}", r.date, r.verdict),
                        None => format!("{}: {}", r.date, r.verdict),
                    },
                })
                .collect();
            cells.reverse();
            Trend {
                test: test.to_string(),
                cells,
                total,
            }
        })
        .collect()
}

/// The index page of the runs under `root`.
pub fn render(root: &Path) -> Result<String> {
    let rows = scan(root);
    let mut ctx = tera::Context::new();
    ctx.insert("root", &root.display().to_string());
    ctx.insert("trends", &trends(&rows));
    ctx.insert("runs", &rows);
    ctx.insert("trend_runs", &TREND_RUNS);
    ctx.insert(
        "generated",
        &Local::now().format("%Y-%m-%d %H:%M:%S %Z").to_string(),
    );
    let mut tera = tera::Tera::default();
    tera.add_raw_template("index.html", TEMPLATE)
        .context("parsing the index template")?;
    Ok(tera.render("index.html", &ctx)?)
}

/// Writes `root/index.html` (atomically: a reader never sees half a
/// page) and returns its path.
pub fn write(root: &Path) -> Result<PathBuf> {
    let html = render(root)?;
    let path = root.join("index.html");
    let mut tmp = tempfile::NamedTempFile::new_in(root)
        .with_context(|| format!("creating a temporary file in {}", root.display()))?;
    tmp.write_all(html.as_bytes())?;
    tmp.persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    // NamedTempFile is created 0600; the page is for everyone who can
    // read the results.
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Writes one run folder; `results` of None leaves results.json out.
    fn run(root: &Path, test: &str, stamp: &str, cfg: Option<Value>, results: Option<&str>) {
        let d = root.join(test).join(stamp);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("history.jsonl"), "").unwrap();
        if let Some(c) = cfg {
            std::fs::write(d.join("test.json"), c.to_string()).unwrap();
        }
        if let Some(r) = results {
            std::fs::write(d.join("results.json"), r).unwrap();
            std::fs::write(d.join("report.html"), "<html></html>").unwrap();
        }
    }

    fn results(valid: Value, checkers: Value, extra: Value) -> String {
        let mut r =
            json!({"valid": valid, "checkers": checkers, "op_count": 10, "interrupted": false});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r.to_string()
    }

    fn checker(name: &str, valid: Value, summary: &str) -> Value {
        json!({"checker": name, "valid": valid, "summary": summary, "details": {}})
    }

    /// A results tree: two tests with valid, invalid, unknown, malformed
    /// and missing results, a hostile test name, and things that are no run.
    fn tree() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let cfg =
            |seed: u64| json!({"seed": seed, "workload": "set", "nemesis": ["partition", "kill"]});
        run(
            root,
            "set-crdt",
            "20261124T100000.000",
            Some(cfg(1)),
            Some(&results(
                json!(true),
                json!([checker("set", json!(true), "all present")]),
                json!({"duration_s": 30.54, "started": "2026-11-24T10:00:00+00:00"}),
            )),
        );
        run(
            root,
            "set-crdt",
            "20261124T110000.000",
            Some(cfg(2)),
            Some(&results(
                json!(false),
                json!([
                    checker("set", json!(false), "3 lost: <script>alert(1)</script>"),
                    checker("perf", json!(true), "fine"),
                    checker("convergence", json!("unknown"), "no final read"),
                ]),
                json!({"duration_s": 95.0}),
            )),
        );
        run(
            root,
            "set-rmw",
            "20261124T103000.000",
            None,
            Some(&results(
                json!("unknown"),
                json!([checker("set", json!("unknown"), "no final read succeeded")]),
                json!({"interrupted": true, "error": "killed"}),
            )),
        );
        run(
            root,
            "set-rmw",
            "20261124T120000.000",
            Some(cfg(4)),
            Some("{not json"),
        );
        run(
            root,
            "set-rmw",
            "20261124T130000.000",
            Some(json!("not an object")),
            None,
        );
        run(
            root,
            "<script>x",
            "20261124T090000.000",
            None,
            Some(&results(
                json!(true),
                json!([checker("set", json!(true), "ok")]),
                json!({}),
            )),
        );
        // Not runs: the latest link, an empty folder, a file, a hidden folder.
        std::os::unix::fs::symlink("set-crdt/20261124T110000.000", root.join("latest")).unwrap();
        std::fs::create_dir_all(root.join("set-crdt").join("empty")).unwrap();
        std::fs::write(root.join("README.md"), "x").unwrap();
        run(root, ".hidden", "20261124T140000.000", None, Some("{}"));
        tmp
    }

    #[test]
    fn lists_every_run_newest_first_with_its_verdict() {
        let tmp = tree();
        let rows = scan(tmp.path());
        let seen: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.test.as_str(), r.run.as_str(), r.verdict))
            .collect();
        assert_eq!(
            seen,
            [
                ("set-rmw", "20261124T130000.000", "incomplete"),
                ("set-rmw", "20261124T120000.000", "incomplete"),
                ("set-crdt", "20261124T110000.000", "INVALID"),
                ("set-rmw", "20261124T103000.000", "unknown"),
                ("set-crdt", "20261124T100000.000", "valid"),
                ("<script>x", "20261124T090000.000", "valid"),
            ]
        );
        let missing = &rows[0];
        assert!(
            missing.anomalies[0].contains("no results.json"),
            "{missing:?}"
        );
        assert_eq!(missing.seed, None, "test.json is malformed");
        assert_eq!(missing.href, None);
        let malformed = &rows[1];
        assert!(
            malformed.anomalies[0].starts_with("results.json malformed"),
            "{malformed:?}"
        );
        assert_eq!(malformed.seed.as_deref(), Some("4"));
        let invalid = &rows[2];
        assert_eq!(
            invalid.anomalies,
            [
                "set INVALID: 3 lost: <script>alert(1)</script>",
                "convergence unknown: no final read"
            ]
        );
        assert_eq!(invalid.duration.as_deref(), Some("1 min 35 s"));
        assert_eq!(invalid.date, "2026-11-24 11:00:00");
        assert_eq!(
            invalid.href.as_deref(),
            Some("set-crdt/20261124T110000.000/report.html")
        );
        let unknown = &rows[3];
        assert!(unknown.interrupted);
        assert_eq!(unknown.anomalies[0], "error: killed");
        assert_eq!(unknown.seed, None);
        let valid = &rows[4];
        assert_eq!(valid.seed.as_deref(), Some("1"));
        assert_eq!(valid.nemesis.as_deref(), Some("partition,kill"));
        assert_eq!(valid.workload.as_deref(), Some("set"));
        assert_eq!(valid.duration.as_deref(), Some("30.5 s"));
        assert!(valid.anomalies.is_empty());
        assert_eq!(
            rows[5].href.as_deref(),
            Some("%3Cscript%3Ex/20261124T090000.000/report.html")
        );
    }

    #[test]
    fn trends_run_oldest_to_newest_per_test() {
        let tmp = tree();
        let t = trends(&scan(tmp.path()));
        let names: Vec<&str> = t.iter().map(|t| t.test.as_str()).collect();
        assert_eq!(names, ["<script>x", "set-crdt", "set-rmw"]);
        let statuses = |i: usize| t[i].cells.iter().map(|c| c.status).collect::<Vec<_>>();
        assert_eq!(statuses(1), [Status::Valid, Status::Invalid]);
        assert_eq!(
            statuses(2),
            [Status::Unknown, Status::Incomplete, Status::Incomplete]
        );
        assert_eq!(
            t[1].cells[1].title,
            "2026-11-24 11:00:00: INVALID — set INVALID: 3 lost: <script>alert(1)</script>"
        );
        assert_eq!(
            t[1].cells[0].href.as_deref(),
            Some("set-crdt/20261124T100000.000/report.html")
        );
    }

    #[test]
    fn a_trend_keeps_the_last_fifty_runs() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..55 {
            let v = if i % 2 == 0 { "true" } else { "false" };
            run(
                tmp.path(),
                "t",
                &format!("20261124T10{i:02}00.000"),
                None,
                Some(&format!(
                    r#"{{"valid": {v}, "checkers": [], "op_count": 0, "interrupted": false}}"#
                )),
            );
        }
        let t = trends(&scan(tmp.path()));
        assert_eq!(t[0].total, 55);
        assert_eq!(t[0].cells.len(), TREND_RUNS);
        // Oldest shown is run 5 (odd: invalid), newest run 54 (valid).
        assert!(
            t[0].cells[0].title.starts_with("2026-11-24 10:05:00"),
            "{}",
            t[0].cells[0].title
        );
        assert!(t[0].cells[49].title.starts_with("2026-11-24 10:54:00"));
        assert_eq!(t[0].cells[0].status, Status::Invalid);
        assert_eq!(t[0].cells[1].status, Status::Valid);
        assert_eq!(t[0].cells[49].status, Status::Valid);
    }

    #[test]
    fn the_page_escapes_stored_text_and_links_each_run() {
        let tmp = tree();
        let path = write(tmp.path()).unwrap();
        assert_eq!(path, tmp.path().join("index.html"));
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(
            !html.contains("<script"),
            "a stored <script> must be shown, not run"
        );
        assert!(
            html.contains("3 lost: &lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<th scope=\"row\">&lt;script&gt;x</th>"),
            "{html}"
        );
        // Self-contained: no external requests.
        for bad in ["http://", "https://", "src=", "@import", "<link"] {
            assert!(!html.contains(bad), "{bad}");
        }
        // The runs table, newest first, and its verdict words.
        let table = &html[html.find("<table class=\"runs\">").unwrap()..];
        let verdicts: Vec<&str> = table
            .split("<td class=\"verdict ")
            .skip(1)
            .map(|s| &s[s.find('>').unwrap() + 1..s.find("</td>").unwrap()])
            .collect();
        assert_eq!(
            verdicts,
            [
                "incomplete",
                "incomplete",
                "INVALID",
                "unknown (interrupted)",
                "valid",
                "valid"
            ]
        );
        // The set-crdt trend row: two squares, oldest first, linking to reports.
        let trend = html
            .split("<tr class=\"trend\">")
            .find(|r| r.contains(">set-crdt</th>"))
            .unwrap();
        let cells: Vec<&str> = trend.split("<a class=\"cell ").skip(1).collect();
        assert_eq!(cells.len(), 2, "{trend}");
        assert!(cells[0].starts_with("valid\" href=\"set-crdt&#x2F;20261124T100000.000&#x2F;report.html\" title=\"2026-11-24 10:00:00: valid\""), "{}", cells[0]);
        assert!(cells[1].starts_with("invalid\""), "{}", cells[1]);
        // A run without a report gets a square without a link.
        let rmw = html
            .split("<tr class=\"trend\">")
            .find(|r| r.contains(">set-rmw</th>"))
            .unwrap();
        let rmw = &rmw[..rmw.find("</tr>").unwrap()];
        assert_eq!(
            rmw.matches("<span class=\"cell incomplete\"").count(),
            1,
            "{rmw}"
        );
        assert_eq!(
            rmw.matches("<a class=\"cell incomplete\"").count(),
            1,
            "{rmw}"
        );
        assert_eq!(rmw.matches("<a class=\"cell unknown\"").count(), 1, "{rmw}");
        assert!(html.contains("6 runs in"), "{html}");
    }

    #[test]
    fn an_empty_or_missing_results_folder_gives_a_page() {
        let tmp = tempfile::tempdir().unwrap();
        let html = render(&tmp.path().join("nope")).unwrap();
        assert!(html.contains("No runs yet"), "{html}");
        write(tmp.path()).unwrap();
        assert!(std::fs::read_to_string(tmp.path().join("index.html"))
            .unwrap()
            .contains("0 runs in"));
    }
}
