//! Real nodes over SSH: the second implementation of [`Control`].
//!
//! Built on the `ssh2` crate (libssh2), whose pitfalls each have a room
//! here, and each room's doc says how it handles them:
//!
//! - `node`: the nodes, the login options, and the login
//!   user's privilege (root, passwordless sudo, or neither);
//! - `quoting`: argv quoted for the remote login shell, so user data stays
//!   data;
//! - `connect`: TCP (bounded, with keepalive), handshake, host-key check,
//!   authentication;
//! - `pool`: a few sessions per node plus one reserved for the nemesis
//!   ([`SshControl::nemesis_view`]), SSH keepalives on idle ones;
//! - `exec`: one command (`exec`ed, under `sudo -n` and a remote
//!   `timeout -s KILL` when needed), both output streams read without
//!   deadlock, then the exit status or signal;
//! - `transfer`: files by SFTP, written atomically through a `mv`;
//! - `daemons`: processes started detached under `setsid`, signals and
//!   liveness by pid;
//! - `fail`: how an attempt failed, and whether it may be tried again
//!   (only what provably never started, or what is idempotent).
//!
//! [`SshControl`] holds the pools and implements [`Control`] by handing
//! each call to its room. Every error names the node as `name (host:port)`
//! and, for setup problems, the fix, on one line.

mod connect;
mod daemons;
mod exec;
mod fail;
mod node;
mod pool;
mod quoting;
mod transfer;

pub use daemons::{daemon_script, pid_file_for};
pub use node::{default_known_hosts, HostKeyPolicy, Privilege, SshNode, SshOptions, DEFAULT_PORT};
pub use quoting::{command_line, quote};

use super::{Control, ControlError, DaemonSpec, ExecOutput, Signal};
use connect::Conn;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A node's sessions: slot 0 is the nemesis's, the rest are for ordinary
/// work. `None` means not connected (yet, or any more).
struct NodePool {
    node: SshNode,
    slots: Vec<Mutex<Option<Conn>>>,
    next: AtomicUsize,
    privilege: OnceLock<Privilege>,
}

/// What every handle on the same nodes shares.
struct Inner {
    opts: SshOptions,
    nodes: Vec<NodePool>,
    /// Dropped with `Inner`: tells the keepalive thread to stop.
    _stop: std::sync::mpsc::Sender<()>,
}

/// [`Control`] over SSH. Cheap to clone (a handle on shared sessions).
#[derive(Clone)]
pub struct SshControl {
    inner: Arc<Inner>,
    /// Use only the reserved nemesis session.
    nemesis: bool,
}

impl Control for SshControl {
    /// Runs `argv` on the node; never retried once it may have started (see
    /// [`SshControl::exec_idempotent`]).
    fn exec(
        &self,
        node: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, ControlError> {
        self.exec_with(node, argv, timeout, false)
    }

    /// Starts the daemon under `setsid`, detached, with its output appended
    /// to `spec.log_file` and its pid written to `<log file>.pid` on the
    /// node ([`pid_file_for`]).
    fn start_daemon(&self, node: &str, spec: &DaemonSpec) -> Result<u32, ControlError> {
        self.spawn_daemon(node, spec)
    }

    /// `kill -s SIG -- pid` by the node's shell.
    fn signal(&self, node: &str, pid: u32, signal: Signal) -> Result<(), ControlError> {
        self.send_signal(node, pid, signal)
    }

    /// True while `/proc/<pid>` exists and is not a zombie. After the
    /// retries, a node that cannot be asked counts as not alive (logged).
    fn is_alive(&self, node: &str, pid: u32) -> bool {
        self.pid_alive(node, pid)
    }

    /// SFTP to a temporary file, then `mv -f` into place; keeps the local
    /// file's permission bits.
    fn upload(&self, node: &str, local: &Path, remote: &Path) -> Result<(), ControlError> {
        self.upload_file(node, local, remote)
    }

    /// SFTP read (or `cat` under sudo) into a temporary local file renamed
    /// into place; retried on a broken connection.
    fn download(&self, node: &str, remote: &Path, local: &Path) -> Result<(), ControlError> {
        self.download_file(node, remote, local)
    }

    /// The contents travel by SFTP straight from memory (mode 0644).
    fn write_file(&self, node: &str, remote: &Path, contents: &str) -> Result<(), ControlError> {
        self.put(node, remote, 0o644, contents.as_bytes())
    }
}
