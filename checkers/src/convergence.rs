//! The convergence checker: after the faults heal, do the replicas agree?
//!
//! Eventually consistent stores promise that replicas converge once faults
//! heal and writes stop. Neither Jepsen nor Maelstrom checks it directly:
//! their final reads go through a coordinator, which can hide a replica that
//! never caught up. faultline reads every replica *locally* after the heal
//! and compares.
//!
//! # Op shapes
//!
//! A local read is an op with `f` = `read-local` (or `local-read`) whose
//! `node` names the replica read (on the completion or the invocation) and
//! whose `ok` value is either
//!
//! - `[k, v]`: the replica's value `v` for key `k` (`null` when it has none), or
//! - an object `{"k1": v1, "k2": v2, ...}`: a dump of several keys at once.
//!
//! Values are compared as JSON (so `[1,2]` and `[2,1]` differ: sort sets
//! before recording them). When invocations carry `[k, _]` and a node, a
//! key's replicas are the nodes asked for it (a store with N < nodes keeps
//! each key on a few of them); otherwise every replica that read anything.
//! A key missing from a replica's dump means the
//! replica has no value for it (shown as `(absent)`): that diverges from
//! replicas that have one. Local reads without a node are counted and
//! ignored.
//!
//! # Rules
//!
//! Only local reads *after the last heal* count. A heal is a nemesis op whose
//! `f` is `heal`, `resume`, `start` (a killed node restarted), `reset-clock`, `join`
//! or starts with `stop-`; a nemesis op that starts a fault (`kill`, `pause`, `leave`,
//! `bump-clock`, `strobe-clock`, or `start-*`) discards what was read before
//! it too, and leaves the verdict unknown unless a heal follows. For every key,
//! the *latest* post-heal value from each replica must be the same on all
//! replicas that did any post-heal local read.
//!
//! # Timing
//!
//! When replicas are read in repeated rounds from the heal on (as `faultline
//! test` does, rounds a few tens of milliseconds apart), the checker measures
//! two distributions, each as far as the rounds can tell (a read only shows
//! what changed before it, so each time is an upper bound, at most one round
//! late):
//!
//! - *time to converge*, per key: from the heal until the read after which
//!   the key's replicas' latest values agreed and kept agreeing;
//! - *replica lag*, per key and replica: from the heal until the first read
//!   of the value that replica then kept, the final agreed one (for a
//!   replica that already held it, the time of its first read).
//!
//! Both count converged keys only, and `first_read_ms` says how soon after
//! the heal the first local read came: the floor below which neither can
//! show anything. Reads made only after a long wait time the wait, not the
//! store.
//!
//! Invalid when some key's replicas disagree at the end; unknown when there
//! is no local read after the last heal, or when some replica never read a
//! key the others did (it cannot be compared) and nothing disagrees.
//!
//! # Cost
//!
//! Online ([`Convergence::observe`]): per key the latest value of each
//! replica; reads before a heal are dropped as soon as the heal is seen.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{count, index_of, list, secs, Pairer};
use crate::history::{History, Op, OpType, Process};
use crate::intern::{Names, SmallText};
use crate::online::OpView;
use crate::raw::{OpLike, Val};
use crate::stats::Quantiles;
use crate::verdict::{CheckResult, Validity};

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "convergence";

/// At most this many keys are listed per finding; counts are exact.
pub const EXAMPLE_CAP: usize = 100;

/// The functions recognized as local reads.
pub const LOCAL_READS: &[&str] = &["read-local", "local-read"];

/// Whether a nemesis `f` heals (ends faults).
pub fn is_heal(f: &str) -> bool {
    matches!(
        f,
        "heal" | "resume" | "start" | "reset-clock" | "join" | "power-on" | "recover"
    ) || f.starts_with("stop-")
}

/// Whether a nemesis `f` starts a fault.
pub fn is_fault_start(f: &str) -> bool {
    matches!(
        f,
        "kill" | "pause" | "bump-clock" | "strobe-clock" | "leave" | "power-off" | "corrupt"
    ) || f.starts_with("start-")
}

/// A key whose replicas disagree, or that some replica did not read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// Each replica's latest value (JSON text, cut at 40 characters).
    pub values: BTreeMap<String, String>,
    /// Replicas that read other keys after the heal but not this one.
    pub unread_on: Vec<String>,
}

/// Everything the convergence checker found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConvergenceAnalysis {
    /// `index` of the last heal, if any.
    pub heal_index: Option<u64>,
    /// Time of the last heal (ns), 0 without one.
    pub heal_time: u64,
    /// A fault started after the last heal.
    pub faulted_at_end: bool,
    /// Replicas with a local read after the heal.
    pub replicas: Vec<String>,
    /// `ok` local reads after the heal (a dump counts once per key).
    pub read_count: usize,
    /// Local reads without a node, ignored.
    pub no_node_count: usize,
    /// `ok` local reads whose value is neither `[k, v]` nor an object, ignored.
    pub malformed_count: usize,
    /// The most post-heal reads of one key on one replica (rounds).
    pub max_rounds: usize,
    /// Keys read after the heal.
    pub key_count: usize,
    /// Keys whose replicas agree.
    pub converged_count: usize,
    /// Converged keys whose replicas never disagreed after the heal: they
    /// agreed by the first read, so their time only bounds when.
    #[serde(default)]
    pub agreed_at_first_read_count: usize,
    /// Keys whose replicas disagree at the end.
    pub divergent_count: usize,
    /// Keys some replica did not read.
    pub unread_count: usize,
    /// Time from the heal to the first `ok` local read after it, in ms: no
    /// time below can be seen.
    #[serde(default)]
    pub first_read_ms: f64,
    /// Per converged key, time from the heal until its replicas agreed for
    /// good, in ms (the time to converge).
    pub time_to_agree_ms: Quantiles,
    /// The same times as a curve for plots: at most 101 points, the time
    /// (ms after the heal) by which 0 %, 1 %, ..., 100 % of the converged
    /// keys agreed.
    #[serde(default)]
    pub agree_curve_ms: Vec<f64>,
    /// Per replica of each converged key, time from the heal until the
    /// replica first read the value it then kept (the final agreed one), in
    /// ms: how far each replica lagged.
    #[serde(default)]
    pub replica_lag_ms: Quantiles,
    /// The same lags as a curve (as `agree_curve_ms`): the time by which 0 %,
    /// 1 %, ..., 100 % of the replicas of converged keys held the final value.
    #[serde(default)]
    pub lag_curve_ms: Vec<f64>,
    /// Each replica's lags over the converged keys it holds, by name.
    #[serde(default)]
    pub lag_by_replica: BTreeMap<String, Quantiles>,
    /// Examples of divergent keys, sorted by key.
    pub divergent: Vec<KeyReport>,
    /// Examples of keys some replica did not read.
    pub unread: Vec<KeyReport>,
}

/// Checks a history's post-heal local reads; see the [module docs](self).
pub fn check(history: &History) -> CheckResult {
    let mut c = Convergence::default();
    for op in &history.ops {
        c.observe(op);
    }
    c.finish()
}

/// No entry.
const NONE: u32 = u32::MAX;

/// What is known of one key after the heal.
struct KeyConv {
    /// The first of the key's replica values in [`Convergence::latest`]
    /// ([`NONE`]: no replica answered for it yet).
    first: u32,
    /// Time of the read from which the latest values agree.
    agree_since: Option<u64>,
    /// The replicas' latest values disagreed at some read after the heal.
    disagreed: bool,
    /// The replicas (ids into `named`) asked for this key by name after the
    /// heal: a key's replicas are those read for it, so a node that does
    /// not hold the key (outside its preference list) is not missing it.
    /// None: no invocation named a node for it. Ids below 64 as bits,
    /// the others listed.
    asked_bits: u64,
    asked_more: Vec<u32>,
}

impl KeyConv {
    fn new() -> Self {
        KeyConv {
            first: NONE,
            agree_since: None,
            disagreed: false,
            asked_bits: 0,
            asked_more: Vec::new(),
        }
    }

    fn ask(&mut self, named: u32) {
        if named < 64 {
            self.asked_bits |= 1 << named;
        } else if !self.asked_more.contains(&named) {
            self.asked_more.push(named);
        }
    }

    fn asked_any(&self) -> bool {
        self.asked_bits != 0 || !self.asked_more.is_empty()
    }

    fn asked(&self) -> impl Iterator<Item = u32> + '_ {
        (0..64u32)
            .filter(|i| self.asked_bits & (1 << i) != 0)
            .chain(self.asked_more.iter().copied())
    }
}

/// One replica's latest value of one key.
struct Latest {
    /// The replica (an id into `nodes`).
    node: u32,
    /// Post-heal reads of the key on the replica.
    reads: u32,
    /// The key's next replica value in [`Convergence::latest`] ([`NONE`]
    /// after the last).
    next: u32,
    /// The value, as canonical JSON text.
    text: SmallText,
    /// Time of the first read of `text` in the replica's current run of
    /// equal reads: when it last changed, as far as the reads show.
    since: u64,
}

/// What an open local read is waiting with: the node its invocation named
/// (an id into `named`), and its key's id with the table generation it
/// belongs to (the table is cleared at every heal and fault).
#[derive(Clone, Copy)]
struct OpenRead {
    named: Option<u32>,
    key: Option<(u32, u32)>,
}

/// The online convergence checker.
#[derive(Default)]
pub struct Convergence {
    /// Per open local read, what its invocation said.
    pairer: Pairer<OpenRead>,
    /// Every node name an invocation gave (never cleared).
    named: Names,
    position: u64,
    /// Replicas that answered after the heal.
    nodes: Names,
    /// Keys read after the heal, by name; ids into `keys`.
    key_names: Names,
    keys: Vec<KeyConv>,
    /// Every key's replica values, linked per key from
    /// [`KeyConv::first`].
    latest: Vec<Latest>,
    /// Bumped whenever `keys` is cleared, so that ids held by open reads
    /// from before are not trusted.
    generation: u32,
    /// Replicas (by id) that answered a dump read after the heal.
    dumped: Vec<bool>,
    /// The value being recorded, as text (reused).
    scratch: String,
    /// Time of the first `ok` local read after the heal.
    first_read: Option<u64>,
    a: ConvergenceAnalysis,
    /// Made by [`Convergence::optional`].
    optional: bool,
    /// Some local read was seen (before or after the heal).
    saw_local_read: bool,
}

impl Convergence {
    /// A checker that has seen nothing yet.
    pub fn new() -> Self {
        Convergence::default()
    }

    /// A checker that applies only to a history with local reads, as a
    /// live workload's plan runs convergence only then: in a
    /// [`crate::stream::Stream`] it gives no verdict without one.
    pub fn optional() -> Self {
        Convergence {
            optional: true,
            ..Convergence::default()
        }
    }

    /// Whether this checker has a verdict to give: always, unless made by
    /// [`Convergence::optional`] and no local read was seen.
    pub fn applies(&self) -> bool {
        !self.optional || self.saw_local_read
    }

    /// Takes the next op into account.
    pub fn observe(&mut self, op: &Op) {
        self.observe_any(op);
    }

    /// Takes the next op, read in place from its line, into account.
    pub fn observe_view(&mut self, op: &OpView<'_>) {
        self.observe_any(op);
    }

    fn observe_any<O: OpLike>(&mut self, op: &O) {
        let pos = self.position;
        self.position += 1;
        if op.process() == Process::Nemesis {
            let heal = is_heal(op.f());
            if heal || is_fault_start(op.f()) {
                self.keys.clear();
                self.key_names.clear();
                self.latest.clear();
                self.generation = self.generation.wrapping_add(1);
                self.nodes.clear();
                self.dumped.clear();
                self.a.read_count = 0;
                self.a.max_rounds = 0;
                self.first_read = None;
                self.a.faulted_at_end = !heal;
                if heal {
                    self.a.heal_index = Some(index_of(op, pos as usize));
                    self.a.heal_time = op.time();
                }
            }
            return;
        }
        if !LOCAL_READS.contains(&op.f()) {
            return;
        }
        self.saw_local_read = true;
        if op.kind() == OpType::Invoke {
            let named = op.node().map(|n| self.named.id(n));
            let mut key = None;
            if let Some((k, _)) = op.value().pair() {
                let id = self.key_id(k);
                key = Some((self.generation, id));
                if let Some(node) = named {
                    self.keys[id as usize].ask(node);
                }
            }
            self.pairer.invoke(
                op.process(),
                pos as usize,
                op.time(),
                OpenRead { named, key },
            );
            return;
        }
        let Some(open) = self.pairer.complete(op.process()) else {
            return;
        };
        if op.kind() != OpType::Ok {
            return;
        }
        let invoked_on = open.data.named.map(|id| self.named.name(id));
        let Some(node) = op.node().or(invoked_on) else {
            self.a.no_node_count += 1;
            return;
        };
        let node = self.nodes.id(node);
        let value = op.value();
        if let Some((k, v)) = value.pair() {
            // The invocation's key, when the completion names the same one
            // (no second lookup), else the completion's.
            let id = match open.data.key {
                Some((g, id)) if g == self.generation && self.key_names.is(id, &k.key_text()) => id,
                _ => self.key_id(k),
            };
            self.record(node, id, v, op.time());
        } else if value.is_object() {
            if self.dumped.len() <= node as usize {
                self.dumped.resize(node as usize + 1, false);
            }
            self.dumped[node as usize] = true;
            if let Value::Object(m) = &*value.to_value() {
                for (k, v) in m {
                    let k = Value::String(k.clone());
                    let id = self.key_id(Val::Json(&k));
                    self.record(node, id, Val::Json(v), op.time());
                }
            }
        } else {
            self.a.malformed_count += 1;
        }
    }

    /// The id of key `k`, added to the table if new.
    fn key_id(&mut self, k: Val<'_>) -> u32 {
        let id = self.key_names.id(&k.key_text());
        if id as usize == self.keys.len() {
            self.keys.push(KeyConv::new());
        }
        id
    }

    fn record(&mut self, node: u32, key: u32, v: Val<'_>, time: u64) {
        self.a.read_count += 1;
        self.first_read.get_or_insert(time);
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        v.canonical_into(&mut text);
        let kc = &mut self.keys[key as usize];
        // This replica's entry (or the last one, to link a new one after).
        let mut at = kc.first;
        let mut last = NONE;
        while at != NONE && self.latest[at as usize].node != node {
            last = at;
            at = self.latest[at as usize].next;
        }
        if at == NONE {
            at = self.latest.len() as u32;
            self.latest.push(Latest {
                node,
                reads: 1,
                next: NONE,
                text: SmallText::new(&text),
                since: time,
            });
            if last == NONE {
                kc.first = at;
            } else {
                self.latest[last as usize].next = at;
            }
            self.a.max_rounds = self.a.max_rounds.max(1);
        } else {
            let e = &mut self.latest[at as usize];
            if !e.text.is(text.as_bytes()) {
                e.text.set(&text);
                e.since = time;
            }
            e.reads += 1;
            self.a.max_rounds = self.a.max_rounds.max(e.reads as usize);
        }
        self.scratch = text;
        // Do all the replicas' latest values agree?
        let first = &self.latest[kc.first as usize].text;
        let mut agree = true;
        let mut at = self.latest[kc.first as usize].next;
        while at != NONE {
            let e = &self.latest[at as usize];
            agree &= e.text.is(first.bytes());
            at = e.next;
        }
        if agree {
            if kc.agree_since.is_none() {
                kc.agree_since = Some(time);
            }
        } else {
            kc.agree_since = None;
            kc.disagreed = true;
        }
    }

    /// The replica values of a key: (replica id, text, reads).
    fn values_of(&self, kc: &KeyConv) -> impl Iterator<Item = &Latest> + '_ {
        let mut at = kc.first;
        std::iter::from_fn(move || {
            let e = self.latest.get(at as usize)?;
            at = e.next;
            Some(e)
        })
    }

    /// The analysis of everything observed so far.
    pub fn analysis(mut self) -> ConvergenceAnalysis {
        let mut a = std::mem::take(&mut self.a);
        let node = |n: u32| self.nodes.name(n);
        a.replicas = (0..self.nodes.len() as u32)
            .map(|n| node(n).to_string())
            .collect();
        a.replicas.sort();
        // Keys some replica answered for (an invocation alone does not count).
        let mut keys: Vec<u32> = (0..self.keys.len() as u32)
            .filter(|&k| self.keys[k as usize].first != NONE)
            .collect();
        a.key_count = keys.len();
        keys.sort_by(|&x, &y| self.key_names.name(x).cmp(self.key_names.name(y)));
        let mut times = Vec::new();
        let mut lags = Vec::new();
        let mut lags_by_node: Vec<Vec<u64>> = vec![Vec::new(); self.nodes.len()];
        for k in keys {
            let kc = &self.keys[k as usize];
            let key = self.key_names.name(k).to_string();
            let values = || {
                self.values_of(kc)
                    .map(|e| (node(e.node).to_string(), short_text(e.text.as_str())))
                    .collect::<BTreeMap<_, _>>()
            };
            // A replica whose dump lacks the key has no value for it.
            let dumped = |n: u32| self.dumped.get(n as usize).copied().unwrap_or(false);
            // Replicas expected to hold the key: those asked for it by name
            // (plus dump readers), or, when invocations did not name keys,
            // every replica that read anything.
            let asked = kc.asked_any();
            let expected =
                |n: u32| !asked || kc.asked().any(|id| self.named.name(id) == node(n)) || dumped(n);
            let missing: Vec<u32> = (0..self.nodes.len() as u32)
                .filter(|n| expected(*n) && !self.values_of(kc).any(|e| e.node == *n))
                .collect();
            let absent_in_dump = missing.iter().any(|&n| dumped(n));
            let mut unread_on: Vec<String> = missing
                .iter()
                .filter(|&&n| !dumped(n))
                .map(|&n| node(n).to_string())
                .collect();
            unread_on.sort();
            let values = || {
                let mut v = values();
                for &n in missing.iter().filter(|&&n| dumped(n)) {
                    v.insert(node(n).to_string(), "(absent)".to_string());
                }
                v
            };
            let agreed = kc
                .agree_since
                .filter(|_| !absent_in_dump || self.values_of(kc).all(|e| e.text.is(b"null")));
            match agreed {
                None => {
                    a.divergent_count += 1;
                    if a.divergent.len() < EXAMPLE_CAP {
                        a.divergent.push(KeyReport {
                            key: key.clone(),
                            values: values(),
                            unread_on: unread_on.clone(),
                        });
                    }
                }
                Some(t) => {
                    a.converged_count += 1;
                    a.agreed_at_first_read_count += usize::from(!kc.disagreed);
                    // Agreement among the replicas read so far counts only
                    // from the read of the last one to show its value.
                    let last = self.values_of(kc).map(|e| e.since).max().unwrap_or(t);
                    times.push(t.max(last).saturating_sub(a.heal_time));
                    for e in self.values_of(kc) {
                        let lag = e.since.saturating_sub(a.heal_time);
                        lags.push(lag);
                        lags_by_node[e.node as usize].push(lag);
                    }
                }
            }
            if !unread_on.is_empty() {
                a.unread_count += 1;
                if a.unread.len() < EXAMPLE_CAP {
                    a.unread.push(KeyReport {
                        key,
                        values: values(),
                        unread_on,
                    });
                }
            }
        }
        a.time_to_agree_ms = Quantiles::of_ns_as_ms(&times);
        a.agree_curve_ms = agree_curve(&mut times);
        a.replica_lag_ms = Quantiles::of_ns_as_ms(&lags);
        a.lag_curve_ms = agree_curve(&mut lags);
        a.lag_by_replica = lags_by_node
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
            .map(|(n, l)| (node(n as u32).to_string(), Quantiles::of_ns_as_ms(l)))
            .collect();
        a.first_read_ms = self
            .first_read
            .map_or(0.0, |t| t.saturating_sub(a.heal_time) as f64 / 1e6);
        a
    }

    /// The verdict on everything observed so far.
    pub fn finish(self) -> CheckResult {
        self.analysis().to_result()
    }
}

/// JSON text cut at 40 characters, as `common::short_json` does for a value.
fn short_text(s: &str) -> String {
    if s.chars().count() > 40 {
        s.chars().take(40).collect::<String>() + "…"
    } else {
        s.to_string()
    }
}

/// Percentiles 0, 1, ..., 100 of `times` (ns) in ms (fewer points for fewer
/// keys: one per key up to 101).
fn agree_curve(times: &mut [u64]) -> Vec<f64> {
    times.sort_unstable();
    let n = times.len();
    if n == 0 {
        return vec![];
    }
    let points = n.min(101);
    (0..points)
        .map(|i| {
            let rank = if points == 1 {
                0
            } else {
                i * (n - 1) / (points - 1)
            };
            times[rank] as f64 / 1e6
        })
        .collect()
}

impl ConvergenceAnalysis {
    /// Invalid if a key diverges; unknown without post-heal local reads, with
    /// a fault still active, or with keys some replica did not read.
    pub fn validity(&self) -> Validity {
        if self.divergent_count > 0 {
            Validity::Invalid
        } else if self.read_count == 0 || self.faulted_at_end || self.unread_count > 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        }
    }

    /// One line, e.g. `2 of 40 keys diverge across 3 replicas after the last
    /// heal at 31.0 s: key k7 n1=3 n2=5 n3=3`.
    pub fn summary(&self) -> String {
        let heal = match self.heal_index {
            Some(_) => format!("after the last heal at {}", secs(self.heal_time)),
            None => "(no heal recorded: all local reads)".to_string(),
        };
        if self.faulted_at_end {
            return "a fault started after the last heal: no local reads after a heal to compare"
                .to_string();
        }
        if self.read_count == 0 {
            return format!("no local reads {heal}: cannot tell whether replicas converged");
        }
        let replicas = count(self.replicas.len(), "replica");
        let mut parts = Vec::new();
        if let Some(d) = self.divergent.first() {
            let vals = list(
                d.values.iter().map(|(n, v)| format!("{n}={v}")),
                d.values.len(),
            );
            parts.push(format!(
                "{} of {} diverge across {replicas} {heal}: key {} has {vals}",
                self.divergent_count,
                count(self.key_count, "key"),
                d.key
            ));
        } else if self.agreed_at_first_read_count == self.converged_count {
            parts.push(format!(
                "all {} agree on {replicas} {heal}, each already at its first read, the first {:.1} ms after the heal: they converged before it ({} per replica)",
                count(self.key_count, "key"),
                self.first_read_ms,
                count(self.max_rounds, "read round"),
            ));
        } else {
            let (q, lag) = (self.time_to_agree_ms, self.replica_lag_ms);
            let slowest = self
                .lag_by_replica
                .iter()
                .max_by(|a, b| a.1.max.total_cmp(&b.1.max))
                .map(|(n, _)| format!(", slowest {n}"))
                .unwrap_or_default();
            parts.push(format!(
                "all {} agree on {replicas} {heal}; converged {:.1} ms after the heal (p50 over keys), {:.1} ms at the latest; replicas lagged p50 {:.1} ms, max {:.1} ms{slowest} (up to {} per replica, the first {:.1} ms after the heal)",
                count(self.key_count, "key"),
                q.p50,
                q.max,
                lag.p50,
                lag.max,
                count(self.max_rounds, "read round"),
                self.first_read_ms,
            ));
        }
        if let Some(u) = self.unread.first() {
            parts.push(format!(
                "{} not read on every replica, e.g. key {} on {}",
                count(self.unread_count, "key"),
                u.key,
                u.unread_on.join(", ")
            ));
        }
        parts.join("; ")
    }

    /// The analysis as a [`CheckResult`] named `convergence`.
    pub fn to_result(&self) -> CheckResult {
        CheckResult {
            checker: NAME.to_string(),
            valid: self.validity(),
            summary: self.summary(),
            details: serde_json::to_value(self).unwrap_or(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests;
