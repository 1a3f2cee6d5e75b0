//! # Settings: what a test is, parsed once
//!
//! The ground floor of the controller. A test's settings come from flags,
//! from a `--config` TOML file ([`config_file`]) or from a row of a
//! `test-all` matrix; each is parsed and checked at that edge, once, into
//! typed values, and everything above reads the typed values only.

pub mod concurrency;
pub mod config_file;
