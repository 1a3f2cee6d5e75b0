//! # checkers: a history in, a verdict out
//!
//! This crate is the bottom of faultline's dependency graph. It knows what a
//! *history* is (the ordered record of every operation clients and nemeses
//! performed during a test, see [`history`]), how to read one from the formats
//! people have lying around ([`parse`]: faultline's JSONL and Jepsen's EDN), and
//! how to judge one: lost updates ([`set`], [`set_full`]), counters
//! ([`counter`]), siblings ([`siblings`]), replica convergence
//! ([`convergence`]), session guarantees ([`sessions`]), staleness
//! ([`staleness`]), CRDT semantics ([`crdt`]), performance ([`perf`]) and
//! linearizability ([`linear`]); [`stream`] checks files larger than memory.
//! It performs no I/O and has no async
//! runtime: every function takes text or ops and returns values, so checkers can
//! be tested exhaustively on hand-made histories and reused offline by
//! `faultline check`.
//!
//! Every checker returns a [`verdict::CheckResult`]: a [`verdict::Validity`]
//! (valid, invalid or unknown), a one-line summary a reviewer can read, and a
//! JSON object of details for reports.

#![warn(missing_docs)]

mod common;
pub mod convergence;
pub mod counter;
pub mod crdt;
pub mod history;
mod intern;
pub mod keyed;
pub mod linear;
pub mod online;
pub mod parse;
pub mod perf;
mod raw;
mod scan;
pub mod sessions;
pub mod set;
pub mod set_full;
pub mod siblings;
pub mod staleness;
pub mod stats;
pub mod stream;
#[cfg(test)]
mod testkit;
pub mod verdict;
pub mod versioned;

pub use history::{History, Op, OpType, Process};
pub use verdict::{CheckResult, Validity};
