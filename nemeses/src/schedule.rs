//! When faults start and stop.
//!
//! The skeleton schedule alternates: a fault for one interval, a healthy
//! cluster for the next, and so on. What each fault is (which shape, which
//! nodes) comes from a generator seeded with the run's seed, so the same seed
//! and node list replay the same sequence of faults.

use crate::partition::{self, Shape};
use crate::NemesisError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One planned fault: what to do, on which nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// Split the cluster into these components.
    Partition {
        /// How the split was chosen.
        shape: Shape,
        /// The components, each a sorted list of node names.
        components: Vec<Vec<String>>,
    },
}

impl Fault {
    /// The history `f` for starting this fault.
    pub fn start_f(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "start-partition",
        }
    }

    /// The history `f` for stopping this fault.
    pub fn stop_f(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "stop-partition",
        }
    }

    /// A short label for reports, e.g. `partition n1,n2|n3,n4,n5`.
    pub fn label(&self) -> String {
        match self {
            Fault::Partition { components, .. } => {
                format!("partition {}", partition::describe(components))
            }
        }
    }
}

/// Draws the faults of a run, one after another, from its seed.
pub struct Schedule {
    rng: ChaCha8Rng,
    kinds: Vec<String>,
    nodes: Vec<String>,
}

impl Schedule {
    /// A schedule over `nodes` for the given nemesis kinds.
    pub fn new(seed: u64, kinds: Vec<String>, nodes: Vec<String>) -> Self {
        Schedule {
            // Distinct stream from any other use of the seed.
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6e65_6d65_7369_7300),
            kinds,
            nodes,
        }
    }

    /// True when there is nothing to inject (`--nemesis none`).
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The next fault to inject, or `None` for an empty schedule.
    pub fn next_fault(&mut self) -> Result<Option<Fault>, NemesisError> {
        if self.kinds.is_empty() {
            return Ok(None);
        }
        let kind = &self.kinds[self.rng.random_range(0..self.kinds.len())];
        match kind.as_str() {
            "partition" => {
                let shape = Shape::ALL[self.rng.random_range(0..Shape::ALL.len())];
                let components = shape.components(&self.nodes, &mut self.rng)?;
                Ok(Some(Fault::Partition { shape, components }))
            }
            other => Err(NemesisError::UnknownKind(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<String> {
        (1..=5).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn a_seed_replays_the_same_faults() {
        let run = |seed| {
            let mut s = Schedule::new(seed, vec!["partition".into()], nodes());
            (0..8)
                .map(|_| s.next_fault().unwrap().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn both_shapes_occur() {
        let mut s = Schedule::new(1, vec!["partition".into()], nodes());
        let faults: Vec<_> = (0..40).map(|_| s.next_fault().unwrap().unwrap()).collect();
        let halves = faults
            .iter()
            .filter(|f| {
                matches!(
                    f,
                    Fault::Partition {
                        shape: Shape::RandomHalves,
                        ..
                    }
                )
            })
            .count();
        assert!(halves > 5 && halves < 35, "{halves}");
        assert_eq!(faults[0].start_f(), "start-partition");
        assert!(faults[0].label().starts_with("partition n"));
    }

    #[test]
    fn empty_schedule_injects_nothing() {
        let mut s = Schedule::new(1, vec![], nodes());
        assert!(s.is_empty());
        assert_eq!(s.next_fault().unwrap(), None);
    }
}
