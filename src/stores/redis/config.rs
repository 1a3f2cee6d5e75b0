//! What each process is told: the cluster's [`Settings`] and the
//! configuration files rendered from them.
//!
//! Every node's `redis-server` listens on its own address only, keeps an
//! append-only file fsynced before each reply (so a `kill -9` loses nothing
//! acknowledged, and what goes missing is the failover's doing), and starts
//! as a replica of n1 unless it is n1 ([`server_conf`]). Each Sentinel
//! watches that primary under [`MASTER_NAME`] with quorum [`QUORUM`],
//! quick to judge it down ([`sentinel_conf`]). Both programs rewrite their
//! files as the cluster changes, so the files are only where it starts.
//! [`Role`] names which of a node's two processes a file, a log or a
//! program belongs to.

use super::{MASTER_NAME, QUORUM, SENTINEL_PORT, SERVER_PORT};
use crate::stores::StoreNode;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use workloads::redis::Mode;

/// When `redis-server` fsyncs its append-only file (`appendfsync`), as
/// faultline's `--fsync` names it: `always` before each reply, `interval`
/// once a second (`everysec`, the Debian default), `never` when the kernel
/// pleases (`no`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    /// `appendfsync always`.
    Always,
    /// `appendfsync everysec`.
    EverySec,
    /// `appendfsync no`.
    No,
}

impl AppendFsync {
    /// The policy `--fsync` names, or why Redis has none such.
    pub fn from_flag(fsync: &str) -> Result<AppendFsync, String> {
        match fsync {
            "always" => Ok(AppendFsync::Always),
            "interval" => Ok(AppendFsync::EverySec),
            "never" => Ok(AppendFsync::No),
            other => Err(format!(
                "--fsync {other} with --store redis: Redis takes always (appendfsync always), interval (everysec) or never (no)"
            )),
        }
    }

    /// The word `redis.conf` takes.
    pub fn word(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::EverySec => "everysec",
            AppendFsync::No => "no",
        }
    }
}

/// How a cluster is configured and how its clients behave.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where `redis-server` listens on each node.
    pub server_port: u16,
    /// Where a Sentinel listens.
    pub sentinel_port: u16,
    /// How long a Sentinel waits without a reply before it thinks the
    /// primary down (`down-after-milliseconds`).
    pub down_after_ms: u64,
    /// Sentinel's `failover-timeout`: also how long before a failed
    /// failover is tried again (twice this).
    pub failover_timeout_ms: u64,
    /// Keys the set is spread over.
    pub keys: usize,
    /// Plain SADD, or SADD then `WAIT 1`.
    pub mode: Mode,
    /// Each client operation's budget.
    pub op_timeout: Duration,
    /// When the append-only file is fsynced.
    pub appendfsync: AppendFsync,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server_port: SERVER_PORT,
            sentinel_port: SENTINEL_PORT,
            down_after_ms: 1500,
            failover_timeout_ms: 5000,
            keys: 5,
            mode: Mode::Plain,
            op_timeout: Duration::from_millis(2000),
            appendfsync: AppendFsync::Always,
        }
    }
}

/// Renders one node's `redis.conf`: listening on its own address only, an
/// append-only file fsynced as [`Settings::appendfsync`] says (by default
/// before each reply, so a `kill -9` or a power failure loses nothing
/// acknowledged and what goes missing is the failover's doing), a replica
/// of `primary` unless it is the primary. Sentinel rewrites it on
/// failovers.
pub fn server_conf(node: &StoreNode, primary: IpAddr, s: &Settings) -> String {
    let mut c = format!(
        "# written by faultline; Sentinel rewrites it on failovers\n\
         bind {ip}\n\
         port {port}\n\
         protected-mode no\n\
         daemonize no\n\
         logfile \"\"\n\
         dir {dir}\n\
         appendonly yes\n\
         appendfsync {fsync}\n\
         save \"\"\n\
         shutdown-timeout 0\n\
         repl-diskless-sync yes\n\
         repl-diskless-sync-delay 0\n\
         replica-announce-ip {ip}\n\
         replica-announce-port {port}\n",
        ip = node.ip,
        port = s.server_port,
        dir = quote(&data_dir(node).display().to_string()),
        fsync = s.appendfsync.word(),
    );
    if node.ip != primary {
        c.push_str(&format!("replicaof {primary} {}\n", s.server_port));
    }
    c
}

/// Renders one node's `sentinel.conf`: watching `primary` under
/// [`MASTER_NAME`] with quorum [`QUORUM`], quick to judge it down.
/// Sentinel rewrites this file as it learns (peers, replicas, epochs).
pub fn sentinel_conf(node: &StoreNode, primary: IpAddr, s: &Settings) -> String {
    format!(
        "# written by faultline; Sentinel rewrites it as it learns\n\
         bind {ip}\n\
         port {sport}\n\
         protected-mode no\n\
         daemonize no\n\
         logfile \"\"\n\
         dir {dir}\n\
         sentinel announce-ip {ip}\n\
         sentinel announce-port {sport}\n\
         sentinel monitor {MASTER_NAME} {primary} {port} {QUORUM}\n\
         sentinel down-after-milliseconds {MASTER_NAME} {down}\n\
         sentinel failover-timeout {MASTER_NAME} {failover}\n\
         sentinel parallel-syncs {MASTER_NAME} 5\n",
        ip = node.ip,
        sport = s.sentinel_port,
        port = s.server_port,
        dir = quote(&node.dir.display().to_string()),
        down = s.down_after_ms,
        failover = s.failover_timeout_ms,
    )
}

/// A path as a quoted Redis config argument.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Where `redis-server` keeps its data on `node`.
pub(super) fn data_dir(node: &StoreNode) -> PathBuf {
    node.dir.join("redis-data")
}

/// Which of a node's processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// The `redis-server`.
    Server,
    /// The `redis-sentinel`.
    Sentinel,
}

impl Role {
    /// The process's file with extension `ext` in the node's directory
    /// (`redis.conf`, `sentinel.log`, ...).
    pub(super) fn file(self, node: &StoreNode, ext: &str) -> PathBuf {
        node.dir.join(match self {
            Role::Server => format!("redis.{ext}"),
            Role::Sentinel => format!("sentinel.{ext}"),
        })
    }

    /// The program that runs it.
    pub(super) fn program(self) -> &'static str {
        match self {
            Role::Server => "redis-server",
            Role::Sentinel => "redis-sentinel",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(i: u8) -> StoreNode {
        StoreNode {
            name: format!("n{i}"),
            ip: IpAddr::from([198, 18, 0, 10 + i]),
            dir: PathBuf::from(format!("/run/x/n{i}")),
        }
    }

    #[test]
    fn configs_name_the_node_the_primary_and_the_quorum() {
        let s = Settings::default();
        let primary = node(1).ip;
        let p = server_conf(&node(1), primary, &s);
        assert!(p.contains("bind 198.18.0.11\nport 6379\n"), "{p}");
        assert!(p.contains("appendonly yes\nappendfsync always\n"));
        assert!(p.contains("dir \"/run/x/n1/redis-data\"\n"));
        assert!(!p.contains("replicaof"), "n1 starts as the primary");
        let r = server_conf(&node(4), primary, &s);
        assert!(r.contains("replicaof 198.18.0.11 6379\n"), "{r}");
        assert!(r.contains("replica-announce-ip 198.18.0.14\n"));
        let t = sentinel_conf(&node(2), primary, &s);
        assert!(
            t.contains("sentinel monitor faultline 198.18.0.11 6379 2\n"),
            "{t}"
        );
        assert!(t.contains("sentinel down-after-milliseconds faultline 1500\n"));
        assert!(t.contains("port 26379\n") && t.contains("sentinel announce-ip 198.18.0.12\n"));
        // `monitor` comes before the lines about the name it defines.
        assert!(t.find("monitor").unwrap() < t.find("down-after").unwrap());
        assert_eq!(quote("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
    }
}
