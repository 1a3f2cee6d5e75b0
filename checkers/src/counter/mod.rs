//! The counter checker: is every read a value the increments could explain?
//!
//! Clients `add` integer deltas (negative ones too) to one counter and `read`
//! it. A correct counter returns, at some instant between a read's
//! invocation and completion, the sum of the deltas applied by then. Which
//! deltas are applied is only partly known:
//!
//! - **certain**: `ok` adds that completed before the read was invoked; they
//!   are in every possible value.
//! - **possible**: adds invoked before the read completed that are not
//!   certain and did not `fail`: `ok` adds overlapping the read, and `info`
//!   or pending adds (which may take effect at any time after invocation).
//!   Each may or may not count, independently.
//! - failed adds and adds invoked after the read completed never count.
//!
//! An `ok` read must equal `certain + Σ S` for SOME subset `S` of the
//! possible deltas (Maelstrom's pn-counter rule, applied to every read, not
//! only the final ones). That set is not an interval: with `add 10`
//! acknowledged and `+5, -1, -1` of unknown outcome the reachable totals are
//! 8, 9, 10, 13, 14, 15, and a read of 11 is impossible although it lies
//! between the extremes. The checker computes the set exactly, as a bitset
//! of subset sums (the `reachable` module; a plain range once every total
//! in it is reachable, which many small deltas soon make so), while the
//! bitset stays within [`EXACT_RANGE_BUDGET`] values; beyond it, a read is
//! judged by the bounds alone:
//!
//! ```text
//! lower = certain + Σ possible negative deltas
//! upper = certain + Σ possible positive deltas
//! ```
//!
//! (the exact extremes of the subset sums: never wrong to reject outside
//! them, only too lenient inside). Reads outside the bounds are
//! *out of bounds*; reads inside them that no subset gives are *unreachable*;
//! both make the history invalid. Each judged read records whether its
//! verdict was exact ([`BoundedRead::exact`]), and [`CounterAnalysis`] counts
//! the reads judged each way; the summary says so when any read fell back to
//! the bounds. The *final reads* (invoked after the last add completed) are
//! judged the same way and listed separately.
//!
//! # Op shapes
//!
//! `add` with an integer value (the delta), `read` with `null` on invocation
//! and an integer on `ok` completion. Other functions and the nemesis are
//! ignored. A non-integer delta or `ok` read value makes the verdict unknown,
//! and so does a history with no `ok` read: there is nothing to judge
//! (Maelstrom calls an empty history valid; faultline reports that it saw
//! no read rather than a pass nothing supports).
//!
//! # Cost
//!
//! One online pass ([`Counter::observe`]) with running sums, O(1) per op;
//! each read keeps a fixed-size record until the end, and so does each add
//! whose outcome is unknown or that overlapped a read (an add that completed
//! with no read in flight since its invocation is only summed). At the end,
//! reads are judged in completion order: the deltas of unknown outcome join
//! one growing bitset as their invocations pass (each once), and the few
//! `ok` adds overlapping a read are tried against it through the list of
//! their distinct subset sums (up to [`MAX_ENUMERATED`] of them; beyond,
//! they are or-ed into a copy of the bitset).
//! The work is linear in the history times the bitset's words, which the
//! budget bounds.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{count, index_of, malformed, secs, MalformedOp, Pairer};
use crate::history::{History, Op, OpType, Process};
use crate::online::OpView;
use crate::raw::OpLike;
use crate::verdict::{CheckResult, Validity};
use judge::{Judge, Reach};

mod judge;
mod reachable;

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "counter";

/// At most this many out-of-bounds (or unreachable) reads are listed; the
/// counts are exact.
pub const EXAMPLE_CAP: usize = 100;

/// The most values the range of reachable totals may span for a read to be
/// judged exactly (a bitset of 8 KiB); beyond it, by the bounds alone.
pub const EXACT_RANGE_BUDGET: usize = 1 << 16;

/// While the `ok` adds overlapping a read have at most this many distinct
/// subset sums, they are listed and each tried against the bitset; beyond,
/// the adds are or-ed into a copy of it.
pub const MAX_ENUMERATED: usize = 64;

/// Which functions add, subtract and read. The counter workload uses
/// [`CounterOps::COUNTER`]; the PN-counter part of [`crate::crdt`] reuses the
/// same bounds with its own names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterOps {
    /// Functions whose value is added.
    pub add: &'static [&'static str],
    /// Functions whose value is subtracted.
    pub sub: &'static [&'static str],
    /// Functions that read the counter.
    pub read: &'static [&'static str],
}

impl CounterOps {
    /// `add` (signed delta) and `read`.
    pub const COUNTER: CounterOps = CounterOps {
        add: &["add"],
        sub: &[],
        read: &["read"],
    };
}

/// A read outside its bounds (or, in [`CounterAnalysis::final_reads`], any
/// final read).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundedRead {
    /// The `index` of the read's completion.
    pub index: u64,
    /// Who read.
    pub process: Process,
    /// When it was invoked and completed (ns).
    pub invoke_time: u64,
    /// When it completed (ns).
    pub time: u64,
    /// What it returned.
    pub value: i64,
    /// The smallest value it could have returned.
    pub lower: i128,
    /// The largest value it could have returned.
    pub upper: i128,
    /// Sum of the deltas certainly applied before it began.
    pub certain: i128,
    /// Whether the verdict on this read is exact: checked against the set of
    /// totals some subset of the possible deltas gives (always true for a
    /// read outside the bounds, which are that set's extremes); false when
    /// that set was over [`EXACT_RANGE_BUDGET`] and only the bounds were
    /// checked.
    #[serde(default)]
    pub exact: bool,
    /// For an unreachable read: the reachable totals nearest its value,
    /// below and above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nearest: Option<(Option<i128>, Option<i128>)>,
    /// For an unreachable read: how many possible deltas it had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub possible_count: Option<usize>,
}

/// Everything the counter checker found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterAnalysis {
    /// Adds invoked.
    pub add_count: usize,
    /// Adds that completed `ok`.
    pub acknowledged_count: usize,
    /// Adds that were `info` or pending.
    pub indeterminate_count: usize,
    /// Sum of acknowledged deltas.
    pub acknowledged_sum: i128,
    /// `ok` reads judged.
    pub ok_read_count: usize,
    /// Reads outside their bounds.
    pub out_of_bounds_count: usize,
    /// Examples, in history order.
    pub out_of_bounds: Vec<BoundedRead>,
    /// Reads within their bounds that no subset of the possible deltas
    /// gives.
    #[serde(default)]
    pub unreachable_count: usize,
    /// Examples, in history order.
    #[serde(default)]
    pub unreachable: Vec<BoundedRead>,
    /// `ok` reads judged exactly (against the reachable totals).
    #[serde(default)]
    pub exact_read_count: usize,
    /// `ok` reads judged by the bounds alone (their reachable totals spanned
    /// more than [`EXACT_RANGE_BUDGET`] values).
    #[serde(default)]
    pub bounds_only_read_count: usize,
    /// The final reads with their bounds.
    pub final_reads: Vec<BoundedRead>,
}

/// Checks a counter history; see the [module docs](self).
pub fn check(history: &History) -> CheckResult {
    let mut c = Counter::new(CounterOps::COUNTER, NAME);
    for op in &history.ops {
        c.observe(op);
    }
    c.finish()
}

enum Pending {
    Add(i128),
    Read {
        ok_sum: i128,
        pos_ok: i128,
        neg_ok: i128,
    },
    Other,
}

struct ReadRec {
    invoke: u64,
    complete: u64,
    lo: i128,
    hi: i128,
    certain: i128,
    value: i64,
    index: u64,
    process: Process,
    invoke_time: u64,
    time: u64,
}

/// The online counter checker: [`observe`](Self::observe) every op in
/// order, then [`finish`](Self::finish).
pub struct Counter {
    ops: CounterOps,
    name: &'static str,
    pairer: Pairer<Pending>,
    position: u64,
    ok_sum: i128,
    pos_ok: i128,
    neg_ok: i128,
    pos_inv: i128,
    neg_inv: i128,
    /// (invocation position, delta) of failed adds.
    failed: Vec<(u64, i128)>,
    /// (invocation, completion, delta) of adds whose delta may count for a
    /// read without being certain: `ok` adds that overlapped a read, and
    /// adds of unknown outcome (completion `u64::MAX`).
    uncertain: Vec<(u64, u64, i128)>,
    /// Reads invoked and not completed.
    open_reads: usize,
    /// Where the last read completed.
    last_read_completion: u64,
    reads: Vec<ReadRec>,
    last_add_completion: Option<u64>,
    a: CounterAnalysis,
    malformed: Option<MalformedOp>,
}

impl Counter {
    /// A checker for the given function names, reporting as `name`.
    pub fn new(ops: CounterOps, name: &'static str) -> Self {
        Counter {
            ops,
            name,
            pairer: Pairer::default(),
            position: 0,
            ok_sum: 0,
            pos_ok: 0,
            neg_ok: 0,
            pos_inv: 0,
            neg_inv: 0,
            failed: Vec::new(),
            uncertain: Vec::new(),
            open_reads: 0,
            last_read_completion: 0,
            reads: Vec::new(),
            last_add_completion: None,
            a: CounterAnalysis::default(),
            malformed: None,
        }
    }

    fn delta<O: OpLike>(&self, op: &O, pos: u64) -> Result<Option<i128>, MalformedOp> {
        let sign = if self.ops.add.contains(&op.f()) {
            1
        } else if self.ops.sub.contains(&op.f()) {
            -1
        } else {
            return Ok(None);
        };
        let d = op.value().as_i64().ok_or_else(|| {
            malformed(
                op,
                pos as usize,
                format!(
                    "delta must be an integer, found {}",
                    op.value().short_json()
                ),
            )
        })?;
        Ok(Some(sign * i128::from(d)))
    }

    /// Takes the next op into account.
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
            let pending = match self.delta(op, pos) {
                Err(e) => {
                    self.malformed = Some(e);
                    return;
                }
                Ok(Some(d)) => {
                    self.a.add_count += 1;
                    self.pos_inv += d.max(0);
                    self.neg_inv += d.min(0);
                    Pending::Add(d)
                }
                Ok(None) if self.ops.read.contains(&op.f()) => {
                    self.open_reads += 1;
                    Pending::Read {
                        ok_sum: self.ok_sum,
                        pos_ok: self.pos_ok,
                        neg_ok: self.neg_ok,
                    }
                }
                Ok(None) => Pending::Other,
            };
            if let Some(prev) = self
                .pairer
                .invoke(op.process(), pos as usize, op.time(), pending)
            {
                match prev.data {
                    Pending::Add(d) => {
                        self.a.indeterminate_count += 1;
                        self.uncertain.push((prev.invoke as u64, u64::MAX, d));
                    }
                    Pending::Read { .. } => self.open_reads -= 1,
                    Pending::Other => {}
                }
            }
            return;
        }
        let Some(open) = self.pairer.complete(op.process()) else {
            return;
        };
        match open.data {
            Pending::Add(d) => {
                self.last_add_completion = Some(pos);
                let invoke = open.invoke as u64;
                match kind {
                    OpType::Ok => {
                        self.a.acknowledged_count += 1;
                        self.ok_sum += d;
                        self.pos_ok += d.max(0);
                        self.neg_ok += d.min(0);
                        // A read in flight at some point since it began may
                        // or may not include it.
                        let overlapped = self.open_reads > 0
                            || (self.last_read_completion > invoke
                                && self.last_read_completion != 0);
                        if overlapped && d != 0 {
                            self.uncertain.push((invoke, pos, d));
                        }
                    }
                    OpType::Fail => self.failed.push((invoke, d)),
                    _ => {
                        self.a.indeterminate_count += 1;
                        if d != 0 {
                            self.uncertain.push((invoke, u64::MAX, d));
                        }
                    }
                }
            }
            Pending::Read { .. } if kind != OpType::Ok => {
                self.open_reads -= 1;
                self.last_read_completion = pos;
            }
            Pending::Read {
                ok_sum,
                pos_ok,
                neg_ok,
            } => {
                self.open_reads -= 1;
                self.last_read_completion = pos;
                let Some(value) = op.value().as_i64() else {
                    self.malformed = Some(malformed(
                        op,
                        pos as usize,
                        format!(
                            "read result must be an integer, found {}",
                            op.value().short_json()
                        ),
                    ));
                    return;
                };
                self.reads.push(ReadRec {
                    invoke: open.invoke as u64,
                    complete: pos,
                    lo: ok_sum + (self.neg_inv - neg_ok),
                    hi: ok_sum + (self.pos_inv - pos_ok),
                    certain: ok_sum,
                    value,
                    index: index_of(op, pos as usize),
                    process: op.process(),
                    invoke_time: open.time,
                    time: op.time(),
                });
            }
            _ => {}
        }
    }

    /// The analysis of everything observed so far.
    pub fn analysis(mut self) -> Result<CounterAnalysis, MalformedOp> {
        if let Some(e) = self.malformed.take() {
            return Err(e);
        }
        let mut pending_adds = 0;
        for (_, o) in self.pairer.drain() {
            if let Pending::Add(d) = o.data {
                pending_adds += 1;
                if d != 0 {
                    self.uncertain.push((o.invoke as u64, u64::MAX, d));
                }
            }
        }
        let mut a = std::mem::take(&mut self.a);
        a.indeterminate_count += pending_adds;
        let mut judge = Judge::new(std::mem::take(&mut self.uncertain), &self.reads);
        a.acknowledged_sum = self.ok_sum;
        a.ok_read_count = self.reads.len();
        // Failed adds were counted as possible for every read completing
        // after their invocation; take them back out.
        self.failed.sort_unstable_by_key(|f| f.0);
        let mut pos_prefix = Vec::with_capacity(self.failed.len() + 1);
        let mut neg_prefix = Vec::with_capacity(self.failed.len() + 1);
        let (mut p, mut n) = (0i128, 0i128);
        pos_prefix.push(0);
        neg_prefix.push(0);
        for &(_, d) in &self.failed {
            p += d.max(0);
            n += d.min(0);
            pos_prefix.push(p);
            neg_prefix.push(n);
        }
        for (ri, r) in self.reads.iter().enumerate() {
            let k = self.failed.partition_point(|f| f.0 < r.complete);
            let lower = r.lo - neg_prefix[k];
            let upper = r.hi - pos_prefix[k];
            let mut b = BoundedRead {
                index: r.index,
                process: r.process,
                invoke_time: r.invoke_time,
                time: r.time,
                value: r.value,
                lower,
                upper,
                certain: r.certain,
                exact: true,
                nearest: None,
                possible_count: None,
            };
            let v = i128::from(r.value);
            let is_final = self.last_add_completion.is_none_or(|l| r.invoke > l);
            let within = lower <= v && v <= upper;
            // Always advanced, so that the bitset follows the reads.
            let verdict = judge.read(ri, r, within, a.unreachable.len() < EXAMPLE_CAP);
            if !within {
                a.out_of_bounds_count += 1;
                a.exact_read_count += 1;
                if a.out_of_bounds.len() < EXAMPLE_CAP {
                    a.out_of_bounds.push(b.clone());
                }
            } else {
                match verdict {
                    Reach::Yes => a.exact_read_count += 1,
                    Reach::Unknown => {
                        a.bounds_only_read_count += 1;
                        b.exact = false;
                    }
                    Reach::No { nearest, possible } => {
                        a.exact_read_count += 1;
                        a.unreachable_count += 1;
                        if a.unreachable.len() < EXAMPLE_CAP {
                            let mut u = b.clone();
                            u.nearest = nearest;
                            u.possible_count = Some(possible);
                            a.unreachable.push(u);
                        }
                    }
                }
            }
            if is_final && a.final_reads.len() < EXAMPLE_CAP {
                a.final_reads.push(b);
            }
        }
        Ok(a)
    }

    /// The verdict on everything observed so far.
    pub fn finish(self) -> CheckResult {
        let name = self.name;
        match self.analysis() {
            Ok(a) => a.to_result(name),
            Err(bad) => CheckResult {
                checker: name.to_string(),
                valid: Validity::Unknown,
                summary: format!("malformed {name} history: {bad}"),
                details: serde_json::json!({ "malformed": bad }),
            },
        }
    }
}

impl CounterAnalysis {
    /// Invalid if any read is out of bounds, unknown without `ok` reads.
    pub fn validity(&self) -> Validity {
        if self.out_of_bounds_count + self.unreachable_count > 0 {
            Validity::Invalid
        } else if self.ok_read_count == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }

    /// One line, e.g. `2 of 40 reads out of bounds: process 3 read 7 at
    /// 1.2 s, possible values 8..=10`.
    pub fn summary(&self) -> String {
        if self.ok_read_count == 0 {
            return format!(
                "no successful read of the counter ({} acknowledged)",
                count(self.acknowledged_count, "add")
            );
        }
        let mut s = match self.out_of_bounds.first() {
            Some(r) => format!(
                "{} of {} out of bounds: process {} read {} at {}, possible values {}..={} ({} certainly applied)",
                self.out_of_bounds_count,
                count(self.ok_read_count, "read"),
                r.process,
                r.value,
                secs(r.time),
                r.lower,
                r.upper,
                r.certain
            ),
            None => match self.unreachable.first() {
                Some(r) => format!(
                    "{} of {} unreachable: process {} read {} at {}, within {}..={} but no subset of the {} of unknown outcome gives it ({} certainly applied{})",
                    self.unreachable_count,
                    count(self.ok_read_count, "read"),
                    r.process,
                    r.value,
                    secs(r.time),
                    r.lower,
                    r.upper,
                    count(r.possible_count.unwrap_or(0), "delta"),
                    r.certain,
                    nearest_text(r.nearest)
                ),
                None => format!(
                    "all {} possible ({} acknowledged summing to {}, {} indeterminate)",
                    count(self.ok_read_count, "read"),
                    count(self.acknowledged_count, "add"),
                    self.acknowledged_sum,
                    self.indeterminate_count
                ),
            },
        };
        if self.out_of_bounds_count > 0 && self.unreachable_count > 0 {
            s.push_str(&format!(
                "; {} more within bounds but unreachable",
                self.unreachable_count
            ));
        }
        s.push_str(&if self.bounds_only_read_count == 0 {
            "; every read checked exactly".to_string()
        } else {
            format!(
                "; {} checked exactly, {} against bounds only (their reachable totals spanned over {} values)",
                self.exact_read_count, self.bounds_only_read_count, EXACT_RANGE_BUDGET
            )
        });
        if let Some(f) = self.final_reads.last() {
            s.push_str(&format!(
                "; final read {} (possible {}..={})",
                f.value, f.lower, f.upper
            ));
        }
        s
    }

    /// The analysis as a [`CheckResult`] named `name`.
    pub fn to_result(&self, name: &str) -> CheckResult {
        CheckResult {
            checker: name.to_string(),
            valid: self.validity(),
            summary: self.summary(),
            details: serde_json::to_value(self).unwrap_or(Value::Null),
        }
    }
}

/// ", nearest possible 10 and 13".
fn nearest_text(n: Option<(Option<i128>, Option<i128>)>) -> String {
    match n {
        Some((Some(a), Some(b))) => format!("; nearest possible {a} and {b}"),
        Some((Some(a), None)) | Some((None, Some(a))) => format!("; nearest possible {a}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
