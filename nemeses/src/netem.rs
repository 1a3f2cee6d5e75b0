//! Delay and duplication with the kernel's `netem` queueing discipline.
//!
//! Packet *loss* is done with iptables (see [`crate::iptables`]) because it
//! works on every kernel; delay and duplication need `sch_netem`, which some
//! kernels lack. The controller therefore [`probe`]s for it at start-up and
//! says plainly when it is missing instead of pretending to inject a fault.
//!
//! A netem fault replaces the root qdisc of the target's interface (egress:
//! everything the node sends is delayed, with jitter, and a share of it
//! duplicated); the stop deletes that root qdisc, which restores the
//! kernel's default.

use crate::plan::Plan;

/// A command that succeeds only where netem is available (run in a scratch
/// namespace or on a node, on its loopback), and the one that undoes it.
pub fn probe() -> (Vec<&'static str>, Vec<&'static str>) {
    (
        vec![
            "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
        ],
        vec!["tc", "qdisc", "del", "dev", "lo", "root"],
    )
}

/// Whether `tc`'s error output means the kernel has no netem at all (as
/// opposed to some other failure worth reporting as is).
pub fn is_missing(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("unknown") && s.contains("qdisc") || s.contains("no such file")
}

/// Delays what each target sends on its interface (`(node, iface)`: nodes
/// reached over SSH each have their own) by `delay_ms` ± `jitter_ms`, and
/// duplicates a share `duplicate` (0 to 1) of it.
pub fn start(targets: &[(String, String)], delay_ms: u64, jitter_ms: u64, duplicate: f64) -> Plan {
    let mut p = Plan::default();
    let delay = format!("{delay_ms}ms");
    let jitter = format!("{jitter_ms}ms");
    let dup = format!("{:.2}%", duplicate * 100.0);
    for (t, iface) in targets {
        p.run(
            t,
            &[
                "tc",
                "qdisc",
                "replace",
                "dev",
                iface,
                "root",
                "netem",
                "delay",
                &delay,
                &jitter,
                "duplicate",
                &dup,
            ],
        );
    }
    p
}

/// Removes faultline's netem qdisc from every `(node, iface)`; harmless
/// where none is.
pub fn stop(nodes: &[(String, String)]) -> Plan {
    let mut p = Plan::default();
    for (n, iface) in nodes {
        p.try_run(n, &["tc", "qdisc", "del", "dev", iface, "root"]);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_replaces_the_root_qdisc_of_each_target_only() {
        let p = start(&[("n2".into(), "eth0".into())], 120, 24, 0.05);
        assert_eq!(
            p.display_lines(),
            ["[n2] tc qdisc replace dev eth0 root netem delay 120ms 24ms duplicate 5.00%"]
        );
        let s = stop(&[("n1".into(), "eth0".into()), ("n2".into(), "ens3".into())]);
        assert_eq!(s.display_lines()[1], "[n2] tc qdisc del dev ens3 root");
        assert_eq!(s.steps.len(), 2);
        assert!(s.steps.iter().all(|st| st.may_fail));
    }

    #[test]
    fn a_kernel_without_netem_is_recognised() {
        assert!(is_missing("Error: Specified qdisc kind is unknown."));
        assert!(!is_missing("RTNETLINK answers: Operation not permitted"));
    }
}
