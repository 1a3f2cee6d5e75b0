//! `faultline generate`: synthetic histories of known verdict and any size,
//! for measuring the checkers (`faultline check` on 1 M or 5 M lines, the
//! linearizability search on 10 k to 1 M ops) and for rerunning the
//! README's figures.
//!
//! Each shape is built so that its verdict is known by construction:
//!
//! - **set**: clients add unique integers (about 1 % of adds fail and 2 %
//!   time out, half of those taking effect), then every key's set is read
//!   three times through three nodes. With `--keys K` the ops are Jepsen's
//!   `[key, element]` tuples over K independent sets. Valid, unless
//!   `--invalid`: one acknowledged element is missing from the last final
//!   read (a lost write).
//! - **counter**: adds of deltas in -3..=5 by 16 clients, a read after
//!   every third add returning the exact sum. `--invalid`: one read in the
//!   middle returns a total no subset of the adds reaches.
//! - **register**: reads, writes and compare-and-sets over `--keys`
//!   registers by 16 clients with up to 16 ops in flight. Each op takes
//!   effect at a random moment between its invocation and its completion
//!   (so the history is linearizable); `--crashed F` of the writes and
//!   cas end `info` (the client crashed; the op took effect or not, at
//!   random) and their process is replaced by a new one, as Jepsen does.
//!   Written values are unique per key. `--invalid`: the last read of one
//!   key returns the value of its first acknowledged write, although
//!   another acknowledged write began after that one ended.
//!
//! `--lines` is the target length in lines (a few more may be written to
//! finish a round); `--seed` makes the file reproducible.

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::PathBuf;

/// `faultline generate` arguments.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// The shape: set, counter or register.
    #[arg(value_parser = ["set", "counter", "register"])]
    pub shape: String,
    /// About this many lines (ops).
    #[arg(long, default_value_t = 1_000_000)]
    pub lines: u64,
    /// Independent keys: sets (`[key, element]` ops; 0: unkeyed) or
    /// registers.
    #[arg(long)]
    pub keys: Option<u64>,
    /// Register only: the share of writes and cas whose client crashes
    /// (`info`), from 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub crashed: f64,
    /// Make the history invalid in the way the shape describes.
    #[arg(long)]
    pub invalid: bool,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Writes one JSONL op line.
struct Out<W: Write> {
    w: W,
    index: u64,
    time: u64,
}

impl<W: Write> Out<W> {
    fn op(&mut self, kind: &str, process: u64, f: &str, value: &str) -> std::io::Result<()> {
        self.time += 1_000;
        let (i, t) = (self.index, self.time);
        self.index += 1;
        writeln!(
            self.w,
            r#"{{"index":{i},"type":"{kind}","process":{process},"f":"{f}","value":{value},"time":{t}}}"#
        )
    }

    fn op_at(
        &mut self,
        kind: &str,
        process: u64,
        f: &str,
        value: &str,
        node: &str,
    ) -> std::io::Result<()> {
        self.time += 1_000;
        let (i, t) = (self.index, self.time);
        self.index += 1;
        writeln!(
            self.w,
            r#"{{"index":{i},"type":"{kind}","process":{process},"f":"{f}","value":{value},"time":{t},"node":"{node}"}}"#
        )
    }
}

/// Runs `faultline generate`.
pub fn main(args: GenerateArgs) -> Result<i32> {
    if !(0.0..=1.0).contains(&args.crashed) {
        bail!(crate::UsageError(format!(
            "--crashed {} is not a share from 0 to 1 (e.g. 0.05)",
            args.crashed
        )));
    }
    let sink: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = Out {
        w: std::io::BufWriter::with_capacity(1 << 20, sink),
        index: 0,
        time: 0,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    match args.shape.as_str() {
        "set" => set(&mut out, &mut rng, &args)?,
        "counter" => counter(&mut out, &mut rng, &args)?,
        _ => register(&mut out, &mut rng, &args)?,
    }
    out.w.flush()?;
    Ok(0)
}

/// The set shape.
fn set<W: Write>(out: &mut Out<W>, rng: &mut ChaCha8Rng, a: &GenerateArgs) -> Result<()> {
    let keys = a.keys.unwrap_or(0);
    let sets = keys.max(1);
    // Each element costs two lines; the final reads a few more per key.
    let elements = (a.lines.saturating_sub(6 * sets) / 2).max(sets);
    let per_key = elements / sets;
    let value = |k: u64, e: u64| {
        if keys == 0 {
            e.to_string()
        } else {
            format!("[\"k{k}\",{e}]")
        }
    };
    let mut present: Vec<Vec<u64>> = vec![Vec::new(); sets as usize];
    let mut lost = None;
    for e in 0..per_key * sets {
        let k = e % sets;
        let p = e % 16;
        let v = value(k, e);
        out.op("invoke", p, "add", &v)?;
        let roll = rng.random_range(0..100);
        let kind = match roll {
            0 => "fail",
            1 | 2 => "info",
            _ => "ok",
        };
        out.op(kind, p, "add", &v)?;
        let applied = kind == "ok" || (kind == "info" && rng.random_bool(0.5));
        if applied {
            present[k as usize].push(e);
        }
        if kind == "ok" && lost.is_none() && e >= per_key * sets / 2 {
            lost = Some(e);
        }
    }
    for k in 0..sets {
        let elems = &present[k as usize];
        for (i, node) in ["n1", "n2", "n3"].iter().enumerate() {
            let last = i == 2 && k == lost.map_or(0, |e| e % sets);
            let mut list = String::with_capacity(elems.len() * 8 + 2);
            list.push('[');
            let mut first = true;
            for &e in elems {
                if a.invalid && last && Some(e) == lost {
                    continue;
                }
                if !first {
                    list.push(',');
                }
                first = false;
                list.push_str(&e.to_string());
            }
            list.push(']');
            let p = 100 + i as u64;
            let (invoke, read) = if keys == 0 {
                ("null".to_string(), list)
            } else {
                (format!("[\"k{k}\",null]"), format!("[\"k{k}\",{list}]"))
            };
            out.op_at("invoke", p, "read", &invoke, node)?;
            out.op_at("ok", p, "read", &read, node)?;
        }
    }
    Ok(())
}

/// The counter shape.
fn counter<W: Write>(out: &mut Out<W>, rng: &mut ChaCha8Rng, a: &GenerateArgs) -> Result<()> {
    let mut sum: i64 = 0;
    let mut lines = 0;
    let mut adds = 0u64;
    let mut spoiled = false;
    while lines < a.lines {
        let p = adds % 16;
        let d: i64 = rng.random_range(-3..=5);
        out.op("invoke", p, "add", &d.to_string())?;
        out.op("ok", p, "add", &d.to_string())?;
        sum += d;
        adds += 1;
        lines += 2;
        if adds.is_multiple_of(3) {
            let mut v = sum;
            if a.invalid && !spoiled && lines >= a.lines / 2 {
                v = sum + 1_000_000;
                spoiled = true;
            }
            out.op("invoke", 16, "read", "null")?;
            out.op("ok", 16, "read", &v.to_string())?;
            lines += 2;
        }
    }
    Ok(())
}

/// One register op in flight.
struct Flight {
    process: u64,
    f: &'static str,
    key: u64,
    /// The invocation's value (write: v; cas: [old, new]).
    arg: (i64, i64),
    /// What it returned or did, once it took effect.
    result: Option<(bool, i64)>,
    /// Its invocation's index.
    invoked_at: u64,
}

/// Per register, what `--invalid` needs: the first acknowledged write
/// (value, completion index) and the latest invocation of an acknowledged
/// write.
#[derive(Clone, Copy, Default)]
struct Writes {
    first: Option<(i64, u64)>,
    last_invoked: Option<u64>,
}

/// The register shape.
fn register<W: Write>(out: &mut Out<W>, rng: &mut ChaCha8Rng, a: &GenerateArgs) -> Result<()> {
    let keys = a.keys.unwrap_or(10).max(1);
    let mut state: Vec<Option<i64>> = vec![None; keys as usize];
    let mut writes: Vec<Writes> = vec![Writes::default(); keys as usize];
    let mut next_value: Vec<i64> = vec![1; keys as usize];
    let mut procs: Vec<u64> = (0..16).collect();
    let mut next_process = 16u64;
    let mut flights: Vec<Option<Flight>> = (0..16).map(|_| None).collect();
    let val = |v: Option<i64>| v.map_or("null".to_string(), |v| v.to_string());
    let mut lines = 0u64;
    while lines < a.lines || flights.iter().any(Option::is_some) {
        let slot = rng.random_range(0..16usize);
        match flights[slot].take() {
            None if lines >= a.lines => {}
            None => {
                let key = rng.random_range(0..keys);
                let k = key as usize;
                let (f, arg) = match rng.random_range(0..10) {
                    0..=3 => ("read", (0, 0)),
                    4..=7 => {
                        let v = next_value[k];
                        next_value[k] += 1;
                        ("write", (v, 0))
                    }
                    _ => {
                        let old = state[k].unwrap_or(0);
                        let new = next_value[k];
                        next_value[k] += 1;
                        ("cas", (old, new))
                    }
                };
                let value = match f {
                    "read" => format!("[{key},null]"),
                    "write" => format!("[{key},{}]", arg.0),
                    _ => format!("[{key},[{},{}]]", arg.0, arg.1),
                };
                let invoked_at = out.index;
                out.op("invoke", procs[slot], f, &value)?;
                lines += 1;
                flights[slot] = Some(Flight {
                    process: procs[slot],
                    f,
                    key,
                    arg,
                    result: None,
                    invoked_at,
                });
            }
            Some(mut fl) if fl.result.is_none() => {
                // It takes effect now (between invocation and completion).
                let k = fl.key as usize;
                let before = state[k];
                fl.result = Some(match fl.f {
                    "read" => (true, before.unwrap_or(i64::MIN)),
                    "write" => {
                        state[k] = Some(fl.arg.0);
                        (true, 0)
                    }
                    _ if before == Some(fl.arg.0) => {
                        state[k] = Some(fl.arg.1);
                        (true, 0)
                    }
                    _ => (false, 0),
                });
                // A crashed op may not take effect at all.
                let crashes = fl.f != "read" && rng.random_bool(a.crashed);
                if crashes {
                    if rng.random_bool(0.5) {
                        state[k] = before;
                    }
                    out.op("info", fl.process, fl.f, "null")?;
                    lines += 1;
                    procs[slot] = next_process;
                    next_process += 1;
                } else {
                    flights[slot] = Some(fl);
                }
            }
            Some(fl) => {
                let (ok, read) = fl.result.expect("took effect");
                let key = fl.key;
                let (kind, value) = match fl.f {
                    "read" => (
                        "ok",
                        format!("[{key},{}]", val((read != i64::MIN).then_some(read))),
                    ),
                    "write" => ("ok", format!("[{key},{}]", fl.arg.0)),
                    _ if ok => ("ok", format!("[{key},[{},{}]]", fl.arg.0, fl.arg.1)),
                    _ => ("fail", format!("[{key},[{},{}]]", fl.arg.0, fl.arg.1)),
                };
                let done_at = out.index;
                out.op(kind, fl.process, fl.f, &value)?;
                lines += 1;
                if kind == "ok" && fl.f == "write" {
                    let w = &mut writes[key as usize];
                    w.first.get_or_insert((fl.arg.0, done_at));
                    w.last_invoked = Some(fl.invoked_at);
                }
            }
        }
    }
    // One read of every key after everything completed; with --invalid,
    // the first key whose first acknowledged write was followed by another
    // returns the first one's value: stale, since values never repeat.
    let mut spoiled = !a.invalid;
    for key in 0..keys {
        let k = key as usize;
        let mut v = state[k];
        if !spoiled {
            if let (Some((first, done)), Some(later)) = (writes[k].first, writes[k].last_invoked) {
                if later > done {
                    v = Some(first);
                    spoiled = true;
                }
            }
        }
        out.op("invoke", 1_000_000, "read", &format!("[{key},null]"))?;
        out.op("ok", 1_000_000, "read", &format!("[{key},{}]", val(v)))?;
    }
    if !spoiled {
        bail!("--invalid: no key had an acknowledged write to read stale; generate more lines");
    }
    Ok(())
}
