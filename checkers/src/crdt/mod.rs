//! The CRDT checker: OR-set, PN-counter and sequence semantics.
//!
//! Conflict-free replicated data types promise specific results for
//! concurrent updates. One history may exercise any of three types; each is
//! recognized by its functions and judged on its own, and the verdict is the
//! worst of the parts that had something to judge.
//!
//! # OR-set (add-wins)
//!
//! `add` and `remove` with an element value (any JSON scalar), `read` with
//! the list of elements on `ok` completion. A remove removes only the adds
//! it *observed*: certainly those that completed before it began, perhaps
//! those concurrent with it, never those that began after it ended. So an
//! add that began after every remove of its element ended must survive. The
//! *final reads* are the `ok` reads invoked after the last add or remove
//! completed; in each, for every element:
//!
//! - **required**: some `ok` add of it was invoked after the completion of
//!   every remove of it that may have taken effect (`ok`; an `info` or
//!   pending remove never completes, so nothing is required after it): no
//!   remove can have observed that add; missing it is a `lost-add`. An add
//!   concurrent with a remove may or may not have been observed by it (a
//!   store sees an add's effect before acknowledging it), so it is allowed
//!   either way.
//! - **allowed**: required, or some `info`/pending add, or some `ok` add not
//!   observed by an `ok` remove. Returning an element that is not allowed is
//!   a `resurrected` element (or `unexpected` if no add of it was attempted).
//!
//! # PN-counter
//!
//! `increment` and `decrement` with a non-negative amount, `read-counter`
//! with the value. Every `ok` read, the final ones included, is judged as
//! [`crate::counter`] judges it: the acknowledged sum plus some subset of the
//! indeterminate and concurrent updates, exactly (within a budget; beyond
//! it, within the bounds).
//!
//! # Sequence (list CRDT, e.g. RGA)
//!
//! `insert` with an element (a JSON scalar, unique; each process inserts
//! its elements in an order it means to keep, e.g. appending, or right
//! after its own previous element), `delete` with an element, `read-list`
//! with the whole list on `ok` completion and the replica in `node`. Ops
//! on several lists name theirs: `insert`/`delete` carry `[list, element]`,
//! `read-list` is invoked with `[list, null]` and completes with
//! `[list, [elements]]` (or the bare list); anything else is on one unnamed
//! list. Each list is judged on its own.
//!
//! The *final reads* of a list are each replica's last `ok` `read-list`
//! invoked after the list's last insert or delete completed. They must be
//! identical (`divergent` otherwise), hold no element twice (`duplicate`),
//! hold every element whose insert was `ok` and that no delete may have
//! removed (`missing`), hold nothing not inserted or deleted by an `ok`
//! delete (`unexpected`), and list each process's own inserts in the order
//! it made them (`reordered`). A list with inserts but no final read
//! leaves the verdict unknown.
//!
//! Reads during the run may be stale, but a list CRDT still promises
//! something of each of them: no element twice (`duplicate`), none whose
//! every insert that may have taken effect began after the read ended
//! (`unexpected`), each process's inserts in order (`reordered`), and one
//! order of all elements that every read of the list, final ones
//! included, agrees with: once two elements are both in a list, their
//! relative order never changes (Attiya et al.'s *strong list
//! specification*, which RGA meets). A cycle in "read R lists a before b"
//! is an `order` finding naming the reads.
//!
//! The verdict is invalid on any finding, unknown when no part has a final
//! read (or an `ok` counter read) to judge.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::list;
use crate::counter::{Counter, CounterOps};
use crate::history::History;
use crate::verdict::{CheckResult, Validity};

mod or_set;
mod sequence;

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "crdt";

/// At most this many findings are listed per part.
pub const EXAMPLE_CAP: usize = 100;

/// The PN-counter's functions.
pub const PN_COUNTER: CounterOps = CounterOps {
    add: &["increment"],
    sub: &["decrement"],
    read: &["read-counter"],
};

/// One finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// `lost-add`, `resurrected`, `unexpected`, `divergent`, `missing`,
    /// `duplicate`, `reordered`, `order`, `malformed`.
    pub kind: String,
    /// The element (JSON text), if one is concerned.
    pub element: Option<String>,
    /// `index` of the read concerned.
    pub read_index: u64,
    /// The replica, when known.
    pub node: Option<String>,
    /// The list (sequence part, named lists only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Details for humans.
    pub note: String,
}

/// What one part found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PartAnalysis {
    /// Whether the history exercised this type at all.
    pub present: bool,
    /// The final reads judged.
    pub final_read_count: usize,
    /// Findings (exact count).
    pub finding_count: usize,
    /// Examples.
    pub findings: Vec<Finding>,
    /// For the PN-counter: the counter checker's verdict and summary.
    pub counter: Option<CheckResult>,
    /// Sequence: lists with inserts but no final read, which cannot be
    /// judged (the verdict is then unknown at best).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unjudged_keys: Vec<String>,
}

impl PartAnalysis {
    fn add(&mut self, f: Finding) {
        self.finding_count += 1;
        if self.findings.len() < EXAMPLE_CAP {
            self.findings.push(f);
        }
    }

    fn validity(&self) -> Option<Validity> {
        if !self.present {
            return None;
        }
        if let Some(c) = &self.counter {
            return Some(c.valid);
        }
        Some(if self.finding_count > 0 {
            Validity::Invalid
        } else if self.final_read_count == 0 || !self.unjudged_keys.is_empty() {
            Validity::Unknown
        } else {
            Validity::Valid
        })
    }
}

/// Everything the CRDT checker found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CrdtAnalysis {
    /// The OR-set part.
    pub or_set: PartAnalysis,
    /// The PN-counter part.
    pub pn_counter: PartAnalysis,
    /// The sequence part.
    pub sequence: PartAnalysis,
}

/// Checks a CRDT history; see the [module docs](self).
pub fn check(history: &History) -> CheckResult {
    analyze(history).to_result()
}

/// The finding for a read whose result is not a list.
fn not_a_list(read_index: u64, node: Option<String>) -> Finding {
    Finding {
        kind: "malformed".into(),
        element: None,
        read_index,
        node,
        key: None,
        note: "read result is not a list".into(),
    }
}

/// Analyzes a CRDT history without turning it into a verdict.
pub fn analyze(history: &History) -> CrdtAnalysis {
    let mut a = CrdtAnalysis::default();
    or_set::judge(history, &mut a.or_set);

    // PN-counter.
    let mut counter = Counter::new(PN_COUNTER, "pn-counter");
    let mut counted = false;
    for op in &history.ops {
        counted |= PN_COUNTER.add.contains(&op.f.as_str())
            || PN_COUNTER.sub.contains(&op.f.as_str())
            || PN_COUNTER.read.contains(&op.f.as_str());
        counter.observe(op);
    }
    if counted {
        a.pn_counter.present = true;
        let r = counter.finish();
        a.pn_counter.final_read_count = r.details["final_reads"].as_array().map_or(0, Vec::len);
        a.pn_counter.counter = Some(r);
    }

    sequence::judge(history, &mut a.sequence);
    a
}

impl CrdtAnalysis {
    /// The worst verdict of the parts present; unknown if none is.
    pub fn validity(&self) -> Validity {
        [&self.or_set, &self.pn_counter, &self.sequence]
            .iter()
            .filter_map(|p| p.validity())
            .reduce(Validity::worst)
            .unwrap_or(Validity::Unknown)
    }

    /// One line per part present, joined with `; `.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (name, p) in [("OR-set", &self.or_set), ("sequence", &self.sequence)] {
            if !p.present {
                continue;
            }
            let line = match p.findings.first() {
                Some(f) => format!(
                    "{name}: {} finding(s), first: {} {}{} in read {}{} ({})",
                    p.finding_count,
                    f.kind,
                    f.element.as_deref().unwrap_or(""),
                    f.key
                        .as_deref()
                        .map(|k| format!(" of list {k}"))
                        .unwrap_or_default(),
                    f.read_index,
                    f.node
                        .as_deref()
                        .map(|n| format!(" on {n}"))
                        .unwrap_or_default(),
                    f.note
                ),
                None if p.final_read_count == 0 => format!("{name}: no final read to judge"),
                None if !p.unjudged_keys.is_empty() => format!(
                    "{name}: {} final read(s) consistent, but no final read of list(s) {}",
                    p.final_read_count,
                    list(p.unjudged_keys.iter(), p.unjudged_keys.len())
                ),
                None => format!(
                    "{name}: all {} final read(s) consistent",
                    p.final_read_count
                ),
            };
            parts.push(line);
        }
        if let Some(c) = &self.pn_counter.counter {
            parts.push(format!("PN-counter: {}", c.summary));
        }
        if parts.is_empty() {
            return "no CRDT operations (add/remove/read, increment/decrement/read-counter, insert/delete/read-list)".into();
        }
        parts.join("; ")
    }

    /// The analysis as a [`CheckResult`] named `crdt`.
    pub fn to_result(&self) -> CheckResult {
        CheckResult {
            checker: NAME.to_string(),
            valid: self.validity(),
            summary: self.summary(),
            details: serde_json::to_value(self).unwrap_or(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests;
