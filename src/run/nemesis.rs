//! Running the nemesis: the seeded timeline of faults, applied through the
//! control layer and the DB layer, recorded in the history, always healed.
//!
//! Every fault is first appended to the run's journal (`nemesis.jsonl`: what
//! was applied, the exact commands), then applied, then recorded as a nemesis
//! op whose value carries the targets and parameters and a human `label`.
//! Each kind is undone its own way: partitions and loss by flushing their own
//! iptables chain, clocks by writing a zero offset, kills by restarting,
//! pauses by SIGCONT. [`NemesisRunner::heal_all`] undoes whatever is active
//! and then, unconditionally, resets everything a fault could have touched:
//! it is safe to call at any time, and twice.

use crate::cluster::control::{run_plan, Control};
use crate::run::disk_faults::DiskFaults;
use crate::run::history_log::{Entry, HistoryLog};
use crate::stores::DbProcesses;
use anyhow::{bail, Context, Result};
use checkers::{OpType, Process};
use nemeses::clock::{self, ClockFault};
use nemeses::plan::Plan;
use nemeses::schedule::{self, Action, Event, Fault};
use nemeses::Kind;
use nemeses::{iptables, NodeAddr};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A fault in force, and how to stop its background work (clock strobes).
struct Active {
    fault: Fault,
    strobe: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
}

/// Applies faults on a schedule and heals them.
pub struct NemesisRunner {
    control: Arc<dyn Control>,
    db: Arc<dyn DbProcesses>,
    nodes: Vec<NodeAddr>,
    log: Arc<HistoryLog>,
    journal: Mutex<std::fs::File>,
    active: tokio::sync::Mutex<BTreeMap<Kind, Active>>,
    /// With `--clock-mode date`: the offset (ms) faultline has put on
    /// each host's clock; each step is relative to it (on the node's own
    /// clock, so the time a command takes to arrive does not matter), and
    /// the heal steps back by exactly that much.
    date_clock: Option<Mutex<BTreeMap<String, i64>>>,
    /// Each node's network interface, when netem faults are in use.
    netem_ifaces: Option<std::collections::BTreeMap<String, String>>,
    /// Power, corruption and slow nodes, when the run has them.
    disks: Option<Arc<DiskFaults>>,
}

impl NemesisRunner {
    /// Prepares the nodes (faultline's iptables chains) and opens the journal.
    pub async fn setup(
        control: Arc<dyn Control>,
        db: Arc<dyn DbProcesses>,
        nodes: Vec<NodeAddr>,
        log: Arc<HistoryLog>,
        journal: PathBuf,
    ) -> Result<Self> {
        let journal = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal)
            .with_context(|| format!("opening {}", journal.display()))?;
        let runner = NemesisRunner {
            control,
            db,
            nodes,
            log,
            journal: Mutex::new(journal),
            active: Default::default(),
            date_clock: None,
            netem_ifaces: None,
            disks: None,
        };
        // The nodes and their addresses first: what `faultline heal` needs
        // to find them again after a dead controller.
        runner.journal(json!({
            "action": "setup",
            "nodes": runner
                .nodes
                .iter()
                .map(|n| json!({ "name": n.name, "ip": n.ip.to_string() }))
                .collect::<Vec<_>>(),
        }));
        runner
            .run_plan(iptables::setup(&runner.nodes))
            .await
            .context("preparing iptables on the nodes")?;
        Ok(runner)
    }

    /// Enables netem faults (delay, duplication) on each node's interface
    /// (`node → iface`); the caller has checked that the kernel has netem.
    pub fn with_netem(mut self, ifaces: std::collections::BTreeMap<String, String>) -> Self {
        self.netem_ifaces = Some(ifaces);
        self
    }

    /// Enables the faults below the store (power, corrupt, slow).
    pub fn with_disks(mut self, disks: DiskFaults) -> Self {
        self.disks = Some(Arc::new(disks));
        self
    }

    /// Moves clocks with `date -s` on the hosts (`--clock-mode date`)
    /// instead of libfaketime offset files: host-wide, for stores
    /// libfaketime cannot reach, where the user allows it. Measures each
    /// node's skew from this machine first and journals it: after a dead
    /// controller, `faultline heal --run` sets each host's clock to this
    /// machine's time plus that skew, whatever step was under way.
    pub async fn with_date_clock(mut self) -> Result<Self> {
        let control = self.control.clone();
        let names = self.names();
        let measured = tokio::task::spawn_blocking(move || {
            names
                .iter()
                .map(|n| Ok((n.clone(), measure_skew_ms(control.as_ref(), n)?)))
                .collect::<Result<BTreeMap<String, (i64, i64)>>>()
        })
        .await
        .context("measuring clock skews")??;
        let skew: BTreeMap<&String, i64> = measured.iter().map(|(n, (s, _))| (n, *s)).collect();
        let latency: BTreeMap<&String, i64> = measured.iter().map(|(n, (_, l))| (n, *l)).collect();
        self.journal(json!({ "action": "date-baseline", "skew_ms": skew, "latency_ms": latency }));
        self.date_clock = Some(Mutex::new(BTreeMap::new()));
        Ok(self)
    }

    /// `(node, iface)` for `nodes`.
    fn netem_ifaces(&self, nodes: &[String]) -> Result<Vec<(String, String)>> {
        let ifaces = self
            .netem_ifaces
            .as_ref()
            .context("netem faults were not enabled for this run (no netem probe)")?;
        nodes
            .iter()
            .map(|n| {
                let iface = ifaces
                    .get(n)
                    .with_context(|| format!("no network interface known for {n}"))?;
                Ok((n.clone(), iface.clone()))
            })
            .collect()
    }

    fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    async fn run_plan(&self, plan: Plan) -> Result<()> {
        let control = self.control.clone();
        tokio::task::spawn_blocking(move || run_plan(control.as_ref(), &plan))
            .await
            .expect("plan thread panicked")?;
        Ok(())
    }

    /// Runs a blocking DB-layer action on every target, in parallel.
    async fn on_targets(
        &self,
        targets: &[String],
        f: fn(&dyn DbProcesses, &str) -> Result<()>,
    ) -> Result<()> {
        let mut tasks = Vec::new();
        for t in targets {
            let (db, t) = (self.db.clone(), t.clone());
            tasks.push(tokio::task::spawn_blocking(move || f(db.as_ref(), &t)));
        }
        let mut first_err = None;
        for task in tasks {
            if let Err(e) = task.await.expect("db action panicked") {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Runs a blocking disk-fault action on every target, in parallel;
    /// the targets' results in order, or the first error.
    async fn on_disks<T: Send + 'static>(
        &self,
        targets: &[String],
        f: impl Fn(&DiskFaults, &str) -> Result<T> + Send + Sync + 'static,
    ) -> Result<Vec<T>> {
        let disks = self
            .disks
            .clone()
            .context("disk faults were not enabled for this run")?;
        let f = Arc::new(f);
        let mut tasks = Vec::new();
        for t in targets {
            let (disks, f, t) = (disks.clone(), f.clone(), t.clone());
            tasks.push(tokio::task::spawn_blocking(move || f(disks.as_ref(), &t)));
        }
        let mut out = Vec::new();
        let mut first_err = None;
        for task in tasks {
            match task.await.expect("disk fault panicked") {
                Ok(v) => out.push(v),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(out), Err)
    }

    /// The plan that sets `targets`' clocks to `offset_ms`: offset files
    /// under libfaketime; with `date -s`, a step by the difference from the
    /// offset each node has now (see [`NemesisRunner::clock_applied`]).
    fn clock_plan(&self, targets: &[String], offset_ms: i64) -> Result<Plan> {
        if let Some(offsets) = &self.date_clock {
            let now = offsets.lock().unwrap();
            let steps: Vec<(String, i64)> = targets
                .iter()
                .map(|t| (t.clone(), offset_ms - now.get(t).copied().unwrap_or(0)))
                .collect();
            return Ok(clock::date_step(&steps));
        }
        let mut files = BTreeMap::new();
        for t in targets {
            let Some(f) = self.db.clock_file(t) else {
                bail!("clock faults are not available on {t}: the store does not run under libfaketime");
            };
            files.insert(t.clone(), f.display().to_string());
        }
        Ok(clock::set_offset(targets, offset_ms, &|n| files[n].clone()))
    }

    /// Notes that `targets`' host clocks now stand at `offset_ms` (after a
    /// `date -s` plan ran).
    fn clock_applied(&self, targets: &[String], offset_ms: i64) {
        if let Some(offsets) = &self.date_clock {
            let mut now = offsets.lock().unwrap();
            for t in targets {
                now.insert(t.clone(), offset_ms);
            }
        }
    }

    /// The plans a strobe flips between: offsets `delta_ms` and 0 under
    /// libfaketime; with `date -s`, steps of `+delta_ms` and `-delta_ms`.
    fn strobe_plans(&self, targets: &[String], delta_ms: i64) -> Result<(Plan, Plan)> {
        if self.date_clock.is_some() {
            let steps = |d: i64| {
                clock::date_step(&targets.iter().map(|t| (t.clone(), d)).collect::<Vec<_>>())
            };
            return Ok((steps(delta_ms), steps(-delta_ms)));
        }
        Ok((
            self.clock_plan(targets, delta_ms)?,
            self.clock_plan(targets, 0)?,
        ))
    }

    fn journal(&self, entry: Value) {
        write_journal(&self.journal, entry);
    }

    fn record(&self, kind: OpType, f: &str, value: Value, error: Option<String>) {
        match (&error, kind) {
            (Some(e), _) => tracing::warn!(f, %value, error = %e, "nemesis"),
            (None, OpType::Invoke) => {}
            (None, _) => tracing::info!(f, %value, "nemesis"),
        }
        self.log.record(Entry {
            kind,
            process: Process::Nemesis,
            f: f.to_string(),
            value,
            node: None,
            error,
        });
    }

    /// Walks the timeline from `start` until it ends or `stop` turns true.
    /// On error, heals what it started before returning the error.
    pub async fn run(
        &self,
        timeline: Vec<Event>,
        start: Instant,
        mut stop: watch::Receiver<bool>,
    ) -> Result<()> {
        for event in timeline {
            let due = start + Duration::from_millis(event.at_ms);
            let wait = due.saturating_duration_since(Instant::now());
            if crate::run::nemesis::sleep_or_stop(wait, &mut stop).await {
                return Ok(());
            }
            let r = match event.action {
                Action::Start { fault } => self.start(fault).await,
                Action::Stop => self.stop(event.kind).await,
            };
            if let Err(e) = r {
                let _ = self.heal_all().await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Applies one fault (stopping this kind's previous one first). A fault
    /// aimed at the primary is first resolved to the node that is primary
    /// now, so the journal and the history name the real node.
    pub async fn start(&self, fault: Fault) -> Result<()> {
        let fault = if fault.needs_primary() {
            let (db, names) = (self.db.clone(), self.names());
            let label = fault.label();
            tokio::task::spawn_blocking(move || {
                resolve_primary(db.as_ref(), &fault, &names, PRIMARY_WAIT)
            })
            .await
            .expect("primary lookup panicked")
            .with_context(|| format!("applying {label}"))?
        } else {
            fault
        };
        let kind = fault.kind();
        if self.active.lock().await.contains_key(&kind) {
            self.stop(kind).await?;
        }
        let mut value = serde_json::to_value(&fault).expect("faults serialize");
        value["label"] = json!(fault.label());
        let plan = match &fault {
            Fault::Partition(p) => Some(iptables::partition(&self.nodes, &p.grudge)),
            Fault::Loss {
                targets,
                from,
                probability,
            } => Some(iptables::loss(&self.nodes, targets, from, *probability)),
            Fault::Clock(ClockFault::Bump { targets, offset_ms }) => {
                Some(self.clock_plan(targets, *offset_ms)?)
            }
            Fault::Netem {
                targets,
                delay_ms,
                jitter_ms,
                duplicate,
            } => Some(nemeses::netem::start(
                &self.netem_ifaces(targets)?,
                *delay_ms,
                *jitter_ms,
                *duplicate,
            )),
            _ => None,
        };
        let offset_files: Vec<String> = match &fault {
            Fault::Clock(c) => c
                .targets()
                .iter()
                .filter_map(|t| self.db.clock_file(t))
                .map(|p| p.display().to_string())
                .collect(),
            _ => Vec::new(),
        };
        self.journal(json!({
            "action": "apply",
            "fault": fault.label(),
            "commands": plan.as_ref().map(Plan::display_lines).unwrap_or_default(),
            "offset_files": offset_files,
        }));
        self.record(OpType::Invoke, fault.start_f(), value.clone(), None);
        let mut strobe = None;
        let result = match (&fault, plan) {
            (_, Some(plan)) => self.run_plan(plan).await,
            (
                Fault::Clock(ClockFault::Strobe {
                    targets,
                    delta_ms,
                    period_ms,
                    duration_ms,
                }),
                None,
            ) => match self.strobe_plans(targets, *delta_ms) {
                Ok((on, off)) => {
                    strobe = Some(self.spawn_strobe((on, off), *period_ms, *duration_ms));
                    Ok(())
                }
                Err(e) => Err(e),
            },
            (Fault::Kill { targets }, None) => self.on_targets(targets, |db, n| db.kill(n)).await,
            (Fault::Pause { targets }, None) => self.on_targets(targets, |db, n| db.pause(n)).await,
            (Fault::Membership { targets }, None) => {
                self.on_targets(targets, |db, n| db.leave(n)).await
            }
            (Fault::Power { targets }, None) => self
                .on_disks(targets, |d, n| d.power_off(n))
                .await
                .map(|_| ()),
            (Fault::Corrupt { targets, how }, None) => {
                let how = how.clone();
                match self.on_disks(targets, move |d, n| d.corrupt(n, &how)).await {
                    Ok(changes) => {
                        value["changes"] = json!(changes);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            (
                Fault::Slow {
                    targets,
                    cpu_percent,
                    disk_delay_ms,
                },
                None,
            ) => {
                let (cpu, delay) = (*cpu_percent, *disk_delay_ms);
                match self
                    .on_disks(targets, move |d, n| d.slow(n, cpu, delay))
                    .await
                {
                    Ok(lines) => {
                        // Known once the pids are: journalled after the fact.
                        self.journal(json!({
                            "action": "commands",
                            "fault": fault.label(),
                            "commands": lines.concat(),
                        }));
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            _ => Ok(()),
        };
        if let (Fault::Clock(ClockFault::Bump { targets, offset_ms }), Ok(())) = (&fault, &result) {
            self.clock_applied(targets, *offset_ms);
        }
        let err = result.as_ref().err().map(|e| format!("{e:#}"));
        self.record(OpType::Info, fault.start_f(), value, err);
        let result = tolerate(&fault, result);
        let label = fault.label();
        self.active
            .lock()
            .await
            .insert(kind, Active { fault, strobe });
        result.with_context(|| format!("applying {label}"))
    }

    /// Flips between the `on` and `off` plans every `period_ms` for
    /// `duration_ms`, ending off.
    fn spawn_strobe(
        &self,
        (on, off): (Plan, Plan),
        period_ms: u64,
        duration_ms: u64,
    ) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = watch::channel(false);
        let control = self.control.clone();
        let task = tokio::spawn(async move {
            let end = Instant::now() + Duration::from_millis(duration_ms);
            // Whether the clocks stand at the "on" offset: the strobe ends
            // off, and (for `date -s`, whose plans are steps) steps back
            // only from on.
            let mut on_now = false;
            while Instant::now() < end {
                let plan = if on_now { off.clone() } else { on.clone() };
                let c = control.clone();
                let ran = tokio::task::spawn_blocking(move || run_plan(c.as_ref(), &plan)).await;
                if matches!(ran, Ok(Ok(()))) {
                    on_now = !on_now;
                }
                if crate::run::nemesis::sleep_or_stop(Duration::from_millis(period_ms), &mut rx)
                    .await
                {
                    break;
                }
            }
            if on_now {
                let _ = tokio::task::spawn_blocking(move || run_plan(control.as_ref(), &off)).await;
            }
        });
        (tx, task)
    }

    /// Undoes the active fault of `kind`, if any, and records it.
    pub async fn stop(&self, kind: Kind) -> Result<()> {
        let Some(active) = self.active.lock().await.remove(&kind) else {
            return Ok(());
        };
        let f = schedule::stop_f(kind);
        let targets: Value = match &active.fault {
            Fault::Partition(_) => json!(null),
            other => json!(other.targets()),
        };
        self.record(OpType::Invoke, f, targets.clone(), None);
        if let Some((tx, task)) = active.strobe {
            let _ = tx.send(true);
            let _ = task.await;
        }
        let result = match &active.fault {
            Fault::Partition(_) => {
                self.run_plan(iptables::flush(&self.nodes, iptables::CHAIN))
                    .await
            }
            Fault::Loss { .. } => {
                self.run_plan(iptables::flush(&self.nodes, iptables::LOSS_CHAIN))
                    .await
            }
            Fault::Clock(c) => match self.clock_plan(c.targets(), 0) {
                Ok(p) => {
                    let r = self.run_plan(p).await;
                    if r.is_ok() {
                        self.clock_applied(c.targets(), 0);
                    }
                    r
                }
                Err(e) => Err(e),
            },
            Fault::Kill { targets } | Fault::Power { targets } | Fault::Corrupt { targets, .. } => {
                self.on_targets(targets, |db, n| db.start(n)).await
            }
            Fault::Pause { targets } => self.on_targets(targets, |db, n| db.resume(n)).await,
            Fault::Membership { targets } => self.on_targets(targets, |db, n| db.join(n)).await,
            Fault::Slow { targets, .. } => {
                self.on_disks(targets, |d, n| d.unslow(n)).await.map(|_| ())
            }
            Fault::Netem { targets, .. } => match self.netem_ifaces(targets) {
                Ok(ifaces) => self.run_plan(nemeses::netem::stop(&ifaces)).await,
                Err(e) => Err(e),
            },
        };
        self.journal(json!({ "action": "stop", "kind": kind, "ok": result.is_ok() }));
        let err = result.as_ref().err().map(|e| format!("{e:#}"));
        self.record(OpType::Info, f, targets, err);
        tolerate(&active.fault, result).with_context(|| format!("undoing the {kind} fault"))
    }

    /// Undoes every active fault (recorded), then resets everything a fault
    /// could have touched on every node: both iptables chains flushed, clocks
    /// at offset zero, paused processes resumed, dead ones restarted.
    pub async fn heal_all(&self) -> Result<()> {
        let kinds: Vec<Kind> = self.active.lock().await.keys().copied().collect();
        let mut first_err = None;
        for kind in kinds {
            if let Err(e) = self.stop(kind).await {
                first_err.get_or_insert(e);
            }
        }
        let mut reset = iptables::flush(&self.nodes, iptables::CHAIN);
        reset.extend(iptables::flush(&self.nodes, iptables::LOSS_CHAIN));
        let names = self.names();
        if self.netem_ifaces.is_some() {
            reset.extend(nemeses::netem::stop(&self.netem_ifaces(&names)?));
        }
        let clocks =
            self.date_clock.is_some() || names.iter().all(|n| self.db.clock_file(n).is_some());
        if clocks {
            reset.extend(self.clock_plan(&names, 0)?);
        }
        match self.run_plan(reset).await {
            Ok(()) if clocks => self.clock_applied(&names, 0),
            Ok(()) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
        if let Some(disks) = self.disks.clone() {
            if let Err(e) = tokio::task::spawn_blocking(move || disks.heal())
                .await
                .expect("disk heal panicked")
            {
                first_err.get_or_insert(e);
            }
        }
        let db = self.db.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || db.heal())
            .await
            .expect("db heal panicked")
        {
            first_err.get_or_insert(e);
        }
        self.journal(json!({ "action": "heal-all", "ok": first_err.is_none() }));
        first_err.map_or(Ok(()), |e| Err(e.context("healing")))
    }

    /// Removes faultline's chains from every node (end of test).
    pub async fn teardown(&self) -> Result<()> {
        self.run_plan(iptables::teardown(&self.nodes)).await
    }
}

/// How long a fault aimed at the primary waits for the store to name one
/// (a failover under way leaves it without one for a few seconds).
pub const PRIMARY_WAIT: Duration = Duration::from_secs(10);

/// `fault` with its primary placeholder replaced by the node `db` names as
/// primary now, asking again every 200 ms for up to `wait` while it names
/// none. An error when it still names none (or cannot be asked): a fault
/// that silently hit no node would prove nothing.
pub fn resolve_primary(
    db: &dyn DbProcesses,
    fault: &Fault,
    nodes: &[String],
    wait: Duration,
) -> Result<Fault> {
    let deadline = Instant::now() + wait;
    loop {
        let why = match db.primary() {
            Ok(Some(p)) if nodes.contains(&p) => return Ok(fault.resolve_primary(&p, nodes)),
            Ok(Some(p)) => format!("the store names {p:?} as primary, which is not a node"),
            Ok(None) => "the store names no primary".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            bail!("{why} (asked for {} s)", wait.as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Appends one line to the journal (one `write` of the whole line).
fn write_journal(journal: &Mutex<std::fs::File>, entry: Value) {
    let mut line = entry.to_string();
    line.push('\n');
    if let Err(e) = journal.lock().unwrap().write_all(line.as_bytes()) {
        tracing::warn!("writing nemesis journal: {e}");
    }
}

/// Each node's clock skew from the controller's (ms) that a `date -s` run
/// measured before its first fault (its journal's `date-baseline`), plus
/// the one-way time a command took to reach it: what `faultline heal
/// --run` sets the hosts' clocks back to (this machine's time + skew, sent
/// that much ahead).
pub fn date_baseline_from_journal(journal: &str) -> BTreeMap<String, i64> {
    let Some(e) = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["action"] == "date-baseline")
    else {
        return BTreeMap::new();
    };
    let get = |k: &str| -> BTreeMap<String, i64> {
        serde_json::from_value(e[k].clone()).unwrap_or_default()
    };
    let latency = get("latency_ms");
    get("skew_ms")
        .into_iter()
        .map(|(n, s)| {
            let ahead = latency.get(&n).copied().unwrap_or(0);
            (n, s + ahead)
        })
        .collect()
}

/// This machine's wall clock, in ms since the epoch.
pub fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `node`'s wall clock minus this machine's (ms), read with `date
/// +%s.%N` and compared with the middle of the round trip; and half that
/// round trip (how long a command takes to arrive).
pub fn measure_skew_ms(control: &dyn Control, node: &str) -> Result<(i64, i64)> {
    let argv = ["date", "+%s.%N"].map(str::to_string);
    let before = epoch_ms();
    let out = control
        .exec(node, &argv, Duration::from_secs(10))
        .with_context(|| format!("reading {node}'s clock"))?;
    let after = epoch_ms();
    let secs: f64 = out
        .stdout
        .trim()
        .parse()
        .with_context(|| format!("{node}: `date +%s.%N` printed {:?}", out.stdout.trim()))?;
    Ok((
        (secs * 1000.0).round() as i64 - (before + after) / 2,
        (after - before) / 2,
    ))
}

/// Whether a failure to apply or undo `fault` should stop the run.
///
/// A leave or join needs the target to answer, and other faults may have
/// killed, frozen or cut it off just then: that failure is recorded on the
/// nemesis op (its `error`), and the final heal brings every node back into
/// the cluster. So with a slow fault on a node another fault has killed
/// (there is no process to throttle), and a corruption before the store
/// wrote any file. Every other fault that cannot be applied or undone stops
/// the run, because a test whose faults silently did not happen proves
/// nothing.
fn tolerate(fault: &Fault, result: Result<()>) -> Result<()> {
    match (fault, result) {
        (Fault::Membership { .. }, Err(e)) => {
            tracing::warn!("membership change did not take: {e:#}");
            Ok(())
        }
        (Fault::Slow { .. } | Fault::Corrupt { .. }, Err(e)) => {
            tracing::warn!("{} did not take: {e:#}", fault.label());
            Ok(())
        }
        (_, r) => r,
    }
}

/// Undoes, from a dead run's journal (`nemesis.jsonl`), what dying with the
/// namespaces does not undo: clock offset files are set back to zero, so no
/// process started on them later inherits a skewed clock. Returns one line
/// per thing it reset. Partitions and loss need nothing here locally: their
/// rules lived in the namespaces `faultline heal` deletes.
pub fn heal_from_journal(run_dir: &std::path::Path) -> Result<Vec<String>> {
    let path = run_dir.join("nemesis.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut files = std::collections::BTreeSet::new();
    // A line cut short by the crash is skipped: it recorded nothing applied.
    for entry in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        if let Some(list) = entry.get("offset_files").and_then(Value::as_array) {
            files.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    let mut done = Vec::new();
    for f in files {
        let p = std::path::Path::new(&f);
        if p.exists() {
            std::fs::write(p, clock::faketime_offset(0))
                .with_context(|| format!("resetting clock offset file {f}"))?;
            done.push(format!("reset clock offset {f}"));
        }
    }
    Ok(done)
}

/// Sleeps for `d`; returns true early if `stop` becomes true.
pub async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nemeses::targets::{OTHERS, PRIMARY};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A store whose primary is unknown for the first `unknown` questions,
    /// then `n2`: resolution logic only (the Redis tests ask real Sentinels).
    struct Answers {
        asked: AtomicUsize,
        unknown: usize,
        primary: Option<&'static str>,
    }

    impl DbProcesses for Answers {
        fn kill(&self, _: &str) -> Result<()> {
            Ok(())
        }
        fn start(&self, _: &str) -> Result<()> {
            Ok(())
        }
        fn pause(&self, _: &str) -> Result<()> {
            Ok(())
        }
        fn resume(&self, _: &str) -> Result<()> {
            Ok(())
        }
        fn clock_file(&self, _: &str) -> Option<PathBuf> {
            None
        }
        fn leave(&self, _: &str) -> Result<()> {
            Ok(())
        }
        fn join(&self, _: &str) -> Result<()> {
            Ok(())
        }
        fn heal(&self) -> Result<()> {
            Ok(())
        }
        fn primary(&self) -> Result<Option<String>> {
            let n = self.asked.fetch_add(1, Ordering::SeqCst);
            Ok(if n < self.unknown {
                None
            } else {
                self.primary.map(str::to_string)
            })
        }
    }

    fn nodes() -> Vec<String> {
        (1..=3).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn a_primary_fault_is_resolved_to_the_node_named_when_it_starts() {
        let db = Answers {
            asked: AtomicUsize::new(0),
            unknown: 2,
            primary: Some("n2"),
        };
        let placeholder = Fault::Partition(nemeses::partition::Partition::isolate(
            PRIMARY,
            &[OTHERS.to_string()],
            false,
        ));
        let f = resolve_primary(&db, &placeholder, &nodes(), Duration::from_secs(5)).unwrap();
        assert_eq!(f.label(), "partition n2|n1,n3");
        assert_eq!(
            db.asked.load(Ordering::SeqCst),
            3,
            "asked until it named one"
        );
        let kill = Fault::Kill {
            targets: vec![PRIMARY.into()],
        };
        let f = resolve_primary(&db, &kill, &nodes(), Duration::from_secs(5)).unwrap();
        assert_eq!(
            f,
            Fault::Kill {
                targets: vec!["n2".into()]
            }
        );
    }

    #[test]
    fn no_primary_in_time_is_an_error_naming_why() {
        let kill = Fault::Pause {
            targets: vec![PRIMARY.into()],
        };
        let never = Answers {
            asked: AtomicUsize::new(0),
            unknown: 0,
            primary: None,
        };
        let e = resolve_primary(&never, &kill, &nodes(), Duration::from_millis(300)).unwrap_err();
        assert!(e.to_string().contains("names no primary"), "{e}");
        let stranger = Answers {
            asked: AtomicUsize::new(0),
            unknown: 0,
            primary: Some("n9"),
        };
        let e = resolve_primary(&stranger, &kill, &nodes(), Duration::ZERO).unwrap_err();
        assert!(
            e.to_string()
                .contains("\"n9\" as primary, which is not a node"),
            "{e}"
        );
    }

    #[test]
    fn the_checkers_read_every_fault_word_the_nemesis_writes() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let opts = nemeses::schedule::Options::default();
        for kind in Kind::ALL {
            for _ in 0..20 {
                let fault = nemeses::schedule::draw(kind, &nodes(), &opts, &mut rng).unwrap();
                let (start, stop) = (fault.start_f(), schedule::stop_f(kind));
                assert_eq!(
                    checkers::perf::fault_start(start).as_deref(),
                    Some(kind.name())
                );
                assert_eq!(
                    checkers::perf::fault_stop(stop).as_deref(),
                    Some(kind.name())
                );
                assert!(checkers::convergence::is_fault_start(start), "{start}");
                assert!(checkers::convergence::is_heal(stop), "{stop}");
            }
        }
    }
}
