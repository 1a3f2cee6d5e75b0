//! Real nodes over SSH: the second implementation of [`Control`].
//!
//! Built on the `ssh2` crate (libssh2). The pitfalls of that library, and how
//! each is handled here:
//!
//! - **Commands are argv, quoted for the remote shell.** sshd hands the
//!   command line to the login shell (`$SHELL -c LINE`), so each argv word is
//!   wrapped in POSIX single quotes by [`quote`]: `$()`, backticks, `;`,
//!   newlines and quotes in user data stay data. The login shell must be
//!   POSIX-like (sh, dash, bash, zsh, ksh); csh and fish are not supported.
//! - **Exit status** is read only after stdout and stderr reached EOF and the
//!   channel was closed (`close` + `wait_close`); before that libssh2 reports
//!   0. A process killed by a signal is reported through `exit_signal`
//!   (status -1, the signal named in the error). The command is `exec`ed
//!   (the shell does not stay around), so the status sshd sends is the
//!   command's own; OpenSSH always sends `exit-status` or `exit-signal`
//!   before closing the channel (RFC 4254 §6.10), and a shell-printed
//!   sentinel (`echo __rc=$?`) would turn a signal into an ambiguous 128+N,
//!   so none is used.
//! - **stdout and stderr are both read, without deadlock**: after `exec` the
//!   session is switched to non-blocking mode and the two streams are read in
//!   turn, waiting on the socket (`poll`) only when both would block. A
//!   command that fills one stream while we wait on the other can therefore
//!   never stall the channel window.
//! - **Everything is bounded in time.** The TCP connect has its own timeout;
//!   every blocking libssh2 call runs under `set_timeout`; `exec` has an
//!   overall deadline, and the remote command runs under coreutils
//!   `timeout -s KILL` set a second past it, so a command the controller gave
//!   up on does not linger on the node. A session that timed out or broke is
//!   discarded (libssh2's state after an interrupted call is not trusted) and
//!   the next call reconnects.
//! - **Keepalive**: TCP keepalive on every socket (a dead peer surfaces as
//!   an error instead of a hang), and SSH keepalives sent on idle sessions by
//!   a background thread, so firewalls and `ClientAliveInterval` keep idle
//!   sessions open.
//! - **Sessions**: one `Session` runs one blocking call at a time, so each
//!   node has a small pool: [`SshOptions::sessions_per_node`] sessions for
//!   ordinary work (opened on demand) and one more reserved for the nemesis.
//!   [`SshControl::nemesis_view`] is a handle that uses only the reserved
//!   session, so a heal never queues behind a slow command. Each session is
//!   behind a mutex (one owner at a time) and every channel is closed
//!   explicitly before the session is handed on.
//! - **Retries only when harmless**: a command that provably never started
//!   (the channel could not even be opened on a stale session) is retried on
//!   a fresh connection; otherwise only idempotent operations are retried
//!   ([`Control::is_alive`], [`Control::download`], uploads,
//!   [`SshControl::exec_idempotent`]), up to [`SshOptions::retries`] times
//!   with a growing backoff. Authentication, host-key and privilege errors
//!   are never retried: they will not fix themselves.
//! - **Host keys** are checked against `~/.ssh/known_hosts` (or a given
//!   file) with libssh2's `KnownHosts` unless the user opts out; libssh2
//!   checks nothing by itself.
//! - **Privilege**: faults need root. At the first connection to a node
//!   faultline asks whether the login user is root or may use passwordless
//!   sudo; with sudo every command runs as `sudo -n -- argv` and files travel
//!   through `/tmp` and a `mv` under sudo. Neither is an error
//!   ([`ControlError::NotRoot`]) unless [`SshOptions::require_root`] is off.
//!
//! Every error names the node as `name (host:port)` and, for setup problems,
//! the fix, on one line.

use super::{Control, ControlError, DaemonSpec, ExecOutput, Signal};
use ssh2::{CheckResult, KnownHostFileKind, OpenFlags, OpenType, Session};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError};
use std::time::{Duration, Instant};

/// The SSH port used when a node gives none.
pub const DEFAULT_PORT: u16 = 22;

/// One machine reachable over SSH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshNode {
    /// The node's name in faultline (`n1`, `n2`, ... in `--nodes` order):
    /// what histories, plans and reports call it.
    pub name: String,
    /// Host name or IP address, as given (IPv6 without brackets).
    pub host: String,
    /// SSH port.
    pub port: u16,
}

impl SshNode {
    /// A node called `name` at `host:port`.
    pub fn new(name: impl Into<String>, host: impl Into<String>, port: u16) -> Self {
        SshNode {
            name: name.into(),
            host: host.into(),
            port,
        }
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `n3 (198.18.5.13:22)`: how every error names the node.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.address())
    }

    /// The host as a known_hosts line names it: `host` on port 22,
    /// `[host]:port` otherwise.
    pub fn known_hosts_pattern(&self) -> String {
        if self.port == DEFAULT_PORT {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }
}

/// Whether and against what the nodes' host keys are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Refuse a node whose key is not in this known_hosts file (OpenSSH
    /// format, hashed entries allowed), or differs from it.
    Check(PathBuf),
    /// Accept any host key (`--no-strict-host-key-checking`): for throwaway
    /// VMs on a trusted network only.
    AcceptAny,
}

/// `~/.ssh/known_hosts` of the user running faultline.
pub fn default_known_hosts() -> PathBuf {
    home().join(".ssh/known_hosts")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// How to log in and how patient to be.
#[derive(Clone, Debug)]
pub struct SshOptions {
    /// Login user (default root).
    pub username: String,
    /// Private key file; without it (and without a password) the
    /// ssh-agent's identities, then `~/.ssh/id_ed25519`, `id_ecdsa` and
    /// `id_rsa` are tried.
    pub private_key: Option<PathBuf>,
    /// Password, tried when the key is absent or refused.
    pub password: Option<String>,
    /// Host-key checking.
    pub host_keys: HostKeyPolicy,
    /// Limit on the TCP connect and the SSH handshake.
    pub connect_timeout: Duration,
    /// Limit on each blocking call that has no timeout of its own (file
    /// transfers, signals, liveness checks).
    pub io_timeout: Duration,
    /// Idle time before TCP and SSH keepalives are sent.
    pub keepalive: Duration,
    /// Sessions per node for ordinary work (the nemesis has one more).
    pub sessions_per_node: usize,
    /// Extra attempts for idempotent operations.
    pub retries: u32,
    /// Refuse nodes where the login user is neither root nor a passwordless
    /// sudoer ([`ControlError::NotRoot`]). `faultline doctor` turns this off
    /// to report it as one problem among others.
    pub require_root: bool,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            username: "root".into(),
            private_key: None,
            password: None,
            host_keys: HostKeyPolicy::Check(default_known_hosts()),
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(60),
            keepalive: Duration::from_secs(15),
            sessions_per_node: 4,
            retries: 4,
            require_root: true,
        }
    }
}

/// What the login user may do on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    /// Logged in as root: commands run as they are.
    Root,
    /// Not root, but `sudo -n` works: commands run as `sudo -n -- argv`.
    Sudo,
    /// Neither: faults cannot be applied.
    Unprivileged,
}

/// Quotes one word for a POSIX shell: unchanged when it holds only
/// characters no shell treats specially, otherwise inside single quotes with
/// each `'` written as `'\''`. Inside single quotes nothing is special —
/// `$`, backticks, `\`, newlines, `;` — so the shell passes the word on
/// byte for byte.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Quotes every word of `argv` and joins them with spaces: a command line
/// the remote shell splits back into exactly `argv`. Fails on an empty argv
/// and on NUL bytes, which no argv word can carry.
pub fn command_line(argv: &[String]) -> Result<String, String> {
    if argv.is_empty() {
        return Err("empty command".into());
    }
    if argv.iter().any(|w| w.contains('\0')) {
        return Err("a command word contains a NUL byte".into());
    }
    Ok(argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "))
}

/// One authenticated SSH connection.
struct Conn {
    session: Session,
    /// The same socket, for `poll` while the session is non-blocking.
    socket: TcpStream,
    sftp: Option<ssh2::Sftp>,
    last_used: Instant,
}

/// A node's sessions: slot 0 is the nemesis's, the rest are for ordinary
/// work. `None` means not connected (yet, or any more).
struct NodePool {
    node: SshNode,
    slots: Vec<Mutex<Option<Conn>>>,
    next: AtomicUsize,
    privilege: OnceLock<Privilege>,
}

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

/// How one attempt failed, which decides whether to try again.
enum Fail {
    /// Nothing ran on the node: safe to retry anything.
    NotStarted(ControlError),
    /// The connection broke part-way: retry only what is idempotent.
    Transport(ControlError),
    /// Retrying cannot help (the command failed, timed out, or the setup is
    /// wrong).
    Final(ControlError),
}

impl Fail {
    fn into_error(self) -> ControlError {
        match self {
            Fail::NotStarted(e) | Fail::Transport(e) | Fail::Final(e) => e,
        }
    }
}

/// What a remote command left, before interpretation.
struct RawOutput {
    status: i32,
    signal: Option<String>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_timeout(e: &ssh2::Error) -> bool {
    matches!(
        e.code(),
        ssh2::ErrorCode::Session(c) if c == -9 /* LIBSSH2_ERROR_TIMEOUT */
    )
}

fn ms_until(deadline: Instant) -> u32 {
    deadline
        .saturating_duration_since(Instant::now())
        .as_millis()
        .clamp(1, u32::MAX as u128) as u32
}

impl SshControl {
    /// Control over `nodes`; connects lazily, on each node's first use.
    /// Node names must be unique.
    pub fn new(nodes: Vec<SshNode>, opts: SshOptions) -> Self {
        let per_node = opts.sessions_per_node.max(1) + 1;
        let pools = nodes
            .into_iter()
            .map(|node| NodePool {
                node,
                slots: (0..per_node).map(|_| Mutex::new(None)).collect(),
                next: AtomicUsize::new(0),
                privilege: OnceLock::new(),
            })
            .collect();
        let (stop, stopped) = std::sync::mpsc::channel();
        let inner = Arc::new(Inner {
            opts,
            nodes: pools,
            _stop: stop,
        });
        let weak = Arc::downgrade(&inner);
        let _ = std::thread::Builder::new()
            .name("ssh-keepalive".into())
            .spawn(move || keepalive_loop(weak, stopped));
        SshControl {
            inner,
            nemesis: false,
        }
    }

    /// Control over `nodes`, connected now: every node's first ordinary
    /// session and its nemesis session are opened (nodes in parallel) and
    /// the login user's privilege checked, so setup problems surface before
    /// a test starts. Returns the first node's error (in node order).
    pub fn connect(nodes: Vec<SshNode>, opts: SshOptions) -> Result<Self, ControlError> {
        let c = SshControl::new(nodes, opts);
        let errors: Vec<Option<ControlError>> = std::thread::scope(|s| {
            let handles: Vec<_> = c
                .inner
                .nodes
                .iter()
                .map(|p| {
                    let c = &c;
                    s.spawn(move || {
                        c.privilege(&p.node.name)
                            .and_then(|_| c.nemesis_view().privilege(&p.node.name))
                            .err()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("connect thread panicked"))
                .collect()
        });
        match errors.into_iter().flatten().next() {
            Some(e) => Err(e),
            None => Ok(c),
        }
    }

    /// A handle on the same nodes that uses only each node's reserved
    /// nemesis session: give it to the nemesis, so applying or healing a
    /// fault never waits behind a slow command of the DB layer or of
    /// another caller.
    pub fn nemesis_view(&self) -> SshControl {
        SshControl {
            inner: self.inner.clone(),
            nemesis: true,
        }
    }

    /// The nodes, in order.
    pub fn nodes(&self) -> Vec<SshNode> {
        self.inner.nodes.iter().map(|p| p.node.clone()).collect()
    }

    /// The options in force.
    pub fn options(&self) -> &SshOptions {
        &self.inner.opts
    }

    fn pool(&self, node: &str) -> Result<&NodePool, ControlError> {
        self.inner
            .nodes
            .iter()
            .find(|p| p.node.name == node)
            .ok_or_else(|| ControlError::UnknownNode(node.to_string()))
    }

    /// Whether the login user is root, a passwordless sudoer, or neither on
    /// `node` (connecting if needed). With [`SshOptions::require_root`] the
    /// last is the [`ControlError::NotRoot`] error.
    pub fn privilege(&self, node: &str) -> Result<Privilege, ControlError> {
        let pool = self.pool(node)?;
        let deadline = Instant::now() + self.inner.opts.io_timeout;
        self.attempts(true, || {
            let mut guard = self.checkout(pool, deadline)?;
            self.ready(pool, &mut guard, deadline)?;
            Ok(*pool.privilege.get().expect("set by ready"))
        })
    }

    /// Runs `argv` like [`Control::exec`], but retries on a broken
    /// connection: only for commands that are safe to run twice (reads,
    /// `mkdir -p`, flushing a chain of faultline's own).
    pub fn exec_idempotent(
        &self,
        node: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, ControlError> {
        self.exec_with(node, argv, timeout, true)
    }

    fn exec_with(
        &self,
        node: &str,
        argv: &[String],
        timeout: Duration,
        idempotent: bool,
    ) -> Result<ExecOutput, ControlError> {
        let pool = self.pool(node)?;
        let line = command_line(argv).map_err(|e| ControlError::Ssh {
            node: pool.node.label(),
            what: "building the command".into(),
            message: e,
        })?;
        let raw = self.attempts(idempotent, || self.run(pool, &line, Some(timeout), timeout))?;
        finish(&pool.node, &line, raw)
    }

    /// Runs `attempt` once, or again after a failure that allows it (see
    /// [`Fail`]), with a growing backoff.
    fn attempts<T>(
        &self,
        idempotent: bool,
        mut attempt: impl FnMut() -> Result<T, Fail>,
    ) -> Result<T, ControlError> {
        let mut tries = 0;
        loop {
            match attempt() {
                Ok(v) => return Ok(v),
                Err(Fail::Final(e)) => return Err(e),
                Err(f) => {
                    let again = match &f {
                        Fail::NotStarted(_) => true,
                        Fail::Transport(_) => idempotent,
                        Fail::Final(_) => false,
                    };
                    if !again || tries >= self.inner.opts.retries {
                        return Err(f.into_error());
                    }
                    tries += 1;
                    let e = f.into_error();
                    tracing::debug!("retrying (attempt {}): {e}", tries + 1);
                    std::thread::sleep(Duration::from_millis(100 * tries as u64));
                }
            }
        }
    }

    /// Takes a free session slot of `pool` (the nemesis slot for the
    /// nemesis view), waiting until `deadline` if all are busy.
    fn checkout<'a>(
        &self,
        pool: &'a NodePool,
        deadline: Instant,
    ) -> Result<MutexGuard<'a, Option<Conn>>, Fail> {
        let range: Vec<usize> = if self.nemesis {
            vec![0]
        } else {
            let n = pool.slots.len() - 1;
            let start = pool.next.fetch_add(1, Ordering::Relaxed);
            (0..n).map(|i| 1 + (start + i) % n).collect()
        };
        loop {
            // A free slot that is already connected beats opening another
            // connection.
            let mut empty = None;
            for &i in &range {
                match pool.slots[i].try_lock() {
                    Ok(g) if g.is_some() => return Ok(g),
                    Ok(g) => {
                        if empty.is_none() {
                            empty = Some(g);
                        }
                    }
                    // A holder panicked: its session is not trusted.
                    Err(TryLockError::Poisoned(p)) => {
                        let mut g = p.into_inner();
                        *g = None;
                        pool.slots[i].clear_poison();
                        if empty.is_none() {
                            empty = Some(g);
                        }
                    }
                    Err(TryLockError::WouldBlock) => {}
                }
            }
            if let Some(g) = empty {
                return Ok(g);
            }
            if Instant::now() >= deadline {
                return Err(Fail::Final(ControlError::Ssh {
                    node: pool.node.label(),
                    what: "waiting for a free session".into(),
                    message: format!(
                        "all {} sessions stayed busy until the deadline",
                        range.len()
                    ),
                }));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Makes sure the slot holds a live connection and the node's privilege
    /// is known.
    fn ready(
        &self,
        pool: &NodePool,
        slot: &mut Option<Conn>,
        deadline: Instant,
    ) -> Result<(), Fail> {
        if slot.is_none() {
            *slot = Some(connect(&pool.node, &self.inner.opts)?);
        }
        if pool.privilege.get().is_none() {
            let conn = slot.as_mut().expect("connected above");
            let script = "if [ \"$(id -u)\" = 0 ]; then echo root; \
                          elif sudo -n true >/dev/null 2>&1; then echo sudo; else echo none; fi";
            let out = match run_raw(conn, &pool.node, &quote_sh(script), deadline) {
                Ok(o) => o,
                Err(f) => {
                    *slot = None;
                    return Err(f);
                }
            };
            let p = match String::from_utf8_lossy(&out.stdout).trim() {
                "root" => Privilege::Root,
                "sudo" => Privilege::Sudo,
                _ => Privilege::Unprivileged,
            };
            let _ = pool.privilege.set(p);
        }
        if self.inner.opts.require_root && pool.privilege.get() == Some(&Privilege::Unprivileged) {
            return Err(Fail::Final(ControlError::NotRoot {
                node: pool.node.label(),
                user: self.inner.opts.username.clone(),
            }));
        }
        Ok(())
    }

    fn sudo(&self, pool: &NodePool) -> bool {
        pool.privilege.get() == Some(&Privilege::Sudo)
    }

    /// Runs an already quoted command line on a session of `pool`: `exec`ed,
    /// under `sudo -n` when needed, and under `timeout -s KILL` when
    /// `remote_timeout` is given. A session that fails part-way is dropped.
    fn run(
        &self,
        pool: &NodePool,
        line: &str,
        remote_timeout: Option<Duration>,
        limit: Duration,
    ) -> Result<RawOutput, Fail> {
        let deadline = Instant::now() + limit;
        let mut guard = self.checkout(pool, deadline)?;
        self.ready(pool, &mut guard, deadline)?;
        let mut full = String::from("exec ");
        if self.sudo(pool) {
            full.push_str("sudo -n -- ");
        }
        if let Some(t) = remote_timeout {
            // Whole seconds (busybox's timeout takes no fractions), one past
            // the controller's own deadline.
            full.push_str(&format!("timeout -s KILL {} ", t.as_secs() + 2));
        }
        full.push_str(line);
        let conn = guard.as_mut().expect("ready");
        let r = run_raw(conn, &pool.node, &full, deadline).map_err(|f| match f {
            Fail::Final(ControlError::Timeout { node, .. }) => Fail::Final(ControlError::Timeout {
                node,
                command: line.to_string(),
                timeout: limit,
            }),
            f => f,
        });
        match &r {
            Ok(_) => conn.last_used = Instant::now(),
            Err(_) => *guard = None,
        }
        r
    }

    /// Runs `f` with the slot's SFTP handle (opened on first use).
    fn with_sftp<T>(
        &self,
        pool: &NodePool,
        what: &str,
        f: impl FnOnce(&ssh2::Sftp) -> Result<T, SftpError>,
    ) -> Result<T, Fail> {
        let deadline = Instant::now() + self.inner.opts.io_timeout;
        let mut guard = self.checkout(pool, deadline)?;
        self.ready(pool, &mut guard, deadline)?;
        let conn = guard.as_mut().expect("ready");
        conn.session.set_blocking(true);
        conn.session.set_timeout(ms_until(deadline));
        let err = |e: ssh2::Error| ControlError::Ssh {
            node: pool.node.label(),
            what: what.to_string(),
            message: one_line(&e.to_string()),
        };
        if conn.sftp.is_none() {
            match conn.session.sftp() {
                Ok(s) => conn.sftp = Some(s),
                Err(e) => {
                    *guard = None;
                    return Err(Fail::NotStarted(err(e)));
                }
            }
        }
        let r = f(conn.sftp.as_ref().expect("opened above"));
        match r {
            Ok(v) => {
                conn.last_used = Instant::now();
                conn.session
                    .set_timeout(ms_until(Instant::now() + self.inner.opts.io_timeout));
                Ok(v)
            }
            // A file-level error (no such file, permission denied) leaves
            // the session sound, and retrying will not help.
            Err(SftpError::Ssh(e)) if matches!(e.code(), ssh2::ErrorCode::SFTP(_)) => {
                Err(Fail::Final(err(e)))
            }
            Err(SftpError::Ssh(e)) => {
                *guard = None;
                Err(Fail::Transport(err(e)))
            }
            Err(SftpError::Io(e)) => {
                *guard = None;
                Err(Fail::Transport(ControlError::Ssh {
                    node: pool.node.label(),
                    what: what.to_string(),
                    message: one_line(&e.to_string()),
                }))
            }
        }
    }

    /// Writes `bytes` to `remote` on the node, atomically: into a temporary
    /// file (beside the target, or in `/tmp` under sudo) that a `mv -f` then
    /// puts in place, so a reader never sees half a file.
    fn put(&self, node: &str, remote: &Path, mode: i32, bytes: &[u8]) -> Result<(), ControlError> {
        let pool = self.pool(node)?;
        let what = format!("writing {}", remote.display());
        let nonce = format!(
            "{}-{}",
            std::process::id(),
            NONCE.fetch_add(1, Ordering::Relaxed)
        );
        self.attempts(true, || {
            // The privilege decides where the temporary file goes.
            let deadline = Instant::now() + self.inner.opts.io_timeout;
            {
                let mut g = self.checkout(pool, deadline)?;
                self.ready(pool, &mut g, deadline)?;
            }
            let tmp = if self.sudo(pool) {
                PathBuf::from(format!("/tmp/.faultline-upload-{nonce}"))
            } else {
                let name = remote
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                remote.with_file_name(format!(".{name}.faultline-{nonce}"))
            };
            self.with_sftp(pool, &what, |sftp| {
                let mut f = sftp.open_mode(
                    &tmp,
                    OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                    mode,
                    OpenType::File,
                )?;
                f.write_all(bytes)?;
                Ok(f.close()?)
            })?;
            let argv = [
                "mv".to_string(),
                "-f".into(),
                "--".into(),
                tmp.display().to_string(),
                remote.display().to_string(),
            ];
            let line = command_line(&argv).expect("no NUL in paths");
            let t = self.inner.opts.io_timeout;
            let raw = self.run(pool, &line, Some(t), t)?;
            finish(&pool.node, &line, raw).map_err(Fail::Final)?;
            Ok(())
        })
    }
}

/// An SFTP call's failure: from libssh2, or from the `Read`/`Write` of a
/// remote file.
enum SftpError {
    Ssh(ssh2::Error),
    Io(std::io::Error),
}

impl From<ssh2::Error> for SftpError {
    fn from(e: ssh2::Error) -> Self {
        SftpError::Ssh(e)
    }
}

impl From<std::io::Error> for SftpError {
    fn from(e: std::io::Error) -> Self {
        SftpError::Io(e)
    }
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// Interprets a finished command: a non-zero status or a signal is
/// [`ControlError::Failed`].
fn finish(node: &SshNode, line: &str, raw: RawOutput) -> Result<ExecOutput, ControlError> {
    let mut out = ExecOutput {
        status: if raw.signal.is_some() { -1 } else { raw.status },
        stdout: String::from_utf8_lossy(&raw.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&raw.stderr).into_owned(),
    };
    if out.status == 0 {
        return Ok(out);
    }
    if let Some(sig) = &raw.signal {
        if !out.stderr.is_empty() && !out.stderr.ends_with('\n') {
            out.stderr.push('\n');
        }
        out.stderr.push_str(&format!("killed by signal SIG{sig}"));
    }
    Err(ControlError::Failed {
        node: node.label(),
        command: line.to_string(),
        status: out.status,
        stderr: out.stderr.trim().to_string(),
    })
}

/// `sh -c SCRIPT`, quoted: for the few fixed scripts faultline runs itself
/// (user data reaches them only as positional parameters, never inside).
fn quote_sh(script: &str) -> String {
    format!("sh -c {}", quote(script))
}

/// Runs `command` (a complete remote command line) on `conn`, reading
/// stdout and stderr to EOF in non-blocking mode, then closing the channel
/// and collecting the exit status or signal.
fn run_raw(
    conn: &mut Conn,
    node: &SshNode,
    command: &str,
    deadline: Instant,
) -> Result<RawOutput, Fail> {
    let label = node.label();
    let ssh_err = |what: &str, e: ssh2::Error| ControlError::Ssh {
        node: label.clone(),
        what: what.to_string(),
        message: one_line(&e.to_string()),
    };
    let timeout_err = || ControlError::Timeout {
        node: label.clone(),
        command: command.to_string(),
        timeout: Duration::from_millis(0),
    };
    let sess = &conn.session;
    sess.set_blocking(true);
    sess.set_timeout(ms_until(deadline));
    let mut ch = match sess.channel_session() {
        Ok(ch) => ch,
        Err(e) if is_timeout(&e) => return Err(Fail::Final(timeout_err())),
        // A stale session (the server closed it while idle): nothing ran.
        Err(e) => return Err(Fail::NotStarted(ssh_err("opening a channel", e))),
    };
    if let Err(e) = ch.exec(command) {
        return Err(if is_timeout(&e) {
            Fail::Final(timeout_err())
        } else {
            Fail::Transport(ssh_err("starting the command", e))
        });
    }
    sess.set_blocking(false);
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut progressed = false;
        for (stream, sink) in [(0, &mut stdout), (1, &mut stderr)] {
            loop {
                match ch.stream(stream).read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        sink.extend_from_slice(&buf[..n]);
                        progressed = true;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        sess.set_blocking(true);
                        return Err(Fail::Transport(ControlError::Ssh {
                            node: label.clone(),
                            what: "reading the command's output".into(),
                            message: one_line(&e.to_string()),
                        }));
                    }
                }
            }
        }
        if ch.eof() {
            break;
        }
        if !progressed {
            if Instant::now() >= deadline {
                sess.set_blocking(true);
                return Err(Fail::Final(timeout_err()));
            }
            wait_socket(&conn.socket, sess, deadline);
        }
    }
    sess.set_blocking(true);
    // After EOF the status normally follows at once; a command that closed
    // its output early is still bounded by the deadline.
    sess.set_timeout(ms_until(
        deadline.max(Instant::now() + Duration::from_secs(1)),
    ));
    let closed = ch.close().and_then(|_| ch.wait_close());
    if let Err(e) = closed {
        return Err(if is_timeout(&e) {
            Fail::Final(timeout_err())
        } else {
            Fail::Transport(ssh_err("closing the channel", e))
        });
    }
    let signal = ch
        .exit_signal()
        .map_err(|e| Fail::Transport(ssh_err("reading the exit signal", e)))?
        .exit_signal;
    let status = ch
        .exit_status()
        .map_err(|e| Fail::Transport(ssh_err("reading the exit status", e)))?;
    Ok(RawOutput {
        status,
        signal,
        stdout,
        stderr,
    })
}

/// Waits (at most until `deadline`, and at most 1 s) for the socket to be
/// ready in the direction libssh2 is blocked on.
fn wait_socket(socket: &TcpStream, sess: &Session, deadline: Instant) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let flags = match sess.block_directions() {
        ssh2::BlockDirections::Outbound => PollFlags::POLLOUT,
        ssh2::BlockDirections::Both => PollFlags::POLLIN | PollFlags::POLLOUT,
        _ => PollFlags::POLLIN,
    };
    let ms = ms_until(deadline).min(1000) as u16;
    let mut fds = [PollFd::new(socket.as_fd(), flags)];
    let _ = poll(&mut fds, PollTimeout::from(ms));
}

/// Opens an authenticated session to `node`: TCP connect (bounded, with
/// keepalive), handshake, host-key check, authentication.
fn connect(node: &SshNode, opts: &SshOptions) -> Result<Conn, Fail> {
    let label = node.label();
    let unreachable = |reason: String| ControlError::Unreachable {
        node: label.clone(),
        port: node.port,
        reason,
    };
    let addrs: Vec<_> = (node.host.as_str(), node.port)
        .to_socket_addrs()
        .map_err(|e| {
            Fail::Final(unreachable(format!(
                "cannot resolve {:?}: {}",
                node.host,
                one_line(&e.to_string())
            )))
        })?
        .collect();
    let mut last = String::from("no address");
    let mut timed_out = false;
    let mut socket = None;
    for addr in addrs {
        let s = match socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        ) {
            Ok(s) => s,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let ka = socket2::TcpKeepalive::new()
            .with_time(opts.keepalive)
            .with_interval(opts.keepalive / 3 + Duration::from_secs(1))
            .with_retries(3);
        let _ = s.set_tcp_keepalive(&ka);
        match s.connect_timeout(&addr.into(), opts.connect_timeout) {
            Ok(()) => {
                socket = Some(TcpStream::from(s));
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                timed_out = true;
                last = format!("no answer within {:?}", opts.connect_timeout);
            }
            Err(e) => last = one_line(&e.to_string()),
        }
    }
    let Some(socket) = socket else {
        let e = unreachable(last);
        // A refused connection is cheap to try again; a timeout already
        // waited its turn.
        return Err(if timed_out {
            Fail::Final(e)
        } else {
            Fail::NotStarted(e)
        });
    };
    let _ = socket.set_nodelay(true);
    let poll_socket = socket
        .try_clone()
        .map_err(|e| Fail::NotStarted(unreachable(e.to_string())))?;
    let mut session = Session::new().map_err(|e| {
        Fail::Final(ControlError::Ssh {
            node: label.clone(),
            what: "creating a session".into(),
            message: one_line(&e.to_string()),
        })
    })?;
    session.set_tcp_stream(socket);
    session.set_timeout(opts.connect_timeout.as_millis().max(1) as u32);
    session.handshake().map_err(|e| {
        Fail::NotStarted(unreachable(format!(
            "SSH handshake failed: {}",
            one_line(e.message())
        )))
    })?;
    check_host_key(node, &session, &opts.host_keys).map_err(Fail::Final)?;
    authenticate(node, &session, opts).map_err(Fail::Final)?;
    session.set_timeout(opts.io_timeout.as_millis().max(1) as u32);
    session.set_keepalive(false, opts.keepalive.as_secs().max(2) as u32);
    Ok(Conn {
        session,
        socket: poll_socket,
        sftp: None,
        last_used: Instant::now(),
    })
}

fn check_host_key(
    node: &SshNode,
    session: &Session,
    policy: &HostKeyPolicy,
) -> Result<(), ControlError> {
    let HostKeyPolicy::Check(file) = policy else {
        return Ok(());
    };
    let ssh_err = |what: &str, message: String| ControlError::Ssh {
        node: node.label(),
        what: what.into(),
        message,
    };
    let (key, _) = session
        .host_key()
        .ok_or_else(|| ssh_err("reading the host key", "the server sent none".into()))?;
    let mut kh = session
        .known_hosts()
        .map_err(|e| ssh_err("checking the host key", one_line(e.message())))?;
    if file.exists() {
        kh.read_file(file, KnownHostFileKind::OpenSSH)
            .map_err(|e| {
                ssh_err(
                    &format!("reading {}", file.display()),
                    format!(
                        "{}: fix the file, or pass another with --known-hosts",
                        one_line(e.message())
                    ),
                )
            })?;
    }
    match kh.check_port(&node.host, node.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::NotFound => Err(ControlError::HostKeyUnknown {
            node: node.label(),
            host: node.host.clone(),
            port: node.port,
            file: file.display().to_string(),
        }),
        CheckResult::Mismatch => Err(ControlError::HostKeyMismatch {
            node: node.label(),
            host: node.host.clone(),
            port: node.port,
            pattern: quote(&node.known_hosts_pattern()),
            file: file.display().to_string(),
        }),
        CheckResult::Failure => Err(ssh_err(
            "checking the host key",
            format!("libssh2 could not check it against {}", file.display()),
        )),
    }
}

/// Tries, in order: the given key, the password, and without either the
/// agent's identities (each one: libssh2's `userauth_agent` stops at the
/// first) and the default key files.
fn authenticate(node: &SshNode, session: &Session, opts: &SshOptions) -> Result<(), ControlError> {
    let user = &opts.username;
    let mut tried = Vec::new();
    if let Some(key) = &opts.private_key {
        tried.push(format!("key {}", key.display()));
        if !key.is_file() {
            tried.push("(no such file)".into());
        } else if session.userauth_pubkey_file(user, None, key, None).is_ok() {
            return Ok(());
        }
    }
    if let Some(pw) = &opts.password {
        tried.push("password".into());
        if session.userauth_password(user, pw).is_ok() {
            return Ok(());
        }
    }
    if opts.private_key.is_none() && opts.password.is_none() {
        if let Ok(mut agent) = session.agent() {
            if agent.connect().is_ok() && agent.list_identities().is_ok() {
                let ids = agent.identities().unwrap_or_default();
                if !ids.is_empty() {
                    tried.push(format!("{} ssh-agent identities", ids.len()));
                }
                for id in ids {
                    if agent.userauth(user, &id).is_ok() {
                        return Ok(());
                    }
                }
                let _ = agent.disconnect();
            }
        }
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let key = home().join(".ssh").join(name);
            if key.is_file() {
                tried.push(format!("key {}", key.display()));
                if session.userauth_pubkey_file(user, None, &key, None).is_ok() {
                    return Ok(());
                }
            }
        }
    }
    if session.authenticated() {
        return Ok(());
    }
    Err(ControlError::AuthFailed {
        node: node.label(),
        user: user.clone(),
        tried: if tried.is_empty() {
            "nothing: no key, password or agent".into()
        } else {
            tried.join(", ")
        },
    })
}

/// Sends SSH keepalives on idle sessions until the control is dropped; a
/// session whose keepalive fails is discarded (the next use reconnects).
fn keepalive_loop(inner: std::sync::Weak<Inner>, stop: std::sync::mpsc::Receiver<()>) {
    let interval = match inner.upgrade() {
        Some(i) => i.opts.keepalive.max(Duration::from_secs(1)),
        None => return,
    };
    loop {
        match stop.recv_timeout(interval) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(inner) = inner.upgrade() else { return };
        for pool in &inner.nodes {
            for slot in &pool.slots {
                let Ok(mut g) = slot.try_lock() else { continue };
                let dead = match g.as_mut() {
                    Some(c) if c.last_used.elapsed() >= interval => {
                        c.session.set_blocking(true);
                        c.session.keepalive_send().is_err()
                    }
                    _ => false,
                };
                if dead {
                    *g = None;
                }
            }
        }
    }
}

/// The one-word signal name `kill -s` takes (`STOP`, `KILL`, ...).
fn signal_name(signal: Signal) -> &'static str {
    let s = signal.as_str();
    s.strip_prefix("SIG").unwrap_or(s)
}

/// A POSIX shell script that starts a daemon detached from the SSH session
/// (its own session via `setsid`, stdin from /dev/null, output appended to
/// the log), writes its pid to `pid_file` and prints it. Every piece of user
/// data is quoted.
pub fn daemon_script(spec: &DaemonSpec, pid_file: &Path) -> Result<String, String> {
    let mut words = vec!["setsid".to_string()];
    if !spec.env.is_empty() {
        words.push("env".into());
        for (k, v) in &spec.env {
            let valid = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(format!("invalid environment variable name {k:?}"));
            }
            words.push(format!("{k}={v}"));
        }
    }
    words.extend(spec.argv.iter().cloned());
    if spec.argv.is_empty() {
        return Err("empty command".into());
    }
    let cmd = command_line(&words)?;
    let log = quote(&spec.log_file.display().to_string());
    let pid = quote(&pid_file.display().to_string());
    // A background job of a non-interactive shell stays in the shell's
    // process group, so it is no group leader and `setsid` execs in place
    // (no fork): `$!` is the daemon's own pid.
    Ok(format!(
        "cd / || exit 1\n{cmd} </dev/null >>{log} 2>&1 &\npid=$!\necho \"$pid\" >{pid} || exit 1\necho \"$pid\"\n"
    ))
}

/// Where [`SshControl::start_daemon`] writes a daemon's pid: beside its log,
/// `<log file>.pid`.
pub fn pid_file_for(log_file: &Path) -> PathBuf {
    let mut s = log_file.as_os_str().to_owned();
    s.push(".pid");
    PathBuf::from(s)
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
        let pool = self.pool(node)?;
        let label = pool.node.label();
        let script =
            daemon_script(spec, &pid_file_for(&spec.log_file)).map_err(|e| ControlError::Ssh {
                node: label.clone(),
                what: "building the daemon's command".into(),
                message: e,
            })?;
        let line = quote_sh(&script);
        let t = self.inner.opts.io_timeout;
        let raw = self
            .attempts(false, || self.run(pool, &line, None, t))
            .and_then(|raw| finish(&pool.node, &line, raw))?;
        raw.stdout
            .trim()
            .parse::<u32>()
            .map_err(|_| ControlError::Ssh {
                node: label,
                what: format!("starting {}", spec.argv.join(" ")),
                message: format!("expected a pid, got {:?}", raw.stdout.trim()),
            })
    }

    /// `kill -s SIG -- pid` by the node's shell.
    fn signal(&self, node: &str, pid: u32, signal: Signal) -> Result<(), ControlError> {
        let argv = [
            "sh".to_string(),
            "-c".into(),
            "kill -s \"$1\" -- \"$2\"".into(),
            "sh".into(),
            signal_name(signal).into(),
            pid.to_string(),
        ];
        // SIGKILL, SIGSTOP and SIGCONT may be sent twice harmlessly; other
        // signals only once.
        let idempotent = matches!(signal, Signal::SIGKILL | Signal::SIGSTOP | Signal::SIGCONT);
        self.exec_with(node, &argv, self.inner.opts.io_timeout, idempotent)
            .map(|_| ())
    }

    /// True while `/proc/<pid>` exists and is not a zombie. After the
    /// retries, a node that cannot be asked counts as not alive (logged).
    fn is_alive(&self, node: &str, pid: u32) -> bool {
        let script = "s=$(cat /proc/\"$1\"/stat 2>/dev/null) || exit 1\n\
                      case \"${s##*) }\" in Z*|X*) exit 1;; esac";
        let argv = [
            "sh".to_string(),
            "-c".into(),
            script.into(),
            "sh".into(),
            pid.to_string(),
        ];
        match self.exec_with(node, &argv, self.inner.opts.io_timeout, true) {
            Ok(_) => true,
            Err(ControlError::Failed { status: 1, .. }) => false,
            Err(e) => {
                tracing::warn!("is_alive({node}, {pid}): {e}");
                false
            }
        }
    }

    /// SFTP to a temporary file, then `mv -f` into place; keeps the local
    /// file's permission bits.
    fn upload(&self, node: &str, local: &Path, remote: &Path) -> Result<(), ControlError> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(local)
            .map(|m| (m.permissions().mode() & 0o7777) as i32)
            .map_err(|source| ControlError::Io {
                node: node.to_string(),
                what: format!("reading {}", local.display()),
                source,
            })?;
        let bytes = std::fs::read(local).map_err(|source| ControlError::Io {
            node: node.to_string(),
            what: format!("reading {}", local.display()),
            source,
        })?;
        self.put(node, remote, mode, &bytes)
    }

    /// SFTP read (or `cat` under sudo) into a temporary local file renamed
    /// into place; retried on a broken connection.
    fn download(&self, node: &str, remote: &Path, local: &Path) -> Result<(), ControlError> {
        let pool = self.pool(node)?;
        let what = format!("reading {}", remote.display());
        let bytes = self.attempts(true, || {
            let deadline = Instant::now() + self.inner.opts.io_timeout;
            {
                let mut g = self.checkout(pool, deadline)?;
                self.ready(pool, &mut g, deadline)?;
            }
            if self.sudo(pool) {
                let argv = ["cat".to_string(), "--".into(), remote.display().to_string()];
                let line = command_line(&argv).expect("no NUL");
                let t = self.inner.opts.io_timeout;
                let raw = self.run(pool, &line, Some(t), t)?;
                if raw.status != 0 || raw.signal.is_some() {
                    return Err(Fail::Final(finish(&pool.node, &line, raw).unwrap_err()));
                }
                return Ok(raw.stdout);
            }
            self.with_sftp(pool, &what, |sftp| {
                let mut f = sftp.open(remote)?;
                let mut v = Vec::new();
                f.read_to_end(&mut v)?;
                Ok(v)
            })
        })?;
        let tmp = local.with_extension("faultline-tmp");
        std::fs::write(&tmp, &bytes)
            .and_then(|_| std::fs::rename(&tmp, local))
            .map_err(|source| ControlError::Io {
                node: pool.node.label(),
                what: format!("writing {}", local.display()),
                source,
            })
    }

    /// The contents travel by SFTP straight from memory (mode 0644).
    fn write_file(&self, node: &str, remote: &Path, contents: &str) -> Result<(), ControlError> {
        self.put(node, remote, 0o644, contents.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sh -c 'printf "%s\n" WORDS'` makes of a command line: the words
    /// as the shell split them.
    fn shell_split(line: &str) -> Vec<String> {
        let script = format!("for w in {line}; do printf '%s\\0' \"$w\"; done");
        let _ = script;
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("for w in {line}\ndo printf '%s\\0' \"$w\"; done"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
            .split(|b| *b == 0)
            .filter(|_| true)
            .map(|w| String::from_utf8(w.to_vec()).unwrap())
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, rest)| rest.to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn hostile_words_survive_the_shell_verbatim() {
        let words: Vec<String> = [
            "plain",
            "",
            "with space",
            "it's",
            "'",
            "''",
            "\"double\"",
            "$(touch /tmp/faultline-pwned)",
            "`touch /tmp/faultline-pwned`",
            "$HOME",
            "${IFS}",
            "a;b",
            "a && b || c",
            "line1\nline2",
            "tab\there",
            "back\\slash",
            "glob*?[a]",
            "~root",
            "-n",
            "#comment",
            "a|b>c<d",
            "é ünïcödé",
            "!bang",
        ]
        .map(String::from)
        .to_vec();
        let line = command_line(&words).unwrap();
        assert_eq!(shell_split(&line), words);
        assert!(!Path::new("/tmp/faultline-pwned").exists());
    }

    #[test]
    fn quoting_is_minimal_and_exact() {
        assert_eq!(quote("iptables"), "iptables");
        assert_eq!(quote("-A"), "-A");
        assert_eq!(quote("198.18.0.11/32"), "198.18.0.11/32");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(x)"), "'$(x)'");
        assert!(command_line(&[]).is_err());
        assert!(command_line(&["a\0b".to_string()]).is_err());
    }

    #[test]
    fn nodes_are_labelled_with_their_address() {
        let n = SshNode::new("n3", "198.18.5.13", 22);
        assert_eq!(n.label(), "n3 (198.18.5.13:22)");
        assert_eq!(n.known_hosts_pattern(), "198.18.5.13");
        let v6 = SshNode::new("n1", "fd00::1", 2222);
        assert_eq!(v6.address(), "[fd00::1]:2222");
        assert_eq!(v6.known_hosts_pattern(), "[fd00::1]:2222");
    }

    #[test]
    fn setup_errors_are_one_line_naming_node_and_fix() {
        let errors = [
            ControlError::Unreachable {
                node: "n3 (198.18.5.13:22)".into(),
                port: 22,
                reason: "Connection refused (os error 111)".into(),
            },
            ControlError::AuthFailed {
                node: "n3 (198.18.5.13:22)".into(),
                user: "root".into(),
                tried: "key /k".into(),
            },
            ControlError::HostKeyUnknown {
                node: "n3 (198.18.5.13:22)".into(),
                host: "198.18.5.13".into(),
                port: 22,
                file: "/root/.ssh/known_hosts".into(),
            },
            ControlError::HostKeyMismatch {
                node: "n3 (198.18.5.13:22)".into(),
                host: "198.18.5.13".into(),
                port: 22,
                pattern: "198.18.5.13".into(),
                file: "/root/.ssh/known_hosts".into(),
            },
            ControlError::NotRoot {
                node: "n3 (198.18.5.13:22)".into(),
                user: "alice".into(),
            },
        ];
        for e in errors {
            let m = e.to_string();
            assert!(!m.contains('\n'), "{m}");
            assert!(m.starts_with("n3 (198.18.5.13:22): "), "{m}");
            assert!(m.contains(':'), "{m}");
        }
        let m = ControlError::HostKeyUnknown {
            node: "n3 (198.18.5.13:22)".into(),
            host: "198.18.5.13".into(),
            port: 22,
            file: "/root/.ssh/known_hosts".into(),
        }
        .to_string();
        assert_eq!(
            m,
            "n3 (198.18.5.13:22): host key not in /root/.ssh/known_hosts: add it with \
             `ssh-keyscan -p 22 198.18.5.13 >> /root/.ssh/known_hosts`, or pass \
             --no-strict-host-key-checking"
        );
    }

    #[test]
    fn daemon_scripts_quote_everything_and_reject_bad_env_names() {
        let spec = DaemonSpec {
            argv: vec!["/opt/ring kv".into(), "--config".into(), "$(x)".into()],
            log_file: PathBuf::from("/var/lib/fl/n1 log"),
            env: vec![("FAKETIME".into(), "+1s; rm -rf /".into())],
        };
        let s = daemon_script(&spec, &pid_file_for(&spec.log_file)).unwrap();
        assert!(s.contains("setsid env 'FAKETIME=+1s; rm -rf /' '/opt/ring kv' --config '$(x)'"));
        assert!(s.contains(">>'/var/lib/fl/n1 log' 2>&1 &"));
        assert!(s.contains(">'/var/lib/fl/n1 log.pid'"));
        let bad = DaemonSpec {
            env: vec![("A;B".into(), "1".into())],
            ..spec
        };
        assert!(daemon_script(&bad, Path::new("/p")).is_err());
    }

    #[test]
    fn signal_names_drop_the_prefix() {
        assert_eq!(signal_name(Signal::SIGSTOP), "STOP");
        assert_eq!(signal_name(Signal::SIGKILL), "KILL");
    }
}
