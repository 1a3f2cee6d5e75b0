//! `--concurrency`: how many client workers a test runs, as a number or,
//! in Jepsen's syntax, as a multiple of the node count.
//!
//! Jepsen's `--concurrency 2n` means two workers per node: with 5 nodes,
//! 10 workers. A matrix whose rows differ in node count can then keep the
//! same load per node with one setting. The text is parsed here, at the
//! edge, into a [`Concurrency`]; the number of workers is known once the
//! node count is ([`Concurrency::workers`]).

use std::fmt;
use std::str::FromStr;

/// The most client workers a test may run.
pub const MAX_WORKERS: usize = 1000;

/// `--concurrency`: a number of workers, or a multiple of the node count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// `10`: that many workers.
    Workers(u32),
    /// `2n` (`n` alone is `1n`): that many workers per node.
    PerNode(u32),
}

impl Concurrency {
    /// The number of workers for `nodes` nodes, or why it is out of range
    /// (1 to [`MAX_WORKERS`]).
    pub fn workers(self, nodes: usize) -> Result<usize, String> {
        let n = match self {
            Concurrency::Workers(w) => w as usize,
            Concurrency::PerNode(k) => (k as usize).saturating_mul(nodes),
        };
        if (1..=MAX_WORKERS).contains(&n) {
            Ok(n)
        } else {
            Err(format!(
                "--concurrency {self} is {n} workers with {nodes} nodes; it must be 1 to {MAX_WORKERS}"
            ))
        }
    }
}

impl FromStr for Concurrency {
    type Err = String;

    /// `10`, `2n`, `n` (case-insensitive `n`).
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!("{s:?}: expected a number of workers (10) or a multiple of the node count (2n)")
        };
        let (digits, per_node) = match t.strip_suffix(['n', 'N']) {
            Some(d) => (d, true),
            None => (t, false),
        };
        let k: u32 = match (digits, per_node) {
            ("", true) => 1,
            (d, _) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => {
                d.parse().map_err(|_| bad())?
            }
            _ => return Err(bad()),
        };
        if k == 0 {
            return Err(format!("{s:?}: must be at least 1 (or 1n)"));
        }
        let c = if per_node {
            Concurrency::PerNode(k)
        } else {
            Concurrency::Workers(k)
        };
        if k as usize > MAX_WORKERS {
            return Err(format!("{s:?}: at most {MAX_WORKERS} workers"));
        }
        Ok(c)
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concurrency::Workers(w) => write!(f, "{w}"),
            Concurrency::PerNode(k) => write!(f, "{k}n"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Concurrency {
    /// A configuration file's `concurrency = 10` or `concurrency = "2n"`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, Visitor};
        struct V;
        impl Visitor<'_> for V {
            type Value = Concurrency;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of workers (10) or a multiple of the node count (\"2n\")")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Concurrency, E> {
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Concurrency, E> {
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Concurrency, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_multiples_of_the_node_count_parse_and_resolve() {
        for (text, want, workers_on_5) in [
            ("10", Concurrency::Workers(10), 10),
            ("2n", Concurrency::PerNode(2), 10),
            (" 3N ", Concurrency::PerNode(3), 15),
            ("n", Concurrency::PerNode(1), 5),
            ("1000", Concurrency::Workers(1000), 1000),
        ] {
            let c: Concurrency = text.parse().unwrap();
            assert_eq!(c, want, "{text}");
            assert_eq!(c.workers(5), Ok(workers_on_5), "{text}");
        }
        assert_eq!(Concurrency::PerNode(2).to_string(), "2n");
        assert_eq!(Concurrency::Workers(7).to_string(), "7");
    }

    #[test]
    fn bad_text_and_out_of_range_counts_are_one_line_errors() {
        for (text, want) in [
            (
                "",
                "expected a number of workers (10) or a multiple of the node count (2n)",
            ),
            ("2x", "expected a number"),
            ("n2", "expected a number"),
            ("-1", "expected a number"),
            ("2.5n", "expected a number"),
            ("0", "must be at least 1"),
            ("0n", "must be at least 1"),
            ("1001", "at most 1000 workers"),
            ("99999999999999n", "expected a number"),
        ] {
            let e = text.parse::<Concurrency>().unwrap_err();
            assert!(e.contains(want) && !e.contains('\n'), "{text:?}: {e}");
        }
        let e = Concurrency::PerNode(300).workers(5).unwrap_err();
        assert_eq!(
            e,
            "--concurrency 300n is 1500 workers with 5 nodes; it must be 1 to 1000"
        );
    }
}
