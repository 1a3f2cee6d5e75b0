//! Which real machines to use and how to log in: the node flags.
//!
//! [`SshArgs`] is one clap argument group, flattened into every subcommand
//! that talks to real nodes (`faultline doctor`, `faultline heal`;
//! `faultline test` flattens [`LoginArgs`] beside its own `--nodes`, which
//! takes a count of local nodes or a list of SSH nodes: [`NodesArg`]), so
//! the flags mean the same everywhere:
//! `--nodes a,b,c` or `--nodes-file FILE` (`host` or `host:port`, IPv6 as
//! `[addr]` or `[addr]:port`), `--username` (root), `--ssh-private-key`,
//! `--password`, `--[no-]strict-host-key-checking` with `--known-hosts`,
//! and `--remote-dir`. Nodes are named `n1`, `n2`, ... in the order given,
//! as in local runs. Bad input is a [`UsageError`] (exit 254) naming the
//! flag and the word.

use crate::cluster::control::ssh::{
    default_known_hosts, HostKeyPolicy, SshNode, SshOptions, DEFAULT_PORT,
};
use crate::UsageError;
use std::net::Ipv6Addr;
use std::path::PathBuf;

/// The node flags.
#[derive(clap::Args, Debug, Clone)]
pub struct SshArgs {
    /// The nodes, comma-separated: `host` or `host:port` (IPv6: `[addr]` or
    /// `[addr]:port`). They are called n1, n2, ... in this order.
    #[arg(long, value_name = "HOSTS", conflicts_with = "nodes_file")]
    pub nodes: Option<String>,
    /// A file naming the nodes, one a line, as --nodes does; blank lines
    /// and `#` comments are skipped.
    #[arg(long, value_name = "FILE")]
    pub nodes_file: Option<PathBuf>,
    /// How to log in.
    #[command(flatten)]
    pub login: LoginArgs,
}

/// The node flags other than the node list: how to log in, and where
/// faultline's files go on the nodes. `faultline test` flattens these
/// beside its own `--nodes` (a count or a list).
#[derive(clap::Args, Debug, Clone)]
pub struct LoginArgs {
    /// Login user on the nodes: root, or a user with passwordless sudo.
    #[arg(long, default_value = "root")]
    pub username: String,
    /// Private key to log in with (default: the ssh-agent's identities, then
    /// ~/.ssh/id_ed25519, id_ecdsa, id_rsa).
    #[arg(long, value_name = "FILE")]
    pub ssh_private_key: Option<PathBuf>,
    /// Password to log in with (visible to other local users in `ps`:
    /// prefer a key).
    #[arg(long)]
    pub password: Option<String>,
    /// Check every node's host key against --known-hosts (the default).
    #[arg(long, overrides_with = "no_strict_host_key_checking")]
    pub strict_host_key_checking: bool,
    /// Accept any host key: only for throwaway VMs on a network you trust.
    #[arg(long, overrides_with = "strict_host_key_checking")]
    pub no_strict_host_key_checking: bool,
    /// The known_hosts file host keys are checked against (default
    /// ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Directory on the nodes for faultline's files (the store's binary,
    /// data, logs, configs); each node uses `<DIR>/<node>` (n1, n2, ...).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/faultline")]
    pub remote_dir: PathBuf,
}

/// What the node flags resolve to.
#[derive(Clone, Debug)]
pub struct NodeSetup {
    /// The nodes, named n1, n2, ...
    pub nodes: Vec<SshNode>,
    /// Login and checking options.
    pub options: SshOptions,
    /// `--remote-dir`.
    pub remote_dir: PathBuf,
}

impl SshArgs {
    /// Checks the flags and reads `--nodes-file`.
    pub fn resolve(&self) -> Result<NodeSetup, UsageError> {
        let nodes = node_list(self.nodes.as_deref(), self.nodes_file.as_deref())?;
        self.login.resolve(nodes)
    }
}

/// The nodes of `--nodes HOSTS` or `--nodes-file FILE`.
pub fn node_list(
    nodes: Option<&str>,
    nodes_file: Option<&std::path::Path>,
) -> Result<Vec<SshNode>, UsageError> {
    let (flag, text) = match (nodes, nodes_file) {
        (Some(n), _) => ("--nodes".to_string(), n.replace(',', "\n")),
        (None, Some(f)) => (
            format!("--nodes-file {}", f.display()),
            std::fs::read_to_string(f)
                .map_err(|e| UsageError(format!("--nodes-file {}: {e}", f.display())))?,
        ),
        (None, None) => {
            return Err(UsageError(
                "no nodes: pass --nodes host1,host2,... or --nodes-file FILE".into(),
            ))
        }
    };
    parse_nodes(&text).map_err(|e| UsageError(format!("{flag}: {e}")))
}

impl LoginArgs {
    /// Checks the login flags and pairs them with `nodes`.
    pub fn resolve(&self, nodes: Vec<SshNode>) -> Result<NodeSetup, UsageError> {
        if self.username.is_empty() || self.username.contains(|c: char| c.is_whitespace()) {
            return Err(UsageError(format!(
                "--username {:?}: expected a user name",
                self.username
            )));
        }
        if let Some(k) = &self.ssh_private_key {
            if !k.is_file() {
                return Err(UsageError(format!(
                    "--ssh-private-key {}: no such file",
                    k.display()
                )));
            }
        }
        if !self.remote_dir.is_absolute() {
            return Err(UsageError(format!(
                "--remote-dir {}: must be an absolute path",
                self.remote_dir.display()
            )));
        }
        let host_keys = if self.no_strict_host_key_checking {
            HostKeyPolicy::AcceptAny
        } else {
            HostKeyPolicy::Check(self.known_hosts.clone().unwrap_or_else(default_known_hosts))
        };
        Ok(NodeSetup {
            nodes,
            options: SshOptions {
                username: self.username.clone(),
                private_key: self.ssh_private_key.clone(),
                password: self.password.clone(),
                host_keys,
                ..SshOptions::default()
            },
            remote_dir: self.remote_dir.clone(),
        })
    }
}

/// `faultline test --nodes VALUE`: a number is the count of local nodes
/// (network namespaces on this machine, as always); anything else is a list
/// of hosts reached over SSH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodesArg {
    /// Local nodes, this many.
    Count(u16),
    /// Hosts, as given (`a,b:2222,...`).
    Hosts(String),
}

impl std::str::FromStr for NodesArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<u16>() {
                Ok(n) if (1..=200).contains(&n) => Ok(NodesArg::Count(n)),
                _ => Err(format!("{t} is not in 1..=200")),
            };
        }
        parse_nodes(&t.replace(',', "\n"))?;
        Ok(NodesArg::Hosts(t.to_string()))
    }
}

impl std::fmt::Display for NodesArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodesArg::Count(n) => write!(f, "{n}"),
            NodesArg::Hosts(h) => f.write_str(h),
        }
    }
}

/// Where a test's nodes are and how to reach them, as `test.json` keeps it
/// (the password is never written).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RemoteNodes {
    /// The nodes as `host:port`, n1 first.
    pub hosts: Vec<String>,
    /// Login user.
    pub username: String,
    /// Private key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PathBuf>,
    /// Password (never written to disk).
    #[serde(skip)]
    pub password: Option<String>,
    /// known_hosts file checked, or `None` to accept any host key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    /// faultline's directory on each node (`<remote_dir>/<node>`).
    pub remote_dir: PathBuf,
    /// Leave the store running and its files in place after the test.
    #[serde(default)]
    pub leave_db_running: bool,
}

impl RemoteNodes {
    /// From resolved node flags.
    pub fn from_setup(setup: &NodeSetup, leave_db_running: bool) -> Self {
        RemoteNodes {
            hosts: setup.nodes.iter().map(SshNode::address).collect(),
            username: setup.options.username.clone(),
            private_key: setup.options.private_key.clone(),
            password: setup.options.password.clone(),
            known_hosts: match &setup.options.host_keys {
                HostKeyPolicy::Check(f) => Some(f.clone()),
                HostKeyPolicy::AcceptAny => None,
            },
            remote_dir: setup.remote_dir.clone(),
            leave_db_running,
        }
    }

    /// The nodes, named n1, n2, ...
    pub fn nodes(&self) -> Vec<SshNode> {
        parse_nodes(&self.hosts.join("\n")).expect("checked when the flags were read")
    }

    /// Login options.
    pub fn options(&self) -> SshOptions {
        SshOptions {
            username: self.username.clone(),
            private_key: self.private_key.clone(),
            password: self.password.clone(),
            host_keys: match &self.known_hosts {
                Some(f) => HostKeyPolicy::Check(f.clone()),
                None => HostKeyPolicy::AcceptAny,
            },
            ..SshOptions::default()
        }
    }
}

/// Parses a node list, one a line (`#` starts a comment), into nodes named
/// n1, n2, ...; refuses duplicates.
pub fn parse_nodes(text: &str) -> Result<Vec<SshNode>, String> {
    let mut nodes: Vec<SshNode> = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (host, port) = parse_node(line)?;
        let node = SshNode::new(format!("n{}", nodes.len() + 1), host, port);
        if let Some(d) = nodes.iter().find(|n| n.address() == node.address()) {
            return Err(format!(
                "{} is given twice (as {} and {})",
                node.address(),
                d.name,
                node.name
            ));
        }
        nodes.push(node);
    }
    if nodes.is_empty() {
        return Err("no nodes given".into());
    }
    if nodes.len() > 200 {
        return Err(format!("{} nodes: at most 200", nodes.len()));
    }
    Ok(nodes)
}

/// Parses one node: `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare
/// IPv6 address (port 22).
pub fn parse_node(spec: &str) -> Result<(String, u16), String> {
    let s = spec.trim();
    let bad = |why: &str| format!("{s:?}: {why}");
    if s.is_empty() {
        return Err("an empty node name".into());
    }
    if s.contains('@') {
        return Err(bad("give the user with --username, not user@host"));
    }
    let port_of = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad("the port must be a number from 1 to 65535")),
            Ok(n) => Ok(n),
        }
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("missing `]` after the IPv6 address"))?;
        addr.parse::<Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address inside the brackets"))?;
        let port = match after {
            "" => DEFAULT_PORT,
            p => port_of(
                p.strip_prefix(':')
                    .ok_or_else(|| bad("expected `:port` after `]`"))?,
            )?,
        };
        return Ok((addr.to_string(), port));
    }
    if s.matches(':').count() > 1 {
        return match s.parse::<Ipv6Addr>() {
            Ok(a) => Ok((a.to_string(), DEFAULT_PORT)),
            Err(_) => Err(bad(
                "not an IPv6 address; an IPv6 address with a port goes in brackets: [addr]:port",
            )),
        };
    }
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, port_of(p)?),
        None => (s, DEFAULT_PORT),
    };
    let valid = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['-', '.'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !valid {
        return Err(bad(
            "expected a host name or address, optionally with :port",
        ));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn hosts_ports_and_ipv6() {
        assert_eq!(parse_node("db1").unwrap(), ("db1".into(), 22));
        assert_eq!(
            parse_node(" db1.example.org:2222 ").unwrap(),
            ("db1.example.org".into(), 2222)
        );
        assert_eq!(
            parse_node("198.18.5.13").unwrap(),
            ("198.18.5.13".into(), 22)
        );
        assert_eq!(
            parse_node("198.18.5.13:22").unwrap(),
            ("198.18.5.13".into(), 22)
        );
        assert_eq!(parse_node("[fd00::1]").unwrap(), ("fd00::1".into(), 22));
        assert_eq!(
            parse_node("[fd00::1]:2200").unwrap(),
            ("fd00::1".into(), 2200)
        );
        assert_eq!(parse_node("fd00::1").unwrap(), ("fd00::1".into(), 22));
        assert_eq!(parse_node("::1").unwrap(), ("::1".into(), 22));
    }

    #[test]
    fn bad_nodes_are_one_line_errors_naming_the_word() {
        for (spec, words) in [
            ("db1:", "port"),
            ("db1:0", "port"),
            ("db1:70000", "port"),
            ("db1:ssh", "port"),
            ("root@db1", "--username"),
            ("[fd00::1", "`]`"),
            ("[db1]:22", "IPv6"),
            ("[fd00::1]22", "`:port`"),
            ("fd00::1:22:x", "brackets"),
            ("db 1", "host name"),
            ("db1;reboot", "host name"),
            ("-oProxyCommand=x", "host name"),
            ("$(x)", "host name"),
        ] {
            let e = parse_node(spec).unwrap_err();
            assert!(e.contains(words), "{spec}: {e}");
            assert!(
                e.contains(spec.trim()) || spec.contains('\n'),
                "{spec}: {e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn node_lists_are_named_in_order_and_checked() {
        let n = parse_nodes("a\n# a comment\n\n b:2222 # trailing\n[fd00::2]\n").unwrap();
        let got: Vec<(String, String)> = n.iter().map(|n| (n.name.clone(), n.address())).collect();
        assert_eq!(
            got,
            [("n1", "a:22"), ("n2", "b:2222"), ("n3", "[fd00::2]:22")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let e = parse_nodes("a\nb\na:22").unwrap_err();
        assert!(e.contains("a:22 is given twice"), "{e}");
        assert!(parse_nodes("# nothing\n").unwrap_err().contains("no nodes"));
    }

    #[derive(clap::Parser)]
    struct T {
        #[command(flatten)]
        ssh: SshArgs,
    }

    fn resolve(args: &[&str]) -> Result<NodeSetup, UsageError> {
        let mut v = vec!["t"];
        v.extend(args);
        T::try_parse_from(v).unwrap().ssh.resolve()
    }

    #[test]
    fn flags_resolve_to_nodes_and_options() {
        let s = resolve(&["--nodes", "a,b:2200"]).unwrap();
        assert_eq!(s.nodes.len(), 2);
        assert_eq!(s.options.username, "root");
        assert_eq!(
            s.options.host_keys,
            HostKeyPolicy::Check(default_known_hosts())
        );
        assert_eq!(s.remote_dir, PathBuf::from("/var/lib/faultline"));
        let s = resolve(&[
            "--nodes",
            "a",
            "--username",
            "admin",
            "--password",
            "pw",
            "--no-strict-host-key-checking",
        ])
        .unwrap();
        assert_eq!(s.options.username, "admin");
        assert_eq!(s.options.password.as_deref(), Some("pw"));
        assert_eq!(s.options.host_keys, HostKeyPolicy::AcceptAny);
        // The last of the pair wins.
        let s = resolve(&[
            "--nodes",
            "a",
            "--no-strict-host-key-checking",
            "--strict-host-key-checking",
            "--known-hosts",
            "/tmp/kh",
        ])
        .unwrap();
        assert_eq!(s.options.host_keys, HostKeyPolicy::Check("/tmp/kh".into()));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("nodes");
        std::fs::write(&f, "# lab\n10.0.0.1\n10.0.0.2:2222\n").unwrap();
        let s = resolve(&["--nodes-file", f.to_str().unwrap()]).unwrap();
        assert_eq!(s.nodes[1].address(), "10.0.0.2:2222");
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        let e = resolve(&[]).unwrap_err().0;
        assert!(e.contains("--nodes") && e.contains("--nodes-file"), "{e}");
        let e = resolve(&["--nodes", "a,,b:x"]).unwrap_err().0;
        assert!(e.starts_with("--nodes: \"b:x\""), "{e}");
        let e = resolve(&["--nodes-file", "/nonexistent/nodes"])
            .unwrap_err()
            .0;
        assert!(e.contains("/nonexistent/nodes"), "{e}");
        let e = resolve(&["--nodes", "a", "--ssh-private-key", "/nonexistent/key"])
            .unwrap_err()
            .0;
        assert!(e.contains("--ssh-private-key /nonexistent/key"), "{e}");
        let e = resolve(&["--nodes", "a", "--remote-dir", "rel"])
            .unwrap_err()
            .0;
        assert!(e.contains("absolute"), "{e}");
        assert!(T::try_parse_from(["t", "--nodes", "a", "--nodes-file", "f"]).is_err());
    }
}
