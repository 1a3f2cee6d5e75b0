//! Network faults as iptables rules, in chains of faultline's own.
//!
//! Each kind of network fault has its own chain, jumped to from `INPUT`:
//! [`CHAIN`] for partitions and [`LOSS_CHAIN`] for packet loss. Healing one
//! kind flushes its chain only, so a composed run can end a partition while
//! packet loss goes on, and nothing ever touches rules the node's owner put
//! there (`iptables -F` on the whole table would). Rules name peer *node*
//! addresses only, never the controller's, so the control plane survives
//! every fault.

use crate::partition::Grudge;
use crate::plan::Plan;
use crate::NodeAddr;

/// The chain that holds partition rules.
pub const CHAIN: &str = "FAULTLINE";
/// The chain that holds packet-loss rules.
pub const LOSS_CHAIN: &str = "FAULTLINE-LOSS";
/// Every chain faultline owns.
pub const CHAINS: [&str; 2] = [CHAIN, LOSS_CHAIN];

/// Creates the chains and hooks them into `INPUT` on every node. Idempotent:
/// existing chains are reused and jumps are never duplicated.
pub fn setup(nodes: &[NodeAddr]) -> Plan {
    let mut p = Plan::default();
    for n in nodes {
        for chain in CHAINS {
            p.try_run(&n.name, &["iptables", "-w", "-N", chain]);
            p.try_run(&n.name, &["iptables", "-w", "-D", "INPUT", "-j", chain]);
            p.run(
                &n.name,
                &["iptables", "-w", "-I", "INPUT", "1", "-j", chain],
            );
        }
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

/// Drops each packet from a peer with `probability` on the `targets`: all
/// their inbound links from other nodes, or only those from the peers in
/// `from` (one link, when it names one). Uses the `statistic` module, which
/// needs nothing but iptables (some kernels have no `netem`).
pub fn loss(nodes: &[NodeAddr], targets: &[String], from: &[String], probability: f64) -> Plan {
    let prob = format!("{:.4}", probability.clamp(0.0, 1.0));
    let mut p = Plan::default();
    for t in targets {
        for peer in nodes
            .iter()
            .filter(|x| &x.name != t && (from.is_empty() || from.contains(&x.name)))
        {
            let ip = peer.ip.to_string();
            p.run(
                t,
                &[
                    "iptables",
                    "-w",
                    "-A",
                    LOSS_CHAIN,
                    "-s",
                    &ip,
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &prob,
                    "-j",
                    "DROP",
                ],
            );
        }
    }
    p
}

/// Removes every rule of one chain on every node.
pub fn flush(nodes: &[NodeAddr], chain: &str) -> Plan {
    let mut p = Plan::default();
    for n in nodes {
        p.run(&n.name, &["iptables", "-w", "-F", chain]);
    }
    p
}

/// Heals partitions (the partition chain only).
pub fn heal(nodes: &[NodeAddr]) -> Plan {
    flush(nodes, CHAIN)
}

/// Removes the chains and their jumps entirely (end of test).
pub fn teardown(nodes: &[NodeAddr]) -> Plan {
    let mut p = Plan::default();
    for n in nodes {
        for chain in CHAINS {
            p.try_run(&n.name, &["iptables", "-w", "-F", chain]);
            p.try_run(&n.name, &["iptables", "-w", "-D", "INPUT", "-j", chain]);
            p.try_run(&n.name, &["iptables", "-w", "-X", chain]);
        }
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
        assert_eq!(
            plan.display_lines(),
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
    fn loss_names_peers_only_and_its_own_chain() {
        let plan = loss(&cluster(), &["n2".to_string()], &[], 0.25);
        let lines = plan.display_lines();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("[n2] iptables -w -A FAULTLINE-LOSS -s 198.18.0.11"));
        assert!(lines[0].contains("--probability 0.2500 -j DROP"));
        assert!(
            lines.iter().all(|l| !l.contains("198.18.0.12")),
            "a node never drops itself"
        );
        // One link: into n2, from n3 only.
        let link = loss(&cluster(), &["n2".to_string()], &["n3".to_string()], 0.5);
        let lines = link.display_lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("[n2] iptables -w -A FAULTLINE-LOSS -s 198.18.0.13"));
    }

    #[test]
    fn heal_flushes_only_the_partition_chain() {
        for s in heal(&cluster()).steps {
            assert_eq!(s.argv(), ["iptables", "-w", "-F", CHAIN]);
        }
        let t = teardown(&cluster());
        for chain in CHAINS {
            assert!(t
                .steps
                .iter()
                .any(|s| s.argv().contains(&chain.to_string())));
        }
        assert!(t
            .steps
            .iter()
            .all(|s| s.argv().iter().any(|a| a.starts_with(CHAIN))));
    }

    #[test]
    fn setup_never_duplicates_a_jump() {
        let p = setup(&cluster());
        let n1: Vec<_> = p.steps.iter().filter(|s| s.node == "n1").collect();
        assert_eq!(n1.len(), 6);
        for chunk in n1.chunks(3) {
            assert!(chunk[1].argv().contains(&"-D".to_string()) && chunk[1].may_fail);
            assert!(chunk[2].argv().contains(&"-I".to_string()) && !chunk[2].may_fail);
        }
    }
}
