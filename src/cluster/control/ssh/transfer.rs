//! Files to and from a node: SFTP, and `mv` into place.
//!
//! A file is written atomically: by SFTP into a temporary file (beside the
//! target, or in `/tmp` under sudo, where the login user cannot write the
//! target's folder) that a `mv -f` then puts in place, so a reader never
//! sees half a file. Reading is SFTP, or `cat` under sudo. Each session's
//! SFTP handle is opened on first use and kept with it. A file-level error
//! (no such file, permission denied) is final; a transport error drops the
//! session, and a transfer, being idempotent, is tried again.

use super::exec::{finish, ms_until};
use super::fail::{one_line, Fail};
use super::quoting::command_line;
use super::{NodePool, SshControl};
use crate::cluster::control::ControlError;
use ssh2::{OpenFlags, OpenType};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

impl SshControl {
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
    pub(super) fn put(
        &self,
        node: &str,
        remote: &Path,
        mode: i32,
        bytes: &[u8],
    ) -> Result<(), ControlError> {
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

    /// [`Control::upload`](crate::cluster::control::Control::upload): SFTP
    /// to a temporary file, then `mv -f` into place; keeps the local file's
    /// permission bits.
    pub(super) fn upload_file(
        &self,
        node: &str,
        local: &Path,
        remote: &Path,
    ) -> Result<(), ControlError> {
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

    /// [`Control::download`](crate::cluster::control::Control::download):
    /// SFTP read (or `cat` under sudo) into a temporary local file renamed
    /// into place; retried on a broken connection.
    pub(super) fn download_file(
        &self,
        node: &str,
        remote: &Path,
        local: &Path,
    ) -> Result<(), ControlError> {
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
