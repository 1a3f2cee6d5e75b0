//! What the online checkers share with the driver that feeds them: the
//! [`OnlineChecker`] trait they implement and the [`OpView`] they read.
//!
//! An online checker sees a history one op at a time and keeps only the
//! state its verdict needs (per element, per read, per key), so a history
//! never has to be held in memory. An [`OpView`] is one op borrowed from
//! its JSONL line, its value still JSON text with the tokens the line's
//! scan found; a checker decodes only the part of the value it needs.
//!
//! This module sits below both sides: the checkers (`set_full`, `counter`,
//! `convergence`, `perf`) import it to read ops, and the driver
//! ([`crate::stream::Stream`]) imports it and the checkers to feed them.
//! Neither side imports the other's internals back.

use std::borrow::Cow;

use crate::history::{Op, OpType, Process};
use crate::raw::{OpLike, Val};
use crate::scan::{self, Tok, NULL_TAPE};
use crate::verdict::CheckResult;

/// A checker that consumes a history one op at a time.
pub trait OnlineChecker {
    /// Takes the next op (in history order) into account.
    fn observe(&mut self, op: &Op);
    /// Takes the next op, borrowed from its JSONL line, into account; the
    /// same as [`observe`](Self::observe) of [`OpView::to_op`] (which the
    /// default does; the crate's checkers read the view directly).
    fn observe_view(&mut self, op: &OpView<'_>) {
        self.observe(&op.to_op());
    }
    /// The verdict on everything observed.
    fn finish_boxed(self: Box<Self>) -> CheckResult;
    /// Whether the history held anything this checker judges. A stream
    /// gives no verdict for a checker that does not apply (a convergence
    /// checker made with [`Convergence::optional`] on a history without
    /// local reads), as a workload's plan leaves it out of a whole
    /// history's check.
    ///
    /// [`Convergence::optional`]: crate::convergence::Convergence::optional
    fn applies(&self) -> bool {
        true
    }
}

/// One JSONL op borrowed from its line: the strings point into the line and
/// the value stays JSON text, with a tape of its tokens (found while the
/// line was read) from which each checker decodes only what it needs (an
/// integer delta, a list of integers, a `[k, v]` pair) without scanning the
/// text again.
///
/// Made by [`OpView::parse`], which reads only the plain shape faultline
/// writes; [`OpView::to_op`] gives the [`Op`] that [`jsonl_op`](crate::stream::jsonl_op) would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpView<'a> {
    /// Position in the history, when the writer recorded it.
    pub index: Option<u64>,
    /// Invocation or one of the three completions.
    pub kind: OpType,
    /// Which logical process did this.
    pub process: Process,
    /// The function.
    pub f: Cow<'a, str>,
    /// The value's JSON text (`null` when absent); valid JSON.
    pub(crate) value: &'a str,
    /// The value's tokens, offsets relative to `value`.
    pub(crate) tape: Cow<'a, [Tok]>,
    /// Monotonic nanoseconds since the test started (0 when absent).
    pub time: u64,
    /// The node the client talked to, when known.
    pub node: Option<Cow<'a, str>>,
    /// Why an op failed or is indeterminate.
    pub error: Option<Cow<'a, str>>,
}

impl<'a> OpView<'a> {
    /// Reads a JSONL line in place if it is a plain op object: known fields
    /// (in any order, each at most once) and fields it ignores, strings
    /// without escapes, integers without fraction or exponent, values made
    /// of integers, `null`, booleans, plain strings and lists. `None` for
    /// anything else (blank lines, errors, escapes, floats, objects...):
    /// parse those with [`jsonl_op`](crate::stream::jsonl_op). A line it reads gives the op
    /// [`jsonl_op`](crate::stream::jsonl_op) would.
    pub fn parse(line: &'a str) -> Option<OpView<'a>> {
        let mut tape = Vec::new();
        let f = scan::line(line, &mut tape)?;
        let toks = match f.toks {
            Some((a, b)) => Cow::Owned(tape[a..b].to_vec()),
            None => Cow::Borrowed(NULL_TAPE),
        };
        Some(OpView::of(f, toks))
    }

    /// As [`parse`](Self::parse), the value's tokens kept in `tape`
    /// (cleared first) instead of a new allocation.
    pub(crate) fn parse_in(line: &'a str, tape: &'a mut Vec<Tok>) -> Option<OpView<'a>> {
        tape.clear();
        let f = scan::line(line, tape)?;
        let tape: &'a Vec<Tok> = tape;
        let toks = match f.toks {
            Some((a, b)) => tape.get(a..b)?,
            None => NULL_TAPE,
        };
        Some(OpView::of(f, Cow::Borrowed(toks)))
    }

    fn of(f: scan::Fields<'a>, tape: Cow<'a, [Tok]>) -> OpView<'a> {
        OpView {
            index: f.index,
            kind: f.kind,
            process: f.process,
            f: Cow::Borrowed(f.f),
            value: f.value,
            tape,
            time: f.time,
            node: f.node.map(Cow::Borrowed),
            error: f.error.map(Cow::Borrowed),
        }
    }

    /// The value, as the checkers read it.
    pub(crate) fn val(&self) -> Val<'_> {
        Val::Tape(&self.tape, self.value)
    }

    /// The value's JSON text.
    pub fn value_json(&self) -> &'a str {
        self.value
    }

    /// The value, parsed.
    pub fn value(&self) -> serde_json::Value {
        self.val().to_value().into_owned()
    }

    /// The op this view reads.
    pub fn to_op(&self) -> Op {
        Op {
            index: self.index,
            kind: self.kind,
            process: self.process,
            f: self.f.to_string(),
            value: self.value(),
            time: self.time,
            node: self.node.as_ref().map(|n| n.to_string()),
            error: self.error.as_ref().map(|e| e.to_string()),
        }
    }
}

impl OpLike for OpView<'_> {
    fn kind(&self) -> OpType {
        self.kind
    }
    fn process(&self) -> Process {
        self.process
    }
    fn f(&self) -> &str {
        &self.f
    }
    fn time(&self) -> u64 {
        self.time
    }
    fn index(&self) -> Option<u64> {
        self.index
    }
    fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }
    fn value(&self) -> Val<'_> {
        self.val()
    }
}
