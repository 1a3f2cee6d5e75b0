//! The history as Jepsen writes it: `history.edn`, one op map a line.
//!
//! Jepsen, Elle, elle-cli and Knossos read histories in EDN, Clojure's data
//! notation. Every run writes `history.edn` beside `history.jsonl` so that
//! those tools take it unchanged:
//!
//! ```text
//! {:type :invoke, :f :add, :value 1, :process 0, :time 1234567, :index 0, :node "n1"}
//! {:type :info, :f :start-partition, :value [["n1"] ["n2" "n3"]], :process :nemesis, :time 2000000000, :index 7}
//! ```
//!
//! - `:type` and `:f` are keywords (`:f` a string only if it is not a valid
//!   keyword name), `:process` an integer or `:nemesis`, `:time` nanoseconds
//!   and `:index` the op's position, as in Jepsen;
//! - values become EDN: `null` is `nil`, arrays vectors, numbers and
//!   booleans themselves, strings quoted with `\"`, `\\`, `\n`, `\t`, `\r`
//!   escaped and other control characters as `\uXXXX`; an object becomes a
//!   map whose keys are keywords when they are valid keyword names
//!   (`{:value 3, :version 7}`, as Jepsen's maps have) and strings otherwise;
//! - `:node` and `:error` are added when the op has them, as strings.
//!
//! Strings inside values stay strings: faultline's workloads never put
//! keywords there, so `parse::edn` reads the file back to exactly the ops of
//! `history.jsonl` (keywords read back as their names). One exception: an
//! integer above `i64::MAX` is written with EDN's `N` suffix, which readers
//! take as a big integer (and `parse::edn` as a float).
//!
//! The file is written once, at the end of the run, from the history that
//! was re-read from `history.jsonl` for checking: it costs one pass over
//! ops already in memory (about a second per million ops), adds nothing to
//! the recording path, and cannot lose an op the JSONL has. A controller
//! killed before the end leaves only `history.jsonl`, which `faultline
//! check` reads as well.

use checkers::{History, Op, OpType, Process};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// Writes `history` to `path` as EDN, one op map per line.
pub fn write(history: &History, path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let mut line = String::with_capacity(256);
    for op in &history.ops {
        line.clear();
        op_edn(op, &mut line);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// The whole history as EDN text, one op map per line.
pub fn to_string(history: &History) -> String {
    let mut out = String::new();
    for op in &history.ops {
        op_edn(op, &mut out);
        out.push('\n');
    }
    out
}

/// Appends one op as a Jepsen op map (no newline).
pub fn op_edn(op: &Op, out: &mut String) {
    out.push_str("{:type :");
    out.push_str(match op.kind {
        OpType::Invoke => "invoke",
        OpType::Ok => "ok",
        OpType::Fail => "fail",
        OpType::Info => "info",
    });
    out.push_str(", :f ");
    name_edn(&op.f, out);
    out.push_str(", :value ");
    value_edn(&op.value, out);
    out.push_str(", :process ");
    match op.process {
        Process::Client(p) => out.push_str(&p.to_string()),
        Process::Nemesis => out.push_str(":nemesis"),
    }
    out.push_str(", :time ");
    out.push_str(&op.time.to_string());
    if let Some(i) = op.index {
        out.push_str(", :index ");
        out.push_str(&i.to_string());
    }
    if let Some(n) = &op.node {
        out.push_str(", :node ");
        string_edn(n, out);
    }
    if let Some(e) = &op.error {
        out.push_str(", :error ");
        string_edn(e, out);
    }
    out.push('}');
}

/// Appends a JSON value as EDN.
pub fn value_edn(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => number_edn(n, out),
        Value::String(s) => string_edn(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                value_edn(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                name_edn(k, out);
                out.push(' ');
                value_edn(v, out);
            }
            out.push('}');
        }
    }
}

fn number_edn(n: &serde_json::Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
        out.push('N');
    } else {
        let x = n.as_f64().unwrap_or(0.0);
        // Debug prints the shortest text that reads back to the same f64,
        // always with a `.` or an exponent, so it stays a float.
        let text = format!("{x:?}");
        out.push_str(&text);
        if !text.contains(['.', 'e', 'E']) {
            out.push_str(".0");
        }
    }
}

/// A keyword when `name` is a valid keyword name, else a string.
fn name_edn(name: &str, out: &mut String) {
    if is_keyword_name(name) {
        out.push(':');
        out.push_str(name);
    } else {
        string_edn(name, out);
    }
}

/// Names that read as the same keyword in Clojure and in `parse::edn`: a
/// letter or one of `*+!_?<>=` first, then letters, digits, those and `-`,
/// `.`. Conservative (no `/`, `:` or `#`), so never ambiguous.
fn is_keyword_name(name: &str) -> bool {
    let symbolic = |c: char| "*+!_?<>=".contains(c);
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || symbolic(c) => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || symbolic(c) || c == '-' || c == '.')
        && !name.ends_with('.')
}

/// A quoted EDN string.
fn string_edn(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests;
