//! The siblings checker: are a store's siblings explained by concurrency?
//!
//! Stores that track causality with version vectors or dotted version
//! vectors (Riak, Voldemort, ringkv) keep every value written concurrently
//! as a *sibling* and let the reader merge them. With dotted version vectors
//! (DVV) siblings come only from writes that were really concurrent: a write
//! that began after another completed (and carried its context) supersedes
//! it. Too many siblings ("sibling explosion") means the store invents
//! concurrency. Neither Jepsen nor Maelstrom models siblings.
//!
//! # Op shapes
//!
//! - `write` with value `[k, v]`: writes `v` (unique per key) to key `k`.
//! - `read` with value `[k, null]` on invocation and, on `ok` completion,
//!   `[k, s]` where `s` is the list of siblings `[v1, v2, ...]`, an object
//!   with a `siblings` list (`{"siblings": [...], "context": ...}`; other
//!   fields are ignored), `null` (no value: 0 siblings) or a single value
//!   (1 sibling). A completion that is not a `[k, s]` pair is read as `s`
//!   for the key of its invocation.
//!
//! # Concurrent writers of a read
//!
//! For an `ok` read `R` of key `k`, let `T` be the latest invocation among
//! the `ok` writes of `k` that completed before `R` began: every write that
//! completed before `T` is certainly superseded when `R` runs. The
//! *candidates* are the writes of `k` that did not fail, were invoked before
//! `R` completed and completed after `T` (or never: `info` and pending
//! writes stay candidates). The read's **concurrent writers** is the largest
//! number of candidates in progress at one instant (their intervals clipped
//! at `R`'s completion): the size of the largest set of mutually concurrent
//! writes that could still be siblings. It is at least 1 when a candidate
//! exists.
//!
//! # At rest, by causality
//!
//! Where a read may be served by a replica that has not caught up (an
//! eventually consistent store: CouchDB's multi-master replication, Garage
//! under `degraded`), real time says little about which values a read may
//! return. [`SiblingBound::Causal`] judges by causality instead, at rest: a
//! context write's completion says which siblings its read saw
//! (`[k, v, {"seen": [...]}]`), and a read *at rest* (begun after every
//! write of its key ended and after the last fault) must hold exactly the
//! values no write superseded:
//!
//! - a value some `ok` write had seen (and so superseded) must be gone:
//!   a superseded sibling kept is a sibling explosion;
//! - a value an `ok` write wrote that no `ok` or `info` write saw must be
//!   there: one gone is a lost write (last-write-wins loses exactly these).
//!
//! Earlier reads may be stale and are judged only for values no one wrote.
//!
//! # Verdict
//!
//! With [`SiblingBound::Writers`] (the default, what DVV implies), a read is
//! a violation when it returns more siblings than its concurrent writers, or
//! when two of its siblings were written by writes ordered in real time (one
//! completed before the other began), or a sibling was written by a write
//! certainly superseded: siblings that look concurrent but are not. With
//! [`SiblingBound::AtMost`] only the count is bounded. A sibling no write
//! of the key ever wrote is always a violation. Unknown without `ok` reads.
//!
//! Reported: siblings per read (quantiles overall and per key, max per
//! second over time), concurrent writers per read, and every violation with
//! the read and the writes involved.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{count, index_of, secs, short_json};
use crate::history::{History, OpType, Process};
use crate::keyed::{key_text, split};
use crate::stats::Quantiles;
use crate::verdict::{CheckResult, Validity};

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "siblings";

/// At most this many violations (and keys, and seconds) are listed.
pub const EXAMPLE_CAP: usize = 1000;

/// How many siblings a read may return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiblingBound {
    /// By causality, at rest: reads after every write and fault hold
    /// exactly the values no write saw (see the [module docs](self)).
    Causal,
    /// Any number: measure only (unexpected values still count).
    Unbounded,
    /// At most this many.
    AtMost(usize),
    /// At most the read's concurrent writers, and only mutually concurrent
    /// writes (dotted version vectors).
    #[default]
    Writers,
}

/// How the checker judges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiblingsOptions {
    /// The bound on siblings per read.
    pub bound: SiblingBound,
}

/// A write involved in a violation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WriteRef {
    /// The value written (JSON text, cut).
    pub value: String,
    /// Who wrote it.
    pub process: Process,
    /// `index` of its invocation.
    pub invoke_index: u64,
    /// `index` of its completion, if any.
    pub complete_index: Option<u64>,
    /// Its completion time, if any (ns).
    pub complete_time: Option<u64>,
}

/// A read that broke the bound.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiblingViolation {
    /// The key.
    pub key: String,
    /// `index` of the read's completion.
    pub read_index: u64,
    /// When it completed (ns).
    pub time: u64,
    /// How many siblings it returned.
    pub siblings: usize,
    /// Its concurrent writers (see the module docs).
    pub writers: usize,
    /// What was wrong.
    pub kind: ViolationKind,
    /// For `not-concurrent`: the earlier and the later write.
    pub writes: Vec<WriteRef>,
    /// For `unexpected`: the value no write wrote.
    pub value: Option<String>,
}

/// The kinds of violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViolationKind {
    /// More siblings than the bound.
    OverBound,
    /// Two siblings whose writes were ordered in real time, or a sibling
    /// whose write was certainly superseded.
    NotConcurrent,
    /// A sibling no write of the key wrote.
    Unexpected,
    /// At rest: a sibling an `ok` write had read, and so superseded.
    Superseded,
    /// At rest: a value an `ok` write wrote, no write read, and the read
    /// does not hold.
    Lost,
}

/// Everything the siblings checker found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SiblingsAnalysis {
    /// The options used.
    pub options: SiblingsOptions,
    /// `ok` reads.
    pub read_count: usize,
    /// Keys read.
    pub key_count: usize,
    /// Siblings per read.
    pub siblings: Quantiles,
    /// Concurrent writers per read.
    pub writers: Quantiles,
    /// Per key: siblings per read (first keys only).
    pub per_key: BTreeMap<String, Quantiles>,
    /// Largest sibling count per second of completion time.
    pub max_per_second: BTreeMap<u64, usize>,
    /// Violations per kind (exact).
    pub over_bound_count: usize,
    /// See [`ViolationKind::NotConcurrent`].
    pub not_concurrent_count: usize,
    /// See [`ViolationKind::Unexpected`].
    pub unexpected_count: usize,
    /// See [`ViolationKind::Superseded`].
    #[serde(default)]
    pub superseded_count: usize,
    /// See [`ViolationKind::Lost`].
    #[serde(default)]
    pub lost_count: usize,
    /// Reads at rest (begun after every write of their key and every fault
    /// ended), which the causal bound judges.
    #[serde(default)]
    pub at_rest_count: usize,
    /// Examples, in history order.
    pub violations: Vec<SiblingViolation>,
}

/// Checks a siblings history; see the [module docs](self).
pub fn check(history: &History, options: SiblingsOptions) -> CheckResult {
    analyze(history, options).to_result()
}

struct W {
    invoke: usize,
    complete: usize,
    /// Where it ended in the history (a timed-out write's `info` too).
    ended: usize,
    /// The siblings its read saw (a context write), as JSON texts.
    seen: Vec<String>,
    process: Process,
    value: String,
    ok: bool,
    failed: bool,
    invoke_index: u64,
    complete_index: Option<u64>,
    complete_time: Option<u64>,
}

struct R {
    invoke: usize,
    complete: usize,
    index: u64,
    time: u64,
    siblings: Vec<String>,
}

/// The siblings of a read result, as JSON texts.
fn siblings_of(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(|x| x.to_string()).collect(),
        Value::Object(m) => match m.get("siblings") {
            Some(Value::Array(items)) => items.iter().map(|x| x.to_string()).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other.to_string()],
        },
        other => vec![other.to_string()],
    }
}

/// What a write's completion says its read saw: `[k, v, {"seen": [...]}]`.
fn seen_of(v: &Value) -> Vec<String> {
    match v.as_array().map(Vec::as_slice) {
        Some([_, _, extra]) => match extra.get("seen") {
            Some(Value::Array(items)) => items.iter().map(|x| x.to_string()).collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Analyzes a siblings history without turning it into a verdict.
pub fn analyze(history: &History, options: SiblingsOptions) -> SiblingsAnalysis {
    let ops = &history.ops;
    let last_fault = ops
        .iter()
        .rposition(|o| o.process == Process::Nemesis)
        .unwrap_or(0);
    let mut writes: HashMap<String, Vec<W>> = HashMap::new();
    let mut reads: HashMap<String, Vec<R>> = HashMap::new();
    for pair in history.pairs() {
        let inv = &ops[pair.invoke];
        if inv.process == Process::Nemesis {
            continue;
        }
        let Some((key, v)) = split(&inv.value) else {
            continue;
        };
        let outcome = history.outcome(&pair);
        let done = pair.complete.map(|c| (&ops[c], c));
        match inv.f.as_str() {
            "write" | "put" => writes.entry(key).or_default().push(W {
                invoke: pair.invoke,
                complete: if outcome == OpType::Ok || outcome == OpType::Fail {
                    pair.complete.unwrap_or(usize::MAX)
                } else {
                    usize::MAX
                },
                ended: pair.complete.unwrap_or(pair.invoke),
                seen: done.map(|(o, _)| seen_of(&o.value)).unwrap_or_default(),
                process: inv.process,
                value: v.to_string(),
                ok: outcome == OpType::Ok,
                failed: outcome == OpType::Fail,
                invoke_index: index_of(inv, pair.invoke),
                complete_index: done.map(|(o, c)| index_of(o, c)),
                complete_time: done.map(|(o, _)| o.time),
            }),
            "read" | "get" => {
                if let (OpType::Ok, Some((op, c))) = (outcome, done) {
                    let result = match op.value.as_array().map(Vec::as_slice) {
                        Some([k, s]) if key_text(k) == key => s,
                        _ => &op.value,
                    };
                    reads.entry(key).or_default().push(R {
                        invoke: pair.invoke,
                        complete: c,
                        index: index_of(op, c),
                        time: op.time,
                        siblings: siblings_of(result),
                    });
                }
            }
            _ => {}
        }
    }
    let mut a = SiblingsAnalysis {
        options,
        key_count: reads.len(),
        ..Default::default()
    };
    let mut all_s = Vec::new();
    let mut all_w = Vec::new();
    let mut keys: Vec<(String, Vec<R>)> = reads.into_iter().collect();
    keys.sort_by(|x, y| x.0.cmp(&y.0));
    let empty = Vec::new();
    for (key, mut rs) in keys {
        rs.sort_by_key(|r| r.complete);
        let ws = writes.get(&key).unwrap_or(&empty);
        let live: Vec<&W> = ws.iter().filter(|w| !w.failed).collect();
        // ok writes by completion, with the running max of their invocations.
        let mut oks: Vec<(usize, usize)> = live
            .iter()
            .filter(|w| w.ok)
            .map(|w| (w.complete, w.invoke))
            .collect();
        oks.sort_unstable();
        let mut run = 0;
        let latest_invoke: Vec<usize> = oks
            .iter()
            .map(|&(_, i)| {
                run = run.max(i);
                run
            })
            .collect();
        let mut by_complete: Vec<&W> = live.clone();
        by_complete.sort_by_key(|w| w.complete);
        let by_value: HashMap<&str, &W> = live.iter().map(|w| (w.value.as_str(), *w)).collect();
        // At rest: after every write of the key ended and the last fault.
        let rest_from = ws
            .iter()
            .map(|w| w.ended)
            .max()
            .unwrap_or(0)
            .max(last_fault);
        // Each value an ok write saw, and the first such write; the values
        // an ok or info write saw.
        let mut superseded_by: HashMap<&str, &W> = HashMap::new();
        let mut seen_any: std::collections::HashSet<&str> = Default::default();
        for w in &live {
            for s in &w.seen {
                seen_any.insert(s.as_str());
                if w.ok {
                    superseded_by.entry(s.as_str()).or_insert(*w);
                }
            }
        }
        let mut key_s = Vec::new();
        for r in &rs {
            let k = oks.partition_point(|&(c, _)| c < r.invoke);
            let t = if k == 0 { 0 } else { latest_invoke[k - 1] };
            let start = by_complete.partition_point(|w| w.complete < t);
            let mut events: Vec<(usize, i32)> = Vec::new();
            for w in &by_complete[start..] {
                if w.invoke < r.complete {
                    events.push((w.invoke, 1));
                    events.push((w.complete.min(r.complete), -1));
                }
            }
            events.sort_unstable();
            let (mut now, mut writers) = (0i32, 0i32);
            for (_, d) in events {
                now += d;
                writers = writers.max(now);
            }
            let writers = writers.max(0) as usize;
            let n = r.siblings.len();
            key_s.push(n as u64);
            all_w.push(writers as u64);
            let second = r.time / 1_000_000_000;
            if a.max_per_second.len() < EXAMPLE_CAP || a.max_per_second.contains_key(&second) {
                let m = a.max_per_second.entry(second).or_insert(0);
                *m = (*m).max(n);
            }
            let violation = |a: &mut SiblingsAnalysis, kind, writes: Vec<WriteRef>, value| {
                match kind {
                    ViolationKind::OverBound => a.over_bound_count += 1,
                    ViolationKind::NotConcurrent => a.not_concurrent_count += 1,
                    ViolationKind::Unexpected => a.unexpected_count += 1,
                    ViolationKind::Superseded => a.superseded_count += 1,
                    ViolationKind::Lost => a.lost_count += 1,
                }
                if a.violations.len() < EXAMPLE_CAP {
                    a.violations.push(SiblingViolation {
                        key: key.clone(),
                        read_index: r.index,
                        time: r.time,
                        siblings: n,
                        writers,
                        kind,
                        writes,
                        value,
                    });
                }
            };
            let mut sources: Vec<&W> = Vec::new();
            for s in &r.siblings {
                match by_value.get(s.as_str()) {
                    Some(w) => sources.push(w),
                    None => violation(
                        &mut a,
                        ViolationKind::Unexpected,
                        Vec::new(),
                        Some(short(s)),
                    ),
                }
            }
            if options.bound == SiblingBound::Causal {
                if r.invoke > rest_from {
                    a.at_rest_count += 1;
                    for w in &sources {
                        if let Some(by) = superseded_by.get(w.value.as_str()) {
                            violation(
                                &mut a,
                                ViolationKind::Superseded,
                                vec![wref(w), wref(by)],
                                None,
                            );
                        }
                    }
                    let held: std::collections::HashSet<&str> =
                        r.siblings.iter().map(String::as_str).collect();
                    for w in live.iter().filter(|w| w.ok) {
                        let v = w.value.as_str();
                        if !held.contains(v) && !seen_any.contains(v) {
                            violation(&mut a, ViolationKind::Lost, vec![wref(w)], None);
                        }
                    }
                }
                continue;
            }
            let bound = match options.bound {
                SiblingBound::Causal => usize::MAX,
                SiblingBound::Unbounded => usize::MAX,
                SiblingBound::AtMost(m) => m,
                SiblingBound::Writers => writers.max(1),
            };
            if n > bound {
                violation(
                    &mut a,
                    ViolationKind::OverBound,
                    sources.iter().map(|w| wref(w)).collect(),
                    None,
                );
            }
            if options.bound == SiblingBound::Writers && n > 1 {
                let ordered = sources.iter().find_map(|x| {
                    sources
                        .iter()
                        .find(|y| x.complete < y.invoke)
                        .map(|y| (*x, *y))
                });
                let superseded = || {
                    sources.iter().find(|w| w.complete < t).and_then(|w| {
                        live.iter()
                            .find(|s| s.ok && s.invoke == t)
                            .map(|s| (*w, *s))
                    })
                };
                if let Some((x, y)) = ordered.or_else(superseded) {
                    violation(
                        &mut a,
                        ViolationKind::NotConcurrent,
                        vec![wref(x), wref(y)],
                        None,
                    );
                }
            }
        }
        if a.per_key.len() < EXAMPLE_CAP {
            a.per_key.insert(key.clone(), Quantiles::of_counts(&key_s));
        }
        a.read_count += key_s.len();
        all_s.extend(key_s);
    }
    a.siblings = Quantiles::of_counts(&all_s);
    a.writers = Quantiles::of_counts(&all_w);
    a.violations.sort_by_key(|v| v.read_index);
    a
}

fn short(s: &str) -> String {
    serde_json::from_str::<Value>(s)
        .map(|v| short_json(&v))
        .unwrap_or_else(|_| s.to_string())
}

fn wref(w: &W) -> WriteRef {
    WriteRef {
        value: short(&w.value),
        process: w.process,
        invoke_index: w.invoke_index,
        complete_index: w.complete_index,
        complete_time: w.complete_time,
    }
}

impl SiblingsAnalysis {
    /// Every violation, of any kind.
    fn violation_count(&self) -> usize {
        self.over_bound_count
            + self.not_concurrent_count
            + self.unexpected_count
            + self.superseded_count
            + self.lost_count
    }

    /// Invalid with any violation; unknown without `ok` reads (under the
    /// causal bound, without reads at rest).
    pub fn validity(&self) -> Validity {
        if self.violation_count() > 0 {
            Validity::Invalid
        } else if self.read_count == 0
            || (self.options.bound == SiblingBound::Causal && self.at_rest_count == 0)
        {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }

    /// One line, the first violation spelled out.
    pub fn summary(&self) -> String {
        if self.read_count == 0 {
            return "no successful read: siblings cannot be judged".to_string();
        }
        let q = self.siblings;
        let dist = format!(
            "siblings per read p50 {} p99 {} max {} (concurrent writers max {})",
            q.p50, q.p99, q.max, self.writers.max
        );
        let causal = self.options.bound == SiblingBound::Causal;
        let Some(v) = self.violations.first() else {
            if causal && self.at_rest_count == 0 {
                return format!("no read at rest (begun after every write of its key and the last fault ended): the causal bound cannot judge; {dist}");
            }
            if causal {
                return format!(
                    "all {} at rest hold exactly the values no write superseded (of {} in all); {dist}",
                    count(self.at_rest_count, "read"),
                    self.read_count
                );
            }
            return format!(
                "all {} within the bound; {dist}",
                count(self.read_count, "read")
            );
        };
        let total = self.violation_count();
        let what = match v.kind {
            ViolationKind::OverBound => format!(
                "read {} of key {} returned {} but had {}",
                v.read_index,
                v.key,
                count(v.siblings, "sibling"),
                count(v.writers, "concurrent writer")
            ),
            ViolationKind::NotConcurrent => {
                let (x, y) = (&v.writes[0], &v.writes[1]);
                format!(
                    "read {} of key {} returned {} and {} as siblings, but the write of {} (process {}) completed at {} before the write of {} (process {}) began",
                    v.read_index,
                    v.key,
                    x.value,
                    y.value,
                    x.value,
                    x.process,
                    secs(x.complete_time.unwrap_or(0)),
                    y.value,
                    y.process
                )
            }
            ViolationKind::Unexpected => format!(
                "read {} of key {} returned {}, which no write wrote",
                v.read_index,
                v.key,
                v.value.as_deref().unwrap_or("?")
            ),
            ViolationKind::Superseded => {
                let (x, by) = (&v.writes[0], &v.writes[1]);
                format!(
                    "read {} of key {} at rest returned {} (written by process {}), which the write of {} (process {}) had read and superseded at {}: a superseded sibling kept",
                    v.read_index,
                    v.key,
                    x.value,
                    x.process,
                    by.value,
                    by.process,
                    secs(by.complete_time.unwrap_or(0))
                )
            }
            ViolationKind::Lost => {
                let w = &v.writes[0];
                format!(
                    "read {} of key {} at rest does not hold {}, acknowledged to process {} at {} and read by no later write: a lost write",
                    v.read_index,
                    v.key,
                    w.value,
                    w.process,
                    secs(w.complete_time.unwrap_or(0))
                )
            }
        };
        format!("{}: {what}; {dist}", count(total, "sibling violation"))
    }

    /// The analysis as a [`CheckResult`] named `siblings`.
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
