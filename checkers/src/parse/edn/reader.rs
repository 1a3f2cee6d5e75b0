//! The EDN reader: text in, a [`Node`] tree out, never a panic.
//!
//! [`Reader`] is a cursor over the text that knows its line and column.
//! [`Reader::read_form`] reads one value without recursion: collections,
//! tags and `#_` discards that are open sit on an explicit stack of
//! pending forms, so nesting costs heap, not stack, and is cut at
//! [`MAX_DEPTH`] with an error that names the place. Every malformed input
//! becomes a [`ParseError`] with a line and column.

use super::value::{Edn, Node};
use super::MAX_DEPTH;
use crate::parse::ParseError;

/// The kinds of collection the reader can have open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SeqKind {
    Vector,
    List,
    Set,
    Map,
}

impl SeqKind {
    fn close(self) -> char {
        match self {
            SeqKind::Vector => ']',
            SeqKind::List => ')',
            SeqKind::Set | SeqKind::Map => '}',
        }
    }

    fn name(self) -> &'static str {
        match self {
            SeqKind::Vector => "vector",
            SeqKind::List => "list",
            SeqKind::Set => "set",
            SeqKind::Map => "map",
        }
    }

    fn build(self, items: Vec<Node>) -> Result<Edn, String> {
        Ok(match self {
            SeqKind::Vector => Edn::Vector(items),
            SeqKind::List => Edn::List(items),
            SeqKind::Set => Edn::Set(items),
            SeqKind::Map => {
                if !items.len().is_multiple_of(2) {
                    return Err(
                        "this map has a key without a value (an odd number of forms)".into(),
                    );
                }
                let mut entries = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Edn::Map(entries)
            }
        })
    }
}

/// Something the reader has started and not finished.
enum Pending {
    /// An open collection and what it holds so far.
    Seq {
        kind: SeqKind,
        items: Vec<Node>,
        line: usize,
        col: usize,
    },
    /// `#tag`, waiting for the value it tags.
    Tag {
        tag: String,
        line: usize,
        col: usize,
    },
    /// `#_`, waiting for the value to throw away.
    Discard,
}

impl Pending {
    fn open_seq(&self) -> Option<(SeqKind, usize, usize)> {
        match self {
            Pending::Seq {
                kind, line, col, ..
            } => Some((*kind, *line, *col)),
            _ => None,
        }
    }
}

/// A cursor over EDN text that tracks line and column.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    col: usize,
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';' | '\u{feff}'
        )
}

fn closer_name(c: char) -> &'static str {
    match c {
        ']' => "vector",
        ')' => "list",
        _ => "map or set",
    }
}

impl<'a> Reader<'a> {
    pub fn new(src: &'a str) -> Self {
        Reader {
            src,
            pos: 0,
            line: 1,
            col: 1,
        }
    }

    /// The current 1-based line and column.
    pub fn position(&self) -> (usize, usize) {
        (self.line, self.col)
    }

    pub fn peek(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src.get(self.pos..)?.chars();
        it.next();
        it.next()
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    pub fn error_here(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line, Some(self.col), message)
    }

    fn error_at(line: usize, col: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(line, Some(col), message)
    }

    /// Skips whitespace, commas, `;` comments and a byte-order mark.
    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ',' || c == '\u{feff}' {
                self.bump();
            } else if c == ';' {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// Skips whitespace, comments and `#_` discarded forms.
    pub fn skip_ws(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_trivia();
            if self.peek() == Some('#') && self.peek2() == Some('_') {
                self.bump();
                self.bump();
                self.read_form()?;
            } else {
                return Ok(());
            }
        }
    }

    /// True when only whitespace and comments remain.
    pub fn at_end(&mut self) -> Result<bool, ParseError> {
        self.skip_ws()?;
        Ok(self.peek().is_none())
    }

    /// Reads one value, after any leading whitespace and comments.
    ///
    /// The reader keeps its own stack of open collections, tags and discards
    /// instead of recursing, so stack use does not grow with nesting; the
    /// nesting limit [`MAX_DEPTH`] only protects the code that later walks
    /// the tree.
    pub fn read_form(&mut self) -> Result<Node, ParseError> {
        let mut stack: Vec<Pending> = Vec::new();
        loop {
            self.skip_trivia();
            let (line, col) = self.position();
            let Some(c) = self.peek() else {
                return Err(match stack.iter().rev().find_map(Pending::open_seq) {
                    Some((kind, l, c)) => self.error_here(format!(
                        "unexpected end of input: the {} opened at line {l}, column {c} is never closed with `{}`",
                        kind.name(),
                        kind.close()
                    )),
                    None => self.error_here("unexpected end of input, expected a value"),
                });
            };
            let opens = matches!(c, '[' | '(' | '{')
                || (c == '#' && matches!(self.peek2(), Some('{' | '_')))
                || (c == '#' && self.peek2().is_some_and(|d| d.is_alphabetic() || d == ':'));
            if opens && stack.len() >= MAX_DEPTH {
                return Err(
                    self.error_here(format!("values nest more than {MAX_DEPTH} levels deep"))
                );
            }
            let value = match c {
                '[' | '(' | '{' => {
                    self.bump();
                    let kind = match c {
                        '[' => SeqKind::Vector,
                        '(' => SeqKind::List,
                        _ => SeqKind::Map,
                    };
                    stack.push(Pending::Seq {
                        kind,
                        items: Vec::new(),
                        line,
                        col,
                    });
                    continue;
                }
                ']' | ')' | '}' => {
                    let Some(&Pending::Seq {
                        kind,
                        line: l,
                        col: k,
                        ..
                    }) = stack.last()
                    else {
                        return Err(self.error_here(format!(
                            "unexpected `{c}`: there is no open {} to close",
                            closer_name(c)
                        )));
                    };
                    if kind.close() != c {
                        return Err(self.error_here(format!(
                            "expected `{}` to close the {} opened at line {l}, column {k}, found `{c}`",
                            kind.close(),
                            kind.name()
                        )));
                    }
                    self.bump();
                    match stack.pop() {
                        Some(Pending::Seq {
                            kind,
                            items,
                            line,
                            col,
                        }) => Node {
                            value: kind
                                .build(items)
                                .map_err(|m| Self::error_at(line, col, m))?,
                            line,
                            col,
                        },
                        _ => return Err(self.error_here("internal reader error")),
                    }
                }
                '#' => {
                    self.bump();
                    match self.peek() {
                        Some('{') => {
                            self.bump();
                            stack.push(Pending::Seq {
                                kind: SeqKind::Set,
                                items: Vec::new(),
                                line,
                                col,
                            });
                            continue;
                        }
                        Some('_') => {
                            self.bump();
                            stack.push(Pending::Discard);
                            continue;
                        }
                        Some(d) if d.is_alphabetic() || d == ':' => {
                            let tag = self.read_token().to_string();
                            stack.push(Pending::Tag { tag, line, col });
                            continue;
                        }
                        _ => Node {
                            value: self.read_dispatch(line, col)?,
                            line,
                            col,
                        },
                    }
                }
                _ => Node {
                    value: self.read_scalar(c, line, col)?,
                    line,
                    col,
                },
            };
            // Hand the finished value to whatever is waiting for it.
            let mut value = value;
            loop {
                match stack.last_mut() {
                    None => return Ok(value),
                    Some(Pending::Seq { items, .. }) => {
                        items.push(value);
                        break;
                    }
                    Some(Pending::Discard) => {
                        stack.pop();
                        break;
                    }
                    Some(Pending::Tag { .. }) => {
                        if let Some(Pending::Tag { tag, line, col }) = stack.pop() {
                            value = Node {
                                value: Edn::Tagged(tag, Box::new(value)),
                                line,
                                col,
                            };
                        }
                    }
                }
            }
        }
    }

    /// A value that contains no other value: string, character, keyword,
    /// number, symbol, `nil`, `true` or `false`.
    fn read_scalar(&mut self, c: char, line: usize, col: usize) -> Result<Edn, ParseError> {
        match c {
            '"' => {
                self.bump();
                Ok(Edn::Str(self.read_string(line, col)?))
            }
            '\\' => {
                self.bump();
                Ok(Edn::Char(self.read_char(line, col)?))
            }
            ':' => {
                self.bump();
                let name = self.read_token().trim_start_matches(':');
                if name.is_empty() {
                    return Err(Self::error_at(
                        line,
                        col,
                        "`:` must be followed by a keyword name",
                    ));
                }
                Ok(Edn::Keyword(name.to_string()))
            }
            _ => {
                let token = self.read_token();
                if token.is_empty() {
                    // Every delimiter is handled by the caller; this guards
                    // against looping on one that is not.
                    self.bump();
                    return Err(Self::error_at(line, col, format!("unexpected `{c}`")));
                }
                atom(token).map_err(|m| Self::error_at(line, col, m))
            }
        }
    }

    fn read_token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_delimiter(c) {
                break;
            }
            self.bump();
        }
        &self.src[start..self.pos]
    }

    /// After a `#` that starts neither a set, a tag nor a discard.
    fn read_dispatch(&mut self, line: usize, col: usize) -> Result<Edn, ParseError> {
        match self.peek() {
            Some('#') => {
                self.bump();
                match self.read_token() {
                    "Inf" => Ok(Edn::Float(f64::INFINITY)),
                    "-Inf" => Ok(Edn::Float(f64::NEG_INFINITY)),
                    "NaN" => Ok(Edn::Float(f64::NAN)),
                    other => Err(Self::error_at(
                        line,
                        col,
                        format!("unknown symbolic value `##{other}`; expected ##Inf, ##-Inf or ##NaN"),
                    )),
                }
            }
            // A regular expression: not EDN, but Clojure prints them; keep the text.
            Some('"') => {
                self.bump();
                Ok(Edn::Str(self.read_string(line, col)?))
            }
            Some(c) => Err(Self::error_at(
                line,
                col,
                format!("unexpected `#{c}`: expected a set `#{{..}}`, a tagged value `#tag value` or a discard `#_`"),
            )),
            None => Err(self.error_here("unexpected end of input after `#`")),
        }
    }

    fn read_string(&mut self, line: usize, col: usize) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error_here(format!(
                    "unexpected end of input: the string opened at line {line}, column {col} is never closed"
                )));
            };
            match c {
                '"' => return Ok(s),
                '\\' => {
                    let (eline, ecol) = (self.line, self.col - 1);
                    let Some(e) = self.bump() else { continue };
                    match e {
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'n' => s.push('\n'),
                        'b' => s.push('\u{8}'),
                        'f' => s.push('\u{c}'),
                        '\\' => s.push('\\'),
                        '"' => s.push('"'),
                        '\'' => s.push('\''),
                        'u' => {
                            let unit = self.read_hex4().ok_or_else(|| {
                                Self::error_at(
                                    eline,
                                    ecol,
                                    "`\\u` must be followed by four hex digits",
                                )
                            })?;
                            s.push(self.finish_utf16(unit));
                        }
                        other => {
                            return Err(Self::error_at(
                                eline,
                                ecol,
                                format!("unknown escape `\\{other}` in a string"),
                            ))
                        }
                    }
                }
                c => s.push(c),
            }
        }
    }

    fn read_hex4(&mut self) -> Option<u16> {
        let digits = self.src.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let v = u16::from_str_radix(digits, 16).ok()?;
        for _ in 0..4 {
            self.bump();
        }
        Some(v)
    }

    /// Completes a UTF-16 code unit into a char, consuming a following
    /// `\uDCxx` low surrogate when `unit` is a high one. Lone surrogates
    /// become U+FFFD rather than an error: the rest of the op is still useful.
    fn finish_utf16(&mut self, unit: u16) -> char {
        if (0xD800..0xDC00).contains(&unit) {
            let rest = self.src.get(self.pos..).unwrap_or("");
            if rest.starts_with("\\u") {
                let save = (self.pos, self.line, self.col);
                self.bump();
                self.bump();
                match self.read_hex4() {
                    Some(low) if (0xDC00..0xE000).contains(&low) => {
                        let code =
                            0x10000 + (((unit as u32) - 0xD800) << 10) + ((low as u32) - 0xDC00);
                        return char::from_u32(code).unwrap_or('\u{fffd}');
                    }
                    _ => (self.pos, self.line, self.col) = save,
                }
            }
        }
        char::from_u32(unit as u32).unwrap_or('\u{fffd}')
    }

    fn read_char(&mut self, line: usize, col: usize) -> Result<char, ParseError> {
        let Some(first) = self.bump() else {
            return Err(self.error_here("unexpected end of input after `\\`, expected a character"));
        };
        let mut name = String::new();
        name.push(first);
        if first.is_alphanumeric() {
            while let Some(c) = self.peek() {
                if !c.is_alphanumeric() {
                    break;
                }
                name.push(c);
                self.bump();
            }
        }
        if name.chars().count() == 1 {
            return Ok(first);
        }
        let named = match name.as_str() {
            "newline" => Some('\n'),
            "space" => Some(' '),
            "tab" => Some('\t'),
            "return" => Some('\r'),
            "backspace" => Some('\u{8}'),
            "formfeed" => Some('\u{c}'),
            _ => None,
        };
        let coded = || {
            if let Some(hex) = name.strip_prefix('u') {
                if hex.len() == 4 {
                    return u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                }
            }
            if let Some(oct) = name.strip_prefix('o') {
                if (1..=3).contains(&oct.len()) {
                    return u32::from_str_radix(oct, 8).ok().and_then(char::from_u32);
                }
            }
            None
        };
        named.or_else(coded).ok_or_else(|| {
            Self::error_at(line, col, format!("unknown character literal `\\{name}`"))
        })
    }
}

/// A token that is not a collection, string, char, keyword or tagged value:
/// `nil`, `true`, `false`, a number or a symbol.
fn atom(token: &str) -> Result<Edn, String> {
    match token {
        "nil" => return Ok(Edn::Nil),
        "true" => return Ok(Edn::Bool(true)),
        "false" => return Ok(Edn::Bool(false)),
        _ => {}
    }
    let mut chars = token.chars();
    let first = chars.next().unwrap_or(' ');
    let second = chars.next();
    let numeric = first.is_ascii_digit()
        || (matches!(first, '+' | '-') && second.is_some_and(|c| c.is_ascii_digit()));
    if numeric {
        number(token).ok_or_else(|| format!("invalid number `{token}`"))
    } else {
        Ok(Edn::Symbol(token.to_string()))
    }
}

fn number(token: &str) -> Option<Edn> {
    let t = token.strip_prefix('+').unwrap_or(token);
    let is_int = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let int = |s: &str| -> Option<Edn> {
        if !is_int(s) {
            return None;
        }
        match s.parse::<i64>() {
            Ok(i) => Some(Edn::Int(i)),
            // Bigger than i64: keep the magnitude as a float.
            Err(_) => s.parse::<f64>().ok().map(Edn::Float),
        }
    };
    if let Some(body) = t.strip_suffix('N') {
        return int(body);
    }
    if let Some(body) = t.strip_suffix('M') {
        return body
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Edn::Float);
    }
    if let Some((p, q)) = t.split_once('/') {
        let (Some(Edn::Int(p)), Some(Edn::Int(q))) = (int(p), int(q)) else {
            return None;
        };
        return (q != 0).then(|| Edn::Float(p as f64 / q as f64));
    }
    if t.contains(['.', 'e', 'E']) {
        // Rust also accepts "inf"/"nan" spellings; numbers start with a digit
        // here, so only real decimal forms reach this parse.
        return t
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Edn::Float);
    }
    int(t)
}
