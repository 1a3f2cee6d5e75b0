//! Programs faultline ships beside itself: `ringkv` (the reference store)
//! and `faultfs` (the file system under power and slow-disk faults). The
//! same `cargo build` that builds the controller builds them, so they sit
//! next to the `faultline` executable (one directory up when the caller is
//! a test binary under `target/*/deps`); an SSH run uploads them to its
//! nodes.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Finds the shipped program `name`: the explicit path (given with
/// `flag`), `$FAULTLINE_<NAME>_BIN`, or next to the running executable.
pub fn find(name: &str, explicit: Option<&Path>, flag: &str) -> Result<PathBuf> {
    if let Some(p) = explicit {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        bail!("{flag} {}: no such file", p.display());
    }
    let var = format!("FAULTLINE_{}_BIN", name.to_uppercase());
    if let Some(p) = std::env::var_os(&var) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("{var}={}: no such file", p.display());
    }
    let exe = std::env::current_exe().context("locating the faultline executable")?;
    let mut dir = exe.parent();
    for _ in 0..2 {
        let Some(d) = dir else { break };
        let candidate = d.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    bail!(
        "the {name} binary was not found next to {}; build it with `cargo build --release --workspace` or pass {flag} PATH",
        exe.display()
    )
}
