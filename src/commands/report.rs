//! `faultline report`: redraw a run's `report.html` from its stored files,
//! after an upgrade, or with `--recheck` to run the checkers again.

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
    crate::artifacts::report::redraw(&args.dir, args.recheck).map(|v| {
        println!("report:  {}", args.dir.join("report.html").display());
        v.exit_code()
    })
}
