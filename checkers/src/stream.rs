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

use crate::convergence::Convergence;
use crate::counter::Counter;
use crate::history::Op;
use crate::parse::ParseError;
use crate::perf::Perf;
use crate::set_full::SetFull;
use crate::verdict::CheckResult;

/// A checker that consumes a history one op at a time.
pub trait OnlineChecker {
    /// Takes the next op (in history order) into account.
    fn observe(&mut self, op: &Op);
    /// The verdict on everything observed.
    fn finish_boxed(self: Box<Self>) -> CheckResult;
}

macro_rules! online {
    ($t:ty) => {
        impl OnlineChecker for $t {
            fn observe(&mut self, op: &Op) {
                <$t>::observe(self, op)
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

/// Feeds JSONL lines to several online checkers at once.
pub struct Stream {
    checkers: Vec<Box<dyn OnlineChecker>>,
    lines: usize,
    ops: u64,
}

impl Stream {
    /// A stream feeding `checkers`.
    pub fn new(checkers: Vec<Box<dyn OnlineChecker>>) -> Self {
        Stream {
            checkers,
            lines: 0,
            ops: 0,
        }
    }

    /// Parses the next line and gives the op to every checker. An op
    /// without `index` gets its position.
    ///
    /// # Errors
    ///
    /// The line is not a JSON op; the stream stays usable.
    pub fn feed_line(&mut self, line: &str) -> Result<(), ParseError> {
        self.lines += 1;
        if let Some(mut op) = jsonl_op(self.lines, line)? {
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

    /// Ops fed so far.
    pub fn op_count(&self) -> u64 {
        self.ops
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
