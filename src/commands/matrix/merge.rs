//! `faultline merge DIR...`: the shards of a matrix, joined.
//!
//! Each machine of a sharded matrix (`test-all --shard I/N`) leaves a
//! results folder: its rows' run folders and a `matrix-<timestamp>/`
//! folder whose `rows.json` ([`super::Saved`]) lists the matrix's rows and
//! this shard's outcomes. `merge` reads those, checks they are shards of
//! one matrix (same name, same rows), and writes what an unsharded
//! `test-all` would have: one `summary.md`, one `junit.xml` and one
//! `rows.json` in a new `matrix-<timestamp>/` under `--results`, the rows
//! in file order, with a copy of every row's run folder beside it (so its
//! report links work and `results/index.html`, regenerated, shows them
//! all). Its exit code is [`super::exit_code`]'s for the merged rows.
//!
//! A row must be in exactly one shard's results. A row in none (a shard
//! that never ran or whose results were lost) or in several (the same
//! shard merged twice, shards of different `N`) is an error row saying so
//! ([`super::Got::NotMerged`]), and the exit code is 255.

use super::{finish, Got, Matrix, RowOutcome, Saved};
use crate::UsageError;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// One shard's results, read.
struct Shard {
    /// Its matrix folder (holding rows.json).
    dir: PathBuf,
    /// Its results folder (the matrix folder's parent, where the rows' run
    /// folders are).
    root: PathBuf,
    saved: Saved,
}

/// The matrix folders in `dir`: itself if it holds `rows.json`, else its
/// `matrix-*` folders that do.
fn matrix_folders(dir: &Path) -> Result<Vec<PathBuf>, UsageError> {
    if dir.join("rows.json").is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| UsageError(format!("merge {}: {e}", dir.display())))?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("matrix-"))
                && p.join("rows.json").is_file()
        })
        .collect();
    found.sort();
    Ok(found)
}

fn read_shard(dir: &Path) -> Result<Shard, UsageError> {
    let shown = dir.display();
    let found = matrix_folders(dir)?;
    let dir = match &found[..] {
        [one] => one.clone(),
        [] => {
            return Err(UsageError(format!(
                "merge {shown}: no rows.json in it or in a matrix-* folder inside: give the results folder of a `faultline test-all --shard I/N` run, or its matrix folder"
            )))
        }
        many => {
            let names: Vec<String> = many
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            return Err(UsageError(format!(
                "merge {shown}: it holds {} matrix folders ({}): name the ones to merge",
                many.len(),
                names.join(", ")
            )));
        }
    };
    let path = dir.join("rows.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| UsageError(format!("merge {}: {e}", path.display())))?;
    let saved: Saved = serde_json::from_str(&text).map_err(|e| {
        UsageError(format!(
            "merge {}: not a matrix's rows.json: {e}",
            path.display()
        ))
    })?;
    let root = dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Shard { dir, root, saved })
}

/// Merges the shards' outcomes into one row per row of the matrix, in
/// file order; each outcome with the shard it came from (none for a row
/// found in no shard, or in several).
fn merge_rows(shards: &[Shard]) -> Vec<(RowOutcome, Option<usize>)> {
    let rows = &shards[0].saved.rows;
    let label = |s: &Shard| match s.saved.shard {
        Some(sh) => format!("shard {sh} in {}", s.dir.display()),
        None => format!("unsharded run in {}", s.dir.display()),
    };
    rows.iter()
        .map(|name| {
            let found: Vec<(usize, &super::SavedRow)> = shards
                .iter()
                .enumerate()
                .flat_map(|(i, s)| {
                    s.saved
                        .outcomes
                        .iter()
                        .filter(|o| &o.outcome.name == name)
                        .map(move |o| (i, o))
                })
                .collect();
            match &found[..] {
                [(i, o)] => (o.outcome.clone(), Some(*i)),
                [] => {
                    let seen: Vec<String> = shards
                        .iter()
                        .filter_map(|s| s.saved.shard.map(|x| x.to_string()))
                        .collect();
                    (
                        not_merged(
                            shards,
                            name,
                            format!(
                                "in no shard's results (shards merged: {}): was every shard run and its results kept?",
                                if seen.is_empty() { "none".into() } else { seen.join(", ") }
                            ),
                        ),
                        None,
                    )
                }
                many => {
                    let whose: Vec<String> =
                        many.iter().map(|(i, _)| label(&shards[*i])).collect();
                    (
                        not_merged(
                            shards,
                            name,
                            format!(
                                "in {} shards' results ({}): each row belongs to one shard; merge each shard once",
                                many.len(),
                                whose.join("; ")
                            ),
                        ),
                        None,
                    )
                }
            }
        })
        .collect()
}

/// A row the merge could not place: what it expected, if any shard says.
fn not_merged(shards: &[Shard], name: &str, why: String) -> RowOutcome {
    let known = shards
        .iter()
        .flat_map(|s| &s.saved.outcomes)
        .find(|o| o.outcome.name == name);
    RowOutcome {
        name: name.to_string(),
        expect: known.map_or(super::Expect::Valid, |o| o.outcome.expect),
        got: Got::NotMerged(why),
        anomalies: Vec::new(),
        duration_s: 0.0,
        report: None,
        seed: known.map_or(0, |o| o.outcome.seed),
        command: known.map_or(String::new(), |o| o.outcome.command.clone()),
    }
}

/// Copies `from` into `to` (a run folder: files and subfolders; symlinks
/// are copied as links).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type()?;
        if t.is_dir() {
            copy_tree(&src, &dst)?;
        } else if t.is_symlink() {
            let target = std::fs::read_link(&src)?;
            let _ = std::fs::remove_file(&dst);
            std::os::unix::fs::symlink(target, &dst)
                .with_context(|| format!("linking {}", dst.display()))?;
        } else {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// `faultline merge`: reads the shards, writes the merged summary, prints
/// the table; returns the exit code.
pub fn main(a: &MergeArgs) -> Result<i32> {
    let shards: Vec<Shard> = a
        .dirs
        .iter()
        .map(|d| read_shard(d))
        .collect::<Result<_, _>>()?;
    let first = &shards[0];
    for s in &shards[1..] {
        if s.saved.matrix != first.saved.matrix || s.saved.rows != first.saved.rows {
            return Err(UsageError(format!(
                "merge: {} is of matrix {:?} (rows {}) but {} is of matrix {:?} (rows {}): merge shards of one matrix",
                s.dir.display(),
                s.saved.matrix,
                s.saved.rows.join(", "),
                first.dir.display(),
                first.saved.matrix,
                first.saved.rows.join(", ")
            ))
            .into());
        }
    }
    let counts: Vec<u32> = shards
        .iter()
        .filter_map(|s| s.saved.shard.map(|x| x.count))
        .collect();
    if let Some(n) = counts.iter().find(|n| **n != counts[0]) {
        eprintln!(
            "faultline: warning: merging shards cut {} and {} ways: some rows will be missing or twice",
            counts[0], n
        );
    }
    let out = &a.results;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut rows: Vec<RowOutcome> = Vec::new();
    for (mut o, from) in merge_rows(&shards) {
        if let Some(i) = from {
            let s = &shards[i];
            let run = s
                .saved
                .outcomes
                .iter()
                .find(|r| r.outcome.name == o.name)
                .and_then(|r| r.run.clone());
            o.report = None;
            if let Some(run) = run {
                let (src, dst) = (s.root.join(&run), out.join(&run));
                let same = match (src.canonicalize(), dst.canonicalize()) {
                    (Ok(x), Ok(y)) => x == y,
                    _ => false,
                };
                if src.is_dir() && !same && !dst.exists() {
                    copy_tree(&src, &dst)?;
                }
                if dst.is_dir() {
                    o.report = Some(dst.join("report.html"));
                } else {
                    eprintln!(
                        "faultline: warning: row {:?}: its run folder {} is missing",
                        o.name,
                        src.display()
                    );
                }
            }
        }
        rows.push(o);
    }
    let text = std::fs::read_to_string(first.dir.join("matrix.toml")).unwrap_or_default();
    let m = Matrix {
        name: first.saved.matrix.clone(),
        path: first.dir.join("matrix.toml"),
        text,
        results: out.clone(),
        rows: Vec::new(),
        all_rows: first.saved.rows.clone(),
        shard: None,
    };
    eprintln!(
        "faultline: merge: matrix {}: {} rows from {} result folder{}",
        m.name,
        rows.len(),
        shards.len(),
        if shards.len() == 1 { "" } else { "s" }
    );
    if let Err(e) = crate::artifacts::index::write(out) {
        eprintln!("faultline: warning: could not regenerate the results index: {e:#}");
    }
    Ok(finish(&m, &rows))
}

/// `faultline merge` flags.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The shards' results: each a matrix folder (`matrix-<timestamp>`,
    /// holding rows.json) or a results folder holding one.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the merged summary goes, with a copy of every row's run
    /// folder and the index.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::super::tests::outcome;
    use super::super::{Expect, SavedRow};
    use super::*;
    use checkers::Validity;

    /// A shard's results folder under `base/name`: a run folder per row
    /// that got a verdict, and `matrix-…/rows.json`.
    fn shard(
        base: &Path,
        name: &str,
        shard: Option<&str>,
        rows: &[&str],
        got: &[RowOutcome],
    ) -> PathBuf {
        let root = base.join(name);
        let dir = root.join("matrix-20261207T100000.000");
        std::fs::create_dir_all(&dir).unwrap();
        let outcomes = got
            .iter()
            .map(|o| {
                let run = o
                    .report
                    .as_ref()
                    .map(|_| PathBuf::from(format!("{}/20261207T100000.000", o.name)));
                if let Some(r) = &run {
                    std::fs::create_dir_all(root.join(r).join("n1")).unwrap();
                    std::fs::write(root.join(r).join("report.html"), &o.name).unwrap();
                }
                SavedRow {
                    outcome: o.clone(),
                    run,
                }
            })
            .collect();
        let saved = Saved {
            matrix: "m".into(),
            shard: shard.map(|s| s.parse().unwrap()),
            rows: rows.iter().map(|s| s.to_string()).collect(),
            outcomes,
        };
        std::fs::write(
            dir.join("rows.json"),
            serde_json::to_string(&saved).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join("matrix.toml"), "# m\n").unwrap();
        root
    }

    fn merged(out: &Path, dirs: &[PathBuf]) -> (i32, Saved) {
        let code = main(&MergeArgs {
            dirs: dirs.to_vec(),
            results: out.to_path_buf(),
        })
        .unwrap();
        let [dir] = &matrix_folders(out).unwrap()[..] else {
            panic!("one matrix folder in {}", out.display())
        };
        let saved: Saved =
            serde_json::from_str(&std::fs::read_to_string(dir.join("rows.json")).unwrap()).unwrap();
        (code, saved)
    }

    const ROWS: &[&str] = &["a", "b", "c", "d"];

    fn ok(name: &str) -> RowOutcome {
        outcome(name, Expect::Valid, Got::Verdict(Validity::Valid))
    }

    #[test]
    fn shards_merge_into_the_rows_in_file_order_with_their_runs_copied() {
        let tmp = tempfile::tempdir().unwrap();
        let s1 = shard(tmp.path(), "s1", Some("1/2"), ROWS, &[ok("a"), ok("c")]);
        let missed = outcome("d", Expect::Invalid, Got::Verdict(Validity::Valid));
        let s2 = shard(tmp.path(), "s2", Some("2/2"), ROWS, &[ok("b"), missed]);
        let out = tmp.path().join("merged");
        // Given in either order, and as results or matrix folders.
        let s2_matrix = s2.join("matrix-20261207T100000.000");
        let (code, saved) = merged(&out, &[s2_matrix, s1]);
        assert_eq!(code, crate::exit::INVALID, "row d differs");
        let names: Vec<&str> = saved
            .outcomes
            .iter()
            .map(|o| o.outcome.name.as_str())
            .collect();
        assert_eq!(names, ROWS);
        assert_eq!(saved.shard, None);
        let d = &saved.outcomes[3];
        assert_eq!(
            (d.outcome.expect, d.outcome.got.word()),
            (Expect::Invalid, "valid")
        );
        // Each row's run is now under the merged folder, reports and all.
        for o in &saved.outcomes {
            let run = out.join(o.run.as_ref().unwrap());
            assert_eq!(
                std::fs::read_to_string(run.join("report.html")).unwrap(),
                o.outcome.name
            );
            assert!(run.join("n1").is_dir());
            assert_eq!(
                o.outcome.report.as_deref(),
                Some(run.join("report.html").as_path())
            );
        }
        assert!(out.join("index.html").is_file());
        let dir = &matrix_folders(&out).unwrap()[0];
        let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        assert!(
            md.starts_with("### ❌ faultline matrix m: 3 of 4 rows as expected"),
            "{md}"
        );
        assert!(
            md.contains("[report](../a/20261207T100000.000/report.html)"),
            "{md}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("matrix.toml")).unwrap(),
            "# m\n"
        );
    }

    #[test]
    fn a_row_in_no_shard_or_in_two_is_an_error_row_saying_so() {
        let tmp = tempfile::tempdir().unwrap();
        let s1 = shard(tmp.path(), "s1", Some("1/2"), ROWS, &[ok("a"), ok("c")]);
        let out = tmp.path().join("twice");
        let (code, saved) = merged(&out, &[s1.clone(), s1.clone()]);
        assert_eq!(code, crate::exit::ERROR);
        let why = |n: usize| saved.outcomes[n].outcome.anomaly_line();
        assert!(
            why(0).starts_with("in 2 shards' results (shard 1/2 in "),
            "{}",
            why(0)
        );
        assert!(why(0).ends_with("each row belongs to one shard; merge each shard once"));
        assert_eq!(
            why(1),
            "in no shard's results (shards merged: 1/2, 1/2): was every shard run and its results kept?"
        );
        let c = saved.outcomes[1].outcome.complaint().unwrap();
        assert!(
            c.starts_with("ERROR row \"b\": in no shard's results"),
            "{c}"
        );
        let xml =
            std::fs::read_to_string(matrix_folders(&out).unwrap()[0].join("junit.xml")).unwrap();
        let s = &junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes()))
            .unwrap()
            .suites[0];
        assert_eq!((s.tests, s.errors), (4, 4));
        // One shard alone: its rows, and the others missing.
        let (code, saved) = merged(&tmp.path().join("one"), &[s1]);
        assert_eq!(code, crate::exit::ERROR);
        let got: Vec<&str> = saved
            .outcomes
            .iter()
            .map(|o| o.outcome.got.word())
            .collect();
        assert_eq!(got, ["valid", "unmerged", "valid", "unmerged"]);
    }

    #[test]
    fn folders_that_are_not_shards_of_one_matrix_are_usage_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let s1 = shard(tmp.path(), "s1", Some("1/2"), ROWS, &[ok("a")]);
        let other = shard(tmp.path(), "s2", Some("2/2"), &["a", "b"], &[ok("b")]);
        let err = |dirs: &[PathBuf]| {
            main(&MergeArgs {
                dirs: dirs.to_vec(),
                results: tmp.path().join("out"),
            })
            .unwrap_err()
            .downcast::<UsageError>()
            .unwrap()
            .0
        };
        let e = err(&[s1.clone(), other]);
        assert!(
            e.contains("merge shards of one matrix") && e.contains("rows a, b"),
            "{e}"
        );
        let e = err(&[tmp.path().join("nowhere")]);
        assert!(e.starts_with("merge ") && e.contains("nowhere"), "{e}");
        let e = err(&[tmp.path().to_path_buf()]);
        assert!(e.contains("no rows.json"), "{e}");
        std::fs::create_dir_all(s1.join("matrix-20261207T110000.000")).unwrap();
        std::fs::copy(
            s1.join("matrix-20261207T100000.000/rows.json"),
            s1.join("matrix-20261207T110000.000/rows.json"),
        )
        .unwrap();
        let e = err(&[s1]);
        assert!(
            e.contains("holds 2 matrix folders") && e.contains("name the ones to merge"),
            "{e}"
        );
        let bad = tmp.path().join("bad");
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join("rows.json"), "{}").unwrap();
        assert!(err(&[bad]).contains("not a matrix's rows.json"));
    }
}
