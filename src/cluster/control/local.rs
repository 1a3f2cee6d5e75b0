//! Nodes on this machine, each in its own network namespace.
//!
//! A command for node `n1` runs as `ip netns exec <ns> argv...`: the process
//! gets the node's network (its address, its iptables rules) while sharing
//! this machine's filesystem and process table. Entering the namespace in a
//! child process, never with `setns` in the controller, matters: `setns`
//! moves only the calling OS thread, and tokio would happily run other tasks
//! on it.

use super::{Control, ControlError, DaemonSpec, ExecOutput, Signal};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Control over nodes living in local network namespaces.
pub struct LocalControl {
    /// Node name → namespace name.
    namespaces: HashMap<String, String>,
    /// Daemons we started, kept so they can be reaped (no zombies).
    children: Mutex<HashMap<u32, Child>>,
}

impl LocalControl {
    /// Control over the given `(node, namespace)` pairs.
    pub fn new(nodes: impl IntoIterator<Item = (String, String)>) -> Self {
        LocalControl {
            namespaces: nodes.into_iter().collect(),
            children: Mutex::new(HashMap::new()),
        }
    }

    fn command(&self, node: &str, argv: &[String]) -> Result<Command, ControlError> {
        let ns = self
            .namespaces
            .get(node)
            .ok_or_else(|| ControlError::UnknownNode(node.to_string()))?;
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).args(argv);
        Ok(c)
    }
}

fn display(argv: &[String]) -> String {
    argv.join(" ")
}

impl Control for LocalControl {
    fn exec(
        &self,
        node: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, ControlError> {
        let mut cmd = self.command(node, argv)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().map_err(|source| ControlError::Spawn {
            node: node.into(),
            program: argv.first().cloned().unwrap_or_default(),
            source,
        })?;
        let out = wait_with_timeout(child, timeout).map_err(|e| match e {
            None => ControlError::Timeout {
                node: node.into(),
                command: display(argv),
                timeout,
            },
            Some(source) => ControlError::Io {
                node: node.into(),
                what: format!("waiting for `{}`", display(argv)),
                source,
            },
        })?;
        let result = ExecOutput {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if out.status.success() {
            Ok(result)
        } else {
            Err(ControlError::Failed {
                node: node.into(),
                command: display(argv),
                status: result.status,
                stderr: result.stderr.trim().to_string(),
            })
        }
    }

    fn start_daemon(&self, node: &str, spec: &DaemonSpec) -> Result<u32, ControlError> {
        let io = |what: &str, source| ControlError::Io {
            node: node.into(),
            what: what.to_string(),
            source,
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log_file)
            .map_err(|e| io(&format!("opening {}", spec.log_file.display()), e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| io("duplicating log handle", e))?;
        let mut cmd = self.command(node, &spec.argv)?;
        cmd.stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            // Own process group: a Ctrl-C at the terminal reaches the
            // controller, which then stops the nodes in order.
            .process_group(0);
        let child = cmd.spawn().map_err(|source| ControlError::Spawn {
            node: node.into(),
            program: spec.argv.first().cloned().unwrap_or_default(),
            source,
        })?;
        let pid = child.id();
        self.children.lock().unwrap().insert(pid, child);
        Ok(pid)
    }

    fn signal(&self, node: &str, pid: u32, signal: Signal) -> Result<(), ControlError> {
        nix::sys::signal::kill(Pid::from_raw(pid as i32), signal).map_err(|e| {
            ControlError::Io {
                node: node.into(),
                what: format!("sending {signal} to pid {pid}"),
                source: e.into(),
            }
        })?;
        Ok(())
    }

    fn is_alive(&self, _node: &str, pid: u32) -> bool {
        if let Some(child) = self.children.lock().unwrap().get_mut(&pid) {
            return matches!(child.try_wait(), Ok(None));
        }
        super::os::pid_alive(pid)
    }

    fn upload(&self, node: &str, local: &Path, remote: &Path) -> Result<(), ControlError> {
        copy(node, local, remote)
    }

    fn download(&self, node: &str, remote: &Path, local: &Path) -> Result<(), ControlError> {
        copy(node, remote, local)
    }

    fn in_host_mounts(&self, argv: Vec<String>) -> Vec<String> {
        let ns = format!("--mount=/proc/{}/ns/mnt", std::process::id());
        ["nsenter".to_string(), ns, "--".into()]
            .into_iter()
            .chain(argv)
            .collect()
    }

    /// One `write` into the open file: the local nodes share this
    /// machine's file systems (namespaces split the network only).
    fn overwrite_file(
        &self,
        node: &str,
        remote: &Path,
        contents: &str,
    ) -> Result<(), ControlError> {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .open(remote)
            .and_then(|mut f| f.write_all(contents.as_bytes()))
            .map_err(|source| ControlError::Io {
                node: node.into(),
                what: format!("writing {contents:?} into {}", remote.display()),
                source,
            })
    }
}

/// Copies through a temporary file and a rename, so a reader (libfaketime
/// re-reading its offset file on every call) never sees a half-written file.
fn copy(node: &str, from: &Path, to: &Path) -> Result<(), ControlError> {
    if from == to {
        return Ok(());
    }
    let tmp = to.with_extension("faultline-tmp");
    std::fs::copy(from, &tmp)
        .and_then(|_| std::fs::rename(&tmp, to))
        .map(|_| ())
        .map_err(|source| ControlError::Io {
            node: node.into(),
            what: format!("copying {} to {}", from.display(), to.display()),
            source,
        })
}

/// Waits for a child, killing it after `timeout`. `Err(None)` means timeout.
/// Both pipes are drained on their own threads, so a chatty command cannot
/// block on a full pipe while we wait for it to exit.
fn wait_with_timeout(
    mut child: Child,
    timeout: Duration,
) -> Result<std::process::Output, Option<std::io::Error>> {
    fn drain<R: std::io::Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(None);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(Some(e)),
        }
    };
    Ok(std::process::Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

impl Drop for LocalControl {
    fn drop(&mut self) {
        for (_, mut child) in self.children.lock().unwrap().drain() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}
