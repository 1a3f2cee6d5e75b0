//! Redis with Sentinel: one primary, replicas, three Sentinels that fail
//! over (`--store redis`).
//!
//! Every node runs a `redis-server` (n1 starts as the primary, the others
//! as its replicas); the first three nodes also run a `redis-sentinel`
//! watching the primary under the name [`MASTER_NAME`], quorum 2. Clients
//! find the primary through the Sentinels (`workloads::redis`). Replication
//! is asynchronous, so a primary isolated by a partition keeps acknowledging
//! SADDs while the Sentinels on the majority side promote a replica; when the
//! partition heals, the old primary becomes a replica of the new one and
//! drops what it acknowledged alone. The `set` checkers name those elements:
//! `--nemesis partition --nemesis-targets primary` shows it (README, Stores).
//!
//! Process faults (kill, pause) act on `redis-server` only: the Sentinels
//! keep watching, as they would on real machines where the database dies
//! and the monitor does not. Clock faults move `redis-server`'s wall clock
//! (it is C, so libfaketime reaches it) but never a Sentinel's: Sentinel
//! times its failure detection on the wall clock and enters its TILT mode on
//! a jump, which is Sentinel's own protection, not the replication this
//! store tests. Redis has no membership changes (leave, join).

use crate::cluster::control::os::Requirement;
use crate::cluster::control::DaemonSpec;
use crate::settings::TestConfig;
use crate::stores::daemons::Daemons;
use crate::stores::DbProcesses;
use crate::stores::{FinalPlan, Placement, Store, StoreCluster, StoreNode, WorkerPlan};
use crate::UsageError;
use anyhow::{bail, Context, Result};
use nemeses::NodeAddr;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::redis::{Mode, RedisLocalReader, RedisSetClient};
use workloads::set::Generator;
use workloads::{Client, LocalRead, OpSource};

pub use workloads::redis::MASTER_NAME;

/// The port every `redis-server` listens on (each node has its own address).
pub const SERVER_PORT: u16 = 6379;

/// The port every Sentinel listens on.
pub const SENTINEL_PORT: u16 = 26379;

/// How many Sentinels run (on the first nodes), and how many must agree
/// that the primary is down.
pub const SENTINELS: usize = 3;

/// The Sentinels' quorum: a majority of [`SENTINELS`].
pub const QUORUM: usize = 2;

/// The fewest nodes a cluster can have: one per Sentinel.
pub const MIN_NODES: usize = SENTINELS;

/// What the nodes need installed.
pub const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        program: "redis-server",
        package: "redis-server",
        purpose: "the redis store",
    },
    Requirement {
        program: "redis-sentinel",
        package: "redis-sentinel",
        purpose: "the redis store's failover",
    },
];

/// The one-line usage error for a cluster too small for three Sentinels.
pub fn check_nodes(nodes: usize) -> Result<(), UsageError> {
    if nodes < MIN_NODES {
        return Err(UsageError(format!(
            "--store redis needs at least {MIN_NODES} nodes (one per Sentinel), got --nodes {nodes}"
        )));
    }
    Ok(())
}

/// The `redis` store.
pub struct Redis;

impl Store for Redis {
    fn name(&self) -> &str {
        "redis"
    }

    fn validate(&self, workload: &str, client: Option<&str>) -> Result<String, UsageError> {
        if workload != "set" {
            return Err(UsageError(format!(
                "--store redis runs the set workload only (SADD and SMEMBERS through the primary), not --workload {workload}"
            )));
        }
        Mode::parse(client.unwrap_or("plain"))
            .map(|m| m.name().to_string())
            .map_err(|e| UsageError(format!("--store redis: {e}")))
    }

    fn requirements(&self) -> Vec<Requirement> {
        REQUIREMENTS.to_vec()
    }

    fn ports(&self) -> Vec<u16> {
        vec![SERVER_PORT, SENTINEL_PORT]
    }

    fn unsupported_fault(&self, kind: &str) -> Option<String> {
        match kind {
            "membership" => Some(
                "redis has no membership changes: a node cannot leave and join the replication set"
                    .into(),
            ),
            _ => None,
        }
    }

    fn check_config(&self, cfg: &TestConfig) -> Result<(), UsageError> {
        check_nodes(cfg.nodes)
    }

    fn has_primary(&self) -> bool {
        true
    }

    fn start(&self, cfg: &TestConfig, placement: Placement) -> Result<Arc<dyn StoreCluster>> {
        let mode = Mode::parse(&cfg.client).map_err(|e| UsageError(e.to_string()))?;
        let settings = Settings {
            keys: cfg.keys,
            mode,
            op_timeout: Duration::from_millis(cfg.op_timeout_ms),
            ..Settings::default()
        };
        Ok(Arc::new(RedisCluster::launch(settings, placement)?))
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
        }
    }
}

/// Renders one node's `redis.conf`: listening on its own address only, an
/// append-only file fsynced before each reply (so a `kill -9` loses
/// nothing acknowledged and what goes missing is the failover's doing), a
/// replica of `primary` unless it is the primary. Sentinel rewrites it on
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
         appendfsync always\n\
         save \"\"\n\
         shutdown-timeout 0\n\
         repl-diskless-sync yes\n\
         repl-diskless-sync-delay 0\n\
         replica-announce-ip {ip}\n\
         replica-announce-port {port}\n",
        ip = node.ip,
        port = s.server_port,
        dir = quote(&data_dir(node).display().to_string()),
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

fn data_dir(node: &StoreNode) -> PathBuf {
    node.dir.join("redis-data")
}

/// Which of a node's processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Server,
    Sentinel,
}

impl Role {
    fn file(self, node: &StoreNode, ext: &str) -> PathBuf {
        node.dir.join(match self {
            Role::Server => format!("redis.{ext}"),
            Role::Sentinel => format!("sentinel.{ext}"),
        })
    }

    fn program(self) -> &'static str {
        match self {
            Role::Server => "redis-server",
            Role::Sentinel => "redis-sentinel",
        }
    }
}

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
    /// [`MIN_NODES`] nodes).
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
        let mut answers: Vec<(SocketAddr, Result<Option<SocketAddr>, String>)> = Vec::new();
        for s in self.sentinel_addrs() {
            answers.push((s, sentinel_primary(s, timeout)));
        }
        let mut counts: Vec<(SocketAddr, usize)> = Vec::new();
        for (_, a) in &answers {
            if let Ok(Some(p)) = a {
                match counts.iter_mut().find(|(q, _)| q == p) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((*p, 1)),
                }
            }
        }
        let shown = answers
            .iter()
            .map(|(s, a)| match a {
                Ok(Some(p)) => format!("Sentinel {s} names {p}"),
                Ok(None) => format!("Sentinel {s} names no primary"),
                Err(e) => format!("Sentinel {s}: {e}"),
            })
            .collect();
        let majority = answers.len() / 2 + 1;
        let agreed = counts
            .into_iter()
            .find(|(_, c)| *c >= majority)
            .map(|(p, _)| p);
        (agreed, shown)
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

/// Why a cluster is not ready yet: the node, which of its processes, what.
type NotReady = (StoreNode, Role, String);

/// One pass of the readiness check: `Ok` when every server answers, all
/// Sentinels name one primary, it says it is the primary and every other
/// server replicates from it with its link up; else what is not so yet,
/// and on which node. Blocking.
fn ready_once(nodes: &[StoreNode], s: &Settings) -> std::result::Result<(), NotReady> {
    let t = Duration::from_millis(500);
    let server = |n: &StoreNode| SocketAddr::new(n.ip, s.server_port);
    for n in nodes {
        if let Err(e) = query::<String>(server(n), &redis::cmd("PING"), t) {
            return Err((n.clone(), Role::Server, format!("PING: {e}")));
        }
    }
    let answers: Vec<(usize, Result<Option<SocketAddr>, String>)> = nodes
        .iter()
        .take(SENTINELS)
        .enumerate()
        .map(|(i, n)| {
            (
                i,
                sentinel_primary(SocketAddr::new(n.ip, s.sentinel_port), t),
            )
        })
        .collect();
    let mut primary = None;
    for (i, a) in &answers {
        let n = nodes[*i].clone();
        match a {
            Err(e) => return Err((n, Role::Sentinel, e.clone())),
            Ok(None) => return Err((n, Role::Sentinel, "names no primary".into())),
            Ok(Some(p)) => match primary {
                None => primary = Some(*p),
                Some(q) if q == *p => {}
                Some(q) => {
                    return Err((
                        n,
                        Role::Sentinel,
                        format!("names {p} as primary while another Sentinel names {q}"),
                    ))
                }
            },
        }
    }
    let primary = primary.expect("three Sentinels answered");
    // Each Sentinel knows every replica (or it could not promote one) and
    // the other Sentinels (or it could not win a failover vote).
    for (i, n) in nodes.iter().take(SENTINELS).enumerate() {
        let sentinel = SocketAddr::new(n.ip, s.sentinel_port);
        let fields: Vec<String> = query(
            sentinel,
            redis::cmd("SENTINEL").arg("MASTER").arg(MASTER_NAME),
            t,
        )
        .map_err(|e| (n.clone(), Role::Sentinel, e))?;
        let field = |k: &str| -> usize {
            fields
                .chunks(2)
                .find(|kv| kv[0] == k)
                .and_then(|kv| kv.get(1)?.parse().ok())
                .unwrap_or(0)
        };
        let (replicas, peers) = (field("num-slaves"), field("num-other-sentinels"));
        if replicas + 1 < nodes.len() || peers + 1 < SENTINELS {
            return Err((
                n.clone(),
                Role::Sentinel,
                format!(
                    "Sentinel {} knows {replicas} of {} replicas and {peers} of {} other Sentinels",
                    i + 1,
                    nodes.len() - 1,
                    SENTINELS - 1
                ),
            ));
        }
    }
    for n in nodes {
        let addr = server(n);
        let info: String = query(addr, redis::cmd("INFO").arg("replication"), t)
            .map_err(|e| (n.clone(), Role::Server, format!("INFO: {e}")))?;
        let field = |k: &str| {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{k}:")).map(str::to_string))
                .unwrap_or_default()
        };
        let role = field("role");
        if addr == primary {
            if role != "master" {
                return Err((
                    n.clone(),
                    Role::Server,
                    format!("the Sentinels name it primary but it is a {role}"),
                ));
            }
            continue;
        }
        let source = format!("{}:{}", field("master_host"), field("master_port"));
        let wanted = format!("{}:{}", primary.ip(), primary.port());
        if role != "slave" || source != wanted || field("master_link_status") != "up" {
            return Err((
                n.clone(),
                Role::Server,
                format!(
                    "not yet a replica of {primary} with its link up (role {role}, primary {source}, link {})",
                    field("master_link_status")
                ),
            ));
        }
    }
    Ok(())
}

/// Runs one command on the server at `addr` (a fresh connection, each step
/// bounded by `timeout`).
fn query<T: redis::FromRedisValue>(
    addr: SocketAddr,
    cmd: &redis::Cmd,
    timeout: Duration,
) -> std::result::Result<T, String> {
    let client = redis::Client::open(format!("redis://{addr}/")).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(timeout))
        .and_then(|_| conn.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    cmd.query(&mut conn).map_err(|e| e.to_string())
}

/// What the Sentinel at `addr` names as the primary.
fn sentinel_primary(
    addr: SocketAddr,
    timeout: Duration,
) -> std::result::Result<Option<SocketAddr>, String> {
    let reply: Option<(String, u16)> = query(
        addr,
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER_NAME),
        timeout,
    )?;
    reply
        .map(|(ip, port)| {
            ip.parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, port))
                .map_err(|e| format!("primary address {ip:?}: {e}"))
        })
        .transpose()
}

impl DbProcesses for RedisCluster {
    fn kill(&self, node: &str) -> Result<()> {
        self.servers.kill(node)
    }

    fn start(&self, node: &str) -> Result<()> {
        self.servers.start(node)
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

    #[test]
    fn the_store_runs_the_set_workload_only_on_three_nodes_or_more() {
        let r = Redis;
        assert_eq!(r.validate("set", None).unwrap(), "plain");
        assert_eq!(r.validate("set", Some("wait")).unwrap(), "wait");
        let e = r.validate("register", None).unwrap_err().to_string();
        assert!(e.contains("set workload only"), "{e}");
        let e = r.validate("set", Some("crdt")).unwrap_err().to_string();
        assert!(e.contains("plain, wait"), "{e}");
        assert!(!e.contains('\n'));
        let e = check_nodes(2).unwrap_err().to_string();
        assert!(e.contains("at least 3 nodes"), "{e}");
        check_nodes(3).unwrap();
        assert!(r.unsupported_fault("membership").is_some());
        assert!(r.unsupported_fault("partition").is_none());
        assert!(r.unsupported_fault("clock").is_none());
        let programs: Vec<&str> = r.requirements().iter().map(|q| q.program).collect();
        assert_eq!(programs, ["redis-server", "redis-sentinel"]);
    }
}
