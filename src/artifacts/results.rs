//! Where a run's output goes: `results/<test>/<timestamp>/`.
//!
//! A run directory holds `test.json` (the configuration, seed included),
//! `history.jsonl` (written as the run goes), `results.json` (one entry per
//! checker and the overall verdict), `report.html`, and one folder per node
//! with its logs. `results/<test>/latest` points at the test's newest run,
//! `results/latest` at the newest run of all.

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
    ///
    /// The folder is created exclusively: two runs of the same test that
    /// start in the same millisecond (`test-all --jobs`, two shards on one
    /// machine, two terminals) never share one; the later gets
    /// `<timestamp>-2`, `-3`, ...
    pub fn create(root: &Path, test: &str) -> Result<Self> {
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f").to_string();
        let parent = root.join(test);
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating results directory {}", parent.display()))?;
        let path = create_unique(&parent, &stamp)?;
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

    /// Points `results/<test>/latest` and `results/latest` at this run
    /// (relative symlinks), unless a newer run of the same test (of any
    /// test, for `results/latest`) already holds them.
    ///
    /// Each link is replaced atomically (a fresh link renamed over the old
    /// one, so a reader sees the old run or the new, never no link), under
    /// an exclusive lock on `results/.latest.lock`, so runs ending together
    /// (`test-all --jobs`, shards sharing a results folder) never leave a
    /// link at an older run: newer is the later run folder name (a
    /// timestamp).
    pub fn mark_latest(&self) -> Result<()> {
        let lock_path = self.root.join(".latest.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let Some(test_dir) = self.path.parent() else {
            return Ok(());
        };
        let run = self.path.file_name().unwrap_or_default();
        point_latest(&test_dir.join("latest"), Path::new(run), run)?;
        let target = self.path.strip_prefix(&self.root).unwrap_or(&self.path);
        point_latest(&self.root.join("latest"), target, run)
    }
}

/// Creates `parent/<stamp>`, or `<stamp>-2`, `-3`, ... if taken (so two
/// writers never share a folder).
pub fn create_unique(parent: &Path, stamp: &str) -> Result<PathBuf> {
    for n in 1u32.. {
        let name = match n {
            1 => stamp.to_string(),
            n => format!("{stamp}-{n}"),
        };
        let path = parent.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("creating results directory {}", path.display()))
            }
        }
    }
    unreachable!("the loop returns")
}

/// Points the symlink `link` at `target` unless it already points at a run
/// whose folder name sorts after `run` (a newer timestamp). The caller
/// holds the results folder's `.latest.lock`.
fn point_latest(link: &Path, target: &Path, run: &std::ffi::OsStr) -> Result<()> {
    if let Ok(current) = std::fs::read_link(link) {
        if current.file_name().is_some_and(|c| c > run) {
            return Ok(());
        }
    }
    let dir = link.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".latest-{}-{}",
        std::process::id(),
        TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    std::fs::rename(&tmp, link).with_context(|| format!("updating {}", link.display()))
}

/// Makes each temporary link name of a process unique across threads.
static TMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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
    pub cut: Option<crate::run::status::Cut>,
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
    fn runs_of_one_test_started_together_get_folders_of_their_own() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| RunDir::create(tmp.path(), "t").unwrap().path))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut unique = dirs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8, "{dirs:?}");
        // Within one millisecond the names are the stamp, then -2, -3...
        let d = tmp.path().join("u");
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(create_unique(&d, "s").unwrap(), d.join("s"));
        assert_eq!(create_unique(&d, "s").unwrap(), d.join("s-2"));
        assert_eq!(create_unique(&d, "s").unwrap(), d.join("s-3"));
    }

    #[test]
    fn latest_points_at_the_newest_run_whatever_order_runs_end_in() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let run = |test: &str, stamp: &str| {
            let path = root.join(test).join(stamp);
            std::fs::create_dir_all(&path).unwrap();
            RunDir {
                path,
                root: root.to_path_buf(),
            }
        };
        let stamps = [
            "20261207T100000.000",
            "20261207T100000.000-2",
            "20261207T100000.001",
            "20261207T090000.000",
            "20261207T100000.001-3",
            "20261207T080000.000",
        ];
        let runs: Vec<RunDir> = stamps.iter().map(|s| run("t", s)).collect();
        // Ending together, in any order: the newest wins.
        std::thread::scope(|s| {
            for r in &runs {
                s.spawn(|| r.mark_latest().unwrap());
            }
        });
        let link = |p: &Path| std::fs::read_link(p).unwrap();
        assert_eq!(
            link(&root.join("t/latest")),
            Path::new("20261207T100000.001-3")
        );
        assert!(root.join("t/latest/.").is_dir(), "relative, resolvable");
        assert_eq!(
            link(&root.join("latest")),
            Path::new("t/20261207T100000.001-3")
        );
        // An older run of another test leaves results/latest alone but
        // takes its own test's link; a newer one takes both.
        run("u", "20261207T070000.000").mark_latest().unwrap();
        assert_eq!(
            link(&root.join("u/latest")),
            Path::new("20261207T070000.000")
        );
        assert_eq!(
            link(&root.join("latest")),
            Path::new("t/20261207T100000.001-3")
        );
        run("u", "20261207T110000.000").mark_latest().unwrap();
        assert_eq!(
            link(&root.join("latest")),
            Path::new("u/20261207T110000.000")
        );
        // No temporary links are left behind.
        let stray: Vec<_> = std::fs::read_dir(root.join("t"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".latest-"))
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    }

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
