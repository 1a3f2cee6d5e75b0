//! Which nodes a fault hits.
//!
//! Jepsen's vocabulary: one node, a minority, a majority, or all of them.
//! The choice is drawn from the run's seeded generator, so it replays.

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The placeholder for "the store's current primary" in a fault drawn under
/// [`TargetMode::Primary`]: not a node name (no host is called that), it is
/// replaced by the real node when the fault starts.
pub const PRIMARY: &str = "@primary";

/// The placeholder for "every node but the primary" in a partition that
/// isolates [`PRIMARY`].
pub const OTHERS: &str = "@others";

/// Which nodes faults hit (`--nemesis-targets`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetMode {
    /// Node sets drawn from the seed: one, a minority, a majority, all, and
    /// the partition shapes.
    #[default]
    Nodes,
    /// The store's primary, whichever node it is when the fault starts: a
    /// partition isolates it from every other node, the other kinds target
    /// it alone. Only for stores that have a primary.
    Primary,
}

impl TargetMode {
    /// The values `--nemesis-targets` accepts.
    pub const NAMES: &'static str = "nodes, primary";

    /// Parses a `--nemesis-targets` value.
    pub fn parse(s: &str) -> Option<TargetMode> {
        match s {
            "nodes" => Some(TargetMode::Nodes),
            "primary" => Some(TargetMode::Primary),
            _ => None,
        }
    }

    /// The name `--nemesis-targets` takes.
    pub fn name(self) -> &'static str {
        match self {
            TargetMode::Nodes => "nodes",
            TargetMode::Primary => "primary",
        }
    }

    /// True for the default, which `test.json` leaves out.
    pub fn is_nodes(&self) -> bool {
        *self == TargetMode::Nodes
    }
}

/// How many nodes a fault targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Targets {
    /// A single random node.
    One,
    /// A random minority (at least one node, fewer than half).
    Minority,
    /// A random majority (more than half).
    Majority,
    /// Every node.
    All,
}

impl Targets {
    /// Every spec, for random choice.
    pub const ALL: [Targets; 4] = [
        Targets::One,
        Targets::Minority,
        Targets::Majority,
        Targets::All,
    ];

    /// How many of `n` nodes this spec means.
    pub fn count(self, n: usize) -> usize {
        match self {
            Targets::One => 1.min(n),
            Targets::Minority => ((n.saturating_sub(1)) / 2).max(1).min(n),
            Targets::Majority => n / 2 + 1,
            Targets::All => n,
        }
        .min(n)
    }

    /// Draws the target nodes, sorted naturally (`n2` before `n10`).
    pub fn choose<R: Rng>(self, nodes: &[String], rng: &mut R) -> Vec<String> {
        let mut shuffled = nodes.to_vec();
        shuffled.shuffle(rng);
        shuffled.truncate(self.count(nodes.len()));
        sort_nodes(&mut shuffled);
        shuffled
    }
}

/// Sorts node names naturally: `n2` before `n10`.
pub fn sort_nodes(nodes: &mut [String]) {
    nodes.sort_by_cached_key(|s| natural_key(s));
}

fn natural_key(s: &str) -> (String, u64) {
    let digits = s.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (prefix, num) = s.split_at(s.len() - digits);
    (prefix.to_string(), num.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn counts_follow_jepsen() {
        assert_eq!(Targets::One.count(5), 1);
        assert_eq!(Targets::Minority.count(5), 2);
        assert_eq!(Targets::Majority.count(5), 3);
        assert_eq!(Targets::All.count(5), 5);
        assert_eq!(Targets::Minority.count(2), 1);
        assert_eq!(Targets::Majority.count(2), 2);
        assert_eq!(Targets::Minority.count(1), 1);
    }

    #[test]
    fn choice_is_seeded_distinct_and_sorted() {
        let nodes: Vec<String> = (1..=12).map(|i| format!("n{i}")).collect();
        let pick = |seed| Targets::Majority.choose(&nodes, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(pick(3), pick(3));
        let p = pick(3);
        assert_eq!(p.len(), 7);
        let mut d = p.clone();
        d.dedup();
        assert_eq!(d, p);
        let mut sorted = p.clone();
        sort_nodes(&mut sorted);
        assert_eq!(sorted, p);
    }
}
