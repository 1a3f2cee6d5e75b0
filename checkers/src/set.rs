//! The set checker: did every acknowledged element survive?
//!
//! The set workload is the simplest test of durability under faults. Clients
//! `add` unique integers to a set while a nemesis breaks things; after the
//! faults heal, clients `read` the whole set, ideally once through every node.
//! An element whose add was acknowledged (`ok`) must be in every one of those
//! final reads: if a node answers without it, the store lost a write it had
//! promised to keep.
//!
//! # What the checker looks at
//!
//! - **Adds.** The element is the add's invocation value (an integer). Its
//!   add is *acknowledged* if it completed `ok`, *failed* if it completed
//!   `fail` (it certainly did not happen), and *indeterminate* if it completed
//!   `info` or was still pending when the history ended (it may or may not
//!   have happened).
//! - **Final reads.** The `ok` reads whose *invocation* comes after the last
//!   add *completion* in the history: nothing could still be in flight when
//!   they started, so they must contain every acknowledged element. (Adds
//!   that never complete do not delay the final phase.) Reads that overlap
//!   adds are not final: they may legitimately miss elements still being
//!   added.
//! - **Fallback.** With no read in the final phase, the checker uses the `ok`
//!   read invoked last. Only elements acknowledged *before* that read was
//!   invoked can be judged against it; later ones are reported as
//!   *unconfirmed*, not lost.
//!
//! # What counts as an anomaly
//!
//! | finding              | meaning                                                           | verdict      |
//! |----------------------|-------------------------------------------------------------------|--------------|
//! | `lost`               | acknowledged, but missing from at least one final read            | invalid      |
//! | `unexpected`         | present in a final read, but never added by anyone                | invalid      |
//! | `failed_but_present` | its add completed `fail`, yet it is present in a final read       | invalid      |
//! | `recovered`          | its add was indeterminate and it is present: the write happened   | fine         |
//! | indeterminate absent | its add was indeterminate and it is absent: it did not happen     | fine         |
//!
//! The verdict is unknown when there is no `ok` read at all (nothing to judge
//! by), or when an add or read carries something other than integers.
//! Nemesis ops are ignored. If the same element is added more than once, one
//! `ok` attempt makes it acknowledged, otherwise one indeterminate attempt
//! makes it indeterminate.
//!
//! The analysis takes near-linear time: one pass over the history with hash
//! maps, one pass over the final reads' elements, and sorting of the lists it
//! reports.
//!
//! ```
//! use checkers::{parse, set, Validity};
//!
//! let history = parse::edn(
//!     "{:type :invoke, :process 0, :f :add, :value 1}
//!      {:type :ok,     :process 0, :f :add, :value 1}
//!      {:type :invoke, :process 1, :f :read, :value nil}
//!      {:type :ok,     :process 1, :f :read, :value #{}}",
//! )?;
//! let result = set::check(&history);
//! assert_eq!(result.valid, Validity::Invalid);
//! assert!(result.summary.starts_with("1 of 1 acknowledged element lost"));
//! # Ok::<(), checkers::parse::ParseError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::common::{self, count, list};
use crate::history::{History, Process};
use crate::verdict::{CheckResult, Validity};

mod online;
pub use online::Set;

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "set";

/// At most this many entries are kept in each per-element list of a
/// [`SetAnalysis`]; the matching counts are always exact.
pub const DETAIL_CAP: usize = 1000;

/// Everything the set checker found, the source of [`CheckResult::details`].
///
/// Element lists are sorted ascending and capped at [`DETAIL_CAP`] entries;
/// the `*_count` fields are exact. Counts of adds are counts of distinct
/// elements.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SetAnalysis {
    /// Distinct elements some add tried to insert.
    pub attempt_count: usize,
    /// Elements with an add that completed `ok`.
    pub acknowledged_count: usize,
    /// Elements whose every add completed `fail`.
    pub failed_count: usize,
    /// Elements whose adds were `info` or pending (and none `ok`).
    pub indeterminate_count: usize,
    /// All reads that completed `ok`, final or not.
    pub ok_read_count: usize,
    /// Reads the elements were judged against.
    pub final_read_count: usize,
    /// True when no read began after the last add completed, so the final
    /// read is the last `ok` read instead (see the module docs).
    pub fallback: bool,
    /// Acknowledged elements missing from at least one final read.
    pub lost_count: usize,
    /// Elements in a final read that no add ever attempted.
    pub unexpected_count: usize,
    /// Elements whose adds all failed, present in a final read.
    pub failed_but_present_count: usize,
    /// Indeterminate elements present in a final read.
    pub recovered_count: usize,
    /// Indeterminate elements absent from every final read (allowed).
    pub indeterminate_absent_count: usize,
    /// Fallback only: elements acknowledged after the final read was invoked
    /// and absent from it; they cannot be judged.
    pub unconfirmed_count: usize,
    /// The final reads, in history order.
    pub final_reads: Vec<FinalRead>,
    /// The lost elements with where and how they went missing.
    pub lost: Vec<LostElement>,
    /// The unexpected elements.
    pub unexpected: Vec<i64>,
    /// The failed-but-present elements.
    pub failed_but_present: Vec<i64>,
    /// The recovered elements.
    pub recovered: Vec<i64>,
    /// The unconfirmed elements (fallback only).
    pub unconfirmed: Vec<i64>,
    /// Keyed histories (Jepsen's `[k, element]` tuples) only: how many
    /// keys, each its own set judged against its own final reads. The
    /// counts above are then sums over the keys, and the element lists
    /// above stay empty: each key's are in [`keys`](Self::keys).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub key_count: usize,
    /// Keyed only: keys with no `ok` read (each such key is unknown).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread_key_count: usize,
    /// Keyed only: keys with a finding (invalid, unknown or unconfirmed
    /// elements).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub finding_key_count: usize,
    /// Keyed only: the analyses of the keys with a finding, in the order
    /// the keys first appeared, at most [`DETAIL_CAP`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyAnalysis>,
}

/// One key's set in a keyed history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyAnalysis {
    /// The key, as text (a string key as itself, others as JSON).
    pub key: String,
    /// Its set's analysis.
    pub analysis: SetAnalysis,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One read the elements were judged against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalRead {
    /// The `index` of the read's `ok` completion.
    pub index: u64,
    /// Who read.
    pub process: Process,
    /// The node that answered, when recorded.
    pub node: Option<String>,
    /// When the read completed (ns since the test started).
    pub time: u64,
    /// How many distinct elements it returned.
    pub size: usize,
}

/// An acknowledged element that a final read did not return.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LostElement {
    /// The element.
    pub element: i64,
    /// The process whose add was acknowledged.
    pub process: Process,
    /// The `index` of the `ok` completion of that add.
    pub ack_index: u64,
    /// When it was acknowledged (ns since the test started).
    pub ack_time: u64,
    /// How many final reads did not return it.
    pub missing_from: usize,
    /// How many final reads there were.
    pub final_reads: usize,
    /// The nodes of the final reads that missed it (reads without a recorded
    /// node are not listed).
    pub nodes: Vec<String>,
}

/// An add or read whose value is not what the set workload writes.
pub use crate::common::MalformedOp;

/// Checks a set-workload history; see the [module docs](self) for the rules.
///
/// Never panics: a malformed history gives an unknown verdict whose summary
/// names the offending op.
pub fn check(history: &History) -> CheckResult {
    match analyze(history) {
        Ok(analysis) => analysis.to_result(),
        Err(bad) => malformed_result(bad),
    }
}

/// The unknown verdict on a history with a malformed op.
fn malformed_result(bad: MalformedOp) -> CheckResult {
    CheckResult {
        checker: NAME.to_string(),
        valid: Validity::Unknown,
        summary: format!("malformed set history: {bad}"),
        details: serde_json::json!({ "malformed": bad }),
    }
}

/// Analyzes a set-workload history without turning it into a verdict: the
/// ops go through the online checker ([`Set`]), so a history checked whole
/// and one streamed get the same analysis.
///
/// Use this when you want the typed findings; [`check`] wraps it.
///
/// # Errors
///
/// [`MalformedOp`] for the first add whose element is not an integer, or
/// `ok` read whose result is not a list of integers.
pub fn analyze(history: &History) -> Result<SetAnalysis, MalformedOp> {
    let mut set = Set::new();
    for op in &history.ops {
        set.observe(op);
    }
    set.analysis()
}

/// The analysis of one set (one key), from what [`Set`] kept of it.
fn judge(k: online::KeySet) -> SetAnalysis {
    let mut a = SetAnalysis {
        attempt_count: k.elements.len(),
        ok_read_count: k.ok_reads,
        ..SetAnalysis::default()
    };
    for e in k.elements.values() {
        match (e.ack, e.indeterminate) {
            (Some(_), _) => a.acknowledged_count += 1,
            (None, true) => a.indeterminate_count += 1,
            (None, false) => a.failed_count += 1,
        }
    }

    // The final reads, and the cutoff before which an ack must have
    // happened for its element to be judged.
    let mut finals = k.candidates;
    let mut cutoff = u64::MAX;
    match k.latest {
        Some(last) if finals.is_empty() => {
            a.fallback = true;
            cutoff = last.invoke;
            finals.push(last);
        }
        // Dropped, so that each final read's elements have one owner and
        // are sorted in place below, not copied.
        _ => {}
    }
    finals.sort_by_key(|r| r.complete);
    a.final_read_count = finals.len();

    // Each final read's distinct elements, sorted.
    let mut final_sets: Vec<Vec<i64>> = Vec::with_capacity(finals.len());
    let mut finals: Vec<online::ReadRec> = finals
        .into_iter()
        .map(|r| {
            std::sync::Arc::try_unwrap(r).unwrap_or_else(|shared| online::ReadRec {
                elements: shared.elements.clone(),
                node: shared.node.clone(),
                ..*shared
            })
        })
        .collect();
    for r in &mut finals {
        let mut set = std::mem::take(&mut r.elements);
        set.sort_unstable();
        set.dedup();
        if a.final_reads.len() < DETAIL_CAP {
            a.final_reads.push(FinalRead {
                index: r.index,
                process: r.process,
                node: r.node.clone(),
                time: r.time,
                size: set.len(),
            });
        }
        final_sets.push(set);
    }
    let nreads = finals.len();
    // The elements in order, and how many final reads hold each: each
    // (sorted) final read is merged with them, walking both in order (or,
    // for a read much smaller than the set, searching each of its
    // elements); what a read holds that no add attempted is unexpected.
    let mut elements: Vec<(i64, online::Element)> = k.elements.into_iter().collect();
    elements.sort_unstable_by_key(|(e, _)| *e);
    let mut seen = vec![0u32; elements.len()];
    let mut unexpected: Vec<i64> = Vec::new();
    for set in &final_sets {
        if set.len().saturating_mul(16) < elements.len() {
            for &x in set {
                match elements.binary_search_by_key(&x, |(e, _)| *e) {
                    Ok(i) => seen[i] += 1,
                    Err(_) => unexpected.push(x),
                }
            }
            continue;
        }
        let mut i = 0;
        for &x in set {
            while i < elements.len() && elements[i].0 < x {
                i += 1;
            }
            match elements.get(i) {
                Some((e, _)) if *e == x => seen[i] += 1,
                _ => unexpected.push(x),
            }
        }
    }
    unexpected.sort_unstable();
    unexpected.dedup();

    let mut lost: Vec<(i64, online::Ack)> = Vec::new();
    let mut unconfirmed = Vec::new();
    let mut recovered = Vec::new();
    let mut failed_present = Vec::new();
    for (&(element, e), &seen) in elements.iter().zip(&seen) {
        let seen = seen as usize;
        match e.ack {
            Some(ack) if nreads > 0 && seen < nreads => {
                if ack.pos < cutoff {
                    lost.push((element, ack));
                } else if seen == 0 {
                    unconfirmed.push(element);
                }
            }
            Some(_) => {}
            None if seen > 0 && e.indeterminate => recovered.push(element),
            None if seen > 0 => failed_present.push(element),
            None => {}
        }
    }

    a.lost_count = lost.len();
    a.unconfirmed_count = unconfirmed.len();
    a.recovered_count = recovered.len();
    a.failed_but_present_count = failed_present.len();
    a.unexpected_count = unexpected.len();
    a.indeterminate_absent_count = if nreads > 0 {
        a.indeterminate_count - a.recovered_count
    } else {
        0
    };

    lost.sort_unstable_by_key(|(el, _)| *el);
    lost.truncate(DETAIL_CAP);
    a.lost = lost
        .into_iter()
        .map(|(element, ack)| {
            let mut nodes = Vec::new();
            let mut missing_from = 0;
            for (set, r) in final_sets.iter().zip(&finals) {
                if set.binary_search(&element).is_err() {
                    missing_from += 1;
                    if let Some(n) = &r.node {
                        nodes.push(n.clone());
                    }
                }
            }
            LostElement {
                element,
                process: ack.process,
                ack_index: ack.index,
                ack_time: ack.time,
                missing_from,
                final_reads: nreads,
                nodes,
            }
        })
        .collect();
    a.unexpected = sorted_capped(unexpected);
    a.failed_but_present = sorted_capped(failed_present);
    a.recovered = sorted_capped(recovered);
    a.unconfirmed = sorted_capped(unconfirmed);
    a
}

/// One analysis of a keyed history: the counts of every key's, summed, and
/// the analyses of the keys with a finding (see [`SetAnalysis::keys`]).
fn merge_keys(keys: impl Iterator<Item = (String, SetAnalysis)>) -> SetAnalysis {
    let mut a = SetAnalysis::default();
    for (key, k) in keys {
        a.key_count += 1;
        a.attempt_count += k.attempt_count;
        a.acknowledged_count += k.acknowledged_count;
        a.failed_count += k.failed_count;
        a.indeterminate_count += k.indeterminate_count;
        a.ok_read_count += k.ok_read_count;
        a.final_read_count += k.final_read_count;
        a.fallback |= k.fallback;
        a.lost_count += k.lost_count;
        a.unexpected_count += k.unexpected_count;
        a.failed_but_present_count += k.failed_but_present_count;
        a.recovered_count += k.recovered_count;
        a.indeterminate_absent_count += k.indeterminate_absent_count;
        a.unconfirmed_count += k.unconfirmed_count;
        if k.final_read_count == 0 {
            a.unread_key_count += 1;
        }
        if k.validity() != Validity::Valid || k.unconfirmed_count > 0 {
            a.finding_key_count += 1;
            if a.keys.len() < DETAIL_CAP {
                a.keys.push(KeyAnalysis { key, analysis: k });
            }
        }
    }
    a
}

fn sorted_capped(v: Vec<i64>) -> Vec<i64> {
    common::sorted_capped(v, DETAIL_CAP)
}

impl SetAnalysis {
    /// Invalid if anything was lost, unexpected or failed-but-present;
    /// unknown if there was no `ok` read at all; valid otherwise.
    pub fn validity(&self) -> Validity {
        if self.lost_count + self.unexpected_count + self.failed_but_present_count > 0 {
            Validity::Invalid
        } else if self.final_read_count == 0 || self.unread_key_count > 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }

    /// One line for a database engineer, e.g. `3 of 1520 acknowledged
    /// elements lost (missing from final reads): 17, 42, 99; 12 indeterminate
    /// adds recovered`.
    pub fn summary(&self) -> String {
        if self.key_count > 0 {
            return self.keyed_summary();
        }
        let mut parts: Vec<String> = Vec::new();
        if self.final_read_count == 0 {
            return format!(
                "no successful read: cannot tell whether the {} survived",
                count(self.acknowledged_count, "acknowledged element")
            );
        }
        let reads = if self.fallback {
            "the last read (no read began after the last add completed)".to_string()
        } else if self.final_read_count == 1 {
            "the final read".to_string()
        } else if self.final_read_count == 2 {
            "both final reads".to_string()
        } else {
            format!("all {} final reads", self.final_read_count)
        };
        if self.lost_count > 0 {
            let noun = if self.acknowledged_count == 1 {
                "element"
            } else {
                "elements"
            };
            let lost = self.lost.iter().map(|l| l.element);
            let whence = if self.fallback {
                "missing from the last read"
            } else {
                "missing from final reads"
            };
            parts.push(format!(
                "{} of {} acknowledged {noun} lost ({whence}): {}",
                self.lost_count,
                self.acknowledged_count,
                list(lost, self.lost_count)
            ));
        } else if self.acknowledged_count == 0 {
            parts.push(format!("no acknowledged elements to find in {reads}"));
        } else if self.unconfirmed_count > 0 {
            parts.push(format!(
                "{} of {} acknowledged elements present in {reads}; {} acknowledged after it began and absent (unconfirmed)",
                self.acknowledged_count - self.unconfirmed_count,
                self.acknowledged_count,
                self.unconfirmed_count
            ));
        } else if self.acknowledged_count == 1 {
            parts.push(format!("the 1 acknowledged element present in {reads}"));
        } else {
            parts.push(format!(
                "all {} acknowledged elements present in {reads}",
                self.acknowledged_count
            ));
        }
        if self.unexpected_count > 0 {
            parts.push(format!(
                "{} read but never added: {}",
                count(self.unexpected_count, "element"),
                list(self.unexpected.iter().copied(), self.unexpected_count)
            ));
        }
        if self.failed_but_present_count > 0 {
            parts.push(format!(
                "{} whose add failed present anyway: {}",
                count(self.failed_but_present_count, "element"),
                list(
                    self.failed_but_present.iter().copied(),
                    self.failed_but_present_count
                )
            ));
        }
        if self.lost_count > 0 && self.unconfirmed_count > 0 {
            parts.push(format!(
                "{} acknowledged after the last read began (unconfirmed)",
                self.unconfirmed_count
            ));
        }
        if self.indeterminate_count > 0 {
            parts.push(format!(
                "{} of {} indeterminate adds recovered",
                self.recovered_count, self.indeterminate_count
            ));
        }
        parts.join("; ")
    }

    /// The summary of a keyed history: the keys with findings, each with
    /// its own summary, or what every key had in common.
    fn keyed_summary(&self) -> String {
        let keys = count(self.key_count, "key");
        let named = |ks: &mut dyn Iterator<Item = &KeyAnalysis>, n: usize| -> String {
            let shown: Vec<String> = ks
                .take(3)
                .map(|k| format!("key {}: {}", k.key, k.analysis.summary()))
                .collect();
            let more = if n > shown.len() { "; …" } else { "" };
            shown.join("; ") + more
        };
        let invalid = |k: &&KeyAnalysis| k.analysis.validity() == Validity::Invalid;
        let mut parts: Vec<String> = Vec::new();
        if self.lost_count + self.unexpected_count + self.failed_but_present_count > 0 {
            let n = self.keys.iter().filter(invalid).count();
            parts.push(format!(
                "{} of {keys} invalid ({} of {} acknowledged elements lost, {} unexpected, {} failed but present): {}",
                n,
                self.lost_count,
                self.acknowledged_count,
                self.unexpected_count,
                self.failed_but_present_count,
                named(&mut self.keys.iter().filter(invalid), n)
            ));
        } else if self.unread_key_count > 0 {
            let unread: Vec<&str> = self
                .keys
                .iter()
                .filter(|k| k.analysis.final_read_count == 0)
                .map(|k| k.key.as_str())
                .collect();
            parts.push(format!(
                "no successful read of {} of {keys} ({}): cannot tell whether their elements survived",
                self.unread_key_count,
                list(unread.iter(), self.unread_key_count)
            ));
        } else {
            parts.push(format!(
                "all {} acknowledged elements present in the final reads of all {keys}",
                self.acknowledged_count - self.unconfirmed_count
            ));
        }
        if self.unconfirmed_count > 0 {
            parts.push(format!(
                "{} acknowledged after the last read of their key began (unconfirmed)",
                self.unconfirmed_count
            ));
        }
        if self.indeterminate_count > 0 {
            parts.push(format!(
                "{} of {} indeterminate adds recovered",
                self.recovered_count, self.indeterminate_count
            ));
        }
        parts.join("; ")
    }

    /// The analysis as a [`CheckResult`] named `set`, with this struct as
    /// its details.
    pub fn to_result(&self) -> CheckResult {
        CheckResult {
            checker: NAME.to_string(),
            valid: self.validity(),
            summary: self.summary(),
            details: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[cfg(test)]
mod tests;
