//! Partition shapes and the grudges they imply.
//!
//! A partition splits the cluster into *components*: nodes inside one component
//! talk freely, nodes in different components cannot. Each node then holds a
//! *grudge*: the set of peers whose packets it drops. Dropping inbound packets on
//! both sides makes the cut symmetric, as Jepsen does.

use crate::NemesisError;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How to split the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Shuffle the nodes and cut them into two halves (a majority and a
    /// minority when the count is odd).
    RandomHalves,
    /// Cut one random node off from all the others.
    IsolateOne,
}

impl Shape {
    /// The shapes the `partition` nemesis draws from.
    pub const ALL: [Shape; 2] = [Shape::RandomHalves, Shape::IsolateOne];

    /// Splits `nodes` into components.
    pub fn components<R: Rng>(
        self,
        nodes: &[String],
        rng: &mut R,
    ) -> Result<Vec<Vec<String>>, NemesisError> {
        if nodes.len() < 2 {
            return Err(NemesisError::TooFewNodes(nodes.len()));
        }
        let mut shuffled = nodes.to_vec();
        shuffled.shuffle(rng);
        let cut = match self {
            Shape::RandomHalves => shuffled.len() / 2,
            Shape::IsolateOne => 1,
        };
        let (a, b) = shuffled.split_at(cut);
        let mut comps = vec![a.to_vec(), b.to_vec()];
        for c in &mut comps {
            c.sort_by_cached_key(|x| natural_key(x));
        }
        comps.sort_by_key(|c| c.len());
        Ok(comps)
    }
}

/// Sorts `n2` before `n10`.
fn natural_key(s: &str) -> (String, u64) {
    let digits: String = s.chars().rev().take_while(|c| c.is_ascii_digit()).collect();
    let num: String = digits.chars().rev().collect();
    let prefix = s[..s.len() - num.len()].to_string();
    (prefix, num.parse().unwrap_or(0))
}

/// For each node, the peers it must not hear from.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// The grudge that realises a split into components: every node drops every
/// node outside its own component.
pub fn grudge(components: &[Vec<String>]) -> Grudge {
    let mut g = Grudge::new();
    for (i, comp) in components.iter().enumerate() {
        for node in comp {
            let others: BTreeSet<String> = components
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, c)| c.iter().cloned())
                .collect();
            g.insert(node.clone(), others);
        }
    }
    g
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

    #[test]
    fn halves_split_five_into_two_and_three_covering_every_node() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let c = Shape::RandomHalves.components(&nodes(5), &mut rng).unwrap();
            assert_eq!(c.len(), 2);
            assert_eq!((c[0].len(), c[1].len()), (2, 3));
            let mut all: Vec<_> = c.concat();
            all.sort();
            assert_eq!(all, nodes(5));
        }
    }

    #[test]
    fn isolate_one_cuts_a_single_node() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let c = Shape::IsolateOne.components(&nodes(5), &mut rng).unwrap();
        assert_eq!(c[0].len(), 1);
        assert_eq!(c[1].len(), 4);
    }

    #[test]
    fn same_seed_same_partitions() {
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..10)
                .map(|_| Shape::RandomHalves.components(&nodes(5), &mut rng).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn grudge_is_symmetric_and_spares_own_component() {
        let comps = vec![vec!["n1".to_string()], vec!["n2".into(), "n3".into()]];
        let g = grudge(&comps);
        assert_eq!(
            g["n1"],
            ["n2", "n3"].iter().map(|s| s.to_string()).collect()
        );
        assert_eq!(g["n2"], ["n1".to_string()].into_iter().collect());
        assert!(!g["n2"].contains("n3"));
        for (a, peers) in &g {
            for b in peers {
                assert!(g[b].contains(a), "{a} drops {b} but not the reverse");
            }
        }
        assert_eq!(describe(&comps), "n1|n2,n3");
    }

    #[test]
    fn too_few_nodes_is_an_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(
            Shape::IsolateOne
                .components(&nodes(1), &mut rng)
                .unwrap_err(),
            NemesisError::TooFewNodes(1)
        );
    }
}
