//! The nemesis's hands on a described store: kill, restart, pause, resume,
//! the clock file, leave and join, and the heal that undoes them all.
//!
//! Kill is SIGKILL to the daemon's pid (waiting briefly for it to go), and
//! restart starts the daemon again unless it lives, then waits for its
//! port; pause and resume are SIGSTOP and SIGCONT. Leave and join run the
//! description's `node.leave` and `node.join` commands. Each node's state
//! (pid, paused, left) is kept so that the heal resumes what is paused,
//! restarts what is dead and rejoins what left, reporting the first error
//! after trying everything.

use super::{clock_file, AdapterCluster, COMMAND_TIMEOUT, RESTART_TIMEOUT};
use crate::cluster::control::Signal;
use crate::stores::DbProcesses;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};

impl DbProcesses for AdapterCluster {
    fn kill(&self, node: &str) -> Result<()> {
        let i = self.index(node)?;
        let pid = self.daemons.lock().unwrap()[i].pid.take();
        if let Some(pid) = pid {
            self.control.signal(node, pid, Signal::SIGKILL)?;
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.control.is_alive(node, pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.daemons.lock().unwrap()[i].paused = false;
        Ok(())
    }

    fn start(&self, node: &str) -> Result<()> {
        let i = self.index(node)?;
        if self.pid(i).is_some_and(|p| self.control.is_alive(node, p)) {
            return Ok(());
        }
        self.spawn(i)?;
        self.await_port(i, RESTART_TIMEOUT)
    }

    fn pids(&self, node: &str) -> Vec<u32> {
        let Ok(i) = self.index(node) else {
            return Vec::new();
        };
        self.pid(i)
            .filter(|p| self.control.is_alive(node, *p))
            .into_iter()
            .collect()
    }

    fn pause(&self, node: &str) -> Result<()> {
        self.signal(node, Signal::SIGSTOP)?;
        let i = self.index(node)?;
        self.daemons.lock().unwrap()[i].paused = true;
        Ok(())
    }

    fn resume(&self, node: &str) -> Result<()> {
        self.signal(node, Signal::SIGCONT)?;
        let i = self.index(node)?;
        self.daemons.lock().unwrap()[i].paused = false;
        Ok(())
    }

    fn clock_file(&self, node: &str) -> Option<PathBuf> {
        self.faketime.as_ref()?;
        let i = self.index(node).ok()?;
        Some(clock_file(&self.nodes[i]))
    }

    fn leave(&self, node: &str) -> Result<()> {
        let i = self.index(node)?;
        let argv = self
            .store
            .desc
            .node
            .leave
            .as_ref()
            .with_context(|| format!("adapter {} has no node.leave command", self.name()))?;
        self.exec(i, "node.leave", argv, COMMAND_TIMEOUT)?;
        self.daemons.lock().unwrap()[i].left = true;
        Ok(())
    }

    fn join(&self, node: &str) -> Result<()> {
        let i = self.index(node)?;
        let argv = self
            .store
            .desc
            .node
            .join
            .as_ref()
            .with_context(|| format!("adapter {} has no node.join command", self.name()))?;
        self.exec(i, "node.join", argv, COMMAND_TIMEOUT)?;
        self.daemons.lock().unwrap()[i].left = false;
        Ok(())
    }

    fn heal(&self) -> Result<()> {
        let mut first_err = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if self.daemons.lock().unwrap()[i].paused {
                if let Err(e) = self.resume(&n.name) {
                    first_err.get_or_insert(e);
                }
            }
            if let Err(e) = DbProcesses::start(self, &n.name) {
                first_err.get_or_insert(e);
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if self.daemons.lock().unwrap()[i].left {
                if let Err(e) = self.join(&n.name) {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
