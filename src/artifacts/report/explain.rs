//! Anomaly explanations: each finding of a checker as a sentence a database
//! engineer understands, with the ops it involves and the faults in force.
//!
//! Checkers speak in counts and indices (`details` in `results.json`); this
//! module reads those details back into the checkers' own analysis types and
//! turns each listed example into an [`Anomaly`]: "element 4127 was
//! acknowledged to process 12 at 14.2 s and is missing from all 5 final
//! reads; the add ran during partition n1,n2|n3,n4,n5 (12.7–17.7 s)". The
//! ops let the report draw a small lane diagram of just those ops.
//! A checker this module does not know yields no anomalies; the generic
//! details tables still show its findings.

use super::faults::{during, FaultWindow};
use checkers::{CheckResult, History, Validity};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;

/// At most this many anomalies are explained per checker (the details
/// tables and `results.json` hold the rest).
pub const MAX_PER_CHECKER: usize = 20;

/// One finding, explained.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// What kind: `lost element`, `stale read`, `out-of-bounds read`, ...
    pub kind: String,
    /// The sentence.
    pub text: String,
    /// Positions in `History::ops` of the invocations of the ops involved.
    pub ops: Vec<usize>,
    /// The subset of `ops` the anomaly is about (drawn highlighted).
    pub primary: Vec<usize>,
}

/// Finds ops by the `index` checkers report (an invocation's or a
/// completion's), falling back to the position when a history has no
/// indices.
pub struct OpIndex<'h> {
    history: &'h History,
    invoke_of: HashMap<u64, usize>,
    complete_of: HashMap<usize, usize>,
}

impl<'h> OpIndex<'h> {
    /// Indexes every op of `history`.
    pub fn new(history: &'h History) -> Self {
        Self::from_pairs(history, &history.pairs())
    }

    /// Indexes every op of `history`, already paired.
    pub fn from_pairs(history: &'h History, pairs: &[checkers::history::Pair]) -> Self {
        let mut invoke_of = HashMap::new();
        let mut complete_of = HashMap::new();
        for p in pairs {
            let idx = |pos: usize| history.ops[pos].index.unwrap_or(pos as u64);
            invoke_of.insert(idx(p.invoke), p.invoke);
            if let Some(c) = p.complete {
                invoke_of.insert(idx(c), p.invoke);
                complete_of.insert(p.invoke, c);
            }
        }
        OpIndex {
            history,
            invoke_of,
            complete_of,
        }
    }

    /// The invocation position of the op whose invocation or completion has
    /// this `index`.
    pub fn invocation(&self, index: u64) -> Option<usize> {
        self.invoke_of.get(&index).copied()
    }

    /// The completion position of the op invoked at `pos`.
    pub fn completion(&self, pos: usize) -> Option<usize> {
        self.complete_of.get(&pos).copied()
    }

    /// `[invoke, complete]` in seconds (completion = invocation if pending).
    pub fn span(&self, pos: usize) -> (f64, f64) {
        let t0 = self.history.ops[pos].time;
        let t1 = self
            .completion(pos)
            .map_or(t0, |c| self.history.ops[c].time);
        (secs(t0), secs(t1))
    }

    /// The pairs for these invocation positions (for lane diagrams).
    pub fn pairs(&self, positions: &[usize]) -> Vec<checkers::history::Pair> {
        let mut pos = positions.to_vec();
        pos.sort_unstable();
        pos.dedup();
        pos.into_iter()
            .map(|p| checkers::history::Pair {
                invoke: p,
                complete: self.completion(p),
            })
            .collect()
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn at(ns: u64) -> String {
    format!("{:.2} s", secs(ns))
}

fn process(p: &checkers::Process) -> String {
    match p {
        checkers::Process::Client(n) => format!("process {n}"),
        checkers::Process::Nemesis => "the nemesis".into(),
    }
}

fn key_part(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!(" of key {key}")
    }
}

fn parse<T: DeserializeOwned>(c: &CheckResult) -> Option<T> {
    serde_json::from_value(c.details.clone()).ok()
}

/// Explains a checker's findings (nothing for a valid result).
pub fn anomalies(c: &CheckResult, idx: &OpIndex, windows: &[FaultWindow]) -> Vec<Anomaly> {
    if c.valid == Validity::Valid {
        return vec![];
    }
    let mut out = match c.checker.as_str() {
        "set" => parse(c).map(|a| set(&a, idx, windows)),
        "set-full" => parse(c).map(|a| set_full(&a, idx, windows)),
        "counter" => parse(c).map(|a| counter(&a, idx, windows)),
        "siblings" => parse(c).map(|a| siblings(&a, idx, windows)),
        "convergence" => parse(c).map(|a| convergence(&a, idx)),
        "sessions" => parse(c).map(|a| sessions(&a, idx, windows)),
        "crdt" => parse(c).map(|a| crdt(&a, idx, windows)),
        "staleness" => parse(c).map(|a| staleness(&a, idx, windows)),
        "linearizable" => Some(linearizable(&c.details, idx, windows)),
        _ => None,
    }
    .unwrap_or_default();
    out.truncate(MAX_PER_CHECKER);
    out
}

/// The fault context of an op: "; the add ran during partition …".
fn context(idx: &OpIndex, pos: Option<usize>, what: &str, windows: &[FaultWindow]) -> String {
    match pos {
        Some(p) => {
            let (a, b) = idx.span(p);
            format!("; the {what} ran {}", during(windows, a, b))
        }
        None => String::new(),
    }
}

fn set(a: &checkers::set::SetAnalysis, idx: &OpIndex, w: &[FaultWindow]) -> Vec<Anomaly> {
    // A keyed history: each key with a finding is a set of its own.
    let mut out: Vec<Anomaly> = Vec::new();
    for k in &a.keys {
        for mut an in set(&k.analysis, idx, w) {
            an.text = format!("key {}: {}", k.key, an.text);
            out.push(an);
        }
    }
    out.extend(one_set(a, idx, w));
    out
}

fn one_set(a: &checkers::set::SetAnalysis, idx: &OpIndex, w: &[FaultWindow]) -> Vec<Anomaly> {
    let finals: Vec<usize> = a
        .final_reads
        .iter()
        .filter_map(|r| idx.invocation(r.index))
        .collect();
    let mut out = Vec::new();
    for l in &a.lost {
        let add = idx.invocation(l.ack_index);
        let nodes = if l.nodes.is_empty() {
            String::new()
        } else {
            format!(" (read on {})", l.nodes.join(", "))
        };
        let how_many = if l.missing_from == l.final_reads {
            format!("all {}", l.final_reads)
        } else {
            format!("{} of {}", l.missing_from, l.final_reads)
        };
        out.push(Anomaly {
            kind: "lost element".into(),
            text: format!(
                "element {} was acknowledged to {} at {} (op #{}) and is missing from {how_many} final reads{nodes}{}.",
                l.element,
                process(&l.process),
                at(l.ack_time),
                l.ack_index,
                context(idx, add, "add", w),
            ),
            ops: add.into_iter().chain(finals.iter().copied()).collect(),
            primary: add.into_iter().collect(),
        });
    }
    for e in &a.unexpected {
        out.push(Anomaly {
            kind: "unexpected element".into(),
            text: format!("element {e} was read but no process ever tried to add it."),
            ops: finals.clone(),
            primary: vec![],
        });
    }
    out
}

fn read_ref(r: &checkers::set_full::ReadRef) -> String {
    format!("the read at {} (op #{})", at(r.time), r.index)
}

fn set_full(
    a: &checkers::set_full::SetFullAnalysis,
    idx: &OpIndex,
    w: &[FaultWindow],
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let reads = |e: &checkers::set_full::ElementReport| -> Vec<usize> {
        [
            &e.first_present,
            &e.last_present,
            &e.first_absent,
            &e.last_absent,
        ]
        .into_iter()
        .flatten()
        .filter_map(|r| idx.invocation(r.index))
        .collect()
    };
    let ack = |e: &checkers::set_full::ElementReport| e.ack_index.and_then(|i| idx.invocation(i));
    let acked = |e: &checkers::set_full::ElementReport| match (&e.ack_process, e.ack_time) {
        (Some(p), Some(t)) => format!(
            "was acknowledged to {} at {} (op #{})",
            process(p),
            at(t),
            e.ack_index.unwrap_or(0)
        ),
        _ => "was added".into(),
    };
    for e in &a.lost {
        let seen = match (&e.last_present, &e.last_absent) {
            (Some(p), Some(l)) => format!(
                ", was last seen in {}, then missing from {} later read{}, the last {}",
                read_ref(p),
                e.absent_after_last_present,
                if e.absent_after_last_present == 1 {
                    ""
                } else {
                    "s"
                },
                read_ref(l)
            ),
            (None, Some(l)) => format!(", and no read ever returned it, up to {}", read_ref(l)),
            _ => String::new(),
        };
        out.push(Anomaly {
            kind: "lost element".into(),
            text: format!(
                "element {}{} {}{seen}{}.",
                e.element,
                key_part(&e.key),
                acked(e),
                context(idx, ack(e), "add", w)
            ),
            ops: ack(e).into_iter().chain(reads(e)).collect(),
            primary: ack(e).into_iter().collect(),
        });
    }
    for e in &a.stale {
        let miss = e.first_absent.as_ref();
        let lag = match (miss, e.ack_time) {
            (Some(m), Some(t)) => format!(
                " {:.0} ms after the acknowledgment",
                (m.invoke_time as f64 - t as f64) / 1e6
            ),
            _ => String::new(),
        };
        out.push(Anomaly {
            kind: "stale read".into(),
            text: format!(
                "element {}{} {}, yet {} missed it{lag}, though {} returned it{}.",
                e.element,
                key_part(&e.key),
                acked(e),
                miss.map_or("a read".into(), read_ref),
                e.first_present
                    .as_ref()
                    .map_or("an earlier read".into(), read_ref),
                miss.and_then(|m| idx.invocation(m.index))
                    .map(|p| context(idx, Some(p), "stale read", w))
                    .unwrap_or_default(),
            ),
            ops: ack(e).into_iter().chain(reads(e)).collect(),
            primary: miss
                .and_then(|m| idx.invocation(m.index))
                .into_iter()
                .collect(),
        });
    }
    for e in a.unexpected.iter().chain(&a.failed_but_present) {
        let failed = e.ack_index.is_none() && a.failed_but_present.contains(e);
        out.push(Anomaly {
            kind: if failed {
                "failed add present"
            } else {
                "unexpected element"
            }
            .into(),
            text: format!(
                "element {}{} was returned by {}, but {}.",
                e.element,
                key_part(&e.key),
                e.first_present.as_ref().map_or("a read".into(), read_ref),
                if failed {
                    "every add of it failed"
                } else {
                    "no process ever tried to add it"
                }
            ),
            ops: reads(e),
            primary: e
                .first_present
                .as_ref()
                .and_then(|r| idx.invocation(r.index))
                .into_iter()
                .collect(),
        });
    }
    out
}

fn counter(
    a: &checkers::counter::CounterAnalysis,
    idx: &OpIndex,
    w: &[FaultWindow],
) -> Vec<Anomaly> {
    let unreachable = a.unreachable.iter().map(|r| {
        let pos = idx.invocation(r.index);
        let nearest = match r.nearest {
            Some((Some(b), Some(c))) => format!(": the nearest possible values are {b} and {c}"),
            Some((Some(b), None)) | Some((None, Some(b))) => {
                format!(": the nearest possible value is {b}")
            }
            _ => String::new(),
        };
        Anomaly {
            kind: "unreachable read".into(),
            text: format!(
                "the read by {} at {} (op #{}) returned {}, within the bounds {} to {} ({} certainly applied), but no combination of the {} increments whose outcome is unknown adds up to it{nearest}{}.",
                process(&r.process),
                at(r.time),
                r.index,
                r.value,
                r.lower,
                r.upper,
                r.certain,
                r.possible_count.unwrap_or(0),
                context(idx, pos, "read", w)
            ),
            ops: pos.into_iter().collect(),
            primary: pos.into_iter().collect(),
        }
    });
    a.out_of_bounds
        .iter()
        .map(|r| {
            let pos = idx.invocation(r.index);
            let allowed = if r.lower == r.upper {
                format!("only {}", r.lower)
            } else {
                format!("{} to {}", r.lower, r.upper)
            };
            let verb = if (r.value as i128) < r.lower {
                "fewer"
            } else {
                "more"
            };
            Anomaly {
                kind: "out-of-bounds read".into(),
                text: format!(
                    "the read by {} at {} (op #{}) returned {}, but the acknowledged and indeterminate increments up to then allow {allowed} ({} certainly applied): it saw {verb} increments than could have happened{}.",
                    process(&r.process),
                    at(r.time),
                    r.index,
                    r.value,
                    r.certain,
                    context(idx, pos, "read", w)
                ),
                ops: pos.into_iter().collect(),
                primary: pos.into_iter().collect(),
            }
        })
        .chain(unreachable)
        .collect()
}

fn siblings(
    a: &checkers::siblings::SiblingsAnalysis,
    idx: &OpIndex,
    w: &[FaultWindow],
) -> Vec<Anomaly> {
    use checkers::siblings::ViolationKind;
    a.violations
        .iter()
        .map(|v| {
            let read = idx.invocation(v.read_index);
            let writes: Vec<usize> = v
                .writes
                .iter()
                .filter_map(|wr| idx.invocation(wr.invoke_index))
                .collect();
            let text = match v.kind {
                ViolationKind::OverBound => format!(
                    "the read of key {} at {} (op #{}) returned {} siblings, but only {} writes to it were concurrent: the store kept versions it should have discarded{}.",
                    v.key,
                    at(v.time),
                    v.read_index,
                    v.siblings,
                    v.writers,
                    context(idx, read, "read", w)
                ),
                ViolationKind::NotConcurrent => {
                    let names: Vec<String> = v
                        .writes
                        .iter()
                        .map(|wr| format!("{} (by {}, op #{})", wr.value, process(&wr.process), wr.invoke_index))
                        .collect();
                    format!(
                        "the read of key {} at {} (op #{}) returned as siblings the writes {}, but one finished before the other began: they were not concurrent, so one should have replaced the other.",
                        v.key,
                        at(v.time),
                        v.read_index,
                        names.join(" and ")
                    )
                }
                ViolationKind::Unexpected => format!(
                    "the read of key {} at {} (op #{}) returned a sibling {} that no write of the key wrote.",
                    v.key,
                    at(v.time),
                    v.read_index,
                    v.value.as_deref().unwrap_or("?")
                ),
                ViolationKind::Superseded => format!(
                    "the read of key {} at {} (op #{}), after every write and fault had ended, returned {}, which the write of {} (by {}, op #{}) had read and so replaced: the store kept a sibling that was superseded.",
                    v.key,
                    at(v.time),
                    v.read_index,
                    v.writes[0].value,
                    v.writes[1].value,
                    process(&v.writes[1].process),
                    v.writes[1].invoke_index
                ),
                ViolationKind::Lost => format!(
                    "the read of key {} at {} (op #{}), after every write and fault had ended, does not hold {}, acknowledged to {} (op #{}), which no later write had read: the write was lost.",
                    v.key,
                    at(v.time),
                    v.read_index,
                    v.writes[0].value,
                    process(&v.writes[0].process),
                    v.writes[0].invoke_index
                ),
            };
            Anomaly {
                kind: match v.kind {
                    ViolationKind::OverBound => "sibling explosion",
                    ViolationKind::NotConcurrent => "non-concurrent siblings",
                    ViolationKind::Unexpected => "unexpected sibling",
                    ViolationKind::Superseded => "superseded sibling kept",
                    ViolationKind::Lost => "lost write",
                }
                .into(),
                text,
                ops: read.into_iter().chain(writes).collect(),
                primary: read.into_iter().collect(),
            }
        })
        .collect()
}

fn convergence(a: &checkers::convergence::ConvergenceAnalysis, idx: &OpIndex) -> Vec<Anomaly> {
    let _ = idx;
    a.divergent
        .iter()
        .map(|k| {
            let values: Vec<String> = k.values.iter().map(|(n, v)| format!("{n} holds {v}")).collect();
            Anomaly {
                kind: "divergent key".into(),
                text: format!(
                    "key {} never converged: after the last heal at {} and the whole convergence timeout, its replicas still disagree: {}.",
                    k.key,
                    at(a.heal_time),
                    values.join(", ")
                ),
                ops: vec![],
                primary: vec![],
            }
        })
        .chain(a.unread.iter().map(|k| Anomaly {
            kind: "unread key".into(),
            text: format!(
                "key {} was never read on {} after the heal, so its convergence there is unknown.",
                k.key,
                k.unread_on.join(", ")
            ),
            ops: vec![],
            primary: vec![],
        }))
        .collect()
}

fn version(v: &checkers::versioned::Version) -> String {
    v.map_or("the initial value".into(), |n| format!("version {n}"))
}

fn sessions(
    a: &checkers::sessions::SessionsAnalysis,
    idx: &OpIndex,
    w: &[FaultWindow],
) -> Vec<Anomaly> {
    a.violations
        .iter()
        .map(|v| {
            let earlier = idx.invocation(v.earlier.index);
            let later = idx.invocation(v.later.index);
            Anomaly {
                kind: v.guarantee.name().into(),
                text: format!(
                    "{} broke {} on key {}: its {} of {} at {} (op #{}) was followed by a {} of {} at {} (op #{}){}.",
                    process(&v.process),
                    v.guarantee.name(),
                    v.key,
                    v.earlier.f,
                    version(&v.earlier.version),
                    at(v.earlier.time),
                    v.earlier.index,
                    v.later.f,
                    version(&v.later.version),
                    at(v.later.time),
                    v.later.index,
                    context(idx, later, v.later.f.as_str(), w)
                ),
                ops: earlier.into_iter().chain(later).collect(),
                primary: later.into_iter().collect(),
            }
        })
        .collect()
}

fn staleness(
    a: &checkers::staleness::StalenessAnalysis,
    idx: &OpIndex,
    w: &[FaultWindow],
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    if let (Some(r), Some(max)) = (&a.worst_read, a.options.max_versions_behind) {
        if r.versions_behind > max {
            let read = idx.invocation(r.index);
            out.push(Anomaly {
                kind: "stale read".into(),
                text: format!(
                    "the read of key {} completed as op #{} returned {}, {} acknowledged version{} behind {} (the bound is {max}){}.",
                    r.key,
                    r.index,
                    version(&r.version),
                    r.versions_behind,
                    if r.versions_behind == 1 { "" } else { "s" },
                    version(&r.latest),
                    context(idx, read, "read", w)
                ),
                ops: read.into_iter().collect(),
                primary: read.into_iter().collect(),
            });
        }
    }
    if let (Some(wr), Some(max)) = (&a.worst_write, a.options.max_visibility_ms) {
        if wr.visibility_ms > max {
            let write = idx.invocation(wr.index);
            out.push(Anomaly {
                kind: "slow visibility".into(),
                text: format!(
                    "the write of {} to key {}, acknowledged at {} (op #{}), was still missed by reads {:.0} ms later (the bound is {max:.0} ms){}.",
                    version(&wr.version),
                    wr.key,
                    at(wr.ack_time),
                    wr.index,
                    wr.visibility_ms,
                    context(idx, write, "write", w)
                ),
                ops: write.into_iter().collect(),
                primary: write.into_iter().collect(),
            });
        }
    }
    out
}

fn crdt(a: &checkers::crdt::CrdtAnalysis, idx: &OpIndex, w: &[FaultWindow]) -> Vec<Anomaly> {
    [
        ("OR-set", &a.or_set),
        ("PN-counter", &a.pn_counter),
        ("sequence", &a.sequence),
    ]
    .into_iter()
    .flat_map(|(name, part)| {
        part.findings.iter().map(move |f| {
            let read = idx.invocation(f.read_index);
            let node = f
                .node
                .as_deref()
                .map(|n| format!(" on {n}"))
                .unwrap_or_default();
            let element = f
                .element
                .as_deref()
                .map(|e| format!(" element {e}:"))
                .unwrap_or_default();
            Anomaly {
                kind: format!("{name} {}", f.kind),
                text: format!(
                    "{name} {} in the read at op #{}{node}:{element} {}{}.",
                    f.kind,
                    f.read_index,
                    f.note.trim_end_matches('.'),
                    context(idx, read, "read", w)
                ),
                ops: read.into_iter().collect(),
                primary: read.into_iter().collect(),
            }
        })
    })
    .collect()
}

/// The counterexample's ops, by invocation position.
pub fn counterexample_ops(details: &Value, idx: &OpIndex) -> Vec<usize> {
    details["violation"]["counterexample"]["ops"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .filter_map(|o| o["invoke_index"].as_u64())
                .filter_map(|i| idx.invocation(i))
                .collect()
        })
        .unwrap_or_default()
}

fn linearizable(details: &Value, idx: &OpIndex, w: &[FaultWindow]) -> Vec<Anomaly> {
    let v = &details["violation"];
    if v.is_null() {
        return vec![];
    }
    let blocked = v["blocked_op"]["invoke_index"]
        .as_u64()
        .and_then(|i| idx.invocation(i));
    let ops = counterexample_ops(details, idx);
    let key = v["key"]
        .as_str()
        .map(|k| format!(" on key {k}"))
        .or_else(|| v["key"].as_u64().map(|k| format!(" on key {k}")))
        .unwrap_or_default();
    let n = ops.len();
    let frontier = v["counterexample"]["kind"] == "frontier";
    let set = if frontier {
        format!(
            " Shrinking ran out of its budget before isolating a smaller set: the {n} ops drawn below are the longest order the search found and the op it could not place after it."
        )
    } else if n > 0 {
        format!(
            " The {n} ops drawn below cannot be ordered on their own{}: every order that respects real time (an op that finished before another began comes first) makes some read return a value it could not have seen.",
            if v["counterexample"]["minimal"].as_bool() == Some(true) {
                ", and dropping any one of them makes them orderable"
            } else {
                ""
            }
        )
    } else {
        String::new()
    };
    let op_text = |o: &Value| -> String {
        let f = o["f"].as_str().unwrap_or("op");
        let value = &o["value"];
        let result = &o["result"];
        let mut s = f.to_string();
        if !value.is_null() {
            s.push_str(&format!(" {value}"));
        }
        if !result.is_null() && o["type"] == "ok" {
            s.push_str(&format!(" → {result}"));
        }
        format!(
            "{s} by process {} ({})",
            o["process"],
            o["type"].as_str().unwrap_or("?")
        )
    };
    let stale = v["counterexample"]["kind"] == "stale";
    let text = if stale {
        format!(
            "no order of the operations{key} is consistent with a single copy of the register: {} saw a value that no op could have left there{}. The {n} ops drawn below show it by real time alone (found without searching): the only op that wrote that value (if any), an op that replaced it after that write ended, and the op that still saw it after the replacement ended.",
            if v["blocked_op"].is_null() {
                "an op".to_string()
            } else {
                op_text(&v["blocked_op"])
            },
            blocked
                .map(|b| context(idx, Some(b), "op", w))
                .unwrap_or_default(),
        )
    } else {
        format!(
        "no order of the operations{key} is consistent with a single copy of the register: the search placed {} of {} ops and then could not place {}{}.{set}",
        v["longest_prefix_len"],
        v["ops_in_key"],
        if v["blocked_op"].is_null() {
            "the next op".to_string()
        } else {
            op_text(&v["blocked_op"])
        },
        blocked
            .map(|b| context(idx, Some(b), "op", w))
            .unwrap_or_default(),
    )
    };
    vec![Anomaly {
        kind: "not linearizable".into(),
        text,
        ops: if ops.is_empty() {
            blocked.into_iter().collect()
        } else {
            ops
        },
        primary: blocked.into_iter().collect(),
    }]
}
