//! From a [`History`] to the search's input: compact ops and their events.
//!
//! Each client invocation is paired with its completion and classified:
//!
//! | f (register / kv)   | ok                    | fail                      | info or pending            |
//! |---------------------|-----------------------|---------------------------|----------------------------|
//! | `read` / `get`      | `Read result` (register: nil per reading) | dropped (did nothing) | dropped (result unknown) |
//! | `write` / `put`     | `Write v`             | dropped                   | `Write v`, no return       |
//! | `cas [old new]`     | `Cas old new`         | per reading: `CasFailed old` (evidence) or dropped | `CasMaybe old new`, no return |
//! | `append` (kv)       | `Append v`            | dropped                   | `Append v`, no return      |
//!
//! An op "with no return" may be linearized at any point after its
//! invocation, or never: its completion is at +infinity and, since such an
//! op is always legal, it can always be put after every observed op, which
//! is the same as never happening.
//!
//! # Readings (register model)
//!
//! What a failed `cas` and a read of nil say depends on the client that
//! recorded them ([`super::reading`]); each input format has its default,
//! and `faultline check` flags override it:
//!
//! | reading (`--reading`) | default for | failed `cas [old new]` | `ok` read that returned nil | other failed ops |
//! |---|---|---|---|---|
//! | `knossos` | Jepsen EDN | dropped: did not take effect, says nothing | no evidence: always legal | dropped |
//! | `porcupine` | Porcupine etcd logs, kv files | `CasFailed old`: the register did not hold `old` | `Read null` | dropped |
//! | `faultline` | faultline JSONL | `CasFailed old` if its `error` is [`CAS_MISMATCH`] or absent, else dropped | `Read null` | dropped |
//!
//! `--fail-is-evidence` makes every failed `cas` `CasFailed old`, whatever
//! its error. The register starts at [`super::Options::initial_value`]
//! (`--initial-value`, nil by default; Knossos's tests use 0).
//!
//! Register values are compared by their JSON text (`1` and `"1"` differ).
//! Kv values must be strings (a `get` that returned `nil` counts as `""`);
//! every key starts as `""` (or a string initial value); kv reads every
//! input the same way.

use super::model::{COp, Kind, Values};
use super::reading::Reading;
use super::ModelKind;
use crate::history::{History, OpType, Process};
use crate::keyed;
use serde_json::Value;

/// Why a history does not fit the model; the verdict is then unknown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("op {index}: {message}")]
pub struct ModelError {
    /// The history index of the offending op.
    pub index: u64,
    /// What is wrong with it.
    pub message: String,
}

/// An op as the history recorded it, for counterexamples. Its function,
/// argument and result are not copied: [`Problem::view`] finds them in the
/// history the problem was compiled from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OpInfo {
    /// Index into [`Problem::key_names`], if the op has a key.
    pub key: Option<u32>,
    pub process: Process,
    /// `Ok`, `Fail` or `Info`; pending ops are `Info` with no completion.
    pub outcome: OpType,
    /// Where the invocation and the completion are in `History::ops`.
    pub at: usize,
    pub done_at: Option<usize>,
    /// Whether the recorded values are `[key value]` tuples, to unwrap.
    pub tuple: bool,
    pub invoke_index: u64,
    pub complete_index: Option<u64>,
    pub invoke_time: u64,
    pub complete_time: Option<u64>,
}

/// The search's input for one key (or for a whole unsplit history).
#[derive(Clone, Debug, Default)]
pub(crate) struct Problem {
    /// The compact ops.
    pub ops: Vec<COp>,
    /// What each op was.
    pub info: Vec<OpInfo>,
    /// Position of each op's invocation in real-time order.
    pub call_at: Vec<usize>,
    /// Position of its completion, `None` for ops that may take effect
    /// at any time after their invocation (info, pending).
    pub return_at: Vec<Option<usize>>,
    /// The keys that [`OpInfo::key`] indexes.
    pub key_names: Vec<String>,
}

/// One op of a problem with what the history recorded for it.
pub(crate) struct OpView<'a> {
    pub info: &'a OpInfo,
    pub key: Option<&'a str>,
    pub f: &'a str,
    pub argument: &'a Value,
    pub result: &'a Value,
}

static NULL: Value = Value::Null;

/// The value an op carries, unwrapped from its `[key value]` tuple if it is
/// one (as [`keyed::split`] and [`keyed::by_key`] do).
fn unwrap(v: &Value, tuple: bool) -> &Value {
    match v.as_array().map(Vec::as_slice) {
        Some([_, x]) if tuple => x,
        _ => v,
    }
}

impl Problem {
    /// Whether every op is a register op (read, write, cas of any outcome):
    /// the counterexample's closure and the search's pruning rules are
    /// proven for those only.
    pub(crate) fn all_register(&self) -> bool {
        self.ops.iter().all(|o| {
            matches!(
                o.kind,
                Kind::Read | Kind::Write | Kind::Cas | Kind::CasFailed | Kind::CasMaybe
            )
        })
    }
    /// Op `i`, looked up in `history`, which must be the history this
    /// problem was compiled from.
    pub(crate) fn view<'a>(&'a self, history: &'a History, i: usize) -> OpView<'a> {
        let info = &self.info[i];
        let inv = &history.ops[info.at];
        OpView {
            info,
            key: info.key.map(|k| self.key_names[k as usize].as_str()),
            f: &inv.f,
            argument: unwrap(&inv.value, info.tuple),
            result: info
                .done_at
                .map_or(&NULL, |c| unwrap(&history.ops[c].value, info.tuple)),
        }
    }
}

/// True if the history's client ops carry `[key value]` tuples: every
/// invocation value is a two-element array and, for `cas`, its value is
/// itself an `[old new]` pair (an unkeyed `cas [old new]` is a pair too, but
/// its second element is a scalar).
pub(crate) fn is_keyed(history: &History) -> bool {
    let mut any = false;
    for op in history.client_ops().filter(|o| o.kind == OpType::Invoke) {
        any = true;
        match op.value.as_array().map(Vec::as_slice) {
            Some([_, v]) if op.f != "cas" || matches!(v.as_array(), Some(a) if a.len() == 2) => {}
            _ => return false,
        }
    }
    any
}

/// Compiles a history into a [`Problem`]. With `tuples`, op values are
/// `[key value]` and key slots are assigned in `keys`; without, every op is
/// on key slot 0 and `key` names it (if the caller split by key).
pub(crate) fn compile(
    history: &History,
    model: ModelKind,
    values: &mut Values,
    tuples: bool,
    key: Option<&str>,
    keys: &mut Vec<String>,
    reading: Reading,
) -> Result<Problem, ModelError> {
    let mut p = Problem::default();
    let mut key_slots: std::collections::HashMap<String, u32> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), i as u32))
        .collect();
    if let (false, Some(k)) = (tuples, key) {
        p.key_names.push(k.to_string());
    }
    let mut scratch = String::new();
    for pair in pairs(history) {
        let inv = &history.ops[pair.invoke];
        if inv.process == Process::Nemesis {
            continue;
        }
        let index = inv.index.unwrap_or(pair.invoke as u64);
        let err = |message: String| ModelError { index, message };
        let comp = pair.complete.map(|c| &history.ops[c]);
        let outcome = comp.map_or(OpType::Info, |c| c.kind);
        let (slot, key_slot, argument, result) = if tuples {
            let Some((k, v)) = keyed::split(&inv.value) else {
                return Err(err(format!(
                    "expected a [key value] tuple like the other ops, found {}",
                    inv.value
                )));
            };
            let slot = *key_slots.entry(k.clone()).or_insert_with(|| {
                keys.push(k.clone());
                keys.len() as u32 - 1
            });
            let result = comp.map_or(&NULL, |c| unwrap(&c.value, true));
            (slot, Some(slot), v, result)
        } else {
            let result = comp.map_or(&NULL, |c| &c.value);
            (0, key.map(|_| 0), &inv.value, result)
        };
        if says_nothing(model, reading, &inv.f, outcome, comp, result) {
            continue;
        }
        let finite = matches!(outcome, OpType::Ok | OpType::Fail);
        let op = match classify(
            model,
            &inv.f,
            outcome,
            argument,
            result,
            values,
            &mut scratch,
        ) {
            Ok(Some((kind, a, b))) => COp {
                kind,
                key: slot,
                a,
                b,
            },
            Ok(None) => continue,
            Err(m) => return Err(err(m)),
        };
        p.ops.push(op);
        p.info.push(OpInfo {
            key: key_slot,
            process: inv.process,
            outcome,
            at: pair.invoke,
            done_at: pair.complete,
            tuple: tuples,
            invoke_index: index,
            complete_index: comp.map(|c| c.index.unwrap_or(pair.complete.unwrap_or(0) as u64)),
            invoke_time: inv.time,
            complete_time: comp.map(|c| c.time),
        });
        p.call_at.push(pair.invoke);
        p.return_at.push(if finite { pair.complete } else { None });
    }
    if tuples {
        p.key_names = keys.clone();
    }
    Ok(p)
}

/// A key's problem and its interned values, or why it does not fit the model.
pub(crate) type Compiled = Result<(Problem, Values), ModelError>;

/// One key's ops, as [`keyed::by_key`] would file them, by reference.
#[derive(Default)]
struct KeyOps<'h> {
    /// (op, its position in the history, its value unwrapped from the
    /// tuple), in history order.
    ops: Vec<(&'h crate::history::Op, usize, &'h Value)>,
}

/// The same as [`keyed::by_key`] followed by [`compile`] of each key's
/// sub-history (no tuples, `key` set), with the same results in the same
/// (key) order, but without building the sub-histories: ops are filed by
/// reference and nothing is cloned. Positions (`call_at`, `return_at`, and
/// the index fallback) are positions within the key's sub-history, exactly
/// as `compile` of the sub-history sees them; `OpInfo::at` and `done_at`
/// point into `history` itself (values unwrapped from their tuples).
pub(crate) fn compile_by_key(
    history: &History,
    model: ModelKind,
    initial: &str,
    reading: Reading,
) -> Vec<(String, Compiled)> {
    // Filing, as keyed::by_key does.
    let mut files: std::collections::BTreeMap<String, KeyOps<'_>> = Default::default();
    let mut open: super::fxhash::FxHashMap<Process, String> = Default::default();
    for (at, op) in history.ops.iter().enumerate() {
        if op.process == Process::Nemesis {
            continue;
        }
        let (key, v) = match op.value.as_array().map(Vec::as_slice) {
            Some([k, v]) => (keyed::key_text(k), v),
            _ => match open.get(&op.process) {
                Some(k) if op.kind.is_completion() => (k.clone(), &op.value),
                _ => continue,
            },
        };
        if op.kind.is_completion() {
            open.remove(&op.process);
        } else {
            open.insert(op.process, key.clone());
        }
        files.entry(key).or_default().ops.push((op, at, v));
    }
    files
        .into_iter()
        .map(|(key, file)| {
            let mut values = Values::new(initial);
            let r = compile_file(&file, model, &mut values, &key, reading).map(|p| (p, values));
            (key, r)
        })
        .collect()
}

/// [`compile`] of one key's sub-history, given by reference.
fn compile_file(
    file: &KeyOps<'_>,
    model: ModelKind,
    values: &mut Values,
    key: &str,
    reading: Reading,
) -> Result<Problem, ModelError> {
    // Pairing within the sub-history, as History::pairs does.
    let mut open: super::fxhash::FxHashMap<Process, usize> = Default::default();
    let mut pairs: Vec<crate::history::Pair> = Vec::with_capacity(file.ops.len() / 2 + 1);
    for (i, (op, _, _)) in file.ops.iter().enumerate() {
        match op.kind {
            OpType::Invoke => {
                open.insert(op.process, pairs.len());
                pairs.push(crate::history::Pair {
                    invoke: i,
                    complete: None,
                });
            }
            _ => {
                if let Some(p) = open.remove(&op.process) {
                    pairs[p].complete = Some(i);
                }
            }
        }
    }
    let mut p = Problem {
        ops: Vec::with_capacity(pairs.len()),
        info: Vec::with_capacity(pairs.len()),
        call_at: Vec::with_capacity(pairs.len()),
        return_at: Vec::with_capacity(pairs.len()),
        key_names: vec![key.to_string()],
    };
    let mut scratch = String::new();
    for pair in pairs {
        let (inv, at, argument) = file.ops[pair.invoke];
        let index = inv.index.unwrap_or(pair.invoke as u64);
        let comp = pair.complete.map(|c| file.ops[c]);
        let outcome = comp.map_or(OpType::Info, |c| c.0.kind);
        let result = comp.map_or(&NULL, |c| c.2);
        if says_nothing(model, reading, &inv.f, outcome, comp.map(|c| c.0), result) {
            continue;
        }
        let finite = matches!(outcome, OpType::Ok | OpType::Fail);
        let op = match classify(
            model,
            &inv.f,
            outcome,
            argument,
            result,
            values,
            &mut scratch,
        ) {
            Ok(Some((kind, a, b))) => COp { kind, key: 0, a, b },
            Ok(None) => continue,
            Err(message) => return Err(ModelError { index, message }),
        };
        p.ops.push(op);
        p.info.push(OpInfo {
            key: Some(0),
            process: inv.process,
            outcome,
            at,
            done_at: comp.map(|c| c.1),
            tuple: true,
            invoke_index: index,
            complete_index: comp.map(|c| c.0.index.unwrap_or(pair.complete.unwrap_or(0) as u64)),
            invoke_time: inv.time,
            complete_time: comp.map(|c| c.0.time),
        });
        p.call_at.push(pair.invoke);
        p.return_at.push(if finite { pair.complete } else { None });
    }
    Ok(p)
}

/// [`History::pairs`], with a faster map (same pairs, same order).
fn pairs(history: &History) -> Vec<crate::history::Pair> {
    let mut open: super::fxhash::FxHashMap<Process, usize> = Default::default();
    let mut pairs: Vec<crate::history::Pair> = Vec::with_capacity(history.ops.len() / 2 + 1);
    for (i, op) in history.ops.iter().enumerate() {
        match op.kind {
            OpType::Invoke => {
                open.insert(op.process, pairs.len());
                pairs.push(crate::history::Pair {
                    invoke: i,
                    complete: None,
                });
            }
            _ => {
                if let Some(p) = open.remove(&op.process) {
                    pairs[p].complete = Some(i);
                }
            }
        }
    }
    pairs
}

/// Re-exported from [`super::reading`], where what a failed compare's
/// `error` means is decided.
pub use super::reading::CAS_MISMATCH;

/// Whether a register op says nothing under `reading` (see
/// [`Reading::says_nothing`]); `complete` is its completion, if any.
fn says_nothing(
    model: ModelKind,
    reading: Reading,
    f: &str,
    outcome: OpType,
    complete: Option<&crate::history::Op>,
    result: &Value,
) -> bool {
    model == ModelKind::Register
        && reading.says_nothing(
            f,
            outcome,
            complete.and_then(|c| c.error.as_deref()),
            result,
        )
}

/// The compact form of one op, or `None` if it did nothing observable.
fn classify(
    model: ModelKind,
    f: &str,
    outcome: OpType,
    argument: &Value,
    result: &Value,
    values: &mut Values,
    scratch: &mut String,
) -> Result<Option<(Kind, u32, u32)>, String> {
    // The id of a value's JSON text, written into a reused buffer.
    let mut json = |v: &Value, values: &mut Values| -> u32 {
        use std::fmt::Write;
        scratch.clear();
        let _ = write!(scratch, "{v}");
        values.intern(scratch)
    };
    let ok = outcome == OpType::Ok;
    let fail = outcome == OpType::Fail;
    match model {
        ModelKind::Register => match f {
            "read" if ok => Ok(Some((Kind::Read, json(result, values), 0))),
            "read" => Ok(None),
            "write" if fail => Ok(None),
            "write" => Ok(Some((Kind::Write, json(argument, values), 0))),
            "cas" => {
                let Some([old, new]) = argument.as_array().map(Vec::as_slice) else {
                    return Err(format!("cas value must be [old new], found {argument}"));
                };
                let (o, n) = (json(old, values), json(new, values));
                Ok(Some(match outcome {
                    OpType::Ok => (Kind::Cas, o, n),
                    OpType::Fail => (Kind::CasFailed, o, 0),
                    _ => (Kind::CasMaybe, o, n),
                }))
            }
            other => Err(format!(
                "the register model knows read, write and cas, not {other:?}"
            )),
        },
        ModelKind::Kv => {
            let text = |v: &Value| -> Result<String, String> {
                match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Null => Ok(String::new()),
                    other => Err(format!("kv values must be strings, found {other}")),
                }
            };
            match f {
                "get" | "read" => match ok {
                    true => Ok(Some((Kind::Read, values.intern(&text(result)?), 0))),
                    false => Ok(None),
                },
                "put" | "write" if fail => Ok(None),
                "put" | "write" => Ok(Some((Kind::Write, values.intern(&text(argument)?), 0))),
                "append" if fail => Ok(None),
                "append" => Ok(Some((Kind::Append, values.intern(&text(argument)?), 0))),
                other => Err(format!(
                    "the kv model knows get, put and append, not {other:?}"
                )),
            }
        }
        // Mutex, queues, set, multi-register: read as their module says.
        structured => super::structures::reading::classify(
            structured, f, outcome, argument, result, values, scratch,
        ),
    }
}
