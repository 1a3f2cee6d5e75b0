//! The session pool: a few sessions per node, one of them the nemesis's.
//!
//! One libssh2 `Session` runs one blocking call at a time, so each node has
//! a small pool: [`SshOptions::sessions_per_node`] sessions for ordinary
//! work (opened on demand) and one more reserved for the nemesis.
//! [`SshControl::nemesis_view`] is a handle that uses only the reserved
//! session, so a heal never queues behind a slow command. Each session is
//! behind a mutex (one owner at a time) and every channel is closed
//! explicitly before the session is handed on. The first session to a node
//! learns the login user's [`Privilege`]. A background thread sends SSH
//! keepalives on idle sessions, so firewalls and `ClientAliveInterval` keep
//! them open; a session whose keepalive fails is dropped and the next use
//! reconnects.

use super::connect::{connect, Conn};
use super::exec::run_raw;
use super::fail::Fail;
use super::node::{Privilege, SshNode, SshOptions};
use super::quoting::quote_sh;
use super::{Inner, NodePool, SshControl};
use crate::cluster::control::ControlError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError};
use std::time::{Duration, Instant};

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

    /// The pool of `node`.
    pub(super) fn pool(&self, node: &str) -> Result<&NodePool, ControlError> {
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

    /// Takes a free session slot of `pool` (the nemesis slot for the
    /// nemesis view), waiting until `deadline` if all are busy.
    pub(super) fn checkout<'a>(
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
    pub(super) fn ready(
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

    /// Whether commands on `pool`'s node run under `sudo -n`.
    pub(super) fn sudo(&self, pool: &NodePool) -> bool {
        pool.privilege.get() == Some(&Privilege::Sudo)
    }
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
