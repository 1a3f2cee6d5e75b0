//! The staleness checker: how stale are reads, in versions and in time?
//!
//! In the spirit of Bailis et al.'s *Probabilistically Bounded Staleness*,
//! this checker measures rather than judges: an eventually consistent store
//! is allowed stale reads, and what matters is how stale. Registers, op
//! shapes and the version order are those of [`crate::versioned`].
//!
//! - **k-staleness** of an `ok` read of key `k`: how many distinct versions
//!   of `k` had been acknowledged (their write completed `ok`) before the
//!   read was invoked and are newer than what it returned. 0 means the read
//!   was at least as new as every acknowledged write.
//! - **t-visibility** of an acknowledged write: how long after its
//!   acknowledgment reads still missed it, i.e. the largest `invoke time of
//!   R − ack time` over reads `R` invoked after the ack that returned an older
//!   version; 0 if no such read.
//!
//! Both are reported as distributions (quantiles), overall and per key, with
//! the worst read and the worst write. The verdict is valid unless a bound
//! in [`StalenessOptions`] is exceeded; unknown without `ok` reads.
//!
//! # Cost
//!
//! Per key, sorting plus two sweeps with a Fenwick tree over versions:
//! `O(n log n)`, whatever the staleness.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{count, ms, secs};
use crate::history::{History, OpType};
use crate::stats::Quantiles;
use crate::verdict::{CheckResult, Validity};
use crate::versioned::{register_ops, show, Action, RegOp, Version};

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "staleness";

/// At most this many keys get their own distributions in the details.
pub const KEY_CAP: usize = 1000;

/// Bounds; `None` means "measure only".
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StalenessOptions {
    /// Largest allowed k-staleness of a read.
    pub max_versions_behind: Option<u64>,
    /// Largest allowed t-visibility of a write, in ms.
    pub max_visibility_ms: Option<f64>,
}

/// The stalest read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaleRead {
    /// The key.
    pub key: String,
    /// `index` of the read's completion.
    pub index: u64,
    /// What it returned.
    pub version: Version,
    /// The newest version acknowledged before it began.
    pub latest: Version,
    /// How many acknowledged versions it was behind.
    pub versions_behind: u64,
}

/// The write reads missed the longest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlowWrite {
    /// The key.
    pub key: String,
    /// `index` of the write's `ok` completion.
    pub index: u64,
    /// Its version.
    pub version: Version,
    /// When it was acknowledged (ns).
    pub ack_time: u64,
    /// How long after that a read still missed it, ms.
    pub visibility_ms: f64,
}

/// Distributions for one key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyStaleness {
    /// k-staleness of its reads.
    pub versions_behind: Quantiles,
    /// t-visibility of its writes, ms.
    pub visibility_ms: Quantiles,
}

/// Everything the staleness checker measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StalenessAnalysis {
    /// The bounds used.
    pub options: StalenessOptions,
    /// `ok` reads.
    pub read_count: usize,
    /// Acknowledged writes with a version.
    pub write_count: usize,
    /// Reads that were behind by at least one version.
    pub stale_read_count: usize,
    /// k-staleness over all reads.
    pub versions_behind: Quantiles,
    /// t-visibility over all acknowledged writes, ms.
    pub visibility_ms: Quantiles,
    /// Per key (the first [`KEY_CAP`] keys in order).
    pub per_key: BTreeMap<String, KeyStaleness>,
    /// The stalest read.
    pub worst_read: Option<StaleRead>,
    /// The slowest write to become visible.
    pub worst_write: Option<SlowWrite>,
}

/// Measures a register history; see the [module docs](self).
pub fn check(history: &History, options: StalenessOptions) -> CheckResult {
    match register_ops(history) {
        Ok(ops) => analyze(&ops, options).to_result(),
        Err(bad) => CheckResult {
            checker: NAME.to_string(),
            valid: Validity::Unknown,
            summary: format!("malformed register history: {bad}"),
            details: serde_json::json!({ "malformed": bad }),
        },
    }
}

/// Fenwick tree over ranks 0..n: counts (sum) or latest times (max).
struct Fenwick(Vec<u64>);

impl Fenwick {
    fn new(n: usize) -> Self {
        Fenwick(vec![0; n + 1])
    }
    fn add(&mut self, rank: usize, v: u64, max: bool) {
        let mut i = rank + 1;
        while i < self.0.len() {
            self.0[i] = if max { self.0[i].max(v) } else { self.0[i] + v };
            i += i & i.wrapping_neg();
        }
    }
    /// Sum or max over ranks `0..end`.
    fn prefix(&self, end: usize, max: bool) -> u64 {
        let mut i = end.min(self.0.len() - 1);
        let mut acc = 0;
        while i > 0 {
            acc = if max {
                acc.max(self.0[i])
            } else {
                acc + self.0[i]
            };
            i -= i & i.wrapping_neg();
        }
        acc
    }
}

/// Measures register ops (from [`register_ops`]).
pub fn analyze(ops: &[RegOp], options: StalenessOptions) -> StalenessAnalysis {
    let mut a = StalenessAnalysis {
        options,
        ..Default::default()
    };
    let mut by_key: BTreeMap<&str, Vec<&RegOp>> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.outcome == OpType::Ok) {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    let (mut all_k, mut all_t) = (Vec::new(), Vec::new());
    for (key, kops) in by_key {
        // Ranks: None is rank 0, versions from 1.
        let mut versions: Vec<i64> = kops
            .iter()
            .filter_map(|o| match o.action {
                Action::Read(v) | Action::Write(v) => v,
            })
            .collect();
        versions.sort_unstable();
        versions.dedup();
        let rank = |v: Version| v.map_or(0, |v| versions.partition_point(|&x| x < v) + 1);
        let n = versions.len() + 1;
        // Events by position: acks at their completion, reads at their invocation.
        let mut events: Vec<(usize, &RegOp, bool)> = Vec::new();
        for o in &kops {
            match o.action {
                Action::Write(Some(_)) => events.push((o.complete.unwrap_or(o.invoke), o, true)),
                Action::Read(_) => events.push((o.invoke, o, false)),
                Action::Write(None) => {}
            }
        }
        events.sort_by_key(|e| e.0);
        // k-staleness, forward: distinct acked versions newer than the read.
        let mut acked = Fenwick::new(n);
        let mut seen = vec![false; n];
        let mut total = 0u64;
        let mut latest: Version = None;
        let mut ks = Vec::new();
        for &(_, o, is_ack) in &events {
            match (is_ack, o.action) {
                (true, Action::Write(v)) => {
                    a.write_count += 1;
                    let r = rank(v);
                    if !seen[r] {
                        seen[r] = true;
                        acked.add(r, 1, false);
                        total += 1;
                    }
                    latest = latest.max(v);
                }
                (false, Action::Read(v)) => {
                    let behind = total - acked.prefix(rank(v) + 1, false);
                    ks.push(behind);
                    if behind > 0 {
                        a.stale_read_count += 1;
                    }
                    if a.worst_read
                        .as_ref()
                        .is_none_or(|w| behind > w.versions_behind)
                    {
                        a.worst_read = Some(StaleRead {
                            key: key.to_string(),
                            index: o.index,
                            version: v,
                            latest,
                            versions_behind: behind,
                        });
                    }
                }
                _ => {}
            }
        }
        // t-visibility, backward: the latest read invoked after the ack that
        // returned an older version. Times are stored +1 so 0 means none.
        let mut reads = Fenwick::new(n);
        let mut ts = Vec::new();
        for &(_, o, is_ack) in events.iter().rev() {
            match (is_ack, o.action) {
                (false, Action::Read(v)) => {
                    reads.add(rank(v), o.invoke_time.saturating_add(1), true)
                }
                (true, Action::Write(v)) => {
                    let last_miss = reads.prefix(rank(v), true);
                    let t = if last_miss == 0 {
                        0
                    } else {
                        (last_miss - 1).saturating_sub(o.time)
                    };
                    ts.push(t);
                    if a.worst_write
                        .as_ref()
                        .is_none_or(|w| ms(t) > w.visibility_ms)
                    {
                        a.worst_write = Some(SlowWrite {
                            key: key.to_string(),
                            index: o.index,
                            version: v,
                            ack_time: o.time,
                            visibility_ms: ms(t),
                        });
                    }
                }
                _ => {}
            }
        }
        a.read_count += ks.len();
        if a.per_key.len() < KEY_CAP {
            a.per_key.insert(
                key.to_string(),
                KeyStaleness {
                    versions_behind: Quantiles::of_counts(&ks),
                    visibility_ms: Quantiles::of_ns_as_ms(&ts),
                },
            );
        }
        all_k.extend(ks);
        all_t.extend(ts);
    }
    a.versions_behind = Quantiles::of_counts(&all_k);
    a.visibility_ms = Quantiles::of_ns_as_ms(&all_t);
    a
}

impl StalenessAnalysis {
    fn k_exceeded(&self) -> bool {
        self.options
            .max_versions_behind
            .is_some_and(|m| self.versions_behind.max > m as f64)
    }
    fn t_exceeded(&self) -> bool {
        self.options
            .max_visibility_ms
            .is_some_and(|m| self.visibility_ms.max > m)
    }

    /// Invalid when a bound is exceeded; unknown without reads.
    pub fn validity(&self) -> Validity {
        if self.k_exceeded() || self.t_exceeded() {
            Validity::Invalid
        } else if self.read_count == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }

    /// One line, e.g. `12 of 400 reads stale: versions behind p50 0 p99 2
    /// max 3; writes visible p50 0.0 ms p99 120.0 ms max 800.0 ms`.
    pub fn summary(&self) -> String {
        if self.read_count == 0 {
            return "no successful read: staleness cannot be measured".to_string();
        }
        let (k, t) = (self.versions_behind, self.visibility_ms);
        let mut s = format!(
            "{} of {} stale: versions behind p50 {} p99 {} max {}; writes visible after p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
            self.stale_read_count,
            count(self.read_count, "read"),
            k.p50,
            k.p99,
            k.max,
            t.p50,
            t.p99,
            t.max
        );
        if let (true, Some(w)) = (self.k_exceeded(), &self.worst_read) {
            s.push_str(&format!(
                "; over the bound of {}: read {} of key {} returned {} while {} was acknowledged, {} behind",
                self.options.max_versions_behind.unwrap_or(0),
                w.index,
                w.key,
                show(w.version),
                show(w.latest),
                count(w.versions_behind as usize, "version")
            ));
        }
        if let (true, Some(w)) = (self.t_exceeded(), &self.worst_write) {
            s.push_str(&format!(
                "; over the bound of {} ms: write {} of key {} (acknowledged at {}) was missed for {:.1} ms",
                self.options.max_visibility_ms.unwrap_or(0.0),
                show(w.version),
                w.key,
                secs(w.ack_time),
                w.visibility_ms
            ));
        }
        s
    }

    /// The analysis as a [`CheckResult`] named `staleness`.
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
mod tests {
    use super::*;
    use crate::testkit::H;
    use serde_json::json;
    use OpType::Ok as Done;

    fn analysis(h: &H, o: StalenessOptions) -> StalenessAnalysis {
        analyze(&register_ops(&h.history()).unwrap(), o)
    }

    #[test]
    fn fresh_reads_have_zero_staleness() {
        let mut h = H::default();
        h.call(Done, 0, "write", json!(1)).read(1, "read", json!(1));
        h.call(Done, 0, "write", json!(2)).read(1, "read", json!(2));
        let a = analysis(&h, StalenessOptions::default());
        assert_eq!(a.validity(), Validity::Valid);
        assert_eq!((a.read_count, a.write_count, a.stale_read_count), (2, 2, 0));
        assert_eq!((a.versions_behind.max, a.visibility_ms.max), (0.0, 0.0));
    }

    #[test]
    fn stale_reads_are_measured_in_versions_and_time_and_bounded() {
        let mut h = H::default();
        h.call(Done, 0, "write", json!(["a", 1])) // ack at op 1 (1 ms)
            .call(Done, 0, "write", json!(["a", 2])) // ack at op 3
            .call(Done, 0, "write", json!(["a", 3])) // ack at op 5
            .wait(100)
            .inv(1, "read", json!(["a", null])) // op 6 at 106 ms
            .ok(1, "read", json!(["a", 1])) // 2 versions behind
            .inv(1, "read", json!(["a", null])) // op 8 at 108 ms
            .ok(1, "read", json!(["a", 3]));
        let a = analysis(&h, StalenessOptions::default());
        assert_eq!(a.validity(), Validity::Valid);
        assert_eq!(a.stale_read_count, 1);
        assert_eq!(a.versions_behind.max, 2.0);
        let w = a.worst_read.as_ref().unwrap();
        assert_eq!(
            (w.version, w.latest, w.versions_behind, w.index),
            (Some(1), Some(3), 2, 7)
        );
        // Write 2 acked at 3 ms, missed by the read invoked at 106 ms.
        let slow = a.worst_write.as_ref().unwrap();
        assert_eq!((slow.version, slow.visibility_ms), (Some(2), 103.0));
        assert_eq!(a.per_key["a"].versions_behind.max, 2.0);

        let strict = StalenessOptions {
            max_versions_behind: Some(1),
            max_visibility_ms: None,
        };
        let a = analysis(&h, strict);
        assert_eq!(a.validity(), Validity::Invalid);
        assert!(a.summary().contains("over the bound of 1: read 7 of key a returned 1 while 3 was acknowledged, 2 versions behind"), "{}", a.summary());
        let slow_ok = StalenessOptions {
            max_versions_behind: None,
            max_visibility_ms: Some(103.0),
        };
        assert_eq!(analysis(&h, slow_ok).validity(), Validity::Valid);
        let slow_bad = StalenessOptions {
            max_visibility_ms: Some(50.0),
            ..slow_ok
        };
        assert_eq!(check(&h.history(), slow_bad).valid, Validity::Invalid);
    }

    #[test]
    fn concurrent_write_is_not_yet_required() {
        let mut h = H::default();
        h.inv(0, "write", json!(1)).inv(1, "read", json!(null));
        h.ok(1, "read", json!(null)).ok(0, "write", json!(1));
        let a = analysis(
            &h,
            StalenessOptions {
                max_versions_behind: Some(0),
                max_visibility_ms: Some(0.0),
            },
        );
        assert_eq!(a.validity(), Validity::Valid, "{}", a.summary());
        assert_eq!(
            check(&H::default().history(), StalenessOptions::default()).valid,
            Validity::Unknown
        );
    }
}
