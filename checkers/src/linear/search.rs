//! The search: Wing & Gong's backtracking with Lowe's memoisation.
//!
//! Events (invocations, and completions of ops that have one) form a doubly
//! linked list in real-time order. An op is a *candidate* if its invocation
//! comes before the first completion still in the list: nothing that must
//! precede it is still unlinearized. The search linearizes a candidate whose
//! step is legal in the current state, removes ("lifts") its events from the
//! list and starts over from the head; when it meets a completion first, the
//! op of that completion cannot be linearized at this point, so it backtracks
//! (pops the last choice, re-inserts its events, and tries the next
//! candidate). The history is linearizable when every op that has a
//! completion has been linearized: ops without one (info, pending) are always
//! legal and can go last, or be left out.
//!
//! **Memoisation.** Before entering a configuration (linearized set, state)
//! the search inserts it into a [`Cache`]; a configuration already there has
//! been (or is being) explored without success, so it is skipped. An entry
//! stores only the window of the set that is not yet decided (in bit order,
//! all ops before it linearized, none after it), so entries do not grow with the
//! history (see the `cache` module).
//!
//! **Pruning: read-only ops are taken greedily.** On entering a new
//! configuration, if some candidate `r` never changes the state (`Read`,
//! `CasFailed`) and is legal in the current state `s`, the search linearizes
//! `r` next *without branching*: if `r`'s branch fails, the configuration
//! fails and the search backtracks past it. Proof that this loses nothing:
//! suppose a valid completion `o1 … ok r …` of the current configuration
//! exists. Move `r` to the front. `r` is legal in `s` and leaves `s`
//! unchanged, so `o1 … ok` see the same states as before and stay legal.
//! Real-time order still holds: the only constraints `r` can break by moving
//! earlier are "x before r" for an x that completed before `r` was invoked;
//! since `r` is a candidate, every such x is already linearized. So a valid
//! completion starting with `r` exists whenever any valid completion does,
//! and trying the alternatives to `r` would be wasted work. (The same
//! argument fails for ops that change the state, which are branched on.)
//!
//! **Pruning: unobservable indeterminate writes are left out** ([`prune`]).
//! An op with no return (an `info` or pending `write v`, or `cas [o v]`) whose
//! value `v` no op that may come after it can observe (no read of `v`, no
//! `cas` expecting `v`, that completes after its invocation or never), while
//! no failed `cas` that may come after it expects another value, changes
//! nothing a verdict depends on: take a linearization that contains it and
//! drop it. Until the next op that sets the value, the state was `v`; the
//! ops linearized there were legal in `v`, so none of them reads a value or
//! compares (ok `cas`), none is a failed `cas` (there is none after it), and
//! an indeterminate `cas` there did not fire (it does not expect `v`): move
//! it to the end, where it is always legal and changes nothing observed.
//! What remains sees the same states as before. Conversely, an op with no
//! return can always be put last. So the history is linearizable with the
//! op iff without it; a test run's clients that a partition cut off leave
//! many such writes on one key, and each would multiply the orders the
//! search tries. Register ops only (an append's effect is in every later
//! value; the other models' ops are not covered by the argument).
//!
//! **Indeterminate ops that change nothing, or repeat another, are not
//! tried.** An op with no return that would leave the state as it is (a
//! write of the value already there, an indeterminate `cas` that does not
//! fire) is skipped: dropping it from a linearization changes no state and
//! no real-time constraint (nothing has to follow it). Of several ops with
//! no return that are the same op (same kind, key and values), only the
//! earliest-invoked one not yet linearized is tried: it is a candidate
//! whenever a later twin is, and exchanging two twins in a linearization
//! keeps it valid. And values that no op of the search can observe (no read
//! returns them, no `cas` of any outcome expects them) are one value to the
//! search: every op is legal, and does the same, in any of them; so writes
//! of such values (which a partition's cut-off clients leave by the dozen,
//! each of its own value) become twins. The state reported after the longest
//! prefix is recomputed with the real values.
//!
//! **The longest prefix without copying.** The search remembers the
//! deepest configuration it entered (for the counterexample). Copying the
//! stack there on every new depth would cost the depth each time, which is
//! quadratic in a long history that the search walks down op by op. So the
//! recorded prefix is updated, not copied: it remembers how deep the stack
//! still agrees with it (a pop below that depth lowers the mark), and a new
//! deepest configuration copies only the ops above the mark. Each push is
//! copied at most once before it is popped, so the total is linear in the
//! steps taken.
//!
//! **Passing over is not a step.** Ops with no return stay in the list from
//! their invocation on (a crashed op may take effect at any time), so every
//! scan of a long key passes the crashed ops of its whole past. Those that
//! cannot fire in the current state, change nothing, or wait for an
//! earlier twin are passed without counting a step: counted, a key with
//! thousands of them spent the budget on nothing (1 M ops with 5 % of
//! writes crashed took over 100 M steps and came back unknown; now 1.6 M).
//!
//! **Budget.** Every step tried counts; the search gives up, with the
//! verdict unknown, when the step limit is reached or the cache outgrows its
//! byte limit.
//!
//! **Resumable.** A [`Search`] keeps its whole position (the linked list,
//! the stack of choices, the memo) between calls to [`Search::run`]: when
//! the step limit of a round is reached it stops *before* taking the step,
//! and the next call continues from exactly there, with a larger limit. So
//! deciding keys in rounds of growing step limits (see `race` in the module
//! root) costs no repeated work. (A limit reached in the middle of the
//! greedy read-only scan makes the resumed search redo that scan from the
//! head; the scan is deterministic, so it takes the same decision.)

use super::cache::{Cache, Window};
use super::compile::Problem;
use super::fxhash::splitmix64;
use super::fxhash::FxHashMap;
use super::model::{COp, Kind, Machine};
use super::Budget;

/// What the search found.
pub(crate) enum Outcome {
    /// A linearization exists.
    Linearizable,
    /// None exists; `Stuck` says how far the search got.
    Violation(Stuck),
    /// The budget ran out first; the string says which limit.
    OutOfBudget(&'static str),
}

/// The deepest point the search reached in a non-linearizable history.
#[derive(Clone)]
pub(crate) struct Stuck {
    /// The longest linearizable prefix found, in linearization order (op ids).
    pub prefix: Vec<u32>,
    /// The model state after it.
    pub state: u32,
    /// The op whose completion the search could not get past there.
    pub blocked: u32,
}

/// Resources used, accumulated over several searches.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Spent {
    pub steps: u64,
    pub peak_cache_entries: usize,
    pub peak_cache_bytes: usize,
}

#[derive(Clone, Copy)]
struct Frame {
    node: u32,
    state: u32,
    forced: bool,
}

const NONE: u32 = u32::MAX;

/// The events of a problem in real-time order, computed once and shared by
/// every search over (subsets of) it: `(op, is_call)`.
pub(crate) fn events(p: &Problem) -> Vec<(u32, bool)> {
    let mut ev: Vec<(usize, u32, bool)> = Vec::with_capacity(2 * p.ops.len());
    for i in 0..p.ops.len() {
        ev.push((p.call_at[i], i as u32, true));
        if let Some(r) = p.return_at[i] {
            ev.push((r, i as u32, false));
        }
    }
    ev.sort_unstable_by_key(|e| e.0);
    ev.into_iter().map(|(_, op, c)| (op, c)).collect()
}

/// A search in progress over one problem (or a subset of its ops): see the
/// module docs. [`Search::reset`] (re)starts it, reusing its buffers;
/// [`Search::run`] runs it until a verdict or the budget's limit, and may be
/// called again after a step-limit stop to continue.
#[derive(Default)]
pub(crate) struct Search {
    /// Doubly linked list of events; node 0 is the head, the last the tail.
    next: Vec<u32>,
    prev: Vec<u32>,
    /// For call nodes: the op; NONE for head, tail and return nodes.
    call_op: Vec<u32>,
    /// For call nodes: their return node, or 0 if the op has none.
    ret_node: Vec<u32>,
    /// For returns: which op. For blocked-op reporting.
    ret_op: Vec<u32>,
    call_node_of: Vec<u32>,
    zobrist: Vec<u64>,
    /// The linearized set: op `i` is bit `bit_of[i]`. Ops with a
    /// completion come first (words `..split`), ops without one after
    /// (words `split..`), each in invocation order: the two regions of the
    /// `cache` module's docs.
    bits: Vec<u64>,
    bit_of: Vec<u32>,
    split: usize,
    /// The windows of the two regions of `bits`, which a cache entry stores.
    window: [Window; 2],
    hash: u64,
    cache: Cache,
    stack: Vec<Frame>,
    state: u32,
    remaining: usize,
    /// The deepest configuration entered so far (see "The longest prefix"
    /// in the module docs): its prefix is `best[..best_depth]`, of which
    /// the first `agree` ops are still the bottom of `stack`.
    best: Best,
    cursor: u32,
    fresh: bool,
    /// The verdict, once reached (a finished search returns it again).
    done: Option<Done>,
    /// The ops as the search sees them: unobservable values merged.
    ops: Vec<COp>,
    /// For an op with no return: its earliest-invoked kept twin's
    /// predecessor in invocation order (the previous kept op with no return
    /// that is the same op), or NONE.
    twin: Vec<u32>,
}

/// The deepest configuration the search entered, kept incrementally.
#[derive(Default)]
struct Best {
    /// Its prefix, in linearization order (op ids).
    prefix: Vec<u32>,
    /// How many of `prefix`'s first ops are the ops of the bottom of the
    /// search's stack: the stack has not been popped below this depth since
    /// the prefix was recorded.
    agree: usize,
    /// The state after it (merged values).
    state: u32,
    /// The op of the first completion still in the list there.
    blocked: u32,
    /// Whether any configuration was recorded yet.
    set: bool,
}

impl Best {
    fn reset(&mut self) {
        self.prefix.clear();
        self.agree = 0;
        self.state = 0;
        self.blocked = 0;
        self.set = false;
    }
}

#[derive(Clone, Copy)]
enum Done {
    Linearizable,
    Violation,
    CacheFull,
}

impl Search {
    /// Prepares a search of the ops of `p` that `keep` selects (all if
    /// `None`); `all_events` must be [`events`]`(p)`.
    pub(crate) fn reset<M: Machine>(
        &mut self,
        p: &Problem,
        all_events: &[(u32, bool)],
        keep: Option<&[bool]>,
        m: &mut M,
    ) {
        let n = p.ops.len();
        let kept = |i: usize| keep.is_none_or(|k| k[i]);
        self.call_op.clear();
        self.ret_node.clear();
        self.ret_op.clear();
        self.call_node_of.clear();
        self.call_node_of.resize(n, 0);
        // Node 0: the head.
        self.call_op.push(NONE);
        self.ret_node.push(0);
        self.ret_op.push(NONE);
        self.remaining = 0;
        for &(op, is_call) in all_events {
            if !kept(op as usize) {
                continue;
            }
            let node = self.call_op.len() as u32;
            if is_call {
                self.call_op.push(op);
                self.ret_node.push(0);
                self.ret_op.push(NONE);
                self.call_node_of[op as usize] = node;
            } else {
                self.call_op.push(NONE);
                self.ret_node.push(0);
                self.ret_op.push(op);
                self.ret_node[self.call_node_of[op as usize] as usize] = node;
                self.remaining += 1;
            }
        }
        // The tail.
        self.call_op.push(NONE);
        self.ret_node.push(0);
        self.ret_op.push(NONE);
        let tail = self.call_op.len() - 1;
        self.next.clear();
        self.next.extend(1..=tail as u32 + 1);
        self.next[tail] = tail as u32;
        self.prev.clear();
        self.prev
            .extend((0..=tail as u32).map(|x| x.wrapping_sub(1)));
        self.prev[0] = 0;
        if self.zobrist.len() < n {
            let have = self.zobrist.len() as u64;
            self.zobrist
                .extend((have..n as u64).map(|i| splitmix64(i ^ 0xA076_1D64_78BD_642F)));
        }
        let completed = p.return_at.iter().filter(|r| r.is_some()).count();
        self.split = completed.div_ceil(64);
        let (mut a, mut b) = (0, self.split * 64);
        self.bit_of.clear();
        self.bit_of.extend(p.return_at.iter().map(|r| {
            let x = if r.is_some() { &mut a } else { &mut b };
            *x += 1;
            *x as u32 - 1
        }));
        self.bits.clear();
        self.bits
            .resize(self.split + (n - completed).div_ceil(64), 0);
        self.hash = 0;
        // Ops left out of this search count as linearized for the memo: a
        // constant, so configurations compare the same, and the bitset's
        // windows are not held open by ops the search never places.
        for i in (0..n).filter(|&i| !kept(i)) {
            let b = self.bit_of[i] as usize;
            self.bits[b / 64] |= 1 << (b % 64);
        }
        let (lo, hi) = self.bits.split_at(self.split);
        self.window = [Window::of(lo), Window::of(hi)];
        self.cache.reset();
        self.stack.clear();
        self.state = m.init();
        self.best.reset();
        self.cursor = self.next[0];
        self.fresh = true;
        self.canonicalize(p, all_events, keep);
        self.done = if self.remaining == 0 {
            Some(Done::Linearizable)
        } else {
            None
        };
    }

    /// Runs the search until a verdict, or until `spent.steps` would exceed
    /// `budget.max_steps` (then `OutOfBudget("step limit")`, and a later call
    /// with a larger limit continues), or until the cache outgrows
    /// `budget.max_cache_bytes` (final). `p` and `m` must be the ones given
    /// to [`Search::reset`].
    pub(crate) fn run<M: Machine>(
        &mut self,
        p: &Problem,
        m: &mut M,
        budget: &Budget,
        spent: &mut Spent,
    ) -> Outcome {
        if self.done.is_none() {
            self.done = self.explore(m, budget, spent);
            self.record(spent);
        }
        match self.done {
            None => Outcome::OutOfBudget("step limit"),
            Some(Done::Linearizable) => Outcome::Linearizable,
            Some(Done::CacheFull) => Outcome::OutOfBudget("cache memory limit"),
            Some(Done::Violation) => {
                let mut stuck = Stuck {
                    prefix: self.best.prefix.clone(),
                    state: self.best.state,
                    blocked: self.best.blocked,
                };
                stuck.state = self.real_state(p, m, &stuck.prefix);
                Outcome::Violation(stuck)
            }
        }
    }

    /// Fills `ops` (unobservable values merged) and `twin` for the kept ops.
    fn canonicalize(&mut self, p: &Problem, all_events: &[(u32, bool)], keep: Option<&[bool]>) {
        let n = p.ops.len();
        let kept = |i: usize| keep.is_none_or(|k| k[i]);
        self.ops.clear();
        self.ops.extend_from_slice(&p.ops);
        self.twin.clear();
        self.twin.resize(n, NONE);
        if !p.all_register() {
            // Twins only (see below): merging values is proven for
            // register ops.
            self.twins(p, all_events, keep);
            return;
        }
        let mut observed: FxHashMap<(u32, u32), ()> = FxHashMap::default();
        for (i, o) in p.ops.iter().enumerate() {
            if kept(i) && o.kind != Kind::Write {
                observed.insert((o.key, o.a), ());
            }
        }
        // key -> the smallest unobservable value set on it, which stands
        // for them all.
        let mut junk: FxHashMap<u32, u32> = FxHashMap::default();
        for (i, o) in p.ops.iter().enumerate() {
            let set = match o.kind {
                Kind::Write => o.a,
                Kind::Cas | Kind::CasMaybe => o.b,
                _ => continue,
            };
            if kept(i) && !observed.contains_key(&(o.key, set)) {
                let j = junk.entry(o.key).or_insert(set);
                *j = (*j).min(set);
            }
        }
        for (i, o) in self.ops.iter_mut().enumerate() {
            if !kept(i) {
                continue;
            }
            let set = match o.kind {
                Kind::Write => &mut o.a,
                Kind::Cas | Kind::CasMaybe => &mut o.b,
                _ => continue,
            };
            if !observed.contains_key(&(o.key, *set)) {
                *set = junk[&o.key];
            }
        }
        self.twins(p, all_events, keep);
    }

    /// Fills `twin`: for each kept op with no return, the previous kept op
    /// with no return that is the same op (in `ops`), by invocation.
    fn twins(&mut self, p: &Problem, all_events: &[(u32, bool)], keep: Option<&[bool]>) {
        let kept = |i: usize| keep.is_none_or(|k| k[i]);
        let mut last: FxHashMap<COp, u32> = FxHashMap::default();
        for &(op, is_call) in all_events {
            let i = op as usize;
            if !is_call || !kept(i) || p.return_at[i].is_some() {
                continue;
            }
            if let Some(prev) = last.insert(self.ops[i], op) {
                self.twin[i] = prev;
            }
        }
    }

    /// The state after the longest prefix, with the real values.
    fn real_state<M: Machine>(&self, p: &Problem, m: &mut M, prefix: &[u32]) -> u32 {
        let mut s = m.init();
        for &i in prefix {
            s = m.step(s, &p.ops[i as usize]).unwrap_or(s);
        }
        s
    }

    /// Bytes the memo holds.
    pub(crate) fn cache_bytes(&self) -> usize {
        self.cache.bytes()
    }

    fn record(&self, spent: &mut Spent) {
        spent.peak_cache_entries = spent.peak_cache_entries.max(self.cache.len());
        spent.peak_cache_bytes = spent.peak_cache_bytes.max(self.cache.bytes());
    }

    #[inline]
    fn unlink(&mut self, x: u32) {
        let x = x as usize;
        let (a, b) = (self.prev[x], self.next[x]);
        self.next[a as usize] = b;
        self.prev[b as usize] = a;
    }

    #[inline]
    fn relink(&mut self, x: u32) {
        let x = x as usize;
        self.next[self.prev[x] as usize] = x as u32;
        self.prev[self.next[x] as usize] = x as u32;
    }

    #[inline]
    fn flip(&mut self, op_id: usize) {
        let b = self.bit_of[op_id] as usize;
        let w = b / 64;
        self.bits[w] ^= 1 << (b % 64);
        if w < self.split {
            self.window[0].flipped(&self.bits[..self.split], w);
        } else {
            self.window[1].flipped(&self.bits[self.split..], w - self.split);
        }
        self.hash ^= self.zobrist[op_id];
    }

    /// Whether op `op_id` is in the linearized set.
    #[inline]
    fn linearized(&self, op_id: usize) -> bool {
        let b = self.bit_of[op_id] as usize;
        self.bits[b / 64] >> (b % 64) & 1 == 1
    }

    /// Inserts the current linearized set with `state` into the memo; true
    /// if it was not there yet.
    #[inline]
    fn memo(&mut self, state: u32) -> bool {
        let (a, b) = self.bits.split_at(self.split);
        debug_assert!(
            self.bits.len() > 64 || self.window == [Window::of(a), Window::of(b)],
            "the windows are kept up to date"
        );
        self.cache.insert(
            self.hash,
            state,
            self.window[0].part(a),
            self.window[1].part(b),
        )
    }

    /// Linearizes the op of call node `node` (its bit is already set).
    #[inline]
    fn take(&mut self, node: u32, prior: u32, forced: bool) {
        self.stack.push(Frame {
            node,
            state: prior,
            forced,
        });
        self.unlink(node);
        let r = self.ret_node[node as usize];
        if r != 0 {
            self.unlink(r);
            self.remaining -= 1;
        }
    }

    /// The search loop; `None` when the step limit stops it (resumable).
    fn explore<M: Machine>(
        &mut self,
        m: &mut M,
        budget: &Budget,
        spent: &mut Spent,
    ) -> Option<Done> {
        loop {
            // `backtrack` is set when the current configuration has failed.
            let mut backtrack = false;
            if self.fresh {
                self.fresh = false;
                if self.stack.len() > self.best.prefix.len() || !self.best.set {
                    let mut first_ret = self.next[0];
                    while self.call_op[first_ret as usize] != NONE {
                        first_ret = self.next[first_ret as usize];
                    }
                    // Only the ops pushed since the stack last agreed with
                    // the best prefix are copied: linear in total.
                    let b = &mut self.best;
                    b.prefix.truncate(b.agree);
                    b.prefix.extend(
                        self.stack[b.agree..]
                            .iter()
                            .map(|f| self.call_op[f.node as usize]),
                    );
                    b.agree = self.stack.len();
                    b.state = self.state;
                    b.blocked = self.ret_op[first_ret as usize];
                    b.set = true;
                }
                // Greedy read-only candidate (see the module docs).
                let mut e = self.next[0];
                let mut taken = false;
                while self.call_op[e as usize] != NONE {
                    let op_id = self.call_op[e as usize] as usize;
                    let op = &self.ops[op_id];
                    if op.kind.read_only() {
                        spent.steps += 1;
                        if spent.steps > budget.max_steps {
                            // Resume by redoing this scan.
                            self.fresh = true;
                            return None;
                        }
                        if m.step(self.state, op).is_some() {
                            self.flip(op_id);
                            if self.memo(self.state) {
                                if self.cache.bytes() > budget.max_cache_bytes {
                                    return Some(Done::CacheFull);
                                }
                                self.take(e, self.state, true);
                                taken = true;
                            } else {
                                self.flip(op_id);
                                backtrack = true;
                            }
                            break;
                        }
                    }
                    e = self.next[e as usize];
                }
                if taken {
                    if self.remaining == 0 {
                        return Some(Done::Linearizable);
                    }
                    self.fresh = true;
                    continue;
                }
                if !backtrack {
                    self.cursor = self.next[0];
                }
            }
            if !backtrack {
                let cursor = self.cursor;
                let op_id = self.call_op[cursor as usize];
                if op_id != NONE {
                    let op_id = op_id as usize;
                    // An op with no return that changes nothing, or whose
                    // earlier twin is not linearized yet, is not tried (see
                    // the module docs); passing over it is not a step. A
                    // long key's crashed ops stay in the list from their
                    // invocation on, and every scan passes them: counted,
                    // they would spend the budget on nothing.
                    let no_return = self.ret_node[cursor as usize] == 0;
                    let step = m.step(self.state, &self.ops[op_id]).filter(|&s2| {
                        !no_return
                            || (s2 != self.state && {
                                let t = self.twin[op_id];
                                t == NONE || self.linearized(t as usize)
                            })
                    });
                    if no_return && step.is_none() {
                        self.cursor = self.next[cursor as usize];
                        continue;
                    }
                    spent.steps += 1;
                    if spent.steps > budget.max_steps {
                        // Resume by retrying this step.
                        return None;
                    }
                    if let Some(s2) = step {
                        self.flip(op_id);
                        if self.memo(s2) {
                            if self.cache.bytes() > budget.max_cache_bytes {
                                return Some(Done::CacheFull);
                            }
                            let prior = self.state;
                            self.state = s2;
                            self.take(cursor, prior, false);
                            if self.remaining == 0 {
                                return Some(Done::Linearizable);
                            }
                            self.fresh = true;
                            continue;
                        }
                        self.flip(op_id);
                    }
                    self.cursor = self.next[cursor as usize];
                    continue;
                }
            }
            // Backtrack: undo choices until one that has alternatives left.
            loop {
                let Some(f) = self.stack.pop() else {
                    return Some(Done::Violation);
                };
                self.best.agree = self.best.agree.min(self.stack.len());
                let node = f.node as usize;
                let r = self.ret_node[node];
                if r != 0 {
                    self.relink(r);
                    self.remaining += 1;
                }
                self.relink(f.node);
                let op_id = self.call_op[node] as usize;
                self.flip(op_id);
                self.state = f.state;
                if !f.forced {
                    self.cursor = self.next[node];
                    break;
                }
            }
        }
    }
}

/// Clears, in `keep`, the ops that the pruning rule of the module docs
/// leaves out: ops with no return that set a value no op that may follow
/// them observes, while no failed `cas` may follow them. Repeated until
/// nothing more goes (leaving out an indeterminate `cas` can leave the
/// writes of the value it expected unobserved). Register ops only: any
/// other problem is left as it is.
pub(crate) fn prune(p: &Problem, keep: &mut [bool]) {
    if !p.all_register() {
        return;
    }
    // Positions in real-time order; an op with no return ends at +infinity.
    let end = |i: usize| p.return_at[i].unwrap_or(usize::MAX);
    loop {
        // (key, value) -> the latest end of an op observing that value.
        let mut observed: FxHashMap<(u32, u32), usize> = FxHashMap::default();
        // key -> the two latest ends of failed cas ops, with distinct
        // expected values: (end, old).
        let mut failed: FxHashMap<u32, [(usize, u32); 2]> = FxHashMap::default();
        for (i, o) in p.ops.iter().enumerate() {
            if !keep[i] {
                continue;
            }
            match o.kind {
                Kind::Read | Kind::Cas | Kind::CasMaybe => {
                    let e = observed.entry((o.key, o.a)).or_insert(0);
                    *e = (*e).max(end(i));
                }
                Kind::CasFailed => {
                    let top = failed.entry(o.key).or_insert([(0, u32::MAX); 2]);
                    let here = (end(i), o.a);
                    if here.1 == top[0].1 {
                        top[0].0 = top[0].0.max(here.0);
                    } else if here.0 > top[0].0 {
                        top[1] = top[0];
                        top[0] = here;
                    } else if here.0 > top[1].0 {
                        top[1] = here;
                    }
                }
                _ => {}
            }
        }
        let mut changed = false;
        for (i, o) in p.ops.iter().enumerate() {
            if !keep[i] || p.return_at[i].is_some() {
                continue;
            }
            let value = match o.kind {
                Kind::Write => o.a,
                Kind::CasMaybe => o.b,
                _ => continue,
            };
            let start = p.call_at[i];
            let seen = observed.get(&(o.key, value)).is_some_and(|&e| e > start);
            let compared = failed.get(&o.key).is_some_and(|top| {
                let latest = if top[0].1 != value { top[0] } else { top[1] };
                latest.1 != u32::MAX && latest.0 > start
            });
            if !seen && !compared {
                keep[i] = false;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}
