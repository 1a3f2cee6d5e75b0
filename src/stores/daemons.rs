//! One long-running process per node, as a nemesis sees it: started,
//! `kill -9`ed, restarted, frozen and thawed, and stopped at the end.
//!
//! Stores other than ringkv (whose cluster keeps its own bookkeeping for
//! leave and join) hold their server processes in a [`Daemons`]: the pid of
//! each node's process, whether it is paused, and how to start it again
//! after a kill, so that [`crate::stores::DbProcesses`] is a few lines per store.

use crate::cluster::control::{Control, DaemonSpec, Signal};
use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One node's server process.
struct Proc {
    node: String,
    spec: DaemonSpec,
    /// Where it listens once it is up.
    listen: SocketAddr,
    pid: Option<u32>,
    paused: bool,
}

/// The server processes of a cluster, one per node (a node may have
/// several under different roles: keep one [`Daemons`] per role).
pub struct Daemons {
    control: Arc<dyn Control>,
    /// The program's name, for messages (`etcd`, `redis-server`).
    program: String,
    /// The processes' files are on other machines.
    remote: bool,
    procs: Mutex<Vec<Proc>>,
}

impl Daemons {
    /// No processes yet; `program` names them in messages.
    pub fn new(control: Arc<dyn Control>, program: &str, remote: bool) -> Self {
        Daemons {
            control,
            program: program.to_string(),
            remote,
            procs: Mutex::new(Vec::new()),
        }
    }

    /// Registers `node`'s process (not started) and where it will listen.
    pub fn add(&self, node: &str, spec: DaemonSpec, listen: SocketAddr) {
        self.procs.lock().unwrap().push(Proc {
            node: node.to_string(),
            spec,
            listen,
            pid: None,
            paused: false,
        });
    }

    /// The nodes, in the order they were added.
    pub fn nodes(&self) -> Vec<String> {
        self.procs
            .lock()
            .unwrap()
            .iter()
            .map(|p| p.node.clone())
            .collect()
    }

    /// `node`'s log file.
    pub fn log_file(&self, node: &str) -> Option<PathBuf> {
        self.with(node, |p| p.spec.log_file.clone()).ok()
    }

    fn with<T>(&self, node: &str, f: impl FnOnce(&mut Proc) -> T) -> Result<T> {
        let mut procs = self.procs.lock().unwrap();
        let p = procs
            .iter_mut()
            .find(|p| p.node == node)
            .with_context(|| format!("no {} on node {node}", self.program))?;
        Ok(f(p))
    }

    /// Starts `node`'s process (whether or not one runs: callers check).
    pub fn spawn(&self, node: &str) -> Result<()> {
        let spec = self.with(node, |p| p.spec.clone())?;
        let pid = self.control.start_daemon(node, &spec)?;
        self.with(node, |p| {
            p.pid = Some(pid);
            p.paused = false;
        })
    }

    /// Starts every process.
    pub fn spawn_all(&self) -> Result<()> {
        for n in self.nodes() {
            self.spawn(&n)?;
        }
        Ok(())
    }

    /// True while `node`'s process is alive.
    pub fn is_alive(&self, node: &str) -> bool {
        self.with(node, |p| p.pid)
            .ok()
            .flatten()
            .is_some_and(|pid| self.control.is_alive(node, pid))
    }

    /// `kill -9` on `node`, waiting (briefly) until it is gone.
    pub fn kill(&self, node: &str) -> Result<()> {
        let pid = self.with(node, |p| {
            p.paused = false;
            p.pid.take()
        })?;
        if let Some(pid) = pid {
            self.control.signal(node, pid, Signal::SIGKILL)?;
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.control.is_alive(node, pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// Starts `node`'s process unless it runs, and waits (bounded) until it
    /// accepts connections.
    pub fn start(&self, node: &str) -> Result<()> {
        if self.is_alive(node) {
            return Ok(());
        }
        self.spawn(node)?;
        let listen = self.with(node, |p| p.listen)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "{} on {node} did not come back within 10 s after a restart: {}",
                    self.program,
                    self.last_log_line(node)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Freezes `node`'s process (SIGSTOP).
    pub fn pause(&self, node: &str) -> Result<()> {
        self.signal(node, Signal::SIGSTOP)?;
        self.with(node, |p| p.paused = true)
    }

    /// Thaws it (SIGCONT).
    pub fn resume(&self, node: &str) -> Result<()> {
        self.signal(node, Signal::SIGCONT)?;
        self.with(node, |p| p.paused = false)
    }

    fn signal(&self, node: &str, sig: Signal) -> Result<()> {
        if let Some(pid) = self.with(node, |p| p.pid)? {
            self.control.signal(node, pid, sig)?;
        }
        Ok(())
    }

    /// Resumes the paused and restarts the dead; every node is tried, the
    /// first error returned.
    pub fn heal(&self) -> Result<()> {
        let mut first = None;
        for n in self.nodes() {
            if self.with(&n, |p| p.paused).unwrap_or(false) {
                if let Err(e) = self.resume(&n) {
                    first.get_or_insert(e);
                }
            }
            if let Err(e) = self.start(&n) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Stops every process: SIGCONT (a frozen process cannot die
    /// gracefully), SIGTERM, then SIGKILL after a grace period.
    pub fn stop_all(&self) {
        let mut procs = self.procs.lock().unwrap();
        for p in procs.iter() {
            if let Some(pid) = p.pid {
                let _ = self.control.signal(&p.node, pid, Signal::SIGCONT);
                let _ = self.control.signal(&p.node, pid, Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for p in procs.iter_mut() {
            if let Some(pid) = p.pid.take() {
                while self.control.is_alive(&p.node, pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if self.control.is_alive(&p.node, pid) {
                    let _ = self.control.signal(&p.node, pid, Signal::SIGKILL);
                }
            }
            p.paused = false;
        }
    }

    /// `node`'s process while it runs.
    pub fn pids(&self, node: &str) -> Vec<u32> {
        self.with(node, |p| p.pid)
            .ok()
            .flatten()
            .filter(|pid| self.control.is_alive(node, *pid))
            .into_iter()
            .collect()
    }

    /// The last line of `node`'s log, for errors (`(empty log)` if none).
    pub fn last_log_line(&self, node: &str) -> String {
        let Some(log) = self.log_file(node) else {
            return "(no log)".into();
        };
        let text = if self.remote {
            let argv = ["tail", "-n", "5", "--"]
                .iter()
                .map(|s| s.to_string())
                .chain([log.display().to_string()])
                .collect::<Vec<_>>();
            self.control
                .exec(node, &argv, Duration::from_secs(10))
                .map(|o| o.stdout)
                .unwrap_or_default()
        } else {
            std::fs::read_to_string(&log).unwrap_or_default()
        };
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(empty log)");
        format!("{} (log: {})", truncate(last, 300), log.display())
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
