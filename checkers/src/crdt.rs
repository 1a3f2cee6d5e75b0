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

/// An update (add, remove, insert, delete) with what the rules need.
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
                a.or_set.add(not_a_list(r.index, r.node.clone()));
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
                a.or_set.add(Finding {
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
    sequence(history, &mut a.sequence);
    a
}

/// A sequence update (insert or delete) of one list.
struct SeqUpdate {
    element: String,
    process: Process,
    invoke: usize,
    outcome: OpType,
}

/// An `ok` read of one list.
struct SeqRead {
    invoke: usize,
    complete: usize,
    index: u64,
    node: Option<String>,
    elements: Option<Vec<String>>,
}

/// One list's ops.
#[derive(Default)]
struct SeqList {
    inserts: Vec<SeqUpdate>,
    deletes: Vec<SeqUpdate>,
    reads: Vec<SeqRead>,
    /// Where its last update completed.
    last_update: Option<usize>,
}

/// `[key, x]` with a string key names a list; anything else is on the
/// unnamed list `""`.
fn seq_split(v: &Value) -> (String, &Value) {
    match v.as_array().map(Vec::as_slice) {
        Some([Value::String(k), x]) => (k.clone(), x),
        _ => (String::new(), v),
    }
}

fn collect_seq(history: &History) -> BTreeMap<String, SeqList> {
    let ops = &history.ops;
    let mut lists: BTreeMap<String, SeqList> = BTreeMap::new();
    for pair in history.pairs() {
        let inv = &ops[pair.invoke];
        if inv.process == Process::Nemesis
            || !matches!(inv.f.as_str(), "insert" | "delete" | "read-list")
        {
            continue;
        }
        let (key, arg) = seq_split(&inv.value);
        let outcome = history.outcome(&pair);
        let list = lists.entry(key.clone()).or_default();
        if inv.f == "read-list" {
            let (OpType::Ok, Some(ci)) = (outcome, pair.complete) else {
                continue;
            };
            let done = &ops[ci];
            let result = match done.value.as_array().map(Vec::as_slice) {
                Some([Value::String(k), x]) if !key.is_empty() && *k == key => x,
                _ => &done.value,
            };
            list.reads.push(SeqRead {
                invoke: pair.invoke,
                complete: ci,
                index: index_of(done, ci),
                node: done.node.clone().or_else(|| inv.node.clone()),
                elements: result
                    .as_array()
                    .map(|a| a.iter().map(|x| x.to_string()).collect()),
            });
            continue;
        }
        if let Some(ci) = pair.complete {
            list.last_update = Some(list.last_update.map_or(ci, |l| l.max(ci)));
        }
        let u = SeqUpdate {
            element: arg.to_string(),
            process: inv.process,
            invoke: pair.invoke,
            outcome,
        };
        if inv.f == "insert" {
            list.inserts.push(u);
        } else {
            list.deletes.push(u);
        }
    }
    lists
}

fn sequence(history: &History, part: &mut PartAnalysis) {
    let lists = collect_seq(history);
    part.present = lists
        .values()
        .any(|l| !l.inserts.is_empty() || !l.reads.is_empty());
    if !part.present {
        return;
    }
    for (key, list) in &lists {
        let finals = judge_list(key, list, part);
        if finals == 0 && !list.inserts.is_empty() {
            part.unjudged_keys.push(key.clone());
        }
        part.final_read_count += finals;
    }
}

/// Judges one list; returns how many final reads it had.
fn judge_list(key: &str, ops: &SeqList, part: &mut PartAnalysis) -> usize {
    let key = (!key.is_empty()).then(|| key.to_string());
    // The last final read per replica.
    let mut per_node: BTreeMap<String, &SeqRead> = BTreeMap::new();
    for r in ops
        .reads
        .iter()
        .filter(|r| ops.last_update.is_none_or(|l| r.invoke > l))
    {
        per_node.insert(r.node.clone().unwrap_or_default(), r);
    }
    let finals: HashSet<usize> = per_node.values().map(|r| r.invoke).collect();
    let maybe_deleted: HashSet<&str> = ops
        .deletes
        .iter()
        .filter(|d| d.outcome != OpType::Fail)
        .map(|d| d.element.as_str())
        .collect();
    let deleted: HashSet<&str> = ops
        .deletes
        .iter()
        .filter(|d| d.outcome == OpType::Ok)
        .map(|d| d.element.as_str())
        .collect();
    let mut required: Vec<&str> = ops
        .inserts
        .iter()
        .filter(|i| i.outcome == OpType::Ok && !maybe_deleted.contains(i.element.as_str()))
        .map(|i| i.element.as_str())
        .collect();
    required.sort_unstable();
    required.dedup();
    let allowed: HashSet<&str> = ops
        .inserts
        .iter()
        .filter(|i| i.outcome != OpType::Fail && !deleted.contains(i.element.as_str()))
        .map(|i| i.element.as_str())
        .collect();
    // Each element's inserting process and place in its program order, and
    // the earliest invocation of an insert of it that may have taken effect.
    let mut order: HashMap<&str, (Process, usize)> = HashMap::new();
    for i in ops.inserts.iter().filter(|i| i.outcome != OpType::Fail) {
        order.entry(&i.element).or_insert((i.process, i.invoke));
    }
    let finding = |r: &SeqRead, kind: &str, element: Option<&str>, note: String| Finding {
        kind: kind.into(),
        element: element.map(String::from),
        read_index: r.index,
        node: r.node.clone(),
        key: key.clone(),
        note,
    };
    // Reads during the run: no duplicates, nothing that was not being
    // inserted yet, each process's inserts in order.
    for r in ops.reads.iter().filter(|r| !finals.contains(&r.invoke)) {
        let Some(els) = &r.elements else {
            part.add(Finding {
                key: key.clone(),
                ..not_a_list(r.index, r.node.clone())
            });
            continue;
        };
        let mut seen: HashSet<&str> = HashSet::new();
        let mut last: HashMap<Process, (usize, &str)> = HashMap::new();
        for e in els {
            if !seen.insert(e) {
                part.add(finding(r, "duplicate", Some(e), "listed twice".into()));
            }
            if order.get(e.as_str()).is_none_or(|&(_, at)| at > r.complete) {
                part.add(finding(
                    r,
                    "unexpected",
                    Some(e),
                    "no insert of it that may have taken effect began before this read ended"
                        .into(),
                ));
            }
            in_order(&order, &mut last, e, |f| {
                part.add(finding(r, "reordered", Some(e), f))
            });
        }
    }
    // Final reads: identical, exactly the elements that must and may be
    // there, each process's inserts in order.
    let mut first: Option<(&String, &Vec<String>)> = None;
    for (node, r) in &per_node {
        let Some(els) = &r.elements else {
            part.add(Finding {
                key: key.clone(),
                ..not_a_list(r.index, r.node.clone())
            });
            continue;
        };
        match first {
            None => first = Some((node, els)),
            Some((n0, e0)) if e0 != els => part.add(finding(
                r,
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
                part.add(finding(r, "duplicate", Some(e), "listed twice".into()));
            }
            if !allowed.contains(e.as_str()) {
                part.add(finding(
                    r,
                    "unexpected",
                    Some(e),
                    "never inserted, or deleted by an acknowledged delete".into(),
                ));
            }
            in_order(&order, &mut last, e, |f| {
                part.add(finding(r, "reordered", Some(e), f))
            });
        }
        for e in &required {
            if !seen.contains(e) {
                part.add(finding(
                    r,
                    "missing",
                    Some(e),
                    "acknowledged insert, never deleted, absent".into(),
                ));
            }
        }
    }
    // One order explains every read.
    if let Some((cycle, reads)) = order_cycle(&ops.reads) {
        let r = ops
            .reads
            .iter()
            .find(|r| r.index == reads[reads.len() - 1])
            .expect("the cycle's reads are the list's");
        let steps: Vec<String> = cycle
            .iter()
            .zip(cycle.iter().cycle().skip(1))
            .zip(&reads)
            .map(|((a, b), i)| format!("read {i} lists {a} before {b}"))
            .collect();
        part.add(finding(
            r,
            "order",
            Some(&cycle[0]),
            format!(
                "no single order of the elements explains the reads: {}",
                list(steps.iter(), steps.len())
            ),
        ));
    }
    per_node.len()
}

/// Checks that `e` comes after every earlier-listed insert of its process
/// made after it; reports otherwise.
fn in_order<'a>(
    order: &HashMap<&str, (Process, usize)>,
    last: &mut HashMap<Process, (usize, &'a str)>,
    e: &'a str,
    mut report: impl FnMut(String),
) {
    let Some(&(p, at)) = order.get(e) else {
        return;
    };
    if let Some(&(prev_at, prev)) = last.get(&p) {
        if at < prev_at {
            report(format!(
                "process {p} inserted {e} before {prev}, but the list has it after"
            ));
        }
    }
    let entry = last.entry(p).or_insert((at, e));
    if at > entry.0 {
        *entry = (at, e);
    }
}

/// A cycle in the "listed before" relation of every read (each read's
/// first occurrences, consecutive pairs), as its elements and, per step,
/// the `index` of a read that lists the step's pair in that order; `None`
/// when one order explains every read.
fn order_cycle(reads: &[SeqRead]) -> Option<(Vec<String>, Vec<u64>)> {
    let mut succ: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut witness: HashMap<(&str, &str), u64> = HashMap::new();
    for r in reads {
        let Some(els) = &r.elements else { continue };
        let mut seen: HashSet<&str> = HashSet::new();
        let firsts: Vec<&str> = els
            .iter()
            .map(String::as_str)
            .filter(|e| seen.insert(e))
            .collect();
        for w in firsts.windows(2) {
            if let std::collections::hash_map::Entry::Vacant(v) = witness.entry((w[0], w[1])) {
                v.insert(r.index);
                succ.entry(w[0]).or_default().push(w[1]);
                succ.entry(w[1]).or_default();
            }
        }
    }
    // Iterative depth-first search; a grey successor closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour: HashMap<&str, Colour> = succ.keys().map(|k| (*k, Colour::White)).collect();
    for &root in succ.keys() {
        if colour[root] != Colour::White {
            continue;
        }
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        colour.insert(root, Colour::Grey);
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let Some(&to) = succ[node].get(*next) else {
                colour.insert(node, Colour::Black);
                path.pop();
                continue;
            };
            *next += 1;
            match colour[to] {
                Colour::White => {
                    colour.insert(to, Colour::Grey);
                    path.push((to, 0));
                }
                Colour::Grey => {
                    let from = path
                        .iter()
                        .position(|(n, _)| *n == to)
                        .expect("grey is on the path");
                    let cycle: Vec<&str> = path[from..].iter().map(|(n, _)| *n).collect();
                    let reads = cycle
                        .iter()
                        .zip(cycle.iter().cycle().skip(1))
                        .map(|(a, b)| witness[&(*a, *b)])
                        .collect();
                    return Some((cycle.into_iter().map(String::from).collect(), reads));
                }
                Colour::Black => {}
            }
        }
    }
    None
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
