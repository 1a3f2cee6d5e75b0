//! The linearizability checker: could the history have happened on one copy
//! of the data, each operation taking effect at one instant between its
//! invocation and its completion?
//!
//! Models (sequential specifications) built in ([`Model`]): two over one
//! value,
//!
//! - **register**: `read`, `write v`, `cas [old new]` on a register that
//!   starts as `null`;
//! - **kv**: `get`, `put v`, `append v` on string values that start as `""`.
//!
//! and five of Knossos's models whose state is more than one value (mutex,
//! multi-register, unordered and FIFO queue, set), in the `structures`
//! module, which explains how their states are still compared as integers.
//!
//! When every op's value is a `[key value]` tuple ([`crate::keyed`]), each key
//! is an independent object: the history is linearizable iff each key's
//! sub-history is (P-compositionality), so keys are checked one by one,
//! which is exponentially cheaper than checking them together. (The
//! [`Options::split_by_key`] flag turns this off, for measurements.)
//!
//! # What the ops mean
//!
//! `ok` ops took effect once, within [invocation, completion]. `fail` ops did
//! nothing. Whether a failed `cas` is also evidence that the register did
//! not hold `old` at some instant of its interval (Porcupine: yes; Knossos:
//! no, it is dropped), and whether a read that returned nil is evidence, is
//! the [`Reading`] in [`Options::reading`]; the register starts at
//! [`Options::initial_value`]. `info` and pending ops may have taken effect
//! at any instant after their invocation, or never; an `info` or pending
//! read tells nothing and is ignored. See [`compile`] for the full table.
//!
//! # How
//!
//! Wing & Gong's backtracking search with Lowe's memoisation of (set of
//! linearized ops, state) configurations, over interned values, with one
//! provably safe pruning rule (read-only ops are linearized greedily); see
//! the `search` module for the algorithm and the proof. The search is bounded by a
//! [`Budget`]; when it runs out the verdict is unknown, never a guess. Keys
//! are decided in rounds of growing step limits (an easy invalid key is
//! found without waiting for a hard valid one), and a key that needs more
//! than one round resumes its search where it stopped. Kv values built by
//! appends are never copied during the search: each is a (prefix, suffix)
//! pair with an O(1) hash, and equal strings still get equal ids (the
//! `model` module).
//!
//! # What an invalid verdict shows
//!
//! For the first invalid key: the op the search could not get past at its
//! deepest point, the length of the longest linearizable prefix and the
//! state after it, and a small set of ops that is not linearizable by
//! itself, shrunk greedily (the `counterexample` module; small, not
//! guaranteed smallest). For registers the set is closed: every op that
//! could have set the value one of its reads (or cas ops) saw last is in
//! it, so nothing left out explains the failure, and it names the op its own
//! search could not place; a shrink out of budget reports the blocked op and
//! the prefix instead (`kind: "frontier"`). The details JSON (the `report`
//! module) lists these ops with process, f, value, result, invoke/complete
//! indices and times and key. Shrinking re-checks many subsets;
//! [`Options::counterexample`]` = false` skips it and reports the verdict
//! with the blocked op and the prefix only.
//!
//! ```
//! use checkers::{linear, parse, Validity};
//!
//! // A stale read: 2 was written and acknowledged before the read began.
//! let h = parse::edn(
//!     "{:type :invoke, :process 0, :f :write, :value 1}
//!      {:type :ok,     :process 0, :f :write, :value 1}
//!      {:type :invoke, :process 0, :f :write, :value 2}
//!      {:type :ok,     :process 0, :f :write, :value 2}
//!      {:type :invoke, :process 1, :f :read, :value nil}
//!      {:type :ok,     :process 1, :f :read, :value 1}",
//! )?;
//! let r = linear::check(&h, linear::Model::Register);
//! assert_eq!(r.valid, Validity::Invalid);
//! assert!(r.summary.contains("read by process 1 returned 1"), "{}", r.summary);
//! # Ok::<(), checkers::parse::ParseError>(())
//! ```

mod cache;
pub mod compile;
mod counterexample;
mod fxhash;
mod lists;
mod model;
pub mod reading;
mod report;
mod search;
mod stale;
mod structures;
#[cfg(test)]
mod tests;

use crate::history::History;
use crate::verdict::{CheckResult, Validity};
use compile::Problem;
use model::{Machine, Multi, Single, Values};
pub use reading::Reading;
use report::{describe_op, op_json, summarize, KeyResult};
use search::{Outcome, Spent};
use serde_json::{json, Value};
pub use structures::Registers;

/// The sequential specification a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// `read` / `write` / `cas [old new]` on a register starting as `null`.
    Register,
    /// `get` / `put` / `append` on strings starting as `""`.
    Kv,
    /// `acquire` / `release` of one lock, starting free (Knossos's `mutex`).
    Mutex,
    /// `txn` ops of `[read k v]` / `[write k v]` micro-ops over registers
    /// starting as `null` (Knossos's `multi-register`).
    MultiRegister,
    /// `enqueue v` / `dequeue` on a queue that may hand out its elements in
    /// any order (Knossos's `unordered-queue`).
    Queue,
    /// `enqueue v` / `dequeue` on a first-in first-out queue (Knossos's
    /// `fifo-queue`).
    FifoQueue,
    /// `add v` and a `read` of the whole set (Knossos's `set`).
    LinearSet,
}

pub(crate) use Model as ModelKind;

impl Model {
    /// Every model, in the order the docs list them.
    pub const ALL: [Model; 7] = [
        Model::Register,
        Model::Kv,
        Model::Mutex,
        Model::MultiRegister,
        Model::Queue,
        Model::FifoQueue,
        Model::LinearSet,
    ];

    /// The model's name, as in `faultline check --workload`.
    pub fn name(self) -> &'static str {
        match self {
            Model::Register => "register",
            Model::Kv => "kv",
            Model::Mutex => "mutex",
            Model::MultiRegister => "multi-register",
            Model::Queue => "queue",
            Model::FifoQueue => "fifo-queue",
            Model::LinearSet => "linear-set",
        }
    }

    /// The model named `name` (as [`Model::name`] gives it), if any.
    pub fn from_name(name: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the model's state is compound (not one value): the models
    /// of the `structures` module.
    fn structured(self) -> bool {
        !matches!(self, Model::Register | Model::Kv)
    }
}

/// Limits on the search, so that a hard history gives `unknown` instead of
/// hanging or exhausting memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Steps (tries of an op in a state) over the whole check.
    pub max_steps: u64,
    /// Bytes the memo of explored configurations may hold: a key's search
    /// stops (unknown) past it, and the memos of keys suspended between
    /// rounds are together kept within it (the biggest restart from
    /// scratch), so all of them stay within twice this.
    pub max_cache_bytes: usize,
}

impl Default for Budget {
    /// 100 million steps (tens of seconds at worst) and 1 GiB of cache.
    fn default() -> Self {
        Budget {
            max_steps: 100_000_000,
            max_cache_bytes: 1 << 30,
        }
    }
}

/// How to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Limits on the search.
    pub budget: Budget,
    /// Check each key of a keyed history on its own (default true). Turning
    /// it off checks the whole history against a map of all keys: same
    /// verdict, exponentially slower; only useful to measure that.
    pub split_by_key: bool,
    /// Shrink a counterexample for an invalid verdict (default true). When
    /// false, an invalid verdict still reports the blocked op, the longest
    /// linearizable prefix and the state after it (what the search found
    /// anyway), but `details.violation.counterexample` is `null` and
    /// `details.violation.longest_prefix` lists the prefix's ops by their
    /// invocation's history index instead of in full: that is the verdict
    /// alone, which is what Porcupine's own check time measures.
    pub counterexample: bool,
    /// What a failed `cas` and a read of nil say about a register (default
    /// [`Reading::FAULTLINE`]; [`Reading::for_format`] gives the one a
    /// parsed file's format means).
    pub reading: Reading,
    /// The register's value before the first op (`None`: `null`). For kv,
    /// a string every key starts as (`None`: `""`).
    pub initial_value: Option<Value>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            budget: Budget::default(),
            split_by_key: true,
            counterexample: true,
            reading: Reading::default(),
            initial_value: None,
        }
    }
}

/// Checks `history` against `model` with default [`Options`].
pub fn check(history: &History, model: Model) -> CheckResult {
    check_with(history, model, &Options::default())
}

/// Checks `history` against `model`. The result is named `linearizable`;
/// see the [module docs](self) for what it reports.
pub fn check_with(history: &History, model: Model, options: &Options) -> CheckResult {
    if model.structured() {
        let registers = match (model, &options.initial_value) {
            (_, None) => Registers::new(),
            (Model::MultiRegister, Some(Value::Object(map))) => map.clone(),
            (_, Some(other)) => {
                let why = match model {
                    Model::MultiRegister => format!(
                        "the multi-register's initial value must be a map of register to value, such as {{\"x\": 0}}, found {other}"
                    ),
                    _ => format!("the {} model takes no initial value", model.name()),
                };
                return unknown_before_search(model, why);
            }
        };
        return structures::check_with(history, model, options, &registers);
    }
    let initial = match initial_text(model, options.initial_value.as_ref()) {
        Ok(text) => text,
        Err(why) => return unknown_before_search(model, why),
    };
    let initial = initial.as_str();
    let reading = options.reading;
    let keyed = compile::is_keyed(history);
    let split = keyed && options.split_by_key;
    let mut spent = Spent::default();
    let budget = options.budget;
    let results = if split {
        let mut jobs = Vec::new();
        let mut results = Vec::new();
        for (key, compiled) in compile::compile_by_key(history, model, initial, reading) {
            match compiled {
                Ok((p, values)) => jobs.push(Job::new(p, Single::new(values), Some(key))),
                Err(e) => results.push(KeyResult::model_error(Some(key), e)),
            }
        }
        results.extend(race(
            history,
            jobs,
            &budget,
            &mut spent,
            options.counterexample,
        ));
        results
    } else {
        let mut values = Values::new(initial);
        let mut keys = Vec::new();
        match compile::compile(history, model, &mut values, keyed, None, &mut keys, reading) {
            Ok(p) if keyed => race(
                history,
                vec![Job::new(p, Multi::new(values, keys), None)],
                &budget,
                &mut spent,
                options.counterexample,
            ),
            Ok(p) => race(
                history,
                vec![Job::new(p, Single::new(values), None)],
                &budget,
                &mut spent,
                options.counterexample,
            ),
            Err(e) => vec![KeyResult::model_error(None, e)],
        }
    };
    let mut result = summarize(model, split, results, spent);
    if model == Model::Register {
        result.details["reading"] = json!(reading.describe());
        result.details["initial_value"] = options.initial_value.clone().unwrap_or(Value::Null);
        // Say how the history was read when it was not faultline's default.
        if reading != Reading::FAULTLINE || options.initial_value.is_some() {
            let from = match &options.initial_value {
                Some(v) => format!(", from {v}"),
                None => String::new(),
            };
            result.summary += &format!(" [reading: {}{from}]", reading.describe());
        }
    }
    result
}

/// An unknown verdict for a history that cannot be searched at all (its
/// settings do not fit the model), saying why.
fn unknown_before_search(model: Model, why: String) -> CheckResult {
    let r = KeyResult {
        key: None,
        valid: Validity::Unknown,
        ops: 0,
        why_unknown: Some(why),
        violation: None,
        sentence: None,
        skipped: false,
    };
    summarize(model, false, vec![r], Spent::default())
}

/// The interned text of the initial value: a register's JSON text, a kv
/// key's string (the structured models are checked elsewhere).
fn initial_text(model: Model, initial: Option<&Value>) -> Result<String, String> {
    match (model, initial) {
        (Model::Kv, None) => Ok(String::new()),
        (Model::Kv, Some(Value::String(s))) => Ok(s.clone()),
        (Model::Kv, Some(other)) => Err(format!(
            "the kv model's initial value must be a string, found {other}"
        )),
        (_, None) => Ok("null".into()),
        (_, Some(v)) => Ok(v.to_string()),
    }
}

/// Checks a history of `txn` ops against Knossos's multi-register whose
/// registers start as `initial` says (key → value; keys not named start as
/// `null`), as Knossos's `(multi-register {:x 0 :y 0})` does. With an empty
/// map this is [`check_with`]`(history, Model::MultiRegister, options)`.
///
/// ```
/// use checkers::{linear, parse, Validity};
/// use serde_json::json;
///
/// let h = parse::edn(
///     "{:type :invoke, :process 0, :f :txn, :value [[:read :x nil]]}
///      {:type :ok,     :process 0, :f :txn, :value [[:read :x 0]]}",
/// )?;
/// let zero = json!({"x": 0}).as_object().unwrap().clone();
/// let r = linear::check_multi_register(&h, &zero, &linear::Options::default());
/// assert_eq!(r.valid, Validity::Valid);
/// // From null, reading 0 is not possible.
/// let r = linear::check(&h, linear::Model::MultiRegister);
/// assert_eq!(r.valid, Validity::Invalid);
/// # Ok::<(), checkers::parse::ParseError>(())
/// ```
pub fn check_multi_register(
    history: &History,
    initial: &Registers,
    options: &Options,
) -> CheckResult {
    structures::check_with(history, Model::MultiRegister, options, initial)
}

/// One key still to decide.
struct Job<M> {
    p: Problem,
    m: M,
    key: Option<String>,
    /// The ops the search looks at: all but those [`search::prune`] leaves out.
    live: Vec<bool>,
    search: search::Search,
    /// Whether [`stale::find`] has looked at it (once, when the first
    /// round did not decide it).
    stale_checked: bool,
}

impl<M: Machine> Job<M> {
    /// A job for `p` on machine `m`, its search started.
    fn new(p: Problem, m: M, key: Option<String>) -> Self {
        let mut live = vec![true; p.ops.len()];
        search::prune(&p, &mut live);
        let mut job = Job {
            p,
            m,
            key,
            live,
            search: search::Search::default(),
            stale_checked: false,
        };
        job.restart();
        job
    }

    /// (Re)starts the search from scratch, freeing a large memo.
    fn restart(&mut self) {
        self.search = search::Search::default();
        self.search.reset(
            &self.p,
            &search::events(&self.p),
            Some(&self.live),
            &mut self.m,
        );
    }
}

/// Steps each undecided key gets in the first round; every round multiplies
/// it by 4.
const FIRST_ROUND_STEPS: u64 = 20_000;

/// Decides keys in rounds of growing step limits, stopping at the first
/// invalid key: one invalid key makes the history invalid, and an easy
/// violation on one key should not wait for a hard proof on another (this
/// is what checking keys in parallel would give, without threads). A key
/// that runs out of its round's steps is resumed where it stopped in the
/// next round (the search is resumable), so the rounds cost no repeated
/// work. Keys left undecided when an invalid key is found are reported as
/// such.
fn race<M: Machine>(
    history: &History,
    mut jobs: Vec<Job<M>>,
    budget: &Budget,
    spent: &mut Spent,
    with_counterexample: bool,
) -> Vec<KeyResult> {
    let mut done: Vec<KeyResult> = Vec::new();
    let mut round = FIRST_ROUND_STEPS;
    let mut used: Vec<u64> = vec![0; jobs.len()];
    while !jobs.is_empty() {
        let mut undecided = Vec::new();
        let mut undecided_used = Vec::new();
        let mut found_invalid = false;
        // A lone key has nobody to race against: give it everything (after
        // the first round, which finds out whether it is hard).
        if jobs.len() == 1 && round > FIRST_ROUND_STEPS {
            round = u64::MAX;
        }
        // Memos held by the suspended searches not run yet this round.
        let mut waiting: usize = jobs.iter().map(|j| j.search.cache_bytes()).sum();
        for (mut job, mut job_used) in jobs.into_iter().zip(used) {
            waiting -= job.search.cache_bytes();
            if found_invalid {
                undecided.push(job);
                undecided_used.push(job_used);
                continue;
            }
            let left = budget.max_steps.saturating_sub(spent.steps);
            let last_round = round >= left;
            let b = Budget {
                max_steps: spent.steps + round.min(left),
                max_cache_bytes: budget.max_cache_bytes,
            };
            let before = spent.steps;
            let outcome = job.search.run(&job.p, &mut job.m, &b, spent);
            job_used += spent.steps - before;
            // A key the first round did not decide is hard for the search:
            // look for a stale observation, a violation found without
            // searching (register keys only; cheap beside a round).
            let hard = matches!(outcome, Outcome::OutOfBudget(_)) && !job.stale_checked;
            job.stale_checked = true;
            if let Some(s) = hard.then(|| stale::find(&job.p)).flatten() {
                found_invalid = true;
                done.push(stale::key_result(history, &job.p, job.key, s));
                continue;
            }
            match outcome {
                Outcome::OutOfBudget("step limit") if !last_round => {
                    undecided.push(job);
                    undecided_used.push(job_used);
                    // Within the round too, not only at its end: else
                    // every key could hold a full memo at once.
                    shed(&mut undecided, waiting, budget.max_cache_bytes);
                }
                outcome => {
                    let r = judge(history, job, outcome, budget, job_used, with_counterexample);
                    found_invalid = r.valid == Validity::Invalid;
                    done.push(r);
                }
            }
        }
        if found_invalid {
            for job in undecided {
                done.push(KeyResult {
                    key: job.key,
                    valid: Validity::Unknown,
                    ops: job.p.ops.len(),
                    why_unknown: Some(
                        "not decided: the search stopped at the first invalid key".into(),
                    ),
                    violation: None,
                    sentence: None,
                    skipped: true,
                });
            }
            break;
        }
        jobs = undecided;
        used = undecided_used;
        round = round.saturating_mul(4);
    }
    done
}

/// Suspended searches keep their memos; if together with `others` bytes
/// they hold more than one key may (`limit`), restarts the biggest ones from
/// scratch instead (what a non-resumable search would do; same verdicts).
/// So the memos of all keys stay within the limit between searches, and
/// within twice the limit while one runs.
fn shed<M: Machine>(suspended: &mut [Job<M>], others: usize, limit: usize) {
    let mut held: usize = others
        + suspended
            .iter()
            .map(|j| j.search.cache_bytes())
            .sum::<usize>();
    while held > limit {
        let Some(big) = suspended
            .iter_mut()
            .filter(|j| j.search.cache_bytes() > 64 << 10)
            .max_by_key(|j| j.search.cache_bytes())
        else {
            break;
        };
        held -= big.search.cache_bytes();
        big.restart();
        held += big.search.cache_bytes();
    }
}

/// Turns a search outcome into a key's verdict, with a counterexample for a
/// violation.
fn judge<M: Machine>(
    history: &History,
    job: Job<M>,
    outcome: Outcome,
    budget: &Budget,
    steps: u64,
    with_counterexample: bool,
) -> KeyResult {
    let Job {
        p,
        mut m,
        key,
        live,
        ..
    } = job;
    let ops = p.ops.len();
    let mut r = KeyResult {
        key,
        valid: Validity::Valid,
        ops,
        why_unknown: None,
        violation: None,
        sentence: None,
        skipped: false,
    };
    match outcome {
        Outcome::Linearizable => {}
        Outcome::OutOfBudget(what) => {
            r.valid = Validity::Unknown;
            r.why_unknown = Some(format!(
                "the search budget ran out ({what}: {} steps, {} MiB of cache allowed) before a verdict",
                budget.max_steps,
                budget.max_cache_bytes >> 20
            ));
        }
        Outcome::Violation(stuck) => {
            r.valid = Validity::Invalid;
            let blocked = stuck.blocked as usize;
            let shrunk = with_counterexample
                .then(|| counterexample::shrink(&p, &mut m, &live, &stuck, steps));
            let state = m.describe(stuck.state);
            let show_state = if state.is_empty() {
                "\"\"".to_string()
            } else {
                state.clone()
            };
            let key_prefix = r
                .key
                .as_ref()
                .map(|k| format!("key {k}: "))
                .unwrap_or_default();
            let blocked_text = if blocked < ops {
                describe_op(p.view(history, blocked))
            } else {
                "an op".into()
            };
            let set_text = match &shrunk {
                Some(shrunk) if shrunk.frontier => {
                    "; shrinking ran out of its budget before isolating a smaller set of ops that cannot be linearized, so the evidence is that op and the prefix".to_string()
                }
                Some(shrunk) => {
                    let listed: Vec<String> = shrunk
                        .ops
                        .iter()
                        .take(6)
                        .map(|&i| describe_op(p.view(history, i)))
                        .collect();
                    let more = if shrunk.ops.len() > 6 { "; …" } else { "" };
                    let own = if shrunk.blocked != blocked && shrunk.blocked < ops {
                        format!(
                            ", and none of their orders places {}",
                            describe_op(p.view(history, shrunk.blocked))
                        )
                    } else {
                        String::new()
                    };
                    format!(
                        "; these {} ops are not linearizable together{}{own}: {}{more}",
                        shrunk.ops.len(),
                        if shrunk.minimal {
                            ""
                        } else {
                            " (not fully shrunk)"
                        },
                        listed.join("; "),
                    )
                }
                None => String::new(),
            };
            r.sentence = Some(format!(
                "{key_prefix}{blocked_text} cannot be linearized: the longest linearizable prefix places {} of {} ops and leaves the value at {show_state}{set_text}",
                stuck.prefix.len(),
                ops,
            ));
            let counterexample = shrunk.map(|shrunk| {
                let what = if shrunk.frontier {
                    "shrinking ran out of its budget on a larger set: these are the longest linearizable prefix and the op that cannot be placed after it (blocked_op), the search's own statement; they are not claimed to be non-linearizable on their own"
                } else if p.ops.iter().any(|o| o.kind == model::Kind::Append) {
                    "a subset of this key's ops that is not linearizable by itself, for the same reason (its search is stuck at the same op), shrunk greedily: no single op can be removed (except writes whose value a kept op observed) without making it linearizable or moving the failure; small, not guaranteed smallest"
                } else {
                    "a subset of this key's ops that is not linearizable by itself and is closed: for each read (or cas) in it, every op that could have set the value it saw last is in it too, so nothing left out explains it and the history is not linearizable either; shrunk greedily (minimal: no single op can be removed, with what only it needed, without making it linearizable); blocked_op is the op its own search could not place; small, not guaranteed smallest"
                };
                let mut c = json!({
                    "what": what,
                    "kind": if shrunk.frontier { "frontier" } else { "set" },
                    "minimal": shrunk.minimal,
                    "blocked_op": (shrunk.blocked < ops).then(|| op_json(p.view(history, shrunk.blocked))),
                });
                c["ops"] = shrunk.ops.iter().map(|&i| op_json(p.view(history, i))).collect();
                c
            });
            // Large parts are moved in, not passed to `json!` (which would
            // serialize them again).
            let longest_prefix: Vec<Value> = if with_counterexample {
                stuck
                    .prefix
                    .iter()
                    .map(|&i| op_json(p.view(history, i as usize)))
                    .collect()
            } else {
                stuck
                    .prefix
                    .iter()
                    .map(|&i| json!(p.info[i as usize].invoke_index))
                    .collect()
            };
            let mut violation = json!({
                "key": r.key,
                "ops_in_key": ops,
                "blocked_op": (blocked < ops).then(|| op_json(p.view(history, blocked))),
                "longest_prefix_len": stuck.prefix.len(),
                "state_after_prefix": state,
            });
            violation["longest_prefix"] = Value::Array(longest_prefix);
            violation["counterexample"] = counterexample.unwrap_or(Value::Null);
            r.violation = Some(violation);
        }
    }
    r
}
