//! Counterexamples: a small set of ops that is not linearizable by itself.
//!
//! When the search fails it reports the deepest point it reached: the
//! longest linearizable prefix and the op whose completion it could not get
//! past (the *blocked* op). That is cheap and already tells a database
//! engineer where to look, but the prefix can hold the whole history. So we
//! then shrink the set of ops greedily:
//!
//! 1. When the verdict took many steps (so that re-checking the whole
//!    history is costly), start from the smallest window of ops around the
//!    blocked op (2, 4, 8, ... ops nearest to it in real-time order, plus
//!    the providers rule 4 requires) that is not linearizable by itself.
//!    Else (or if no window is) start from the ops invoked before the
//!    blocked op completed, if that sub-history is already not linearizable
//!    (later ops cannot be what makes the prefix fail... usually; we check),
//!    else from all ops of the key. (For a history checked without
//!    splitting by key, "the key" is the blocked op's key, if its ops alone
//!    are not linearizable, else all ops.)
//! 2. Drop ops in chunks, farthest from the blocked op first: halves of the
//!    candidates, then quarters, ... down to single ops (as in Zeller's
//!    delta debugging), keeping a drop if the rest is still not
//!    linearizable. Most ops of a long history are far from the violation
//!    and leave in a few big chunks, so this takes far fewer re-checks than
//!    trying ops one by one, and each re-check is on a smaller set.
//! 3. Then try to drop single ops, pass after pass, until a whole pass drops
//!    nothing.
//! 4. Never drop an op that provides a value a kept op observes (the write
//!    of the value a kept read returned, an append whose text a kept get
//!    contains): otherwise the "counterexample" would blame a read for
//!    returning a value nobody wrote, which is not what went wrong. (A chunk
//!    whose removal would orphan such a value keeps the providers.)
//! 5. Keep the failure the same: a trial counts as "still not
//!    linearizable" only if its search is stuck at the same blocked op.
//!    Values repeat, so without this a shrink could drop the write a cas
//!    really saw, keep an earlier write of the same value as its provider,
//!    and end on a set that fails for a reason the history never had (two
//!    compare-and-sets in a row that cannot both succeed) while the real
//!    culprit, a stale read, only tags along.
//!
//! What comes out is a set of ops from the real history that is not
//! linearizable on its own and from which no single op can be removed (under
//! rule 4) without making it linearizable: it is marked `minimal` only when
//! a last pass of step 3 tried every op and dropped none. It is not
//! guaranteed to be the smallest such set. Each trial is a budgeted search
//! (one [`Search`] whose buffers are reused); if the budget for shrinking
//! runs out, the set found so far is reported, marked not minimal.

use super::compile::Problem;
use super::model::{Kind, Machine, Values};
use super::search::{events, Outcome, Search, Spent};
use super::Budget;

/// Verdicts that took more steps than this start shrinking from windows.
const WINDOWS_ABOVE_STEPS: u64 = 10_000;

/// The shrunk set: op ids into the problem, and whether shrinking finished.
pub(crate) struct Shrunk {
    pub ops: Vec<usize>,
    pub minimal: bool,
}

/// Shrinks the non-linearizable problem `p` around its `blocked` op.
/// `verdict_steps` (what finding the violation took) scales the effort:
/// each trial may take 4 times that (at least 10 000 steps), the whole
/// shrinking 50 times that (between 50 000 and 2 million steps).
pub(crate) fn shrink<M: Machine>(
    p: &Problem,
    m: &mut M,
    blocked: usize,
    verdict_steps: u64,
) -> Shrunk {
    let shrink_steps = (verdict_steps * 50).clamp(50_000, 2_000_000);
    let trial_steps = (verdict_steps * 4).max(10_000);
    let all_events = events(p);
    let n = p.ops.len();
    let mut spent = Spent::default();
    let mut search = Search::default();
    // Did some trial run out of budget (so a "linearizable" answer was
    // really "unknown")?
    let mut gave_up = false;
    let mut trial = |keep: &[bool], gave_up: &mut bool, m: &mut M| -> bool {
        let left = shrink_steps.saturating_sub(spent.steps);
        if left == 0 {
            *gave_up = true;
            return false;
        }
        let budget = Budget {
            max_steps: spent.steps + left.min(trial_steps),
            max_cache_bytes: 64 << 20,
        };
        search.reset(p, &all_events, Some(keep), m);
        match search.run(p, m, &budget, &mut spent) {
            // The same failure, not another one the removal made up: with
            // values that repeat, dropping the write a later op really
            // read can leave an earlier write of the same value as its
            // only provider, and an unrelated pair of ops then fails first.
            Outcome::Violation(s) => s.blocked as usize == blocked,
            Outcome::Linearizable => false,
            Outcome::OutOfBudget(_) => {
                *gave_up = true;
                false
            }
        }
    };
    // Step 1: the first of these starting sets that is not linearizable.
    // First (for costly verdicts), windows of the 2, 4, 8, ... ops nearest the blocked op (in
    // real-time order) among the ops of its key invoked before it completed,
    // plus the providers rule 4 requires: a violation is usually local, and
    // re-checking a small window is far cheaper than re-checking the whole
    // history. Then the blocked op's key (for a history checked without
    // splitting by key: the violation is usually within one key) and,
    // within that, the ops invoked before the blocked op completed.
    let kv = p.ops.iter().any(|o| o.kind == Kind::Append);
    let mut keep = vec![true; n];
    let anchor = p.call_at.get(blocked).copied().unwrap_or(0);
    let bkey = p.ops.get(blocked).map(|o| o.key);
    let same_key: Vec<bool> = (0..n).map(|i| Some(p.ops[i].key) == bkey).collect();
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
            // Add the providers of values the window's ops observe.
            loop {
                let missing: Vec<usize> = (0..n)
                    .filter(|&i| !w[i] && !removable(p, m.values(), kv, &w, i))
                    .collect();
                if missing.is_empty() {
                    break;
                }
                for i in missing {
                    w[i] = true;
                }
            }
            starts.push(w);
            k *= 2;
        }
    }
    starts.extend(early);
    starts.push(same_key);
    for start in starts {
        if start == keep {
            continue;
        }
        let mut ignored = false;
        if trial(&start, &mut ignored, m) {
            keep = start;
            break;
        }
    }
    // Candidates for removal, farthest from the blocked op first.
    let mut order: Vec<usize> = (0..n).filter(|&i| i != blocked && keep[i]).collect();
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
            for &i in &removed {
                keep[i] = false;
            }
            // Put back providers of observed values, until none is orphaned.
            loop {
                let mut restored = false;
                for &i in &removed {
                    if !keep[i] && !removable(p, m.values(), kv, &keep, i) {
                        keep[i] = true;
                        restored = true;
                    }
                }
                if !restored {
                    break;
                }
            }
            if removed.iter().all(|&i| keep[i]) {
                continue;
            }
            if !trial(&keep, &mut gave_up, m) {
                for &i in &removed {
                    keep[i] = true;
                }
            }
        }
        chunk /= 2;
    }
    // Step 3: single ops, until a pass drops nothing.
    let mut minimal = false;
    while !gave_up {
        let mut changed = false;
        for &i in &order {
            if !keep[i] || !removable(p, m.values(), kv, &keep, i) {
                continue;
            }
            keep[i] = false;
            if trial(&keep, &mut gave_up, m) {
                changed = true;
            } else {
                keep[i] = true;
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
    Shrunk {
        ops: (0..n).filter(|&i| keep[i]).collect(),
        minimal,
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
