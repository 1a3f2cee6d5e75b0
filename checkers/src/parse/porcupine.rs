//! Reading the two history formats of the Porcupine corpus.
//!
//! Porcupine (the Go linearizability checker) ships its test histories in two
//! formats that are not faultline's JSONL nor a regular Jepsen history, so
//! they get their own readers here. Both produce an ordinary [`History`]
//! whose op order is the line order (real-time order), with `index` set to
//! the op's position and `time` left at 0 (the files carry no times).
//!
//! # `etcd-log`: Jepsen's etcd 2.0 log ([`etcd_log`])
//!
//! ```text
//! INFO  jepsen.util - 3  :invoke  :cas  [1 2]
//! INFO  jepsen.util - 3  :fail  :cas  [1 2]
//! INFO  jepsen.util - 1  :info  :write  :timed-out
//! ```
//!
//! (tab-separated in the files). Fields are split on whitespace: the process number, the type, the function
//! and the value (the rest of the line). Values map to JSON as `nil` → `null`,
//! an integer → a number, `[a b]` → `[a, b]`; `:timed-out` (on `:info` and
//! `:fail :read`) → `null` with `error` set to `"timed-out"`. The ops are a
//! single unkeyed register: `read`, `write v`, `cas [old new]`.
//!
//! # `kv-edn-line`: Porcupine's key-value histories ([`kv_edn`])
//!
//! ```text
//! {:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}
//! ```
//!
//! These are valid EDN, but [`super::edn`] would drop the `:key` (an [`Op`]
//! has no field for it). [`kv_edn`] keeps it the way every keyed workload
//! does, as a `[key, value]` tuple (see [`crate::keyed`]): the line above
//! becomes an op with `f = "append"` and `value = ["0", "x 0 0 y"]`, a get
//! invocation gets `["k", null]`. Ops without `:key` keep their bare value.

use super::{edn, edn_maps, ParseError};
use crate::history::{History, Op, OpType, Process};
use serde_json::Value;

/// Reads a Jepsen etcd log (`INFO  jepsen.util - <process> <type> <f> <value>`).
///
/// Blank lines are skipped; see the [module docs](self) for the mapping.
///
/// # Errors
///
/// The first line that is not such a log line, or whose process, type,
/// function or value cannot be read, with its 1-based line number.
pub fn etcd_log(text: &str) -> Result<History, ParseError> {
    if let Some(h) = etcd_fast(text) {
        return Ok(h);
    }
    etcd_general(text)
}

/// The exact shape of the corpus lines,
/// `INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>` with the value
/// `nil`, an integer, `[a b]` or `:timed-out`, read byte by byte without
/// intermediate allocations; `None` as soon as a line differs in any way, and
/// the caller falls back to the general reader, which gives the same ops (or
/// the error).
fn etcd_fast(text: &str) -> Option<History> {
    fn int(s: &str) -> Option<Value> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: i64 = digits.bytes().fold(0, |a, b| a * 10 + (b - b'0') as i64);
        Some(Value::from(if neg { -v } else { v }))
    }
    fn scalar(s: &str) -> Option<Value> {
        if s == "nil" {
            Some(Value::Null)
        } else {
            int(s)
        }
    }
    /// Fields separated by tabs (`str::split('\t')`, by bytes).
    struct Tabs<'a>(&'a str);
    impl<'a> Tabs<'a> {
        fn next(&mut self) -> Option<&'a str> {
            let s = self.0;
            match s.bytes().position(|b| b == b'\t') {
                Some(i) => {
                    self.0 = &s[i + 1..];
                    Some(&s[..i])
                }
                None if s.is_empty() => None,
                None => {
                    self.0 = "";
                    Some(s)
                }
            }
        }
    }
    let mut ops = Vec::with_capacity(text.len() / 36 + 1);
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let rest = line.strip_prefix("INFO  jepsen.util - ")?;
        let mut fields = Tabs(rest);
        let process: u64 = {
            let p = fields.next()?;
            if p.is_empty() || p.len() > 18 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.bytes().fold(0, |a, b| a * 10 + (b - b'0') as u64)
        };
        let kind = match fields.next()? {
            ":invoke" => OpType::Invoke,
            ":ok" => OpType::Ok,
            ":fail" => OpType::Fail,
            ":info" => OpType::Info,
            _ => return None,
        };
        let f = fields.next()?.strip_prefix(':')?;
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        let v = fields.next()?;
        if fields.next().is_some() {
            return None;
        }
        let (value, error) = if v == ":timed-out" {
            (Value::Null, Some("timed-out".to_string()))
        } else if let Some(inner) = v.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            let (a, b) = inner.split_once(' ')?;
            (Value::Array(vec![scalar(a)?, scalar(b)?]), None)
        } else {
            (scalar(v)?, None)
        };
        ops.push(Op {
            index: Some(ops.len() as u64),
            kind,
            process: Process::Client(process),
            f: f.to_string(),
            value,
            time: 0,
            node: None,
            error,
        });
    }
    Some(History::new(ops))
}

/// The general etcd log reader (any whitespace, any spacing).
fn etcd_general(text: &str) -> Result<History, ParseError> {
    let mut ops = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |what: String| ParseError::new(line_no, None, what);
        let mut fields = line.split_whitespace();
        let head: Vec<&str> = fields.by_ref().take(3).collect();
        if head != ["INFO", "jepsen.util", "-"] {
            return Err(bad(format!(
                "expected an etcd log line `INFO  jepsen.util - <process> <type> <f> <value>`, found {:?}",
                shorten(line)
            )));
        }
        let process = fields
            .next()
            .ok_or_else(|| bad("missing the process number".into()))?;
        let process: u64 = process.parse().map_err(|_| {
            bad(format!(
                "process must be a non-negative integer, found {process:?}"
            ))
        })?;
        let kind = match fields.next() {
            Some(":invoke") => OpType::Invoke,
            Some(":ok") => OpType::Ok,
            Some(":fail") => OpType::Fail,
            Some(":info") => OpType::Info,
            other => {
                return Err(bad(format!(
                    "type must be :invoke, :ok, :fail or :info, found {}",
                    other.map_or("nothing".to_string(), |s| format!("{s:?}"))
                )))
            }
        };
        let f = match fields.next() {
            Some(f) if f.starts_with(':') && f.len() > 1 => f[1..].to_string(),
            other => {
                return Err(bad(format!(
                    "function must be a keyword such as :read, found {}",
                    other.map_or("nothing".to_string(), |s| format!("{s:?}"))
                )))
            }
        };
        let rest: Vec<&str> = fields.collect();
        let rest = rest.join(" ");
        let (value, error) = etcd_value(&rest).map_err(bad)?;
        ops.push(Op {
            index: Some(ops.len() as u64),
            kind,
            process: Process::Client(process),
            f,
            value,
            time: 0,
            node: None,
            error,
        });
    }
    Ok(History::new(ops))
}

/// Parses an etcd log value: `nil`, an integer, `[a b]` or `:timed-out`.
fn etcd_value(text: &str) -> Result<(Value, Option<String>), String> {
    let text = text.trim();
    if text == ":timed-out" {
        return Ok((Value::Null, Some("timed-out".into())));
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let items = inner
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(etcd_scalar)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((Value::Array(items), None));
    }
    Ok((etcd_scalar(text)?, None))
}

fn etcd_scalar(text: &str) -> Result<Value, String> {
    match text {
        "nil" => Ok(Value::Null),
        t => t.parse::<i64>().map(Value::from).map_err(|_| {
            format!(
                "value must be nil, an integer, [old new] or :timed-out, found {:?}",
                shorten(t)
            )
        }),
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        s.chars().take(60).collect::<String>() + "…"
    } else {
        s.to_string()
    }
}

/// Reads Porcupine's key-value history: one EDN map a line with `:process`,
/// `:type`, `:f`, `:key` and `:value`; the value becomes `[key, value]`.
///
/// Every other key is read exactly as [`super::edn`] reads it, so this also
/// accepts any Jepsen EDN history whose ops carry a top-level `:key`.
///
/// # Errors
///
/// Whatever [`super::edn`] reports (EDN syntax errors, maps without a valid
/// `:type`, `:process` or `:f`), with line and column.
pub fn kv_edn(text: &str) -> Result<History, ParseError> {
    if let Some(h) = kv_fast(text) {
        return Ok(h);
    }
    let mut history = edn(text)?;
    let maps = edn_maps(text)?;
    for (op, mut map) in history.ops.iter_mut().zip(maps) {
        if let Some(key) = map.remove("key") {
            let v = std::mem::take(&mut op.value);
            op.value = Value::Array(vec![key, v]);
        }
    }
    Ok(history)
}

/// The exact shape of Porcupine's lines,
/// `{:process 0, :type :ok, :f :get, :key "3", :value "x 1 y"}` (value `nil`
/// or a string without escapes), read without the general EDN reader; `None`
/// as soon as any line differs, and the caller falls back to the general
/// path, which gives the same ops (or the error).
fn kv_fast(text: &str) -> Option<History> {
    fn word<'a>(s: &mut &'a str, prefix: &str, end: char) -> Option<&'a str> {
        let rest = s.strip_prefix(prefix)?;
        let i = rest.find(end)?;
        *s = &rest[i + end.len_utf8()..];
        Some(&rest[..i])
    }
    fn string(s: &mut &str) -> Option<Value> {
        if let Some(rest) = s.strip_prefix("nil") {
            *s = rest;
            return Some(Value::Null);
        }
        let rest = s.strip_prefix('"')?;
        let i = rest.find('"')?;
        let v = &rest[..i];
        if v.contains('\\') {
            return None;
        }
        *s = &rest[i + 1..];
        Some(Value::String(v.to_string()))
    }
    let mut ops = Vec::new();
    for raw in text.lines() {
        let mut s = raw.trim();
        if s.is_empty() {
            continue;
        }
        let process: u64 = word(&mut s, "{:process ", ',')?.parse().ok()?;
        let kind = match word(&mut s, " :type :", ',')? {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            _ => return None,
        };
        let f = word(&mut s, " :f :", ',')?;
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        s = s.strip_prefix(" :key ")?;
        let key = string(&mut s)?;
        s = s.strip_prefix(", :value ")?;
        let value = string(&mut s)?;
        if s != "}" {
            return None;
        }
        ops.push(Op {
            index: Some(ops.len() as u64),
            kind,
            process: Process::Client(process),
            f: f.to_string(),
            value: Value::Array(vec![key, value]),
            time: 0,
            node: None,
            error: None,
        });
    }
    Some(History::new(ops))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{auto, detect, Format};
    use serde_json::json;

    #[test]
    fn etcd_log_lines_become_register_ops() {
        let text = "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2]\n\
                    INFO  jepsen.util - 3\t:fail\t:cas\t[1 2]\n\n\
                    INFO  jepsen.util - 1\t:invoke\t:write\t4\n\
                    INFO  jepsen.util - 1\t:info\t:write\t:timed-out\n\
                    INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 0\t:ok\t:read\tnil\n";
        assert_eq!(detect(text).unwrap(), Some(Format::EtcdLog));
        let h = auto(text).unwrap();
        assert_eq!(h.ops.len(), 6);
        assert_eq!(h.ops[0].value, json!([1, 2]));
        assert_eq!(h.ops[1].kind, OpType::Fail);
        assert_eq!(h.ops[2].value, json!(4));
        assert_eq!(h.ops[3].kind, OpType::Info);
        assert_eq!(h.ops[3].error.as_deref(), Some("timed-out"));
        assert_eq!(h.ops[5].value, json!(null));
        assert_eq!(h.ops[5].index, Some(5));
    }

    #[test]
    fn etcd_fast_path_reads_what_the_general_reader_reads() {
        let text = "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2]\n\
                    INFO  jepsen.util - 3\t:fail\t:cas\t[1 2]\n\n\
                    INFO  jepsen.util - 12\t:invoke\t:write\t-4\n\
                    INFO  jepsen.util - 12\t:info\t:write\t:timed-out\n\
                    INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
                    INFO  jepsen.util - 0\t:invoke\t:cas\t[nil 0]\n\
                    INFO  jepsen.util - 0\t:fail\t:read\t:timed-out  \n";
        let fast = etcd_fast(text).expect("the fast path takes these lines");
        assert_eq!(fast.ops, etcd_general(text).unwrap().ops);
        let corpus = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/porcupine/jepsen/etcd_000.log"
        );
        if let Ok(text) = std::fs::read_to_string(corpus) {
            let fast = etcd_fast(&text).expect("the fast path takes the corpus");
            assert_eq!(fast.ops, etcd_general(&text).unwrap().ops);
        }
        // Anything else falls back to the general reader (same result or error).
        for odd in [
            "INFO jepsen.util - 3 :invoke :cas [1 2]",
            "INFO  jepsen.util - +3\t:invoke\t:read\tnil",
            "INFO  jepsen.util - 3\t:invoke\t:cas\t[1  2]",
            "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2 3]",
            "INFO  jepsen.util - 3\t:invoke\t:read",
            "INFO  jepsen.util - 3\t:invoke\t:read\tnil\textra",
            "INFO  jepsen.util - 3\t:invoke\t:write\t99999999999999999999",
        ] {
            assert!(etcd_fast(odd).is_none(), "{odd:?}");
            let _ = etcd_log(odd);
        }
    }

    #[test]
    fn malformed_etcd_lines_name_the_line() {
        for (text, line, word) in [
            (
                "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nhello",
                2,
                "etcd log line",
            ),
            ("INFO  jepsen.util - x\t:invoke\t:read\tnil", 1, "process"),
            (
                "INFO  jepsen.util - 1\t:done\t:read\tnil",
                1,
                "type must be",
            ),
            ("INFO  jepsen.util - 1\t:ok\tread\tnil", 1, "function"),
            (
                "\nINFO  jepsen.util - 1\t:ok\t:read\t[1 x]",
                2,
                "value must be",
            ),
            ("INFO  jepsen.util - 1", 1, "type must be"),
        ] {
            let e = etcd_log(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(word), "{text:?}: {e}");
        }
    }

    #[test]
    fn kv_lines_keep_the_key_as_a_tuple() {
        let text = "{:process 0, :type :invoke, :f :get, :key \"3\", :value nil}\n\
                    {:process 0, :type :ok, :f :get, :key \"3\", :value \"x 1 y\"}\n";
        assert_eq!(detect(text).unwrap(), Some(Format::EdnKeyed));
        let h = auto(text).unwrap();
        assert_eq!(h.ops[0].value, json!(["3", null]));
        assert_eq!(h.ops[1].value, json!(["3", "x 1 y"]));
        assert_eq!(h.ops[1].kind, OpType::Ok);
        let e =
            kv_edn("{:process 0, :type :invoke, :f :get, :key \"3\"}\n{:process 0, :key \"3\"}")
                .unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        // Plain Jepsen EDN without :key is still plain EDN.
        assert_eq!(
            detect("{:type :invoke, :process 0, :f :add, :value 1}").unwrap(),
            Some(Format::Edn)
        );
    }
}
