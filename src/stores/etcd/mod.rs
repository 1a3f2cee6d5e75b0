//! etcd (Debian's `etcd-server` 3.4) as a store under test.
//!
//! One member per node, all started together with a static initial
//! cluster (`--initial-cluster n1=http://ip1:2380,...`), clients on each
//! member's port 2379 through the v3 JSON gateway
//! ([`workloads::etcd`]). The `register` workload runs with
//! `--client linearizable` (the default: reads go through a quorum) or
//! `serializable` (reads answer from the member's own copy).
//!
//! What Jepsen's record says, and what a run here should show: with
//! linearizable reads, etcd's registers are linearizable under
//! partitions, kills and pauses; with serializable reads, a member cut off
//! from the majority keeps answering reads from its stale copy, and the
//! linearizability checker finds a read no order explains.
//!
//! Clock faults cannot reach etcd here: Go reads the wall clock without
//! libc (vDSO), so libfaketime's preload has no effect, and the only other
//! way, `date -s`, moves the whole machine's clock, every namespace's
//! alike. A run asked for `--nemesis clock` stops with that explanation;
//! one with `--nemesis all` runs without clock faults and says so.

use super::daemons::Daemons;
use super::{FinalPlan, Placement, Store, StoreCluster, StoreNode, WorkerPlan};
use crate::cluster::control::os::Requirement;
use crate::cluster::control::DaemonSpec;
use crate::settings::TestConfig;
use crate::stores::DbProcesses;
use crate::UsageError;
use anyhow::{bail, Result};
use nemeses::NodeAddr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::etcd::{EtcdClient, EtcdLocalReader, EtcdRegisterClient, ReadMode};
use workloads::Workload;
use workloads::{register, Client, LocalRead, OpSource};

/// The port clients use.
pub const CLIENT_PORT: u16 = 2379;
/// The port members replicate over.
pub const PEER_PORT: u16 = 2380;

/// Why the clock nemesis cannot reach etcd on this machine.
pub const NO_CLOCK: &str = "etcd is a Go binary: it reads the wall clock without libc, so libfaketime cannot move it, and `date -s` would move this whole machine's clock";

/// etcd (`--store etcd`).
pub struct Etcd;

impl Store for Etcd {
    fn name(&self) -> &str {
        "etcd"
    }

    fn validate(
        &self,
        workload: Workload,
        client: Option<&str>,
    ) -> Result<workloads::ClientMode, UsageError> {
        if workload != Workload::Register {
            return Err(UsageError(format!(
                "--store etcd runs the register workload (get, put, compare-and-set), not {:?}: use --workload register",
                workload.name()
            )));
        }
        ReadMode::parse(client.unwrap_or("linearizable"))
            .map(|m| match m {
                ReadMode::Linearizable => workloads::ClientMode::Linearizable,
                ReadMode::Serializable => workloads::ClientMode::Serializable,
            })
            .map_err(|e| UsageError(e.to_string()))
    }

    fn requirements(&self) -> Vec<Requirement> {
        vec![Requirement {
            program: "etcd",
            package: "etcd-server",
            purpose: "the etcd store",
        }]
    }

    fn ports(&self) -> Vec<u16> {
        vec![CLIENT_PORT, PEER_PORT]
    }

    fn unsupported_fault(&self, kind: nemeses::Kind) -> Option<String> {
        match kind {
            nemeses::Kind::Clock => Some(NO_CLOCK.into()),
            nemeses::Kind::Membership => Some(
                "faultline does not drive etcd's membership changes (member remove / add)".into(),
            ),
            _ => None,
        }
    }

    /// `--data-dir data`: the write-ahead log's segments and the bbolt
    /// database.
    fn data_dir(&self, _cfg: &TestConfig) -> Result<crate::stores::DataLayout, String> {
        Ok(crate::stores::DataLayout {
            dir: "data".into(),
            files: vec!["member/wal/".into(), "member/snap/db".into()],
        })
    }

    fn start(&self, cfg: &TestConfig, p: Placement) -> Result<Arc<dyn StoreCluster>> {
        // Locally, the path (the namespaces' PATH may lack /usr/bin's
        // neighbours); on an SSH node, whatever its PATH finds.
        let program = match p.remote {
            true => "etcd".to_string(),
            false => crate::cluster::control::os::find_program("etcd")
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "etcd".into()),
        };
        let initial = p
            .nodes
            .iter()
            .map(|n| format!("{}={}", n.name, url(n, PEER_PORT)))
            .collect::<Vec<_>>()
            .join(",");
        let daemons = Daemons::new(p.control.clone(), "etcd", p.remote);
        for n in &p.nodes {
            if p.remote {
                let mkdir = ["mkdir", "-p", "--", &n.dir.display().to_string()].map(str::to_string);
                p.control.exec(&n.name, &mkdir, Duration::from_secs(20))?;
            } else {
                std::fs::create_dir_all(&n.dir)?;
            }
            let argv = [
                program.as_str(),
                "--name",
                &n.name,
                "--data-dir",
                &n.dir.join("data").display().to_string(),
                "--listen-client-urls",
                &url(n, CLIENT_PORT),
                "--advertise-client-urls",
                &url(n, CLIENT_PORT),
                "--listen-peer-urls",
                &url(n, PEER_PORT),
                "--initial-advertise-peer-urls",
                &url(n, PEER_PORT),
                "--initial-cluster",
                &initial,
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                &format!("faultline-{}", cfg.seed),
                "--logger",
                "zap",
                "--log-outputs",
                "stderr",
            ]
            .map(str::to_string)
            .to_vec();
            let spec = DaemonSpec {
                argv,
                log_file: n.dir.join("etcd.log"),
                env: Vec::new(),
            };
            daemons.add(&n.name, spec, SocketAddr::new(n.ip, CLIENT_PORT));
        }
        // Every member at once: each waits for the others to form the
        // initial cluster.
        daemons.spawn_all()?;
        Ok(Arc::new(EtcdCluster {
            daemons,
            nodes: p.nodes,
            remote: p.remote,
        }))
    }
}

fn url(n: &StoreNode, port: u16) -> String {
    format!("http://{}", SocketAddr::new(n.ip, port))
}

/// A running etcd cluster.
pub struct EtcdCluster {
    daemons: Daemons,
    nodes: Vec<StoreNode>,
    /// On SSH nodes, whose directories the teardown wipes.
    remote: bool,
}

impl EtcdCluster {
    fn client(&self, n: &StoreNode, timeout: Duration) -> EtcdClient {
        EtcdClient::new(&SocketAddr::new(n.ip, CLIENT_PORT).to_string(), timeout)
    }
}

impl DbProcesses for EtcdCluster {
    fn kill(&self, node: &str) -> Result<()> {
        self.daemons.kill(node)
    }
    fn start(&self, node: &str) -> Result<()> {
        self.daemons.start(node)
    }
    fn pause(&self, node: &str) -> Result<()> {
        self.daemons.pause(node)
    }
    fn resume(&self, node: &str) -> Result<()> {
        self.daemons.resume(node)
    }
    fn clock_file(&self, _node: &str) -> Option<PathBuf> {
        None
    }
    fn leave(&self, _node: &str) -> Result<()> {
        bail!("faultline does not drive etcd's membership changes")
    }
    fn join(&self, _node: &str) -> Result<()> {
        bail!("faultline does not drive etcd's membership changes")
    }
    fn heal(&self) -> Result<()> {
        self.daemons.heal()
    }
    fn pids(&self, node: &str) -> Vec<u32> {
        self.daemons.pids(node)
    }
}

#[async_trait::async_trait]
impl StoreCluster for EtcdCluster {
    fn nodes(&self) -> Vec<NodeAddr> {
        self.nodes.iter().map(StoreNode::addr).collect()
    }

    /// Every member answers `/health` with `"health":"true"`, which etcd
    /// says only once the cluster has a leader.
    async fn await_ready(&self, timeout: Duration) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(1000))
            .build()?;
        let deadline = Instant::now() + timeout;
        for n in &self.nodes {
            let health = format!("{}/health", url(n, CLIENT_PORT));
            loop {
                let ok = match http.get(&health).send().await {
                    Ok(r) => r
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|v| v["health"] == "true"),
                    Err(_) => false,
                };
                if ok {
                    break;
                }
                let dead = !self.daemons.is_alive(&n.name);
                if dead || Instant::now() > deadline {
                    bail!(
                        "etcd on {} {}: {}",
                        n.name,
                        if dead {
                            "exited at start-up"
                        } else {
                            "was not healthy in time"
                        },
                        self.daemons.last_log_line(&n.name)
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// Stops every member, then deletes its data: etcd preallocates 64 MB
    /// of write-ahead log per member, which the run's folder need not keep
    /// (the logs stay). SSH nodes' directories go whole at teardown.
    fn stop(&self) {
        self.daemons.stop_all();
        for n in self.nodes.iter().filter(|_| !self.remote) {
            let _ = std::fs::remove_dir_all(n.dir.join("data"));
        }
    }

    fn log_files(&self, node: &str) -> Vec<PathBuf> {
        self.daemons.log_file(node).into_iter().collect()
    }

    fn workers(&self, cfg: &TestConfig) -> Result<Vec<WorkerPlan>> {
        let mode = ReadMode::try_from(cfg.client)?;
        let timeout = Duration::from_millis(cfg.op_timeout_ms);
        let ops: Arc<dyn OpSource> =
            Arc::new(register::Generator::new(cfg.seed, cfg.keys, cfg.values));
        Ok((0..cfg.concurrency)
            .map(|w| {
                let n = &self.nodes[w % self.nodes.len()];
                let client = EtcdRegisterClient::new(self.client(n, timeout), mode);
                WorkerPlan {
                    targets: vec![(n.name.clone(), Arc::new(client) as Arc<dyn Client>)],
                    ops: ops.clone(),
                }
            })
            .collect())
    }

    /// No final read (linearizability judges the main phase), but every
    /// member must come to hold the same value at the same revision.
    fn final_plan(&self, cfg: &TestConfig) -> Result<Option<FinalPlan>> {
        let mode = ReadMode::try_from(cfg.client)?;
        let timeout = Duration::from_millis(cfg.op_timeout_ms);
        let members: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
        Ok(Some(FinalPlan {
            ops: Vec::new(),
            readers: self
                .nodes
                .iter()
                .map(|n| {
                    let c = EtcdRegisterClient::new(self.client(n, timeout), mode);
                    (n.name.clone(), Arc::new(c) as Arc<dyn Client>)
                })
                .collect(),
            keys: register::keys(cfg.keys),
            local: self
                .nodes
                .iter()
                .map(|n| {
                    let r = EtcdLocalReader::new(self.client(n, timeout), members.clone());
                    (n.name.clone(), Arc::new(r) as Arc<dyn LocalRead>)
                })
                .collect(),
            settled_when_agreed: true,
        }))
    }
}
