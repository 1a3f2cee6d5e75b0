//! # nemeses: faults as plans
//!
//! A nemesis is the part of a test that breaks things. This crate decides
//! *what* to break and renders it as a [`plan::Plan`]: for each node, the exact
//! argument vectors to run (and the plan that undoes them). It runs nothing
//! itself. The controller hands plans to its control layer, which runs them in
//! a local network namespace or over SSH: one code path for both, plans
//! that can be snapshot-tested without root, and commands a user can read in the
//! report and replay by hand.
//!
//! - [`partition`]: shapes of network partitions (halves, one node alone, a
//!   majorities ring, a bridge, a grudge the user typed, one-way variants) and
//!   the *grudge* each implies: which peers each node stops hearing.
//! - [`iptables`]: partitions and packet loss as iptables rules kept in chains
//!   of faultline's own, so healing never touches anyone else's rules.
//! - [`clock`]: wall-clock bumps and strobes through libfaketime offset files.
//! - [`netem`]: delay and duplication with the kernel's netem, where it exists.
//! - [`disk`]: power failures and corruption of a store's data files, and
//!   the cgroup limits of a slow node.
//! - [`targets`]: one node, a minority, a majority, all.
//! - [`fault`]: the fault catalogue ([`fault::Fault`]), each fault a piece of
//!   data with its kind and the words a history uses for it.
//! - [`schedule`]: the timeline of starts and stops, drawn from the run's seed
//!   so a seed replays the same faults.

#![warn(missing_docs)]

pub mod clock;
pub mod disk;
pub mod fault;
pub mod iptables;
pub mod kind;
pub mod netem;
pub mod partition;
pub mod plan;
pub mod schedule;
pub mod targets;

pub use kind::{names, Kind};

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A node as the nemeses see it: a name and the address its peers use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddr {
    /// The node's name, e.g. `n1`.
    pub name: String,
    /// The address other nodes reach it on.
    pub ip: IpAddr,
}

/// The nemesis kinds this build knows, by the names `--nemesis` accepts
/// (`all` means every one of them).
pub const KINDS: &[&str] = &[
    "partition",
    "loss",
    "clock",
    "kill",
    "pause",
    "membership",
    "netem",
    "power",
    "corrupt",
    "slow",
];

/// Errors in nemesis configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NemesisError {
    /// `--nemesis` named something this build cannot do.
    #[error("unknown nemesis {0:?}; known: none, {known}", known = KINDS.join(", "))]
    UnknownKind(String),
    /// A partition needs at least two nodes to separate.
    #[error("a partition needs at least 2 nodes, the cluster has {0}")]
    TooFewNodes(usize),
    /// `--partition` could not be understood.
    #[error("--partition {0:?}: {1}")]
    BadPartition(String, String),
    /// A schedule file describes something that cannot be done.
    #[error("schedule event {index} (at {at_ms} ms): {why}")]
    BadSchedule {
        /// Position of the event in the file, from 0.
        index: usize,
        /// Its time.
        at_ms: u64,
        /// What is wrong.
        why: String,
    },
}

/// Parses a `--nemesis` list (`partition`, `none`, comma-separated).
pub fn parse_kinds(list: &str) -> Result<Vec<Kind>, NemesisError> {
    let mut kinds: Vec<Kind> = Vec::new();
    for k in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if k == "none" {
            continue;
        }
        let add: Vec<Kind> = if k == "all" {
            Kind::ALL.to_vec()
        } else {
            vec![Kind::parse(k).ok_or_else(|| NemesisError::UnknownKind(k.to_string()))?]
        };
        for kind in add {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kind_lists() {
        assert_eq!(parse_kinds("none").unwrap(), Vec::<Kind>::new());
        assert_eq!(
            parse_kinds("partition, partition").unwrap(),
            vec![Kind::Partition]
        );
        assert_eq!(parse_kinds("all").unwrap(), Kind::ALL.to_vec());
        assert_eq!(parse_kinds("kill,all").unwrap()[0], Kind::Kill);
        assert_eq!(
            parse_kinds("partition,meteor").unwrap_err(),
            NemesisError::UnknownKind("meteor".into())
        );
    }
}
