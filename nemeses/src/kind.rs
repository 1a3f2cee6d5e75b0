//! [`Kind`]: the kinds of fault a nemesis injects, as `--nemesis` names
//! them. Parsed once from the flag or a schedule file; each kind draws its
//! faults from its own random stream (seeded by its name) and keeps its own
//! cycle of start and stop.
//!
//! Kinds order by name, not by declaration, so that events at the same
//! instant keep the order they had when kinds were strings: a seed replays
//! the same timeline across versions.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Network partitions (iptables DROP between node sets).
    Partition,
    /// Random packet loss between nodes.
    Loss,
    /// Clock offsets and bumps.
    Clock,
    /// `kill -9` of the store's processes.
    Kill,
    /// SIGSTOP / SIGCONT of the store's processes.
    Pause,
    /// A node leaves the cluster and joins again.
    Membership,
    /// Delay and jitter on node interfaces (`tc netem`).
    Netem,
    /// A power failure: the store's processes die and every write they had
    /// not fsynced is lost (their data directory is mounted through
    /// faultfs, which keeps un-fsynced data in its own memory).
    Power,
    /// Damage to the store's data files (flipped bits, a cut tail, a roll
    /// back to an earlier copy) while it is down.
    Corrupt,
    /// A gray failure: the store's processes throttled to a small share of
    /// a CPU, and (under faultfs) its writes and fsyncs delayed.
    Slow,
}

impl Kind {
    /// Every kind, in the order `--nemesis all` lists them.
    pub const ALL: [Kind; 10] = [
        Kind::Partition,
        Kind::Loss,
        Kind::Clock,
        Kind::Kill,
        Kind::Pause,
        Kind::Membership,
        Kind::Netem,
        Kind::Power,
        Kind::Corrupt,
        Kind::Slow,
    ];

    /// The name `--nemesis` takes.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Partition => "partition",
            Kind::Loss => "loss",
            Kind::Clock => "clock",
            Kind::Kill => "kill",
            Kind::Pause => "pause",
            Kind::Membership => "membership",
            Kind::Netem => "netem",
            Kind::Power => "power",
            Kind::Corrupt => "corrupt",
            Kind::Slow => "slow",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether its faults are iptables rules between nodes.
    pub fn is_network(self) -> bool {
        matches!(self, Kind::Partition | Kind::Loss)
    }

    /// Whether its faults act on the store's data directory, which must
    /// then be mounted through faultfs for the whole run (`power`, and the
    /// disk half of `slow`).
    pub fn needs_faultfs(self) -> bool {
        matches!(self, Kind::Power | Kind::Slow)
    }
}

/// `partition,kill`: kinds as `--nemesis` lists them.
pub fn names(kinds: &[Kind]) -> String {
    kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
}

impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name().cmp(other.name())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kind::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown kind {s:?} (known: {})",
                crate::KINDS.join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_by_name() {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, crate::KINDS);
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), k);
        }
        assert!(Kind::Clock < Kind::Kill && Kind::Kill < Kind::Loss);
        assert!(serde_json::from_str::<Kind>("\"meteor\"").is_err());
    }
}
