//! The fault catalogue: every fault a nemesis can apply, as data.
//!
//! A [`Fault`] says exactly what to break (which partition, which nodes
//! lose packets and how many, how far which clocks move, which processes
//! die, pause or leave the cluster, how much delay netem adds) and carries
//! everything needed to apply it, so a schedule can be saved, shown and
//! replayed. Each fault belongs to a *kind* (`partition`, `loss`, `clock`,
//! `kill`, `pause`, `membership`, `netem`, `power`, `corrupt`, `slow`), and each kind has the words a
//! history uses for starting and stopping it (`start-partition` and
//! `stop-partition`, `kill` and `start`, ...): [`Fault::start_f`],
//! [`stop_f`] and, back from a history's `f`, [`kind_of_f`]. A fault can
//! name the store's primary through the [`PRIMARY`] placeholder, resolved
//! when the fault starts.

use crate::clock::ClockFault;
use crate::disk::Corruption;
use crate::partition::Partition;
use crate::targets::PRIMARY;
use crate::Kind;
use serde::{Deserialize, Serialize};

/// One fault, with everything needed to apply it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// Cut the network.
    Partition(Partition),
    /// Drop a share of the packets the targets receive from peers.
    Loss {
        /// Nodes whose inbound links lose packets.
        targets: Vec<String>,
        /// Only the links from these peers (empty: from every peer).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        from: Vec<String>,
        /// Chance that each packet is dropped.
        probability: f64,
    },
    /// Move wall clocks.
    Clock(ClockFault),
    /// `kill -9` the store's process on the targets (stop: start it again).
    Kill {
        /// Nodes whose process dies.
        targets: Vec<String>,
    },
    /// `SIGSTOP` the store's process on the targets (stop: `SIGCONT`).
    Pause {
        /// Nodes whose process freezes.
        targets: Vec<String>,
    },
    /// Delay (with jitter) and duplicate what the targets send, with netem.
    Netem {
        /// Nodes whose outbound traffic is slowed.
        targets: Vec<String>,
        /// Mean added delay (ms).
        delay_ms: u64,
        /// Jitter around it (ms).
        jitter_ms: u64,
        /// Share of packets sent twice.
        duplicate: f64,
    },
    /// The targets leave the cluster, handing their data off (stop: they
    /// join again).
    Membership {
        /// Nodes that leave.
        targets: Vec<String>,
    },
    /// The targets lose power: the store dies and every write it had not
    /// fsynced is gone (stop: power back, the store starts again).
    Power {
        /// Nodes that lose power (all of them: a coordinated failure).
        targets: Vec<String>,
    },
    /// The store on the targets is killed and its data files damaged (stop:
    /// it starts again on what is left).
    Corrupt {
        /// Nodes whose files are damaged.
        targets: Vec<String>,
        /// How.
        how: Corruption,
    },
    /// The targets' store processes get a small share of a CPU, and their
    /// disk writes and fsyncs wait (stop: full speed again).
    Slow {
        /// Nodes that slow down.
        targets: Vec<String>,
        /// Their share of one CPU, in percent.
        cpu_percent: u32,
        /// The wait before each write and fsync under faultfs (ms; 0: the
        /// disk keeps its speed).
        disk_delay_ms: u64,
    },
}

impl Fault {
    /// The nemesis kind (`partition`, `loss`, `clock`, `kill`, `pause`).
    pub fn kind(&self) -> Kind {
        match self {
            Fault::Partition(_) => Kind::Partition,
            Fault::Loss { .. } => Kind::Loss,
            Fault::Clock(_) => Kind::Clock,
            Fault::Kill { .. } => Kind::Kill,
            Fault::Pause { .. } => Kind::Pause,
            Fault::Membership { .. } => Kind::Membership,
            Fault::Netem { .. } => Kind::Netem,
            Fault::Power { .. } => Kind::Power,
            Fault::Corrupt { .. } => Kind::Corrupt,
            Fault::Slow { .. } => Kind::Slow,
        }
    }

    /// The history `f` for starting this fault.
    pub fn start_f(&self) -> &'static str {
        match self {
            Fault::Partition(_) => "start-partition",
            Fault::Loss { .. } => "start-loss",
            Fault::Clock(ClockFault::Bump { .. }) => "bump-clock",
            Fault::Clock(ClockFault::Strobe { .. }) => "strobe-clock",
            Fault::Kill { .. } => "kill",
            Fault::Pause { .. } => "pause",
            Fault::Membership { .. } => "leave",
            Fault::Netem { .. } => "start-netem",
            Fault::Power { .. } => "power-off",
            Fault::Corrupt { .. } => "corrupt",
            Fault::Slow { .. } => "start-slow",
        }
    }

    /// The nodes this fault acts on (every node a partition names).
    pub fn targets(&self) -> Vec<String> {
        match self {
            Fault::Partition(p) => {
                let mut all: Vec<String> = p.grudge.keys().cloned().collect();
                all.sort();
                all
            }
            Fault::Clock(c) => c.targets().to_vec(),
            Fault::Loss { targets, .. }
            | Fault::Kill { targets }
            | Fault::Pause { targets }
            | Fault::Membership { targets }
            | Fault::Netem { targets, .. }
            | Fault::Power { targets }
            | Fault::Corrupt { targets, .. }
            | Fault::Slow { targets, .. } => targets.clone(),
        }
    }

    /// True when this fault names [`PRIMARY`], the placeholder that
    /// [`Fault::resolve_primary`] replaces when the fault starts.
    pub fn needs_primary(&self) -> bool {
        self.targets().iter().any(|t| t == PRIMARY)
    }

    /// The same fault aimed at `node`: a partition isolates it from every
    /// other of `nodes`; other kinds target it alone (a loss from every
    /// peer). Parameters (probability, offset, one-way) are kept.
    pub fn aimed_at(&self, node: &str, nodes: &[String]) -> Fault {
        let one = vec![node.to_string()];
        match self.clone() {
            Fault::Partition(p) => Fault::Partition(Partition::isolate(node, nodes, p.one_way)),
            Fault::Loss { probability, .. } => Fault::Loss {
                targets: one,
                from: Vec::new(),
                probability,
            },
            Fault::Clock(ClockFault::Bump { offset_ms, .. }) => Fault::Clock(ClockFault::Bump {
                targets: one,
                offset_ms,
            }),
            Fault::Clock(ClockFault::Strobe {
                delta_ms,
                period_ms,
                duration_ms,
                ..
            }) => Fault::Clock(ClockFault::Strobe {
                targets: one,
                delta_ms,
                period_ms,
                duration_ms,
            }),
            Fault::Kill { .. } => Fault::Kill { targets: one },
            Fault::Pause { .. } => Fault::Pause { targets: one },
            Fault::Membership { .. } => Fault::Membership { targets: one },
            Fault::Power { .. } => Fault::Power { targets: one },
            Fault::Corrupt { how, .. } => Fault::Corrupt { targets: one, how },
            Fault::Slow {
                cpu_percent,
                disk_delay_ms,
                ..
            } => Fault::Slow {
                targets: one,
                cpu_percent,
                disk_delay_ms,
            },
            Fault::Netem {
                delay_ms,
                jitter_ms,
                duplicate,
                ..
            } => Fault::Netem {
                targets: one,
                delay_ms,
                jitter_ms,
                duplicate,
            },
        }
    }

    /// The fault with its [`PRIMARY`] placeholder replaced by `primary`,
    /// the node that is primary now (unchanged when it names none).
    pub fn resolve_primary(&self, primary: &str, nodes: &[String]) -> Fault {
        if self.needs_primary() {
            self.aimed_at(primary, nodes)
        } else {
            self.clone()
        }
    }

    /// A short label for reports, e.g. `partition n1,n2|n3,n4,n5`.
    pub fn label(&self) -> String {
        match self {
            Fault::Partition(p) => format!("partition {}", p.describe()),
            Fault::Loss {
                targets,
                from,
                probability,
            } => {
                let links = if from.is_empty() {
                    String::new()
                } else {
                    format!(" from {}", from.join(","))
                };
                format!(
                    "loss {:.0}% into {}{links}",
                    probability * 100.0,
                    targets.join(",")
                )
            }
            Fault::Clock(ClockFault::Bump { targets, offset_ms }) => {
                format!("clock {offset_ms:+} ms on {}", targets.join(","))
            }
            Fault::Clock(ClockFault::Strobe {
                targets,
                delta_ms,
                period_ms,
                ..
            }) => {
                format!(
                    "clock strobe ±{delta_ms} ms every {period_ms} ms on {}",
                    targets.join(",")
                )
            }
            Fault::Kill { targets } => format!("kill -9 {}", targets.join(",")),
            Fault::Pause { targets } => format!("pause {}", targets.join(",")),
            Fault::Netem {
                targets,
                delay_ms,
                jitter_ms,
                duplicate,
            } => format!(
                "delay {delay_ms}±{jitter_ms} ms, duplicate {:.0}% from {}",
                duplicate * 100.0,
                targets.join(",")
            ),
            Fault::Membership { targets } => format!(
                "{} leave{}",
                targets.join(","),
                if targets.len() == 1 { "s" } else { "" }
            ),
            Fault::Power { targets } => format!("power off {}", targets.join(",")),
            Fault::Corrupt { targets, how } => {
                format!("corrupt {}: {}", targets.join(","), how.describe())
            }
            Fault::Slow {
                targets,
                cpu_percent,
                disk_delay_ms,
            } => {
                let disk = if *disk_delay_ms > 0 {
                    format!(", disk +{disk_delay_ms} ms")
                } else {
                    String::new()
                };
                format!("slow {}: {cpu_percent}% CPU{disk}", targets.join(","))
            }
        }
    }
}

/// The history `f` for stopping a fault of `kind`.
pub fn stop_f(kind: Kind) -> &'static str {
    match kind {
        Kind::Partition => "stop-partition",
        Kind::Loss => "stop-loss",
        Kind::Clock => "reset-clock",
        Kind::Kill => "start",
        Kind::Pause => "resume",
        Kind::Membership => "join",
        Kind::Netem => "stop-netem",
        Kind::Power => "power-on",
        Kind::Corrupt => "recover",
        Kind::Slow => "stop-slow",
    }
}

/// Which kind a history `f` belongs to, and whether it starts a fault:
/// `bump-clock` → `(Kind::Clock, true)`, `start` → `(Kind::Kill, false)`.
pub fn kind_of_f(f: &str) -> Option<(Kind, bool)> {
    Some(match f {
        "start-partition" => (Kind::Partition, true),
        "stop-partition" => (Kind::Partition, false),
        "start-loss" => (Kind::Loss, true),
        "stop-loss" => (Kind::Loss, false),
        "bump-clock" | "strobe-clock" => (Kind::Clock, true),
        "reset-clock" => (Kind::Clock, false),
        "kill" => (Kind::Kill, true),
        "start" => (Kind::Kill, false),
        "pause" => (Kind::Pause, true),
        "resume" => (Kind::Pause, false),
        "leave" => (Kind::Membership, true),
        "join" => (Kind::Membership, false),
        "start-netem" => (Kind::Netem, true),
        "stop-netem" => (Kind::Netem, false),
        "power-off" => (Kind::Power, true),
        "power-on" => (Kind::Power, false),
        "corrupt" => (Kind::Corrupt, true),
        "recover" => (Kind::Corrupt, false),
        "start-slow" => (Kind::Slow, true),
        "stop-slow" => (Kind::Slow, false),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_names_match_the_history_vocabulary() {
        assert_eq!(stop_f(Kind::Partition), "stop-partition");
        assert_eq!(stop_f(Kind::Clock), "reset-clock");
        assert_eq!(stop_f(Kind::Kill), "start");
        assert_eq!(stop_f(Kind::Pause), "resume");
        assert_eq!(stop_f(Kind::Loss), "stop-loss");
        for k in Kind::ALL {
            assert_eq!(kind_of_f(stop_f(k)), Some((k, false)));
        }
        assert_eq!(kind_of_f("strobe-clock"), Some((Kind::Clock, true)));
        assert_eq!(kind_of_f("read"), None);
    }
}
