//! Checking a history one line at a time, without holding it in memory.
//!
//! A [`History`](crate::History) keeps every op, each with a
//! `serde_json::Value`: several times the size of the JSONL text. For long
//! runs (millions of ops) that is the memory bottleneck, not the checkers.
//! The online checkers ([`crate::set_full::SetFull`],
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

use std::borrow::Cow;

use crate::convergence::Convergence;
use crate::counter::Counter;
use crate::history::{Op, OpType, Process};
use crate::parse::ParseError;
use crate::perf::Perf;
use crate::set_full::SetFull;
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
}

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

online!(SetFull);
online!(Counter);
online!(Convergence);
online!(Perf);

/// Parses one JSONL line into an op, as [`crate::parse::jsonl`] does for a
/// whole text: `Ok(None)` for a blank line; `line_number` is 1-based and
/// only used in errors.
///
/// # Errors
///
/// A line that is not a JSON op object.
pub fn jsonl_op(line_number: usize, line: &str) -> Result<Option<Op>, ParseError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let trimmed = line.trim_start();
    match trimmed.chars().next() {
        None => Ok(None),
        Some('{') => serde_json::from_str::<Op>(line).map(Some).map_err(|e| {
            ParseError::new(
                line_number,
                (e.column() > 0).then_some(e.column()),
                format!("invalid JSON op ({e})"),
            )
        }),
        Some(c) => Err(ParseError::new(
            line_number,
            None,
            format!("invalid JSON op (expected an object, found `{c}`)"),
        )),
    }
}

/// One JSONL op borrowed from its line: the strings point into the line and
/// the value stays JSON text, decoded by each checker only as far as it
/// needs (an integer delta, a list of integers, a `[k, v]` pair).
///
/// Made by [`OpView::parse`], which reads only the plain shape faultline
/// writes; [`OpView::to_op`] gives the [`Op`] that [`jsonl_op`] would.
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
    value: &'a str,
    /// Monotonic nanoseconds since the test started (0 when absent).
    pub time: u64,
    /// The node the client talked to, when known.
    pub node: Option<Cow<'a, str>>,
    /// Why an op failed or is indeterminate.
    pub error: Option<Cow<'a, str>>,
}

/// Which known fields a line had (duplicates are an error for serde).
const F_INDEX: u8 = 1;
const F_TYPE: u8 = 2;
const F_PROCESS: u8 = 4;
const F_F: u8 = 8;
const F_VALUE: u8 = 16;
const F_TIME: u8 = 32;
const F_NODE: u8 = 64;
const F_ERROR: u8 = 128;

/// Lists nested deeper than this are left to the general parser.
const MAX_DEPTH: usize = 32;

/// A byte cursor over one line for [`OpView::parse`]; every method returns
/// `None` where the line leaves the plain shape.
struct Scan<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The rest of the line starts with `w` (then skipped).
    #[inline]
    fn lit(&mut self, w: &[u8]) -> bool {
        let hit = self.b.get(self.i..self.i + w.len()) == Some(w);
        if hit {
            self.i += w.len();
        }
        hit
    }

    /// A string without escapes or control characters; its contents.
    #[inline]
    fn plain_str(&mut self) -> Option<&'a str> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let rest = self.b.get(start..)?;
        let n = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest[n] != b'"' {
            return None;
        }
        self.i = start + n + 1;
        self.s.get(start..start + n)
    }

    /// A strict integer (as `raw::strict_i64`: `-?`, then `0` or up to 18
    /// digits without a leading zero, not `-0`), not followed by a
    /// fraction or an exponent.
    #[inline]
    fn int(&mut self) -> Option<i64> {
        self.ws();
        let b = self.b;
        let mut j = self.i;
        let neg = b.get(j) == Some(&b'-');
        if neg {
            j += 1;
        }
        let start = j;
        let mut n: i64 = 0;
        while let Some(&c) = b.get(j) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if j - start == 18 {
                return None;
            }
            n = n * 10 + i64::from(d);
            j += 1;
        }
        let len = j - start;
        if len == 0 || (b[start] == b'0' && (len > 1 || neg)) {
            return None;
        }
        if let Some(b'.' | b'e' | b'E' | b'-' | b'+') = b.get(j) {
            return None;
        }
        self.i = j;
        Some(if neg { -n } else { n })
    }

    #[inline]
    fn u64(&mut self) -> Option<u64> {
        u64::try_from(self.int()?).ok()
    }

    /// A value made of strict integers, `null`, `true`, `false`, plain
    /// strings and lists of them; its text.
    fn value(&mut self, depth: usize) -> Option<&'a str> {
        self.ws();
        let start = self.i;
        match self.peek()? {
            b'"' => {
                self.plain_str()?;
            }
            b'-' | b'0'..=b'9' => {
                self.int()?;
            }
            b'n' => self.lit(b"null").then_some(())?,
            b't' => self.lit(b"true").then_some(())?,
            b'f' => self.lit(b"false").then_some(())?,
            b'[' if depth < MAX_DEPTH => {
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                } else {
                    loop {
                        self.value(depth + 1)?;
                        self.ws();
                        match self.peek()? {
                            b',' => self.i += 1,
                            b']' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            _ => return None,
        }
        self.s.get(start..self.i)
    }

    /// `null` or a plain string.
    #[inline]
    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        self.ws();
        if self.lit(b"null") {
            Some(None)
        } else {
            self.plain_str().map(Some)
        }
    }

    /// The field name at the cursor (with its colon), as its bit; 0 for a
    /// field [`OpView`] ignores.
    #[inline]
    fn key(&mut self) -> Option<u8> {
        self.ws();
        let bit = match self.b.get(self.i + 1)? {
            b't' if self.lit(b"\"type\"") => F_TYPE,
            b't' if self.lit(b"\"time\"") => F_TIME,
            b'p' if self.lit(b"\"process\"") => F_PROCESS,
            b'f' if self.lit(b"\"f\"") => F_F,
            b'v' if self.lit(b"\"value\"") => F_VALUE,
            b'i' if self.lit(b"\"index\"") => F_INDEX,
            b'n' if self.lit(b"\"node\"") => F_NODE,
            b'e' if self.lit(b"\"error\"") => F_ERROR,
            _ => {
                self.plain_str()?;
                0
            }
        };
        self.eat(b':')?;
        Some(bit)
    }
}

impl<'a> OpView<'a> {
    /// Reads a JSONL line in place if it is a plain op object: known fields
    /// (in any order, each at most once) and fields it ignores, strings
    /// without escapes, integers without fraction or exponent, values made
    /// of integers, `null`, booleans, plain strings and lists. `None` for
    /// anything else (blank lines, errors, escapes, floats, objects...):
    /// parse those with [`jsonl_op`]. A line it reads gives the op
    /// [`jsonl_op`] would.
    pub fn parse(line: &'a str) -> Option<OpView<'a>> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        let mut c = Scan {
            s: line,
            b: line.as_bytes(),
            i: 0,
        };
        c.eat(b'{')?;
        let mut seen = 0u8;
        let mut kind = None;
        let mut process = None;
        let mut f = None;
        let mut v = OpView {
            index: None,
            kind: OpType::Invoke,
            process: Process::Nemesis,
            f: Cow::Borrowed(""),
            value: "null",
            time: 0,
            node: None,
            error: None,
        };
        c.ws();
        if c.peek()? != b'}' {
            loop {
                let bit = c.key()?;
                match bit {
                    F_TYPE => {
                        c.ws();
                        kind = Some(if c.lit(b"\"invoke\"") {
                            OpType::Invoke
                        } else if c.lit(b"\"ok\"") {
                            OpType::Ok
                        } else if c.lit(b"\"fail\"") {
                            OpType::Fail
                        } else if c.lit(b"\"info\"") {
                            OpType::Info
                        } else {
                            return None;
                        });
                    }
                    F_PROCESS => {
                        c.ws();
                        process = Some(if c.peek()? == b'"' {
                            match c.plain_str()? {
                                "nemesis" | ":nemesis" => Process::Nemesis,
                                _ => return None,
                            }
                        } else {
                            Process::Client(c.u64()?)
                        });
                    }
                    F_F => f = Some(c.plain_str()?),
                    F_VALUE => v.value = c.value(0)?,
                    F_TIME => v.time = c.u64()?,
                    F_INDEX => v.index = Some(c.u64()?),
                    F_NODE => v.node = c.opt_str()?.map(Cow::Borrowed),
                    F_ERROR => v.error = c.opt_str()?.map(Cow::Borrowed),
                    _ => {
                        c.value(0)?;
                    }
                }
                if seen & bit != 0 {
                    return None;
                }
                seen |= bit;
                c.ws();
                match c.peek()? {
                    b',' => c.i += 1,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        c.i += 1;
        c.ws();
        if c.i != line.len() {
            return None;
        }
        v.kind = kind?;
        v.process = process?;
        v.f = Cow::Borrowed(f?);
        Some(v)
    }

    /// The value's JSON text.
    pub fn value_json(&self) -> &'a str {
        self.value
    }

    /// The value, parsed.
    pub fn value(&self) -> serde_json::Value {
        crate::raw::parse_value(self.value)
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

/// Feeds JSONL lines to several online checkers at once.
pub struct Stream {
    checkers: Vec<Box<dyn OnlineChecker>>,
    lines: usize,
    ops: u64,
    parsed: u64,
}

impl Stream {
    /// A stream feeding `checkers`.
    pub fn new(checkers: Vec<Box<dyn OnlineChecker>>) -> Self {
        Stream {
            checkers,
            lines: 0,
            ops: 0,
            parsed: 0,
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
        if let Some(mut view) = OpView::parse(line) {
            if view.index.is_none() {
                view.index = Some(self.ops);
            }
            self.feed_view(&view);
            return Ok(());
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

    /// Gives an already parsed op to every checker.
    pub fn feed(&mut self, op: &Op) {
        self.ops += 1;
        for c in &mut self.checkers {
            c.observe(op);
        }
    }

    /// Gives an op read in place to every checker.
    pub fn feed_view(&mut self, op: &OpView<'_>) {
        self.ops += 1;
        for c in &mut self.checkers {
            c.observe_view(op);
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

    /// Every checker's verdict, in the order given to [`Stream::new`].
    pub fn finish(self) -> Vec<CheckResult> {
        self.checkers
            .into_iter()
            .map(|c| c.finish_boxed())
            .collect()
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
