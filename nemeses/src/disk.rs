//! Faults below the store: lost writes, damaged files, a slow node.
//!
//! `kill -9` loses nothing a store wrote: the kernel's page cache outlives
//! the process, so a store that acknowledges before it fsyncs passes every
//! kill. A **power failure** loses that cache. faultline makes one by
//! mounting each node's data directory through *faultfs*, a FUSE file
//! system of its own that keeps every byte not yet fsynced in its own
//! memory: the fault kills the store, then kills faultfs with `kill -9`
//! (the un-fsynced bytes die with it), lazily unmounts the dead mount and
//! mounts faultfs again over the same files. What the store finds when it
//! starts is what a machine finds after its power comes back.
//!
//! **Corruption** damages the store's data files while it is down, the way
//! Jepsen's file nemesis does: flipped bits in one page of a file
//! ([`Corruption::Bitflip`]), a cut tail ([`Corruption::Truncate`]), or the
//! whole directory put back as it was at the node's previous corruption
//! ([`Corruption::Rollback`], a disk that silently lost its recent writes).
//! Stores declare which files are theirs to damage.
//!
//! A **slow** node (a gray failure) keeps answering, slowly: its store's
//! processes are moved into a cgroup whose CPU quota is a small share of
//! one CPU ([`cgroup_start`], cgroup v1 `cpu.cfs_quota_us` or v2
//! `cpu.max`), and under faultfs every write and fsync first waits the
//! delay written in the node's delay file. The plans here say what to run;
//! the controller runs them and undoes them.

use crate::plan::Plan;
use serde::{Deserialize, Serialize};

/// How a node's data files are damaged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Corruption {
    /// Flip `bits` random bits inside one random 4 KiB page of one of the
    /// store's files (the file and the page drawn from `seed`).
    Bitflip {
        /// How many bits flip.
        bits: u32,
        /// Chooses the file, the page and the bits.
        seed: u64,
    },
    /// Cut the last `bytes` bytes off one of the store's files (drawn from
    /// `seed`): a write that never reached the disk's end.
    Truncate {
        /// How much of the tail goes.
        bytes: u64,
        /// Chooses the file.
        seed: u64,
    },
    /// Put the node's data directory back as it was when the node was last
    /// corrupted (the first corruption of a node only takes the copy).
    Rollback,
}

impl Corruption {
    /// A short description for labels, e.g. `flip 8 bits`.
    pub fn describe(&self) -> String {
        match self {
            Corruption::Bitflip { bits, .. } => format!("flip {bits} bits"),
            Corruption::Truncate { bytes, .. } => format!("cut {bytes} bytes"),
            Corruption::Rollback => "roll back".to_string(),
        }
    }

    /// The seed that picks the file, if this corruption acts on one file.
    pub fn seed(&self) -> Option<u64> {
        match self {
            Corruption::Bitflip { seed, .. } | Corruption::Truncate { seed, .. } => Some(*seed),
            Corruption::Rollback => None,
        }
    }
}

/// Which cgroup hierarchy a node has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cgroups {
    /// cgroup v1, with the `cpu` controller under `/sys/fs/cgroup/cpu`.
    V1,
    /// The unified hierarchy (cgroup v2) at `/sys/fs/cgroup`.
    V2,
}

/// The CFS period faultline sets (µs): a quota is a share of it.
const PERIOD_US: u64 = 100_000;

/// The cgroup a slow fault puts `node`'s store processes in: named after
/// the controller's process (`owner`), so runs side by side never share
/// one and a heal after a dead controller finds its own.
pub fn cgroup_dir(cgroups: Cgroups, owner: u32, node: &str) -> String {
    match cgroups {
        Cgroups::V1 => format!("/sys/fs/cgroup/cpu/faultline-{owner}-{node}"),
        Cgroups::V2 => format!("/sys/fs/cgroup/faultline-{owner}-{node}"),
    }
}

/// The root cgroup's process list, where a healed process goes back.
fn root_procs(cgroups: Cgroups) -> &'static str {
    match cgroups {
        Cgroups::V1 => "/sys/fs/cgroup/cpu/cgroup.procs",
        Cgroups::V2 => "/sys/fs/cgroup/cgroup.procs",
    }
}

/// Moves `pids` (the store's processes on `node`) into a cgroup of their
/// own limited to `cpu_percent` % of one CPU.
pub fn cgroup_start(
    cgroups: Cgroups,
    owner: u32,
    node: &str,
    pids: &[u32],
    cpu_percent: u32,
) -> Plan {
    let dir = cgroup_dir(cgroups, owner, node);
    let quota = PERIOD_US * u64::from(cpu_percent.clamp(1, 100)) / 100;
    let mut plan = Plan::default();
    plan.run(node, &["mkdir", "-p", "--", &dir]);
    match cgroups {
        Cgroups::V1 => {
            plan.overwrite(
                node,
                &format!("{dir}/cpu.cfs_period_us"),
                &PERIOD_US.to_string(),
            );
            plan.overwrite(node, &format!("{dir}/cpu.cfs_quota_us"), &quota.to_string());
        }
        Cgroups::V2 => {
            plan.overwrite(node, "/sys/fs/cgroup/cgroup.subtree_control", "+cpu");
            plan.overwrite(
                node,
                &format!("{dir}/cpu.max"),
                &format!("{quota} {PERIOD_US}"),
            );
        }
    }
    for pid in pids {
        plan.overwrite(node, &format!("{dir}/cgroup.procs"), &pid.to_string());
    }
    plan
}

/// Undoes [`cgroup_start`]: lifts the quota, moves `pids` back to the root
/// cgroup and removes the cgroup. Every step may fail harmlessly (a
/// process that died in between, a cgroup already gone).
pub fn cgroup_stop(cgroups: Cgroups, owner: u32, node: &str, pids: &[u32]) -> Plan {
    let dir = cgroup_dir(cgroups, owner, node);
    let mut plan = Plan::default();
    let unlimited = match cgroups {
        Cgroups::V1 => ("cpu.cfs_quota_us", "-1".to_string()),
        Cgroups::V2 => ("cpu.max", format!("max {PERIOD_US}")),
    };
    plan.try_overwrite(node, &format!("{dir}/{}", unlimited.0), &unlimited.1);
    for pid in pids {
        plan.try_overwrite(node, root_procs(cgroups), &pid.to_string());
    }
    plan.try_run(node, &["rmdir", "--", &dir]);
    plan
}

/// The delay file line for a disk delay of `ms` milliseconds (`0` heals).
pub fn delay_line(ms: u64) -> String {
    format!("{ms}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_node_is_a_cgroup_with_a_quota_and_its_undo_lifts_it() {
        let on = cgroup_start(Cgroups::V1, 42, "n2", &[100, 101], 10);
        assert_eq!(
            on.display_lines(),
            [
                "[n2] mkdir -p -- /sys/fs/cgroup/cpu/faultline-42-n2",
                "[n2] overwrite \"/sys/fs/cgroup/cpu/faultline-42-n2/cpu.cfs_period_us\" <- \"100000\"",
                "[n2] overwrite \"/sys/fs/cgroup/cpu/faultline-42-n2/cpu.cfs_quota_us\" <- \"10000\"",
                "[n2] overwrite \"/sys/fs/cgroup/cpu/faultline-42-n2/cgroup.procs\" <- \"100\"",
                "[n2] overwrite \"/sys/fs/cgroup/cpu/faultline-42-n2/cgroup.procs\" <- \"101\"",
            ]
        );
        let off = cgroup_stop(Cgroups::V1, 42, "n2", &[100]);
        assert!(off.steps.iter().all(|s| s.may_fail));
        assert_eq!(
            off.display_lines().last().unwrap(),
            "[n2] rmdir -- /sys/fs/cgroup/cpu/faultline-42-n2"
        );
        let v2 = cgroup_start(Cgroups::V2, 42, "n1", &[7], 5);
        assert!(v2.display_lines().contains(
            &"[n1] overwrite \"/sys/fs/cgroup/faultline-42-n1/cpu.max\" <- \"5000 100000\""
                .to_string()
        ));
    }
}
