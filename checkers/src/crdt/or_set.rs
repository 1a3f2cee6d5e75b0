//! The OR-set part of the CRDT checker: add-wins sets.
//!
//! An observed-remove set resolves a concurrent `add` and `remove` of the same
//! element in favour of the add: a remove deletes only the adds it has
//! *observed*. So the final reads are judged element by element against two
//! sets computed from the updates' real-time intervals: the elements that
//! must be there (an acknowledged add that began after every remove of it
//! that may have taken effect had ended: no remove can have seen it) and the
//! elements that may be there (those, plus adds of unknown outcome and
//! acknowledged adds no acknowledged remove observed). A missing required
//! element is a `lost-add`; an element outside the allowed set is
//! `resurrected`, or `unexpected` if no add of it was ever attempted.

use std::collections::{HashMap, HashSet};

use super::{not_a_list, Finding, PartAnalysis};
use crate::common::index_of;
use crate::history::{History, OpType, Process};

/// An OR-set update (`add` or `remove`) with what the rules need.
struct Update {
    element: String,
    invoke: usize,
    complete: Option<usize>,
    outcome: OpType,
}

/// A final-read candidate.
struct Read {
    invoke: usize,
    index: u64,
    node: Option<String>,
    elements: Option<Vec<String>>,
}

/// The OR-set's updates by function and its `ok` reads, by type (`set`).
#[derive(Default)]
struct Collected {
    updates: HashMap<&'static str, Vec<Update>>,
    reads: HashMap<&'static str, Vec<Read>>,
    last_update: HashMap<&'static str, usize>,
}

/// The type and the role of an OR-set function; `None` for any other.
fn class(f: &str) -> Option<(&'static str, &'static str)> {
    Some(match f {
        "add" => ("set", "add"),
        "remove" => ("set", "remove"),
        "read" => ("set", "read"),
        _ => return None,
    })
}

/// The OR-set ops of `history`, paired, the nemesis's left out.
fn collect(history: &History) -> Collected {
    let ops = &history.ops;
    let mut c = Collected::default();
    for pair in history.pairs() {
        let inv = &ops[pair.invoke];
        if inv.process == Process::Nemesis {
            continue;
        }
        let Some((ty, what)) = class(&inv.f) else {
            continue;
        };
        let outcome = history.outcome(&pair);
        if what == "read" {
            if let (OpType::Ok, Some(ci)) = (outcome, pair.complete) {
                let done = &ops[ci];
                c.reads.entry(ty).or_default().push(Read {
                    invoke: pair.invoke,
                    index: index_of(done, ci),
                    node: done.node.clone().or_else(|| inv.node.clone()),
                    elements: done
                        .value
                        .as_array()
                        .map(|a| a.iter().map(|x| x.to_string()).collect()),
                });
            }
            continue;
        }
        if let Some(ci) = pair.complete {
            let l = c.last_update.entry(ty).or_insert(ci);
            *l = (*l).max(ci);
        }
        c.updates.entry(what).or_default().push(Update {
            element: inv.value.to_string(),
            invoke: pair.invoke,
            complete: pair.complete,
            outcome,
        });
    }
    c
}

/// The final reads of a type: invoked after its last update completed.
fn finals<'a>(c: &'a Collected, ty: &'static str) -> Vec<&'a Read> {
    let last = c.last_update.get(ty).copied();
    c.reads
        .get(ty)
        .map(|rs| {
            rs.iter()
                .filter(|r| last.is_none_or(|l| r.invoke > l))
                .collect()
        })
        .unwrap_or_default()
}

/// Judges the OR-set ops of `history` into `part`.
pub(super) fn judge(history: &History, part: &mut PartAnalysis) {
    let c = collect(history);
    let empty = Vec::new();

    let adds = c.updates.get("add").unwrap_or(&empty);
    let removes = c.updates.get("remove").unwrap_or(&empty);
    part.present = !adds.is_empty() || !removes.is_empty() || c.reads.contains_key("set");
    if part.present {
        // Per element, the latest completion among removes that may have
        // taken effect (`usize::MAX`: one never completed, so it may still
        // take effect and observe anything).
        let mut rm_any: HashMap<&str, usize> = HashMap::new();
        let mut rm_ok: HashMap<&str, usize> = HashMap::new();
        for r in removes.iter().filter(|r| r.outcome != OpType::Fail) {
            let done = match (r.outcome, r.complete) {
                (OpType::Ok, Some(c)) => c,
                _ => usize::MAX,
            };
            let e = rm_any.entry(&r.element).or_insert(done);
            *e = (*e).max(done);
            if r.outcome == OpType::Ok {
                let e = rm_ok.entry(&r.element).or_insert(r.invoke);
                *e = (*e).max(r.invoke);
            }
        }
        let mut required: HashSet<&str> = HashSet::new();
        let mut allowed: HashSet<&str> = HashSet::new();
        let attempted: HashSet<&str> = adds.iter().map(|x| x.element.as_str()).collect();
        for x in adds {
            let e = x.element.as_str();
            match (x.outcome, x.complete) {
                (OpType::Ok, Some(done)) => {
                    // Began after every remove ended: no remove saw it.
                    if rm_any.get(e).is_none_or(|&r| x.invoke > r) {
                        required.insert(e);
                    }
                    if rm_ok.get(e).is_none_or(|&r| done > r) {
                        allowed.insert(e);
                    }
                }
                (OpType::Fail, _) => {}
                _ => {
                    allowed.insert(e);
                }
            }
        }
        let mut required: Vec<&str> = required.into_iter().collect();
        required.sort_unstable();
        let fs = finals(&c, "set");
        part.final_read_count = fs.len();
        for r in fs {
            let Some(els) = &r.elements else {
                part.add(not_a_list(r.index, r.node.clone()));
                continue;
            };
            let got: HashSet<&str> = els.iter().map(String::as_str).collect();
            for e in &required {
                if !got.contains(e) {
                    part.add(Finding {
                        kind: "lost-add".into(),
                        element: Some(e.to_string()),
                        read_index: r.index,
                        node: r.node.clone(),
                        key: None,
                        note: "an acknowledged add that no remove observed is missing".into(),
                    });
                }
            }
            let mut extra: Vec<&str> = got.into_iter().filter(|e| !allowed.contains(e)).collect();
            extra.sort_unstable();
            for e in extra {
                let (kind, note) = if attempted.contains(e) {
                    (
                        "resurrected",
                        "every add of it was observed by an acknowledged remove",
                    )
                } else {
                    ("unexpected", "no add of it succeeded or is indeterminate")
                };
                part.add(Finding {
                    kind: kind.into(),
                    element: Some(e.to_string()),
                    read_index: r.index,
                    node: r.node.clone(),
                    key: None,
                    note: note.into(),
                });
            }
        }
    }
}
