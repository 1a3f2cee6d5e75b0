//! # checkers: a history in, a verdict out
//!
//! This crate is the bottom of faultline's dependency graph. It knows what a
//! *history* is (the ordered record of every operation clients and nemeses
//! performed during a test, see [`history`]), how to read one from the formats
//! people have lying around ([`parse`]: faultline's JSONL and Jepsen's EDN), and
//! how to judge one ([`set`], ...). It performs no I/O and has no async
//! runtime: every function takes text or ops and returns values, so checkers can
//! be tested exhaustively on hand-made histories and reused offline by
//! `faultline check`.
//!
//! Every checker returns a [`verdict::CheckResult`]: a [`verdict::Validity`]
//! (valid, invalid or unknown), a one-line summary a reviewer can read, and a
//! JSON object of details for reports.

pub mod history;
pub mod keyed;
pub mod parse;
pub mod set;
pub mod verdict;

pub use history::{History, Op, OpType, Process};
pub use verdict::{CheckResult, Validity};
