//! Ops the online checkers read without owning them: either a parsed
//! [`Op`] or a borrowed [`OpView`](crate::online::OpView) whose value is still JSON text, with the
//! tape of tokens its line's scan found (`crate::scan`).
//!
//! The online checkers are written once against [`OpLike`] and [`Val`];
//! every accessor of [`Val::Tape`] and [`Val::Raw`] decodes only what it is
//! asked for and answers exactly what the same accessor of the parsed
//! `serde_json::Value` would: from the tape (integers, `null`, booleans,
//! plain strings and lists of them, the only values a tape holds), or for
//! raw text a fast path for those shapes and for anything else a parse of
//! the (small) value text into a `Value`, so verdicts never depend on the
//! path. `tests` below checks every accessor against the parsed value.

use std::borrow::Cow;

use serde_json::Value;

use crate::history::{Op, OpType, Process};
use crate::scan::{Kind, Tok};

/// What an online checker reads from an op.
pub(crate) trait OpLike {
    fn kind(&self) -> OpType;
    fn process(&self) -> Process;
    fn f(&self) -> &str;
    fn time(&self) -> u64;
    fn index(&self) -> Option<u64>;
    fn node(&self) -> Option<&str>;
    fn value(&self) -> Val<'_>;
}

impl OpLike for Op {
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
        Val::Json(&self.value)
    }
}

/// An op's value: parsed, or its JSON text (valid JSON: checked when the
/// line was read), or tokens of that text.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Val<'a> {
    Json(&'a Value),
    Raw(&'a str),
    /// The value is the first token (and the tokens of its elements); the
    /// text is the one the tokens' offsets point into.
    Tape(&'a [Tok], &'a str),
}

/// The text of a token.
fn tok_text<'a>(t: &Tok, text: &'a str) -> &'a str {
    text.get(t.start as usize..t.end() as usize)
        .unwrap_or("null")
}

/// The contents of a string token (between its quotes).
fn tok_str<'a>(t: &Tok, text: &'a str) -> &'a str {
    text.get(t.start as usize + 1..(t.end() as usize).saturating_sub(1))
        .unwrap_or("")
}

/// The value a tape holds.
fn tape_value(toks: &[Tok], text: &str) -> Value {
    let Some(t) = toks.first() else {
        return Value::Null;
    };
    match t.kind() {
        Kind::Null => Value::Null,
        Kind::True => Value::Bool(true),
        Kind::False => Value::Bool(false),
        Kind::Int => Value::from(t.int()),
        Kind::Str => Value::String(tok_str(t, text).to_string()),
        Kind::Arr => Value::Array(
            TapeItems::new(toks, text)
                .map(|(sub, text)| tape_value(sub, text))
                .collect(),
        ),
    }
}

/// The elements of a list token.
pub(crate) struct TapeItems<'a> {
    toks: &'a [Tok],
    text: &'a str,
    /// The next element's token.
    i: usize,
    left: usize,
}

impl<'a> TapeItems<'a> {
    fn new(toks: &'a [Tok], text: &'a str) -> Self {
        let left = match toks.first() {
            Some(t) if t.kind() == Kind::Arr => t.len(),
            _ => 0,
        };
        TapeItems {
            toks,
            text,
            i: 1,
            left,
        }
    }
}

impl<'a> Iterator for TapeItems<'a> {
    type Item = (&'a [Tok], &'a str);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let sub = self.toks.get(self.i..)?;
        self.left -= 1;
        self.i += sub.first()?.width();
        Some((sub, self.text))
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii() && is_ws(c as u8))
}

/// A strict JSON integer that serde_json reads as an `i64` (`-?` then `0` or
/// up to 18 digits without a leading zero; not `-0`).
pub(crate) fn strict_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some(if neg { -n } else { n })
}

/// The value a JSON text parses to (`null` for text that is not JSON,
/// which a [`Val::Raw`] never holds).
pub(crate) fn parse_value(s: &str) -> Value {
    let t = trim(s);
    if t == "null" {
        return Value::Null;
    }
    if let Some(n) = strict_i64(t.as_bytes()) {
        return Value::from(n);
    }
    serde_json::from_str(t).unwrap_or(Value::Null)
}

/// The end (exclusive) of the JSON value starting at `i`; `s` is valid JSON.
/// On invalid text it returns some position `<= s.len()`, never panics.
fn skip_value(s: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < s.len() {
        match s[i] {
            b'"' => {
                i += 1;
                while i < s.len() {
                    match s[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
                if depth == 0 {
                    return i.min(s.len());
                }
            }
            b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b']' | b'}' => {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            b',' | b':' if depth == 0 => return i,
            b if depth == 0 && is_ws(b) => return i,
            _ => i += 1,
        }
    }
    s.len()
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_ws(s[i]) {
        i += 1;
    }
    i
}

/// The elements of a JSON array's text, one at a time.
pub(crate) struct RawItems<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> RawItems<'a> {
    /// `None` unless `s` (trimmed) starts with `[`.
    fn new(s: &'a str) -> Option<Self> {
        let s = trim(s);
        (s.as_bytes().first() == Some(&b'[')).then_some(RawItems { s, i: 1 })
    }
}

impl<'a> Iterator for RawItems<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        let mut i = skip_ws(b, self.i);
        if i < b.len() && b[i] == b',' {
            i = skip_ws(b, i + 1);
        }
        if i >= b.len() || b[i] == b']' {
            self.i = b.len();
            return None;
        }
        let end = skip_value(b, i).max(i + 1).min(b.len());
        self.i = end;
        self.s.get(i..end)
    }
}

/// The elements of a list value.
pub(crate) enum Items<'a> {
    Json(std::slice::Iter<'a, Value>),
    Raw(RawItems<'a>),
    Tape(TapeItems<'a>),
}

impl<'a> Iterator for Items<'a> {
    type Item = Val<'a>;
    #[inline]
    fn next(&mut self) -> Option<Val<'a>> {
        match self {
            Items::Json(it) => it.next().map(Val::Json),
            Items::Raw(it) => it.next().map(Val::Raw),
            Items::Tape(it) => it.next().map(|(t, s)| Val::Tape(t, s)),
        }
    }
}

impl<'a> Val<'a> {
    fn first_byte(&self) -> Option<u8> {
        match self {
            Val::Json(_) => None,
            Val::Raw(s) => trim(s).as_bytes().first().copied(),
            Val::Tape(t, s) => t
                .first()
                .and_then(|t| s.as_bytes().get(t.start as usize).copied()),
        }
    }

    /// The parsed value (borrowed when it already is one).
    pub fn to_value(self) -> Cow<'a, Value> {
        match self {
            Val::Json(v) => Cow::Borrowed(v),
            Val::Raw(s) => Cow::Owned(parse_value(s)),
            Val::Tape(t, s) => Cow::Owned(tape_value(t, s)),
        }
    }

    /// As [`Value::as_i64`].
    #[inline]
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Val::Tape(t, _) => t.first().filter(|t| t.kind() == Kind::Int).map(Tok::int),
            Val::Json(v) => v.as_i64(),
            Val::Raw(s) => {
                let t = trim(s);
                if let Some(n) = strict_i64(t.as_bytes()) {
                    return Some(n);
                }
                match t.as_bytes().first() {
                    Some(b'-' | b'0'..=b'9') => parse_value(t).as_i64(),
                    _ => None,
                }
            }
        }
    }

    /// As [`Value::is_null`].
    pub fn is_null(self) -> bool {
        match self {
            Val::Tape(t, _) => t.first().is_none_or(|t| t.kind() == Kind::Null),
            Val::Json(v) => v.is_null(),
            Val::Raw(s) => trim(s) == "null",
        }
    }

    /// As [`Value::is_array`].
    pub fn is_array(self) -> bool {
        match self {
            Val::Tape(t, _) => t.first().is_some_and(|t| t.kind() == Kind::Arr),
            Val::Json(v) => v.is_array(),
            Val::Raw(_) => self.first_byte() == Some(b'['),
        }
    }

    /// The elements, if a list.
    pub fn items(self) -> Option<Items<'a>> {
        match self {
            Val::Tape(t, s) => {
                (t.first()?.kind() == Kind::Arr).then(|| Items::Tape(TapeItems::new(t, s)))
            }
            Val::Json(v) => v.as_array().map(|a| Items::Json(a.iter())),
            Val::Raw(s) => RawItems::new(s).map(Items::Raw),
        }
    }

    /// `[a, b]`: a list of exactly two elements.
    #[inline]
    pub fn pair(self) -> Option<(Val<'a>, Val<'a>)> {
        match self {
            Val::Tape(t, s) => {
                let first = t.first()?;
                if first.kind() != Kind::Arr || first.len() != 2 {
                    return None;
                }
                let b = 1 + t.get(1)?.width();
                Some((Val::Tape(&t[1..], s), Val::Tape(t.get(b..)?, s)))
            }
            Val::Json(v) => match v.as_array().map(Vec::as_slice) {
                Some([a, b]) => Some((Val::Json(a), Val::Json(b))),
                _ => None,
            },
            Val::Raw(s) => {
                let mut it = RawItems::new(s)?;
                let (a, b) = (it.next()?, it.next()?);
                it.next().is_none().then_some((Val::Raw(a), Val::Raw(b)))
            }
        }
    }

    /// As [`Value::as_str`], unescaped.
    #[inline]
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        match self {
            Val::Tape(t, s) => t
                .first()
                .filter(|t| t.kind() == Kind::Str)
                .map(|t| Cow::Borrowed(tok_str(t, s))),
            Val::Json(v) => v.as_str().map(Cow::Borrowed),
            Val::Raw(s) => {
                let t = trim(s);
                let inner = t.strip_prefix('"')?.strip_suffix('"')?;
                if inner.contains('\\') {
                    serde_json::from_str::<String>(t).ok().map(Cow::Owned)
                } else {
                    Some(Cow::Borrowed(inner))
                }
            }
        }
    }

    /// As [`crate::keyed::key_text`].
    #[inline]
    pub fn key_text(self) -> Cow<'a, str> {
        match self.as_str() {
            Some(s) => s,
            None => {
                let mut text = String::new();
                self.canonical_into(&mut text);
                Cow::Owned(text)
            }
        }
    }

    /// Appends the value as canonical JSON text (what `Value::to_string`
    /// of the parsed value gives), so that two values are equal exactly when
    /// their texts are: the raw text itself for the shapes faultline writes
    /// (integers, `null`, booleans, strings without escapes), else a parse
    /// and re-serialization.
    pub fn canonical_into(self, out: &mut String) {
        if let Val::Tape(t, s) = self {
            // Strict integers, `null`, booleans and plain strings are
            // written as serde_json writes them; so are lists of them
            // without whitespace.
            if let Some(t) = t.first().filter(|t| !t.spaced()) {
                out.push_str(tok_text(t, s));
                return;
            }
        }
        if let Val::Raw(s) = self {
            let t = trim(s);
            let b = t.as_bytes();
            let simple = match b.first() {
                Some(b'-' | b'0'..=b'9') => {
                    // Not "-0": serde_json reads it as a float.
                    strict_i64(b).is_some() && !t.starts_with("-0")
                }
                Some(b'"') => {
                    b.len() >= 2
                        && b[b.len() - 1] == b'"'
                        && !b[1..b.len() - 1]
                            .iter()
                            .any(|&c| c == b'\\' || c == b'"' || !(0x20..0x7f).contains(&c))
                }
                _ => matches!(t, "null" | "true" | "false"),
            };
            if simple {
                out.push_str(t);
                return;
            }
        }
        use std::fmt::Write;
        let _ = write!(out, "{}", self.to_value());
    }

    /// As [`short_json`] of the parsed value.
    pub fn short_json(self) -> String {
        short_json(&self.to_value())
    }

    /// Whether this is a JSON object.
    pub fn is_object(self) -> bool {
        match self {
            Val::Tape(..) => false,
            Val::Json(v) => v.is_object(),
            Val::Raw(_) => self.first_byte() == Some(b'{'),
        }
    }
}

/// A value's JSON text, cut at 40 characters.
pub(crate) fn short_json(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        s.chars().take(40).collect::<String>() + "…"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::online::OpView;

    #[test]
    fn canonical_text_is_the_parsed_values_text() {
        for raw in [
            "12",
            "-7",
            "0",
            "-0",
            "1.0",
            "1e3",
            " 5 ",
            "null",
            "true",
            "false",
            "\"ab\"",
            "\"a\\u0041\"",
            "\"é\"",
            "\"tab\\t\"",
            "[1, 2]",
            "{\"b\": 1, \"a\": [null]}",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            let mut text = String::new();
            Val::Raw(raw).canonical_into(&mut text);
            let parsed: Value = serde_json::from_str(raw).unwrap();
            assert_eq!(text, parsed.to_string(), "{raw}");
            let mut again = String::new();
            Val::Json(&parsed).canonical_into(&mut again);
            assert_eq!(again, text, "{raw}");
        }
    }

    #[test]
    fn raw_accessors_answer_as_the_parsed_value_does() {
        let cases = [
            "0",
            "-0",
            "-1",
            "17",
            "1.0",
            "1e2",
            "00",
            "-",
            "123456789012345678",
            "1234567890123456789",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "18446744073709551616",
            "null",
            "true",
            "\"a\"",
            "\"a\\\"b\"",
            "\"\\u00e9\"",
            "[]",
            "[1]",
            "[1,2]",
            " [ 1 , [2, \"x]\"] ] ",
            "[1,2,3]",
            "[\"k\",null]",
            "[\"k\",[1,2,3]]",
            "{\"a\":1}",
            "[{\"a\":[1]},\"b\"]",
            "[[],[]]",
            "[ [ ] , [1] ]",
            "[[1,[2,[3]]],4]",
            "\"é€\"",
            "\"a\u{7f}b\"",
            "\"a\\u007fb\"",
            "[\"a b\", \"c\"]",
            "[true,false,null]",
            "[\"k\",[1,2,3],4]",
            "[\"\\\\\",1]",
            "1 ",
        ];
        for c in cases {
            let v: Value = serde_json::from_str(c).unwrap_or(Value::Null);
            if serde_json::from_str::<Value>(c).is_err() {
                continue;
            }
            let line = format!(r#"{{"type":"ok","process":0,"f":"x","value":{c}}}"#);
            let view = OpView::parse(&line);
            let mut vals = vec![Val::Raw(c)];
            if let Some(view) = &view {
                vals.push(view.val());
            }
            for r in vals {
                same_answers(c, r, &v);
            }
        }
        // The plain shapes are read as tapes.
        for c in [
            "0",
            "-1",
            "17",
            "null",
            "true",
            "\"a\"",
            "[]",
            "[1,2,3]",
            " [ 1 , [2, \"x]\"] ] ",
            "[\"k\",[1,2,3]]",
            "\"é\"",
        ] {
            let line = format!(r#"{{"type":"ok","process":0,"f":"x","value":{c}}}"#);
            assert!(OpView::parse(&line).is_some(), "{c}");
        }
    }

    /// Every accessor of `r` answers as that of the parsed `v`.
    fn same_answers(c: &str, r: Val<'_>, v: &Value) {
        {
            let j = Val::Json(v);
            assert_eq!(r.as_i64(), j.as_i64(), "{c}");
            assert_eq!(r.is_array(), j.is_array(), "{c}");
            assert_eq!(r.is_object(), j.is_object(), "{c}");
            assert_eq!(r.as_str(), j.as_str(), "{c}");
            assert_eq!(r.key_text(), j.key_text(), "{c}");
            assert_eq!(r.short_json(), j.short_json(), "{c}");
            assert_eq!(*r.to_value(), *v, "{c}");
            let (mut rc, mut jc) = (String::new(), String::new());
            r.canonical_into(&mut rc);
            j.canonical_into(&mut jc);
            assert_eq!(rc, jc, "{c}");
            assert_eq!(rc, v.to_string(), "{c}");
            let ri: Option<Vec<Value>> = r
                .items()
                .map(|i| i.map(|x| x.to_value().into_owned()).collect());
            let ji: Option<Vec<Value>> = j
                .items()
                .map(|i| i.map(|x| x.to_value().into_owned()).collect());
            assert_eq!(ri, ji, "{c}");
            let rp = r
                .pair()
                .map(|(a, b)| (a.to_value().into_owned(), b.to_value().into_owned()));
            let jp = j
                .pair()
                .map(|(a, b)| (a.to_value().into_owned(), b.to_value().into_owned()));
            assert_eq!(rp, jp, "{c}");
            // The elements answer alike too.
            if let (Some(ri), Some(a)) = (r.items(), v.as_array()) {
                for (x, y) in ri.zip(a) {
                    same_answers(c, x, y);
                }
            }
            if let (Some((a, b)), Some([x, y])) = (r.pair(), v.as_array().map(Vec::as_slice)) {
                same_answers(c, a, x);
                same_answers(c, b, y);
            }
        }
    }
}
