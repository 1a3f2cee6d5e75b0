//! What several test areas share: the vendored data files, a history built
//! from rows, and small seeded random generators.
//!
//! The peers' histories the tests reproduce verdicts on are vendored under
//! `checkers/tests/data` (each folder's `ORIGIN.md` names its origin and
//! licence); [`data`] finds one there and fails with a message naming the
//! missing path, never reading anything outside the repository. Random
//! tests draw from a [`Seeded`] generator with a fixed seed, so every run
//! sees the same histories and a failure names the seed that reproduces it.

use std::path::PathBuf;

use checkers::{History, Op, OpType, Process};
use serde_json::Value;

/// The path of `rel` under `checkers/tests/data`, which must exist.
pub fn data(rel: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    assert!(
        path.exists(),
        "vendored test data is missing: expected {} (the files are in the repository; see the ORIGIN.md beside them)",
        path.display()
    );
    path
}

/// The text of the data file `rel` (under `checkers/tests/data`).
pub fn read_data(rel: &str) -> String {
    let path = data(rel);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e})", path.display()))
}

/// A history from `(process, type, f, value)` rows in real-time order:
/// `type` is `invoke`, `ok`, `fail` or anything else for `info`; each op's
/// index is its row's position, its time 0.
pub fn history(rows: &[(u64, &str, &str, Value)]) -> History {
    History::new(
        rows.iter()
            .enumerate()
            .map(|(i, (p, t, f, v))| Op {
                index: Some(i as u64),
                kind: match *t {
                    "invoke" => OpType::Invoke,
                    "ok" => OpType::Ok,
                    "fail" => OpType::Fail,
                    _ => OpType::Info,
                },
                process: Process::Client(*p),
                f: f.to_string(),
                value: v.clone(),
                time: 0,
                node: None,
                error: None,
            })
            .collect(),
    )
}

/// A deterministic source of random numbers (no dependency): the same seed
/// gives the same sequence on every machine.
pub trait Seeded {
    /// The next 64 random bits.
    fn next(&mut self) -> u64;

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `xs`, which must not be empty.
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// splitmix64: a small seeded generator whose every seed is good.
pub struct SplitMix64(pub u64);

impl Seeded for SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xorshift64*: deterministic, good enough to explore shapes; the seed
/// must not be 0.
pub struct XorShift64Star(pub u64);

impl Seeded for XorShift64Star {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
