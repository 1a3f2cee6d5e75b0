//! Clock faults: move a node's wall clock, and put it back.
//!
//! Locally, nodes run under libfaketime with a *timestamp file*
//! (`FAKETIME_TIMESTAMP_FILE`) re-read on every call (`FAKETIME_NO_CACHE=1`):
//! writing `+1.500s` into it moves that node's wall clock 1.5 s ahead at once,
//! without a restart, and `+0s` resets it. Only the wall clock (REALTIME)
//! moves; the clock fault is therefore visible to last-write-wins timestamps
//! and leases, which is the point. Monotonic time stays true.
//!
//! libfaketime only reaches dynamically linked programs that read time
//! through libc: not Go binaries (etcd), which a run must say plainly.

use crate::plan::Plan;
use serde::{Deserialize, Serialize};

/// The libfaketime line for an offset in milliseconds, e.g. `+1.500s`.
pub fn faketime_offset(offset_ms: i64) -> String {
    let sign = if offset_ms < 0 { '-' } else { '+' };
    let abs = offset_ms.unsigned_abs();
    format!("{sign}{}.{:03}s\n", abs / 1000, abs % 1000)
}

/// A clock fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "clock", rename_all = "kebab-case")]
pub enum ClockFault {
    /// Jump the targets' clocks by `offset_ms` (negative: back in time).
    Bump {
        /// Nodes whose clocks move.
        targets: Vec<String>,
        /// The offset.
        offset_ms: i64,
    },
    /// Flip the targets' clocks between `+delta_ms` and `0` every
    /// `period_ms` for `duration_ms`: time runs backwards every other flip.
    Strobe {
        /// Nodes whose clocks strobe.
        targets: Vec<String>,
        /// How far each flip jumps.
        delta_ms: i64,
        /// Time between flips.
        period_ms: u64,
        /// How long the strobing lasts.
        duration_ms: u64,
    },
}

impl ClockFault {
    /// The nodes affected.
    pub fn targets(&self) -> &[String] {
        match self {
            ClockFault::Bump { targets, .. } | ClockFault::Strobe { targets, .. } => targets,
        }
    }
}

/// Sets each target's clock offset by writing its faketime file.
/// `offset_file(node)` says where that node's file is.
pub fn set_offset(
    targets: &[String],
    offset_ms: i64,
    offset_file: &dyn Fn(&str) -> String,
) -> Plan {
    let mut p = Plan::default();
    let line = faketime_offset(offset_ms);
    for t in targets {
        p.write_file(t, &offset_file(t), &line);
    }
    p
}

/// The script that moves a host's system clock by `$1` seconds (may be
/// negative, millisecond precision) with `date -s`: the offset travels as
/// an argument, never inside the script.
pub const DATE_STEP_SCRIPT: &str = "now=$(date +%s.%N) || exit 1\n\
     t=$(awk -v n=\"$now\" -v d=\"$1\" 'BEGIN { printf \"%.3f\", n + d }') || exit 1\n\
     date -s \"@$t\" >/dev/null";

/// Steps each `(node, delta_ms)`'s system clock by `delta_ms` with `date
/// -s`: for hosts whose store libfaketime cannot reach (Go binaries), where
/// the user allows moving the whole host's clock. Relative, so the caller
/// keeps each node's offset to undo it.
pub fn date_step(steps: &[(String, i64)]) -> Plan {
    let mut p = Plan::default();
    for (node, delta_ms) in steps.iter().filter(|(_, d)| *d != 0) {
        let sign = if *delta_ms < 0 { "-" } else { "" };
        let abs = delta_ms.unsigned_abs();
        let secs = format!("{sign}{}.{:03}", abs / 1000, abs % 1000);
        p.run(node, &["sh", "-c", DATE_STEP_SCRIPT, "sh", &secs]);
    }
    p
}

/// Sets each `(node, epoch_ms)`'s system clock to that time with `date -s
/// @SECONDS`: absolute, so running it twice (a retry, a heal after a dead
/// controller) lands on the same clock. The caller computes the time from
/// its own clock, the node's measured skew and the offset it wants.
pub fn date_set(targets: &[(String, i64)]) -> Plan {
    let mut p = Plan::default();
    for (node, epoch_ms) in targets {
        let at = format!(
            "@{}.{:03}",
            epoch_ms.div_euclid(1000),
            epoch_ms.rem_euclid(1000)
        );
        p.run(node, &["date", "-s", &at]);
    }
    p
}

/// Resets every node's clock (offset zero).
pub fn reset(nodes: &[String], offset_file: &dyn Fn(&str) -> String) -> Plan {
    set_offset(nodes, 0, offset_file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    #[test]
    fn offsets_render_as_libfaketime_relative_seconds() {
        assert_eq!(faketime_offset(1500), "+1.500s\n");
        assert_eq!(faketime_offset(-250), "-0.250s\n");
        assert_eq!(faketime_offset(0), "+0.000s\n");
        assert_eq!(faketime_offset(-3_600_000), "-3600.000s\n");
    }

    #[test]
    fn date_steps_pass_the_offset_as_an_argument() {
        let p = date_step(&[("n1".into(), -1500), ("n2".into(), 0), ("n3".into(), 250)]);
        assert_eq!(p.steps.len(), 2, "a zero step is no step");
        let Action::Exec { argv } = &p.steps[0].action else {
            panic!("{:?}", p.steps[0]);
        };
        assert_eq!(argv[..2], ["sh", "-c"]);
        assert_eq!(argv[2], DATE_STEP_SCRIPT);
        assert_eq!(argv[3..], ["sh", "-1.500"]);
        let Action::Exec { argv } = &p.steps[1].action else {
            panic!("{:?}", p.steps[1]);
        };
        assert_eq!(argv[4], "0.250");
        assert!(!DATE_STEP_SCRIPT.contains("1.5"));
    }

    #[test]
    fn date_set_names_an_absolute_time() {
        let p = date_set(&[("n2".into(), 1_795_567_084_421)]);
        assert_eq!(p.display_lines(), ["[n2] date -s @1795567084.421"]);
    }

    #[test]
    fn set_offset_writes_each_targets_file() {
        let f = |n: &str| format!("/run/{n}/faketime.rc");
        let p = set_offset(&["n2".to_string(), "n4".to_string()], 2000, &f);
        assert_eq!(p.steps.len(), 2);
        assert_eq!(
            p.steps[1].action,
            Action::WriteFile {
                path: "/run/n4/faketime.rc".into(),
                contents: "+2.000s\n".into()
            }
        );
        assert_eq!(
            reset(&["n1".to_string()], &f).display_lines(),
            vec!["[n1] write \"/run/n1/faketime.rc\" <- \"+0.000s\""]
        );
    }
}
