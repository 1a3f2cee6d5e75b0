//! Running one command on a node and reading what it left.
//!
//! **Exit status** is read only after stdout and stderr reached EOF and the
//! channel was closed (`close` + `wait_close`); before that libssh2 reports
//! 0. A process killed by a signal is reported through `exit_signal`
//! (status -1, the signal named in the error). The command is `exec`ed
//! (the shell does not stay around), so the status sshd sends is the
//! command's own; OpenSSH always sends `exit-status` or `exit-signal`
//! before closing the channel (RFC 4254 §6.10), and a shell-printed
//! sentinel (`echo __rc=$?`) would turn a signal into an ambiguous 128+N,
//! so none is used.
//!
//! **stdout and stderr are both read, without deadlock**: after `exec` the
//! session is switched to non-blocking mode and the two streams are read in
//! turn, waiting on the socket (`poll`) only when both would block. A
//! command that fills one stream while we wait on the other can therefore
//! never stall the channel window.
//!
//! **Bounded in time**: every blocking libssh2 call runs under
//! `set_timeout`; `exec` has an overall deadline, and the remote command
//! runs under coreutils `timeout -s KILL` set a second past it, so a
//! command the controller gave up on does not linger on the node. A
//! session that timed out or broke is discarded (libssh2's state after an
//! interrupted call is not trusted) and the next call reconnects. Under
//! sudo the command runs as `sudo -n -- argv`.

use super::connect::Conn;
use super::fail::{is_timeout, one_line, Fail};
use super::node::SshNode;
use super::quoting::command_line;
use super::{NodePool, SshControl};
use crate::cluster::control::{ControlError, ExecOutput};
use ssh2::Session;
use std::io::Read;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// What a remote command left, before interpretation.
pub(super) struct RawOutput {
    pub(super) status: i32,
    pub(super) signal: Option<String>,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
}

/// Milliseconds left until `deadline`, at least 1 (libssh2 reads 0 as
/// "no limit").
pub(super) fn ms_until(deadline: Instant) -> u32 {
    deadline
        .saturating_duration_since(Instant::now())
        .as_millis()
        .clamp(1, u32::MAX as u128) as u32
}

impl SshControl {
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

    /// Runs `argv` on `node`, retried on a broken connection only when
    /// `idempotent`.
    pub(super) fn exec_with(
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

    /// Runs an already quoted command line on a session of `pool`: `exec`ed,
    /// under `sudo -n` when needed, and under `timeout -s KILL` when
    /// `remote_timeout` is given. A session that fails part-way is dropped.
    pub(super) fn run(
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
}

/// Interprets a finished command: a non-zero status or a signal is
/// [`ControlError::Failed`].
pub(super) fn finish(
    node: &SshNode,
    line: &str,
    raw: RawOutput,
) -> Result<ExecOutput, ControlError> {
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

/// Runs `command` (a complete remote command line) on `conn`, reading
/// stdout and stderr to EOF in non-blocking mode, then closing the channel
/// and collecting the exit status or signal.
pub(super) fn run_raw(
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
