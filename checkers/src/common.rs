//! Helpers every checker shares: malformed-op errors, short renderings of
//! values and times for summaries, and online pairing of invocations with
//! their completions.
//!
//! Kept in one place so that all checkers word their summaries the same way
//! (`3 elements`, `1.2 s`, `17, 42, …`) and agree on what an op's index is.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::history::Process;
use crate::raw::{OpLike, Val};

/// How many items a summary line lists before ending with "…".
pub(crate) const SUMMARY_ITEMS: usize = 10;

/// An op whose value is not what the checker's workload writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("op {index} ({f}): {message}")]
pub struct MalformedOp {
    /// The `index` of the offending op (its position if it had none).
    pub index: u64,
    /// Its function, e.g. `add` or `read`.
    pub f: String,
    /// What is wrong with its value.
    pub message: String,
}

/// The op's recorded index, or its position when it has none.
pub(crate) fn index_of<O: OpLike + ?Sized>(op: &O, position: usize) -> u64 {
    op.index().unwrap_or(position as u64)
}

/// A [`MalformedOp`] for `op` at `position`.
pub(crate) fn malformed<O: OpLike + ?Sized>(
    op: &O,
    position: usize,
    message: String,
) -> MalformedOp {
    MalformedOp {
        index: index_of(op, position),
        f: op.f().to_string(),
        message,
    }
}

// Lives beside `Val`, whose renderings share it; every checker reaches it
// here.
pub(crate) use crate::raw::short_json;

/// `n thing` or `n things`.
pub(crate) fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("{n} {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// `1, 2, 3` with "…" after the first few (and whenever `total` says the list
/// was already cut).
pub(crate) fn list<T: std::fmt::Display>(
    items: impl IntoIterator<Item = T>,
    total: usize,
) -> String {
    let shown: Vec<String> = items
        .into_iter()
        .take(SUMMARY_ITEMS)
        .map(|e| e.to_string())
        .collect();
    let mut s = shown.join(", ");
    if total > shown.len() {
        s.push_str(", …");
    }
    s
}

/// Sorts and cuts a list to `cap` entries.
pub(crate) fn sorted_capped<T: Ord>(mut v: Vec<T>, cap: usize) -> Vec<T> {
    v.sort_unstable();
    v.truncate(cap);
    v
}

/// Nanoseconds since the test started, as seconds for a summary: `14.2 s`.
pub(crate) fn secs(ns: u64) -> String {
    format!("{:.1} s", ns as f64 / 1e9)
}

/// Nanoseconds as milliseconds.
pub(crate) fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The integers of a JSON list (a read result) into `out` (cleared first),
/// or why not.
pub(crate) fn int_list<O: OpLike + ?Sized>(
    op: &O,
    position: usize,
    v: Val<'_>,
    out: &mut Vec<i64>,
) -> Result<(), MalformedOp> {
    out.clear();
    let items = v.items().ok_or_else(|| {
        malformed(
            op,
            position,
            format!(
                "read result must be a list or set of integers, found {}",
                v.short_json()
            ),
        )
    })?;
    for x in items {
        out.push(x.as_i64().ok_or_else(|| {
            malformed(
                op,
                position,
                format!(
                    "read result must contain only integers, found {}",
                    x.short_json()
                ),
            )
        })?);
    }
    Ok(())
}

/// An invocation seen by an online checker, waiting for its completion.
#[derive(Clone, Debug)]
pub(crate) struct Open<T> {
    /// Position of the invocation in the history.
    pub invoke: usize,
    /// `time` of the invocation.
    pub time: u64,
    /// Whatever the checker kept from the invocation.
    pub data: T,
}

/// Pairs invocations with completions one op at a time, as
/// [`crate::History::pairs`] does for a whole history: a process's next op
/// after an invocation is its completion; completions without invocation are
/// dropped. Whatever is still open at the end is pending (like `info`).
///
/// Client processes below [`DENSE_PROCESSES`] are slots of a vector (no
/// hashing per op), the others in a map.
#[derive(Debug)]
pub(crate) struct Pairer<T> {
    dense: Vec<Option<Open<T>>>,
    open: FxMap<Process, Open<T>>,
}

/// Client processes numbered below this are paired in a vector.
const DENSE_PROCESSES: u64 = 1 << 16;

impl<T> Default for Pairer<T> {
    fn default() -> Self {
        Pairer {
            dense: Vec::new(),
            open: FxMap::default(),
        }
    }
}

impl<T> Pairer<T> {
    /// Records an invocation; a previous open invocation of the same process
    /// (a malformed history) is returned as pending.
    #[inline]
    pub fn invoke(
        &mut self,
        process: Process,
        position: usize,
        time: u64,
        data: T,
    ) -> Option<Open<T>> {
        let open = Open {
            invoke: position,
            time,
            data,
        };
        match process {
            Process::Client(n) if n < DENSE_PROCESSES => {
                let n = n as usize;
                if self.dense.len() <= n {
                    self.dense.resize_with(n + 1, || None);
                }
                self.dense[n].replace(open)
            }
            _ => self.open.insert(process, open),
        }
    }

    /// The open invocation a completion of `process` closes, if any.
    #[inline]
    pub fn complete(&mut self, process: Process) -> Option<Open<T>> {
        match process {
            Process::Client(n) if n < DENSE_PROCESSES => {
                self.dense.get_mut(n as usize).and_then(Option::take)
            }
            _ => self.open.remove(&process),
        }
    }

    /// Everything still open, i.e. pending at the end of the history.
    pub fn drain(&mut self) -> impl Iterator<Item = (Process, Open<T>)> + '_ {
        self.dense
            .drain(..)
            .enumerate()
            .filter_map(|(n, o)| o.map(|o| (Process::Client(n as u64), o)))
            .chain(self.open.drain())
    }
}

/// A fast non-cryptographic hasher (the Fx hash of rustc) for the hot maps
/// of the online checkers: keys are integers and short strings from a
/// history, not adversarial input worth SipHash's cost.
#[derive(Clone, Copy, Default)]
pub(crate) struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(b));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(FX_SEED);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;
