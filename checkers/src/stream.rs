//! Checking a history one line at a time, without holding it in memory.
//!
//! A [`History`](crate::History) keeps every op, each with a
//! `serde_json::Value`: several times the size of the JSONL text. For long
//! runs (millions of ops) that is the memory bottleneck, not the checkers.
//! The online checkers ([`crate::set::Set`], [`crate::set_full::SetFull`],
//! [`crate::counter::Counter`], [`crate::convergence::Convergence`],
//! [`crate::perf::Perf`]) keep only per-element, per-read or per-key state,
//! so a [`Stream`] can feed them one parsed line at a time and drop it.
//!
//! The caller does the reading (this crate does no I/O):
//!
//! ```
//! use checkers::stream::Stream;
//! use checkers::counter::{Counter, CounterOps};
//!
//! let text = r#"{"type":"invoke","process":0,"f":"add","value":2}
//! {"type":"ok","process":0,"f":"add","value":2}
//! {"type":"invoke","process":1,"f":"read","value":null}
//! {"type":"ok","process":1,"f":"read","value":2}"#;
//! let mut s = Stream::new(vec![Box::new(Counter::new(CounterOps::COUNTER, "counter"))]);
//! for line in text.lines() {
//!     s.feed_line(line)?;
//! }
//! let results = s.finish();
//! assert_eq!(results[0].valid, checkers::Validity::Valid);
//! # Ok::<(), checkers::parse::ParseError>(())
//! ```
//!
//! Verdicts are the same as checking the parsed history with each checker's
//! `check` function.
//!
//! For a file, feed the buffers as they are read with
//! [`Stream::feed_bytes`] (it finds the lines itself, checks UTF-8 once
//! per buffer and copies nothing on the way), then [`Stream::end_input`]
//! for a last line without a newline. Lines in the plain shape faultline
//! writes are read in one pass by a word-at-a-time scanner (`scan.rs`)
//! into an [`OpView`]: fields in place, the value as a tape of tokens the
//! checkers decode without reading the text again; any other line goes
//! through `serde_json` ([`jsonl_op`]). A line that is not a JSON op is an
//! error naming it, the error [`crate::parse::jsonl`] would give, and is
//! skipped.
//!
//! [`Stream::threaded`] runs the checkers in a thread of their own, fed in
//! batches by the caller's thread (which reads and scans the lines): on
//! two free cores reading and checking overlap. [`Stream::new`] keeps
//! everything in the caller's thread. Both give the same verdicts.

use std::borrow::Cow;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::convergence::Convergence;
use crate::counter::Counter;
use crate::history::{Op, OpType, Process};
use crate::parse::ParseError;
use crate::perf::Perf;
use crate::scan::{self, Tok, NULL_TAPE};
use crate::set_full::SetFull;
use crate::verdict::CheckResult;

pub use crate::online::{OnlineChecker, OpView};

macro_rules! online {
    ($t:ty) => {
        impl OnlineChecker for $t {
            fn observe(&mut self, op: &Op) {
                <$t>::observe(self, op)
            }
            fn observe_view(&mut self, op: &OpView<'_>) {
                <$t>::observe_view(self, op)
            }
            fn finish_boxed(self: Box<Self>) -> CheckResult {
                (*self).finish()
            }
        }
    };
}

online!(crate::set::Set);
online!(SetFull);
online!(Counter);
online!(Perf);

impl OnlineChecker for Convergence {
    fn observe(&mut self, op: &Op) {
        Convergence::observe(self, op)
    }
    fn observe_view(&mut self, op: &OpView<'_>) {
        Convergence::observe_view(self, op)
    }
    fn finish_boxed(self: Box<Self>) -> CheckResult {
        (*self).finish()
    }
    fn applies(&self) -> bool {
        Convergence::applies(self)
    }
}

/// Parses one JSONL line into an op, as [`crate::parse::jsonl`] does for a
/// whole text: `Ok(None)` for a blank line; `line_number` is 1-based and
/// only used in errors.
///
/// # Errors
///
/// A line that is not a JSON op object.
pub fn jsonl_op(line_number: usize, line: &str) -> Result<Option<Op>, ParseError> {
    crate::parse::jsonl_line(line_number, line)
}

/// Feeds JSONL lines to several online checkers at once.
///
/// Made by [`Stream::new`], the checkers run in the caller's thread, one
/// line after the other. Made by [`Stream::threaded`], they run in a
/// thread of their own while the caller's thread reads the next lines:
/// the lines are read in batches (copied, then read in place as
/// [`OpView`]s) and handed over, so reading and checking overlap on two
/// cores. Both give the same verdicts, in the same order: the checkers see
/// the same ops in the same order either way.
pub struct Stream {
    engine: Engine,
    lines: usize,
    ops: u64,
    parsed: u64,
    /// The tokens of the value of the line being fed (reused).
    tape: Vec<Tok>,
    /// The start of a line whose end is in a later chunk.
    carry: Vec<u8>,
    errors: u64,
}

/// Where a stream's checkers run.
enum Engine {
    /// In the caller's thread.
    Here(Vec<Box<dyn OnlineChecker>>),
    /// In a thread of their own.
    Thread(Pipeline),
}

/// Ops per batch handed to the checking thread (or fewer, when the
/// batch's text reaches [`BATCH_TEXT`]).
const BATCH_OPS: usize = 4096;
const BATCH_TEXT: usize = 512 * 1024;
/// Batches on their way to the checking thread: with the one being filled
/// and the one being checked, at most 4 batches exist (a few MiB).
const BATCHES_IN_FLIGHT: usize = 2;

/// The caller's end of a checking thread.
struct Pipeline {
    /// The batch being filled.
    batch: Batch,
    to_checkers: Option<SyncSender<Batch>>,
    /// Checked batches, handed back to be filled again (no allocation
    /// per batch).
    spare: Receiver<Batch>,
    worker: Option<JoinHandle<Vec<CheckResult>>>,
}

/// Ops read by the caller's thread for the checking thread: their lines'
/// text, and where each op's fields are in it.
#[derive(Default)]
struct Batch {
    text: String,
    recs: Vec<Rec>,
    /// Every value's tokens.
    tape: Vec<Tok>,
    /// Ops the general parser read (lines not in the plain shape).
    ops: Vec<Op>,
}

/// One op of a [`Batch`]: read in place (positions in the batch's text and
/// tape), or parsed.
enum Rec {
    View(ViewRec),
    Op(usize),
}

type Span = (usize, usize);

struct ViewRec {
    index: u64,
    kind: OpType,
    process: Process,
    f: Span,
    /// The value's text and tokens (`None`: absent, `null`).
    value: Option<(Span, Span)>,
    time: u64,
    node: Option<Span>,
    error: Option<Span>,
}

impl Batch {
    fn clear(&mut self) {
        self.text.clear();
        self.recs.clear();
        self.tape.clear();
        self.ops.clear();
    }

    fn full(&self) -> bool {
        self.recs.len() >= BATCH_OPS || self.text.len() >= BATCH_TEXT
    }

    /// The op of a record.
    fn view(&self, r: &ViewRec) -> OpView<'_> {
        let text = |(a, b): Span| self.text.get(a..b).unwrap_or("");
        let (value, tape) = match r.value {
            Some((v, (a, b))) => (text(v), self.tape.get(a..b).unwrap_or(NULL_TAPE)),
            None => ("null", NULL_TAPE),
        };
        OpView {
            index: Some(r.index),
            kind: r.kind,
            process: r.process,
            f: Cow::Borrowed(text(r.f)),
            value,
            tape: Cow::Borrowed(tape),
            time: r.time,
            node: r.node.map(|s| Cow::Borrowed(text(s))),
            error: r.error.map(|s| Cow::Borrowed(text(s))),
        }
    }
}

/// Where `part` (a slice of `whole`) is in `whole`.
fn span_of(whole: &str, part: &str) -> Span {
    let a = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    (a, a + part.len())
}

/// The checking thread: every batch's ops to every checker, in order; the
/// verdicts once the caller hangs up.
fn check_batches(
    mut checkers: Vec<Box<dyn OnlineChecker + Send>>,
    batches: Receiver<Batch>,
    spare: SyncSender<Batch>,
) -> Vec<CheckResult> {
    for mut batch in batches {
        for rec in &batch.recs {
            match rec {
                Rec::View(r) => {
                    let view = batch.view(r);
                    for c in &mut checkers {
                        c.observe_view(&view);
                    }
                }
                Rec::Op(i) => {
                    if let Some(op) = batch.ops.get(*i) {
                        for c in &mut checkers {
                            c.observe(op);
                        }
                    }
                }
            }
        }
        batch.clear();
        // The caller may have hung up, or have spares enough.
        let _ = spare.try_send(batch);
    }
    checkers
        .into_iter()
        .filter(|c| c.applies())
        .map(|c| c.finish_boxed())
        .collect()
}

impl Pipeline {
    /// Hands the batch over if it is full (or `now`), taking a spare one
    /// (or a new one) to fill next.
    fn ship(&mut self, now: bool) {
        if !(now || self.batch.full()) || self.batch.recs.is_empty() {
            return;
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, next);
        if let Some(tx) = &self.to_checkers {
            // Fails only if the checking thread died (a checker panicked):
            // `finish` reports it.
            let _ = tx.send(full);
        }
    }
}

impl Stream {
    /// A stream feeding `checkers` in the caller's thread.
    pub fn new(checkers: Vec<Box<dyn OnlineChecker>>) -> Self {
        Stream::with_engine(Engine::Here(checkers))
    }

    /// A stream feeding `checkers` in a thread of their own (see
    /// [`Stream`]); the same verdicts as [`Stream::new`].
    pub fn threaded(checkers: Vec<Box<dyn OnlineChecker + Send>>) -> Self {
        let (to_checkers, batches) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (spare_tx, spare) = sync_channel(BATCHES_IN_FLIGHT + 1);
        // The checkers follow the thread once it runs, so that they stay
        // here if it cannot be started.
        let (give, take) = sync_channel::<Vec<Box<dyn OnlineChecker + Send>>>(1);
        let worker = std::thread::Builder::new()
            .name("checkers".into())
            .spawn(move || match take.recv() {
                Ok(checkers) => check_batches(checkers, batches, spare_tx),
                Err(_) => Vec::new(),
            });
        match worker {
            Ok(worker) => {
                // The thread waits for them: cannot fail.
                let _ = give.send(checkers);
                Stream::with_engine(Engine::Thread(Pipeline {
                    batch: Batch::default(),
                    to_checkers: Some(to_checkers),
                    spare,
                    worker: Some(worker),
                }))
            }
            // No thread to be had: check in the caller's thread.
            Err(_) => Stream::with_engine(Engine::Here(
                checkers
                    .into_iter()
                    .map(|c| -> Box<dyn OnlineChecker> { c })
                    .collect(),
            )),
        }
    }

    fn with_engine(engine: Engine) -> Self {
        Stream {
            engine,
            lines: 0,
            ops: 0,
            parsed: 0,
            tape: Vec::new(),
            carry: Vec::new(),
            errors: 0,
        }
    }

    /// Parses the next line and gives the op to every checker. An op
    /// without `index` gets its position.
    ///
    /// # Errors
    ///
    /// The line is not a JSON op; the stream stays usable.
    ///
    /// Lines in the shape faultline writes are read in place
    /// ([`OpView::parse`]); any other line is parsed into an [`Op`] (the
    /// same verdicts either way).
    pub fn feed_line(&mut self, line: &str) -> Result<(), ParseError> {
        self.lines += 1;
        match &mut self.engine {
            Engine::Here(checkers) => {
                if let Some(mut view) = OpView::parse_in(line, &mut self.tape) {
                    if view.index.is_none() {
                        view.index = Some(self.ops);
                    }
                    self.ops += 1;
                    for c in checkers {
                        c.observe_view(&view);
                    }
                    return Ok(());
                }
            }
            Engine::Thread(p) => {
                let b = &mut p.batch;
                let start = b.text.len();
                b.text.push_str(line);
                let text = &b.text;
                let mark = b.tape.len();
                if let Some(f) = scan::line(&text[start..], &mut b.tape) {
                    let value = f.toks.map(|toks| (span_of(text, f.value), toks));
                    b.recs.push(Rec::View(ViewRec {
                        index: f.index.unwrap_or(self.ops),
                        kind: f.kind,
                        process: f.process,
                        f: span_of(text, f.f),
                        value,
                        time: f.time,
                        node: f.node.map(|n| span_of(text, n)),
                        error: f.error.map(|e| span_of(text, e)),
                    }));
                    self.ops += 1;
                    p.ship(false);
                    return Ok(());
                }
                b.text.truncate(start);
                b.tape.truncate(mark);
            }
        }
        if let Some(mut op) = jsonl_op(self.lines, line)? {
            self.parsed += 1;
            if op.index.is_none() {
                op.index = Some(self.ops);
            }
            self.feed(&op);
        }
        Ok(())
    }

    /// Feeds a chunk of a JSONL text, cut anywhere (a read buffer): every
    /// line the chunk completes is fed as [`feed_line`](Self::feed_line)
    /// would, and the bytes after the chunk's last newline are kept for
    /// the next chunk or for [`end_input`](Self::end_input). Lines are
    /// separated by `\n` (a `\r` before it is dropped), as
    /// [`crate::parse::jsonl`] separates them.
    ///
    /// # Errors
    ///
    /// The first of the chunk's lines that is not a JSON op (or not UTF-8);
    /// that line is skipped and the rest of the chunk still fed, so the
    /// stream stays usable ([`error_count`](Self::error_count) counts
    /// them all).
    pub fn feed_bytes(&mut self, chunk: &[u8]) -> Result<(), ParseError> {
        let mut first_error = None;
        let mut rest = chunk;
        if !self.carry.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                self.carry.extend_from_slice(rest);
                return Ok(());
            };
            let mut line = std::mem::take(&mut self.carry);
            line.extend_from_slice(&rest[..nl]);
            self.feed_complete(&line, &mut first_error);
            line.clear();
            self.carry = line;
            rest = &rest[nl + 1..];
        }
        let whole = match memchr::memrchr(b'\n', rest) {
            Some(last) => {
                self.feed_complete(&rest[..last], &mut first_error);
                &rest[last + 1..]
            }
            None => rest,
        };
        self.carry.extend_from_slice(whole);
        first_error.map_or(Ok(()), Err)
    }

    /// Feeds the last line of the input when it did not end with a newline
    /// (kept by [`feed_bytes`](Self::feed_bytes)); call it once after the
    /// last chunk, before [`finish`](Self::finish).
    ///
    /// # Errors
    ///
    /// That line is not a JSON op (for instance, cut short by a crash).
    pub fn end_input(&mut self) -> Result<(), ParseError> {
        if self.carry.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.carry);
        let mut first_error = None;
        self.feed_complete(&line, &mut first_error);
        first_error.map_or(Ok(()), Err)
    }

    /// Feeds `text`, whole lines separated by `\n` (the last one without
    /// its newline), keeping the first error.
    fn feed_complete(&mut self, mut text: &[u8], first_error: &mut Option<ParseError>) {
        loop {
            // One UTF-8 check for the lot; where it fails, the lines before
            // the bad byte are fed, the line holding it is an error, and
            // the check resumes after it.
            let e = match std::str::from_utf8(text) {
                Ok(s) => return self.feed_lines(s, first_error),
                Err(e) => e,
            };
            let at = e.valid_up_to();
            let start = memchr::memrchr(b'\n', &text[..at]).map_or(0, |p| p + 1);
            if start > 0 {
                if let Ok(s) = std::str::from_utf8(&text[..start - 1]) {
                    self.feed_lines(s, first_error);
                }
            }
            self.lines += 1;
            self.errors += 1;
            if first_error.is_none() {
                *first_error = Some(ParseError::new(
                    self.lines,
                    Some(at - start + 1),
                    "invalid UTF-8 (not a JSON op)",
                ));
            }
            match memchr::memchr(b'\n', &text[at..]) {
                Some(p) => text = &text[at + p + 1..],
                None => return,
            }
        }
    }

    /// Feeds every line of `text` (separated by `\n`).
    fn feed_lines(&mut self, text: &str, first_error: &mut Option<ParseError>) {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len())) {
            let line = text.get(start..nl).unwrap_or("");
            start = nl + 1;
            if let Err(e) = self.feed_line(line) {
                self.errors += 1;
                if first_error.is_none() {
                    *first_error = Some(e);
                }
            }
        }
    }

    /// Lines [`feed_bytes`](Self::feed_bytes) and
    /// [`end_input`](Self::end_input) found in error (and skipped).
    pub fn error_count(&self) -> u64 {
        self.errors
    }

    /// Gives an already parsed op to every checker.
    pub fn feed(&mut self, op: &Op) {
        self.ops += 1;
        match &mut self.engine {
            Engine::Here(checkers) => {
                for c in checkers {
                    c.observe(op);
                }
            }
            Engine::Thread(p) => {
                p.batch.recs.push(Rec::Op(p.batch.ops.len()));
                p.batch.ops.push(op.clone());
                p.ship(false);
            }
        }
    }

    /// Gives an op read in place to every checker.
    pub fn feed_view(&mut self, op: &OpView<'_>) {
        match &mut self.engine {
            Engine::Here(checkers) => {
                self.ops += 1;
                for c in checkers {
                    c.observe_view(op);
                }
            }
            Engine::Thread(_) => self.feed(&op.to_op()),
        }
    }

    /// Ops fed so far.
    pub fn op_count(&self) -> u64 {
        self.ops
    }

    /// Ops [`feed_line`](Self::feed_line) could not read in place and
    /// parsed into an [`Op`] (escaped strings, floats, objects...).
    pub fn parsed_count(&self) -> u64 {
        self.parsed
    }

    /// Every checker's verdict, in the order given to [`Stream::new`] (or
    /// [`Stream::threaded`]), but for checkers that do not apply to the
    /// history ([`OnlineChecker::applies`]).
    ///
    /// # Panics
    ///
    /// If a checker panicked in the checking thread, with its panic.
    pub fn finish(self) -> Vec<CheckResult> {
        match self.engine {
            Engine::Here(checkers) => checkers
                .into_iter()
                .filter(|c| c.applies())
                .map(|c| c.finish_boxed())
                .collect(),
            Engine::Thread(mut p) => {
                p.ship(true);
                p.to_checkers = None;
                match p.worker.take().map(JoinHandle::join) {
                    Some(Ok(results)) => results,
                    Some(Err(panic)) => std::panic::resume_unwind(panic),
                    None => Vec::new(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counter::CounterOps;
    use crate::set_full::SetFullOptions;

    #[test]
    fn views_read_plain_lines_as_op_parsing_does_and_leave_the_rest() {
        let plain = [
            r#"{"type":"invoke","process":0,"f":"add","value":["k1",12],"time":5}"#,
            r#"  { "index" : 7 , "type":"ok","process":":nemesis","f":"x","node":"n1","error":null,"extra":[1,[true,false]],"value":[-3,"a b",[]]} "#,
            "{\"type\":\"fail\",\"process\":3,\"f\":\"read\",\"error\":\"timeout\"}\r",
            "\u{feff}{\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"heal\",\"value\":null}",
        ];
        for line in plain {
            let v = OpView::parse(line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(Some(v.to_op()), jsonl_op(1, line).unwrap(), "{line}");
        }
        // Escapes, floats, objects, -0, leading zeros, huge numbers,
        // duplicates, missing fields, trailing text, non-JSON whitespace:
        // left to the general path, which may accept or reject them.
        let other = [
            r#"{"type":"ok","process":0,"f":"a\"b"}"#,
            r#"{"type":"ok","process":0,"f":"add","value":1.0}"#,
            r#"{"type":"ok","process":0,"f":"add","value":{"a":1}}"#,
            r#"{"type":"ok","process":0,"f":"add","value":-0}"#,
            r#"{"type":"ok","process":0,"f":"add","value":01}"#,
            r#"{"type":"ok","process":0,"f":"add","value":12345678901234567890}"#,
            r#"{"type":"ok","process":0,"f":"add","f":"read"}"#,
            r#"{"type":"ok","process":0}"#,
            r#"{"type":"ok","process":0,"f":"add"} x"#,
            "\u{a0}{\"type\":\"ok\",\"process\":0,\"f\":\"add\"}",
            r#"{"type":"ok","process":"7","f":"add"}"#,
            r#"{"type":"ok","process":-1,"f":"add"}"#,
            r#"{"type":"OK","process":1,"f":"add"}"#,
            "",
            "[1]",
        ];
        for line in other {
            assert_eq!(OpView::parse(line), None, "{line}");
        }
    }

    /// Whatever the in-place reader accepts, the general parser reads as
    /// the same op: checked on plain lines and on every truncation and
    /// many one-byte edits of them (numbers of every length, strings
    /// across word boundaries, whitespace anywhere).
    #[test]
    fn every_line_the_view_reads_parses_to_the_same_op() {
        let mut lines: Vec<String> = vec![
            r#"{"type":"invoke","process":0,"f":"add","value":["k1",12],"time":5}"#.into(),
            r#"{"index":3,"type":"ok","process":12,"f":"read-local","value":["key-number-17",[1,-20,300,4000,50000,600000,7000000,80000000,900000000,1234567890]],"time":123456789012,"node":"n1"}"#.into(),
            r#"{"type":"fail","process":"nemesis","f":"x","value":[true,false,null,"",[[]]],"error":"a b c d e f g h"}"#.into(),
            r#"{ "type" : "info" , "process" : 7 , "f" : "y" , "value" : [ 1 , [ 2 ] ] , "extra" : [ "z" ] }"#.into(),
            r#"{"f":"é€","process":1,"type":"ok","node":null,"error":null,"value":"ü"}"#.into(),
        ];
        for l in &lines {
            assert!(OpView::parse(l).is_some(), "{l}");
        }
        for d in 1..=20 {
            let n: String = (0..d).map(|i| char::from(b'1' + (i % 9) as u8)).collect();
            lines.push(format!(
                r#"{{"type":"ok","process":{n},"f":"add","value":-{n},"time":{n}}}"#
            ));
            lines.push(format!(
                r#"{{"type":"ok","process":1,"f":"{n}","value":["{n}",{n}],"index":{n}}}"#
            ));
        }
        let specials = [
            b' ', b'"', b'\\', b',', b':', b'[', b']', b'{', b'}', b'0', b'-', b'.', b'e', b'\t',
            b'\n', 0, b'a',
        ];
        let mut checked = 0;
        let mut check = |l: &[u8]| {
            let Ok(l) = std::str::from_utf8(l) else {
                return;
            };
            let parsed = jsonl_op(1, l);
            if let Some(v) = OpView::parse(l) {
                assert_eq!(parsed.ok().flatten(), Some(v.to_op()), "{l}");
                checked += 1;
            }
        };
        for l in &lines {
            let b = l.as_bytes();
            check(b);
            for cut in 0..b.len() {
                check(&b[..cut]);
                let mut del = b.to_vec();
                del.remove(cut);
                check(&del);
                for &c in &specials {
                    let mut ins = b.to_vec();
                    ins.insert(cut, c);
                    check(&ins);
                    let mut rep = b.to_vec();
                    rep[cut] = c;
                    check(&rep);
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    #[test]
    fn streaming_gives_the_same_verdicts_as_parsing() {
        let text = r#"{"type":"invoke","process":0,"f":"add","value":1}
{"type":"ok","process":0,"f":"add","value":1}

{"type":"invoke","process":1,"f":"read","value":null}
{"type":"ok","process":1,"f":"read","value":[]}"#;
        let mut s = Stream::new(vec![
            Box::new(SetFull::new(SetFullOptions::default())),
            Box::new(Convergence::new()),
        ]);
        for l in text.lines() {
            s.feed_line(l).unwrap();
        }
        assert_eq!(s.op_count(), 4);
        let r = s.finish();
        let h = crate::parse::jsonl(text).unwrap();
        assert_eq!(r[0], crate::set_full::check(&h, SetFullOptions::default()));
        assert_eq!(r[0].valid, crate::Validity::Invalid);
        assert_eq!(r[1], crate::convergence::check(&h));
        let mut s = Stream::new(vec![Box::new(Counter::new(CounterOps::COUNTER, "counter"))]);
        let e = s.feed_line("[1]").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(s.feed_line("{\"type\":\"ok\"").is_err());
        assert_eq!(s.op_count(), 0);
    }
}
