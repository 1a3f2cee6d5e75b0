//! What a run is doing right now, for whoever watches it, and how long each
//! of its phases may take.
//!
//! A run goes through fixed [`Phase`]s: setup (the store starts and becomes
//! ready), the main phase (clients and nemesis), heal, quiescence, final
//! reads, convergence reads, the check and the report. [`Status`] is shared by
//! the runner (which enters each phase) and the history log (which counts
//! every completion and every fault the nemesis starts or stops), so the
//! figures come from what was recorded, not from a second bookkeeping.
//!
//! [`Display`] shows it: on a terminal, one live line drawn by `indicatif`
//! (phase, elapsed against the time limit, ops ok / fail / info, faults in
//! force); without one (CI logs), one plain line every few seconds. Every
//! phase change also goes to the log (`faultline.log` in the run's folder).
//!
//! Each phase has a bound ([`Phase::bound`], from the run's settings). The
//! runner awaits a phase under its bound; one that overruns is cut off by
//! the watchdog, everything is healed as after any error, and the run still
//! writes its history, results and report, which name the phase and the bound
//! ([`Cut`]). So a store that never becomes ready, or final reads that hang,
//! end a nightly run with a report instead of a hung job.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkers::{Op, OpType, Process};
use serde::{Deserialize, Serialize};

/// A stage of a run, in the order a run goes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The store is installed, started and awaited until ready.
    Setup,
    /// Clients run and the nemesis injects faults, up to the time limit.
    Main,
    /// Every fault is undone.
    Heal,
    /// The wait after healing, before the final reads.
    Quiesce,
    /// Every node reads every key.
    FinalReads,
    /// Every key's replicas are read until they agree.
    Convergence,
    /// The checkers read the history.
    Check,
    /// Results, report and CI outputs are written.
    Report,
}

impl Phase {
    const ALL: [Phase; 8] = [
        Phase::Setup,
        Phase::Main,
        Phase::Heal,
        Phase::Quiesce,
        Phase::FinalReads,
        Phase::Convergence,
        Phase::Check,
        Phase::Report,
    ];

    /// The phase's name as the status line, the log and `results.json` say it.
    pub fn word(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Main => "main",
            Phase::Heal => "heal",
            Phase::Quiesce => "quiesce",
            Phase::FinalReads => "final reads",
            Phase::Convergence => "convergence",
            Phase::Check => "check",
            Phase::Report => "report",
        }
    }

    /// How long the phase may take before the watchdog cuts it, from the
    /// run's settings: each bound is what the phase is made of plus a margin
    /// for a loaded machine. `None`: not watched (the check and report are
    /// bounded by the checkers' own budgets).
    pub fn bound(self, b: &Bounds) -> Option<Duration> {
        let s = |x: f64| Some(Duration::from_secs_f64(x.max(0.0)));
        match self {
            Phase::Setup => s(b.setup_s),
            // Workers stop at the time limit; each may still be inside one op
            // (its hard cap is the op timeout plus a second).
            Phase::Main => s(b.time_limit_s + b.op_timeout_s + 60.0),
            Phase::Heal => s(120.0),
            Phase::Quiesce => s(b.quiesce_s + 30.0),
            Phase::FinalReads => s(b.final_reads_s),
            Phase::Convergence => s(b.convergence_s + 30.0),
            Phase::Check | Phase::Report => None,
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// The settings the phase bounds are made of.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// `--setup-timeout`: store start and readiness.
    pub setup_s: f64,
    /// `--time-limit`.
    pub time_limit_s: f64,
    /// `--op-timeout`, in seconds.
    pub op_timeout_s: f64,
    /// `--quiesce` (the most the convergence rounds wait before final reads).
    pub quiesce_s: f64,
    /// `--final-timeout`: every node's final reads.
    pub final_reads_s: f64,
    /// `--convergence-timeout`.
    pub convergence_s: f64,
}

impl Bounds {
    /// The watchdog's bound of every phase of a test.
    pub fn of(cfg: &crate::settings::TestConfig) -> Bounds {
        Bounds {
            setup_s: cfg.watchdog.setup_s,
            time_limit_s: cfg.time_limit_s,
            op_timeout_s: cfg.op_timeout_ms as f64 / 1000.0,
            quiesce_s: cfg.quiesce_s,
            final_reads_s: cfg.watchdog.final_reads_s,
            convergence_s: cfg.convergence_timeout_s,
        }
    }
}

/// A phase the watchdog cut off: recorded in `results.json` and the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cut {
    /// The phase that overran.
    pub phase: Phase,
    /// Its bound, in seconds.
    pub bound_s: f64,
}

impl Cut {
    /// One line saying what was cut and how to give it more time.
    pub fn sentence(&self) -> String {
        let flag = match self.phase {
            Phase::Setup => " (--setup-timeout gives the store longer to start)",
            Phase::FinalReads => " (--final-timeout gives the final reads longer)",
            Phase::Convergence => " (--convergence-timeout bounds the convergence reads)",
            _ => "",
        };
        format!(
            "the watchdog cut the {} phase after {:.0} s{flag}",
            self.phase, self.bound_s
        )
    }
}

/// The error a cut phase ends the run with (the run's exit code is 255).
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.sentence())]
pub struct CutError(pub Cut);

/// Awaits `fut` as `phase` under its bound: enters the phase in `status`,
/// and returns [`CutError`] if the bound passes first (the future is
/// dropped, which cancels what it was waiting for).
pub async fn watched<T>(
    status: &Status,
    phase: Phase,
    fut: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    status.enter(phase);
    match phase.bound(&status.bounds) {
        None => fut.await,
        Some(bound) => match tokio::time::timeout(bound, fut).await {
            Ok(r) => r,
            Err(_) => {
                let cut = Cut {
                    phase,
                    bound_s: bound.as_secs_f64(),
                };
                tracing::error!(phase = %phase, bound_s = cut.bound_s, "watchdog: phase cut off");
                *status.cut.lock().unwrap() = Some(cut.clone());
                Err(CutError(cut).into())
            }
        },
    }
}

/// What a run is doing: its phase and the tallies of what was recorded.
#[derive(Debug)]
pub struct Status {
    started: Instant,
    phase: AtomicU8,
    phase_since: Mutex<Instant>,
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
    /// Fault kind → how many of its faults are in force.
    faults: Mutex<BTreeMap<String, u32>>,
    bounds: Bounds,
    cut: Mutex<Option<Cut>>,
}

impl Status {
    /// A run that starts now, in [`Phase::Setup`].
    pub fn new(bounds: Bounds) -> Arc<Self> {
        Arc::new(Status {
            started: Instant::now(),
            phase: AtomicU8::new(0),
            phase_since: Mutex::new(Instant::now()),
            ok: AtomicU64::new(0),
            fail: AtomicU64::new(0),
            info: AtomicU64::new(0),
            faults: Mutex::new(BTreeMap::new()),
            bounds,
            cut: Mutex::new(None),
        })
    }

    /// Enters `phase` (logged).
    pub fn enter(&self, phase: Phase) {
        let i = Phase::ALL.iter().position(|p| *p == phase).unwrap_or(0);
        if self.phase.swap(i as u8, Ordering::SeqCst) as usize != i {
            tracing::info!(phase = %phase, elapsed_s = self.started.elapsed().as_secs_f64(), "phase");
        }
        *self.phase_since.lock().unwrap() = Instant::now();
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        Phase::ALL[self.phase.load(Ordering::SeqCst) as usize % Phase::ALL.len()]
    }

    /// The phase the watchdog cut, if it did.
    pub fn cut(&self) -> Option<Cut> {
        self.cut.lock().unwrap().clone()
    }

    /// Counts one recorded op: client completions by outcome, and the
    /// nemesis's records of a fault started (unless it failed) or undone.
    pub fn observe(&self, op: &Op) {
        match (op.process, op.kind) {
            (_, OpType::Invoke) => {}
            (Process::Nemesis, _) => {
                let mut faults = self.faults.lock().unwrap();
                match nemeses::schedule::kind_of_f(&op.f) {
                    Some((kind, true)) if op.error.is_none() => {
                        *faults.entry(kind.name().to_string()).or_default() += 1;
                    }
                    Some((kind, false)) => {
                        faults.remove(kind.name());
                    }
                    _ => {}
                }
            }
            (Process::Client(_), OpType::Ok) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            (Process::Client(_), OpType::Fail) => {
                self.fail.fetch_add(1, Ordering::Relaxed);
            }
            (Process::Client(_), OpType::Info) => {
                self.info.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The status as one line: phase, elapsed against the time limit (main
    /// phase) or in the phase, op tallies, faults in force.
    pub fn line(&self) -> String {
        let phase = self.phase();
        let elapsed = self.started.elapsed().as_secs_f64();
        let in_phase = self.phase_since.lock().unwrap().elapsed().as_secs_f64();
        let when = match phase {
            Phase::Main => format!("{in_phase:.0}/{:.0} s", self.bounds.time_limit_s),
            _ => format!("{in_phase:.0} s"),
        };
        let faults = self.faults.lock().unwrap();
        let faults = if faults.is_empty() {
            "none".to_string()
        } else {
            faults
                .iter()
                .map(|(k, n)| {
                    if *n > 1 {
                        format!("{k}×{n}")
                    } else {
                        k.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "[{elapsed:>4.0} s] {phase} {when} · ops ok {} fail {} info {} · faults in force: {faults}",
            self.ok.load(Ordering::Relaxed),
            self.fail.load(Ordering::Relaxed),
            self.info.load(Ordering::Relaxed),
        )
    }
}

/// Shows a [`Status`] while a run goes on; stops (and clears a terminal's
/// line) when dropped.
pub struct Display {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the plain (non-terminal) status line is printed.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Display {
    /// Starts showing `status` on standard error: a live line on a
    /// terminal, a plain line every [`PLAIN_EVERY`] otherwise, nothing when
    /// `quiet`. `FAULTLINE_STATUS=plain|live|off` overrides the choice.
    pub fn start(status: Arc<Status>, quiet: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mode = match std::env::var("FAULTLINE_STATUS").as_deref() {
            Ok("off") => None,
            Ok("plain") => Some(false),
            Ok("live") => Some(true),
            _ if quiet => None,
            _ => Some(std::io::stderr().is_terminal()),
        };
        let thread = mode.map(|live| {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("status".into())
                .spawn(move || {
                    if live {
                        show_live(&status, &stop)
                    } else {
                        show_plain(&status, &stop)
                    }
                })
                .expect("spawning the status thread")
        });
        Display { stop, thread }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sleeps `total` in small steps, returning early (true) once `stop` is set.
fn sleep_unless(stop: &AtomicBool, total: Duration) -> bool {
    let end = Instant::now() + total;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
    stop.load(Ordering::SeqCst)
}

fn show_live(status: &Status, stop: &AtomicBool) {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} faultline {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    loop {
        bar.set_message(status.line());
        bar.tick();
        if sleep_unless(stop, Duration::from_millis(200)) {
            break;
        }
    }
    bar.finish_and_clear();
}

fn show_plain(status: &Status, stop: &AtomicBool) {
    while !sleep_unless(stop, PLAIN_EVERY) {
        eprintln!("faultline: {}", status.line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bounds() -> Bounds {
        Bounds {
            setup_s: 300.0,
            time_limit_s: 30.0,
            op_timeout_s: 2.0,
            quiesce_s: 5.0,
            final_reads_s: 120.0,
            convergence_s: 30.0,
        }
    }

    fn op(process: Process, kind: OpType, f: &str, error: Option<&str>) -> Op {
        Op {
            index: None,
            kind,
            process,
            f: f.into(),
            value: json!(null),
            time: 0,
            node: None,
            error: error.map(Into::into),
        }
    }

    #[test]
    fn tallies_come_from_recorded_ops() {
        let s = Status::new(bounds());
        s.enter(Phase::Main);
        let c = Process::Client(1);
        for (k, n) in [(OpType::Ok, 3), (OpType::Fail, 2), (OpType::Info, 1)] {
            for _ in 0..n {
                s.observe(&op(c, OpType::Invoke, "add", None));
                s.observe(&op(c, k, "add", None));
            }
        }
        let n = Process::Nemesis;
        s.observe(&op(n, OpType::Invoke, "start-partition", None));
        s.observe(&op(n, OpType::Info, "start-partition", None));
        s.observe(&op(n, OpType::Info, "start-kill", Some("no such node")));
        let line = s.line();
        assert!(line.contains("main 0/30 s"), "{line}");
        assert!(line.contains("ops ok 3 fail 2 info 1"), "{line}");
        assert!(line.ends_with("faults in force: partition"), "{line}");
        s.observe(&op(n, OpType::Info, "stop-partition", None));
        assert!(s.line().ends_with("faults in force: none"), "{}", s.line());
    }

    #[test]
    fn every_watched_phase_has_a_bound_made_of_its_settings() {
        let b = bounds();
        assert_eq!(Phase::Setup.bound(&b), Some(Duration::from_secs(300)));
        assert_eq!(Phase::Main.bound(&b), Some(Duration::from_secs(92)));
        assert_eq!(Phase::FinalReads.bound(&b), Some(Duration::from_secs(120)));
        assert_eq!(Phase::Check.bound(&b), None);
    }

    #[tokio::test]
    async fn a_phase_past_its_bound_is_cut_and_named() {
        let s = Status::new(Bounds {
            setup_s: 0.05,
            ..bounds()
        });
        let r: anyhow::Result<()> = watched(&s, Phase::Setup, async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .await;
        let e = r.unwrap_err();
        assert!(e.downcast_ref::<CutError>().is_some());
        assert_eq!(
            e.to_string(),
            "the watchdog cut the setup phase after 0 s (--setup-timeout gives the store longer to start)"
        );
        assert_eq!(s.cut().unwrap().phase, Phase::Setup);
        // Within its bound, a phase is not cut.
        let ok = watched(&s, Phase::Heal, async { Ok(7) }).await.unwrap();
        assert_eq!(ok, 7);
    }
}
