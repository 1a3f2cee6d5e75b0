//! The sequence part of the CRDT checker: list CRDTs such as RGA.
//!
//! A replicated list lets every replica insert and delete concurrently and
//! promises that replicas which have seen the same updates list the same
//! elements in the same order. The ops are grouped by list; each list's
//! final reads (each replica's last read after the last update completed)
//! must agree, hold every acknowledged undeleted insert once and nothing
//! never inserted, and keep each process's inserts in the order it made
//! them. Reads during the run may be stale but must still be free of
//! duplicates and of elements not yet being inserted, and all reads of a
//! list, final ones included, must agree with one order of its elements
//! (the *strong list specification*): a cycle in "read R lists a before b"
//! is an `order` finding.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::{not_a_list, Finding, PartAnalysis};
use crate::common::{index_of, list};
use crate::history::{History, OpType, Process};

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

/// The sequence ops of `history`, paired and grouped by list.
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

/// Judges the sequence ops of `history`, list by list, into `part`.
pub(super) fn judge(history: &History, part: &mut PartAnalysis) {
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
