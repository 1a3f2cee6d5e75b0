//! Grudges as iptables rules, in a chain of faultline's own.
//!
//! Every rule faultline adds lives in the [`CHAIN`] chain, jumped to from
//! `INPUT`. Healing flushes that chain only: `iptables -F` on the whole table
//! would also delete rules the node's owner put there (a classic way for a test
//! harness to break a host). Rules name peer *node* addresses only, never the
//! controller's, so the control plane survives every partition.

use crate::partition::Grudge;
use crate::plan::Plan;
use crate::NodeAddr;

/// The chain that holds every faultline rule.
pub const CHAIN: &str = "FAULTLINE";

/// Creates the chain and hooks it into `INPUT` on every node. Idempotent: an
/// existing chain is reused and the jump is never duplicated.
pub fn setup(nodes: &[NodeAddr]) -> Plan {
    let mut p = Plan::default();
    for n in nodes {
        p.try_run(&n.name, &["iptables", "-w", "-N", CHAIN]);
        p.try_run(&n.name, &["iptables", "-w", "-D", "INPUT", "-j", CHAIN]);
        p.run(
            &n.name,
            &["iptables", "-w", "-I", "INPUT", "1", "-j", CHAIN],
        );
    }
    p
}

/// Drops, on each node, inbound packets from every peer it holds a grudge
/// against. Assumes [`setup`] ran.
pub fn partition(nodes: &[NodeAddr], grudge: &Grudge) -> Plan {
    let mut p = Plan::default();
    for n in nodes {
        let Some(peers) = grudge.get(&n.name) else {
            continue;
        };
        for peer in peers {
            let Some(addr) = nodes.iter().find(|x| &x.name == peer) else {
                continue;
            };
            let ip = addr.ip.to_string();
            p.run(
                &n.name,
                &["iptables", "-w", "-A", CHAIN, "-s", &ip, "-j", "DROP"],
            );
        }
    }
    p
}

/// Removes every faultline rule, leaving the chain in place.
pub fn heal(nodes: &[NodeAddr]) -> Plan {
    let mut p = Plan::default();
    for n in nodes {
        p.run(&n.name, &["iptables", "-w", "-F", CHAIN]);
    }
    p
}

/// Removes the chain and its jump entirely (end of test).
pub fn teardown(nodes: &[NodeAddr]) -> Plan {
    let mut p = Plan::default();
    for n in nodes {
        p.try_run(&n.name, &["iptables", "-w", "-F", CHAIN]);
        p.try_run(&n.name, &["iptables", "-w", "-D", "INPUT", "-j", CHAIN]);
        p.try_run(&n.name, &["iptables", "-w", "-X", CHAIN]);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::grudge;

    fn cluster() -> Vec<NodeAddr> {
        (1..=3)
            .map(|i| NodeAddr {
                name: format!("n{i}"),
                ip: format!("198.18.0.{}", 10 + i).parse().unwrap(),
            })
            .collect()
    }

    #[test]
    fn partition_plan_drops_exactly_the_grudged_peers() {
        let comps = vec![vec!["n1".to_string()], vec!["n2".into(), "n3".into()]];
        let plan = partition(&cluster(), &grudge(&comps));
        let lines = plan.display_lines();
        assert_eq!(
            lines,
            vec![
                "[n1] iptables -w -A FAULTLINE -s 198.18.0.12 -j DROP",
                "[n1] iptables -w -A FAULTLINE -s 198.18.0.13 -j DROP",
                "[n2] iptables -w -A FAULTLINE -s 198.18.0.11 -j DROP",
                "[n3] iptables -w -A FAULTLINE -s 198.18.0.11 -j DROP",
            ]
        );
        assert!(plan.steps.iter().all(|s| !s.may_fail));
    }

    #[test]
    fn heal_flushes_only_our_chain() {
        for s in heal(&cluster()).steps {
            assert_eq!(s.argv, ["iptables", "-w", "-F", CHAIN]);
        }
        let t = teardown(&cluster());
        assert!(t.steps.iter().all(|s| s.argv.contains(&CHAIN.to_string())));
    }

    #[test]
    fn setup_never_duplicates_the_jump() {
        let p = setup(&cluster());
        let n1: Vec<_> = p.steps.iter().filter(|s| s.node == "n1").collect();
        assert_eq!(n1.len(), 3);
        assert!(n1[1].argv.contains(&"-D".to_string()) && n1[1].may_fail);
        assert!(n1[2].argv.contains(&"-I".to_string()));
    }
}
