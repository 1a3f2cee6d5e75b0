//! One seam for everything a checked history leaves behind.
//!
//! A history is checked in three places: at the end of `faultline test`,
//! by `faultline report` (which redraws a run, or with `--recheck` checks
//! it again) and by `faultline check` (stored histories, offline). Each
//! then writes some of the same artifacts: `results.json`, the HTML report,
//! JUnit XML and a Markdown summary for CI, the run's `latest` link and the
//! results index. Those writes live here, behind one fan-out (as
//! criterion's `Reports` fans one measurement out to every report kind):
//! a caller says where each artifact goes ([`Targets`]), then hands over
//! each checked history ([`Publisher::publish`]) and, when done, calls
//! [`Publisher::finish`]. A target left `None` is not written, and the
//! anomaly sentences the CI files quote are computed only when a CI file is
//! written.
//!
//! What a failure means follows the artifact: `results.json` and the
//! report are the run's record, so failing to write them is an error; the
//! CI files and the index add to a verdict already saved, so for a run
//! folder they only warn (for `faultline check`, whose only output they
//! are, they are errors).

use super::outputs::{junit, markdown, RunInfo};
use super::report::{self, Page, RunView};
use super::results::{Results, RunDir};
use crate::settings::TestConfig;
use anyhow::{Context, Result};
use checkers::History;
use std::path::PathBuf;

/// Anomaly sentences per checker in the CI files.
const HIGHLIGHTS: usize = 3;

/// Where a checked history's artifacts go; `None` skips one.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// `results.json`, the verdicts as data.
    pub results_json: Option<PathBuf>,
    /// The HTML report: a file (a run's `report.html`) or, for
    /// `faultline check`, a directory that gets `<file stem>.html` per
    /// history.
    pub report: Option<ReportTarget>,
    /// JUnit XML, every history published into one file.
    pub junit: Option<PathBuf>,
    /// A Markdown summary, every history published into one file.
    pub markdown: Option<PathBuf>,
    /// A run folder to mark as its test's `latest` when done.
    pub latest: Option<RunDir>,
    /// A results root whose `index.html` is regenerated when done.
    pub index: Option<PathBuf>,
    /// Whether the CI files and the index only warn when they cannot be
    /// written (a run folder, whose verdict is already saved).
    pub ci_files_warn: bool,
}

/// Where the HTML report goes.
#[derive(Clone, Debug)]
pub enum ReportTarget {
    /// A run folder's `report.html`, drawn with the run's settings, its
    /// cluster and its nodes' logs.
    Run(RunDir),
    /// `<dir>/<stem>.html` for each history checked offline.
    Dir(PathBuf),
}

impl Targets {
    /// Every artifact of a run folder: `results.json`, `report.html`,
    /// `junit.xml`, `summary.md`, the `latest` link and the index of
    /// `results_root`.
    pub fn run_folder(dir: &RunDir, results_root: Option<PathBuf>) -> Self {
        Targets {
            results_json: Some(dir.file("results.json")),
            report: Some(ReportTarget::Run(dir.clone())),
            junit: Some(dir.file("junit.xml")),
            markdown: Some(dir.file("summary.md")),
            latest: results_root.as_ref().map(|_| dir.clone()),
            index: results_root,
            ci_files_warn: true,
        }
    }
}

/// One checked history, as [`Publisher::publish`] takes it.
pub struct Checked<'a> {
    /// What the CI files say about it (name, seed, command, ...).
    pub info: RunInfo,
    /// The history.
    pub history: &'a History,
    /// Its verdicts.
    pub results: &'a Results,
    /// The run's settings, when it is a run (not a file checked offline).
    pub config: Option<&'a TestConfig>,
    /// The report's settings table for a file checked offline.
    pub page_config: Vec<(String, String)>,
    /// The file's stem, naming its report in a [`ReportTarget::Dir`].
    pub stem: String,
}

/// Writes the artifacts of checked histories to their [`Targets`].
pub struct Publisher {
    targets: Targets,
    runs: Vec<(RunInfo, Results)>,
    warnings: Vec<String>,
}

impl Publisher {
    /// A publisher to `targets`.
    pub fn new(targets: Targets) -> Self {
        Publisher {
            targets,
            runs: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Writes one history's own artifacts (`results.json`, its report) and
    /// keeps its verdicts for the CI files; returns the report's path when
    /// one was drawn.
    pub fn publish(&mut self, checked: Checked) -> Result<Option<PathBuf>> {
        // Kept for the CI files first: a report that cannot be drawn does
        // not take the history's verdicts out of them.
        // The history is paired and its faults and ops indexed once, for
        // the report and the CI files' sentences alike, and only when one
        // of them is written.
        let ci = self.targets.junit.is_some() || self.targets.markdown.is_some();
        let view = self.needs_history().then(|| RunView::new(checked.history));
        let mut info = checked.info.clone();
        if let (true, Some(view)) = (ci, &view) {
            info.highlights = report::highlights_in(view, checked.results, HIGHLIGHTS);
        }
        self.runs.push((info, checked.results.clone()));
        if let Some(p) = &self.targets.results_json {
            write_json(p, checked.results)?;
        }
        Ok(match (&self.targets.report, &view) {
            (Some(ReportTarget::Run(dir)), Some(view)) => {
                let cfg = checked
                    .config
                    .context("a run folder's report needs the run's settings")?;
                report::write_in(dir, cfg, view, checked.results).context("writing report.html")?;
                Some(dir.file("report.html"))
            }
            (Some(ReportTarget::Dir(dir)), Some(view)) => Some(write_page(dir, &checked, view)?),
            _ => None,
        })
    }

    /// Whether publishing reads the history's ops (for a report or the CI
    /// files' sentences), not only its results.
    pub fn needs_history(&self) -> bool {
        self.targets.junit.is_some()
            || self.targets.markdown.is_some()
            || self.targets.report.is_some()
    }

    /// Keeps a history that could not be checked (its `results` say why)
    /// for the CI files.
    pub fn failed(&mut self, info: RunInfo, results: Results) {
        self.runs.push((info, results));
    }

    /// Writes the CI files over every history published, marks the run
    /// `latest` and regenerates the index. Returns the warnings printed
    /// (for a run folder); an error for a file that could not be written
    /// otherwise.
    pub fn finish(mut self) -> Result<Vec<String>> {
        let runs: Vec<(&RunInfo, &Results)> = self.runs.iter().map(|(i, r)| (i, r)).collect();
        let mut ci = Vec::new();
        if let Some(p) = &self.targets.junit {
            ci.push(junit::write(p, &runs).context("--junit"));
        }
        if let Some(p) = &self.targets.markdown {
            ci.push(markdown::write(p, &runs).context("--markdown"));
        }
        for r in ci {
            if let Err(e) = r {
                if !self.targets.ci_files_warn {
                    return Err(e);
                }
                self.warn(format!("{e:#}"));
            }
        }
        if let Some(dir) = &self.targets.latest {
            dir.mark_latest()?;
        }
        if let Some(root) = &self.targets.index {
            if let Err(e) = super::index::write(root) {
                self.warn(format!("could not regenerate the results index: {e:#}"));
            }
        }
        Ok(self.warnings)
    }

    fn warn(&mut self, w: String) {
        eprintln!("faultline: warning: {w}");
        self.warnings.push(w);
    }
}

/// Writes `value` as pretty JSON to `path`.
fn write_json(path: &std::path::Path, value: &Results) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Draws the report of one history checked offline into `dir/<stem>.html`.
fn write_page(dir: &std::path::Path, c: &Checked, view: &RunView) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the report directory {}", dir.display()))?;
    let out = dir.join(format!("{}.html", c.stem));
    let html = report::render_page_in(
        &Page {
            name: &c.info.test,
            command: c.info.command.as_deref().unwrap_or(""),
            config: c.page_config.clone(),
            cluster: None,
            history: c.history,
            results: c.results,
            node_logs: &[],
        },
        view,
    )?;
    std::fs::write(&out, html).with_context(|| format!("writing {}", out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::report::synthetic;

    fn checked(history: &History) -> Results {
        let checks = workloads::check_with("set", history, &Default::default()).unwrap();
        Results::from_checks(checks, history.ops.len() as u64)
    }

    fn info() -> RunInfo {
        RunInfo {
            test: "set-rmw".into(),
            workload: "set".into(),
            ..RunInfo::default()
        }
    }

    #[test]
    fn a_run_folder_gets_every_artifact_and_nothing_else_is_written_by_default() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::create(tmp.path(), "set-rmw").unwrap();
        let history = synthetic::set_history(200, 1);
        let results = checked(&history);
        let cfg = synthetic::config();
        let mut p = Publisher::new(Targets::run_folder(&dir, Some(tmp.path().to_path_buf())));
        let report = p
            .publish(Checked {
                info: info(),
                history: &history,
                results: &results,
                config: Some(&cfg),
                page_config: Vec::new(),
                stem: String::new(),
            })
            .unwrap();
        assert_eq!(report, Some(dir.file("report.html")));
        assert!(p.finish().unwrap().is_empty());
        for f in ["results.json", "report.html", "junit.xml", "summary.md"] {
            assert!(dir.file(f).is_file(), "{f} missing");
        }
        assert!(tmp.path().join("index.html").is_file());
        assert!(tmp.path().join("set-rmw").join("latest").exists());

        // No targets: nothing is written, and no anomaly sentence is
        // computed for CI files that are not asked for.
        let empty = tempfile::tempdir().unwrap();
        let mut p = Publisher::new(Targets::default());
        p.publish(Checked {
            info: info(),
            history: &history,
            results: &results,
            config: None,
            page_config: Vec::new(),
            stem: "h".into(),
        })
        .unwrap();
        assert!(p.runs[0].0.highlights.is_empty());
        p.finish().unwrap();
        assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
    }

    #[test]
    fn offline_ci_files_that_cannot_be_written_are_errors_and_keep_every_history() {
        let tmp = tempfile::tempdir().unwrap();
        let history = synthetic::set_history(50, 2);
        let results = checked(&history);
        // The report directory is a file: the report fails, the verdicts
        // still reach the Markdown summary.
        let not_a_dir = tmp.path().join("file");
        std::fs::write(&not_a_dir, "").unwrap();
        let md = tmp.path().join("summary.md");
        let mut p = Publisher::new(Targets {
            report: Some(ReportTarget::Dir(not_a_dir)),
            markdown: Some(md.clone()),
            ..Targets::default()
        });
        let one = Checked {
            info: info(),
            history: &history,
            results: &results,
            config: None,
            page_config: Vec::new(),
            stem: "one".into(),
        };
        assert!(p.publish(one).is_err());
        p.finish().unwrap();
        assert!(std::fs::read_to_string(&md).unwrap().contains("set-rmw"));
        // An unwritable JUnit file is an error offline, a warning for a run.
        let junit = tmp.path().join("no-such-dir").join("junit.xml");
        let offline = Publisher::new(Targets {
            junit: Some(junit.clone()),
            ..Targets::default()
        });
        let e = offline.finish().unwrap_err();
        assert!(format!("{e:#}").contains("--junit"), "{e:#}");
        let run = Publisher::new(Targets {
            junit: Some(junit),
            ci_files_warn: true,
            ..Targets::default()
        });
        assert_eq!(run.finish().unwrap().len(), 1);
    }
}
