//! `test-all --shard I/N`: one machine's share of a matrix.
//!
//! A CI engine that runs one job per index — GitHub Actions'
//! `strategy.matrix`, a Kubernetes Indexed Job's completion index, GitLab's
//! `parallel` — spreads a matrix over N machines by giving each its shard.
//! The rows (in file order, after `--only`) are numbered from 0, and row
//! `k` belongs to shard `(k mod N) + 1`: every row to exactly one shard,
//! the same one on every machine, and consecutive rows (often the slow
//! ones of one kind) to different shards. `faultline merge` then joins the
//! shards' results into one summary ([`super::merge`]).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (both from 1: `1/2` and `2/2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, 1 to `count`.
    pub index: u32,
    /// How many shards the matrix is cut into.
    pub count: u32,
}

impl Shard {
    /// Whether row `k` (from 0, in file order) belongs to this shard.
    pub fn takes(self, k: usize) -> bool {
        k % self.count as usize == (self.index - 1) as usize
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N` with 1 ≤ I ≤ N.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{s:?}: {why}");
        let (i, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("expected I/N, e.g. 1/4 (shard I of N, from 1)"))?;
        let num = |t: &str| -> Result<u32, String> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("expected I/N, e.g. 1/4 (shard I of N, from 1)"));
            }
            t.parse()
                .map_err(|_| bad("expected I/N, e.g. 1/4 (shard I of N, from 1)"))
        };
        let (index, count) = (num(i)?, num(n)?);
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(bad(&format!(
                "I must be 1 to {count} (shards count from 1; a Kubernetes completion index or GitHub's 0-based index needs +1)"
            )));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_goes_to_exactly_one_shard_round_robin() {
        for count in 1..=5u32 {
            let shards: Vec<Shard> = (1..=count).map(|index| Shard { index, count }).collect();
            for k in 0..23 {
                let owners: Vec<u32> = shards
                    .iter()
                    .filter(|s| s.takes(k))
                    .map(|s| s.index)
                    .collect();
                assert_eq!(owners, [(k as u32 % count) + 1], "row {k} of {count}");
            }
        }
        let s: Shard = "2/3".parse().unwrap();
        let rows: Vec<usize> = (0..8).filter(|k| s.takes(*k)).collect();
        assert_eq!(rows, [1, 4, 7]);
        assert_eq!(s.to_string(), "2/3");
        assert_eq!(" 1 / 1 ".parse::<Shard>(), Ok(Shard { index: 1, count: 1 }));
    }

    #[test]
    fn bad_shards_are_one_line_errors_saying_what_is_expected() {
        for (text, want) in [
            ("1", "expected I/N"),
            ("a/2", "expected I/N"),
            ("1/-2", "expected I/N"),
            ("1/2/3", "expected I/N"),
            ("", "expected I/N"),
            ("0/2", "I must be 1 to 2"),
            ("3/2", "I must be 1 to 2"),
            ("1/0", "N must be at least 1"),
            ("99999999999/2", "expected I/N"),
        ] {
            let e = text.parse::<Shard>().unwrap_err();
            assert!(e.contains(want) && !e.contains('\n'), "{text:?}: {e}");
            assert!(e.starts_with(&format!("{text:?}: ")), "{e}");
        }
    }
}
