//! Where a run's output goes: `results/<test>/<timestamp>/`.
//!
//! A run directory holds `test.json` (the configuration, seed included),
//! `history.jsonl` (written as the run goes), `results.json` (one entry per
//! checker and the overall verdict), `report.html`, and one folder per node
//! with its logs. `results/latest` points at the newest run.

use anyhow::{Context, Result};
use checkers::{CheckResult, Validity};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A freshly created run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// `results/<test>/<timestamp>`.
    pub path: PathBuf,
    /// The `results/` root.
    pub root: PathBuf,
}

impl RunDir {
    /// Creates `root/<test>/<timestamp>` (wall-clock time, for humans).
    pub fn create(root: &Path, test: &str) -> Result<Self> {
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f").to_string();
        let path = root.join(test).join(stamp);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating results directory {}", path.display()))?;
        Ok(RunDir {
            path,
            root: root.to_path_buf(),
        })
    }

    /// A file inside the run directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The directory for one node's files, created on demand.
    pub fn node_dir(&self, node: &str) -> Result<PathBuf> {
        let d = self.path.join(node);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        Ok(d)
    }

    /// Writes `value` as pretty JSON to `name`.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let p = self.file(name);
        let text = serde_json::to_string_pretty(value)?;
        std::fs::write(&p, text + "\n").with_context(|| format!("writing {}", p.display()))
    }

    /// Points `results/latest` at this run (a relative symlink).
    pub fn mark_latest(&self) -> Result<()> {
        let link = self.root.join("latest");
        let target = self.path.strip_prefix(&self.root).unwrap_or(&self.path);
        let tmp = self.root.join(format!(".latest-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(target, &tmp)?;
        std::fs::rename(&tmp, &link).with_context(|| format!("updating {}", link.display()))
    }
}

/// The contents of `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// The worst verdict of all checkers (invalid > unknown > valid).
    pub valid: Validity,
    /// One entry per checker.
    pub checkers: Vec<CheckResult>,
    /// Ops in the history.
    pub op_count: u64,
    /// True when the run was cut short (Ctrl-C, error); the verdict then
    /// covers only what was recorded.
    pub interrupted: bool,
    /// What went wrong during the run, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the run started, wall clock, RFC 3339 (for the index and the
    /// JUnit timestamp; absent in results written before it existed and in
    /// offline checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// How long the run took from start to verdict, in seconds (measured on
    /// the monotonic clock, so clock faults do not move it); absent in
    /// results written before it existed and in offline checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// The phase the watchdog cut off, if it did (the run then has an
    /// `error` saying so, and exits with 255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<crate::status::Cut>,
}

impl Results {
    /// Combines checker results into the run's verdict.
    pub fn from_checks(checkers: Vec<CheckResult>, op_count: u64) -> Self {
        let valid = checkers
            .iter()
            .fold(Validity::Valid, |acc, c| acc.worst(c.valid));
        Results {
            valid: if checkers.is_empty() {
                Validity::Unknown
            } else {
                valid
            },
            checkers,
            op_count,
            interrupted: false,
            error: None,
            started: None,
            duration_s: None,
            cut: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_without_start_and_duration_still_read_and_new_ones_round_trip() {
        let old = r#"{"valid": false, "checkers": [], "op_count": 3, "interrupted": false}"#;
        let r: Results = serde_json::from_str(old).unwrap();
        assert_eq!((r.started.clone(), r.duration_s), (None, None));
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            !text.contains("started") && !text.contains("duration_s"),
            "{text}"
        );
        let mut r = r;
        r.started = Some("2026-11-24T20:54:07.550+01:00".into());
        r.duration_s = Some(43.5);
        let back: Results = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(
            back.started.as_deref(),
            Some("2026-11-24T20:54:07.550+01:00")
        );
        assert_eq!(back.duration_s, Some(43.5));
    }
}
