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
use workloads::adapter::{AdapterClient, ProcessSpec, Replicas, Shape};
use workloads::{register, set, Client, LocalRead, OpSource};

/// How much longer than `--op-timeout-ms` faultline waits for an adapter's
/// reply: the adapter bounds its own requests by `op_timeout_ms` and must
/// have time left to say `info`.
pub const REPLY_GRACE: Duration = Duration::from_millis(500);

impl AdapterCluster {
    /// An adapter client for node `i`: `who` in messages, `slug` in its
    /// log's name and the `worker` variable.
    pub(super) fn client(
        &self,
        i: usize,
        who: &str,
        slug: &str,
        shape: Shape,
    ) -> Result<Arc<AdapterClient>> {
        let c = &self.store.desc.client;
        let vars = self.vars(i, slug);
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
        let spec = ProcessSpec {
            argv,
            env,
            stderr_log: self.client_logs.join(format!("{slug}.stderr.log")),
        };
        let timeout = Duration::from_millis(self.params.op_timeout_ms) + REPLY_GRACE;
        let replicas = if c.replicas == "preflist" {
            Replicas::Ask
        } else {
            Replicas::All(self.nodes.iter().map(|n| n.name.clone()).collect())
        };
        Ok(Arc::new(
            AdapterClient::new(self.name(), who, spec, shape, timeout, self.failure.clone())
                .with_replicas(replicas),
        ))
    }

    pub(super) fn shape(&self, cfg: &TestConfig) -> Result<Shape> {
        Shape::of(cfg.workload.name(), cfg.keys).with_context(|| {
            format!(
                "adapter {}: adapters cannot run the workload {}",
                self.name(),
                cfg.workload
            )
        })
    }

    /// The workers' plans for `params` (what [`StoreCluster::workers`]
    /// returns).
    pub fn plans(&self, shape: Shape, params: &RunParams) -> Result<Vec<WorkerPlan>> {
        let ops: Arc<dyn OpSource> = match shape {
            Shape::Set { .. } => Arc::new(set::Generator::new()),
            Shape::Register => Arc::new(register::Generator::new(
                params.seed,
                params.keys,
                params.values,
            )),
        };
        (0..params.concurrency)
            .map(|w| {
                let i = w % self.nodes.len();
                let client = self.client(i, &format!("worker {w}"), &format!("w{w}"), shape)?;
                Ok(WorkerPlan {
                    targets: vec![(self.nodes[i].name.clone(), client as Arc<dyn Client>)],
                    ops: ops.clone(),
                })
            })
            .collect()
    }

    /// The final phase for `shape` (what [`StoreCluster::final_plan`]
    /// returns).
    pub fn finals(&self, shape: Shape, keys: usize) -> Result<Option<FinalPlan>> {
        let workload = match shape {
            Shape::Set { .. } => "set",
            Shape::Register => "register",
        };
        let local = self
            .store
            .desc
            .client
            .read_local
            .iter()
            .any(|w| w == workload);
        if shape == Shape::Register && !local {
            // Linearizability judges the main phase alone.
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
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let names = self.nodes.iter().map(|n| n.name.clone());
        Ok(Some(FinalPlan {
            ops: match shape {
                Shape::Set { .. } => vec![set::Generator::final_read()],
                Shape::Register => Vec::new(),
            },
            readers: names
                .clone()
                .zip(&clients)
                .map(|(n, c)| (n, c.clone() as Arc<dyn Client>))
                .collect(),
            keys: match (local, shape) {
                (false, _) => Vec::new(),
                (true, Shape::Set { .. }) => (0..keys.max(1)).map(|k| format!("set-{k}")).collect(),
                (true, Shape::Register) => register::keys(keys),
            },
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
