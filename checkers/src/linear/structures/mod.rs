//! Models whose state is more than one value: Knossos's mutex, unordered
//! queue, FIFO queue, set and multi-register, checked by the same search as
//! registers.
//!
//! | model (`--workload`) | ops                                   | state                          |
//! |----------------------|---------------------------------------|--------------------------------|
//! | `mutex`              | `acquire`, `release`                  | free or held                   |
//! | `queue`              | `enqueue v`, `dequeue` → v            | multiset of pending values     |
//! | `fifo-queue`         | `enqueue v`, `dequeue` → v            | sequence of pending values     |
//! | `linear-set`         | `add v`, `read` → the whole set       | set of values                  |
//! | `multi-register`     | `txn [[read k v] [write k v] ...]`    | map of registers (all `null` at first) |
//!
//! Their sequential specifications, step by step (an op that is not legal
//! in a state cannot be linearized there):
//!
//! - **mutex**: `acquire` is legal iff the lock is free, and takes it;
//!   `release` is legal iff it is held, and frees it. As in Knossos, the
//!   holder is not recorded: any process may release a held lock.
//! - **queue**: `enqueue v` adds v; `dequeue` → v is legal iff v is
//!   pending (as often as it was enqueued), and takes one v out.
//! - **fifo-queue**: the same, but `dequeue` → v is legal iff v is at the
//!   front.
//! - **linear-set**: `add v` adds v; `read` → S is legal iff the set is
//!   exactly S (so a read missing an acknowledged add, or holding a value
//!   nobody added, is illegal).
//! - **multi-register**: a `txn` applies its micro-ops in order, atomically:
//!   `[read k v]` is legal iff register k holds v (a `nil` read is no
//!   evidence and always legal, as in Knossos), `[write k v]` sets it.
//!
//! How recorded ops (ok, fail, info, empty dequeues) become these steps is
//! the [`reading`] module's table.
//!
//! # The state is still one `u32`
//!
//! The search (see `search`) keys its memo on (linearized ops, state) and
//! compares states at every step, so a state must be cheap to hash and
//! compare. Each compound state is therefore written as a list of value ids
//! in a canonical order and interned in the [`Lists`](super::lists) table,
//! whose ids are equal iff the lists are:
//!
//! | model          | the list                                              |
//! |----------------|-------------------------------------------------------|
//! | mutex          | none: the state is 0 (free) or 1 (held)               |
//! | queue          | pending value ids, sorted (a multiset: repeats kept)  |
//! | fifo-queue     | pending value ids, front first                        |
//! | linear-set     | value ids, sorted, no repeats                         |
//! | multi-register | `key, value` id pairs, sorted by key; a key not in the list is `null` |
//!
//! Every state starts as list 0, the empty list. A step that changes the
//! state builds the new list once, interns it, and remembers the
//! transition (state id, op) → new state id, so the next time the search
//! tries that op in that state it is one hash-map probe; the memo holds
//! each transition the search ever took, which is bounded by the memo of
//! configurations the search keeps anyway. Steps that only look are not
//! memoised and build nothing: a set `read` was interned as a list when the
//! history was read, so it is legal iff its id equals the state's; a mutex
//! step compares 0 and 1.
//!
//! Reads are read-only ops, taken greedily by the search (its pruning
//! rule): a set `read`, and a `txn` made only of reads.
//!
//! # Keys
//!
//! When every op's value is a `[key value]` tuple (Jepsen's `independent`),
//! each key is its own mutex, queue or set and is checked on its own, as
//! for registers. (A multi-register txn is itself a list, so its history
//! counts as keyed only when each value is `[key [micro-ops...]]` with a
//! key that is not a list.) Unlike registers, these models always split a
//! keyed history: [`Options::split_by_key`](super::Options) is ignored.

pub(crate) mod reading;
#[cfg(test)]
mod tests;

use super::compile::{self, Problem};
use super::fxhash::FxHashMap;
use super::model::{COp, Kind, Machine, Values};
use super::report::{summarize, KeyResult};
use super::search::Spent;
use super::{race, Job, ModelKind, Options};
use crate::history::{History, OpType};
use crate::verdict::CheckResult;
use reading::{READ, WRITE};
use serde_json::Value;

/// The mutex's states.
const FREE: u32 = 0;
const HELD: u32 = 1;

/// The sequential machine of one structured model over interned lists: see
/// the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Structured {
    model: ModelKind,
    values: Values,
    /// (state, op) -> the state after it, or `None` if illegal.
    memo: FxHashMap<(u32, COp), Option<u32>>,
    scratch: Vec<u32>,
    /// The initial state: 0 (free, empty) unless registers start set.
    start: u32,
}

impl Structured {
    /// The machine of `model` over the values a history was compiled into;
    /// a multi-register's registers start as `initial` says (others as
    /// `null`).
    pub(crate) fn new(model: ModelKind, mut values: Values, initial: &Registers) -> Self {
        let mut start = 0;
        if model == ModelKind::MultiRegister {
            let mut pairs: Vec<(u32, u32)> = initial
                .iter()
                .map(|(k, v)| (values.intern(k), values.intern(&v.to_string())))
                .filter(|&(_, v)| v != 0)
                .collect();
            pairs.sort_unstable();
            let flat: Vec<u32> = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
            start = values.lists.intern(&flat);
        }
        Structured {
            model,
            values,
            memo: FxHashMap::default(),
            scratch: Vec::new(),
            start,
        }
    }

    /// The step, computed (not memoised).
    fn compute(&mut self, state: u32, op: &COp) -> Option<u32> {
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        s.extend_from_slice(self.values.lists.get(state));
        let legal = match op.kind {
            Kind::Enqueue if self.model == ModelKind::FifoQueue => {
                s.push(op.a);
                true
            }
            Kind::Enqueue => {
                let at = s.partition_point(|&x| x <= op.a);
                s.insert(at, op.a);
                true
            }
            Kind::Dequeue if self.model == ModelKind::FifoQueue => {
                let front = s.first() == Some(&op.a);
                if front {
                    s.remove(0);
                }
                front
            }
            Kind::Dequeue => match s.binary_search(&op.a) {
                Ok(at) => {
                    s.remove(at);
                    true
                }
                Err(_) => false,
            },
            Kind::DequeueMaybe => {
                if !s.is_empty() {
                    s.remove(0);
                }
                true
            }
            Kind::Add => {
                if let Err(at) = s.binary_search(&op.a) {
                    s.insert(at, op.a);
                }
                true
            }
            Kind::Txn | Kind::TxnRead => {
                let micro = self.values.lists.get(op.a);
                micro.chunks_exact(3).all(|m| {
                    let (tag, k, v) = (m[0], m[1], m[2]);
                    let at = pair_index(&s, k);
                    match (tag, at) {
                        (READ, Ok(i)) => s[2 * i + 1] == v,
                        // Absent: null, which is value id 0.
                        (READ, Err(_)) => v == 0,
                        // A register holding null is left out of the
                        // list, so that each state has one list.
                        (_, Ok(i)) if v == 0 => {
                            s.drain(2 * i..2 * i + 2);
                            true
                        }
                        (_, Ok(i)) => {
                            s[2 * i + 1] = v;
                            true
                        }
                        (_, Err(_)) if v == 0 => true,
                        (_, Err(i)) => {
                            s.splice(2 * i..2 * i, [k, v]);
                            true
                        }
                    }
                })
            }
            _ => false,
        };
        let r = legal.then(|| {
            if op.kind.read_only() {
                state
            } else {
                self.values.lists.intern(&s)
            }
        });
        self.scratch = s;
        r
    }
}

/// Where key `k` is among the sorted `key, value` pairs of `s` (as
/// `binary_search` answers: found at, or would be inserted at).
fn pair_index(s: &[u32], k: u32) -> Result<usize, usize> {
    let (mut lo, mut hi) = (0, s.len() / 2);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match s[2 * mid].cmp(&k) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

impl Machine for Structured {
    fn init(&mut self) -> u32 {
        // FREE, the empty list, or the registers' initial values.
        self.start
    }

    #[inline]
    fn step(&mut self, state: u32, op: &COp) -> Option<u32> {
        match op.kind {
            Kind::Acquire => (state == FREE).then_some(HELD),
            Kind::Release => (state == HELD).then_some(FREE),
            Kind::ReadSet => (state == op.a).then_some(state),
            _ => {
                if let Some(&r) = self.memo.get(&(state, *op)) {
                    return r;
                }
                let r = self.compute(state, op);
                self.memo.insert((state, *op), r);
                r
            }
        }
    }

    fn describe(&self, state: u32) -> String {
        let text = |id: u32| self.values.text(id).into_owned();
        if self.model == ModelKind::Mutex {
            return if state == HELD { "held" } else { "free" }.into();
        }
        let list = self.values.lists.get(state);
        match self.model {
            ModelKind::MultiRegister => {
                let pairs: Vec<String> = list
                    .chunks_exact(2)
                    .map(|kv| format!("{}={}", text(kv[0]), text(kv[1])))
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }
            ModelKind::LinearSet => {
                let items: Vec<String> = list.iter().map(|&v| text(v)).collect();
                format!("#{{{}}}", items.join(", "))
            }
            _ => {
                let items: Vec<String> = list.iter().map(|&v| text(v)).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }

    fn values(&self) -> &Values {
        &self.values
    }
}

/// Whether the history's values are `[key value]` tuples to split by. For
/// a multi-register history, a txn's list of micro-ops is not a tuple: its
/// ops are keyed only when each is `[key [micro-ops...]]` with a key that
/// is not itself a list.
fn keyed(history: &History, model: ModelKind) -> bool {
    compile::is_keyed(history)
        && (model != ModelKind::MultiRegister
            || history
                .client_ops()
                .filter(|o| o.kind == OpType::Invoke)
                .all(|o| {
                    matches!(o.value.as_array().map(Vec::as_slice),
                        Some([k, Value::Array(_)]) if !k.is_array())
                }))
}

/// A multi-register's initial values: key (as [`crate::keyed::key_text`]
/// writes it) → value.
pub type Registers = serde_json::Map<String, Value>;

/// [`super::check_with`] for the structured models; `initial` is the
/// multi-register's initial values (others ignore it).
pub(super) fn check_with(
    history: &History,
    model: ModelKind,
    options: &Options,
    initial: &Registers,
) -> CheckResult {
    let keyed = keyed(history, model);
    let mut spent = Spent::default();
    let budget = options.budget;
    let mut jobs = Vec::new();
    let mut results = Vec::new();
    if keyed {
        for (key, compiled) in compile::compile_by_key(history, model, "null", options.reading) {
            match compiled {
                Ok((p, values)) => jobs.push(Job::new(
                    p,
                    Structured::new(model, values, initial),
                    Some(key),
                )),
                Err(e) => results.push(KeyResult::model_error(Some(key), e)),
            }
        }
    } else {
        let mut values = Values::new("null");
        match compile::compile(
            history,
            model,
            &mut values,
            false,
            None,
            &mut Vec::new(),
            options.reading,
        ) {
            Ok(p) => jobs.push(Job::new(p, Structured::new(model, values, initial), None)),
            Err(e) => results.push(KeyResult::model_error(None, e)),
        }
    }
    results.extend(race(
        history,
        jobs,
        &budget,
        &mut spent,
        options.counterexample,
    ));
    summarize(model, keyed, results, spent)
}

/// Rule 4 of the counterexample shrink for the structured kinds: may op `x`
/// leave the kept set without orphaning a value a kept op observes (the
/// enqueue of a value a kept dequeue returned, the add of a value a kept
/// read saw, the txn that wrote what a kept txn read)? Only if no kept op
/// observes it, or another kept op provides the same.
pub(crate) fn removable(p: &Problem, values: &Values, keep: &[bool], x: usize) -> bool {
    let ox = &p.ops[x];
    let kept = |i: usize| i != x && keep[i] && p.ops[i].key == ox.key;
    let lists = &values.lists;
    // The (key, value) pairs a txn writes or reads.
    let micro = |o: &COp, tag: u32| -> Vec<(u32, u32)> {
        lists
            .get(o.a)
            .chunks_exact(3)
            .filter(|m| m[0] == tag)
            .map(|m| (m[1], m[2]))
            .collect()
    };
    match ox.kind {
        Kind::Enqueue | Kind::Add => {
            let v = ox.a;
            let observed = (0..p.ops.len()).filter(|&i| kept(i)).any(|i| {
                let o = &p.ops[i];
                match o.kind {
                    Kind::Dequeue => o.a == v,
                    Kind::ReadSet => lists.get(o.a).binary_search(&v).is_ok(),
                    _ => false,
                }
            });
            !observed
                || (0..p.ops.len())
                    .filter(|&i| kept(i))
                    .any(|i| p.ops[i].kind == ox.kind && p.ops[i].a == v)
        }
        Kind::Txn => micro(ox, WRITE).into_iter().all(|w| {
            let reads = |i: usize| {
                matches!(p.ops[i].kind, Kind::Txn | Kind::TxnRead)
                    && micro(&p.ops[i], READ).contains(&w)
            };
            let writes =
                |i: usize| p.ops[i].kind == Kind::Txn && micro(&p.ops[i], WRITE).contains(&w);
            let n = p.ops.len();
            !(0..n).filter(|&i| kept(i)).any(reads) || (0..n).filter(|&i| kept(i)).any(writes)
        }),
        _ => true,
    }
}
