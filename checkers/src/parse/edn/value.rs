//! The EDN value tree, and how it becomes JSON or EDN text again.
//!
//! A parsed EDN value is a [`Node`]: an [`Edn`] value (nil, booleans,
//! numbers, strings, characters, keywords, symbols, the four collections and
//! tagged literals) plus the line and column its text started at, so that
//! errors found later, while reading a history op out of the tree, can
//! point at the text. A node converts to JSON with [`Node::to_json`] (how
//! faultline stores a history) and back to EDN text with
//! [`Node::to_edn_string`] (for messages that quote the input).

/// An EDN value, with children carrying their own positions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Edn {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Char(char),
    /// A keyword's name without the leading colon: `:foo/bar` is `foo/bar`.
    Keyword(String),
    Symbol(String),
    Vector(Vec<Node>),
    List(Vec<Node>),
    Set(Vec<Node>),
    Map(Vec<(Node, Node)>),
    /// `#tag value`; the tag without the `#`.
    Tagged(String, Box<Node>),
}

/// A value and the 1-based line and column where its text starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub value: Edn,
    pub line: usize,
    pub col: usize,
}

impl Node {
    /// The value under any tags: `#jepsen.history.Op{..}` is its map.
    pub fn untagged(&self) -> &Node {
        let mut n = self;
        while let Edn::Tagged(_, inner) = &n.value {
            n = inner;
        }
        n
    }

    /// An article and a noun for error messages: "a vector", "a keyword".
    pub fn describe(&self) -> String {
        match &self.value {
            Edn::Nil => "nil".into(),
            Edn::Bool(_) => "a boolean".into(),
            Edn::Int(_) => "an integer".into(),
            Edn::Float(_) => "a float".into(),
            Edn::Str(_) => "a string".into(),
            Edn::Char(_) => "a character".into(),
            Edn::Keyword(_) => "a keyword".into(),
            Edn::Symbol(_) => "a symbol".into(),
            Edn::Vector(_) => "a vector".into(),
            Edn::List(_) => "a list".into(),
            Edn::Set(_) => "a set".into(),
            Edn::Map(_) => "a map".into(),
            Edn::Tagged(tag, inner) => format!("{} tagged #{tag}", inner.describe()),
        }
    }

    /// The value written back as EDN text, e.g. `[:crash "timeout"]`.
    pub fn to_edn_string(&self) -> String {
        let mut out = String::new();
        render(self, &mut out);
        out
    }

    /// The value as JSON: keywords and symbols become strings without the
    /// colon, characters one-character strings, sets arrays (sorted when all
    /// numbers), maps objects whose non-string keys are written as EDN text.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(*b),
            Edn::Int(i) => Value::from(*i),
            Edn::Float(x) => float_json(*x),
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::String(s.clone()),
            Edn::Char(c) => Value::String(c.to_string()),
            Edn::Vector(items) | Edn::List(items) => {
                Value::Array(items.iter().map(Node::to_json).collect())
            }
            Edn::Set(items) => {
                let mut out: Vec<Value> = items.iter().map(Node::to_json).collect();
                sort_if_numbers(&mut out);
                Value::Array(out)
            }
            Edn::Map(entries) => {
                let mut obj = serde_json::Map::with_capacity(entries.len());
                for (k, v) in entries {
                    obj.insert(k.key_string(), v.to_json());
                }
                Value::Object(obj)
            }
            Edn::Tagged(_, inner) => inner.to_json(),
        }
    }

    /// The name of a keyword, string or symbol (`:type`, `"type"`, `type`).
    pub fn name(&self) -> Option<&str> {
        match &self.untagged().value {
            Edn::Keyword(s) | Edn::Str(s) | Edn::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The text a map key becomes in JSON.
    fn key_string(&self) -> String {
        match self.name() {
            Some(s) => s.to_string(),
            None => self.to_edn_string(),
        }
    }
}

/// JSON has no infinities or NaN: those become the EDN spelling as a string.
fn float_json(x: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(x) {
        Some(n) => serde_json::Value::Number(n),
        None if x.is_nan() => "##NaN".into(),
        None if x > 0.0 => "##Inf".into(),
        None => "##-Inf".into(),
    }
}

/// Sorts a set's elements when they are all numbers, so `#{3 1 2}` reads as
/// `[1,2,3]` whatever order the writer's hash set used.
fn sort_if_numbers(items: &mut [serde_json::Value]) {
    if items.iter().all(|v| v.as_i64().is_some()) {
        items.sort_by_key(|v| v.as_i64());
    } else if items.iter().all(|v| v.as_f64().is_some()) {
        items.sort_by(|a, b| {
            let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            a.total_cmp(&b)
        });
    }
}

fn render(node: &Node, out: &mut String) {
    fn seq(items: &[Node], open: &str, close: &str, out: &mut String) {
        out.push_str(open);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            render(item, out);
        }
        out.push_str(close);
    }
    match &node.value {
        Edn::Nil => out.push_str("nil"),
        Edn::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Edn::Int(i) => out.push_str(&i.to_string()),
        Edn::Float(x) if x.is_nan() => out.push_str("##NaN"),
        Edn::Float(x) if x.is_infinite() => out.push_str(if *x > 0.0 { "##Inf" } else { "##-Inf" }),
        Edn::Float(x) => out.push_str(&format!("{x:?}")),
        Edn::Str(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Edn::Char(c) => {
            out.push('\\');
            match c {
                '\n' => out.push_str("newline"),
                ' ' => out.push_str("space"),
                '\t' => out.push_str("tab"),
                '\r' => out.push_str("return"),
                c => out.push(*c),
            }
        }
        Edn::Keyword(k) => {
            out.push(':');
            out.push_str(k);
        }
        Edn::Symbol(s) => out.push_str(s),
        Edn::Vector(items) => seq(items, "[", "]", out),
        Edn::List(items) => seq(items, "(", ")", out),
        Edn::Set(items) => seq(items, "#{", "}", out),
        Edn::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(k, out);
                out.push(' ');
                render(v, out);
            }
            out.push('}');
        }
        Edn::Tagged(tag, inner) => {
            out.push('#');
            out.push_str(tag);
            if !matches!(inner.value, Edn::Map(_) | Edn::Vector(_) | Edn::Set(_)) {
                out.push(' ');
            }
            render(inner, out);
        }
    }
}
