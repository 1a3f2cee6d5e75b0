//! ringkv, the reference store, behind the [`Store`] seam: every workload,
//! every fault, and a local read of each replica for the convergence
//! checker.
//!
//! The processes themselves (configs, daemons, libfaketime, leave and join)
//! are [`crate::stores::ringkv::cluster::RingkvCluster`]'s; this module adds what a run needs on
//! top: which client each workload uses in which mode, and the final phase
//! each workload asks for.

pub mod cluster;

use super::{FinalPlan, Placement, Store, StoreCluster, WorkerPlan};
use crate::cluster::control::os::Requirement;
use crate::settings::TestConfig;
use crate::stores::ringkv::cluster::{self as db, RingkvCluster, RingkvNode};
use crate::UsageError;
use anyhow::Result;
use nemeses::NodeAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workloads::counter::{self, CounterClient};
use workloads::orset::{self, OrSetClient};
use workloads::register::{self, RegisterClient};
use workloads::ringkv::RingkvClient;
use workloads::sequence::{self, SequenceClient};
use workloads::session::{self, Routing};
use workloads::set::{self, Generator, SetClient};
use workloads::siblings::{self, SiblingsClient};
use workloads::{Client, LocalRead, OpSource};
use workloads::{ClientMode, Workload};

/// The reference store (`--store ringkv`, the default).
pub struct Ringkv;

impl Store for Ringkv {
    fn name(&self) -> &str {
        "ringkv"
    }

    fn validate(
        &self,
        workload: Workload,
        client: Option<&str>,
    ) -> Result<workloads::ClientMode, UsageError> {
        workload.mode(client).map_err(|e| UsageError(e.to_string()))
    }

    fn requirements(&self) -> Vec<Requirement> {
        // Shipped with faultline: the binary built beside it.
        Vec::new()
    }

    fn shipped_binary(&self, cfg: &TestConfig) -> anyhow::Result<Option<std::path::PathBuf>> {
        Ok(Some(db::find_ringkv(cfg.ringkv_bin.as_deref())?))
    }

    fn ports(&self) -> Vec<u16> {
        vec![crate::stores::ringkv::cluster::PORT]
    }

    fn unsupported_fault(&self, _kind: nemeses::Kind) -> Option<String> {
        None
    }

    /// `data/` in the node's folder, holding one redb file, unless the
    /// store keeps everything in memory (`--fsync off`).
    fn data_dir(&self, cfg: &TestConfig) -> Result<crate::stores::DataLayout, String> {
        if cfg.quorums.fsync == "off" {
            return Err("with --fsync off ringkv keeps nothing on disk".into());
        }
        Ok(crate::stores::DataLayout {
            dir: "data".into(),
            files: vec!["ringkv.redb".into()],
        })
    }

    fn start(&self, cfg: &TestConfig, p: Placement) -> Result<Arc<dyn StoreCluster>> {
        let bin = db::find_ringkv(cfg.ringkv_bin.as_deref())?;
        let nodes = p
            .nodes
            .into_iter()
            .map(|n| RingkvNode::new(&n.name, n.ip, n.dir))
            .collect();
        let cluster = RingkvCluster::start_on(
            p.control,
            &bin,
            nodes,
            cfg.quorums.clone(),
            p.faketime,
            p.remote,
        )?;
        Ok(Arc::new(cluster))
    }
}

#[async_trait::async_trait]
impl StoreCluster for RingkvCluster {
    fn nodes(&self) -> Vec<NodeAddr> {
        RingkvCluster::nodes(self)
            .into_iter()
            .map(|n| NodeAddr {
                name: n.name,
                ip: n.ip,
            })
            .collect()
    }

    async fn await_ready(&self, timeout: Duration) -> Result<()> {
        RingkvCluster::await_ready(self, timeout).await
    }

    fn stop(&self) {
        RingkvCluster::stop(self)
    }

    fn log_files(&self, node: &str) -> Vec<PathBuf> {
        RingkvCluster::nodes(self)
            .into_iter()
            .filter(|n| n.name == node)
            .map(|n| n.log_file())
            .collect()
    }

    fn workers(&self, cfg: &TestConfig) -> Result<Vec<WorkerPlan>> {
        let live = Live::of(cfg.workload, cfg.client)?;
        let nodes = RingkvCluster::nodes(self);
        let op_timeout = Duration::from_millis(cfg.op_timeout_ms);
        // One generator shared by every worker, except where a worker's ops
        // depend on what it has seen (sequence: one per worker, below).
        let shared: Option<Arc<dyn OpSource>> = match live {
            Live::Set(_) => Some(Arc::new(Generator::new())),
            Live::Register(_) => Some(Arc::new(register::Generator::new(
                cfg.seed, cfg.keys, cfg.values,
            ))),
            Live::Counter(_) => Some(Arc::new(counter::Generator::new(cfg.seed))),
            Live::Siblings(_) => Some(Arc::new(siblings::Generator::new(cfg.seed, cfg.keys))),
            Live::OrSet => Some(Arc::new(orset::Generator::new(cfg.seed))),
            Live::Session(_) => Some(Arc::new(session::Generator::new(cfg.seed, cfg.keys))),
            Live::Sequence => None,
        };
        let mut plans = Vec::new();
        for w in 0..cfg.concurrency {
            let node = &nodes[w % nodes.len()];
            let ringkv = RingkvClient::new(&node.addr(), op_timeout);
            let mut ops = shared.clone();
            let mut others: Vec<(String, Arc<dyn Client>)> = Vec::new();
            let client: Arc<dyn Client> = match live {
                Live::Set(mode) => {
                    Arc::new(SetClient::new(ringkv, mode, cfg.keys).with_client_id(format!("w{w}")))
                }
                Live::Register(mode) => Arc::new(RegisterClient::new(ringkv, mode)),
                Live::Counter(mode) => Arc::new(CounterClient::new(ringkv, mode)),
                Live::Siblings(mode) => {
                    Arc::new(SiblingsClient::new(ringkv, mode, format!("w{w}")))
                }
                Live::OrSet => Arc::new(OrSetClient::new(ringkv)),
                Live::Sequence => {
                    let g = sequence::Generator::new(cfg.seed, w, cfg.keys);
                    let c = Arc::new(g.client(ringkv));
                    ops = Some(Arc::new(g));
                    c
                }
                Live::Session(routing) => {
                    if routing == Routing::Random {
                        // A client per node, the worker's own first.
                        others = nodes
                            .iter()
                            .filter(|n| n.name != node.name)
                            .map(|n| {
                                let c = RegisterClient::new(
                                    RingkvClient::new(&n.addr(), op_timeout),
                                    register::Mode::Quorum,
                                );
                                (n.name.clone(), Arc::new(c) as Arc<dyn Client>)
                            })
                            .collect();
                    }
                    Arc::new(RegisterClient::new(ringkv, register::Mode::Quorum))
                }
            };
            let mut targets = vec![(node.name.clone(), client)];
            targets.extend(others);
            plans.push(WorkerPlan {
                targets,
                ops: ops.expect("every workload has a generator"),
            });
        }
        Ok(plans)
    }

    fn final_plan(&self, cfg: &TestConfig) -> Result<Option<FinalPlan>> {
        let live = Live::of(cfg.workload, cfg.client)?;
        let nodes = RingkvCluster::nodes(self);
        let op_timeout = Duration::from_millis(cfg.op_timeout_ms);
        let plan = |ops, keys, readers: Readers| {
            Some(FinalPlan {
                ops,
                keys,
                local: readers
                    .iter()
                    .map(|(n, _, l)| (n.clone(), l.clone()))
                    .collect(),
                readers: readers.into_iter().map(|(n, c, _)| (n, c)).collect(),
                // Under a sloppy quorum, hints wait on fallback nodes that
                // the local reads of a key's replicas do not see.
                settled_when_agreed: !cfg.quorums.sloppy_quorum,
            })
        };
        Ok(match live {
            // Every key's replicas must come to hold the same siblings, and
            // a read of every key at rest is what the causal bound judges.
            Live::Siblings(mode) => plan(
                siblings::final_reads(cfg.keys),
                siblings::keys(cfg.keys),
                per_node(&nodes, op_timeout, |r| {
                    SiblingsClient::new(r, mode, "final")
                }),
            ),
            // No final read (linearizability or the sessions checker judge
            // the main phase), but the registers' replicas (anti-entropy,
            // read repair) must agree.
            Live::Register(register::Mode::Quorum) => plan(
                Vec::new(),
                register::keys(cfg.keys),
                per_node(&nodes, op_timeout, |r| {
                    RegisterClient::new(r, register::Mode::Quorum)
                }),
            ),
            Live::Session(_) => plan(
                Vec::new(),
                session::keys(cfg.keys),
                per_node(&nodes, op_timeout, |r| {
                    RegisterClient::new(r, register::Mode::Quorum)
                }),
            ),
            // Judged on the main phase alone (Paxos acceptors have no
            // anti-entropy: their replicas need not agree).
            Live::Register(_) => None,
            Live::Set(mode) => plan(
                vec![Generator::final_read()],
                (0..cfg.keys).map(|k| format!("set-{k}")).collect(),
                per_node(&nodes, op_timeout, |r| SetClient::new(r, mode, cfg.keys)),
            ),
            Live::OrSet => plan(
                vec![orset::Generator::final_read()],
                vec![orset::KEY.to_string()],
                per_node(&nodes, op_timeout, OrSetClient::new),
            ),
            Live::Sequence => plan(
                sequence::final_reads(cfg.keys),
                sequence::keys(cfg.keys),
                per_node(&nodes, op_timeout, SequenceClient::new),
            ),
            Live::Counter(mode) => plan(
                vec![counter::Generator::final_read()],
                vec![counter::KEY.to_string()],
                per_node(&nodes, op_timeout, |r| CounterClient::new(r, mode)),
            ),
        })
    }
}

/// `(node, client, local reader)` per node.
type Readers = Vec<(String, Arc<dyn Client>, Arc<dyn LocalRead>)>;

/// One client per node, each both a client (for the final reads) and a
/// local reader (for convergence), made from that node's ringkv client.
fn per_node<C: Client + LocalRead + 'static>(
    nodes: &[RingkvNode],
    op_timeout: Duration,
    make: impl Fn(RingkvClient) -> C,
) -> Readers {
    nodes
        .iter()
        .map(|n| {
            let c = Arc::new(make(RingkvClient::new(&n.addr(), op_timeout)));
            (
                n.name.clone(),
                c.clone() as Arc<dyn Client>,
                c as Arc<dyn LocalRead>,
            )
        })
        .collect()
}

/// The live workload and its client mode.
#[derive(Clone, Copy, Debug)]
enum Live {
    /// `set`, CRDT or read-modify-write.
    Set(set::Mode),
    /// `register`, Paxos or quorum.
    Register(register::Mode),
    /// `counter`, PN-counter or read-modify-write.
    Counter(counter::Mode),
    /// `siblings`, with or without causal context.
    Siblings(siblings::Mode),
    /// `or-set`, ringkv's OR-set.
    OrSet,
    /// `sequence`, ringkv's RGA.
    Sequence,
    /// `session`, quorum registers through one coordinator or random ones.
    Session(Routing),
}

impl Live {
    fn of(workload: Workload, client: ClientMode) -> Result<Live> {
        let bad = |e: workloads::WorkloadError| UsageError(e.to_string());
        let only_crdt = |name: &str| match client {
            ClientMode::Crdt => Ok(()),
            other => Err(bad(workloads::WorkloadError::UnknownMode {
                workload: name.into(),
                mode: other.name().into(),
                known: "crdt".into(),
            })),
        };
        Ok(match workload {
            Workload::Register => Live::Register(client.try_into().map_err(bad)?),
            Workload::Counter => Live::Counter(client.try_into().map_err(bad)?),
            Workload::Siblings => Live::Siblings(client.try_into().map_err(bad)?),
            Workload::OrSet => {
                only_crdt("or-set")?;
                Live::OrSet
            }
            Workload::Sequence => {
                only_crdt("sequence")?;
                Live::Sequence
            }
            Workload::Session => Live::Session(client.try_into().map_err(bad)?),
            Workload::Set => Live::Set(client.try_into().map_err(bad)?),
            Workload::Kv | Workload::Model(_) => {
                return Err(bad(workloads::WorkloadError::NoLiveClient(
                    workload.name().to_string(),
                ))
                .into())
            }
        })
    }
}
