//! Opening an authenticated session: TCP, handshake, host key, login.
//!
//! **Everything is bounded in time**: the TCP connect has its own timeout
//! and the handshake runs under libssh2's `set_timeout`. **Keepalive**:
//! TCP keepalive is set on every socket, so a dead peer surfaces as an
//! error instead of a hang (the SSH keepalives on idle sessions are the
//! pool's). **Host keys** are checked against `~/.ssh/known_hosts` (or a
//! given file) with libssh2's `KnownHosts` unless the user opts out
//! ([`HostKeyPolicy::AcceptAny`]); libssh2 checks nothing by itself.
//! **Authentication** tries the given key, the password, or else the
//! ssh-agent's identities and the default key files. Every failure is one
//! line naming the node as `name (host:port)` and the fix
//! ([`ControlError::Unreachable`], [`ControlError::AuthFailed`],
//! [`ControlError::HostKeyUnknown`], [`ControlError::HostKeyMismatch`]).

use super::fail::{one_line, Fail};
use super::node::{home, HostKeyPolicy, SshNode, SshOptions};
use super::quoting::quote;
use crate::cluster::control::ControlError;
use ssh2::{CheckResult, KnownHostFileKind, Session};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// One authenticated SSH connection.
pub(super) struct Conn {
    pub(super) session: Session,
    /// The same socket, for `poll` while the session is non-blocking.
    pub(super) socket: TcpStream,
    pub(super) sftp: Option<ssh2::Sftp>,
    pub(super) last_used: Instant,
}

/// Opens an authenticated session to `node`: TCP connect (bounded, with
/// keepalive), handshake, host-key check, authentication.
pub(super) fn connect(node: &SshNode, opts: &SshOptions) -> Result<Conn, Fail> {
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

/// Checks the server's host key against `policy`'s known_hosts file.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
