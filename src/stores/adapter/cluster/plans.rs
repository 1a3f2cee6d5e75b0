//! The workers' plans and the final phase: one adapter process per worker.
//!
//! Each worker gets its own adapter process, started on this machine with
//! the variables of its node (worker `w` on node `w mod nodes`), its stderr
//! kept in the run directory, all drawing from one generator for the
//! workload. The final phase reads through a fresh adapter process per
//! node: the whole set for the set workload, and each key's replicas on
//! every node when the description says its adapter answers `read-local`
//! for the workload (registers without it are judged on the main phase
//! alone). A protocol breach by any adapter lands in one shared slot
//! ([`StoreCluster::failure`](crate::stores::StoreCluster::failure)) that
//! stops the run.

use super::super::templates::{render, render_argv, RunParams};
use super::AdapterCluster;
use crate::settings::TestConfig;
use crate::stores::{FinalPlan, WorkerPlan};
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use workloads::adapter::{AdapterClient, Hello, ProcessSpec, Protocol, Replicas, Shape};
use workloads::{
    counter, orset, register, sequence, session, set, siblings, Client, ClientMode, Invocation,
    LocalRead, OpSource,
};

/// How much longer than `--op-timeout-ms` faultline waits for an adapter's
/// reply: the adapter bounds its own requests by `op_timeout_ms` and must
/// have time left to say `info`.
pub const REPLY_GRACE: Duration = Duration::from_millis(500);

impl AdapterCluster {
    /// An adapter client for node `i`: `who` in messages, `slug` in its
    /// log's name and the `worker` variable; `local` says the run reads
    /// its replicas (the hello must then promise `read-local`).
    pub(super) fn client(
        &self,
        i: usize,
        who: &str,
        slug: &str,
        shape: Shape,
        local: bool,
    ) -> Result<AdapterClient> {
        let c = &self.store.desc.client;
        let mut vars = self.vars(i, slug);
        // The workload this client runs (a conformance run tries several).
        vars.workload = shape.workload().name().to_string();
        let fail =
            |field: &str, e: String| anyhow::anyhow!("adapter {}: {field}: {e}", self.name());
        let argv = render_argv(&c.command, &vars).map_err(|e| fail("client.command", e))?;
        let mut env = Vec::new();
        for (k, v) in &c.env {
            env.push((
                k.clone(),
                render(v, &vars).map_err(|e| fail("client.env", e))?,
            ));
        }
        let preflist = c.replicas == "preflist";
        let spec = ProcessSpec {
            argv,
            env,
            stderr_log: self.client_logs.join(format!("{slug}.stderr.log")),
            hello: (c.protocol() >= Protocol::V2).then(|| Hello {
                workload: shape.workload().name(),
                node: self.nodes[i].name.clone(),
                read_local: local,
                preflist: local && preflist,
            }),
            keep_on_timeout: c.keep_on_timeout,
        };
        let timeout = Duration::from_millis(self.params.op_timeout_ms) + REPLY_GRACE;
        let replicas = if preflist {
            Replicas::Ask
        } else {
            Replicas::All(self.nodes.iter().map(|n| n.name.clone()).collect())
        };
        Ok(
            AdapterClient::new(self.name(), who, spec, shape, timeout, self.failure.clone())
                .with_replicas(replicas),
        )
    }

    /// A client of node `i` on its own, for a conformance run: `slug`
    /// names it (its log, the `worker` variable), `local` says it will be
    /// asked `read-local` (and `preflist`, when the description says so).
    pub fn probe_client(
        &self,
        i: usize,
        slug: &str,
        shape: Shape,
        local: bool,
    ) -> Result<AdapterClient> {
        let who = format!("{slug} on {}", self.nodes[i].name);
        self.client(i, &who, slug, shape, local)
    }

    pub(super) fn shape(&self, cfg: &TestConfig) -> Result<Shape> {
        Shape::of(cfg.workload, cfg.keys, cfg.client).with_context(|| {
            format!(
                "adapter {}: adapters cannot run the workload {}",
                self.name(),
                cfg.workload
            )
        })
    }

    /// The workers' plans for `params` (what [`StoreCluster::workers`]
    /// returns); `mode` is the run's client mode (a `session` worker in
    /// `random` mode has a client on every node).
    pub fn plans(
        &self,
        shape: Shape,
        mode: ClientMode,
        params: &RunParams,
    ) -> Result<Vec<WorkerPlan>> {
        let (seed, keys) = (params.seed, params.keys);
        // One generator shared by every worker, but sequence's: each
        // worker's ops follow what it has seen.
        let shared: Option<Arc<dyn OpSource>> = match shape {
            Shape::Set { .. } => Some(Arc::new(set::Generator::new())),
            Shape::Register => Some(Arc::new(register::Generator::new(
                seed,
                keys,
                params.values,
            ))),
            Shape::Counter => Some(Arc::new(counter::Generator::new(seed))),
            Shape::Siblings { .. } => Some(Arc::new(siblings::Generator::new(seed, keys))),
            Shape::OrSet => Some(Arc::new(orset::Generator::new(seed))),
            Shape::Session => Some(Arc::new(session::Generator::new(seed, keys))),
            Shape::Sequence => None,
        };
        (0..params.concurrency)
            .map(|w| {
                let i = w % self.nodes.len();
                let who = format!("worker {w}");
                let slug = format!("w{w}");
                let mut client = self.client(i, &who, &slug, shape, false)?;
                let ops = match &shared {
                    Some(ops) => ops.clone(),
                    None => {
                        let g = sequence::Generator::new(seed, w, keys);
                        client = client.with_sequence_memory(g.memory());
                        Arc::new(g) as Arc<dyn OpSource>
                    }
                };
                let mut targets: Vec<(String, Arc<dyn Client>)> =
                    vec![(self.nodes[i].name.clone(), Arc::new(client))];
                if shape == Shape::Session && mode == ClientMode::Random {
                    // A client per node, the worker's own first.
                    for (j, n) in self.nodes.iter().enumerate().filter(|(j, _)| *j != i) {
                        let c = self.client(
                            j,
                            &format!("{who} on {}", n.name),
                            &format!("{slug}-{}", n.name),
                            shape,
                            false,
                        )?;
                        targets.push((n.name.clone(), Arc::new(c)));
                    }
                }
                Ok(WorkerPlan { targets, ops })
            })
            .collect()
    }

    /// The final phase for `shape` (what [`StoreCluster::final_plan`]
    /// returns): the final reads of the workloads that have them, and
    /// every key's replicas read locally when the adapter answers
    /// `read-local` for the workload.
    pub fn finals(&self, shape: Shape, keys: usize) -> Result<Option<FinalPlan>> {
        let workload = shape.workload().name();
        let local = self
            .store
            .desc
            .client
            .read_local
            .iter()
            .any(|w| w == workload);
        let (ops, replicated): (Vec<Invocation>, Vec<String>) = match shape {
            Shape::Set { keys } => (
                vec![set::Generator::final_read()],
                (0..keys).map(|k| format!("set-{k}")).collect(),
            ),
            // Linearizability and the sessions checker judge the main
            // phase alone.
            Shape::Register => (Vec::new(), register::keys(keys)),
            Shape::Session => (Vec::new(), session::keys(keys)),
            // Reads at rest, for the siblings checker's causal bound.
            Shape::Siblings { .. } => (siblings::final_reads(keys), siblings::keys(keys)),
            Shape::Counter => (
                vec![counter::Generator::final_read()],
                vec![counter::KEY.to_string()],
            ),
            Shape::OrSet => (
                vec![orset::Generator::final_read()],
                vec![orset::KEY.to_string()],
            ),
            Shape::Sequence => (sequence::final_reads(keys), sequence::keys(keys)),
        };
        if ops.is_empty() && !local {
            return Ok(None);
        }
        let clients = (0..self.nodes.len())
            .map(|i| {
                let name = &self.nodes[i].name;
                self.client(
                    i,
                    &format!("final reader on {name}"),
                    &format!("final-{name}"),
                    shape,
                    local,
                )
                .map(Arc::new)
            })
            .collect::<Result<Vec<_>>>()?;
        let names = self.nodes.iter().map(|n| n.name.clone());
        Ok(Some(FinalPlan {
            ops,
            readers: names
                .clone()
                .zip(&clients)
                .map(|(n, c)| (n, c.clone() as Arc<dyn Client>))
                .collect(),
            keys: if local { replicated } else { Vec::new() },
            local: if local {
                names
                    .zip(&clients)
                    .map(|(n, c)| (n, c.clone() as Arc<dyn LocalRead>))
                    .collect()
            } else {
                Vec::new()
            },
            settled_when_agreed: true,
        }))
    }
}
