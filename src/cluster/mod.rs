//! # The cluster: the machines a test runs on
//!
//! Everything that reaches a node lives here: [`control`] runs a command
//! on a node (locally in a network namespace, or over SSH) and owns the
//! namespaces themselves; [`nodes`] turns the node flags into SSH nodes;
//! [`remote`] provisions SSH nodes (packages, binaries, directories) and
//! cleans them up. Nothing here knows which store runs on the nodes.

pub mod control;
pub mod nodes;
pub mod remote;
