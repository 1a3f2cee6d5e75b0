//! A running Redis cluster: the servers, the Sentinels, and what the run
//! does with them.
//!
//! Launching writes every node's configuration, starts every server (n1 the
//! primary, the others its replicas), waits until every replica is online,
//! and only then starts the Sentinels: a Sentinel learns replicas from the
//! primary's INFO, which it reads when it connects and then only every
//! 10 s, and cannot fail over to a replica it does not know. Process faults
//! (kill, pause, restart) act on the servers only; a Sentinel is never a
//! fault's target, though the heal brings back one that died. Workers and
//! final readers find the primary through the Sentinels, each asking its
//! own node's Sentinel first; convergence reads each node's own server.

use super::config::{data_dir, sentinel_conf, server_conf, Role, Settings};
use super::query::query;
use super::ready::ready_once;
use super::sentinel;
use super::{check_nodes, MASTER_NAME, SENTINELS};
use crate::cluster::control::DaemonSpec;
use crate::settings::TestConfig;
use crate::stores::daemons::Daemons;
use crate::stores::DbProcesses;
use crate::stores::{FinalPlan, Placement, StoreCluster, StoreNode, WorkerPlan};
use anyhow::{bail, Context, Result};
use nemeses::NodeAddr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::redis::{RedisLocalReader, RedisSetClient};
use workloads::set::Generator;
use workloads::{Client, LocalRead, OpSource};

/// A running Redis cluster: servers, Sentinels, and the clients' settings.
pub struct RedisCluster {
    nodes: Vec<StoreNode>,
    settings: Settings,
    /// One `redis-server` per node: what kill, pause and start act on.
    servers: Daemons,
    /// The Sentinels, on the first [`SENTINELS`] nodes: never a fault's
    /// target.
    sentinels: Daemons,
    /// Each server runs under libfaketime with an offset file.
    faketime: bool,
}

impl RedisCluster {
    /// Writes every node's configuration, starts every server, waits until
    /// the replicas are online, then starts the Sentinels (at least
    /// [`MIN_NODES`](super::MIN_NODES) nodes).
    pub fn launch(settings: Settings, placement: Placement) -> Result<Self> {
        check_nodes(placement.nodes.len())?;
        let primary = placement.nodes[0].ip;
        let control = placement.control.clone();
        let servers = Daemons::new(control.clone(), Role::Server.program(), placement.remote);
        let sentinels = Daemons::new(control.clone(), Role::Sentinel.program(), placement.remote);
        // Locally, the full path (a namespace's PATH may lack it); on an
        // SSH node, whatever its PATH finds.
        let program = |role: Role| match placement.remote {
            true => role.program().to_string(),
            false => crate::cluster::control::os::find_program(role.program())
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| role.program().to_string()),
        };
        for (i, node) in placement.nodes.iter().enumerate() {
            let mut files = vec![(
                Role::Server.file(node, "conf"),
                server_conf(node, primary, &settings),
            )];
            if i < SENTINELS {
                files.push((
                    Role::Sentinel.file(node, "conf"),
                    sentinel_conf(node, primary, &settings),
                ));
            }
            let clock = node.dir.join("faketime.rc");
            if placement.faketime.is_some() {
                files.push((clock.clone(), nemeses::clock::faketime_offset(0)));
            }
            if placement.remote {
                let mkdir = ["mkdir", "-p", "--", &data_dir(node).display().to_string()]
                    .map(str::to_string);
                control.exec(&node.name, &mkdir, Duration::from_secs(20))?;
                for (path, text) in &files {
                    control.write_file(&node.name, path, text)?;
                }
            } else {
                std::fs::create_dir_all(data_dir(node))
                    .with_context(|| format!("creating {}", data_dir(node).display()))?;
                for (path, text) in &files {
                    std::fs::write(path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
            }
            let env = match &placement.faketime {
                Some(lib) => vec![
                    ("LD_PRELOAD".to_string(), lib.display().to_string()),
                    (
                        "FAKETIME_TIMESTAMP_FILE".into(),
                        clock.display().to_string(),
                    ),
                    ("FAKETIME_NO_CACHE".into(), "1".into()),
                    ("DONT_FAKE_MONOTONIC".into(), "1".into()),
                ],
                None => Vec::new(),
            };
            let spec = |role: Role, env| DaemonSpec {
                argv: vec![program(role), role.file(node, "conf").display().to_string()],
                log_file: role.file(node, "log"),
                env,
            };
            servers.add(
                &node.name,
                spec(Role::Server, env),
                SocketAddr::new(node.ip, settings.server_port),
            );
            if i < SENTINELS {
                sentinels.add(
                    &node.name,
                    spec(Role::Sentinel, Vec::new()),
                    SocketAddr::new(node.ip, settings.sentinel_port),
                );
            }
        }
        let cluster = RedisCluster {
            nodes: placement.nodes,
            settings,
            servers,
            sentinels,
            faketime: placement.faketime.is_some(),
        };
        cluster.servers.spawn_all()?;
        // Sentinels start once every replica is online: a Sentinel learns
        // replicas from the primary's INFO, which it reads when it connects
        // and then only every 10 s, and cannot fail over to a replica it
        // does not know.
        cluster.await_replicas(Duration::from_secs(20))?;
        cluster.sentinels.spawn_all()?;
        Ok(cluster)
    }

    /// The nodes, in order.
    pub fn store_nodes(&self) -> Vec<StoreNode> {
        self.nodes.clone()
    }

    /// The settings the cluster runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// `node`'s `redis-server` address.
    pub fn server_addr(&self, node: &StoreNode) -> SocketAddr {
        SocketAddr::new(node.ip, self.settings.server_port)
    }

    /// The Sentinels' addresses, in node order.
    pub fn sentinel_addrs(&self) -> Vec<SocketAddr> {
        self.nodes
            .iter()
            .take(SENTINELS)
            .map(|n| SocketAddr::new(n.ip, self.settings.sentinel_port))
            .collect()
    }

    /// The Sentinels in the order a client on the `index`-th node asks
    /// them: its own node's first (nodes past the Sentinels' start at
    /// `index mod 3`, spreading them), then the rest in ring order.
    pub fn sentinel_order(&self, index: usize) -> Vec<SocketAddr> {
        let all = self.sentinel_addrs();
        let first = index % all.len();
        all[first..].iter().chain(&all[..first]).copied().collect()
    }

    /// A set client for a worker (or final reader) bound to the `index`-th
    /// node.
    pub fn client(&self, index: usize) -> Arc<RedisSetClient> {
        Arc::new(RedisSetClient::new(
            self.sentinel_order(index),
            MASTER_NAME,
            self.settings.mode,
            self.settings.keys,
            self.settings.op_timeout,
        ))
    }

    /// A reader of the `index`-th node's own server, for convergence.
    pub fn local_reader(&self, index: usize) -> Arc<RedisLocalReader> {
        Arc::new(RedisLocalReader::new(
            self.server_addr(&self.nodes[index]),
            self.nodes.iter().map(|n| n.name.clone()).collect(),
            self.settings.op_timeout,
        ))
    }

    fn daemons(&self, role: Role) -> &Daemons {
        match role {
            Role::Server => &self.servers,
            Role::Sentinel => &self.sentinels,
        }
    }

    /// The end of a node's log (server or Sentinel), for error messages.
    fn last_log_line(&self, node: &StoreNode, role: Role) -> String {
        format!(
            "{} on {}: last log line: {}",
            role.program(),
            node.name,
            self.daemons(role).last_log_line(&node.name)
        )
    }

    /// Asks every Sentinel for the primary; the address a majority of
    /// them names, or `None`. Blocking, each Sentinel bounded by `timeout`.
    pub fn agreed_primary(&self, timeout: Duration) -> (Option<SocketAddr>, Vec<String>) {
        sentinel::agreed_primary(&self.sentinel_addrs(), timeout)
    }

    /// Waits (blocking) until the first node's server, the initial primary,
    /// has every other server as an online replica; or names the node that
    /// is not, with the last line of its log.
    fn await_replicas(&self, timeout: Duration) -> Result<()> {
        let nodes = self.store_nodes();
        let primary = self.server_addr(&nodes[0]);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = nodes.iter().find(|n| !self.servers.is_alive(&n.name)) {
                bail!(
                    "redis-server exited at start-up: {}",
                    self.last_log_line(n, Role::Server)
                );
            }
            let info: String = query(
                primary,
                redis::cmd("INFO").arg("replication"),
                Duration::from_millis(500),
            )
            .unwrap_or_default();
            let missing: Vec<&StoreNode> = nodes[1..]
                .iter()
                .filter(|n| {
                    let me = format!(
                        "ip={},port={},state=online",
                        n.ip, self.settings.server_port
                    );
                    !info
                        .lines()
                        .any(|l| l.starts_with("slave") && l.contains(&me))
                })
                .collect();
            let Some(late) = missing.first() else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                let who = if info.is_empty() { &nodes[0] } else { late };
                bail!(
                    "redis replication did not start within {:.0} s ({} of {} replicas online): {}",
                    timeout.as_secs_f64(),
                    nodes.len() - 1 - missing.len(),
                    nodes.len() - 1,
                    self.last_log_line(who, Role::Server)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node whose server listens at `addr`.
    fn node_at(&self, addr: SocketAddr) -> Option<String> {
        self.store_nodes()
            .into_iter()
            .find(|n| self.server_addr(n) == addr)
            .map(|n| n.name)
    }
}

impl DbProcesses for RedisCluster {
    fn kill(&self, node: &str) -> Result<()> {
        self.servers.kill(node)
    }

    fn start(&self, node: &str) -> Result<()> {
        self.servers.start(node)
    }

    fn pids(&self, node: &str) -> Vec<u32> {
        self.servers.pids(node)
    }

    fn pause(&self, node: &str) -> Result<()> {
        self.servers.pause(node)
    }

    fn resume(&self, node: &str) -> Result<()> {
        self.servers.resume(node)
    }

    fn clock_file(&self, node: &str) -> Option<PathBuf> {
        let n = self.nodes.iter().find(|n| n.name == node)?;
        self.faketime.then(|| n.dir.join("faketime.rc"))
    }

    fn leave(&self, _node: &str) -> Result<()> {
        bail!("redis has no membership changes")
    }

    fn join(&self, _node: &str) -> Result<()> {
        bail!("redis has no membership changes")
    }

    /// Resumes and restarts the servers; a Sentinel is never a fault's
    /// target, but one that died is brought back all the same.
    fn heal(&self) -> Result<()> {
        let servers = self.servers.heal();
        let sentinels = self.sentinels.heal();
        servers.and(sentinels)
    }

    /// The node a majority of the Sentinels names as primary.
    fn primary(&self) -> Result<Option<String>> {
        let (agreed, answers) = self.agreed_primary(Duration::from_secs(1));
        match agreed {
            None => {
                tracing::debug!("no primary agreed: {}", answers.join("; "));
                Ok(None)
            }
            Some(addr) => match self.node_at(addr) {
                Some(n) => Ok(Some(n)),
                None => bail!("the Sentinels name {addr} as primary, which is no node's server"),
            },
        }
    }
}

#[async_trait::async_trait]
impl StoreCluster for RedisCluster {
    fn nodes(&self) -> Vec<NodeAddr> {
        self.store_nodes().iter().map(StoreNode::addr).collect()
    }

    /// Waits until every server answers PING, the Sentinels agree on a
    /// primary, and every other server replicates from it with its link
    /// up; or names the node and the last line of its log.
    async fn await_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            // A process that died will not come round.
            for (role, n) in self
                .nodes
                .iter()
                .flat_map(|n| [(Role::Server, n), (Role::Sentinel, n)])
            {
                let d = self.daemons(role);
                if d.nodes().contains(&n.name) && !d.is_alive(&n.name) {
                    bail!("{} exited: {}", role.program(), self.last_log_line(n, role));
                }
            }
            let (nodes, settings) = (self.store_nodes(), self.settings.clone());
            let why = tokio::task::spawn_blocking(move || ready_once(&nodes, &settings))
                .await
                .expect("readiness check panicked");
            let Err((node, role, why)) = why else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                let log = self.last_log_line(&node, role);
                bail!(
                    "redis not ready within {:.0} s: {why}; {log}",
                    timeout.as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The Sentinels first (no failover while the servers go), then the
    /// servers: SIGCONT, SIGTERM, then SIGKILL after a grace period.
    fn stop(&self) {
        self.sentinels.stop_all();
        self.servers.stop_all();
    }

    fn log_files(&self, node: &str) -> Vec<PathBuf> {
        [&self.servers, &self.sentinels]
            .iter()
            .filter_map(|d| d.log_file(node))
            .collect()
    }

    /// `cfg.concurrency` workers, worker `w` on node `w mod nodes`, all
    /// drawing from one set generator.
    fn workers(&self, cfg: &TestConfig) -> Result<Vec<WorkerPlan>> {
        let nodes = self.store_nodes();
        let ops: Arc<dyn OpSource> = Arc::new(Generator::new());
        Ok((0..cfg.concurrency)
            .map(|w| {
                let i = w % nodes.len();
                WorkerPlan {
                    targets: vec![(nodes[i].name.clone(), self.client(i) as Arc<dyn Client>)],
                    ops: ops.clone(),
                }
            })
            .collect())
    }

    /// The whole set read through discovery from every node, then every
    /// key read on every node's own server until they agree.
    fn final_plan(&self, _cfg: &TestConfig) -> Result<Option<FinalPlan>> {
        let nodes = self.store_nodes();
        Ok(Some(FinalPlan {
            ops: vec![Generator::final_read()],
            readers: (0..nodes.len())
                .map(|i| (nodes[i].name.clone(), self.client(i) as Arc<dyn Client>))
                .collect(),
            keys: (0..self.settings.keys.max(1))
                .map(|k| format!("set-{k}"))
                .collect(),
            local: (0..nodes.len())
                .map(|i| {
                    (
                        nodes[i].name.clone(),
                        self.local_reader(i) as Arc<dyn LocalRead>,
                    )
                })
                .collect(),
            settled_when_agreed: true,
        }))
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        StoreCluster::stop(self);
    }
}
