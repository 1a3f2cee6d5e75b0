//! # control: "run this on node X"
//!
//! Everything faultline does to a node goes through the [`Control`] trait:
//! run a command and collect its output, start a long-running daemon with its
//! log file, signal it, move files to and from the node. The local
//! implementation ([`local::LocalControl`]) reaches nodes that live in Linux
//! network namespaces on this machine ([`netns`]); the SSH implementation
//! ([`ssh::SshControl`]) reaches real machines, without the layers above
//! noticing.
//!
//! Commands are always argument vectors, never strings for a shell to split:
//! what a user's data contains can never become a command.
//!
//! The trait is blocking on purpose: process spawning and libssh2 are
//! blocking, and faults are infrequent. Async callers use
//! `tokio::task::spawn_blocking`.

pub mod local;
pub mod netns;
pub mod os;
pub mod ssh;

use nemeses::plan::{Action, Plan};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use nix::sys::signal::Signal;

/// Why a control operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The command could not be started at all.
    #[error("on {node}: cannot run {program}: {source}")]
    Spawn {
        /// The node.
        node: String,
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The command ran and exited non-zero.
    #[error("on {node}: `{command}` exited with {status}: {stderr}")]
    Failed {
        /// The node.
        node: String,
        /// The command line, for the reader.
        command: String,
        /// Exit status (or -1 when killed by a signal).
        status: i32,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// The command did not finish in time and was killed.
    #[error("on {node}: `{command}` did not finish within {timeout:?}")]
    Timeout {
        /// The node.
        node: String,
        /// The command line.
        command: String,
        /// The limit.
        timeout: Duration,
    },
    /// No node of that name in this cluster.
    #[error("no node named {0:?} in this cluster")]
    UnknownNode(String),
    /// The node could not be reached: no route, nothing listening, no SSH
    /// server answering, or a name that does not resolve.
    #[error(
        "{node}: unreachable: {reason}; check that the node is up and sshd listens on port {port} \
         (give host:port in --nodes for another port)"
    )]
    Unreachable {
        /// The node, as `name (host:port)`.
        node: String,
        /// The SSH port tried.
        port: u16,
        /// What went wrong (one line).
        reason: String,
    },
    /// The SSH server refused every credential faultline had.
    #[error(
        "{node}: authentication as {user} failed (tried {tried}): pass --ssh-private-key FILE whose \
         public key is in {user}'s ~/.ssh/authorized_keys on the node, or --password"
    )]
    AuthFailed {
        /// The node, as `name (host:port)`.
        node: String,
        /// The user name tried.
        user: String,
        /// What was tried, e.g. `key /root/.ssh/id_ed25519, ssh-agent`.
        tried: String,
    },
    /// Strict host-key checking is on and the node's key is in no
    /// known_hosts entry for its address.
    #[error(
        "{node}: host key not in {file}: add it with `ssh-keyscan -p {port} {host} >> {file}`, \
         or pass --no-strict-host-key-checking"
    )]
    HostKeyUnknown {
        /// The node, as `name (host:port)`.
        node: String,
        /// Host as given.
        host: String,
        /// SSH port.
        port: u16,
        /// The known_hosts file checked.
        file: String,
    },
    /// The node presented a key different from the one recorded for it.
    #[error(
        "{node}: host key differs from the one in {file} (the node was reinstalled, or someone is in \
         the middle): if the change is expected, replace it with `ssh-keygen -R {pattern} -f {file} && \
         ssh-keyscan -p {port} {host} >> {file}`, or pass --no-strict-host-key-checking"
    )]
    HostKeyMismatch {
        /// The node, as `name (host:port)`.
        node: String,
        /// Host as given.
        host: String,
        /// SSH port.
        port: u16,
        /// The host pattern as known_hosts writes it (`host` or `'[host]:port'`).
        pattern: String,
        /// The known_hosts file checked.
        file: String,
    },
    /// The login user is not root and may not use passwordless sudo, so
    /// faults (iptables, signals to the store) cannot be applied.
    #[error(
        "{node}: {user} is neither root nor allowed passwordless sudo: log in as root \
         (--username root), or allow it on the node with \
         `echo '{user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/faultline`"
    )]
    NotRoot {
        /// The node, as `name (host:port)`.
        node: String,
        /// The login user.
        user: String,
    },
    /// The SSH connection or an SFTP transfer failed part-way (the
    /// connection broke, a channel was refused, a remote file is missing).
    #[error("{node}: {what}: {message}")]
    Ssh {
        /// The node, as `name (host:port)`.
        node: String,
        /// What was being done.
        what: String,
        /// libssh2's message (one line).
        message: String,
    },
    /// Any other I/O problem (files, signals).
    #[error("on {node}: {what}: {source}")]
    Io {
        /// The node.
        node: String,
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What a finished command left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status; -1 when the process was killed by a signal.
    pub status: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// How to start a long-running process on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonSpec {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Where its stdout and stderr go, on the node.
    pub log_file: PathBuf,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

/// Runs things on the nodes of one cluster.
pub trait Control: Send + Sync {
    /// Runs `argv` on `node` and waits for it (bounded by `timeout`). A non-zero
    /// exit is an error carrying stderr.
    fn exec(
        &self,
        node: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, ControlError>;

    /// Starts a daemon on `node`, detached from the controller's terminal, and
    /// returns its pid on that node.
    fn start_daemon(&self, node: &str, spec: &DaemonSpec) -> Result<u32, ControlError>;

    /// Sends `signal` to process `pid` on `node`.
    fn signal(&self, node: &str, pid: u32, signal: Signal) -> Result<(), ControlError>;

    /// True while process `pid` on `node` is alive.
    fn is_alive(&self, node: &str, pid: u32) -> bool;

    /// Copies a local file to `remote` on the node.
    fn upload(&self, node: &str, local: &Path, remote: &Path) -> Result<(), ControlError>;

    /// Copies `remote` from the node to a local file.
    fn download(&self, node: &str, remote: &Path, local: &Path) -> Result<(), ControlError>;

    /// Replaces a small file on the node (clock offsets, configs): the
    /// contents travel as a file, never through a shell command line.
    fn write_file(&self, node: &str, remote: &Path, contents: &str) -> Result<(), ControlError> {
        let io = |what: String, source| ControlError::Io {
            node: node.to_string(),
            what,
            source,
        };
        let dir = std::env::temp_dir();
        let tmp = dir.join(format!(
            ".faultline-upload-{}-{:x}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::write(&tmp, contents).map_err(|e| io(format!("writing {}", tmp.display()), e))?;
        let r = self.upload(node, &tmp, remote);
        let _ = std::fs::remove_file(&tmp);
        r
    }

    /// `argv` made to run on the node with the host's view of its file
    /// systems: its mounts, `/sys/fs/cgroup`. Over SSH that is every
    /// command; a local node's commands run under `ip netns exec`, which
    /// gives each a private copy of the mount table (with a `/sys` of the
    /// namespace's own, without cgroups), so there the argv enters the
    /// controller's mount namespace first. For mounting (faultfs) and
    /// cgroups.
    fn in_host_mounts(&self, argv: Vec<String>) -> Vec<String> {
        argv
    }

    /// Writes `contents` into the existing file `remote` in place: for
    /// kernel files (a cgroup's `cgroup.procs`, `cpu.max`) that take a
    /// value per write and cannot be replaced by a rename.
    fn overwrite_file(
        &self,
        node: &str,
        remote: &Path,
        contents: &str,
    ) -> Result<(), ControlError> {
        overwrite_through_cp(self, node, remote, contents)
    }
}

/// [`Control::overwrite_file`] for any control: the contents go to a
/// temporary file on the node, `cp` writes them into `remote` (opening it
/// for writing, never replacing it), and the temporary file goes.
fn overwrite_through_cp(
    control: &(impl Control + ?Sized),
    node: &str,
    remote: &Path,
    contents: &str,
) -> Result<(), ControlError> {
    let tmp = format!(
        "/tmp/.faultline-overwrite-{}-{:x}",
        std::process::id(),
        rand_suffix()
    );
    control.write_file(node, Path::new(&tmp), contents)?;
    let cp = ["cp", "--", &tmp, &remote.display().to_string()].map(str::to_string);
    let r = control.exec(node, &cp, STEP_TIMEOUT).map(|_| ());
    let rm = ["rm", "-f", "--", &tmp].map(str::to_string);
    let _ = control.exec(node, &rm, STEP_TIMEOUT);
    r
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// How long a single plan step may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a command plan: nodes in parallel, each node's steps in order. Steps
/// marked `may_fail` are logged on failure; any other failure is returned
/// after every node has finished (so a heal is never left half-done because
/// one node was slow).
pub fn run_plan(control: &dyn Control, plan: &Plan) -> Result<(), ControlError> {
    let by_node = plan.by_node();
    let results: Vec<Result<(), ControlError>> = std::thread::scope(|s| {
        let handles: Vec<_> = by_node
            .iter()
            .map(|(node, steps)| {
                s.spawn(move || {
                    let mut first_err = None;
                    for step in steps {
                        let r = match &step.action {
                            Action::Exec { argv } => {
                                control.exec(node, argv, STEP_TIMEOUT).map(|_| ())
                            }
                            Action::WriteFile { path, contents } => {
                                control.write_file(node, Path::new(path), contents)
                            }
                            Action::Overwrite { path, contents } => {
                                control.overwrite_file(node, Path::new(path), contents)
                            }
                        };
                        match r {
                            Ok(()) => {}
                            Err(e) if step.may_fail => {
                                tracing::debug!("tolerated: {e}")
                            }
                            Err(e) => {
                                tracing::warn!("{e}");
                                first_err.get_or_insert(e);
                            }
                        }
                    }
                    first_err.map_or(Ok(()), Err)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("plan step thread panicked"))
            .collect()
    });
    results
        .into_iter()
        .collect::<Result<Vec<()>, _>>()
        .map(|_| ())
}
