//! Who to reach and how: the nodes, the login options, and what the login
//! user may do.
//!
//! An [`SshNode`] is a machine by faultline's name for it (`n1`, ...) and
//! its `host:port`; every error names it as `name (host:port)`
//! ([`SshNode::label`]). [`SshOptions`] say how to log in (user, key,
//! password), whether host keys are checked ([`HostKeyPolicy`]) and how
//! patient to be: connect and I/O limits, keepalives, sessions per node,
//! retries. **Privilege**: faults need root. At the first connection to a
//! node faultline asks whether the login user is root or may use
//! passwordless sudo ([`Privilege`]); with sudo every command runs as
//! `sudo -n -- argv` and files travel through `/tmp` and a `mv` under sudo.
//! Neither is an error ([`ControlError::NotRoot`](crate::cluster::control::ControlError::NotRoot)) unless
//! [`SshOptions::require_root`] is off.

use std::path::PathBuf;
use std::time::Duration;

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

/// The home directory of the user running faultline (`$HOME`, else `/root`).
pub(super) fn home() -> PathBuf {
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
    /// sudoer ([`ControlError::NotRoot`](crate::cluster::control::ControlError::NotRoot)). `faultline doctor` turns this off
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_labelled_with_their_address() {
        let n = SshNode::new("n3", "198.18.5.13", 22);
        assert_eq!(n.label(), "n3 (198.18.5.13:22)");
        assert_eq!(n.known_hosts_pattern(), "198.18.5.13");
        let v6 = SshNode::new("n1", "fd00::1", 2222);
        assert_eq!(v6.address(), "[fd00::1]:2222");
        assert_eq!(v6.known_hosts_pattern(), "[fd00::1]:2222");
    }
}
