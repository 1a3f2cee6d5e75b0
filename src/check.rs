//! `faultline check`: verdicts for stored histories, offline.

use crate::exit;
use std::path::PathBuf;

/// Checks every file, prints one verdict line each, and returns the exit
/// code of the worst: unreadable or malformed input (254) beats invalid (1)
/// beats unknown (2) beats valid (0).
pub fn run(paths: &[PathBuf], workload: &str) -> i32 {
    if let Err(e) = workloads::validate_check(workload) {
        eprintln!("faultline: error: {e}");
        return exit::BAD_ARGS;
    }
    let mut worst = checkers::Validity::Valid;
    let mut bad_input = false;
    for path in paths {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("faultline: error: cannot read {}: {e}", path.display());
                bad_input = true;
                continue;
            }
        };
        let history = match checkers::parse::auto(&text) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("faultline: error: {}: {e}", path.display());
                bad_input = true;
                continue;
            }
        };
        let results = workloads::check(workload, &history).expect("workload validated above");
        for r in &results {
            worst = worst.worst(r.valid);
            println!(
                "{}: {} {} — {}",
                path.display(),
                r.checker,
                r.valid.word(),
                r.summary
            );
        }
    }
    if bad_input {
        exit::BAD_ARGS
    } else {
        worst.exit_code()
    }
}
