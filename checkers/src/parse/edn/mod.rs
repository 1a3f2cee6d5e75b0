//! A small, strict-where-it-matters EDN reader.
//!
//! EDN is Clojure's data notation and the format Jepsen writes histories in.
//! This reader covers what those histories contain (and a little more), and
//! turns text into a [`Node`] tree that remembers where each value started so
//! that errors can point at a line and column. It never panics: every
//! malformed input, including deep nesting, becomes a [`ParseError`](super::ParseError).
//!
//! What it understands:
//!
//! - `nil`, `true`, `false`, integers (with an optional `N` suffix; too large
//!   for `i64` becomes a float), floats (optional `M` suffix), ratios `1/3`
//!   (read as a float), `##Inf`, `##-Inf`, `##NaN`;
//! - strings with `\t \r \n \b \f \\ \" \uXXXX` escapes, characters such as
//!   `\a`, `\newline`, `\u00e9`;
//! - keywords `:invoke`, `:foo/bar` (stored without the colon), symbols;
//! - vectors `[..]`, lists `(..)`, sets `#{..}`, maps `{..}`;
//! - tagged literals `#tag value` (the tag is kept, callers usually ignore it),
//!   `#_` discards, `;` comments, and commas as whitespace.
//!
//! The value tree and its conversions (to JSON, back to EDN text) are in
//! [`value`]; the reader that builds it, with an
//! explicit stack instead of recursion, is in [`reader`].

/// How deep values may nest before the reader gives up. Real histories nest
/// a handful of levels. The limit keeps the code that walks a parsed tree
/// (conversion to JSON, rendering, dropping) within a small stack on hostile
/// input, and keeps every op re-readable by serde_json, whose own limit is
/// 128 levels, after it is written out as JSONL.
pub(crate) const MAX_DEPTH: usize = 100;

mod reader;
mod value;

pub(crate) use reader::Reader;
pub(crate) use value::{Edn, Node};
