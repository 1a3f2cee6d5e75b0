//! The faults below the store, applied: power failures, corrupted files and
//! slow nodes (the plans and their meaning are in [`nemeses::disk`]).
//!
//! - **power**: the store on the node is killed, then its faultfs mount
//!   (see [`crate::cluster::faultfs`]) loses every byte not fsynced; the
//!   stop starts the store again on what is left.
//! - **corrupt**: the store is killed, then one of the files it declared
//!   ([`crate::stores::DataLayout`]) gets flipped bits or a cut tail, or the
//!   whole data directory goes back to the copy taken at the node's previous
//!   corruption; the stop starts the store on it. What changed where goes
//!   into the history (the fault's `changes`) and so into the report.
//! - **slow**: the store's processes move into a cgroup with a small CPU
//!   quota, and under faultfs each write and fsync waits; the stop lifts
//!   both.
//!
//! Every step runs through the control layer, so the same code acts on
//! namespaces here and on SSH hosts.

use crate::cluster::control::{run_plan, Control};
use crate::cluster::faultfs::Mounts;
use crate::stores::{DataLayout, DbProcesses};
use anyhow::{bail, Context, Result};
use nemeses::disk::{self, Cgroups, Corruption};
use nemeses::plan::Plan;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one file operation on a node may take.
const STEP: Duration = Duration::from_secs(30);

/// What the disk faults need: the nodes' faultfs mounts (power, slow
/// disks), their data directories and files (corrupt), the cgroup
/// hierarchy (slow), and the program that damages a file (`faultfs
/// corrupt`, on the nodes).
pub struct DiskFaults {
    control: Arc<dyn Control>,
    db: Arc<dyn DbProcesses>,
    mounts: Option<Arc<Mounts>>,
    /// The store's layout and each node's data directory.
    data: Option<(DataLayout, BTreeMap<String, PathBuf>)>,
    /// The faultfs program on the nodes.
    faultfs: Option<PathBuf>,
    cgroups: Option<Cgroups>,
    /// The pids each slowed node's cgroup holds.
    slowed: Mutex<BTreeMap<String, Vec<u32>>>,
    /// Nodes with a copy to roll back to.
    snapshots: Mutex<BTreeSet<String>>,
}

impl DiskFaults {
    /// Disk faults over `db`'s processes through `control`; each part is
    /// added by the `with_` methods the run's kinds need.
    pub fn new(control: Arc<dyn Control>, db: Arc<dyn DbProcesses>) -> Self {
        DiskFaults {
            control,
            db,
            mounts: None,
            data: None,
            faultfs: None,
            cgroups: None,
            slowed: Mutex::new(BTreeMap::new()),
            snapshots: Mutex::new(BTreeSet::new()),
        }
    }

    /// The nodes' faultfs mounts.
    pub fn with_mounts(mut self, mounts: Arc<Mounts>) -> Self {
        self.mounts = Some(mounts);
        self
    }

    /// The store's data layout, each node's data directory, and the faultfs
    /// program on the nodes (which damages files).
    pub fn with_data(
        mut self,
        layout: DataLayout,
        dirs: BTreeMap<String, PathBuf>,
        faultfs: PathBuf,
    ) -> Self {
        self.data = Some((layout, dirs));
        self.faultfs = Some(faultfs);
        self
    }

    /// The nodes' cgroup hierarchy.
    pub fn with_cgroups(mut self, cgroups: Cgroups) -> Self {
        self.cgroups = Some(cgroups);
        self
    }

    /// Power off `node`: the store dies, then every byte it had not
    /// fsynced.
    pub fn power_off(&self, node: &str) -> Result<()> {
        let mounts = self
            .mounts
            .as_ref()
            .context("the power nemesis needs the data directories under faultfs")?;
        self.db.kill(node)?;
        mounts.power_fail(node)
    }

    /// Kills the store on `node` and damages its files as `how` says;
    /// returns what changed, in words.
    pub fn corrupt(&self, node: &str, how: &Corruption) -> Result<String> {
        let Some((layout, dirs)) = &self.data else {
            bail!("the corrupt nemesis needs the store's data directory");
        };
        let dir = dirs
            .get(node)
            .with_context(|| format!("no data directory known for {node}"))?;
        self.db.kill(node)?;
        let snapshot = dir.with_extension("snapshot");
        let changed = match how {
            Corruption::Rollback if self.snapshots.lock().unwrap().contains(node) => {
                self.restore(node, &snapshot, dir)?;
                format!(
                    "{node}: {} rolled back to its copy from the previous corruption",
                    dir.display()
                )
            }
            Corruption::Rollback => {
                self.take_snapshot(node, dir, &snapshot)?;
                format!("{node}: no earlier copy of {} yet; took one", dir.display())
            }
            Corruption::Bitflip { bits, seed } => {
                self.take_snapshot(node, dir, &snapshot)?;
                let file = self.pick(node, dir, layout, *seed)?;
                let out = self.damage(node, &file, &["--flip-bits", &bits.to_string()], *seed)?;
                format!("{node}: {out}")
            }
            Corruption::Truncate { bytes, seed } => {
                self.take_snapshot(node, dir, &snapshot)?;
                let file = self.pick(node, dir, layout, *seed)?;
                let out = self.damage(node, &file, &["--truncate", &bytes.to_string()], *seed)?;
                format!("{node}: {out}")
            }
        };
        Ok(changed)
    }

    /// One of the store's files in `dir` on `node`, drawn by `seed`.
    fn pick(&self, node: &str, dir: &Path, layout: &DataLayout, seed: u64) -> Result<PathBuf> {
        let find = argv(&["find"], &[dir], &["-type", "f"]);
        let listing = self.control.exec(node, &find, STEP)?.stdout;
        let mut files: Vec<PathBuf> = listing
            .lines()
            .map(PathBuf::from)
            .filter(|f| {
                let Ok(rel) = f.strip_prefix(dir) else {
                    return false;
                };
                let rel = rel.to_string_lossy();
                layout
                    .files
                    .iter()
                    .any(|want| match want.strip_suffix('/') {
                        Some(sub) => rel.starts_with(&format!("{sub}/")),
                        None => rel == want.as_str(),
                    })
            })
            .collect();
        files.sort();
        if files.is_empty() {
            bail!(
                "{node}: none of the store's files ({}) is in {} yet",
                layout.files.join(", "),
                dir.display()
            );
        }
        Ok(files[(seed % files.len() as u64) as usize].clone())
    }

    /// `faultfs corrupt` on `file`: flipped bits or a cut tail, fsynced.
    fn damage(&self, node: &str, file: &Path, what: &[&str], seed: u64) -> Result<String> {
        let bin = self.faultfs.as_ref().context("no faultfs program")?;
        let seed = seed.to_string();
        let mut cmd = argv(&[], &[bin], &["corrupt", "--seed", &seed]);
        cmd.extend(what.iter().map(|s| s.to_string()));
        cmd.push("--".into());
        cmd.push(file.display().to_string());
        let out = self.control.exec(node, &cmd, STEP)?;
        Ok(out.stdout.trim().to_string())
    }

    /// Copies `dir` to `snapshot` (replacing an older copy): what a later
    /// rollback restores.
    fn take_snapshot(&self, node: &str, dir: &Path, snapshot: &Path) -> Result<()> {
        self.control
            .exec(node, &argv(&["rm", "-rf", "--"], &[snapshot], &[]), STEP)?;
        self.control.exec(
            node,
            &argv(&["cp", "-a", "--"], &[dir, snapshot], &[]),
            STEP,
        )?;
        self.snapshots.lock().unwrap().insert(node.to_string());
        Ok(())
    }

    /// Empties `dir` (a mount point may not go) and copies `snapshot` into
    /// it, then fsyncs every file, so the rolled-back state is on disk.
    fn restore(&self, node: &str, snapshot: &Path, dir: &Path) -> Result<()> {
        let empty = argv(&["find"], &[dir], &["-mindepth", "1", "-delete"]);
        self.control.exec(node, &empty, STEP)?;
        let from = PathBuf::from(format!("{}/.", snapshot.display()));
        self.control
            .exec(node, &argv(&["cp", "-a", "--"], &[&from, dir], &[]), STEP)?;
        let sync = argv(
            &["find"],
            &[dir],
            &["-type", "f", "-exec", "sync", "--", "{}", "+"],
        );
        self.control.exec(node, &sync, STEP)?;
        Ok(())
    }

    /// Slows `node`: its store's processes get `cpu_percent` % of a CPU,
    /// its disk `delay_ms` before each write and fsync (when under
    /// faultfs). Returns the commands, as lines, for the journal.
    pub fn slow(&self, node: &str, cpu_percent: u32, delay_ms: u64) -> Result<Vec<String>> {
        let cgroups = self
            .cgroups
            .context("the slow nemesis found no cgroup hierarchy on the nodes")?;
        let pids = self.db.pids(node);
        if pids.is_empty() {
            bail!("{node}: the store's processes are not running, nothing to slow down");
        }
        let plan = disk::cgroup_start(cgroups, std::process::id(), node, &pids, cpu_percent);
        self.slowed
            .lock()
            .unwrap()
            .insert(node.to_string(), pids.clone());
        let plan = self.in_host_mounts(plan);
        let mut lines = plan.display_lines();
        run_plan(self.control.as_ref(), &plan)?;
        if let (Some(mounts), true) = (&self.mounts, delay_ms > 0) {
            mounts.set_delay(node, delay_ms)?;
            if let Some(file) = mounts.delay_file(node) {
                lines.push(format!(
                    "[{node}] write {:?} <- \"{delay_ms}\"",
                    file.display()
                ));
            }
        }
        Ok(lines)
    }

    /// Full speed again on `node`.
    pub fn unslow(&self, node: &str) -> Result<()> {
        let pids = self.slowed.lock().unwrap().remove(node).unwrap_or_default();
        if let Some(cgroups) = self.cgroups {
            let plan = disk::cgroup_stop(cgroups, std::process::id(), node, &pids);
            run_plan(self.control.as_ref(), &self.in_host_mounts(plan))?;
        }
        if let Some(mounts) = &self.mounts {
            mounts.set_delay(node, 0)?;
        }
        Ok(())
    }

    /// `plan` with each command run in the host's view of `/sys/fs/cgroup`
    /// (see [`Control::in_host_mounts`]).
    fn in_host_mounts(&self, mut plan: Plan) -> Plan {
        for step in &mut plan.steps {
            if let nemeses::plan::Action::Exec { argv } = &mut step.action {
                *argv = self.control.in_host_mounts(std::mem::take(argv));
            }
        }
        plan
    }

    /// Lifts every slow fault still in force (the final heal); power and
    /// corruption are healed by restarting the store.
    pub fn heal(&self) -> Result<()> {
        let nodes: Vec<String> = self.slowed.lock().unwrap().keys().cloned().collect();
        let mut first_err = None;
        for n in nodes {
            if let Err(e) = self.unslow(&n) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// `words`, then `paths`, then `more`, as an argv.
fn argv(words: &[&str], paths: &[&Path], more: &[&str]) -> Vec<String> {
    words
        .iter()
        .map(|w| w.to_string())
        .chain(paths.iter().map(|p| p.display().to_string()))
        .chain(more.iter().map(|w| w.to_string()))
        .collect()
}

/// What a run prepares for the disk faults before its store starts: the
/// data directories under faultfs (power, slow disks), and what corrupt
/// needs to find the store's files.
#[derive(Default)]
pub struct DiskSetup {
    mounts: Option<Arc<Mounts>>,
    layout: Option<DataLayout>,
    dirs: BTreeMap<String, PathBuf>,
    /// The faultfs program on the nodes.
    faultfs: Option<PathBuf>,
}

/// True when `kinds` has a fault below the store.
fn has_disk_faults(kinds: &[nemeses::Kind]) -> bool {
    use nemeses::Kind;
    kinds
        .iter()
        .any(|k| matches!(k, Kind::Power | Kind::Corrupt | Kind::Slow))
}

impl DiskSetup {
    /// The faultfs program on this machine, when `kinds` has disk faults
    /// (SSH nodes are sent it).
    pub fn program(kinds: &[nemeses::Kind]) -> Result<Option<PathBuf>> {
        if !has_disk_faults(kinds) {
            return Ok(None);
        }
        crate::cluster::shipped::find("faultfs", None, "FAULTLINE_FAULTFS_BIN=PATH").map(Some)
    }

    /// Mounts faultfs over every node's data directory when the run's
    /// faults include `power` or `slow` and the store has one (nothing
    /// when no disk fault is in the run).
    pub fn prepare(
        cfg: &crate::settings::TestConfig,
        store: &dyn crate::stores::Store,
        nodes: &[crate::stores::StoreNode],
        control: &Arc<dyn Control>,
        remote: bool,
    ) -> Result<DiskSetup> {
        let kinds = &cfg.nemesis;
        let Some(local) = Self::program(kinds)? else {
            return Ok(DiskSetup::default());
        };
        let faultfs = match nodes.first() {
            Some(first) if remote => crate::cluster::remote::node_faultfs(&first.dir),
            _ => local,
        };
        let Ok(layout) = store.data_dir(cfg) else {
            return Ok(DiskSetup::default());
        };
        let dirs: BTreeMap<String, PathBuf> = nodes
            .iter()
            .map(|n| (n.name.clone(), layout.on(n)))
            .collect();
        let mounts = if kinds.iter().any(|k| k.needs_faultfs()) {
            let on: Vec<(String, PathBuf, PathBuf)> = nodes
                .iter()
                .map(|n| (n.name.clone(), n.dir.clone(), layout.on(n)))
                .collect();
            Some(Arc::new(Mounts::mount_all(control.clone(), &faultfs, &on)?))
        } else {
            None
        };
        Ok(DiskSetup {
            mounts,
            layout: Some(layout),
            dirs,
            faultfs: Some(faultfs),
        })
    }

    /// The disk faults of a run with `kinds` over `db` (none when no disk
    /// fault is in it). A slow fault needs the nodes' cgroups: probed on
    /// the first node, an error naming what is missing.
    pub fn faults(
        &self,
        kinds: &[nemeses::Kind],
        control: Arc<dyn Control>,
        db: Arc<dyn DbProcesses>,
        names: &[String],
    ) -> Result<Option<DiskFaults>> {
        use nemeses::Kind;
        if !has_disk_faults(kinds) {
            return Ok(None);
        }
        let mut faults = DiskFaults::new(control.clone(), db);
        if let Some(m) = &self.mounts {
            faults = faults.with_mounts(m.clone());
        }
        if let (Some(layout), Some(bin)) = (&self.layout, &self.faultfs) {
            faults = faults.with_data(layout.clone(), self.dirs.clone(), bin.clone());
        }
        if kinds.contains(&Kind::Slow) {
            let first = names.first().context("no nodes")?;
            faults = faults.with_cgroups(crate::cluster::faultfs::probe_cgroups(
                control.as_ref(),
                first,
            )?);
        }
        Ok(Some(faults))
    }

    /// Stops every faultfs cleanly and removes the mounts (after the store
    /// stopped, or when it never started).
    pub fn unmount(&self) {
        if let Some(m) = &self.mounts {
            m.unmount_all();
        }
    }
}
