//! Running the nemesis: faults from the schedule, applied through the
//! control layer, recorded in the history, and always healed.
//!
//! Each fault is first appended to the run's journal (`nemesis.jsonl`: what
//! was applied and the plan that undoes it), then applied, then recorded as
//! a nemesis op. Healing runs the heal plan on every node whether or not a
//! fault is believed active, so it is safe to call at any time and twice.

use crate::control::{run_plan, Control};
use crate::history_log::{Entry, HistoryLog};
use anyhow::{Context, Result};
use checkers::{OpType, Process};
use nemeses::partition::grudge;
use nemeses::schedule::{Fault, Schedule};
use nemeses::{iptables, NodeAddr};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Applies faults on a schedule and heals them.
pub struct NemesisRunner {
    control: Arc<dyn Control>,
    nodes: Vec<NodeAddr>,
    log: Arc<HistoryLog>,
    journal: Mutex<std::fs::File>,
}

impl NemesisRunner {
    /// Prepares the nodes (faultline's iptables chain) and opens the journal.
    pub async fn setup(
        control: Arc<dyn Control>,
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
            nodes,
            log,
            journal: Mutex::new(journal),
        };
        runner
            .run_blocking(iptables::setup(&runner.nodes))
            .await
            .context("preparing iptables on the nodes")?;
        Ok(runner)
    }

    async fn run_blocking(&self, plan: nemeses::plan::Plan) -> Result<()> {
        let control = self.control.clone();
        tokio::task::spawn_blocking(move || run_plan(control.as_ref(), &plan))
            .await
            .expect("plan thread panicked")?;
        Ok(())
    }

    fn journal(&self, entry: serde_json::Value) {
        let mut line = entry.to_string();
        line.push('\n');
        let mut j = self.journal.lock().unwrap();
        if let Err(e) = j.write_all(line.as_bytes()) {
            tracing::warn!("writing nemesis journal: {e}");
        }
    }

    fn record(&self, kind: OpType, f: &str, value: serde_json::Value, error: Option<String>) {
        self.log.record(Entry {
            kind,
            process: Process::Nemesis,
            f: f.to_string(),
            value,
            node: None,
            error,
        });
    }

    /// Alternates fault and calm, one `interval` each, until `stop` turns
    /// true. Every fault is healed before this returns: in the normal course
    /// of the cycle, and by one more heal if the cycle failed midway.
    pub async fn run(
        &self,
        mut schedule: Schedule,
        interval: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> Result<()> {
        let result = self.cycle(&mut schedule, interval, &mut stop).await;
        if result.is_err() {
            let _ = self.heal("stop-partition").await;
        }
        result
    }

    async fn cycle(
        &self,
        schedule: &mut Schedule,
        interval: Duration,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<()> {
        loop {
            if sleep_or_stop(interval, stop).await {
                return Ok(());
            }
            let Some(fault) = schedule.next_fault()? else {
                return Ok(());
            };
            self.apply(&fault).await?;
            let stopped = sleep_or_stop(interval, stop).await;
            self.heal(fault.stop_f()).await?;
            if stopped {
                return Ok(());
            }
        }
    }

    async fn apply(&self, fault: &Fault) -> Result<()> {
        let Fault::Partition { components, .. } = fault;
        let plan = iptables::partition(&self.nodes, &grudge(components));
        let value = serde_json::to_value(fault).expect("faults serialize");
        self.journal(json!({
            "action": "apply",
            "fault": fault.label(),
            "commands": plan.display_lines(),
            "heal": iptables::heal(&self.nodes).display_lines(),
        }));
        self.record(OpType::Invoke, fault.start_f(), value.clone(), None);
        match self.run_blocking(plan).await {
            Ok(()) => {
                self.record(OpType::Info, fault.start_f(), value, None);
                Ok(())
            }
            Err(e) => {
                self.record(OpType::Info, fault.start_f(), value, Some(e.to_string()));
                Err(e.context(format!("applying {}", fault.label())))
            }
        }
    }

    /// Removes every fault on every node, and records it.
    pub async fn heal(&self, f: &str) -> Result<()> {
        let plan = iptables::heal(&self.nodes);
        self.record(OpType::Invoke, f, json!(null), None);
        let r = self.run_blocking(plan).await;
        self.journal(json!({ "action": "heal", "ok": r.is_ok() }));
        self.record(
            OpType::Info,
            f,
            json!(null),
            r.as_ref().err().map(|e| e.to_string()),
        );
        r.context("healing the network")
    }

    /// Removes faultline's chain from every node (end of test).
    pub async fn teardown(&self) -> Result<()> {
        self.run_blocking(iptables::teardown(&self.nodes)).await
    }
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
