//! Daemons and signals: starting a process that outlives the session, and
//! signalling it by pid.
//!
//! A daemon is started by a small POSIX script ([`daemon_script`]): under
//! `setsid`, so it has its own session and no SSH hang-up reaches it,
//! stdin from /dev/null, output appended to its log, and its pid written
//! beside the log ([`pid_file_for`]) and printed. Every piece of user data
//! in the script is quoted. Signals are `kill -s SIG -- pid` by the node's
//! shell (only SIGKILL, SIGSTOP and SIGCONT, harmless twice, are retried),
//! and a pid is alive while `/proc/<pid>` exists and is not a zombie.

use super::exec::finish;
use super::quoting::{command_line, quote, quote_sh};
use super::SshControl;
use crate::cluster::control::{ControlError, DaemonSpec, Signal};
use std::path::{Path, PathBuf};

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

/// Where [`Control::start_daemon`](crate::cluster::control::Control::start_daemon) writes a daemon's pid: beside its log,
/// `<log file>.pid`.
pub fn pid_file_for(log_file: &Path) -> PathBuf {
    let mut s = log_file.as_os_str().to_owned();
    s.push(".pid");
    PathBuf::from(s)
}

impl SshControl {
    /// [`Control::start_daemon`](crate::cluster::control::Control::start_daemon):
    /// starts the daemon under `setsid`, detached, with its output appended
    /// to `spec.log_file` and its pid written to `<log file>.pid` on the
    /// node ([`pid_file_for`]).
    pub(super) fn spawn_daemon(&self, node: &str, spec: &DaemonSpec) -> Result<u32, ControlError> {
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

    /// [`Control::signal`](crate::cluster::control::Control::signal):
    /// `kill -s SIG -- pid` by the node's shell.
    pub(super) fn send_signal(
        &self,
        node: &str,
        pid: u32,
        signal: Signal,
    ) -> Result<(), ControlError> {
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

    /// [`Control::is_alive`](crate::cluster::control::Control::is_alive):
    /// true while `/proc/<pid>` exists and is not a zombie. After the
    /// retries, a node that cannot be asked counts as not alive (logged).
    pub(super) fn pid_alive(&self, node: &str, pid: u32) -> bool {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
