//! Counterexamples: a small set of ops that is not linearizable by itself,
//! and true: nothing left out could have explained it.
//!
//! When the search fails it reports the deepest point it reached: the
//! longest linearizable prefix and the op whose completion it could not get
//! past (the *blocked* op). That is cheap and already tells a database
//! engineer where to look, but the prefix can hold the whole history. So we
//! then shrink the set of ops greedily, and the set must stay *closed*.
//!
//! # Closed sets (register histories)
//!
//! A subset of a history is not a counterexample just because it cannot be
//! linearized: drop the second write of 3 and a read of 3 that came after a
//! write of 1 looks stale, although the history explains it. A set `S` is
//! closed when, for each op of `S` whose legality or effect depends on the
//! value before it, every op that could have set that value last is in `S`:
//!
//! - a read of `v`, an ok `cas [v n]`: every op that sets `v` (write `v`, ok
//!   or indeterminate `cas [_ v]`) invoked before it completed;
//! - an indeterminate `cas [v n]` (no completion): it matters only if it
//!   fired and set `n` for a kept op, so before that op completed: every op
//!   that sets `v` invoked before the latest completion of a kept op that
//!   may need `n` (a read of `n`, a `cas` expecting `n`, a failed `cas`
//!   expecting another value; through chains of indeterminate `cas` ops);
//! - a failed `cas [o n]` (evidence that the value was not `o`): every op
//!   that sets another value, invoked before it completed, and not
//!   *dominated*: not finished before the invocation of an ok write or ok
//!   `cas` that itself finished before the failed `cas` began (such an op
//!   can never be the last to set the value before it).
//!
//! **A closed set that is not linearizable proves the history is not.**
//! Take a linearization `L` of the whole history, keep the ops of `S` in
//! `L`'s order, and move the indeterminate `cas` ops that did not set the
//! value some kept op then saw to the end (always legal, no effect there). By induction along `L`, each
//! kept op sees the same value as in `L`: the last op that set it in `L`
//! could have set it last (it is invoked before the op completed, and not
//! dominated), so it is in `S`; the kept ops between them set nothing in `L`
//! and, seeing the same values, set nothing here either. So every op stays
//! legal with the same effect, and real-time order holds in a subsequence.
//! So the counterexample never leaves out a write of a value one of its reads
//! returned (or a `cas` expected) that was invoked before that read
//! completed, and the reader can trust that the ops shown are the whole
//! story. The set is also pruned as the search is (`search::prune`):
//! indeterminate writes nothing in the set can observe go, which keeps it
//! closed.
//!
//! # Shrinking
//!
//! 1. When the verdict took many steps (so that re-checking the whole
//!    history is costly), start from the smallest window of ops around the
//!    blocked op (2, 4, 8, ... ops nearest to it in real-time order, closed)
//!    that is not linearizable by itself. Else (or if no window is) start
//!    from the ops invoked before the blocked op completed (closed), if that
//!    is already not linearizable, else from all ops of the key. (For a
//!    history checked without splitting by key, "the key" is the blocked
//!    op's key, if its ops alone are not linearizable, else all ops.)
//! 2. Drop ops in chunks, farthest from the blocked op first: halves of the
//!    candidates, then quarters, ... down to single ops (as in Zeller's
//!    delta debugging), closing the rest again and keeping the drop if it is
//!    still not linearizable. Most ops of a long history are far from the
//!    violation and leave in a few big chunks.
//! 3. Then try to drop single ops (with what the closure then no longer
//!    needs), pass after pass, until a whole pass drops nothing: the set is
//!    then marked `minimal` (no single op can go), not guaranteed smallest.
//!
//! Any failure of a closed set is a true one, so a trial counts when its
//! search fails anywhere; the counterexample names the op its own search
//! could not place (often the history's blocked op; it may be an earlier
//! op that forces it, such as a failed `cas` whose value the read relies on).
//!
//! Each trial is a budgeted search (one [`Search`] whose buffers are
//! reused). If the budget for shrinking runs out, the set found so far is
//! still closed and not linearizable, and is reported marked not minimal; if
//! it is still larger than the search's own statement (the blocked op and
//! the longest linearizable prefix, what Porcupine and Knossos report), that
//! statement is reported instead (`frontier`), also not minimal.
//!
//! # Kv histories and the other models
//!
//! An append's effect depends on everything before it, so closing a kv set
//! would keep nearly all of it; the closure is not proven for the other
//! models (mutex, queues, sets, transactions). Their sets keep the weaker
//! rule instead: never
//! drop the op that provides a value a kept op observes (the put of the
//! value a get returned, an append whose text it contains) unless another
//! kept op provides the same, and a trial counts only if its search is stuck
//! at the same blocked op (so that a dropped provider cannot make up a
//! failure the history does not have).

use super::compile::Problem;
use super::fxhash::FxHashMap;
use super::model::{Kind, Machine, Values};
use super::search::{events, prune, Outcome, Search, Spent, Stuck};
use super::Budget;

/// Verdicts that took more steps than this start shrinking from windows.
const WINDOWS_ABOVE_STEPS: u64 = 10_000;

/// What the shrink produced.
pub(crate) struct Shrunk {
    /// Op ids into the problem: the set, or for a `frontier` the longest
    /// prefix and the blocked op.
    pub ops: Vec<usize>,
    /// The op the set's own search could not place (for a `frontier`, the
    /// history's blocked op).
    pub blocked: usize,
    /// Whether a last pass tried to drop every op and dropped none.
    pub minimal: bool,
    /// The shrink ran out of budget on a set larger than the search's own
    /// statement, which `ops` then is.
    pub frontier: bool,
}

/// The value an op sets, if it sets one (register kinds).
fn sets(kind: Kind, a: u32, b: u32) -> Option<u32> {
    match kind {
        Kind::Write => Some(a),
        Kind::Cas | Kind::CasMaybe => Some(b),
        _ => None,
    }
}

/// The value an op needs to find (register kinds): a read's result, a
/// `cas`'s expected value.
fn needs(kind: Kind, a: u32) -> Option<u32> {
    match kind {
        Kind::Read | Kind::Cas | Kind::CasMaybe => Some(a),
        _ => None,
    }
}

/// What closing a set of register ops adds (see the module docs).
struct Closure {
    /// (key, value) -> the live ops that set it, by invocation position.
    setters: FxHashMap<(u32, u32), Vec<usize>>,
    /// For each failed `cas`: the live ops that could be the last to set
    /// another value before it. Empty for other ops.
    failed: Vec<Vec<usize>>,
}

impl Closure {
    fn new(p: &Problem, live: &[bool]) -> Self {
        let n = p.ops.len();
        let mut setters: FxHashMap<(u32, u32), Vec<usize>> = FxHashMap::default();
        let mut by_key: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
        let mut by_call: Vec<usize> = (0..n).filter(|&i| live[i]).collect();
        by_call.sort_by_key(|&i| p.call_at[i]);
        for &i in &by_call {
            let o = &p.ops[i];
            if let Some(v) = sets(o.kind, o.a, o.b) {
                setters.entry((o.key, v)).or_default().push(i);
                by_key.entry(o.key).or_default().push(i);
            }
        }
        let mut failed = vec![Vec::new(); n];
        for x in (0..n).filter(|&i| live[i] && p.ops[i].kind == Kind::CasFailed) {
            let o = &p.ops[x];
            let Some(end) = p.return_at[x] else { continue };
            let Some(list) = by_key.get(&o.key) else {
                continue;
            };
            // The latest invocation of an ok op that sets the value and
            // finished before `x` began: what finished before it is
            // dominated.
            let dominated_before = list
                .iter()
                .filter(|&&z| p.return_at[z].is_some_and(|r| r < p.call_at[x]))
                .filter(|&&z| matches!(p.ops[z].kind, Kind::Write | Kind::Cas))
                .map(|&z| p.call_at[z])
                .max();
            failed[x] = list
                .iter()
                .copied()
                .filter(|&y| p.call_at[y] < end)
                .filter(|&y| sets(p.ops[y].kind, p.ops[y].a, p.ops[y].b) != Some(o.a))
                .filter(|&y| match (p.return_at[y], dominated_before) {
                    (Some(r), Some(d)) => r > d,
                    _ => true,
                })
                .collect();
        }
        Closure { setters, failed }
    }

    /// Adds to `keep` what its ops need, until it is closed.
    fn close(&self, p: &Problem, keep: &mut [bool]) {
        let n = p.ops.len();
        // How many of each value's setters (in invocation order) are in.
        let mut done: FxHashMap<(u32, u32), usize> = FxHashMap::default();
        let mut until = vec![0usize; n];
        loop {
            latest_needs(p, keep, &mut until);
            let mut added = false;
            for x in 0..n {
                if !keep[x] {
                    continue;
                }
                let o = &p.ops[x];
                if let Some(v) = needs(o.kind, o.a) {
                    if let Some(list) = self.setters.get(&(o.key, v)) {
                        let upto = list.partition_point(|&y| p.call_at[y] < until[x]);
                        let from = done.entry((o.key, v)).or_insert(0);
                        if upto > *from {
                            for &y in &list[*from..upto] {
                                if !keep[y] {
                                    keep[y] = true;
                                    added = true;
                                }
                            }
                            *from = upto;
                        }
                    }
                }
                for &y in &self.failed[x] {
                    if !keep[y] {
                        keep[y] = true;
                        added = true;
                    }
                }
            }
            if !added {
                return;
            }
        }
    }
}

/// For each op of `keep`, writes into `until` the position before which the
/// op that set the value it needs was invoked: its completion, or for an
/// indeterminate `cas` (which matters only as the op that set the value some
/// kept op needs) the latest such bound of the kept ops that may need its
/// value (reads and `cas` expecting it, failed `cas` expecting another).
fn latest_needs(p: &Problem, keep: &[bool], until: &mut [usize]) {
    let mut need: FxHashMap<(u32, u32), usize> = FxHashMap::default();
    // key -> the two latest completions of failed cas ops with distinct
    // expected values: (end, old).
    let mut failed: FxHashMap<u32, [(usize, u32); 2]> = FxHashMap::default();
    let mut maybes = Vec::new();
    for (i, o) in p.ops.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        until[i] = p.return_at[i].unwrap_or(0);
        match o.kind {
            Kind::Read | Kind::Cas => {
                let e = need.entry((o.key, o.a)).or_insert(0);
                *e = (*e).max(until[i]);
            }
            Kind::CasFailed => {
                let top = failed.entry(o.key).or_insert([(0, u32::MAX); 2]);
                let here = (until[i], o.a);
                if here.1 == top[0].1 {
                    top[0].0 = top[0].0.max(here.0);
                } else if here.0 > top[0].0 {
                    top[1] = top[0];
                    top[0] = here;
                } else if here.0 > top[1].0 {
                    top[1] = here;
                }
            }
            Kind::CasMaybe => maybes.push(i),
            _ => {}
        }
    }
    // Chains of indeterminate cas ops: propagate until nothing grows.
    loop {
        let mut grew = false;
        for &x in &maybes {
            let o = &p.ops[x];
            let by_reads = need.get(&(o.key, o.b)).copied().unwrap_or(0);
            let by_failed =
                failed.get(&o.key).map_or(
                    0,
                    |top| {
                        if top[0].1 != o.b {
                            top[0].0
                        } else {
                            top[1].0
                        }
                    },
                );
            let e = by_reads.max(by_failed);
            if e > until[x] {
                until[x] = e;
                grew = true;
            }
            let mine = need.entry((o.key, o.a)).or_insert(0);
            if until[x] > *mine {
                *mine = until[x];
                grew = true;
            }
        }
        if !grew {
            return;
        }
    }
}

/// Shrinks the non-linearizable problem `p` (its ops that `live` selects)
/// around the op its search was `stuck` at. `verdict_steps` (what finding
/// the violation took) scales the effort: each trial may take 4 times that
/// (at least 10 000 steps), the whole shrinking 50 times that (between
/// 50 000 and 2 million steps).
pub(crate) fn shrink<M: Machine>(
    p: &Problem,
    m: &mut M,
    live: &[bool],
    stuck: &Stuck,
    verdict_steps: u64,
) -> Shrunk {
    let shrink_steps = (verdict_steps * 50).clamp(50_000, 2_000_000);
    let trial_steps = (verdict_steps * 4).max(10_000);
    shrink_within(p, m, live, stuck, verdict_steps, trial_steps, shrink_steps)
}

/// [`shrink`] with the step limits given: each trial's, and the whole
/// shrinking's.
pub(crate) fn shrink_within<M: Machine>(
    p: &Problem,
    m: &mut M,
    live: &[bool],
    stuck: &Stuck,
    verdict_steps: u64,
    trial_steps: u64,
    shrink_steps: u64,
) -> Shrunk {
    let blocked = stuck.blocked as usize;
    let all_events = events(p);
    let n = p.ops.len();
    let kv = p.ops.iter().any(|o| o.kind == Kind::Append);
    // Closed sets for register problems; the providers rule otherwise.
    let register = p.all_register();
    let closure = register.then(|| Closure::new(p, live));
    let mut spent = Spent::default();
    let mut search = Search::default();
    // Did some trial run out of budget (so a "linearizable" answer was
    // really "unknown")?
    let mut gave_up = false;
    // A trial: the op its search could not place if the set is not
    // linearizable (for kv: only if that is the blocked op).
    let mut trial = |keep: &[bool], gave_up: &mut bool, m: &mut M| -> Option<usize> {
        let left = shrink_steps.saturating_sub(spent.steps);
        if left == 0 {
            *gave_up = true;
            return None;
        }
        let budget = Budget {
            max_steps: spent.steps + left.min(trial_steps),
            max_cache_bytes: 64 << 20,
        };
        search.reset(p, &all_events, Some(keep), m);
        match search.run(p, m, &budget, &mut spent) {
            Outcome::Violation(s) if register || s.blocked as usize == blocked => {
                Some(s.blocked as usize)
            }
            Outcome::Violation(_) | Outcome::Linearizable => None,
            Outcome::OutOfBudget(_) => {
                *gave_up = true;
                None
            }
        }
    };
    // Makes `keep` a set that may be tried: closed and pruned (register),
    // or with the providers of observed values among `removed` put back
    // (kv; `None`: among all ops).
    let normalize = |keep: &mut [bool], removed: Option<&[usize]>, m: &M| match &closure {
        Some(c) => {
            c.close(p, keep);
            prune(p, keep);
        }
        None => loop {
            let mut restored = false;
            let all: Vec<usize>;
            let candidates = match removed {
                Some(r) => r,
                None => {
                    all = (0..n).collect();
                    &all
                }
            };
            for &i in candidates {
                if !keep[i] && !removable(p, m.values(), kv, keep, i) {
                    keep[i] = true;
                    restored = true;
                }
            }
            if !restored {
                break;
            }
        },
    };
    // Step 1: the first of these starting sets that is not linearizable.
    // First (for costly verdicts), windows of the 2, 4, 8, ... ops nearest
    // the blocked op (in real-time order) among the ops of its key invoked
    // before it completed: a violation is usually local, and re-checking a
    // small window is far cheaper than re-checking the whole history. Then
    // the blocked op's key (for a history checked without splitting by key:
    // the violation is usually within one key) and, within that, the ops
    // invoked before the blocked op completed.
    let mut keep = live.to_vec();
    let mut found = blocked;
    let anchor = p.call_at.get(blocked).copied().unwrap_or(0);
    let bkey = p.ops.get(blocked).map(|o| o.key);
    let same_key: Vec<bool> = (0..n)
        .map(|i| live[i] && Some(p.ops[i].key) == bkey)
        .collect();
    let early: Option<Vec<bool>> = p
        .return_at
        .get(blocked)
        .copied()
        .flatten()
        .map(|t| (0..n).map(|i| same_key[i] && p.call_at[i] < t).collect());
    let mut starts: Vec<Vec<bool>> = Vec::new();
    // Windows only when re-checking the whole history is costly: from the
    // whole history, shrinking tends to end on smaller sets.
    if blocked < n && verdict_steps > WINDOWS_ABOVE_STEPS {
        let base = early.as_ref().unwrap_or(&same_key);
        let mut near: Vec<usize> = (0..n).filter(|&i| i != blocked && base[i]).collect();
        near.sort_by_key(|&i| p.call_at[i].abs_diff(anchor));
        let mut k = 2;
        while k < near.len() {
            let mut w = vec![false; n];
            w[blocked] = true;
            for &i in &near[..k] {
                w[i] = true;
            }
            normalize(&mut w, None, m);
            starts.push(w);
            k *= 2;
        }
    }
    starts.extend(early);
    starts.push(same_key);
    for mut start in starts {
        normalize(&mut start, None, m);
        if start == keep {
            continue;
        }
        let mut ignored = false;
        if let Some(b) = trial(&start, &mut ignored, m) {
            keep = start;
            found = b;
            break;
        }
    }
    // Candidates for removal, farthest from the blocked op first (for kv,
    // the blocked op stays).
    let mut order: Vec<usize> = (0..n)
        .filter(|&i| keep[i] && (register || i != blocked))
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(p.call_at[i].abs_diff(anchor)));
    // Step 2: chunks.
    let mut chunk = order.len() / 2;
    while chunk > 1 && !gave_up {
        let mut start = 0;
        while start < order.len() && !gave_up {
            let part = &order[start..(start + chunk).min(order.len())];
            start += chunk;
            let removed: Vec<usize> = part.iter().copied().filter(|&i| keep[i]).collect();
            if removed.is_empty() {
                continue;
            }
            let mut t = keep.clone();
            for &i in &removed {
                t[i] = false;
            }
            normalize(&mut t, Some(&removed), m);
            if t == keep {
                continue;
            }
            if let Some(b) = trial(&t, &mut gave_up, m) {
                keep = t;
                found = b;
            }
        }
        chunk /= 2;
    }
    // Step 3: single ops, until a pass drops nothing.
    let mut minimal = false;
    while !gave_up {
        let mut changed = false;
        for &i in &order {
            if !keep[i] {
                continue;
            }
            let mut t = keep.clone();
            t[i] = false;
            normalize(&mut t, Some(&[i]), m);
            if t == keep {
                continue;
            }
            if let Some(b) = trial(&t, &mut gave_up, m) {
                keep = t;
                found = b;
                changed = true;
            }
            if gave_up {
                break;
            }
        }
        if !changed {
            minimal = !gave_up;
            break;
        }
    }
    let ops: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
    if gave_up && ops.len() > stuck.prefix.len() + 1 {
        let mut ops: Vec<usize> = stuck.prefix.iter().map(|&i| i as usize).collect();
        if blocked < n {
            ops.push(blocked);
        }
        ops.sort_unstable();
        return Shrunk {
            ops,
            blocked,
            minimal: false,
            frontier: true,
        };
    }
    Shrunk {
        ops,
        blocked: found,
        minimal,
        frontier: false,
    }
}

/// Rule 4: may op `x` leave the set without orphaning an observed value?
/// `kv`: whether the problem has appends (is a kv history).
fn removable(p: &Problem, values: &Values, kv: bool, keep: &[bool], x: usize) -> bool {
    let ox = &p.ops[x];
    let provided = match ox.kind {
        Kind::Write | Kind::Append => ox.a,
        Kind::Cas | Kind::CasMaybe => ox.b,
        Kind::Read | Kind::CasFailed => return true,
        _ => return super::structures::removable(p, values, keep, x),
    };
    if provided == 0 {
        return true;
    }
    let kept = |i: usize| i != x && keep[i] && p.ops[i].key == ox.key;
    let observed = (0..p.ops.len()).filter(|&i| kept(i)).any(|i| {
        let o = &p.ops[i];
        match (ox.kind, o.kind) {
            (Kind::Append, Kind::Read) | (Kind::Write, Kind::Read)
                if kv && values.len(provided) < values.len(o.a) =>
            {
                values.text(o.a).contains(&*values.text(provided))
            }
            (_, Kind::Read) | (_, Kind::Cas) => o.a == provided,
            _ => false,
        }
    });
    if !observed {
        return true;
    }
    (0..p.ops.len()).filter(|&i| kept(i)).any(|i| {
        let o = &p.ops[i];
        o.kind == ox.kind
            && match o.kind {
                Kind::Write | Kind::Append => o.a == provided,
                _ => o.b == provided,
            }
    })
}
