//! The DB layer for ringkv: configure, start, await and stop the nodes.
//!
//! faultline ships ringkv and runs the binary built beside it: the same
//! `cargo build` that builds the controller builds the store it tests, so a
//! fresh checkout needs nothing else.

use crate::control::{Control, DaemonSpec, Signal};
use anyhow::{bail, Context, Result};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The port every ringkv node listens on (each node has its own address).
pub const PORT: u16 = 8080;

/// Finds the `ringkv` binary: the explicit path, `$FAULTLINE_RINGKV_BIN`, or
/// next to the running `faultline` executable (or one directory up, where
/// cargo puts binaries when the caller is a test).
pub fn find_ringkv(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        bail!("--ringkv-bin {}: no such file", p.display());
    }
    if let Some(p) = std::env::var_os("FAULTLINE_RINGKV_BIN") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("FAULTLINE_RINGKV_BIN={}: no such file", p.display());
    }
    let exe = std::env::current_exe().context("locating the faultline executable")?;
    let mut dir = exe.parent();
    for _ in 0..2 {
        let Some(d) = dir else { break };
        let candidate = d.join("ringkv");
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    bail!(
        "the ringkv binary was not found next to {}; build it with `cargo build --release --workspace` or pass --ringkv-bin PATH",
        exe.display()
    )
}

/// One ringkv node as the controller tracks it.
#[derive(Clone, Debug)]
pub struct RingkvNode {
    /// Node name.
    pub name: String,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its folder in the run directory (config and log).
    pub dir: PathBuf,
    /// Pid once started.
    pub pid: Option<u32>,
}

impl RingkvNode {
    /// `ip:port` for clients.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, PORT)
    }

    /// The node's log file.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("ringkv.log")
    }
}

/// Quorum settings written into every node's config.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Quorums {
    /// Replicas per key.
    pub n: u8,
    /// Read quorum.
    pub r: u8,
    /// Write quorum.
    pub w: u8,
}

impl Default for Quorums {
    fn default() -> Self {
        Quorums { n: 3, r: 2, w: 2 }
    }
}

/// Renders one node's TOML config.
pub fn config_toml(me: &RingkvNode, all: &[RingkvNode], q: Quorums) -> String {
    let mut s = format!(
        "# written by faultline\nnode = {:?}\nlisten = {:?}\nvnodes = 64\nn = {}\nr = {}\nw = {}\nrequest_timeout_ms = 1000\n",
        me.name,
        me.addr(),
        q.n,
        q.r,
        q.w
    );
    for n in all {
        s.push_str(&format!(
            "\n[[nodes]]\nname = {:?}\naddr = {:?}\n",
            n.name,
            n.addr()
        ));
    }
    s
}

/// A running ringkv cluster.
pub struct RingkvCluster {
    control: Arc<dyn Control>,
    /// The nodes, in order.
    pub nodes: Vec<RingkvNode>,
}

impl RingkvCluster {
    /// Writes every node's config and starts every node.
    pub fn start(
        control: Arc<dyn Control>,
        bin: &Path,
        mut nodes: Vec<RingkvNode>,
        quorums: Quorums,
    ) -> Result<Self> {
        let snapshot = nodes.clone();
        for node in &mut nodes {
            std::fs::create_dir_all(&node.dir)?;
            let cfg = node.dir.join("ringkv.toml");
            std::fs::write(&cfg, config_toml(node, &snapshot, quorums))
                .with_context(|| format!("writing {}", cfg.display()))?;
            let spec = DaemonSpec {
                argv: vec![
                    bin.display().to_string(),
                    "--config".into(),
                    cfg.display().to_string(),
                ],
                log_file: node.log_file(),
                env: vec![("RUST_LOG".into(), "info".into())],
            };
            node.pid = Some(control.start_daemon(&node.name, &spec)?);
        }
        Ok(RingkvCluster { control, nodes })
    }

    /// Waits until every node answers `/health`, or explains which did not.
    pub async fn await_ready(&self, timeout: Duration) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()?;
        let deadline = Instant::now() + timeout;
        for node in &self.nodes {
            let url = format!("http://{}/health", node.addr());
            loop {
                if http
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    break;
                }
                let dead = node
                    .pid
                    .is_some_and(|p| !self.control.is_alive(&node.name, p));
                if dead || Instant::now() > deadline {
                    let log = std::fs::read_to_string(node.log_file()).unwrap_or_default();
                    let tail = log.lines().last().unwrap_or("(empty log)");
                    bail!(
                        "ringkv on {} {} ({}): last log line: {tail}",
                        node.name,
                        if dead {
                            "exited at start-up"
                        } else {
                            "did not answer /health in time"
                        },
                        node.log_file().display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Stops every node: SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        for n in &self.nodes {
            if let Some(pid) = n.pid {
                let _ = self.control.signal(&n.name, pid, Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for n in &mut self.nodes {
            if let Some(pid) = n.pid.take() {
                while self.control.is_alive(&n.name, pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if self.control.is_alive(&n.name, pid) {
                    let _ = self.control.signal(&n.name, pid, Signal::SIGKILL);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lists_every_node_and_the_quorums() {
        let nodes: Vec<RingkvNode> = (1..=3)
            .map(|i| RingkvNode {
                name: format!("n{i}"),
                ip: Ipv4Addr::new(198, 18, 0, 10 + i),
                dir: PathBuf::from("/tmp"),
                pid: None,
            })
            .collect();
        let t = config_toml(&nodes[1], &nodes, Quorums::default());
        assert!(t.contains("node = \"n2\""));
        assert!(t.contains("listen = \"198.18.0.12:8080\""));
        assert_eq!(t.matches("[[nodes]]").count(), 3);
        assert!(t.contains("n = 3\nr = 2\nw = 2"));
    }
}
