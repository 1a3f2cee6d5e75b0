//! Ops the online checkers read without owning them: either a parsed
//! [`Op`] or a borrowed [`OpView`] whose value is still JSON text.
//!
//! The online checkers are written once against [`OpLike`] and [`Val`];
//! every accessor of [`Val::Raw`] decodes only what it is asked for and
//! answers exactly what the same accessor of the parsed `serde_json::Value`
//! would: a fast path for the shapes faultline writes (integers, `null`,
//! plain strings, lists of them), and for anything else a parse of the
//! (small) value text into a `Value`, so verdicts never depend on the path.

use std::borrow::Cow;

use serde_json::Value;

use crate::history::{Op, OpType, Process};
use crate::stream::OpView;

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
        Val::Raw(self.value_json())
    }
}

/// An op's value: parsed, or its JSON text (valid JSON: checked when the
/// line was read).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Val<'a> {
    Json(&'a Value),
    Raw(&'a str),
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
}

impl<'a> Iterator for Items<'a> {
    type Item = Val<'a>;
    fn next(&mut self) -> Option<Val<'a>> {
        match self {
            Items::Json(it) => it.next().map(Val::Json),
            Items::Raw(it) => it.next().map(Val::Raw),
        }
    }
}

impl<'a> Val<'a> {
    fn first_byte(&self) -> Option<u8> {
        match self {
            Val::Json(_) => None,
            Val::Raw(s) => trim(s).as_bytes().first().copied(),
        }
    }

    /// The parsed value (borrowed when it already is one).
    pub fn to_value(self) -> Cow<'a, Value> {
        match self {
            Val::Json(v) => Cow::Borrowed(v),
            Val::Raw(s) => Cow::Owned(parse_value(s)),
        }
    }

    /// As [`Value::as_i64`].
    pub fn as_i64(self) -> Option<i64> {
        match self {
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

    /// As [`Value::is_array`].
    pub fn is_array(self) -> bool {
        match self {
            Val::Json(v) => v.is_array(),
            Val::Raw(_) => self.first_byte() == Some(b'['),
        }
    }

    /// The elements, if a list.
    pub fn items(self) -> Option<Items<'a>> {
        match self {
            Val::Json(v) => v.as_array().map(|a| Items::Json(a.iter())),
            Val::Raw(s) => RawItems::new(s).map(Items::Raw),
        }
    }

    /// `[a, b]`: a list of exactly two elements.
    pub fn pair(self) -> Option<(Val<'a>, Val<'a>)> {
        match self {
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
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        match self {
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
    pub fn key_text(self) -> Cow<'a, str> {
        match self.as_str() {
            Some(s) => s,
            None => Cow::Owned(self.to_value().to_string()),
        }
    }

    /// Appends the value as canonical JSON text (what `Value::to_string`
    /// of the parsed value gives), so that two values are equal exactly when
    /// their texts are: the raw text itself for the shapes faultline writes
    /// (integers, `null`, booleans, strings without escapes), else a parse
    /// and re-serialization.
    pub fn canonical_into(self, out: &mut String) {
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

    /// As [`crate::common::short_json`].
    pub fn short_json(self) -> String {
        crate::common::short_json(&self.to_value())
    }

    /// Whether this is a JSON object.
    pub fn is_object(self) -> bool {
        match self {
            Val::Json(v) => v.is_object(),
            Val::Raw(_) => self.first_byte() == Some(b'{'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "[\"\\\\\",1]",
            "1 ",
        ];
        for c in cases {
            let v: Value = serde_json::from_str(c).unwrap_or(Value::Null);
            if serde_json::from_str::<Value>(c).is_err() {
                continue;
            }
            let (r, j) = (Val::Raw(c), Val::Json(&v));
            assert_eq!(r.as_i64(), j.as_i64(), "{c}");
            assert_eq!(r.is_array(), j.is_array(), "{c}");
            assert_eq!(r.is_object(), j.is_object(), "{c}");
            assert_eq!(r.as_str(), j.as_str(), "{c}");
            assert_eq!(r.key_text(), j.key_text(), "{c}");
            assert_eq!(r.short_json(), j.short_json(), "{c}");
            assert_eq!(*r.to_value(), v, "{c}");
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
        }
    }
}
