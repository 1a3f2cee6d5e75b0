//! # faultline
//!
//! A Jepsen-style consistency testing harness. `faultline test` provisions a
//! cluster (by default a local ringkv cluster, one network namespace per
//! node), drives concurrent clients against it while a nemesis injects real
//! faults, records every operation in a history, checks the history and
//! writes a self-contained report. `faultline check` re-checks a stored
//! history offline; `faultline heal` cleans up after a run that died.
//!
//! Layers, bottom up (dependencies point down only):
//! - `checkers`: pure analysis, history in, verdict out;
//! - `nemeses`: fault planning as command plans; `workloads`: op generators
//!   and store clients;
//! - this crate, in six rooms from the top: [`commands`] (one file per
//!   subcommand), [`run`] (a test from start to verdict, faults applied and
//!   healed), [`artifacts`] (what a run leaves: results, report, CI files,
//!   index), [`stores`] (the store seam and the stores behind it),
//!   [`cluster`] (the machines: namespaces, SSH, provisioning) and
//!   [`settings`] (a test's settings, parsed once into a `TestConfig`).
//!
//! See `docs/architecture.md` for the tour.

#![warn(missing_docs)]

pub mod artifacts;
pub mod cluster;
pub mod commands;
pub mod run;
pub mod settings;
pub mod stores;

/// An error in what the user asked for (exit code 254), as opposed to a
/// failure during the run (255).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit codes, as Jepsen's.
pub mod exit {
    /// Every checker found the history valid.
    pub const VALID: i32 = 0;
    /// A checker found an anomaly.
    pub const INVALID: i32 = 1;
    /// A checker could not decide.
    pub const UNKNOWN: i32 = 2;
    /// Bad arguments or unreadable input.
    pub const BAD_ARGS: i32 = 254;
    /// The run itself failed.
    pub const ERROR: i32 = 255;
}
