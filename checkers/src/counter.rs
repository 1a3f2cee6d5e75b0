//! The counter checker: is every read a value the increments could explain?
//!
//! Clients `add` integer deltas (negative ones too) to one counter and `read`
//! it. A correct counter returns, at some instant between a read's
//! invocation and completion, the sum of the deltas applied by then. Which
//! deltas are applied is only partly known, so every `ok` read must lie
//! within bounds:
//!
//! - **certain**: `ok` adds that completed before the read was invoked; they
//!   are in every possible value.
//! - **possible**: adds invoked before the read completed that are not
//!   certain and did not `fail`: `ok` adds overlapping the read, and `info`
//!   or pending adds (which may take effect at any time after invocation).
//!   Each may or may not count.
//! - failed adds and adds invoked after the read completed never count.
//!
//! ```text
//! lower = certain + Σ possible negative deltas
//! upper = certain + Σ possible positive deltas
//! ```
//!
//! These bounds are exact for a counter: any subset of the possible deltas
//! may have applied, and the extreme subsets are "all negative ones" and
//! "all positive ones". The *final reads* (invoked after the last add
//! completed) are judged the same way and listed separately.
//!
//! # Op shapes
//!
//! `add` with an integer value (the delta), `read` with `null` on invocation
//! and an integer on `ok` completion. Other functions and the nemesis are
//! ignored. A non-integer delta or `ok` read value makes the verdict unknown.
//!
//! # Cost
//!
//! One online pass ([`Counter::observe`]) with running sums; each read
//! keeps a fixed-size record until the end, where failed adds are taken back
//! out of the bounds of the reads that completed after their invocation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{count, index_of, malformed, secs, MalformedOp, Pairer};
use crate::history::{History, Op, OpType, Process};
use crate::online::OpView;
use crate::raw::OpLike;
use crate::verdict::{CheckResult, Validity};

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "counter";

/// At most this many out-of-bounds reads are listed; the count is exact.
pub const EXAMPLE_CAP: usize = 100;

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
                Ok(None) if self.ops.read.contains(&op.f()) => Pending::Read {
                    ok_sum: self.ok_sum,
                    pos_ok: self.pos_ok,
                    neg_ok: self.neg_ok,
                },
                Ok(None) => Pending::Other,
            };
            if let Some(prev) = self
                .pairer
                .invoke(op.process(), pos as usize, op.time(), pending)
            {
                if let Pending::Add(_) = prev.data {
                    self.a.indeterminate_count += 1;
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
                match kind {
                    OpType::Ok => {
                        self.a.acknowledged_count += 1;
                        self.ok_sum += d;
                        self.pos_ok += d.max(0);
                        self.neg_ok += d.min(0);
                    }
                    OpType::Fail => self.failed.push((open.invoke as u64, d)),
                    _ => self.a.indeterminate_count += 1,
                }
            }
            Pending::Read {
                ok_sum,
                pos_ok,
                neg_ok,
            } if kind == OpType::Ok => {
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
        let pending_adds = self
            .pairer
            .drain()
            .filter(|(_, o)| matches!(o.data, Pending::Add(_)))
            .count();
        let mut a = std::mem::take(&mut self.a);
        a.indeterminate_count += pending_adds;
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
        for r in &self.reads {
            let k = self.failed.partition_point(|f| f.0 < r.complete);
            let lower = r.lo - neg_prefix[k];
            let upper = r.hi - pos_prefix[k];
            let b = BoundedRead {
                index: r.index,
                process: r.process,
                invoke_time: r.invoke_time,
                time: r.time,
                value: r.value,
                lower,
                upper,
                certain: r.certain,
            };
            let v = i128::from(r.value);
            let is_final = self.last_add_completion.is_none_or(|l| r.invoke > l);
            if v < lower || v > upper {
                a.out_of_bounds_count += 1;
                if a.out_of_bounds.len() < EXAMPLE_CAP {
                    a.out_of_bounds.push(b.clone());
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
        if self.out_of_bounds_count > 0 {
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
            None => format!(
                "all {} within bounds ({} acknowledged summing to {}, {} indeterminate)",
                count(self.ok_read_count, "read"),
                count(self.acknowledged_count, "add"),
                self.acknowledged_sum,
                self.indeterminate_count
            ),
        };
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

#[cfg(test)]
mod tests;
