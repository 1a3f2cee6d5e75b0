//! What several areas share: running `faultline` and reading what a run
//! left ([`run`]), the small matrix ([`matrix`]), this machine's processes
//! and namespaces ([`system`]), a lab of nodes in namespaces ([`lab`]), the
//! headless browser ([`browser`]), and the rule that keeps areas apart
//! ([`area`]).

pub mod area;
pub mod browser;
pub mod lab;
pub mod matrix;
pub mod run;
pub mod system;

pub use matrix::*;
pub use run::*;
pub use system::*;
