//! The set-full checker: the life of every element, not only its end.
//!
//! Where [`crate::set`] asks one question (is every acknowledged element in
//! the final reads?), set-full follows each element through *every* read, as
//! Jepsen's `set-full` does: when its add was acknowledged, when a read first
//! returned it, whether every read that began afterwards returned it too, and
//! how long it took to become stably visible.
//!
//! # Op shapes
//!
//! - `add` with value `e` (an integer element), or `[k, e]` for a keyed set.
//! - `read` with value `null` (or `[k, null]`) on invocation and the list of
//!   elements (or `[k, [e, ...]]`) on `ok` completion.
//!
//! Keys are independent sets; unkeyed ops form the set with key `""`.
//!
//! # Definitions
//!
//! Positions are positions in the history (real-time order). An element is
//! *known* from the earlier of its add's `ok` completion and the completion
//! of the first read that returned it. A read is *relevant* to an element if
//! it was invoked after the element was known: a linearizable set must
//! return the element in every relevant read.
//!
//! | outcome              | meaning                                                                                          | verdict |
//! |----------------------|--------------------------------------------------------------------------------------------------|---------|
//! | `ok`                 | known, and every relevant read returned it                                                       | fine |
//! | `lost`               | known, missed by a relevant read that began after the last read that returned it had completed (so no later read ever returned it) | invalid |
//! | `stale`              | known, missed by some relevant read, yet returned by a read that did not finish before that miss began | invalid only with `linearizable` |
//! | `never_read`         | acknowledged, never returned, and no read began after the acknowledgment                         | fine (cannot tell) |
//! | `recovered`          | its adds were all `info` or pending, and a read returned it (counted besides the above)          | fine |
//! | `unexpected`         | returned by a read, but no add of it was ever invoked                                            | invalid |
//! | `failed_but_present` | every add of it failed, yet a read returned it                                                   | invalid |
//!
//! The **visibility latency** of an acknowledged, returned, not lost element
//! is the time from its acknowledgment to the completion of the first read of
//! the run of reads that returned it for good (no relevant read missed it
//! after that read completed); 0 when a read returned it before the ack.
//! It is an upper bound: the element may have been visible earlier.
//!
//! The verdict is unknown when the history has no `ok` read, or when a value
//! has the wrong shape (the summary names the op).
//!
//! # Cost
//!
//! One pass, online ([`SetFull::observe`]): per element a fixed-size record
//! (about 80 bytes), per `ok` read 40 bytes and a pass over the elements of
//! its key. The ops themselves are not kept, so [`crate::stream`] can check
//! a history file in much less memory than the file's size.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{count, index_of, int_list, list, malformed, secs, MalformedOp, Pairer};
use crate::history::{History, Op, OpType, Process};
use crate::intern::Names;
use crate::online::OpView;
use crate::raw::{OpLike, Val};
use crate::stats::Quantiles;
use crate::verdict::{CheckResult, Validity};
use element::{absent, present, read_at, report, Ack, Elem, NONE};
use hashbrown::HashTable;

mod element;

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "set-full";

/// At most this many examples are kept per outcome; counts are exact.
pub const EXAMPLE_CAP: usize = 100;

/// How the checker judges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetFullOptions {
    /// Stale reads make the history invalid (the store claims
    /// linearizability); by default they are only reported.
    pub linearizable: bool,
}

/// A read as an element saw it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadRef {
    /// The `index` of the read's completion.
    pub index: u64,
    /// When it was invoked (ns).
    pub invoke_time: u64,
    /// When it completed (ns).
    pub time: u64,
    #[serde(skip)]
    invoke: u64,
    #[serde(skip)]
    complete: u64,
}

/// An element with what happened to it, for the examples in the details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElementReport {
    /// The set's key (`""` when unkeyed).
    pub key: String,
    /// The element.
    pub element: i64,
    /// The process whose add was acknowledged, if any.
    pub ack_process: Option<Process>,
    /// The `index` of that acknowledgment.
    pub ack_index: Option<u64>,
    /// Its time (ns).
    pub ack_time: Option<u64>,
    /// The first read that returned it.
    pub first_present: Option<ReadRef>,
    /// The last read (by invocation) that returned it.
    pub last_present: Option<ReadRef>,
    /// The first relevant read that missed it.
    pub first_absent: Option<ReadRef>,
    /// The last relevant read that missed it.
    pub last_absent: Option<ReadRef>,
    /// Relevant reads that missed it and began after the last read that
    /// returned it completed.
    pub absent_after_last_present: u32,
}

/// Everything the set-full checker found, the source of
/// [`CheckResult::details`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SetFullAnalysis {
    /// The options used.
    pub options: SetFullOptions,
    /// Distinct keys.
    pub key_count: usize,
    /// Distinct (key, element) pairs some add attempted.
    pub attempt_count: usize,
    /// Elements with an `ok` add.
    pub acknowledged_count: usize,
    /// Elements whose adds were all `info` or pending.
    pub indeterminate_count: usize,
    /// Elements whose adds all failed.
    pub failed_count: usize,
    /// `ok` reads.
    pub ok_read_count: usize,
    /// Known elements every relevant read returned.
    pub ok_count: usize,
    /// Lost elements (see the module docs).
    pub lost_count: usize,
    /// Stale elements.
    pub stale_count: usize,
    /// Acknowledged elements no read could judge.
    pub never_read_count: usize,
    /// Indeterminate elements a read returned.
    pub recovered_count: usize,
    /// Indeterminate elements no read returned (allowed).
    pub indeterminate_absent_count: usize,
    /// Elements read but never added.
    pub unexpected_count: usize,
    /// Elements whose adds all failed, yet read.
    pub failed_but_present_count: usize,
    /// Time from acknowledgment to stable visibility, in ms.
    pub visibility_latency_ms: Quantiles,
    /// Examples of lost elements, sorted by key and element.
    pub lost: Vec<ElementReport>,
    /// Examples of stale elements.
    pub stale: Vec<ElementReport>,
    /// Examples of unexpected elements.
    pub unexpected: Vec<ElementReport>,
    /// Examples of failed-but-present elements.
    pub failed_but_present: Vec<ElementReport>,
    /// Examples of recovered elements.
    pub recovered: Vec<ElementReport>,
    /// Examples of never-read elements.
    pub never_read: Vec<ElementReport>,
}

/// Checks a set-full history; see the [module docs](self).
///
/// Never panics: a malformed history gives an unknown verdict.
pub fn check(history: &History, options: SetFullOptions) -> CheckResult {
    let mut c = SetFull::new(options);
    for op in &history.ops {
        c.observe(op);
    }
    c.finish()
}

/// The hash of a (key id, element) pair in [`SetFull::elem_ids`]: an Fx
/// hash of the key and the element's block of 8, plus the element's place
/// in its block, so that the consecutive elements of a key (which adds and
/// reads touch together) share cache lines of the table instead of missing
/// the cache once each. The top bits (which the table compares first) still
/// differ within a block.
#[inline]
fn elem_hash(key: u32, element: i64) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let e = element as u64;
    let block = ((u64::from(key).wrapping_mul(K).rotate_left(5)) ^ (e >> 3)).wrapping_mul(K);
    let low = e & 7;
    block.wrapping_add(low) ^ (low << 57)
}

/// One key's set: the ids of its elements (its name is in
/// [`SetFull::key_names`]).
#[derive(Default)]
struct KeyState {
    elems: Vec<u32>,
    /// The elements of the key's last read, with their ids, in the order
    /// read: the next read of a growing set mostly returns them again in
    /// the same order, so their ids are found here without hashing.
    last_read: Vec<(i64, u32)>,
}

enum Pending {
    Add { elem: u32 },
    Read { key: Option<u32> },
    Other,
}

/// The online set-full checker: feed it every op in order with
/// [`observe`](Self::observe), then call [`finish`](Self::finish).
///
/// Memory: about 80 bytes per element, 40 per `ok` read, and the keys.
pub struct SetFull {
    options: SetFullOptions,
    key_names: Names,
    keys: Vec<KeyState>,
    /// Element ids by (key, element): 4 bytes a slot, the pair itself is
    /// in the element.
    elem_ids: HashTable<u32>,
    elems: Vec<Elem>,
    /// Per element, the id of the last read that returned it.
    stamp: Vec<u32>,
    reads: Vec<ReadRef>,
    pairer: Pairer<Pending>,
    position: u64,
    malformed: Option<MalformedOp>,
    /// The elements of the read being taken in (reused).
    scratch: Vec<i64>,
    /// Their ids (reused).
    read_ids: Vec<(i64, u32)>,
}

impl SetFull {
    /// A checker that has seen nothing yet.
    pub fn new(options: SetFullOptions) -> Self {
        SetFull {
            options,
            key_names: Names::default(),
            keys: Vec::new(),
            elem_ids: HashTable::new(),
            elems: Vec::new(),
            stamp: Vec::new(),
            reads: Vec::new(),
            pairer: Pairer::default(),
            position: 0,
            malformed: None,
            scratch: Vec::new(),
            read_ids: Vec::new(),
        }
    }

    fn key_id(&mut self, k: Val<'_>) -> u32 {
        let id = self.key_names.id(&k.key_text());
        if id as usize == self.keys.len() {
            self.keys.push(KeyState::default());
        }
        id
    }

    fn elem_id(&mut self, key: u32, element: i64) -> u32 {
        let h = elem_hash(key, element);
        let elems = &self.elems;
        let is = |&id: &u32| {
            let e = &elems[id as usize];
            e.element == element && e.key == key
        };
        if let Some(&id) = self.elem_ids.find(h, is) {
            return id;
        }
        let id = self.elems.len() as u32;
        self.elems.push(Elem::new(key, element));
        self.stamp.push(NONE);
        self.keys[key as usize].elems.push(id);
        let elems = &self.elems;
        self.elem_ids.insert_unique(h, id, |&id| {
            let e = &elems[id as usize];
            elem_hash(e.key, e.element)
        });
        id
    }

    /// Takes the next op of the history into account.
    pub fn observe(&mut self, op: &Op) {
        self.observe_any(op);
    }

    /// Takes the next op, read in place from its line, into account.
    pub fn observe_view(&mut self, op: &OpView<'_>) {
        self.observe_any(op);
    }

    fn observe_any<O: OpLike>(&mut self, op: &O) {
        let pos = self.position;
        self.position += 1;
        if self.malformed.is_some() || op.process() == Process::Nemesis {
            return;
        }
        let kind = op.kind();
        if kind == OpType::Invoke {
            let pending = match op.f() {
                "add" => match self.add_target(op, pos, op.value()) {
                    Ok(p) => p,
                    Err(e) => {
                        self.malformed = Some(e);
                        return;
                    }
                },
                "read" => match op.value().pair() {
                    Some((k, _)) => Pending::Read {
                        key: Some(self.key_id(k)),
                    },
                    None => Pending::Read { key: None },
                },
                _ => Pending::Other,
            };
            if let Some(prev) = self
                .pairer
                .invoke(op.process(), pos as usize, op.time(), pending)
            {
                self.abandon(prev.data);
            }
            return;
        }
        let Some(open) = self.pairer.complete(op.process()) else {
            return;
        };
        match open.data {
            Pending::Add { elem } => {
                let e = &mut self.elems[elem as usize];
                match kind {
                    OpType::Ok => {
                        if e.ack.is_none() {
                            e.ack = Some(Ack {
                                pos,
                                time: op.time(),
                                index: index_of(op, pos as usize),
                                process: match op.process() {
                                    Process::Client(n) => n,
                                    Process::Nemesis => u64::MAX,
                                },
                            });
                        }
                    }
                    OpType::Fail => {}
                    _ => e.indeterminate = true,
                }
            }
            Pending::Read { key } if kind == OpType::Ok => {
                let whole = op.value();
                let (key, value) = match (key, whole.pair()) {
                    // The invocation's key, when the completion names it too
                    // (no second lookup).
                    (Some(id), Some((k, v)))
                        if v.is_array() && self.key_names.is(id, &k.key_text()) =>
                    {
                        (id, v)
                    }
                    (_, Some((k, v))) if v.is_array() => (self.key_id(k), v),
                    (Some(k), _) => (k, whole),
                    (None, _) => (self.unkeyed(), whole),
                };
                let mut elements = std::mem::take(&mut self.scratch);
                if let Err(e) = int_list(op, pos as usize, value, &mut elements) {
                    self.malformed = Some(e);
                    return;
                }
                if self.reads.len() < NONE as usize {
                    self.reads.push(ReadRef {
                        index: index_of(op, pos as usize),
                        invoke_time: open.time,
                        time: op.time(),
                        invoke: open.invoke as u64,
                        complete: pos,
                    });
                    self.read(key, &elements);
                }
                self.scratch = elements;
            }
            _ => {}
        }
    }

    /// The id of the unkeyed set `""`.
    fn unkeyed(&mut self) -> u32 {
        let id = self.key_names.id("");
        if id as usize == self.keys.len() {
            self.keys.push(KeyState::default());
        }
        id
    }

    fn add_target<O: OpLike>(
        &mut self,
        op: &O,
        pos: u64,
        v: Val<'_>,
    ) -> Result<Pending, MalformedOp> {
        let (key, element) = match v.pair() {
            Some((k, e)) => (self.key_id(k), e),
            None => (self.unkeyed(), v),
        };
        let element = element.as_i64().ok_or_else(|| {
            malformed(
                op,
                pos as usize,
                format!(
                    "add value must be an integer element or [key, element], found {}",
                    v.short_json()
                ),
            )
        })?;
        let elem = self.elem_id(key, element);
        self.elems[elem as usize].attempted = true;
        Ok(Pending::Add { elem })
    }

    /// An invocation that never completed: an add is indeterminate.
    fn abandon(&mut self, p: Pending) {
        if let Pending::Add { elem } = p {
            self.elems[elem as usize].indeterminate = true;
        }
    }

    /// The last read (just pushed) of `key` returned `elements`.
    fn read(&mut self, key: u32, elements: &[i64]) {
        let rid = (self.reads.len() - 1) as u32;
        // Each element's id: from the key's last read when it returned the
        // element at the same place (or one place on, after an element
        // that this read lacks), else from the table.
        let last = std::mem::take(&mut self.keys[key as usize].last_read);
        let mut ids = std::mem::take(&mut self.read_ids);
        ids.clear();
        let mut j = 0;
        for &x in elements {
            let id = match (last.get(j), last.get(j + 1)) {
                (Some(&(e, id)), _) if e == x => {
                    j += 1;
                    id
                }
                (_, Some(&(e, id))) if e == x => {
                    j += 2;
                    id
                }
                _ => self.elem_id(key, x),
            };
            self.stamp[id as usize] = rid;
            ids.push((x, id));
        }
        let mut last = last;
        last.clear();
        last.extend_from_slice(&ids);
        self.keys[key as usize].last_read = last;
        self.read_ids = ids;
        let reads = &self.reads;
        let r = reads[rid as usize];
        for &id in &self.keys[key as usize].elems {
            let e = &mut self.elems[id as usize];
            if self.stamp[id as usize] == rid {
                present(e, rid, reads);
            } else if e.known(reads).is_some_and(|k| r.invoke > k) {
                absent(e, rid, reads);
            }
        }
    }

    /// The analysis of everything observed so far, treating open invocations
    /// as pending.
    pub fn analysis(mut self) -> Result<SetFullAnalysis, MalformedOp> {
        if let Some(e) = self.malformed.take() {
            return Err(e);
        }
        let pending: Vec<Pending> = self.pairer.drain().map(|(_, o)| o.data).collect();
        for p in pending {
            self.abandon(p);
        }
        let mut a = SetFullAnalysis {
            options: self.options,
            key_count: self.keys.len(),
            ok_read_count: self.reads.len(),
            ..Default::default()
        };
        let mut latencies: Vec<u64> = Vec::new();
        let reads = &self.reads;
        let mut order: Vec<u32> = (0..self.keys.len() as u32).collect();
        let names = &self.key_names;
        order.sort_by(|&x, &y| names.name(x).cmp(names.name(y)));
        for k in order {
            let ks = &mut self.keys[k as usize];
            let name = names.name(k);
            let elems = &self.elems;
            ks.elems.sort_by_key(|&id| elems[id as usize].element);
            for &id in &ks.elems {
                let e = &elems[id as usize];
                let report = || report(name, e, reads);
                let seen = e.first_present != NONE;
                if !e.attempted {
                    a.unexpected_count += 1;
                    push(&mut a.unexpected, report());
                    continue;
                }
                a.attempt_count += 1;
                if e.ack.is_none() && !e.indeterminate {
                    a.failed_count += 1;
                    if seen {
                        a.failed_but_present_count += 1;
                        push(&mut a.failed_but_present, report());
                    }
                    continue;
                }
                if e.ack.is_some() {
                    a.acknowledged_count += 1;
                } else {
                    a.indeterminate_count += 1;
                    if seen {
                        a.recovered_count += 1;
                        push(&mut a.recovered, report());
                    } else {
                        a.indeterminate_absent_count += 1;
                    }
                }
                if e.known(reads).is_none() {
                    continue;
                }
                if e.lost(reads) {
                    a.lost_count += 1;
                    push(&mut a.lost, report());
                    continue;
                }
                if e.first_absent != NONE {
                    a.stale_count += 1;
                    push(&mut a.stale, report());
                } else if seen {
                    a.ok_count += 1;
                } else {
                    a.never_read_count += 1;
                    push(&mut a.never_read, report());
                }
                if let (Some(ack), Some(r)) = (e.ack, read_at(reads, e.stable_from)) {
                    latencies.push(r.time.saturating_sub(ack.time));
                }
            }
        }
        a.visibility_latency_ms = Quantiles::of_ns_as_ms(&latencies);
        Ok(a)
    }

    /// The verdict on everything observed so far.
    pub fn finish(self) -> CheckResult {
        match self.analysis() {
            Ok(a) => a.to_result(),
            Err(bad) => CheckResult {
                checker: NAME.to_string(),
                valid: Validity::Unknown,
                summary: format!("malformed set-full history: {bad}"),
                details: serde_json::json!({ "malformed": bad }),
            },
        }
    }
}

fn push(v: &mut Vec<ElementReport>, r: ElementReport) {
    if v.len() < EXAMPLE_CAP {
        v.push(r);
    }
}

fn named(r: &ElementReport) -> String {
    if r.key.is_empty() {
        format!("element {}", r.element)
    } else {
        format!("element {} of key {}", r.element, r.key)
    }
}

impl SetFullAnalysis {
    /// Invalid if anything is lost, unexpected or failed-but-present (or
    /// stale, with `linearizable`); unknown without any `ok` read.
    pub fn validity(&self) -> Validity {
        let stale = if self.options.linearizable {
            self.stale_count
        } else {
            0
        };
        if self.lost_count + self.unexpected_count + self.failed_but_present_count + stale > 0 {
            Validity::Invalid
        } else if self.ok_read_count == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }

    /// One line, the worst finding first, e.g. `1 of 3 acknowledged elements
    /// lost: element 2 was acknowledged to process 1 at 0.0 s and is absent
    /// from the last 2 reads (since 0.1 s)`.
    pub fn summary(&self) -> String {
        if self.ok_read_count == 0 {
            return format!(
                "no successful read: cannot tell what became of the {}",
                count(self.acknowledged_count, "acknowledged element")
            );
        }
        let mut parts = Vec::new();
        if let Some(l) = self.lost.first() {
            let ack = match (l.ack_process, l.ack_time) {
                (Some(p), Some(t)) => format!("was acknowledged to process {p} at {}", secs(t)),
                _ => format!(
                    "was read at {}",
                    secs(l.first_present.map_or(0, |r| r.time))
                ),
            };
            let since = l
                .last_absent
                .map(|r| format!(" (the last began at {})", secs(r.invoke_time)))
                .unwrap_or_default();
            parts.push(format!(
                "{} of {} lost: {} {ack} and is absent from the last {}{since}",
                self.lost_count,
                count(
                    self.acknowledged_count + self.recovered_count,
                    "known element"
                ),
                named(l),
                count(l.absent_after_last_present as usize, "read"),
            ));
        } else {
            parts.push(format!(
                "none of {} lost ({} ok, {} stale, {} never read)",
                count(
                    self.acknowledged_count + self.recovered_count,
                    "known element"
                ),
                self.ok_count,
                self.stale_count,
                self.never_read_count
            ));
        }
        if self.lost_count > 0 && self.stale_count > 0 {
            parts.push(format!("{} stale", count(self.stale_count, "element")));
        }
        if self.stale_count > 0 {
            if let Some(s) = self.stale.first() {
                let missed = s.first_absent.map_or(String::new(), |r| {
                    format!(" missed by the read that began at {}", secs(r.invoke_time))
                });
                let back = s.last_present.map_or(String::new(), |r| {
                    format!(" but returned at {}", secs(r.time))
                });
                parts.push(format!("e.g. {}{missed}{back}", named(s)));
            }
        }
        if self.unexpected_count > 0 {
            parts.push(format!(
                "{} read but never added: {}",
                count(self.unexpected_count, "element"),
                list(self.unexpected.iter().map(named), self.unexpected_count)
            ));
        }
        if self.failed_but_present_count > 0 {
            parts.push(format!(
                "{} whose adds failed read anyway: {}",
                count(self.failed_but_present_count, "element"),
                list(
                    self.failed_but_present.iter().map(named),
                    self.failed_but_present_count
                )
            ));
        }
        if self.indeterminate_count > 0 {
            parts.push(format!(
                "{} of {} indeterminate adds recovered",
                self.recovered_count, self.indeterminate_count
            ));
        }
        if self.visibility_latency_ms.count > 0 {
            let q = self.visibility_latency_ms;
            parts.push(format!(
                "visibility latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                q.p50, q.p99, q.max
            ));
        }
        parts.join("; ")
    }

    /// The analysis as a [`CheckResult`] named `set-full`.
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
