//! # The cluster: the machines a test runs on
//!
//! Everything that reaches a node lives here: [`control`] runs a command
//! on a node (locally in a network namespace, or over SSH) and owns the
//! namespaces themselves; [`nodes`] turns the node flags into SSH nodes;
//! [`remote`] provisions SSH nodes (packages, binaries, directories) and
//! cleans them up; [`shipped`] finds the programs faultline ships beside
//! itself; [`faultfs`] mounts the nodes' data directories through faultfs
//! and the cgroups of slow nodes. Nothing here knows which store runs on
//! the nodes.

pub mod control;
pub mod faultfs;
pub mod nodes;
pub mod remote;
pub mod shipped;
