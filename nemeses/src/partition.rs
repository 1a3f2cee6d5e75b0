//! Partition shapes and the grudges they imply.
//!
//! A partition is described by its *grudge*: for each node, the set of peers
//! whose packets it drops. Most shapes split the cluster into *components*
//! (nodes inside one talk freely; across, nothing passes) and the grudge
//! follows; some shapes are not splits at all:
//!
//! - **random halves**: two halves, a majority and a minority when odd;
//! - **isolate one**: one node cut off from all others;
//! - **majorities ring**: every node sees a majority, but each a different
//!   one (nodes on a shuffled ring hear only their nearest neighbours), so
//!   no two nodes agree on who is reachable: a classic way to confuse
//!   leader election and quorum systems;
//! - **bridge**: two halves that cannot talk, joined by one node that sees
//!   both;
//! - **explicit**: components the user typed, `n1,n2|n3,n4,n5`.
//!
//! Any split can be **one-way**: only the first component drops what comes
//! from the others, so traffic flows one way but not back (asymmetric
//! partitions break failure detectors that assume symmetry).

use crate::targets::sort_nodes;
use crate::NemesisError;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// For each node, the peers it must not hear from.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// How to cut the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Two random halves.
    RandomHalves,
    /// One random node alone.
    IsolateOne,
    /// Each node sees a different majority.
    MajoritiesRing,
    /// Two halves joined by one node.
    Bridge,
    /// Components given by the user.
    Explicit,
}

impl Shape {
    /// The shapes the `partition` nemesis draws from at random.
    pub const RANDOM: [Shape; 4] = [
        Shape::RandomHalves,
        Shape::IsolateOne,
        Shape::MajoritiesRing,
        Shape::Bridge,
    ];
}

/// One partition: its shape, its components (empty for shapes that are not
/// splits), and the grudge that realises it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// How it was chosen.
    pub shape: Shape,
    /// The components, each sorted; empty for the majorities ring.
    pub components: Vec<Vec<String>>,
    /// True when only the first component drops traffic from the others.
    pub one_way: bool,
    /// Who drops whom.
    pub grudge: Grudge,
}

impl Partition {
    /// Draws a partition of `shape` over `nodes`.
    pub fn draw<R: Rng>(
        shape: Shape,
        nodes: &[String],
        one_way: bool,
        rng: &mut R,
    ) -> Result<Partition, NemesisError> {
        if nodes.len() < 2 {
            return Err(NemesisError::TooFewNodes(nodes.len()));
        }
        let mut shuffled = nodes.to_vec();
        shuffled.shuffle(rng);
        let (components, grudge) = match shape {
            Shape::RandomHalves | Shape::IsolateOne | Shape::Explicit => {
                let cut = if shape == Shape::IsolateOne {
                    1
                } else {
                    shuffled.len() / 2
                };
                let comps = normalise(vec![shuffled[..cut].to_vec(), shuffled[cut..].to_vec()]);
                let g = split_grudge(&comps, one_way);
                (comps, g)
            }
            Shape::MajoritiesRing => (Vec::new(), ring_grudge(&shuffled)),
            Shape::Bridge => {
                if nodes.len() < 3 {
                    return Err(NemesisError::TooFewNodes(nodes.len()));
                }
                let bridge = shuffled.pop().expect("3+ nodes");
                let half = shuffled.len() / 2;
                let (a, b) = shuffled.split_at(half);
                let mut g = split_grudge(&normalise(vec![a.to_vec(), b.to_vec()]), one_way);
                g.insert(bridge.clone(), BTreeSet::new());
                let comps = normalise(vec![
                    [a, std::slice::from_ref(&bridge)].concat(),
                    [b, &[bridge]].concat(),
                ]);
                (comps, g)
            }
        };
        Ok(Partition {
            shape,
            components,
            one_way,
            grudge,
        })
    }

    /// A partition from components the user typed: `n1,n2|n3,n4,n5`. Every
    /// name must be a node; nodes not named form no component and keep
    /// talking to everyone.
    pub fn explicit(
        spec: &str,
        nodes: &[String],
        one_way: bool,
    ) -> Result<Partition, NemesisError> {
        let bad = |why: String| NemesisError::BadPartition(spec.to_string(), why);
        let comps: Vec<Vec<String>> = spec
            .split('|')
            .map(|c| {
                c.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        if comps.len() < 2 || comps.iter().any(Vec::is_empty) {
            return Err(bad(
                "expected at least two non-empty components separated by |".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for n in comps.iter().flatten() {
            if !nodes.contains(n) {
                return Err(bad(format!(
                    "{n} is not a node (nodes: {})",
                    nodes.join(",")
                )));
            }
            if !seen.insert(n.clone()) {
                return Err(bad(format!("{n} is in two components")));
            }
        }
        // Keep the user's component order: for one-way, the first one drops.
        let comps: Vec<Vec<String>> = comps
            .into_iter()
            .map(|mut c| {
                sort_nodes(&mut c);
                c
            })
            .collect();
        let grudge = split_grudge(&comps, one_way);
        Ok(Partition {
            shape: Shape::Explicit,
            components: comps,
            one_way,
            grudge,
        })
    }

    /// `node` alone against every other of `nodes` (one-way: `node` stops
    /// hearing the others, they still hear it). The node comes first even
    /// on two nodes, so a one-way cut always deafens it.
    pub fn isolate(node: &str, nodes: &[String], one_way: bool) -> Partition {
        let mut others: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
        sort_nodes(&mut others);
        let components = vec![vec![node.to_string()], others];
        let grudge = split_grudge(&components, one_way);
        Partition {
            shape: Shape::IsolateOne,
            components,
            one_way,
            grudge,
        }
    }

    /// A short description for reports: `n1,n2|n3,n4,n5`, `ring`, ...
    pub fn describe(&self) -> String {
        let base = if self.components.is_empty() {
            let mut parts: Vec<String> = self
                .grudge
                .iter()
                .map(|(n, drops)| {
                    let all: BTreeSet<&String> = self.grudge.keys().collect();
                    let mut sees: Vec<String> = all
                        .into_iter()
                        .filter(|p| *p != n && !drops.contains(*p))
                        .cloned()
                        .collect();
                    sort_nodes(&mut sees);
                    format!("{n}→{}", sees.join(","))
                })
                .collect();
            sort_nodes(&mut parts);
            format!("ring {}", parts.join(" "))
        } else {
            describe(&self.components)
        };
        if self.one_way {
            format!("{base} (one-way)")
        } else {
            base
        }
    }
}

/// Sorts nodes inside components and components by size then name.
fn normalise(mut comps: Vec<Vec<String>>) -> Vec<Vec<String>> {
    for c in &mut comps {
        sort_nodes(c);
    }
    comps.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    comps
}

/// Every node drops every node outside its component (or, one-way, only the
/// first component does).
fn split_grudge(components: &[Vec<String>], one_way: bool) -> Grudge {
    let mut g = Grudge::new();
    for (i, comp) in components.iter().enumerate() {
        for node in comp {
            let others: BTreeSet<String> = if one_way && i > 0 {
                BTreeSet::new()
            } else {
                components
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, c)| c.iter().cloned())
                    .filter(|n| !comp.contains(n))
                    .collect()
            };
            g.insert(node.clone(), others);
        }
    }
    g
}

/// Nodes on a ring hear only neighbours within distance `k`, the smallest
/// `k` that makes every node's view (itself included) a majority.
fn ring_grudge(ring: &[String]) -> Grudge {
    let n = ring.len();
    let majority = n / 2 + 1;
    let k = (majority - 1).div_ceil(2);
    let mut g = Grudge::new();
    for (i, node) in ring.iter().enumerate() {
        let drops = ring
            .iter()
            .enumerate()
            .filter(|(j, _)| {
                let d = (i as isize - *j as isize).unsigned_abs();
                let d = d.min(n - d);
                d > k
            })
            .map(|(_, p)| p.clone())
            .collect();
        g.insert(node.clone(), drops);
    }
    g
}

/// The grudge that realises a symmetric split into components.
pub fn grudge(components: &[Vec<String>]) -> Grudge {
    split_grudge(components, false)
}

/// Renders components as `n1,n2|n3,n4,n5`, the form users type.
pub fn describe(components: &[Vec<String>]) -> String {
    components
        .iter()
        .map(|c| c.join(","))
        .collect::<Vec<_>>()
        .join("|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn draw(shape: Shape, n: usize, seed: u64) -> Partition {
        Partition::draw(
            shape,
            &nodes(n),
            false,
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
        .unwrap()
    }

    fn symmetric(g: &Grudge) -> bool {
        g.iter()
            .all(|(a, drops)| drops.iter().all(|b| g[b].contains(a)))
    }

    #[test]
    fn halves_split_five_into_two_and_three_covering_every_node() {
        for seed in 0..50 {
            let p = draw(Shape::RandomHalves, 5, seed);
            assert_eq!((p.components[0].len(), p.components[1].len()), (2, 3));
            let mut all: Vec<_> = p.components.concat();
            sort_nodes(&mut all);
            assert_eq!(all, nodes(5));
            assert!(symmetric(&p.grudge));
        }
    }

    #[test]
    fn isolate_one_cuts_a_single_node() {
        let p = draw(Shape::IsolateOne, 5, 2);
        assert_eq!(p.components[0].len(), 1);
        let lone = &p.components[0][0];
        assert_eq!(p.grudge[lone].len(), 4);
        assert!(p
            .grudge
            .iter()
            .filter(|(n, _)| *n != lone)
            .all(|(_, d)| d.len() == 1));
    }

    #[test]
    fn majorities_ring_gives_every_node_a_different_majority() {
        for n in [3usize, 5, 7] {
            let p = draw(Shape::MajoritiesRing, n, 9);
            assert!(p.components.is_empty());
            assert!(symmetric(&p.grudge));
            let views: BTreeSet<BTreeSet<String>> = p
                .grudge
                .iter()
                .map(|(me, drops)| {
                    let view: BTreeSet<String> = nodes(n)
                        .into_iter()
                        .filter(|x| !drops.contains(x))
                        .collect();
                    assert!(view.contains(me));
                    assert!(view.len() > n / 2, "{me} sees a minority: {view:?}");
                    view
                })
                .collect();
            if n >= 5 {
                assert_eq!(views.len(), n, "views should all differ");
                assert!(p.grudge.values().all(|d| !d.is_empty()));
            }
            assert!(p.describe().starts_with("ring "));
        }
    }

    #[test]
    fn bridge_node_sees_both_halves_which_do_not_see_each_other() {
        let p = draw(Shape::Bridge, 5, 4);
        let bridge = p
            .grudge
            .iter()
            .find(|(_, d)| d.is_empty())
            .unwrap()
            .0
            .clone();
        assert!(p.components.iter().all(|c| c.contains(&bridge)));
        let others: Vec<_> = p.grudge.iter().filter(|(n, _)| **n != bridge).collect();
        assert_eq!(others.len(), 4);
        assert!(others
            .iter()
            .all(|(_, d)| d.len() == 2 && !d.contains(&bridge)));
        assert!(symmetric(&p.grudge));
    }

    #[test]
    fn explicit_grudge_parses_and_rejects_nonsense() {
        let p = Partition::explicit("n1,n2|n3,n4,n5", &nodes(5), false).unwrap();
        assert_eq!(p.describe(), "n1,n2|n3,n4,n5");
        assert_eq!(p.grudge["n1"].len(), 3);
        for bad in ["n1,n2", "n1|n9", "n1,n2|n2,n3", "|n1"] {
            let e = Partition::explicit(bad, &nodes(5), false)
                .unwrap_err()
                .to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn one_way_drops_only_in_the_first_component() {
        let p = Partition::explicit("n1|n2,n3", &nodes(3), true).unwrap();
        assert_eq!(p.grudge["n1"].len(), 2);
        assert!(p.grudge["n2"].is_empty() && p.grudge["n3"].is_empty());
        assert!(p.describe().ends_with("(one-way)"));
    }

    #[test]
    fn same_seed_same_partitions() {
        let run = |seed| {
            (0..10)
                .map(|i| draw(Shape::RANDOM[i % 4], 5, seed + i as u64))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn too_few_nodes_is_an_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(
            Partition::draw(Shape::IsolateOne, &nodes(1), false, &mut rng).unwrap_err(),
            NemesisError::TooFewNodes(1)
        );
        assert!(Partition::draw(Shape::Bridge, &nodes(2), false, &mut rng).is_err());
    }
}
