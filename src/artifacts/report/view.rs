//! [`RunView`]: what every part of a report reads from a history, computed
//! once: its ops paired (each invocation with its completion), the fault
//! windows (when each fault was in force) and the index from the `index`
//! checkers cite to positions in the history. The summary counts, the
//! timeline, the plots and each anomaly's explanation all take this view,
//! so a history of a million ops is paired once, not once per section.

use super::explain::OpIndex;
use super::faults::{fault_windows, FaultWindow};
use checkers::history::Pair;
use checkers::{History, Process};

/// A history with its pairs, fault windows and op index.
pub struct RunView<'h> {
    /// The history.
    pub history: &'h History,
    /// Every op, invocation and completion, in invocation order.
    pub pairs: Vec<Pair>,
    /// When each fault was in force.
    pub windows: Vec<FaultWindow>,
    /// Ops by the `index` checkers cite.
    pub index: OpIndex<'h>,
}

impl<'h> RunView<'h> {
    /// Pairs, windows and indexes `history`, once.
    pub fn new(history: &'h History) -> Self {
        let pairs = history.pairs();
        let index = OpIndex::from_pairs(history, &pairs);
        RunView {
            history,
            windows: fault_windows(history),
            pairs,
            index,
        }
    }

    /// The pairs of client ops (the nemesis's left out).
    pub fn client_pairs(&self) -> impl Iterator<Item = &Pair> {
        self.pairs
            .iter()
            .filter(|p| self.history.ops[p.invoke].process != Process::Nemesis)
    }
}
