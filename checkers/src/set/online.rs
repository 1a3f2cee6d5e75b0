//! The set checker one op at a time: what [`super::analyze`] needs from a
//! history, gathered without holding the history.
//!
//! The set checker judges each set against its *final reads*: the `ok`
//! reads invoked after the set's last add completed. Whether a read is
//! final is only known at the end, but the rule has a shape that lets a
//! stream decide early: once any add of the set completes, every read
//! invoked before that completion can no longer be final. So [`Set`] keeps
//! only
//!
//! - per element, its earliest acknowledgement and whether some attempt
//!   was indeterminate (a few words an element);
//! - per set, the `ok` reads invoked after its latest add completion so far
//!   (the candidates: each later add completion drops them all), and the
//!   read invoked last (the fallback when no read is final);
//!
//! and the judgement at [`Set::finish`] is the one [`super::analyze`] makes
//! of a whole history (which it does by feeding this checker).
//!
//! Keys: an op whose value is `[k, v]` (Jepsen's `independent` tuples)
//! belongs to set `k`; each key is its own set with its own final reads.
//! Unkeyed ops form the set `""`. A history with no keyed op gives exactly
//! the unkeyed analysis.

use std::sync::Arc;

use crate::common::{index_of, int_list, malformed, FxMap, MalformedOp, Pairer};
use crate::history::{Op, OpType, Process};
use crate::intern::Names;
use crate::online::OpView;
use crate::raw::{OpLike, Val};
use crate::verdict::CheckResult;

use super::{judge, merge_keys, SetAnalysis};

/// An add's `ok` completion: position in the history, process, time and
/// index.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ack {
    pub pos: u64,
    pub process: Process,
    pub time: u64,
    pub index: u64,
}

/// What is known about one element across all its adds.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Element {
    /// The earliest `ok` completion of an add of this element.
    pub ack: Option<Ack>,
    /// Some add of it was `info` or never completed.
    pub indeterminate: bool,
}

/// One `ok` read of a set.
#[derive(Debug)]
pub(super) struct ReadRec {
    /// Positions of its invocation and completion.
    pub invoke: u64,
    pub complete: u64,
    /// The completion's `index`.
    pub index: u64,
    pub process: Process,
    /// The node of the completion, else of the invocation.
    pub node: Option<String>,
    pub time: u64,
    /// The elements read, as read (sorted only if judged).
    pub elements: Vec<i64>,
}

/// One set (one key) as seen so far.
#[derive(Default)]
pub(super) struct KeySet {
    pub elements: FxMap<i64, Element>,
    /// Position of the latest add completion (any outcome).
    pub last_add_completion: Option<u64>,
    pub ok_reads: usize,
    /// `ok` reads invoked after `last_add_completion`.
    pub candidates: Vec<Arc<ReadRec>>,
    /// The `ok` read invoked last.
    pub latest: Option<Arc<ReadRec>>,
}

enum Pending {
    /// An add of `element` to set `key`.
    Add {
        key: u32,
        element: i64,
    },
    /// An add whose invocation value was null: the completion names the
    /// set and the element. `index`: the invocation's.
    AddLater {
        index: u64,
    },
    Read {
        key: Option<u32>,
        node: Option<String>,
    },
    Other,
}

/// The online set checker: feed it every op in order with
/// [`observe`](Self::observe) (or [`observe_view`](Self::observe_view)),
/// then call [`finish`](Self::finish). The verdict is [`super::check`]'s on
/// the same ops.
///
/// Memory: a few words per distinct element, plus the reads that may still
/// be final (usually the last few) and the read invoked last.
pub struct Set {
    names: Names,
    keys: Vec<KeySet>,
    pairer: Pairer<Pending>,
    position: u64,
    malformed: Option<MalformedOp>,
    scratch: Vec<i64>,
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

impl Set {
    /// A checker that has seen nothing yet.
    pub fn new() -> Self {
        Set {
            names: Names::default(),
            keys: Vec::new(),
            pairer: Pairer::default(),
            position: 0,
            malformed: None,
            scratch: Vec::new(),
        }
    }

    /// Takes the next op of the history into account.
    pub fn observe(&mut self, op: &Op) {
        self.observe_any(op);
    }

    /// Takes the next op, read in place from its line, into account.
    pub fn observe_view(&mut self, op: &OpView<'_>) {
        self.observe_any(op);
    }

    fn key(&mut self, name: &str) -> u32 {
        let id = self.names.id(name);
        if id as usize == self.keys.len() {
            self.keys.push(KeySet::default());
        }
        id
    }

    /// The set and element an add's value names: `e` or `[k, e]`.
    fn add_target<O: OpLike>(
        &mut self,
        op: &O,
        pos: u64,
        v: Val<'_>,
    ) -> Result<(u32, i64), MalformedOp> {
        let (key, element) = match v.pair() {
            Some((k, e)) => (self.key(&k.key_text()), e),
            None => (self.key(""), v),
        };
        let element = element.as_i64().ok_or_else(|| {
            malformed(
                op,
                pos as usize,
                format!(
                    "add value must be an integer element or [key, element], found {}",
                    v.short_json()
                ),
            )
        })?;
        Ok((key, element))
    }

    fn observe_any<O: OpLike>(&mut self, op: &O) {
        let pos = self.position;
        self.position += 1;
        if self.malformed.is_some() || op.process() == Process::Nemesis {
            return;
        }
        if let Err(e) = self.take(op, pos) {
            self.malformed = Some(e);
        }
    }

    fn take<O: OpLike>(&mut self, op: &O, pos: u64) -> Result<(), MalformedOp> {
        let kind = op.kind();
        if kind == OpType::Invoke {
            let pending = match op.f() {
                "add" if op.value().is_null() => Pending::AddLater {
                    index: index_of(op, pos as usize),
                },
                "add" => {
                    let (key, element) = self.add_target(op, pos, op.value())?;
                    Pending::Add { key, element }
                }
                "read" => Pending::Read {
                    key: op.value().pair().map(|(k, _)| self.key(&k.key_text())),
                    node: op.node().map(String::from),
                },
                _ => Pending::Other,
            };
            if let Some(prev) = self
                .pairer
                .invoke(op.process(), pos as usize, op.time(), pending)
            {
                self.abandon(prev.data, op.process())?;
            }
            return Ok(());
        }
        let Some(open) = self.pairer.complete(op.process()) else {
            return Ok(());
        };
        match open.data {
            Pending::Add { key, element } => self.add_done(key, element, op, pos),
            Pending::AddLater { .. } => {
                let (key, element) = self.add_target(op, pos, op.value())?;
                self.add_done(key, element, op, pos)
            }
            Pending::Read { key, node } => {
                if kind != OpType::Ok {
                    return Ok(());
                }
                let whole = op.value();
                let (key, value) = match whole.pair() {
                    Some((k, v)) if v.is_array() => (self.key(&k.key_text()), v),
                    _ => (
                        match key {
                            Some(k) => k,
                            None => self.key(""),
                        },
                        whole,
                    ),
                };
                let mut elements = std::mem::take(&mut self.scratch);
                int_list(op, pos as usize, value, &mut elements)?;
                let invoke = open.invoke as u64;
                let set = &mut self.keys[key as usize];
                set.ok_reads += 1;
                let final_so_far = set.last_add_completion.is_none_or(|l| invoke > l);
                let latest = set.latest.as_ref().is_none_or(|r| invoke > r.invoke);
                if final_so_far || latest {
                    let rec = Arc::new(ReadRec {
                        invoke,
                        complete: pos,
                        index: index_of(op, pos as usize),
                        process: op.process(),
                        node: op.node().map(String::from).or(node),
                        time: op.time(),
                        elements,
                    });
                    if final_so_far {
                        set.candidates.push(Arc::clone(&rec));
                    }
                    if latest {
                        set.latest = Some(rec);
                    }
                } else {
                    self.scratch = elements;
                }
                Ok(())
            }
            Pending::Other => Ok(()),
        }
    }

    fn add_done<O: OpLike>(
        &mut self,
        key: u32,
        element: i64,
        op: &O,
        pos: u64,
    ) -> Result<(), MalformedOp> {
        let set = &mut self.keys[key as usize];
        set.last_add_completion = Some(pos);
        set.candidates.clear();
        let e = set.elements.entry(element).or_default();
        match op.kind() {
            OpType::Ok => {
                if e.ack.is_none() {
                    e.ack = Some(Ack {
                        pos,
                        process: op.process(),
                        time: op.time(),
                        index: index_of(op, pos as usize),
                    });
                }
            }
            OpType::Fail => {}
            _ => e.indeterminate = true,
        }
        Ok(())
    }

    /// An invocation that never completed: an add is indeterminate (and
    /// one whose value was null names no element: malformed, as the whole
    /// history's check finds).
    fn abandon(&mut self, p: Pending, process: Process) -> Result<(), MalformedOp> {
        match p {
            Pending::Add { key, element } => {
                self.keys[key as usize]
                    .elements
                    .entry(element)
                    .or_default()
                    .indeterminate = true;
                Ok(())
            }
            Pending::AddLater { index } => Err(MalformedOp {
                index,
                f: "add".into(),
                message: format!(
                    "add value must be an integer element or [key, element], found null (and process {process} never completed the add)"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The findings, per set merged into one analysis.
    ///
    /// # Errors
    ///
    /// The first malformed op met.
    pub fn analysis(mut self) -> Result<SetAnalysis, MalformedOp> {
        let open: Vec<_> = self.pairer.drain().collect();
        for (process, o) in open {
            if let Err(e) = self.abandon(o.data, process) {
                self.malformed.get_or_insert(e);
            }
        }
        if let Some(e) = self.malformed {
            return Err(e);
        }
        let keyed = self.names.len() > 1 || self.names.len() == 1 && !self.names.is(0, "");
        if !keyed {
            return Ok(judge(self.keys.pop().unwrap_or_default()));
        }
        let names = self.names;
        Ok(merge_keys(self.keys.into_iter().enumerate().map(
            |(i, k)| (names.name(i as u32).to_string(), judge(k)),
        )))
    }

    /// The verdict on everything observed.
    pub fn finish(self) -> CheckResult {
        match self.analysis() {
            Ok(a) => a.to_result(),
            Err(bad) => super::malformed_result(bad),
        }
    }
}
