//! The sessions checker: the four session guarantees, per process.
//!
//! Terry et al.'s session guarantees are what a client reasonably expects
//! from a store that is not linearizable: its own writes do not vanish from
//! its view and its view never goes back in time. Each client process is a
//! session (a process never invokes again after an `info`, so a session
//! ends there). Only `ok` ops are judged, each key separately, with the
//! version order of [`crate::versioned`] (read that first: it says which op
//! shapes are accepted and what is assumed about versions).
//!
//! For a process `p` and key `k`:
//!
//! | guarantee                | violated when                                                                              |
//! |--------------------------|--------------------------------------------------------------------------------------------|
//! | read-your-writes         | `p` reads `k` at a version older than one `p` wrote to `k` earlier                            |
//! | monotonic reads          | `p` reads `k` at a version older than one `p` read from `k` earlier                           |
//! | monotonic writes         | `p` writes `k` twice and the later write has the older version                              |
//! | writes-follow-reads      | `p` reads version `x` of `k`, then writes `k`, and the write's version is not newer than `x` |
//!
//! Each violation is reported with the two ops involved (their indices,
//! versions and times). Writes whose version cannot be told are skipped. The
//! verdict is invalid if any guarantee is violated, unknown if the history
//! has no `ok` read, valid otherwise.
//!
//! With values-as-versions, monotonic-writes and writes-follow-reads
//! violations also flag a client that wrote a smaller integer than it wrote
//! or read before: the generator must hand out increasing values.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{count, list};
use crate::history::{History, OpType, Process};
use crate::verdict::{CheckResult, Validity};
use crate::versioned::{register_ops, show, Action, RegOp, Version};

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "sessions";

/// At most this many violations are listed per guarantee.
pub const EXAMPLE_CAP: usize = 100;

/// The four guarantees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    /// A session sees its own writes.
    ReadYourWrites,
    /// A session's reads never go back.
    MonotonicReads,
    /// A session's writes are applied in order.
    MonotonicWrites,
    /// A session's writes come after what it read.
    WritesFollowReads,
}

impl Guarantee {
    /// The name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Guarantee::ReadYourWrites => "read-your-writes",
            Guarantee::MonotonicReads => "monotonic reads",
            Guarantee::MonotonicWrites => "monotonic writes",
            Guarantee::WritesFollowReads => "writes-follow-reads",
        }
    }
}

/// One op of a violation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpRef {
    /// `index` of its completion.
    pub index: u64,
    /// `write` or `read`.
    pub f: String,
    /// The version written or read (`null`: the initial value).
    pub version: Version,
    /// Completion time (ns).
    pub time: u64,
}

/// A broken guarantee: `earlier` then `later`, by the same process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Which guarantee.
    pub guarantee: Guarantee,
    /// The session.
    pub process: Process,
    /// The key.
    pub key: String,
    /// The op that set the expectation.
    pub earlier: OpRef,
    /// The op that broke it.
    pub later: OpRef,
}

/// Everything the sessions checker found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionsAnalysis {
    /// Sessions (processes) with at least one `ok` op.
    pub session_count: usize,
    /// `ok` reads.
    pub ok_read_count: usize,
    /// `ok` writes with a known version.
    pub ok_write_count: usize,
    /// Violations per guarantee (exact).
    pub counts: HashMap<Guarantee, usize>,
    /// Examples, in history order per guarantee.
    pub violations: Vec<Violation>,
}

/// Checks a register history's session guarantees; see the [module
/// docs](self).
pub fn check(history: &History) -> CheckResult {
    match register_ops(history) {
        Ok(ops) => analyze(&ops).to_result(),
        Err(bad) => CheckResult {
            checker: NAME.to_string(),
            valid: Validity::Unknown,
            summary: format!("malformed register history: {bad}"),
            details: serde_json::json!({ "malformed": bad }),
        },
    }
}

#[derive(Default)]
struct Session {
    /// The newest version this session wrote, with the op.
    max_write: Option<OpRef>,
    /// The last write.
    last_write: Option<OpRef>,
    /// The newest version this session read.
    max_read: Option<OpRef>,
}

fn op_ref(op: &RegOp, f: &str, version: Version) -> OpRef {
    OpRef {
        index: op.index,
        f: f.to_string(),
        version,
        time: op.time,
    }
}

/// Judges register ops (from [`register_ops`]).
pub fn analyze(ops: &[RegOp]) -> SessionsAnalysis {
    let mut a = SessionsAnalysis::default();
    // Per (process, key), in completion order: a process's ops do not
    // overlap, so this is also its program order.
    let mut done: Vec<&RegOp> = ops.iter().filter(|o| o.outcome == OpType::Ok).collect();
    done.sort_by_key(|o| o.complete);
    let mut sessions: HashMap<(Process, &str), Session> = HashMap::new();
    let mut processes = std::collections::HashSet::new();
    let found =
        |a: &mut SessionsAnalysis, g: Guarantee, op: &RegOp, earlier: &OpRef, later: OpRef| {
            *a.counts.entry(g).or_insert(0) += 1;
            if a.violations.iter().filter(|v| v.guarantee == g).count() < EXAMPLE_CAP {
                a.violations.push(Violation {
                    guarantee: g,
                    process: op.process,
                    key: op.key.clone(),
                    earlier: earlier.clone(),
                    later,
                });
            }
        };
    for op in done {
        processes.insert(op.process);
        let s = sessions.entry((op.process, op.key.as_str())).or_default();
        match op.action {
            Action::Read(v) => {
                a.ok_read_count += 1;
                let me = op_ref(op, "read", v);
                if let Some(w) = s.max_write.as_ref().filter(|w| v < w.version) {
                    found(&mut a, Guarantee::ReadYourWrites, op, w, me.clone());
                }
                match s.max_read.as_ref() {
                    Some(r) if v < r.version => {
                        found(&mut a, Guarantee::MonotonicReads, op, r, me);
                    }
                    Some(_) | None => s.max_read = Some(me),
                }
            }
            Action::Write(None) => {}
            Action::Write(v) => {
                a.ok_write_count += 1;
                let me = op_ref(op, "write", v);
                if let Some(w) = s.last_write.as_ref().filter(|w| v < w.version) {
                    found(&mut a, Guarantee::MonotonicWrites, op, w, me.clone());
                }
                if let Some(r) = s.max_read.as_ref().filter(|r| v <= r.version) {
                    found(&mut a, Guarantee::WritesFollowReads, op, r, me.clone());
                }
                if s.max_write.as_ref().is_none_or(|w| v > w.version) {
                    s.max_write = Some(me.clone());
                }
                s.last_write = Some(me);
            }
        }
    }
    a.session_count = processes.len();
    a.violations.sort_by_key(|v| (v.guarantee, v.later.index));
    a
}

impl SessionsAnalysis {
    /// Total violations.
    pub fn violation_count(&self) -> usize {
        self.counts.values().sum()
    }

    /// Invalid with any violation; unknown without `ok` reads.
    pub fn validity(&self) -> Validity {
        if self.violation_count() > 0 {
            Validity::Invalid
        } else if self.ok_read_count == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }

    /// One line, e.g. `2 session guarantee violations (read-your-writes 2):
    /// process 3 wrote 7 to key a (op 12) then read 5 (op 15)`.
    pub fn summary(&self) -> String {
        if self.ok_read_count == 0 {
            return "no successful read: session guarantees cannot be judged".to_string();
        }
        let Some(v) = self.violations.first() else {
            return format!(
                "all 4 session guarantees hold in {} ({} reads, {} writes)",
                count(self.session_count, "session"),
                self.ok_read_count,
                self.ok_write_count
            );
        };
        let mut per: Vec<(Guarantee, usize)> = self.counts.iter().map(|(g, n)| (*g, *n)).collect();
        per.sort();
        let per = list(
            per.iter().map(|(g, n)| format!("{} {n}", g.name())),
            per.len(),
        );
        let key = if v.key.is_empty() {
            String::new()
        } else {
            format!(" key {}", v.key)
        };
        let (e, l) = (&v.earlier, &v.later);
        format!(
            "{} ({per}): process {} {} {}{key} (op {}) then {} {} (op {})",
            count(self.violation_count(), "session guarantee violation"),
            v.process,
            past(&e.f),
            show(e.version),
            e.index,
            past(&l.f),
            show(l.version),
            l.index
        )
    }

    /// The analysis as a [`CheckResult`] named `sessions`.
    pub fn to_result(&self) -> CheckResult {
        CheckResult {
            checker: NAME.to_string(),
            valid: self.validity(),
            summary: self.summary(),
            details: serde_json::to_value(self).unwrap_or(Value::Null),
        }
    }
}

fn past(f: &str) -> &'static str {
    if f == "write" {
        "wrote"
    } else {
        "read"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::H;
    use serde_json::json;
    use OpType::{Info, Ok as Done};

    fn verdict(h: &H) -> SessionsAnalysis {
        analyze(&register_ops(&h.history()).unwrap())
    }

    #[test]
    fn sessions_that_see_their_own_progress_are_valid() {
        let mut h = H::default();
        h.call(Done, 0, "write", json!(["a", 1]))
            .inv(0, "read", json!(["a", null]))
            .ok(0, "read", json!(["a", 1]))
            .call(Done, 1, "write", json!(["a", 2]))
            .inv(0, "read", json!(["a", null]))
            .ok(0, "read", json!(["a", 2]))
            .call(Done, 0, "write", json!(["a", 3]));
        let r = check(&h.history());
        assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
        assert_eq!(
            r.summary,
            "all 4 session guarantees hold in 2 sessions (2 reads, 3 writes)"
        );
    }

    #[test]
    fn reading_older_than_own_write_breaks_read_your_writes() {
        let mut h = H::default();
        h.call(Done, 1, "write", json!(4))
            .call(Done, 0, "write", json!(7))
            .read(0, "read", json!(4));
        let a = verdict(&h);
        assert_eq!(a.validity(), Validity::Invalid);
        assert_eq!(a.counts[&Guarantee::ReadYourWrites], 1);
        let v = &a.violations[0];
        assert_eq!((v.earlier.index, v.later.index), (3, 5));
        assert_eq!(
            a.summary(),
            "1 session guarantee violation (read-your-writes 1): process 0 wrote 7 (op 3) then read 4 (op 5)"
        );
        // Another process reading 4 is fine.
        let mut h = H::default();
        h.call(Done, 1, "write", json!(4))
            .call(Done, 0, "write", json!(7))
            .read(2, "read", json!(4));
        assert_eq!(verdict(&h).validity(), Validity::Valid);
    }

    #[test]
    fn going_back_to_the_initial_value_breaks_monotonic_reads() {
        let mut h = H::default();
        h.call(Done, 1, "write", json!(["k", 1]))
            .inv(0, "read", json!(["k", null]))
            .ok(0, "read", json!(["k", 1]))
            .inv(0, "read", json!(["k", null]))
            .ok(0, "read", json!(["k", null]));
        let a = verdict(&h);
        assert_eq!(a.counts.get(&Guarantee::MonotonicReads), Some(&1));
        assert!(
            a.summary()
                .contains("process 0 read 1 key k (op 3) then read the initial value (op 5)"),
            "{}",
            a.summary()
        );
    }

    #[test]
    fn store_versions_expose_monotonic_writes_and_writes_follow_reads() {
        // The store reports versions: p0's second write got an older one.
        let mut h = H::default();
        h.inv(0, "write", json!("x"))
            .ok(0, "write", json!({"version": 5}));
        h.inv(0, "write", json!("y"))
            .ok(0, "write", json!({"version": 3}));
        h.read(1, "read", json!({"value": "x", "version": 5}));
        // p1 read version 5, then its write got version 4.
        h.inv(1, "write", json!("z"))
            .ok(1, "write", json!({"version": 4}));
        let a = verdict(&h);
        assert_eq!(a.counts.get(&Guarantee::MonotonicWrites), Some(&1));
        assert_eq!(a.counts.get(&Guarantee::WritesFollowReads), Some(&1));
        assert_eq!(a.counts.get(&Guarantee::ReadYourWrites), None);
        let wfr = a
            .violations
            .iter()
            .find(|v| v.guarantee == Guarantee::WritesFollowReads)
            .unwrap();
        assert_eq!((wfr.earlier.version, wfr.later.version), (Some(5), Some(4)));
    }

    #[test]
    fn indeterminate_writes_set_no_expectation_and_bad_reads_are_unknown() {
        let mut h = H::default();
        h.call(Info, 0, "write", json!(9))
            .read(1, "read", json!(null));
        assert_eq!(verdict(&h).validity(), Validity::Valid);
        h.read(1, "read", json!("x"));
        assert_eq!(check(&h.history()).valid, Validity::Unknown);
    }
}
