//! How an attempt fails, and when it is tried again.
//!
//! **Retries only when harmless**: a command that provably never started
//! (the channel could not even be opened on a stale session) is retried on
//! a fresh connection; otherwise only idempotent operations are retried
//! ([`Control::is_alive`], [`Control::download`], uploads,
//! [`SshControl::exec_idempotent`]), up to [`SshOptions::retries`] times
//! with a growing backoff. Authentication, host-key and privilege errors
//! are never retried: they will not fix themselves. Every attempt reports
//! its failure as a [`Fail`], which says which of these it is.
//!
//! [`Control::is_alive`]: crate::cluster::control::Control::is_alive
//! [`Control::download`]: crate::cluster::control::Control::download
//! [`SshOptions::retries`]: super::SshOptions::retries

use super::SshControl;
use crate::cluster::control::ControlError;
use std::time::Duration;

/// How one attempt failed, which decides whether to try again.
pub(super) enum Fail {
    /// Nothing ran on the node: safe to retry anything.
    NotStarted(ControlError),
    /// The connection broke part-way: retry only what is idempotent.
    Transport(ControlError),
    /// Retrying cannot help (the command failed, timed out, or the setup is
    /// wrong).
    Final(ControlError),
}

impl Fail {
    /// The error, whichever kind of failure it was.
    pub(super) fn into_error(self) -> ControlError {
        match self {
            Fail::NotStarted(e) | Fail::Transport(e) | Fail::Final(e) => e,
        }
    }
}

/// A message on one line (libssh2's and the OS's may span several).
pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether libssh2 gave up on a call because its `set_timeout` ran out.
pub(super) fn is_timeout(e: &ssh2::Error) -> bool {
    matches!(
        e.code(),
        ssh2::ErrorCode::Session(c) if c == -9 /* LIBSSH2_ERROR_TIMEOUT */
    )
}

impl SshControl {
    /// Runs `attempt` once, or again after a failure that allows it (see
    /// [`Fail`]), with a growing backoff.
    pub(super) fn attempts<T>(
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
}
