//! Healing: every way faultline undoes what it did to a cluster.
//!
//! A run heals its own faults as it goes and at its end (the nemesis
//! runner, [`super::nemesis`], undoes each fault it started, on error and on
//! Ctrl-C too). What a run that died could not undo is healed here, from
//! what it left: local namespaces and processes of dead runs' slots
//! ([`local`]), clock offsets recorded in each run's journal, and, for runs
//! on SSH nodes, faultline's iptables chains, moved host clocks, store
//! processes and files ([`run_folder`], [`ssh_nodes`]). `faultline heal`
//! calls these; each prints one line per thing it undid.

use crate::cluster::control::netns;
use crate::cluster::faultfs;
use crate::cluster::nodes::RemoteNodes;
use crate::cluster::remote;
use crate::exit;
use anyhow::Result;
use std::path::Path;

/// `faultline heal` for local runs: every dead run's namespaces, processes
/// and clock offsets.
pub fn local() -> i32 {
    let r = netns::heal_stale();
    if r.slots.is_empty() && r.orphans.is_empty() {
        println!("nothing to heal");
    }
    for s in &r.slots {
        println!("cleaned slot {s}: processes killed, namespaces, links and rules removed");
    }
    for o in &r.orphans {
        println!("removed orphan namespace {o}");
    }
    let mut code = exit::VALID;
    for d in &r.run_dirs {
        match super::nemesis::heal_from_journal(d) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("faultline: error: {e:#}");
                code = exit::ERROR;
            }
        }
        // Their faultfs died with the slot's processes: the dead mounts go.
        faultfs::unmount_stale(d)
            .iter()
            .for_each(|l| println!("{l}"));
    }
    faultfs::remove_stale_cgroups()
        .iter()
        .for_each(|l| println!("{l}"));
    if !r.live.is_empty() {
        println!("left alone: slots {:?} belong to live runs", r.live);
    }
    code
}

/// `faultline heal --run DIR`: the nodes and login of the run's
/// `test.json` (with `password`, which is never saved); a local run is
/// healed as [`local`] heals any.
pub fn run_folder(dir: &Path, password: Option<String>, leave_db_running: bool) -> Result<i32> {
    let file = dir.join("test.json");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        crate::UsageError(format!(
            "--run {}: {e} (expected a run's folder, results/<test>/<time>)",
            dir.display()
        ))
    })?;
    let cfg: crate::settings::TestConfig = serde_json::from_str(&text)
        .map_err(|e| crate::UsageError(format!("{}: {e}", file.display())))?;
    match cfg.remote {
        None => Ok(local()),
        Some(mut nodes) => {
            nodes.password = password;
            nodes.leave_db_running |= leave_db_running;
            // Host clocks a `date -s` fault may have left moved: set back
            // to this machine's time + the skew measured before the faults.
            let journal = std::fs::read_to_string(dir.join("nemesis.jsonl")).unwrap_or_default();
            let baseline = super::nemesis::date_baseline_from_journal(&journal);
            remote::heal_nodes(&nodes, &baseline)
        }
    }
}

/// `faultline heal --nodes HOSTS`: faultline's chains, clock offsets and
/// (unless the nodes say to leave it running) the store, on every node.
pub fn ssh_nodes(nodes: &RemoteNodes) -> Result<i32> {
    remote::heal_nodes(nodes, &Default::default())
}
