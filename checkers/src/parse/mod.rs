//! Reading histories from text: faultline's JSONL and Jepsen's EDN.
//!
//! A checker needs a [`History`]; a history usually arrives as a file. This
//! module turns the text of such a file into one. It does no I/O itself: read
//! the file however you like and hand the text over.
//!
//! # Which function to call
//!
//! - [`auto`] looks at the first meaningful character and picks the format.
//!   This is what `faultline check` uses, and what you want unless you know
//!   better.
//! - [`jsonl`] reads faultline's own format: one JSON [`Op`] per line, exactly
//!   as [`Op`] serializes.
//! - [`edn`] reads Jepsen's `history.edn`: EDN op maps, either one per line or
//!   all inside a single vector or list; Knossos's `[process type f value]`
//!   op vectors are read too, in the same places.
//! - [`porcupine::etcd_log`] and [`porcupine::kv_edn`] read the two formats of
//!   the Porcupine linearizability corpus (a Jepsen etcd log, and EDN maps
//!   with a `:key`, kept as `[key, value]` tuples).
//!
//! ```
//! use checkers::parse;
//! use checkers::{OpType, Process};
//!
//! let text = r#"
//! {"type":"invoke","process":0,"f":"add","value":1,"time":10}
//! {"type":"ok","process":0,"f":"add","value":1,"time":25}
//! "#;
//! let history = parse::auto(text)?;
//! assert_eq!(history.ops.len(), 2);
//! assert_eq!(history.ops[1].kind, OpType::Ok);
//! assert_eq!(history.ops[1].index, Some(1)); // filled in from the position
//!
//! // The same two ops as Jepsen would have written them.
//! let text = "[{:type :invoke, :process 0, :f :add, :value 1}
//!               {:type :ok, :process 0, :f :add, :value 1}]";
//! let history = parse::auto(text)?;
//! assert_eq!(history.ops[0].process, Process::Client(0));
//! # Ok::<(), checkers::parse::ParseError>(())
//! ```
//!
//! # Mapping Jepsen's EDN onto [`Op`]
//!
//! | EDN key    | Op field  | rule                                                          |
//! |------------|-----------|---------------------------------------------------------------|
//! | `:type`    | `kind`    | required; `:invoke`, `:ok`, `:fail` or `:info`                 |
//! | `:process` | `process` | required; a non-negative integer or `:nemesis`                 |
//! | `:f`       | `f`       | required; a keyword or string, colon dropped                  |
//! | `:value`   | `value`   | optional (null); converted to JSON as below                   |
//! | `:time`    | `time`    | optional (0); nanoseconds, negative values clamp to 0          |
//! | `:index`   | `index`   | optional; filled with the op's position when absent           |
//! | `:node`    | `node`    | optional                                                       |
//! | `:error`   | `error`   | optional; any value, written as a string (EDN text if compound) |
//!
//! Other keys are ignored. Values become JSON like this: keywords become
//! strings without the colon (`:foo/bar` is `"foo/bar"`), `nil` is `null`,
//! vectors, lists and sets are arrays (sets of numbers sorted), maps are
//! objects (non-string keys written as EDN text), characters are one-character
//! strings, and integers too big for `i64` become floats. Tagged literals such
//! as `#jepsen.history.Op{..}` are read as the value they tag.
//!
//! Real-time order is the order of the ops in the text, never `:time`, which
//! Jepsen does not promise to be monotonic.
//!
//! # Errors
//!
//! Every failure is a [`ParseError`] naming the 1-based line (and, when known,
//! column) and saying what was expected there. No input makes these
//! functions panic.

mod edn;
pub mod porcupine;
#[cfg(test)]
mod tests;

use crate::history::{History, Op, OpType, Process};
use edn::{Edn, Node, Reader};

/// Why a history could not be read, and where.
///
/// Displays on one line as `line 12, column 3: expected ...`, so it can be
/// printed as is by a CLI or put in a report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {message}", column_suffix(.column))]
pub struct ParseError {
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column (in characters for EDN, as serde_json counts for JSONL),
    /// when the parser could tell.
    pub column: Option<usize>,
    /// What was expected and what was found, on one line.
    pub message: String,
}

fn column_suffix(column: &Option<usize>) -> String {
    column.map(|c| format!(", column {c}")).unwrap_or_default()
}

impl ParseError {
    /// Builds an error; line breaks in `message` are replaced by spaces so
    /// that the error always displays on one line.
    pub fn new(line: usize, column: Option<usize>, message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = if message.contains(['\n', '\r']) {
            message.replace(['\n', '\r'], " ")
        } else {
            message
        };
        ParseError {
            line,
            column,
            message,
        }
    }
}

/// What a JSONL line should look like, quoted in every JSONL error.
const JSONL_EXAMPLE: &str = r#"{"type":"invoke","process":0,"f":"add","value":1}"#;

/// Reads faultline's JSONL format: one JSON object per line, each an [`Op`].
///
/// Blank lines are skipped. An op without `index` gets its position in the
/// history (0-based). The order of lines is the real-time order.
///
/// # Errors
///
/// The first line that is not a JSON object with at least `type`, `process`
/// and `f` of the right kinds, with serde_json's reason.
pub fn jsonl(text: &str) -> Result<History, ParseError> {
    let mut ops = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        if let Some(mut op) = jsonl_line(i + 1, raw)? {
            if op.index.is_none() {
                op.index = Some(ops.len() as u64);
            }
            ops.push(op);
        }
    }
    Ok(History::new(ops))
}

/// One line of a JSONL history (1-based `line_number`, for errors), as
/// [`jsonl`] reads it: `None` when blank, a `\r` at its end and a BOM at its
/// start dropped.
pub(crate) fn jsonl_line(line_number: usize, raw: &str) -> Result<Option<Op>, ParseError> {
    let line = raw.strip_suffix('\r').unwrap_or(raw);
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let trimmed = line.trim_start();
    let Some(first) = trimmed.chars().next() else {
        return Ok(None);
    };
    if first != '{' {
        // serde would accept a JSON array as a struct's fields in order;
        // that is never what a history means.
        let column = line.chars().count() - trimmed.chars().count() + 1;
        return Err(ParseError::new(
            line_number,
            Some(column),
            format!("invalid JSON op (expected an object, found `{first}`); each line must be an object like {JSONL_EXAMPLE}"),
        ));
    }
    serde_json::from_str(line)
        .map(Some)
        .map_err(|e| jsonl_error(line_number, &e))
}

fn jsonl_error(line: usize, e: &serde_json::Error) -> ParseError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let what = full
        .strip_suffix(&suffix)
        .unwrap_or(&full)
        .replace("struct Op", "an op object");
    let column = (e.column() > 0).then_some(e.column());
    let message = match e.classify() {
        serde_json::error::Category::Data => {
            format!("invalid JSON op ({what}); each line must be an object like {JSONL_EXAMPLE}")
        }
        _ => format!("invalid JSON ({what}); each line must be an object like {JSONL_EXAMPLE}"),
    };
    ParseError::new(line, column, message)
}

/// Reads a Jepsen EDN history.
///
/// Accepts a file that is one vector `[..]` or list `(..)` of op maps, or a
/// sequence of op maps (usually one per line). Op maps may be tagged
/// (`#jepsen.history.Op{..}`). Wherever a map may be, an op may also be a
/// vector `[process type f value]` (or `[process type f]`), the shape
/// Knossos's test histories use; a file that opens with such a vector is a
/// sequence of ops, not a history vector. See the [module docs](self) for how keys map
/// onto [`Op`] fields.
///
/// # Errors
///
/// The first syntax error (unclosed collection, bad escape, invalid number,
/// nesting deeper than 100 levels, ...), or the first op that is not a map
/// with valid `:type`, `:process` and `:f`.
pub fn edn(text: &str) -> Result<History, ParseError> {
    let mut ops = Vec::new();
    for_each_edn_op(text, |node| {
        let op = op_from_edn(node, ops.len())?;
        ops.push(op);
        Ok(())
    })?;
    Ok(History::new(ops))
}

/// Reads an EDN history like [`edn`], but returns each op as the JSON object
/// its EDN map converts to, with every key kept (keys lose their colon).
///
/// This is for checkers whose workloads carry fields that [`Op`] has no place
/// for, such as the `:key` of Porcupine's key-value histories. Each element
/// is guaranteed to be a map; no op fields are validated.
///
/// # Errors
///
/// EDN syntax errors as for [`edn`], and top-level values that are not maps.
pub fn edn_maps(text: &str) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, ParseError> {
    let mut maps = Vec::new();
    for_each_edn_op(text, |node| {
        match node.untagged().to_json() {
            serde_json::Value::Object(m) => maps.push(m),
            _ => return Err(not_a_map(node)),
        }
        Ok(())
    })?;
    Ok(maps)
}

/// Calls `f` with each op form of an EDN history, in order.
fn for_each_edn_op(
    text: &str,
    mut f: impl FnMut(&Node) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut r = Reader::new(text);
    r.skip_ws()?;
    let (line, col) = r.position();
    match r.peek() {
        None => Ok(()),
        Some('[') if starts_tuple_op(&r)? => {
            // Knossos's `[process type f value]` ops at the top level.
            while !r.at_end()? {
                f(&r.read_form()?)?;
            }
            Ok(())
        }
        Some(open @ ('[' | '(')) => {
            let (close, what) = if open == '[' {
                (']', "vector")
            } else {
                (')', "list")
            };
            r.bump();
            loop {
                r.skip_ws()?;
                match r.peek() {
                    None => {
                        return Err(r.error_here(format!(
                            "unexpected end of input: the history {what} opened at line {line}, column {col} is never closed with `{close}`"
                        )))
                    }
                    Some(c) if c == close => {
                        r.bump();
                        break;
                    }
                    Some(c @ (']' | ')' | '}')) => {
                        return Err(r.error_here(format!(
                            "expected `{close}` to close the history {what} opened at line {line}, column {col}, found `{c}`"
                        )))
                    }
                    Some(_) => f(&r.read_form()?)?,
                }
            }
            if !r.at_end()? {
                return Err(r.error_here(format!(
                    "expected the end of the input after the history {what} closed; a history is either one vector or list of op maps, or one op map per line"
                )));
            }
            Ok(())
        }
        Some(_) => {
            while !r.at_end()? {
                f(&r.read_form()?)?;
            }
            Ok(())
        }
    }
}

/// Whether the vector opening at the reader is itself an op tuple,
/// `[process type f value]` (its first element is a process: an integer or
/// a keyword), rather than a history vector of ops (which hold maps,
/// vectors, lists or tagged values).
fn starts_tuple_op(r: &Reader<'_>) -> Result<bool, ParseError> {
    let mut probe = r.clone();
    probe.bump();
    probe.skip_ws()?;
    Ok(!matches!(
        probe.peek(),
        None | Some('{' | '[' | '(' | '#' | ']' | ')' | '}')
    ))
}

fn node_error(node: &Node, message: impl Into<String>) -> ParseError {
    ParseError::new(node.line, Some(node.col), message)
}

fn not_a_map(node: &Node) -> ParseError {
    node_error(
        node,
        format!(
            "expected a map with :type, :process and :f, or a [process type f value] vector, found {}",
            node.describe()
        ),
    )
}

/// Shortens a value's EDN text for an error message.
fn shown(node: &Node) -> String {
    let mut s = node.to_edn_string();
    if s.chars().count() > 60 {
        s = s.chars().take(60).collect::<String>() + "…";
    }
    s
}

/// Converts one EDN op map into an [`Op`]; `position` is its place in the
/// history, used as `index` when the map has none.
fn op_from_edn(node: &Node, position: usize) -> Result<Op, ParseError> {
    let map = node.untagged();
    let mut kind = None;
    let mut process = None;
    let mut f = None;
    let mut op = Op {
        index: None,
        kind: OpType::Invoke,
        process: Process::Nemesis,
        f: String::new(),
        value: serde_json::Value::Null,
        time: 0,
        node: None,
        error: None,
    };
    let mut field = |key: &str, v: &Node| -> Result<(), ParseError> {
        let inner = v.untagged();
        match key {
            "type" => {
                kind = Some(match v.name() {
                    Some("invoke") => OpType::Invoke,
                    Some("ok") => OpType::Ok,
                    Some("fail") => OpType::Fail,
                    Some("info") => OpType::Info,
                    _ => {
                        return Err(node_error(
                            v,
                            format!(
                                ":type must be :invoke, :ok, :fail or :info, found {}",
                                shown(v)
                            ),
                        ))
                    }
                })
            }
            "process" => {
                process = Some(match (&inner.value, v.name()) {
                    (Edn::Int(n), _) if *n >= 0 => Process::Client(*n as u64),
                    (_, Some("nemesis")) => Process::Nemesis,
                    (Edn::Str(s), _) if s.parse::<u64>().is_ok() => {
                        Process::Client(s.parse().unwrap_or_default())
                    }
                    _ => {
                        return Err(node_error(
                            v,
                            format!(
                                ":process must be a non-negative integer or :nemesis, found {}",
                                shown(v)
                            ),
                        ))
                    }
                })
            }
            "f" => match v.name() {
                Some(name) => f = Some(name.to_string()),
                None => {
                    return Err(node_error(
                        v,
                        format!(":f must be a keyword or a string, found {}", shown(v)),
                    ))
                }
            },
            "value" => op.value = v.to_json(),
            "time" => {
                op.time = match inner.value {
                    Edn::Nil => 0,
                    Edn::Int(t) => t.max(0) as u64,
                    // `as` saturates and maps NaN to 0, which is what we want.
                    Edn::Float(t) => t.max(0.0) as u64,
                    _ => {
                        return Err(node_error(
                            v,
                            format!(
                                ":time must be an integer number of nanoseconds, found {}",
                                shown(v)
                            ),
                        ))
                    }
                }
            }
            "index" => {
                op.index = match inner.value {
                    Edn::Nil => None,
                    Edn::Int(i) if i >= 0 => Some(i as u64),
                    _ => {
                        return Err(node_error(
                            v,
                            format!(":index must be a non-negative integer, found {}", shown(v)),
                        ))
                    }
                }
            }
            "node" => {
                op.node = match (&inner.value, v.name()) {
                    (Edn::Nil, _) => None,
                    (_, Some(name)) => Some(name.to_string()),
                    _ => Some(inner.to_edn_string()),
                }
            }
            "error" => {
                op.error = match (&inner.value, v.name()) {
                    (Edn::Nil, _) => None,
                    (_, Some(name)) => Some(name.to_string()),
                    _ => Some(inner.to_edn_string()),
                }
            }
            _ => {}
        }
        Ok(())
    };
    match &map.value {
        Edn::Map(entries) => {
            for (k, v) in entries {
                if let Some(key) = k.name() {
                    field(key, v)?;
                }
            }
        }
        // Knossos's tuple ops: `[process type f]` or `[process type f value]`.
        Edn::Vector(items) if matches!(items.len(), 3 | 4) => {
            for (key, v) in ["process", "type", "f", "value"].into_iter().zip(items) {
                field(key, v)?;
            }
        }
        Edn::Vector(items) => {
            return Err(node_error(
                map,
                format!(
                    "expected a map with :type, :process and :f, or a [process type f value] vector, found a vector of {} elements",
                    items.len()
                ),
            ))
        }
        _ => return Err(not_a_map(node)),
    }
    match (kind, process, f) {
        (Some(kind), Some(process), Some(f)) => {
            op.kind = kind;
            op.process = process;
            op.f = f;
            if op.index.is_none() {
                op.index = Some(position as u64);
            }
            Ok(op)
        }
        (kind, process, f) => {
            let missing: Vec<&str> = [
                (kind.is_none(), ":type"),
                (process.is_none(), ":process"),
                (f.is_none(), ":f"),
            ]
            .into_iter()
            .filter_map(|(m, k)| m.then_some(k))
            .collect();
            Err(node_error(
                map,
                format!(
                    "expected a map with :type, :process and :f, missing {}",
                    join_and(&missing)
                ),
            ))
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Reads one value written as a JSON or an EDN literal (`0`, `null`, `nil`,
/// `"a"`, `[1 2]`, `{"k": 1}`, `:foo`), as JSON: EDN converts as an op's
/// `:value` does (see the [module docs](self)), so a value given this way
/// compares equal to the same value in an EDN history (`:foo` is `"foo"`).
///
/// # Errors
///
/// Text that is neither one JSON value nor one EDN value.
pub fn literal(text: &str) -> Result<serde_json::Value, ParseError> {
    if let Ok(v) = serde_json::from_str(text) {
        return Ok(v);
    }
    let mut r = Reader::new(text);
    if r.at_end()? {
        return Err(ParseError::new(
            1,
            Some(1),
            "expected a value, found nothing",
        ));
    }
    let node = r.read_form()?;
    if !r.at_end()? {
        return Err(r.error_here(
            "expected one value (a JSON or EDN literal such as 0, nil, \"a\" or [1 2]), found more after it",
        ));
    }
    Ok(node.to_json())
}

/// The formats [`auto`] can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON op per line ([`jsonl`]).
    Jsonl,
    /// Jepsen's EDN ([`edn`]).
    Edn,
    /// A Jepsen etcd log, `INFO  jepsen.util - ...` ([`porcupine::etcd_log`]).
    EtcdLog,
    /// EDN op maps carrying a `:key`, as in Porcupine's key-value corpus
    /// ([`porcupine::kv_edn`]).
    EdnKeyed,
}

/// Guesses the format of a history from its first meaningful character.
///
/// Whitespace, a byte-order mark and `;` comment lines are skipped. Then `{`
/// followed (after optional spaces) by `"` means JSONL; `[`, `(`, `{` and `#`
/// mean EDN; an EDN first line starting with `{` that contains `:key ` means
/// EDN with keys (Porcupine's key-value format); `INFO ` means a Jepsen etcd
/// log. Returns `Ok(None)` for input with nothing in it, and an error naming
/// the character for anything else.
///
/// # Errors
///
/// When the first meaningful character starts neither format.
pub fn detect(text: &str) -> Result<Option<Format>, ParseError> {
    let mut line = 1;
    let mut col = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                col = 1;
                continue;
            }
            ';' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        col = 1;
                        break;
                    }
                }
                continue;
            }
            c if c.is_whitespace() || c == '\u{feff}' => {
                col += 1;
                continue;
            }
            '{' => {
                let first_line: String = chars.clone().take_while(|c| *c != '\n').collect();
                let next = chars.find(|c| !matches!(c, ' ' | '\t'));
                return Ok(Some(if next == Some('"') {
                    Format::Jsonl
                } else if first_line.contains(":key ") || first_line.contains(":key,") {
                    Format::EdnKeyed
                } else {
                    Format::Edn
                }));
            }
            'I' if chars.clone().take(4).eq("NFO ".chars()) => {
                return Ok(Some(Format::EtcdLog))
            }
            '[' | '(' | '#' => return Ok(Some(Format::Edn)),
            other => {
                return Err(ParseError::new(
                    line,
                    Some(col),
                    format!(
                        "cannot tell the history format from `{other}`: expected one JSON op object per line (starting with {{\"), Jepsen EDN (starting with [, (, {{: or #) or a Jepsen etcd log (starting with INFO)"
                    ),
                ))
            }
        }
    }
    Ok(None)
}

/// Reads a history in whichever supported format the text is in.
///
/// The format is chosen by [`detect`]; empty input (or only comments) is a
/// valid, empty history.
///
/// # Errors
///
/// Whatever [`detect`] and then [`jsonl`], [`edn`] or the [`porcupine`]
/// readers report.
pub fn auto(text: &str) -> Result<History, ParseError> {
    match detect(text)? {
        None => Ok(History::default()),
        Some(Format::Jsonl) => jsonl(text),
        Some(Format::Edn) => edn(text),
        Some(Format::EtcdLog) => porcupine::etcd_log(text),
        Some(Format::EdnKeyed) => porcupine::kv_edn(text),
    }
}
