//! `faultline report`: redraw a run's `report.html` from its stored files,
//! after an upgrade, or with `--recheck` to run the checkers again.

use crate::artifacts::outputs::RunInfo;
use crate::artifacts::publish::{Checked, Publisher, Targets};
use crate::artifacts::results::{Results, RunDir};
use crate::settings::TestConfig;
use anyhow::{Context, Result};
use checkers::Validity;
use std::path::PathBuf;

/// `faultline report` flags.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The run's directory (holding test.json, history.jsonl, results.json).
    pub dir: PathBuf,
    /// Check the history again instead of reading results.json.
    #[arg(long)]
    pub recheck: bool,
}

/// Runs `faultline report`.
pub fn main(args: &ReportArgs) -> anyhow::Result<i32> {
    redraw(&args.dir, args.recheck).map(|v| {
        println!("report:  {}", args.dir.join("report.html").display());
        v.exit_code()
    })
}

/// Redraws `report.html` in a run directory from its `test.json`,
/// `history.jsonl` and `results.json` (or, with `recheck`, from checking the
/// history again, which also rewrites `results.json`). Returns the verdict.
pub fn redraw(path: &std::path::Path, recheck: bool) -> Result<Validity> {
    let read = |name: &str| {
        let p = path.join(name);
        std::fs::read_to_string(&p).with_context(|| {
            format!(
                "cannot read {}: give the directory of a run (results/<test>/<time>)",
                p.display()
            )
        })
    };
    let cfg: TestConfig = serde_json::from_str(&read("test.json")?).with_context(|| {
        format!(
            "{}/test.json is not a faultline test configuration",
            path.display()
        )
    })?;
    let history = checkers::parse::jsonl(&read("history.jsonl")?)
        .with_context(|| format!("reading {}/history.jsonl", path.display()))?;
    let dir = RunDir {
        path: path.to_path_buf(),
        root: path.to_path_buf(),
    };
    let results = if recheck {
        let checks = cfg
            .workload
            .check_with(&history, &cfg.checker_options.check_options());
        let old: Option<Results> = read("results.json")
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let mut r = Results::from_checks(checks, history.ops.len() as u64);
        if let Some(old) = old {
            r.interrupted = old.interrupted;
            r.error = old.error;
        }
        r
    } else {
        serde_json::from_str(&read("results.json")?).with_context(|| {
            format!(
                "{}/results.json is malformed; try --recheck",
                path.display()
            )
        })?
    };
    // Every artifact of the folder is drawn again; results.json only when
    // the history was checked again.
    let mut targets = Targets::run_folder(&dir, None);
    if !recheck {
        targets.results_json = None;
    }
    let mut publisher = Publisher::new(targets);
    publisher.publish(Checked {
        info: RunInfo::from_config(&cfg),
        history: &history,
        results: &results,
        config: Some(&cfg),
        page_config: Vec::new(),
        stem: String::new(),
    })?;
    publisher.finish()?;
    Ok(results.valid)
}
