//! `faultline test`: one test from flags (and a `--config` file) to a
//! verdict, or a series of them with `--test-count`. The settings are
//! resolved by [`crate::settings`]; the run is [`crate::run::run`]'s; this
//! prints what a terminal user reads and picks the exit code.

use crate::exit;
use crate::settings::{test_configs, TestArgs, TestConfig};
use crate::UsageError;
use clap::ArgMatches;

/// Runs `faultline test`: one run, or `--test-count` runs in a series.
pub fn main(args: TestArgs, matches: &ArgMatches) -> anyhow::Result<i32> {
    let keep_going = args.keep_going;
    let cfgs = test_configs(args, matches)?;
    let count = cfgs.len();
    if count == 1 {
        return cfgs
            .into_iter()
            .next()
            .map_or(Ok(exit::ERROR), |c| test_once(c).map(|(code, _)| code));
    }
    let mut codes: Vec<i32> = Vec::new();
    for (k, cfg) in cfgs.into_iter().enumerate() {
        eprintln!("faultline: --test-count: run {} of {count}", k + 1);
        let (code, interrupted) = match test_once(cfg) {
            Ok(c) => c,
            Err(e) if e.downcast_ref::<UsageError>().is_some() => return Err(e),
            Err(e) => {
                eprintln!("faultline: error: {e:#}");
                (exit::ERROR, false)
            }
        };
        codes.push(code);
        // An interrupted run stops the series, --keep-going or not.
        if interrupted || (code != exit::VALID && !keep_going) {
            break;
        }
    }
    println!("{}", test_count_line(&codes, count));
    Ok(worst_exit_code(&codes))
}

/// The worst of several runs' exit codes: error (255), then invalid (1),
/// then unknown (2), then valid (0).
pub fn worst_exit_code(codes: &[i32]) -> i32 {
    let rank = |c: i32| match c {
        exit::VALID => 0,
        exit::UNKNOWN => 1,
        exit::INVALID => 2,
        _ => 3,
    };
    codes
        .iter()
        .copied()
        .max_by_key(|c| rank(*c))
        .unwrap_or(exit::VALID)
}

/// `test-count: 3 of 5 runs: 2 valid, 1 invalid (stopped at the first not valid)`.
pub fn test_count_line(codes: &[i32], count: usize) -> String {
    let n = |c: i32| codes.iter().filter(|x| **x == c).count();
    let errors = codes.len() - n(exit::VALID) - n(exit::INVALID) - n(exit::UNKNOWN);
    let mut line = format!(
        "test-count: {} of {count} runs: {} valid, {} invalid, {} unknown, {errors} error{}",
        codes.len(),
        n(exit::VALID),
        n(exit::INVALID),
        n(exit::UNKNOWN),
        if errors == 1 { "" } else { "s" }
    );
    if codes.len() < count {
        line.push_str(" (stopped early: a run was not valid, or was interrupted)");
    }
    line
}

/// One `faultline test` run: its verdict lines; its exit code, and whether
/// it was interrupted (Ctrl-C, SIGTERM).
fn test_once(cfg: TestConfig) -> anyhow::Result<(i32, bool)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let store = cfg.store_name();
    eprintln!(
        "faultline: {} / {} on {} {store} nodes, nemesis {}, {} s, seed {}",
        cfg.workload,
        cfg.client,
        cfg.nodes,
        if cfg.nemesis.is_empty() {
            "none".into()
        } else {
            nemeses::names(&cfg.nemesis)
        },
        cfg.time_limit_s,
        cfg.seed
    );
    let outcome = rt.block_on(crate::run::run(cfg))?;
    let r = &outcome.results;
    for c in &r.checkers {
        let width = r
            .checkers
            .iter()
            .map(|c| c.checker.len())
            .max()
            .unwrap_or(8);
        println!("{:<width$} {:<8} {}", c.checker, c.valid.word(), c.summary);
    }
    println!(
        "verdict: {}{}",
        r.valid.word(),
        if r.interrupted {
            " (interrupted: covers only what was recorded)"
        } else {
            ""
        }
    );
    println!("report:  {}", outcome.dir.file("report.html").display());
    if r.interrupted {
        return Ok((exit::ERROR, r.error.is_none()));
    }
    Ok((r.valid.exit_code(), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_exits_with_its_worst_run_and_says_where_it_stopped() {
        use exit::*;
        assert_eq!(worst_exit_code(&[VALID, VALID]), VALID);
        assert_eq!(worst_exit_code(&[VALID, UNKNOWN, VALID]), UNKNOWN);
        assert_eq!(worst_exit_code(&[UNKNOWN, INVALID]), INVALID);
        assert_eq!(worst_exit_code(&[INVALID, ERROR, UNKNOWN]), ERROR);
        assert_eq!(
            test_count_line(&[VALID, INVALID], 5),
            "test-count: 2 of 5 runs: 1 valid, 1 invalid, 0 unknown, 0 errors (stopped early: a run was not valid, or was interrupted)"
        );
        assert_eq!(
            test_count_line(&[VALID, ERROR, VALID], 3),
            "test-count: 3 of 3 runs: 2 valid, 0 invalid, 0 unknown, 1 error"
        );
    }
}
