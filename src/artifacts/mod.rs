//! # Artifacts: what a run leaves behind
//!
//! A run's folder holds its history (`history.jsonl`, and
//! [`history_edn`]'s `history.edn` for Jepsen's tools), its checked
//! [`results`], the self-contained HTML [`report`], the CI files of
//! [`outputs`] (JUnit XML, Markdown) and, one level up, the results
//! [`index`] over every run; [`publish`] is the one seam that writes
//! them all. Everything here reads a run's files and
//! settings and writes files; nothing here runs a test.

pub mod history_edn;
pub mod index;
pub mod outputs;
pub mod publish;
pub mod report;
pub mod results;
