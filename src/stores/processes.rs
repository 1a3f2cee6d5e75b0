//! [`DbProcesses`]: what a nemesis may do to a store's processes, whatever
//! the store. Each store implements it over its own daemons (most through
//! [`super::daemons`]), so `kill`, `pause`, `clock` and membership faults
//! reach etcd, Redis and adapter stores exactly as they reach ringkv.

use anyhow::Result;
use std::path::PathBuf;

/// What a nemesis may do to a store's processes, whatever the store.
pub trait DbProcesses: Send + Sync {
    /// `kill -9` the store on `node`.
    fn kill(&self, node: &str) -> Result<()>;
    /// Starts the store on `node` if it is not running, and waits until it
    /// listens (bounded).
    fn start(&self, node: &str) -> Result<()>;
    /// Freezes the store on `node` (SIGSTOP).
    fn pause(&self, node: &str) -> Result<()>;
    /// Thaws it (SIGCONT).
    fn resume(&self, node: &str) -> Result<()>;
    /// Where `node`'s clock offset is written, or `None` when this store
    /// cannot have its clock moved here.
    fn clock_file(&self, node: &str) -> Option<PathBuf>;
    /// Makes `node` leave the cluster (its data handed to the others).
    fn leave(&self, node: &str) -> Result<()>;
    /// Makes `node` join the cluster again.
    fn join(&self, node: &str) -> Result<()>;
    /// Undoes every process fault: resumes the paused, restarts the dead,
    /// brings back the nodes that left.
    fn heal(&self) -> Result<()>;
    /// The store's processes on `node` while they run (for a slow fault's
    /// cgroup); empty when it is down or the store cannot say.
    fn pids(&self, _node: &str) -> Vec<u32> {
        Vec::new()
    }
    /// The node that is the store's primary right now, for faults aimed at
    /// it (`--nemesis-targets primary`); `None` when the store has no
    /// primary, or none is agreed on at the moment (a failover under way).
    fn primary(&self) -> Result<Option<String>> {
        Ok(None)
    }
}
