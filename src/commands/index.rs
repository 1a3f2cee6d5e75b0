//! `faultline index`: regenerate `results/index.html`, every run newest
//! first with a trend per test ([`crate::artifacts::index`]).

use crate::exit;
use crate::UsageError;
use std::path::PathBuf;

/// `faultline index` flags.
#[derive(clap::Args, Debug)]
pub struct IndexArgs {
    /// Results directory.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

/// Runs `faultline index`.
pub fn main(args: &IndexArgs) -> anyhow::Result<i32> {
    let results = args.results.as_path();
    if !results.is_dir() {
        return Err(UsageError(format!(
            "--results {}: no such directory",
            results.display()
        ))
        .into());
    }
    let path = crate::artifacts::index::write(results)?;
    println!("{}", path.display());
    Ok(exit::VALID)
}
