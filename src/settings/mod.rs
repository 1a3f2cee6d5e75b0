//! # Settings: what a test is, parsed once
//!
//! The ground floor of the controller. A test's settings come from flags
//! ([`flags`]), from a `--config` TOML file ([`config_file`]) or from a row
//! of a `test-all` matrix; each is parsed and checked at that edge, once,
//! by [`resolve`], into one typed [`TestConfig`]. Everything above reads
//! the typed values only: replication and the conflict mode
//! ([`Replication`], [`Conflict`]), the checkers' options
//! ([`CheckerOptions`]), and where the settings came from
//! ([`ConfigSource`]). Nothing here imports the commands or the run.

pub mod checker_options;
pub mod concurrency;
pub mod config_file;
pub mod flags;
pub mod kinds;
pub mod replication;
pub mod resolve;
pub mod test_config;

pub use checker_options::CheckerOptions;
pub use flags::{parse_intervals, parse_seconds, TestArgs};
pub use kinds::{ClockMode, Shipped, StoreKind, STORES};
pub use replication::{Conflict, Replication, FSYNC_POLICIES};
pub use resolve::{default_test_args, test_config, test_config_with, test_configs};
pub use test_config::{ConfigSource, TestConfig, Watchdog};
