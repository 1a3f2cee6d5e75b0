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
//! with the value. Every `ok` read, the final ones included, must lie within
//! the bounds of [`crate::counter`]: the acknowledged sum, widened by the
//! indeterminate and concurrent updates.
//!
//! # Sequence (list CRDT, e.g. RGA)
//!
//! `insert` with an element (unique; appended at the end of the list as its
//! client sees it), `delete` with an element, `read-list` with the whole
//! list on `ok` completion and the replica in `node`. The final reads are
//! each replica's last `ok` `read-list` invoked after the last insert or
//! delete completed. They must be identical (`divergent` otherwise), hold no
//! element twice, hold every element whose insert was `ok` and that no
//! delete may have removed (`missing`), hold nothing not inserted or
//! deleted by an `ok` delete (`unexpected`), and list each process's own
//! inserts in the order it made them (`reordered`).
//!
//! The verdict is invalid on any finding, unknown when no part has a final
//! read (or an `ok` counter read) to judge.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{index_of, list};
use crate::counter::{Counter, CounterOps};
use crate::history::{History, OpType, Process};
use crate::verdict::{CheckResult, Validity};

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
    /// `duplicate`, `reordered`.
    pub kind: String,
    /// The element (JSON text), if one is concerned.
    pub element: Option<String>,
    /// `index` of the read concerned.
    pub read_index: u64,
    /// The replica, when known.
    pub node: Option<String>,
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
        } else if self.final_read_count == 0 {
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

/// An update (add, remove, insert, delete) with what the rules need.
struct Update {
    element: String,
    process: Process,
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

#[derive(Default)]
struct Collected {
    updates: HashMap<&'static str, Vec<Update>>,
    reads: HashMap<&'static str, Vec<Read>>,
    last_update: HashMap<&'static str, usize>,
}

fn class(f: &str) -> Option<(&'static str, &'static str)> {
    Some(match f {
        "add" => ("set", "add"),
        "remove" => ("set", "remove"),
        "read" => ("set", "read"),
        "insert" => ("seq", "insert"),
        "delete" => ("seq", "delete"),
        "read-list" => ("seq", "read"),
        _ => return None,
    })
}

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
            process: inv.process,
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

fn not_a_list(r: &Read) -> Finding {
    Finding {
        kind: "malformed".into(),
        element: None,
        read_index: r.index,
        node: r.node.clone(),
        note: "read result is not a list".into(),
    }
}

/// Analyzes a CRDT history without turning it into a verdict.
pub fn analyze(history: &History) -> CrdtAnalysis {
    let c = collect(history);
    let empty = Vec::new();
    let mut a = CrdtAnalysis::default();

    // OR-set.
    let adds = c.updates.get("add").unwrap_or(&empty);
    let removes = c.updates.get("remove").unwrap_or(&empty);
    a.or_set.present = !adds.is_empty() || !removes.is_empty() || c.reads.contains_key("set");
    if a.or_set.present {
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
        a.or_set.final_read_count = fs.len();
        for r in fs {
            let Some(els) = &r.elements else {
                a.or_set.add(not_a_list(r));
                continue;
            };
            let got: HashSet<&str> = els.iter().map(String::as_str).collect();
            for e in &required {
                if !got.contains(e) {
                    a.or_set.add(Finding {
                        kind: "lost-add".into(),
                        element: Some(e.to_string()),
                        read_index: r.index,
                        node: r.node.clone(),
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
                a.or_set.add(Finding {
                    kind: kind.into(),
                    element: Some(e.to_string()),
                    read_index: r.index,
                    node: r.node.clone(),
                    note: note.into(),
                });
            }
        }
    }

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

    // Sequence.
    let inserts = c.updates.get("insert").unwrap_or(&empty);
    let deletes = c.updates.get("delete").unwrap_or(&empty);
    a.sequence.present = !inserts.is_empty() || c.reads.contains_key("seq");
    if a.sequence.present {
        sequence(&c, inserts, deletes, &mut a.sequence);
    }
    a
}

fn sequence(c: &Collected, inserts: &[Update], deletes: &[Update], part: &mut PartAnalysis) {
    // The last final read per replica.
    let mut per_node: BTreeMap<String, &Read> = BTreeMap::new();
    for r in finals(c, "seq") {
        per_node.insert(r.node.clone().unwrap_or_default(), r);
    }
    part.final_read_count = per_node.len();
    let maybe_deleted: HashSet<&str> = deletes
        .iter()
        .filter(|d| d.outcome != OpType::Fail)
        .map(|d| d.element.as_str())
        .collect();
    let deleted: HashSet<&str> = deletes
        .iter()
        .filter(|d| d.outcome == OpType::Ok)
        .map(|d| d.element.as_str())
        .collect();
    let mut required: Vec<&str> = inserts
        .iter()
        .filter(|i| i.outcome == OpType::Ok && !maybe_deleted.contains(i.element.as_str()))
        .map(|i| i.element.as_str())
        .collect();
    required.sort_unstable();
    let allowed: HashSet<&str> = inserts
        .iter()
        .filter(|i| i.outcome != OpType::Fail && !deleted.contains(i.element.as_str()))
        .map(|i| i.element.as_str())
        .collect();
    // Each process's inserts in invocation order.
    let mut order: HashMap<&str, (Process, usize)> = HashMap::new();
    for i in inserts.iter().filter(|i| i.outcome != OpType::Fail) {
        order.entry(&i.element).or_insert((i.process, i.invoke));
    }
    let mut first: Option<(&String, &Vec<String>)> = None;
    for (node, r) in &per_node {
        let Some(els) = &r.elements else {
            part.add(not_a_list(r));
            continue;
        };
        let finding = |kind: &str, element: Option<&str>, note: String| Finding {
            kind: kind.into(),
            element: element.map(String::from),
            read_index: r.index,
            node: r.node.clone(),
            note,
        };
        match first {
            None => first = Some((node, els)),
            Some((n0, e0)) if e0 != els => part.add(finding(
                "divergent",
                None,
                format!(
                    "replica {node} reads [{}] but replica {n0} reads [{}]",
                    list(els.iter(), els.len()),
                    list(e0.iter(), e0.len())
                ),
            )),
            Some(_) => {}
        }
        let mut seen: HashSet<&str> = HashSet::new();
        let mut last: HashMap<Process, (usize, &str)> = HashMap::new();
        for e in els {
            if !seen.insert(e) {
                part.add(finding("duplicate", Some(e), "listed twice".into()));
            }
            if !allowed.contains(e.as_str()) {
                part.add(finding(
                    "unexpected",
                    Some(e),
                    "never inserted, or deleted by an acknowledged delete".into(),
                ));
            }
            if let Some(&(p, at)) = order.get(e.as_str()) {
                if let Some(&(prev_at, prev)) = last.get(&p) {
                    if at < prev_at {
                        part.add(finding(
                            "reordered",
                            Some(e),
                            format!(
                                "process {p} inserted {e} before {prev}, but the list has it after"
                            ),
                        ));
                    }
                }
                let entry = last.entry(p).or_insert((at, e));
                if at > entry.0 {
                    *entry = (at, e);
                }
            }
        }
        for e in &required {
            if !seen.contains(e) {
                part.add(finding(
                    "missing",
                    Some(e),
                    "acknowledged insert, never deleted, absent".into(),
                ));
            }
        }
    }
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
                    "{name}: {} finding(s), first: {} {} in read {}{} ({})",
                    p.finding_count,
                    f.kind,
                    f.element.as_deref().unwrap_or(""),
                    f.read_index,
                    f.node
                        .as_deref()
                        .map(|n| format!(" on {n}"))
                        .unwrap_or_default(),
                    f.note
                ),
                None if p.final_read_count == 0 => format!("{name}: no final read to judge"),
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
