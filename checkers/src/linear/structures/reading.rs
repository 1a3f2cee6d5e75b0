//! How a recorded op of the mutex, queue, set and multi-register models
//! becomes a compact op ([`COp`] kind and arguments), or nothing.
//!
//! The rule of thumb is Knossos's: a `fail` op did nothing and is dropped;
//! an `ok` op took effect once within its interval; an `info` (or pending)
//! op may have taken effect at any instant after its invocation, or never,
//! so it is kept *without a completion* (the search may place it anywhere
//! after its invocation, or leave it out), unless what it did is unknown
//! and cannot matter, in which case it is dropped.
//!
//! | model / f            | ok                              | info or pending                 |
//! |----------------------|---------------------------------|---------------------------------|
//! | mutex `acquire`      | `Acquire` (legal iff free)      | `Acquire`, no completion        |
//! | mutex `release`      | `Release` (legal iff held)      | `Release`, no completion        |
//! | queues `enqueue v`   | `Enqueue v`                     | `Enqueue v`, no completion      |
//! | queues `dequeue`     | `Dequeue v`, v the ok's value; a `nil` value (empty queue) is dropped | unordered: dropped; FIFO: `DequeueMaybe`, no completion |
//! | linear-set `add v`   | `Add v`                         | `Add v`, no completion          |
//! | linear-set `read`    | `ReadSet s`, s the ok's value; `nil` dropped | dropped              |
//! | multi-register `txn` | `Txn` / `TxnRead` of the ok's micro-ops, `nil` reads dropped | `Txn` of the invocation's writes only, no completion |
//!
//! Why the drops lose nothing:
//!
//! - **An empty dequeue tells nothing.** Jepsen's queue clients record a
//!   dequeue from an empty queue as `fail` (with an error such as
//!   `:empty` or `:exhausted`); a client may also record it as `ok` with a
//!   `nil` value. Both are dropped: faultline does not check that the queue
//!   really was empty. (Knossos drops the `fail`; an `ok` `nil` it would
//!   read as "dequeued the value `nil`", illegal unless `nil` was enqueued.)
//! - **An indeterminate dequeue, unordered queue.** It may have taken out
//!   some element nobody saw. Dropping it is exact: every other op stays
//!   legal in a queue holding *more* elements (an enqueue always is, a
//!   dequeue of v needs v present), so any linearization where it took
//!   something out stays legal with that step removed.
//! - **An indeterminate dequeue, FIFO queue.** Not droppable: taking out
//!   the front can be what lets a later dequeue see the next element
//!   (`enqueue 1, enqueue 2, dequeue (crashed), dequeue → 2` is
//!   linearizable). So it is `DequeueMaybe`: wherever the search places
//!   it, it takes out the front element, whatever that is. (Knossos applies
//!   the invocation's `nil` value, which never matches, so it in effect
//!   drops it and would call that history invalid.)
//! - **An indeterminate read or transaction's reads.** Unknown results,
//!   observing nothing; their writes (for a txn) may have happened.
//!
//! A mutex is Knossos's: one lock, free or held, and *which* process holds
//! it is not tracked, so a release by another process than the acquirer is
//! legal as long as the lock is held.
//!
//! Values are compared by their JSON text, as for registers (`1` and
//! `"1"` differ). Transactions' micro-ops are `[f k v]` with `f` one of
//! `read`/`r` and `write`/`w` (Knossos's file spells them `:read`/`:write`,
//! newer Jepsen tests `:r`/`:w`).

use crate::history::OpType;
use crate::keyed;
use crate::linear::model::{Kind, Values};
use crate::linear::ModelKind;
use serde_json::Value;

/// The tag of a read micro-op in a transaction's list.
pub(crate) const READ: u32 = 0;
/// The tag of a write micro-op in a transaction's list.
pub(crate) const WRITE: u32 = 1;

/// The compact form of one op of a structured model, `None` if it did
/// nothing observable (see the module docs), or why it does not fit.
pub(crate) fn classify(
    model: ModelKind,
    f: &str,
    outcome: OpType,
    argument: &Value,
    result: &Value,
    values: &mut Values,
    scratch: &mut String,
) -> Result<Option<(Kind, u32, u32)>, String> {
    let mut json = |v: &Value, values: &mut Values| -> u32 {
        use std::fmt::Write;
        scratch.clear();
        let _ = write!(scratch, "{v}");
        values.intern(scratch)
    };
    let ok = outcome == OpType::Ok;
    if outcome == OpType::Fail {
        // Did nothing; still, an unknown f is an error whatever its outcome.
        return known(model, f).map(|()| None);
    }
    match model {
        ModelKind::Mutex => match f {
            "acquire" => Ok(Some((Kind::Acquire, 0, 0))),
            "release" => Ok(Some((Kind::Release, 0, 0))),
            _ => known(model, f).map(|()| None),
        },
        ModelKind::Queue | ModelKind::FifoQueue => match f {
            "enqueue" => Ok(Some((Kind::Enqueue, json(argument, values), 0))),
            "dequeue" if ok && result.is_null() => Ok(None),
            "dequeue" if ok => Ok(Some((Kind::Dequeue, json(result, values), 0))),
            "dequeue" if model == ModelKind::FifoQueue => Ok(Some((Kind::DequeueMaybe, 0, 0))),
            "dequeue" => Ok(None),
            _ => known(model, f).map(|()| None),
        },
        ModelKind::LinearSet => match f {
            "add" => Ok(Some((Kind::Add, json(argument, values), 0))),
            "read" if ok && result.is_null() => Ok(None),
            "read" if ok => {
                let Some(items) = result.as_array() else {
                    return Err(format!(
                        "a linear-set read returns the whole set (a list or set of values), found {result}"
                    ));
                };
                let mut ids: Vec<u32> = items.iter().map(|v| json(v, values)).collect();
                ids.sort_unstable();
                ids.dedup();
                Ok(Some((Kind::ReadSet, values.lists.intern(&ids), 0)))
            }
            "read" => Ok(None),
            _ => known(model, f).map(|()| None),
        },
        ModelKind::MultiRegister => match f {
            "txn" => {
                // An ok txn's completion carries what its reads saw; a
                // client that leaves it out is read from the invocation.
                let recorded = if ok && !result.is_null() {
                    result
                } else {
                    argument
                };
                let Some(micro) = recorded.as_array() else {
                    return Err(format!(
                        "a multi-register txn's value is a list of [read k v] / [write k v] micro-ops, found {recorded}"
                    ));
                };
                let mut list = Vec::with_capacity(3 * micro.len());
                let mut writes = false;
                for m in micro {
                    let (tag, k, v) = match m.as_array().map(Vec::as_slice) {
                        Some([Value::String(t), k, v]) if t == "read" || t == "r" => (READ, k, v),
                        Some([Value::String(t), k, v]) if t == "write" || t == "w" => {
                            (WRITE, k, v)
                        }
                        _ => {
                            return Err(format!(
                                "a multi-register micro-op is [read k v] or [write k v] (or r/w), found {m}"
                            ))
                        }
                    };
                    // A nil read, or any read of an indeterminate txn, saw
                    // nothing we know.
                    if tag == READ && (v.is_null() || !ok) {
                        continue;
                    }
                    writes |= tag == WRITE;
                    let key = values.intern(&keyed::key_text(k));
                    list.extend([tag, key, json(v, values)]);
                }
                if list.is_empty() {
                    return Ok(None);
                }
                let kind = if writes { Kind::Txn } else { Kind::TxnRead };
                Ok(Some((kind, values.lists.intern(&list), 0)))
            }
            _ => known(model, f).map(|()| None),
        },
        ModelKind::Register | ModelKind::Kv => {
            Err("the register and kv models are read by the compile module".into())
        }
    }
}

/// `Ok` if `f` is one of the model's functions, else the error naming them.
fn known(model: ModelKind, f: &str) -> Result<(), String> {
    let fs: &[&str] = match model {
        ModelKind::Mutex => &["acquire", "release"],
        ModelKind::Queue | ModelKind::FifoQueue => &["enqueue", "dequeue"],
        ModelKind::LinearSet => &["add", "read"],
        ModelKind::MultiRegister => &["txn"],
        ModelKind::Register => &["read", "write", "cas"],
        ModelKind::Kv => &["get", "put", "append"],
    };
    if fs.contains(&f) {
        Ok(())
    } else {
        Err(format!(
            "the {} model knows {}, not {f:?} (check --workload)",
            model.name(),
            fs.join(" and ")
        ))
    }
}
