//! The nodes' data directories under faultfs, for power failures and slow
//! disks.
//!
//! A store writes into its data directory; `kill -9` loses nothing it wrote,
//! because the kernel's page cache outlives the process. To lose what a
//! store wrote but never fsynced, the directory is mounted through
//! **faultfs** (the `faultfs/` crate, shipped beside faultline) for the
//! whole run: the store's files live in a *backing* directory beside it,
//! and faultfs keeps every byte not yet fsynced in its own memory.
//!
//! ```text
//!   <node dir>/data          ← the store reads and writes here (the mount)
//!   <node dir>/data.backing  ← what is on "disk": fsynced bytes only
//!   <node dir>/faultfs.delay ← milliseconds each write and fsync waits
//! ```
//!
//! A power failure of a node ([`Mounts::power_fail`], after the store was
//! killed) is `kill -9` of its faultfs (the un-fsynced bytes die with it),
//! `umount -l` of the dead mount, and a new faultfs over the same backing
//! directory. A slow disk is a number in the delay file. At the end
//! ([`Mounts::unmount_all`]) each faultfs is stopped cleanly (it writes
//! back what it holds, as a clean shutdown would) and unmounted.
//!
//! Mounts outlive a dead controller only as dead FUSE mounts, which
//! [`unmount_stale`] removes (`faultline heal`); a slow node's cgroup is
//! named after the controller's pid, so [`remove_stale_cgroups`] finds
//! those of dead controllers.

use crate::cluster::control::{Control, DaemonSpec, Signal};
use anyhow::{bail, Context, Result};
use nemeses::disk::Cgroups;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The name faultfs mounts under (the first field of `/proc/mounts`).
pub const FSNAME: &str = "faultfs";

/// How long a faultfs may take to mount, or to stop cleanly.
const WAIT: Duration = Duration::from_secs(10);

/// One node's mount.
#[derive(Clone, Debug)]
struct Mount {
    /// Where the store sees its data.
    mount: PathBuf,
    /// Where the fsynced bytes are.
    backing: PathBuf,
    /// The delay file.
    delay_file: PathBuf,
    /// faultfs's log.
    log: PathBuf,
    /// faultfs's pid while it runs.
    pid: Option<u32>,
}

/// The faultfs mounts of a cluster, one per node.
pub struct Mounts {
    control: Arc<dyn Control>,
    /// The faultfs program, on the nodes.
    bin: PathBuf,
    mounts: Mutex<BTreeMap<String, Mount>>,
}

impl Mounts {
    /// Mounts faultfs over `data_dir` of each `(node, node dir, data dir)`
    /// (the data directory's files move to `<data dir>.backing`, created
    /// empty), and waits until every mount serves.
    pub fn mount_all(
        control: Arc<dyn Control>,
        bin: &Path,
        nodes: &[(String, PathBuf, PathBuf)],
    ) -> Result<Mounts> {
        let mounts = nodes
            .iter()
            .map(|(node, node_dir, data)| {
                let backing = data.with_extension("backing");
                let m = Mount {
                    mount: data.clone(),
                    backing,
                    delay_file: node_dir.join("faultfs.delay"),
                    log: node_dir.join("faultfs.log"),
                    pid: None,
                };
                (node.clone(), m)
            })
            .collect();
        let this = Mounts {
            control,
            bin: bin.to_path_buf(),
            mounts: Mutex::new(mounts),
        };
        for node in this.nodes() {
            if let Err(e) = this.mount_one(&node) {
                // Those mounted already go too: nothing is left behind.
                this.unmount_all();
                return Err(e);
            }
        }
        Ok(this)
    }

    /// Creates `node`'s directories and delay file and mounts it.
    fn mount_one(&self, node: &str) -> Result<()> {
        let m = self.mount_of(node)?;
        let mkdir = argv(&["mkdir", "-p", "--"], &[&m.mount, &m.backing]);
        self.control
            .exec(node, &mkdir, WAIT)
            .with_context(|| format!("creating {node}'s data directories"))?;
        self.control
            .write_file(node, &m.delay_file, &nemeses::disk::delay_line(0))?;
        self.start(node)
    }

    /// `argv` run where mounts must be made: the host's mount namespace
    /// (see [`Control::in_host_mounts`]), so that every later command, the
    /// store's among them, sees the mount.
    fn in_host_mounts(&self, argv: Vec<String>) -> Vec<String> {
        self.control.in_host_mounts(argv)
    }

    fn nodes(&self) -> Vec<String> {
        self.mounts.lock().unwrap().keys().cloned().collect()
    }

    fn mount_of(&self, node: &str) -> Result<Mount> {
        self.mounts
            .lock()
            .unwrap()
            .get(node)
            .cloned()
            .with_context(|| format!("no faultfs mount on node {node}"))
    }

    /// The mount points, for the journal and for `faultline heal`.
    pub fn mount_points(&self) -> Vec<(String, PathBuf)> {
        self.mounts
            .lock()
            .unwrap()
            .iter()
            .map(|(n, m)| (n.clone(), m.mount.clone()))
            .collect()
    }

    /// `node`'s delay file, if it has a mount.
    pub fn delay_file(&self, node: &str) -> Option<PathBuf> {
        self.mounts
            .lock()
            .unwrap()
            .get(node)
            .map(|m| m.delay_file.clone())
    }

    /// Starts faultfs on `node` and waits until its mount serves.
    fn start(&self, node: &str) -> Result<()> {
        let m = self.mount_of(node)?;
        let spec = DaemonSpec {
            argv: self.in_host_mounts(vec![
                self.bin.display().to_string(),
                "--backing".into(),
                m.backing.display().to_string(),
                "--mount".into(),
                m.mount.display().to_string(),
                "--delay-file".into(),
                m.delay_file.display().to_string(),
            ]),
            log_file: m.log.clone(),
            env: Vec::new(),
        };
        let pid = self.control.start_daemon(node, &spec)?;
        if let Some(m) = self.mounts.lock().unwrap().get_mut(node) {
            m.pid = Some(pid);
        }
        let deadline = Instant::now() + WAIT;
        let probe = self.in_host_mounts(argv(&["mountpoint", "-q", "--"], &[&m.mount]));
        loop {
            if self.control.exec(node, &probe, WAIT).is_ok() {
                return Ok(());
            }
            if !self.control.is_alive(node, pid) || Instant::now() > deadline {
                bail!(
                    "faultfs on {node} did not mount {}: {}",
                    m.mount.display(),
                    self.last_log_line(node, &m.log)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A power failure of `node`'s disk (its store already killed): faultfs
    /// dies with `kill -9` and every byte not fsynced with it; the dead
    /// mount goes and a new faultfs mounts the backing directory again.
    pub fn power_fail(&self, node: &str) -> Result<()> {
        let m = self.mount_of(node)?;
        if let Some(pid) = m.pid {
            let _ = self.control.signal(node, pid, Signal::SIGKILL);
            self.wait_dead(node, pid);
        }
        self.umount(node, &m.mount);
        self.start(node)
    }

    /// Sets `node`'s disk delay (ms; 0 heals).
    pub fn set_delay(&self, node: &str, ms: u64) -> Result<()> {
        let file = self.mount_of(node)?.delay_file;
        self.control
            .write_file(node, &file, &nemeses::disk::delay_line(ms))?;
        Ok(())
    }

    /// Stops every faultfs cleanly (it writes back what it holds) and
    /// removes the mounts; one that will not stop is killed. Call after
    /// the store has stopped.
    pub fn unmount_all(&self) {
        for node in self.nodes() {
            let Ok(m) = self.mount_of(&node) else {
                continue;
            };
            if let Some(pid) = m.pid {
                let _ = self.control.signal(&node, pid, Signal::SIGTERM);
                if !self.wait_dead(&node, pid) {
                    tracing::warn!("faultfs on {node} did not stop within {WAIT:?}; killing it");
                    let _ = self.control.signal(&node, pid, Signal::SIGKILL);
                    self.wait_dead(&node, pid);
                }
            }
            self.umount(&node, &m.mount);
            if let Some(m) = self.mounts.lock().unwrap().get_mut(&node) {
                m.pid = None;
            }
        }
    }

    /// Waits (bounded) for `pid` to die; true when it did.
    fn wait_dead(&self, node: &str, pid: u32) -> bool {
        let deadline = Instant::now() + WAIT;
        while self.control.is_alive(node, pid) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// `umount -l` of `mount`, dead (its faultfs killed: `mountpoint`
    /// cannot even stat it) or alive; an error only means nothing was
    /// mounted there.
    fn umount(&self, node: &str, mount: &Path) {
        let lazy = self.in_host_mounts(argv(&["umount", "-l", "--"], &[mount]));
        if let Err(e) = self.control.exec(node, &lazy, WAIT) {
            tracing::debug!("unmounting {} on {node}: {e}", mount.display());
        }
    }

    fn last_log_line(&self, node: &str, log: &Path) -> String {
        let tail = argv(&["tail", "-n", "5", "--"], &[log]);
        let text = self
            .control
            .exec(node, &tail, WAIT)
            .map(|o| o.stdout)
            .unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(empty log)");
        format!("{last} (log: {})", log.display())
    }
}

fn argv(words: &[&str], paths: &[&Path]) -> Vec<String> {
    words
        .iter()
        .map(|w| w.to_string())
        .chain(paths.iter().map(|p| p.display().to_string()))
        .collect()
}

/// Which cgroup hierarchy `node` has: v2 when `/sys/fs/cgroup` is the
/// unified hierarchy, v1 when it has the `cpu` controller mounted; an
/// error naming what is missing otherwise.
pub fn probe_cgroups(control: &dyn Control, node: &str) -> Result<Cgroups> {
    let fs = control.in_host_mounts(
        ["stat", "-f", "-c", "%T", "/sys/fs/cgroup/"]
            .map(str::to_string)
            .to_vec(),
    );
    let kind = control.exec(node, &fs, WAIT)?.stdout;
    if kind.trim() == "cgroup2fs" {
        return Ok(Cgroups::V2);
    }
    let v1 = control.in_host_mounts(
        ["test", "-f", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"]
            .map(str::to_string)
            .to_vec(),
    );
    if control.exec(node, &v1, WAIT).is_ok() {
        return Ok(Cgroups::V1);
    }
    bail!("node {node} has neither cgroup v2 nor cgroup v1's cpu controller under /sys/fs/cgroup: the slow nemesis cannot throttle its CPU")
}

/// The faultfs mounts this machine has under `dir` (from `/proc/mounts`).
pub fn mounts_under(mounts: &str, dir: &Path) -> Vec<PathBuf> {
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let (name, point) = (f.next()?, f.next()?);
            // /proc/mounts escapes spaces and a few others as octal.
            let point = PathBuf::from(point.replace("\\040", " "));
            (name == FSNAME && point.starts_with(dir)).then_some(point)
        })
        .collect()
}

/// Removes the faultfs mounts under `dir` on this machine (a dead run's
/// folder), each with `umount -l`; returns the lines saying what went.
pub fn unmount_stale(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts_under(&table, dir)
        .into_iter()
        .map(|m| {
            let ok = std::process::Command::new("umount")
                .args(["-l", "--"])
                .arg(&m)
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                format!("unmounted faultfs at {}", m.display())
            } else {
                format!(
                    "could not unmount faultfs at {} (umount -l failed)",
                    m.display()
                )
            }
        })
        .collect()
}

/// On a node reached through `control` (an SSH host after a dead
/// controller, its store and faultfs already killed): unmounts the faultfs
/// mounts under `dir` and removes faultline's empty cgroups. Returns the
/// lines saying what went.
pub fn heal_node(control: &dyn Control, node: &str, dir: &Path) -> Vec<String> {
    let mut done = Vec::new();
    let cat = ["cat", "/proc/mounts"].map(str::to_string);
    let table = control
        .exec(node, &cat, WAIT)
        .map(|o| o.stdout)
        .unwrap_or_default();
    for m in mounts_under(&table, dir) {
        match control.exec(node, &argv(&["umount", "-l", "--"], &[&m]), WAIT) {
            Ok(_) => done.push(format!("unmounted faultfs at {}", m.display())),
            Err(e) => done.push(format!("could not unmount faultfs at {}: {e}", m.display())),
        }
    }
    let find = [
        "find",
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup",
        "-maxdepth",
        "1",
        "-type",
        "d",
        "-name",
        "faultline-*",
    ]
    .map(str::to_string);
    let found = control
        .exec(node, &find, WAIT)
        .map(|o| o.stdout)
        .unwrap_or_default();
    for cg in found.lines().filter(|l| !l.is_empty()) {
        let rmdir = ["rmdir", "--", cg].map(str::to_string);
        if control.exec(node, &rmdir, WAIT).is_ok() {
            done.push(format!("removed cgroup {cg}"));
        }
    }
    done
}

/// Removes the cgroups of slow faults whose controller is dead (their
/// processes are gone with the dead run's slot, so the cgroups are empty);
/// returns the lines saying what went.
pub fn remove_stale_cgroups() -> Vec<String> {
    let mut out = Vec::new();
    for root in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup"] {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(owner) = name
                .strip_prefix("faultline-")
                .and_then(|r| r.split_once('-'))
                .and_then(|(pid, _)| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if crate::cluster::control::os::pid_alive(owner) {
                continue;
            }
            match std::fs::remove_dir(e.path()) {
                Ok(()) => out.push(format!("removed cgroup {}", e.path().display())),
                Err(err) => out.push(format!(
                    "could not remove cgroup {}: {err}",
                    e.path().display()
                )),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_mounts_are_found_by_name_and_folder() {
        let table = "proc /proc proc rw 0 0\n\
                     faultfs /r/run\\0401/n1/data fuse rw,nosuid 0 0\n\
                     faultfs /elsewhere/data fuse rw 0 0\n\
                     other /r/run\\0401/n2/data fuse rw 0 0\n";
        assert_eq!(
            mounts_under(table, Path::new("/r/run 1")),
            [PathBuf::from("/r/run 1/n1/data")]
        );
    }
}
