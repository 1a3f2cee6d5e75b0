//! Redis with Sentinel: one primary, replicas, three Sentinels that fail
//! over (`--store redis`).
//!
//! Every node runs a `redis-server` (n1 starts as the primary, the others
//! as its replicas); the first three nodes also run a `redis-sentinel`
//! watching the primary under the name [`MASTER_NAME`], quorum 2. Clients
//! find the primary through the Sentinels (`workloads::redis`). Replication
//! is asynchronous, so a primary isolated by a partition keeps acknowledging
//! SADDs while the Sentinels on the majority side promote a replica; when the
//! partition heals, the old primary becomes a replica of the new one and
//! drops what it acknowledged alone. The `set` checkers name those elements:
//! `--nemesis partition --nemesis-targets primary` shows it (README, Stores).
//!
//! Process faults (kill, pause) act on `redis-server` only: the Sentinels
//! keep watching, as they would on real machines where the database dies
//! and the monitor does not. Clock faults move `redis-server`'s wall clock
//! (it is C, so libfaketime reaches it) but never a Sentinel's: Sentinel
//! times its failure detection on the wall clock and enters its TILT mode on
//! a jump, which is Sentinel's own protection, not the replication this
//! store tests. Redis has no membership changes (leave, join).
//!
//! The rooms: `config` (the [`Settings`] and the files each process is
//! given), `cluster` (the running servers and Sentinels, launch, faults,
//! workers), `sentinel` (the primary by the Sentinels' word), `ready` (the
//! readiness check), `query` (one bounded command).

mod cluster;
mod config;
mod query;
mod ready;
mod sentinel;

pub use cluster::RedisCluster;
pub use config::{sentinel_conf, server_conf, AppendFsync, Settings};

use crate::cluster::control::os::Requirement;
use crate::settings::TestConfig;
use crate::stores::{Placement, Store, StoreCluster};
use crate::UsageError;
use anyhow::Result;
use std::sync::Arc;
use std::time::Duration;
use workloads::redis::Mode;
use workloads::Workload;

pub use workloads::redis::MASTER_NAME;

/// The port every `redis-server` listens on (each node has its own address).
pub const SERVER_PORT: u16 = 6379;

/// The port every Sentinel listens on.
pub const SENTINEL_PORT: u16 = 26379;

/// How many Sentinels run (on the first nodes), and how many must agree
/// that the primary is down.
pub const SENTINELS: usize = 3;

/// The Sentinels' quorum: a majority of [`SENTINELS`].
pub const QUORUM: usize = 2;

/// The fewest nodes a cluster can have: one per Sentinel.
pub const MIN_NODES: usize = SENTINELS;

/// What the nodes need installed.
pub const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        program: "redis-server",
        package: "redis-server",
        purpose: "the redis store",
    },
    Requirement {
        program: "redis-sentinel",
        package: "redis-sentinel",
        purpose: "the redis store's failover",
    },
];

/// The one-line usage error for a cluster too small for three Sentinels.
pub fn check_nodes(nodes: usize) -> Result<(), UsageError> {
    if nodes < MIN_NODES {
        return Err(UsageError(format!(
            "--store redis needs at least {MIN_NODES} nodes (one per Sentinel), got --nodes {nodes}"
        )));
    }
    Ok(())
}

/// The `redis` store.
pub struct Redis;

impl Store for Redis {
    fn name(&self) -> &str {
        "redis"
    }

    fn validate(
        &self,
        workload: Workload,
        client: Option<&str>,
    ) -> Result<workloads::ClientMode, UsageError> {
        if workload != Workload::Set {
            return Err(UsageError(format!(
                "--store redis runs the set workload only (SADD and SMEMBERS through the primary), not --workload {workload}"
            )));
        }
        Mode::parse(client.unwrap_or("plain"))
            .map(|m| match m {
                Mode::Plain => workloads::ClientMode::Plain,
                Mode::Wait => workloads::ClientMode::Wait,
            })
            .map_err(|e| UsageError(format!("--store redis: {e}")))
    }

    fn requirements(&self) -> Vec<Requirement> {
        REQUIREMENTS.to_vec()
    }

    fn ports(&self) -> Vec<u16> {
        vec![SERVER_PORT, SENTINEL_PORT]
    }

    fn unsupported_fault(&self, kind: nemeses::Kind) -> Option<String> {
        match kind {
            nemeses::Kind::Membership => Some(
                "redis has no membership changes: a node cannot leave and join the replication set"
                    .into(),
            ),
            _ => None,
        }
    }

    /// `redis-data/`: the append-only file's parts and the RDB snapshot.
    fn data_dir(&self, _cfg: &TestConfig) -> Result<crate::stores::DataLayout, String> {
        Ok(crate::stores::DataLayout {
            dir: "redis-data".into(),
            files: vec!["appendonlydir/".into(), "dump.rdb".into()],
        })
    }

    fn check_config(&self, cfg: &TestConfig) -> Result<(), UsageError> {
        AppendFsync::from_flag(&cfg.quorums.fsync).map_err(UsageError)?;
        check_nodes(cfg.nodes)
    }

    fn has_primary(&self) -> bool {
        true
    }

    fn start(&self, cfg: &TestConfig, placement: Placement) -> Result<Arc<dyn StoreCluster>> {
        let mode = Mode::try_from(cfg.client).map_err(|e| UsageError(e.to_string()))?;
        let settings = Settings {
            keys: cfg.keys,
            mode,
            op_timeout: Duration::from_millis(cfg.op_timeout_ms),
            appendfsync: AppendFsync::from_flag(&cfg.quorums.fsync).map_err(UsageError)?,
            ..Settings::default()
        };
        Ok(Arc::new(RedisCluster::launch(settings, placement)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_runs_the_set_workload_only_on_three_nodes_or_more() {
        let r = Redis;
        assert_eq!(
            r.validate(workloads::Workload::parse("set").unwrap(), None)
                .unwrap(),
            workloads::ClientMode::Plain
        );
        assert_eq!(
            r.validate(workloads::Workload::parse("set").unwrap(), Some("wait"))
                .unwrap(),
            workloads::ClientMode::Wait
        );
        let e = r
            .validate(workloads::Workload::parse("register").unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("set workload only"), "{e}");
        let e = r
            .validate(workloads::Workload::parse("set").unwrap(), Some("crdt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain, wait"), "{e}");
        assert!(!e.contains('\n'));
        let e = check_nodes(2).unwrap_err().to_string();
        assert!(e.contains("at least 3 nodes"), "{e}");
        check_nodes(3).unwrap();
        assert!(r.unsupported_fault(nemeses::Kind::Membership).is_some());
        assert!(r.unsupported_fault(nemeses::Kind::Partition).is_none());
        assert!(r.unsupported_fault(nemeses::Kind::Clock).is_none());
        let programs: Vec<&str> = r.requirements().iter().map(|q| q.program).collect();
        assert_eq!(programs, ["redis-server", "redis-sentinel"]);
    }
}
