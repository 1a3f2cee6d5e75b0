//! The perf checker: latency, throughput and availability, in and out of
//! faults.
//!
//! Not a correctness check (the verdict is always valid) but the numbers a
//! reviewer wants beside one: how slow each kind of op was, how many ops
//! per second completed, and which share of them succeeded, per time window
//! and inside versus outside fault windows.
//!
//! # Definitions
//!
//! - **Latency** of a client op: completion `time` minus invocation `time`,
//!   for ops that completed (pending ops have none), per `f`, in ms.
//! - **Availability**: `ok` completions divided by all completions (`ok`,
//!   `fail`, `info`) of client ops. Pending ops are not counted.
//! - **Windows**: completions are bucketed by completion time into windows of
//!   [`PerfOptions::window_ns`] (1 s by default) from time 0; a window is
//!   *faulted* if a fault was active at any moment of it.
//! - **Fault windows** come from nemesis ops: `start-X` … `stop-X`,
//!   `kill` … `start`, `pause` … `resume`, `bump-clock`/`strobe-clock` …
//!   `reset-clock`. A fault is active from the first op of its start action
//!   to the completion (any non-invoke op) of its stop action; a fault never
//!   stopped lasts until the end of the history. An op is *inside* faults if
//!   a fault was active when it was invoked.
//!
//! # Cost
//!
//! Online ([`Perf::observe`]); keeps one latency per completed op (8 bytes)
//! for exact quantiles, and one counter record per window.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{ms, FxMap, Pairer};
use crate::history::{History, Op, OpType, Process};
use crate::online::OpView;
use crate::raw::OpLike;
use crate::stats::Quantiles;
use crate::verdict::{CheckResult, Validity};

/// The checker's name, as it appears in [`CheckResult::checker`].
pub const NAME: &str = "perf";

/// At most this many windows are listed in the details.
pub const WINDOW_CAP: usize = 100_000;

/// How the numbers are bucketed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerfOptions {
    /// Width of a time window in ns (at least 1).
    pub window_ns: u64,
}

impl Default for PerfOptions {
    fn default() -> Self {
        PerfOptions {
            window_ns: 1_000_000_000,
        }
    }
}

/// The fault family a nemesis `f` starts, if it starts one.
pub fn fault_start(f: &str) -> Option<String> {
    match f {
        "kill" => Some("kill".into()),
        "pause" => Some("pause".into()),
        "bump-clock" | "strobe-clock" => Some("clock".into()),
        "leave" => Some("membership".into()),
        "power-off" => Some("power".into()),
        "corrupt" => Some("corrupt".into()),
        _ => f.strip_prefix("start-").map(String::from),
    }
}

/// The fault family a nemesis `f` stops, if it stops one.
pub fn fault_stop(f: &str) -> Option<String> {
    match f {
        "start" => Some("kill".into()),
        "resume" => Some("pause".into()),
        "reset-clock" => Some("clock".into()),
        "join" => Some("membership".into()),
        "power-on" => Some("power".into()),
        "recover" => Some("corrupt".into()),
        _ => f.strip_prefix("stop-").map(String::from),
    }
}

/// Counts for one `f`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FStats {
    /// Invocations.
    pub invoked: usize,
    /// `ok` completions.
    pub ok: usize,
    /// `fail` completions.
    pub fail: usize,
    /// `info` completions.
    pub info: usize,
    /// Latency of every completed op, ms.
    pub latency_ms: Quantiles,
    /// Latency of `ok` ops, ms.
    pub ok_latency_ms: Quantiles,
}

/// One time window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Start of the window, ms.
    pub start_ms: f64,
    /// `ok` completions.
    pub ok: usize,
    /// `fail` and `info` completions.
    pub not_ok: usize,
    /// Completions per second.
    pub throughput: f64,
    /// `ok` share of the completions (1 when none completed).
    pub availability: f64,
    /// A fault was active during the window.
    pub faulted: bool,
}

/// Totals over inside- or outside-fault periods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// Total time, ms.
    pub duration_ms: f64,
    /// Completions of ops invoked in this phase.
    pub completed: usize,
    /// `ok` ones.
    pub ok: usize,
    /// `ok` share (1 when none completed).
    pub availability: f64,
    /// `ok` completions per second.
    pub ok_per_s: f64,
    /// Latency of completed ops, ms.
    pub latency_ms: Quantiles,
}

/// One fault, from start to stop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// The family (`partition`, `kill`, `pause`, `clock`, ...).
    pub fault: String,
    /// Start, ms.
    pub start_ms: f64,
    /// Stop, ms (the end of the history when never stopped).
    pub end_ms: f64,
}

/// Everything the perf checker measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PerfAnalysis {
    /// Window width, ms.
    pub window_ms: f64,
    /// Time of the last op, ms.
    pub duration_ms: f64,
    /// Per `f`.
    pub per_f: BTreeMap<String, FStats>,
    /// Client ops still pending at the end.
    pub pending: usize,
    /// Overall `ok` share of completions.
    pub availability: f64,
    /// The windows with at least one completion, in time order (capped).
    pub windows: Vec<Window>,
    /// Ops invoked while a fault was active.
    pub inside_faults: Phase,
    /// Ops invoked while no fault was active.
    pub outside_faults: Phase,
    /// The faults.
    pub faults: Vec<FaultWindow>,
}

/// Measures a history; see the [module docs](self).
pub fn check(history: &History, options: PerfOptions) -> CheckResult {
    let mut c = Perf::new(options);
    for op in &history.ops {
        c.observe(op);
    }
    c.finish()
}

#[derive(Default)]
struct Lat {
    all: Vec<u64>,
    ok: Vec<u64>,
    stats: FStats,
}

#[derive(Default)]
struct PhaseAcc {
    completed: usize,
    ok: usize,
    latencies: Vec<u64>,
}

/// The online perf checker.
pub struct Perf {
    window: u64,
    pairer: Pairer<(u32, bool)>,
    f_ids: FxMap<String, u32>,
    fs: Vec<(String, Lat)>,
    windows: BTreeMap<u64, (usize, usize)>,
    active: HashMap<String, u64>,
    faults: Vec<(String, u64, Option<u64>)>,
    /// Union of fault time: (start of the current stretch, total so far).
    stretch: Option<u64>,
    fault_ns: u64,
    fault_spans: Vec<(u64, u64)>,
    inside: PhaseAcc,
    outside: PhaseAcc,
    last_time: u64,
}

impl Perf {
    /// A checker that has seen nothing yet.
    pub fn new(options: PerfOptions) -> Self {
        Perf {
            window: options.window_ns.max(1),
            pairer: Pairer::default(),
            f_ids: FxMap::default(),
            fs: Vec::new(),
            windows: BTreeMap::new(),
            active: HashMap::new(),
            faults: Vec::new(),
            stretch: None,
            fault_ns: 0,
            fault_spans: Vec::new(),
            inside: PhaseAcc::default(),
            outside: PhaseAcc::default(),
            last_time: 0,
        }
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
        let time = op.time();
        let kind = op.kind();
        self.last_time = self.last_time.max(time);
        if op.process() == Process::Nemesis {
            if let Some(fam) = fault_start(op.f()) {
                if !self.active.contains_key(&fam) {
                    if self.active.is_empty() {
                        self.stretch = Some(time);
                    }
                    self.active.insert(fam.clone(), time);
                    self.faults.push((fam, time, None));
                }
            } else if let Some(fam) = fault_stop(op.f()) {
                if kind != OpType::Invoke && self.active.remove(&fam).is_some() {
                    if let Some(f) = self.faults.iter_mut().rev().find(|f| f.0 == fam) {
                        f.2 = Some(time);
                    }
                    if self.active.is_empty() {
                        if let Some(s) = self.stretch.take() {
                            self.fault_ns += time.saturating_sub(s);
                            self.fault_spans.push((s, time));
                        }
                    }
                }
            }
            return;
        }
        if kind == OpType::Invoke {
            let next = self.fs.len() as u32;
            let id = match self.f_ids.get(op.f()) {
                Some(&id) => id,
                None => {
                    self.f_ids.insert(op.f().to_string(), next);
                    self.fs.push((op.f().to_string(), Lat::default()));
                    next
                }
            };
            self.fs[id as usize].1.stats.invoked += 1;
            let inside = !self.active.is_empty();
            self.pairer.invoke(op.process(), 0, time, (id, inside));
            return;
        }
        let Some(open) = self.pairer.complete(op.process()) else {
            return;
        };
        let (id, inside) = open.data;
        let lat = time.saturating_sub(open.time);
        let l = &mut self.fs[id as usize].1;
        l.all.push(lat);
        let ok = kind == OpType::Ok;
        match kind {
            OpType::Ok => {
                l.stats.ok += 1;
                l.ok.push(lat);
            }
            OpType::Fail => l.stats.fail += 1,
            _ => l.stats.info += 1,
        }
        let w = self.windows.entry(time / self.window).or_default();
        if ok {
            w.0 += 1;
        } else {
            w.1 += 1;
        }
        let phase = if inside {
            &mut self.inside
        } else {
            &mut self.outside
        };
        phase.completed += 1;
        phase.ok += usize::from(ok);
        phase.latencies.push(lat);
    }

    /// The measurements of everything observed so far.
    pub fn analysis(mut self) -> PerfAnalysis {
        let end = self.last_time;
        if let Some(s) = self.stretch.take() {
            self.fault_ns += end.saturating_sub(s);
            self.fault_spans.push((s, end));
        }
        let pending = self.pairer.drain().count();
        let mut a = PerfAnalysis {
            window_ms: ms(self.window),
            duration_ms: ms(end),
            pending,
            ..Default::default()
        };
        let (mut ok, mut done) = (0usize, 0usize);
        for (f, mut l) in self.fs {
            l.stats.latency_ms = Quantiles::of_ns_as_ms(&l.all);
            l.stats.ok_latency_ms = Quantiles::of_ns_as_ms(&l.ok);
            ok += l.stats.ok;
            done += l.all.len();
            a.per_f.insert(f, l.stats);
        }
        a.availability = share(ok, done);
        let secs = self.window as f64 / 1e9;
        let spans = &self.fault_spans;
        let mut span_i = 0;
        for (&w, &(ok, not_ok)) in self.windows.iter().take(WINDOW_CAP) {
            let (start, stop) = (
                w.saturating_mul(self.window),
                w.saturating_add(1).saturating_mul(self.window),
            );
            while span_i < spans.len() && spans[span_i].1 < start {
                span_i += 1;
            }
            let faulted = spans[span_i..]
                .iter()
                .take_while(|s| s.0 < stop)
                .any(|s| s.1 >= start);
            a.windows.push(Window {
                start_ms: ms(start),
                ok,
                not_ok,
                throughput: (ok + not_ok) as f64 / secs,
                availability: share(ok, ok + not_ok),
                faulted,
            });
        }
        a.inside_faults = phase(self.inside, self.fault_ns);
        a.outside_faults = phase(self.outside, end.saturating_sub(self.fault_ns));
        a.faults = self
            .faults
            .into_iter()
            .map(|(fault, s, e)| FaultWindow {
                fault,
                start_ms: ms(s),
                end_ms: ms(e.unwrap_or(end)),
            })
            .collect();
        a
    }

    /// Always valid; the summary gives the headline numbers.
    pub fn finish(self) -> CheckResult {
        self.analysis().to_result()
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

fn phase(p: PhaseAcc, ns: u64) -> Phase {
    Phase {
        duration_ms: ms(ns),
        completed: p.completed,
        ok: p.ok,
        availability: share(p.ok, p.completed),
        ok_per_s: if ns == 0 {
            0.0
        } else {
            p.ok as f64 / (ns as f64 / 1e9)
        },
        latency_ms: Quantiles::of_ns_as_ms(&p.latencies),
    }
}

impl PerfAnalysis {
    /// One line, e.g. `availability 97.0% (99.9% outside faults, 81.2%
    /// inside); read p50 1.2 ms p99 40.0 ms; add p50 ...`.
    pub fn summary(&self) -> String {
        let mut s = format!("availability {:.1}%", self.availability * 100.0);
        if !self.faults.is_empty() {
            s.push_str(&format!(
                " ({:.1}% outside faults, {:.1}% inside)",
                self.outside_faults.availability * 100.0,
                self.inside_faults.availability * 100.0
            ));
        }
        for (f, st) in &self.per_f {
            s.push_str(&format!(
                "; {f} p50 {:.1} ms p99 {:.1} ms",
                st.latency_ms.p50, st.latency_ms.p99
            ));
        }
        s
    }

    /// The measurements as an always-valid [`CheckResult`] named `perf`.
    pub fn to_result(&self) -> CheckResult {
        CheckResult {
            checker: NAME.to_string(),
            valid: Validity::Valid,
            summary: self.summary(),
            details: serde_json::to_value(self).unwrap_or(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::H;
    use serde_json::json;
    use OpType::{Fail, Info, Ok as Done};

    #[test]
    fn latency_throughput_and_availability_inside_and_outside_faults() {
        let mut h = H::default();
        h.call(Done, 0, "add", json!(1)) // ops 0-1, latency 1 ms
            .call(Done, 0, "add", json!(2)); // ops 2-3
        h.nemesis("start-partition"); // op 4 at 4 ms
        h.inv(1, "read", json!(null))
            .wait(1_000)
            .op(Info, 1, "read", json!(null)); // 1001 ms
        h.call(Fail, 2, "add", json!(3)); // ops 7-8, inside
        h.nemesis("stop-partition"); // op 9 at 1009 ms
        h.call(Done, 3, "read", json!([1])); // outside
        let a = Perf::new(PerfOptions::default()).tap(&h).analysis();
        assert_eq!(a.per_f["add"].ok, 2);
        assert_eq!(a.per_f["add"].fail, 1);
        assert_eq!(a.per_f["read"].info, 1);
        assert_eq!(a.per_f["read"].latency_ms.max, 1001.0);
        assert_eq!(a.per_f["add"].latency_ms.p50, 1.0);
        assert_eq!((a.inside_faults.completed, a.inside_faults.ok), (2, 0));
        assert_eq!((a.outside_faults.completed, a.outside_faults.ok), (3, 3));
        assert_eq!(a.inside_faults.duration_ms, 1005.0);
        assert_eq!(a.faults.len(), 1);
        assert_eq!((a.faults[0].start_ms, a.faults[0].end_ms), (4.0, 1009.0));
        assert_eq!(a.windows.len(), 2);
        assert_eq!((a.windows[0].ok, a.windows[0].not_ok), (2, 0));
        assert_eq!((a.windows[1].ok, a.windows[1].not_ok), (1, 2));
        assert!(a.windows[0].faulted && a.windows[1].faulted);
        assert!((a.availability - 0.6).abs() < 1e-9);
        let r = check(&h.history(), PerfOptions::default());
        assert_eq!(r.valid, Validity::Valid);
        assert!(
            r.summary.starts_with(
                "availability 60.0% (100.0% outside faults, 0.0% inside); add p50 1.0 ms"
            ),
            "{}",
            r.summary
        );
    }

    #[test]
    fn kill_and_restart_is_a_fault_window_and_windows_can_be_narrow() {
        let mut h = H::default();
        h.nemesis("kill")
            .call(Done, 0, "add", json!(1))
            .nemesis("start");
        h.call(Done, 0, "add", json!(2));
        let a = Perf::new(PerfOptions {
            window_ns: 2_000_000,
        })
        .tap(&h)
        .analysis();
        assert_eq!(a.faults[0].fault, "kill");
        assert_eq!((a.inside_faults.ok, a.outside_faults.ok), (1, 1));
        assert_eq!(a.windows.len(), 2);
        assert!(a.windows[0].faulted);
        assert!(!a.windows.last().unwrap().faulted);
    }

    impl Perf {
        fn tap(mut self, h: &H) -> Self {
            for op in &h.ops {
                self.observe(op);
            }
            self
        }
    }
}
