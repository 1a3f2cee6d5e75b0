//! Per-key linearizable registers with compare-and-set: single-decree Paxos
//! over the key's preference list, one round per operation, as Cassandra's
//! lightweight transactions do.
//!
//! Every replica of the key is an *acceptor* ([`Acceptor`]); the
//! coordinating node is the *proposer*. An operation (read, write or
//! compare-and-set) runs:
//!
//! 1. **Prepare** with a fresh ballot: a majority of the N replicas promise
//!    to ignore lower ballots and report what they accepted and what was
//!    last committed.
//! 2. **Finish an interrupted proposal**: if some acceptor accepted a value
//!    at a ballot newer than the latest commit, a previous operation may
//!    have succeeded; it is proposed again and committed before going on,
//!    and the operation starts over with a new ballot.
//! 3. The current value is the latest commit among the promises. A read
//!    returns it; a compare-and-set whose expectation does not hold fails
//!    here (having changed nothing).
//! 4. **Propose** the new value at the ballot; a majority must accept.
//! 5. **Commit** it to every replica (a majority before answering).
//!
//! Any two majorities of N intersect, so a later operation always sees an
//! earlier successful one. A refused prepare (someone holds a higher ballot)
//! means contention: retry with a higher ballot until the request timeout.
//! A proposal accepted by a majority is chosen: the write succeeded, even if
//! the commit round was cut short. A proposal every acceptor refused left no
//! trace, so the operation starts over (and compares again). A proposal some
//! acceptor may hold but no majority provably does is *indeterminate*: a
//! later proposer may find it and choose it, so retrying could apply it
//! twice; the answer is 503, which a client records as unknown.
//!
//! These keys use strict quorums (sloppy fallbacks would break the
//! majority intersection) and are not moved by handoff: linearizability
//! holds while membership is stable.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A proposal number: a counter, then the proposer's name; totally ordered
/// and unique per proposer.
pub type Ballot = (u64, String);

/// A value chosen at a ballot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The ballot it was proposed at.
    pub ballot: Ballot,
    /// The register's value (`null`: absent).
    pub value: Value,
}

/// One replica's Paxos state for one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptor {
    /// The highest ballot promised.
    pub promised: Option<Ballot>,
    /// The latest proposal accepted and not yet known committed.
    pub accepted: Option<Proposal>,
    /// The latest committed value.
    pub committed: Option<Proposal>,
}

/// An acceptor's answer to a prepare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    /// Whether it promised (false: it holds a higher ballot).
    pub ok: bool,
    /// Its highest promised ballot after this request.
    pub promised: Option<Ballot>,
    /// What it accepted.
    pub accepted: Option<Proposal>,
    /// What it last committed.
    pub committed: Option<Proposal>,
}

impl Acceptor {
    /// Phase 1: promise `ballot` if it is higher than any promised.
    pub fn prepare(&mut self, ballot: &Ballot) -> Promise {
        let ok = self.promised.as_ref().is_none_or(|p| ballot > p);
        if ok {
            self.promised = Some(ballot.clone());
        }
        Promise {
            ok,
            promised: self.promised.clone(),
            accepted: self.accepted.clone(),
            committed: self.committed.clone(),
        }
    }

    /// Phase 2: accept `proposal` unless a higher ballot was promised.
    /// Returns whether it accepted, and the promised ballot.
    pub fn accept(&mut self, proposal: &Proposal) -> (bool, Option<Ballot>) {
        let ok = self.promised.as_ref().is_none_or(|p| proposal.ballot >= *p);
        if ok {
            self.promised = Some(proposal.ballot.clone());
            self.accepted = Some(proposal.clone());
        }
        (ok, self.promised.clone())
    }

    /// Learns a committed proposal (newer than the one held).
    pub fn commit(&mut self, proposal: &Proposal) {
        if self
            .committed
            .as_ref()
            .is_none_or(|c| proposal.ballot > c.ballot)
        {
            self.committed = Some(proposal.clone());
        }
        if self
            .accepted
            .as_ref()
            .is_some_and(|a| a.ballot <= proposal.ballot)
        {
            self.accepted = None;
        }
    }
}

/// What a proposer concludes from a majority of promises: the latest
/// committed value, and an accepted proposal newer than it (an interrupted
/// operation that must be finished first), if any.
pub fn read_promises<'a>(
    promises: impl IntoIterator<Item = &'a Promise>,
) -> (Option<Proposal>, Option<Proposal>) {
    let promises: Vec<&Promise> = promises.into_iter().collect();
    let committed = promises
        .iter()
        .filter_map(|p| p.committed.clone())
        .max_by(|a, b| a.ballot.cmp(&b.ballot));
    let in_progress = promises
        .iter()
        .filter_map(|p| p.accepted.clone())
        .filter(|a| committed.as_ref().is_none_or(|c| a.ballot > c.ballot))
        .max_by(|a, b| a.ballot.cmp(&b.ballot));
    (committed, in_progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b(n: u64, who: &str) -> Ballot {
        (n, who.to_string())
    }

    #[test]
    fn an_acceptor_keeps_its_promises() {
        let mut a = Acceptor::default();
        assert!(a.prepare(&b(2, "n1")).ok);
        assert!(!a.prepare(&b(1, "n2")).ok, "lower ballot");
        assert!(!a.prepare(&b(2, "n1")).ok, "the same ballot twice");
        let (ok, _) = a.accept(&Proposal {
            ballot: b(1, "n2"),
            value: json!(1),
        });
        assert!(!ok, "accept below the promise");
        let p = Proposal {
            ballot: b(2, "n1"),
            value: json!(7),
        };
        assert!(a.accept(&p).0);
        assert_eq!(a.prepare(&b(3, "n2")).accepted, Some(p.clone()));
        a.commit(&p);
        assert_eq!(a.committed, Some(p.clone()));
        assert_eq!(a.accepted, None);
        // An older commit arriving late changes nothing.
        a.commit(&Proposal {
            ballot: b(1, "n3"),
            value: json!(0),
        });
        assert_eq!(a.committed, Some(p));
    }

    #[test]
    fn an_interrupted_proposal_is_found_and_an_older_one_is_not() {
        let committed = Proposal {
            ballot: b(2, "n1"),
            value: json!("old"),
        };
        let newer = Proposal {
            ballot: b(3, "n2"),
            value: json!("new"),
        };
        let stale = Proposal {
            ballot: b(1, "n3"),
            value: json!("stale"),
        };
        let promises = [
            Promise {
                ok: true,
                promised: None,
                accepted: Some(stale),
                committed: Some(committed.clone()),
            },
            Promise {
                ok: true,
                promised: None,
                accepted: Some(newer.clone()),
                committed: None,
            },
        ];
        let (c, in_progress) = read_promises(&promises);
        assert_eq!(c, Some(committed));
        assert_eq!(in_progress, Some(newer));
    }

    /// Two proposers racing over three acceptors: whatever interleaving,
    /// once one value is committed by a majority, a later proposer that
    /// prepares at a majority learns it (the safety Paxos promises).
    #[test]
    fn majorities_intersect_so_a_chosen_value_is_never_lost() {
        for split in 0..3 {
            let mut acc: [Acceptor; 3] = Default::default();
            let p1 = Proposal {
                ballot: b(1, "n1"),
                value: json!("one"),
            };
            for a in acc.iter_mut() {
                assert!(a.prepare(&p1.ballot).ok);
            }
            // p1 accepted by a majority (all but `split`), never committed.
            for (i, a) in acc.iter_mut().enumerate() {
                if i != split {
                    assert!(a.accept(&p1).0);
                }
            }
            // A second proposer prepares at any majority.
            let majority: Vec<usize> = (0..3).filter(|i| *i != (split + 1) % 3).collect();
            let promises: Vec<Promise> = majority
                .iter()
                .map(|&i| acc[i].prepare(&b(2, "n2")))
                .collect();
            let (_, in_progress) = read_promises(&promises);
            assert_eq!(
                in_progress.map(|p| p.value),
                Some(json!("one")),
                "split {split}"
            );
        }
    }
}
