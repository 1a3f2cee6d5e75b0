//! Stale observations: a violation found without searching, for registers
//! whose written values are unique.
//!
//! The search proves a history non-linearizable by trying every order, and
//! on a long key with many ops that may take effect at any time (crashed
//! writes whose value someone read, so they cannot be pruned) every order
//! is a great many: the budget runs out and the verdict is unknown, though
//! a reader can see the violation in three ops. This module looks for
//! exactly that shape, in O(n log n):
//!
//! - an op `r` that *observed* the value `x` (an `ok` read returning `x`,
//!   or an `ok` cas expecting `x`);
//! - `x` has exactly one *source*: the only op that writes it (a write or
//!   a cas of any outcome to `x`), which is a plain write that completed;
//!   or, when no op writes `x`, the initial value (in place before
//!   anything);
//! - some `ok` write `w'` other than the source began after the source
//!   completed and completed before `r` began.
//!
//! Then every linearization orders source < `w'` < `r` (real time), `w'`
//! leaves a value other than `x`, and nothing after the source writes `x`
//! again: `r` cannot see `x`. So the history is not linearizable, and
//! these three ops are a counterexample on their own: closed (the only op
//! that could explain what `r` saw is in it, as the search's shrunk
//! counterexamples are) and minimal (without `w'` or `r` the rest can be
//! ordered). An observed value that nothing writes and that is not the
//! initial value is the two-op case of the same argument: `r` alone
//! cannot be placed.
//!
//! Values written by more than one op are left alone (which write `r` saw
//! is then a choice the search must make), as are sources with no
//! completion (they may take effect at any time after their invocation).
//! The source and `w'` are plain writes: a cas observes a value as well,
//! and a counterexample holding one would have to hold whatever could
//! explain it (the search's counterexamples are closed in that sense; so
//! are these: `r` saw only what the source wrote).
//! Register ops only (read, write, cas); the search remains the judge of
//! everything else.

use serde_json::{json, Value};

use super::compile::Problem;
use super::fxhash::FxHashMap;
use super::model::Kind;
use super::report::{describe_op, op_json, KeyResult};
use crate::Validity;

/// A stale observation: `observer` saw a value that `source` (or the
/// initial value, `None`) put there, but `later` had replaced it for good
/// before `observer` began. `later` is `None` when nothing ever wrote the
/// value and it is not the initial value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stale {
    pub observer: usize,
    pub source: Option<usize>,
    pub later: Option<usize>,
}

impl Stale {
    /// The ops of the counterexample, in real-time order.
    pub(crate) fn ops(&self) -> Vec<usize> {
        self.source
            .into_iter()
            .chain(self.later)
            .chain([self.observer])
            .collect()
    }
}

/// One key's `ok` setters: their completions in order, and for each the
/// (invocation, op) of the latest-invoked setter completed by then.
type Setters = (Vec<usize>, Vec<(usize, usize)>);

/// The first stale observation of `p` (by the observer's invocation), if
/// any; `None` also when `p` has ops other than register ops.
pub(crate) fn find(p: &Problem) -> Option<Stale> {
    if !p.all_register() {
        return None;
    }
    // Per (key slot, value): its writers (the first, and whether more).
    let mut writers: FxHashMap<(u32, u32), (usize, bool)> = FxHashMap::default();
    for (i, o) in p.ops.iter().enumerate() {
        let written = match o.kind {
            Kind::Write => o.a,
            Kind::Cas | Kind::CasMaybe => o.b,
            _ => continue,
        };
        writers
            .entry((o.key, written))
            .and_modify(|w| w.1 = true)
            .or_insert((i, false));
    }
    // Per key slot, the ok ops that set a value, by completion.
    let mut setters: FxHashMap<u32, Vec<(usize, usize, usize)>> = FxHashMap::default();
    for (i, o) in p.ops.iter().enumerate() {
        // Plain writes only: a cas observes a value too, and a
        // counterexample holding one would have to hold what explains it.
        let sets = o.kind == Kind::Write;
        if let (true, Some(done)) = (sets, p.return_at[i]) {
            setters
                .entry(o.key)
                .or_default()
                .push((done, p.call_at[i], i));
        }
    }
    // Sorted by completion, each with the latest-invoked setter among it
    // and those completing before it.
    let mut latest: FxHashMap<u32, Setters> = FxHashMap::default();
    for (key, mut list) in setters {
        list.sort_unstable();
        let mut best = (0usize, usize::MAX);
        let mut prefix = Vec::with_capacity(list.len());
        for &(_, call, i) in &list {
            if best.1 == usize::MAX || call > best.0 {
                best = (call, i);
            }
            prefix.push(best);
        }
        latest.insert(key, (list.iter().map(|s| s.0).collect(), prefix));
    }
    let mut found: Option<Stale> = None;
    for (r, o) in p.ops.iter().enumerate() {
        let (Kind::Read | Kind::Cas) = o.kind else {
            continue;
        };
        if p.return_at[r].is_none() {
            continue;
        }
        let x = o.a;
        // When the value was surely in place (a real-time position), and
        // by what.
        let (source, in_place) = match writers.get(&(o.key, x)) {
            Some(&(_, true)) => continue,
            Some(&(w, false)) if w == r => continue,
            Some(&(w, false)) => match p.return_at[w] {
                Some(done) if x != 0 && p.ops[w].kind == Kind::Write => (Some(w), Some(done)),
                // Also the initial value, or it may take effect any time.
                _ => continue,
            },
            None if x == 0 => (None, None),
            None => {
                let s = Stale {
                    observer: r,
                    source: None,
                    later: None,
                };
                keep_first(&mut found, s, p);
                continue;
            }
        };
        let Some((dones, prefix)) = latest.get(&o.key) else {
            continue;
        };
        // Setters completed before r began.
        let n = dones.partition_point(|&d| d < p.call_at[r]);
        if n == 0 {
            continue;
        }
        let (call, w) = prefix[n - 1];
        let after_source = in_place.is_none_or(|done| call > done);
        if after_source && Some(w) != source && w != r {
            keep_first(
                &mut found,
                Stale {
                    observer: r,
                    source,
                    later: Some(w),
                },
                p,
            );
        }
    }
    found
}

/// Keeps the stale observation whose observer began first.
fn keep_first(found: &mut Option<Stale>, s: Stale, p: &Problem) {
    if found.is_none_or(|f| p.call_at[s.observer] < p.call_at[f.observer]) {
        *found = Some(s);
    }
}

/// The verdict on a key with a stale observation: invalid, with the two
/// or three ops as its counterexample.
pub(super) fn key_result(
    history: &crate::History,
    p: &Problem,
    key: Option<String>,
    s: Stale,
) -> KeyResult {
    let ops = p.ops.len();
    let key_prefix = key
        .as_ref()
        .map(|k| format!("key {k}: "))
        .unwrap_or_default();
    let observer = describe_op(p.view(history, s.observer));
    let value = p.view(history, s.observer);
    let seen = match value.f {
        "cas" => value
            .argument
            .as_array()
            .and_then(|a| a.first())
            .map(|v| v.to_string())
            .unwrap_or_default(),
        _ => value.result.to_string(),
    };
    let why = match (s.source, s.later) {
        (_, None) => format!("no op wrote {seen} and the register did not start with it"),
        (Some(src), Some(later)) => format!(
            "the only write of {seen}, {}, ended before {} began, which ended before it began, and no op wrote {seen} again",
            describe_op(p.view(history, src)),
            describe_op(p.view(history, later)),
        ),
        (None, Some(later)) => format!(
            "{seen} was the initial value, and {} replaced it and ended before it began; no op wrote {seen} again",
            describe_op(p.view(history, later)),
        ),
    };
    let alone = match s.ops().len() {
        1 => "it cannot be linearized even alone".to_string(),
        n => format!("these {n} ops are not linearizable together; closed and minimal"),
    };
    let sentence = format!(
        "{key_prefix}{observer} cannot be linearized: {why} (found without searching: {alone})"
    );
    let mut counterexample = json!({
        "what": "a stale observation: the op saw a value that, by real time alone, had already been replaced for good (only one op wrote that value, and it is here); these ops are not linearizable by themselves, closed (the only op that could have set the value seen is in it) and minimal (without the later write or the observer they can be ordered)",
        "kind": "stale",
        "minimal": true,
        "blocked_op": op_json(p.view(history, s.observer)),
    });
    counterexample["ops"] = s
        .ops()
        .into_iter()
        .map(|i| op_json(p.view(history, i)))
        .collect();
    let mut violation = json!({
        "key": key,
        "ops_in_key": ops,
        "blocked_op": op_json(p.view(history, s.observer)),
        "longest_prefix_len": Value::Null,
        "state_after_prefix": Value::Null,
    });
    violation["longest_prefix"] = Value::Array(Vec::new());
    violation["counterexample"] = counterexample;
    KeyResult {
        key,
        valid: Validity::Invalid,
        ops,
        why_unknown: None,
        violation: Some(violation),
        sentence: Some(sentence),
        skipped: false,
    }
}
