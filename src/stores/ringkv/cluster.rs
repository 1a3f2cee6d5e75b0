//! The DB layer for ringkv: configure, start, await and stop the nodes.
//!
//! faultline ships ringkv and runs the binary built beside it: the same
//! `cargo build` that builds the controller builds the store it tests, so a
//! fresh checkout needs nothing else.

use crate::cluster::control::{Control, DaemonSpec, Signal};
use crate::settings::Replication;
use anyhow::{bail, Context, Result};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The port every ringkv node listens on (each node has its own address).
pub const PORT: u16 = 8080;

/// Finds the `ringkv` binary: the explicit path, `$FAULTLINE_RINGKV_BIN`, or
/// next to the running `faultline` executable (or one directory up, where
/// cargo puts binaries when the caller is a test).
pub fn find_ringkv(explicit: Option<&Path>) -> Result<PathBuf> {
    crate::cluster::shipped::find("ringkv", explicit, "--ringkv-bin")
}

/// One ringkv node as the controller tracks it.
#[derive(Clone, Debug)]
pub struct RingkvNode {
    /// Node name.
    pub name: String,
    /// Its address.
    pub ip: IpAddr,
    /// Its folder (config, log, clock offset, data): in the run directory
    /// for local nodes, `<remote dir>/<node>` on an SSH node.
    pub dir: PathBuf,
    /// Pid while running.
    pub pid: Option<u32>,
    /// True while SIGSTOPped.
    pub paused: bool,
    /// True after a leave, until it joins again.
    pub left: bool,
}

impl RingkvNode {
    /// A node that has not started yet.
    pub fn new(name: &str, ip: impl Into<IpAddr>, dir: PathBuf) -> Self {
        let ip = ip.into();
        RingkvNode {
            name: name.to_string(),
            ip,
            dir,
            pid: None,
            paused: false,
            left: false,
        }
    }

    /// `ip:port` for clients.
    pub fn addr(&self) -> String {
        std::net::SocketAddr::new(self.ip, PORT).to_string()
    }

    /// The node's log file.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("ringkv.log")
    }

    /// The libfaketime offset file (used when clock faults are on).
    pub fn clock_file(&self) -> PathBuf {
        self.dir.join("faketime.rc")
    }
}

/// Renders one node's TOML config.
pub fn config_toml(me: &RingkvNode, all: &[RingkvNode], q: &Replication) -> String {
    let mut s = format!(
        "# written by faultline\nnode = {:?}\nlisten = {:?}\nvnodes = 64\nn = {}\nr = {}\nw = {}\nconflict = {:?}\nsloppy_quorum = {}\nread_repair = {}\nanti_entropy_interval_ms = {}\nrequest_timeout_ms = 1000\n",
        me.name,
        me.addr(),
        q.n,
        q.r,
        q.w,
        q.conflict.name(),
        q.sloppy_quorum,
        q.read_repair,
        q.anti_entropy_ms
    );
    if q.fsync != "off" {
        s.push_str(&format!(
            "data_dir = {:?}\nfsync = {:?}\n",
            me.dir.join("data").display().to_string(),
            q.fsync
        ));
    }
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
    bin: PathBuf,
    quorums: Replication,
    faketime: Option<PathBuf>,
    nodes: Mutex<Vec<RingkvNode>>,
    /// The nodes' files live on other machines: written through the
    /// control layer, never with `std::fs`.
    remote: bool,
}

impl RingkvCluster {
    /// Writes every node's config and starts every node. With `faketime`
    /// (libfaketime's path), nodes run under it with an offset file each, so
    /// a clock nemesis can move their wall clocks.
    pub fn start(
        control: Arc<dyn Control>,
        bin: &Path,
        nodes: Vec<RingkvNode>,
        quorums: Replication,
        faketime: Option<PathBuf>,
    ) -> Result<Self> {
        Self::start_on(control, bin, nodes, quorums, faketime, false)
    }

    /// [`RingkvCluster::start`], with `remote` telling whether the nodes'
    /// directories are on other machines (SSH): then the configs and
    /// clock offset files travel through [`Control::write_file`] and the
    /// directories are made with `mkdir -p` on the node.
    pub fn start_on(
        control: Arc<dyn Control>,
        bin: &Path,
        nodes: Vec<RingkvNode>,
        quorums: Replication,
        faketime: Option<PathBuf>,
        remote: bool,
    ) -> Result<Self> {
        for node in &nodes {
            let cfg = node.dir.join("ringkv.toml");
            let text = config_toml(node, &nodes, &quorums);
            if remote {
                let mkdir = ["mkdir", "-p", "--"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain([node.dir.display().to_string()])
                    .collect::<Vec<_>>();
                control.exec(&node.name, &mkdir, Duration::from_secs(20))?;
                control.write_file(&node.name, &cfg, &text)?;
                if faketime.is_some() {
                    control.write_file(
                        &node.name,
                        &node.clock_file(),
                        &nemeses::clock::faketime_offset(0),
                    )?;
                }
                continue;
            }
            std::fs::create_dir_all(&node.dir)?;
            std::fs::write(&cfg, text).with_context(|| format!("writing {}", cfg.display()))?;
            if faketime.is_some() {
                std::fs::write(node.clock_file(), nemeses::clock::faketime_offset(0))?;
            }
        }
        let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
        let cluster = RingkvCluster {
            control,
            bin: bin.to_path_buf(),
            quorums,
            faketime,
            nodes: Mutex::new(nodes),
            remote,
        };
        for n in &names {
            cluster.spawn(n)?;
        }
        Ok(cluster)
    }

    /// A snapshot of the nodes.
    pub fn nodes(&self) -> Vec<RingkvNode> {
        self.nodes.lock().unwrap().clone()
    }

    /// The quorum settings the nodes run with.
    pub fn quorums(&self) -> &Replication {
        &self.quorums
    }

    fn spawn(&self, name: &str) -> Result<()> {
        let mut nodes = self.nodes.lock().unwrap();
        let node = nodes
            .iter_mut()
            .find(|n| n.name == name)
            .with_context(|| format!("no node {name}"))?;
        let mut env = vec![("RUST_LOG".to_string(), "info".to_string())];
        if let Some(lib) = &self.faketime {
            env.extend([
                ("LD_PRELOAD".into(), lib.display().to_string()),
                (
                    "FAKETIME_TIMESTAMP_FILE".into(),
                    node.clock_file().display().to_string(),
                ),
                ("FAKETIME_NO_CACHE".into(), "1".into()),
                ("DONT_FAKE_MONOTONIC".into(), "1".into()),
            ]);
        }
        let spec = DaemonSpec {
            argv: vec![
                if self.remote {
                    // Uploaded into each node's own directory.
                    crate::cluster::remote::node_binary(&node.dir)
                        .display()
                        .to_string()
                } else {
                    self.bin.display().to_string()
                },
                "--config".into(),
                node.dir.join("ringkv.toml").display().to_string(),
            ],
            log_file: node.log_file(),
            env,
        };
        node.pid = Some(self.control.start_daemon(&node.name, &spec)?);
        node.paused = false;
        Ok(())
    }

    fn with_node<T>(&self, name: &str, f: impl FnOnce(&mut RingkvNode) -> T) -> Result<T> {
        let mut nodes = self.nodes.lock().unwrap();
        let node = nodes
            .iter_mut()
            .find(|n| n.name == name)
            .with_context(|| format!("no node {name}"))?;
        Ok(f(node))
    }

    fn signal(&self, name: &str, sig: Signal) -> Result<()> {
        let pid = self.with_node(name, |n| n.pid)?;
        if let Some(pid) = pid {
            self.control.signal(name, pid, sig)?;
        }
        Ok(())
    }

    /// Waits until every node answers `/health`, or explains which did not.
    pub async fn await_ready(&self, timeout: Duration) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()?;
        let deadline = Instant::now() + timeout;
        for node in self.nodes() {
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
                    let log = self.log_text(&node);
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

    /// The node's log (the end of it, for a remote node).
    fn log_text(&self, node: &RingkvNode) -> String {
        if !self.remote {
            return std::fs::read_to_string(node.log_file()).unwrap_or_default();
        }
        let argv = ["tail", "-n", "20", "--"]
            .iter()
            .map(|s| s.to_string())
            .chain([node.log_file().display().to_string()])
            .collect::<Vec<_>>();
        self.control
            .exec(&node.name, &argv, Duration::from_secs(10))
            .map(|o| o.stdout)
            .unwrap_or_default()
    }

    /// Stops every node: SIGCONT (a paused process cannot die gracefully),
    /// SIGTERM, then SIGKILL after a grace period.
    pub fn stop(&self) {
        let mut nodes = self.nodes.lock().unwrap();
        for n in nodes.iter() {
            if let Some(pid) = n.pid {
                let _ = self.control.signal(&n.name, pid, Signal::SIGCONT);
                let _ = self.control.signal(&n.name, pid, Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for n in nodes.iter_mut() {
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

impl crate::stores::DbProcesses for RingkvCluster {
    fn kill(&self, node: &str) -> Result<()> {
        let pid = self.with_node(node, |n| n.pid.take())?;
        if let Some(pid) = pid {
            self.control.signal(node, pid, Signal::SIGKILL)?;
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.control.is_alive(node, pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.with_node(node, |n| n.paused = false)?;
        Ok(())
    }

    fn pids(&self, node: &str) -> Vec<u32> {
        self.with_node(node, |n| n.pid)
            .ok()
            .flatten()
            .filter(|p| self.control.is_alive(node, *p))
            .into_iter()
            .collect()
    }

    fn start(&self, node: &str) -> Result<()> {
        let running = self.with_node(node, |n| n.pid)?;
        if running.is_some_and(|p| self.control.is_alive(node, p)) {
            return Ok(());
        }
        self.spawn(node)?;
        let addr = self.with_node(node, |n| n.addr())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let sock: std::net::SocketAddr = addr.parse()?;
        while std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                bail!("ringkv on {node} did not come back within 10 s after a restart");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn pause(&self, node: &str) -> Result<()> {
        self.signal(node, Signal::SIGSTOP)?;
        self.with_node(node, |n| n.paused = true)
    }

    fn resume(&self, node: &str) -> Result<()> {
        self.signal(node, Signal::SIGCONT)?;
        self.with_node(node, |n| n.paused = false)
    }

    fn leave(&self, node: &str) -> Result<()> {
        let addr = self.with_node(node, |n| n.addr())?;
        admin_post(&addr, "/admin/leave").with_context(|| format!("asking {node} to leave"))?;
        self.with_node(node, |n| n.left = true)
    }

    fn join(&self, node: &str) -> Result<()> {
        let addr = self.with_node(node, |n| n.addr())?;
        admin_post(&addr, "/admin/join").with_context(|| format!("asking {node} to join"))?;
        self.with_node(node, |n| n.left = false)
    }

    fn clock_file(&self, node: &str) -> Option<PathBuf> {
        self.faketime.as_ref()?;
        self.with_node(node, |n| n.clock_file()).ok()
    }

    fn heal(&self) -> Result<()> {
        let mut first_err = None;
        for n in self.nodes() {
            if n.paused {
                if let Err(e) = self.resume(&n.name) {
                    first_err.get_or_insert(e);
                }
            }
            if let Err(e) = self.start(&n.name) {
                first_err.get_or_insert(e);
            }
        }
        // Joins come after restarts: a restarted node must be up to join.
        for n in self.nodes().into_iter().filter(|n| n.left) {
            if let Err(e) = self.join(&n.name) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// POSTs to one of ringkv's admin endpoints (a fixed path, no body) and
/// checks for a 200, with a short timeout: a plain HTTP/1.1 exchange, so the
/// blocking DB layer needs no async runtime.
fn admin_post(addr: &str, path: &'static str) -> Result<()> {
    use std::io::{Read, Write};
    let sock: std::net::SocketAddr = addr.parse()?;
    let timeout = Duration::from_secs(2);
    let mut stream = std::net::TcpStream::connect_timeout(&sock, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let status = reply.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        bail!("POST {path} on {addr}: {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Conflict;

    #[test]
    fn config_lists_every_node_and_the_quorums() {
        let nodes: Vec<RingkvNode> = (1..=3)
            .map(|i| {
                RingkvNode::new(
                    &format!("n{i}"),
                    std::net::Ipv4Addr::new(198, 18, 0, 10 + i),
                    PathBuf::from("/tmp"),
                )
            })
            .collect();
        let t = config_toml(&nodes[1], &nodes, &Replication::default());
        assert!(t.contains("node = \"n2\""));
        assert!(t.contains("listen = \"198.18.0.12:8080\""));
        assert_eq!(t.matches("[[nodes]]").count(), 3);
        assert!(t.contains("n = 3\nr = 2\nw = 2"));
        // ringkv itself accepts it, knob for knob.
        let q = Replication {
            conflict: Conflict::Dvv,
            sloppy_quorum: true,
            read_repair: false,
            anti_entropy_ms: 0,
            ..Replication::default()
        };
        let c = ringkv::Config::from_toml_str(&config_toml(&nodes[0], &nodes, &q), Path::new("t"))
            .unwrap();
        assert_eq!(c.conflict, ringkv::versioning::Mode::Dvv);
        assert!(c.sloppy_quorum && !c.read_repair && c.anti_entropy_interval.is_zero());
        assert_eq!(c.data_dir, Some(PathBuf::from("/tmp/data")));
        assert_eq!(c.fsync, ringkv::durable::FsyncPolicy::Always);
        assert_eq!((c.n, c.r, c.w, c.nodes.len()), (3, 2, 2, 3));
    }
}
