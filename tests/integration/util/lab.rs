//! A lab: nodes `n1..nN`, each in a network namespace of its own on one
//! cluster slot of the default subnet (`LocalNetwork`, as a local run
//! builds them), with a temporary directory for their files. The areas
//! that drive nodes in-process build on it: `faults` starts a ringkv
//! cluster and a nemesis in it, `ssh` an sshd per node.
//!
//! Slots are claimed through the state directory, so any number of labs
//! (and of `faultline` runs) can be up at once in this one process.

use faultline::cluster::control::netns::{LocalNetwork, Subnet, DEFAULT_SUBNET};

/// Nodes `n1..nN` in namespaces of their own, deleted on drop (on a
/// failure or panic too).
pub struct Namespaces {
    /// The nodes' namespaces, addresses and bridge.
    pub network: LocalNetwork,
    /// The lab's files (the nodes' directories, keys, logs).
    pub dir: tempfile::TempDir,
}

impl Namespaces {
    /// `n` nodes named `n1..n<n>`. Needs root.
    pub fn new(n: usize) -> Namespaces {
        super::require_root();
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
        let subnet: Subnet = DEFAULT_SUBNET.parse().unwrap();
        let network = LocalNetwork::create(&names, subnet, dir.path()).unwrap();
        Namespaces { network, dir }
    }

    /// The names of the nodes, in order.
    pub fn names(&self) -> Vec<String> {
        self.network.nodes.iter().map(|n| n.name.clone()).collect()
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        let _ = self.network.teardown();
    }
}
