//! Templates and their variables: how a description meets a node.
//!
//! Every argument of every command, every file path and contents, every
//! environment value is a [tera] template rendered on its own with the
//! node's [`Vars`] (the node, its address and directory, every peer, the
//! run's workload and limits, and for an adapter process its worker's
//! name). An argument is rendered alone ([`render_argv`]), so whatever a
//! variable holds — a directory with a space, a name with a `;` — stays
//! exactly one argument; nothing is escaped, nothing is split. What the run
//! contributes comes from [`TestConfig`] as [`RunParams`]. A template error
//! is one line (tera nests the useful part; [`render`] flattens it).
//!
//! [tera]: https://keats.github.io/tera/docs/

use super::AdapterStore;
use crate::settings::TestConfig;
use crate::stores::StoreNode;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The variables every template sees (docs/adapters.md lists them).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Vars {
    /// The description's `name`.
    pub store: String,
    /// This node's name (`n1`, ...).
    pub node: String,
    /// Its position among the nodes, from 0.
    pub index: usize,
    /// Its address.
    pub ip: String,
    /// The description's `port`.
    pub port: u16,
    /// The description's `ports`.
    pub ports: BTreeMap<String, u16>,
    /// The node's own directory (config, data, logs).
    pub dir: String,
    /// Every node, in order.
    pub nodes: Vec<Peer>,
    /// The directory of the running faultline executable (where the
    /// ringkv binary is built).
    pub faultline_dir: String,
    /// The directory of the description file.
    pub adapter_dir: String,
    /// The run's workload.
    pub workload: String,
    /// The run's `--keys`.
    pub keys: usize,
    /// The run's `--op-timeout-ms`: the adapter's own limit per request.
    pub op_timeout_ms: u64,
    /// The client's name, `w3` (worker 3) or `final-n2` (the final
    /// reader on n2); empty in node templates.
    pub worker: String,
    /// The description's `[params]`, as the run set them
    /// (`--store-param`).
    pub params: BTreeMap<String, String>,
}

/// One node, as templates see it in `nodes`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Peer {
    /// Its name.
    pub name: String,
    /// Its address.
    pub ip: String,
    /// Its position, from 0.
    pub index: usize,
}

/// What a run tells the adapter (from [`TestConfig`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RunParams {
    /// The workload.
    pub workload: String,
    /// `--keys`.
    pub keys: usize,
    /// `--values`: the register workload's values are `0..values`.
    pub values: u64,
    /// `--op-timeout-ms`.
    pub op_timeout_ms: u64,
    /// `--concurrency`.
    pub concurrency: usize,
    /// `--seed`.
    pub seed: u64,
    /// `--store-param`s: values for the description's `[params]`.
    pub store_params: BTreeMap<String, String>,
}

impl RunParams {
    /// The parameters of `cfg`.
    pub fn of(cfg: &TestConfig) -> Self {
        RunParams {
            workload: cfg.workload.name().to_string(),
            keys: cfg.keys,
            values: cfg.values,
            op_timeout_ms: cfg.op_timeout_ms,
            concurrency: cfg.concurrency,
            seed: cfg.seed,
            store_params: cfg.store_params.clone(),
        }
    }
}

/// Renders one template with `vars`; the error is one line.
pub fn render(template: &str, vars: &Vars) -> Result<String, String> {
    if !template.contains('{') {
        return Ok(template.to_string());
    }
    let ctx = tera::Context::from_serialize(vars).map_err(|e| one_line(&e))?;
    tera::Tera::one_off(template, &ctx, false).map_err(|e| one_line(&e))
}

/// Renders an argv, each element on its own: whatever a variable holds
/// stays inside the element it is in.
pub fn render_argv(argv: &[String], vars: &Vars) -> Result<Vec<String>, String> {
    argv.iter()
        .enumerate()
        .map(|(i, a)| render(a, vars).map_err(|e| format!("argument {i}: {e}")))
        .collect()
}

/// An error and its causes on one line (tera nests the useful part).
fn one_line(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    let text = parts
        .into_iter()
        .filter(|p| !p.starts_with("Failed to render '__tera_one_off'"))
        .collect::<Vec<_>>()
        .join(": ")
        .replace(" while rendering '__tera_one_off'", "")
        .replace(
            "Failed to parse '__tera_one_off':",
            "cannot parse the template:",
        );
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // pest draws the spot (`--> 1:7 | 1 | {{ dir | ^--- | = expected ...`):
    // keep the position and what was expected.
    match (text.split_once("--> "), text.rsplit_once("| = ")) {
        (Some((head, rest)), Some((_, expected))) => {
            let at = rest.split_whitespace().next().unwrap_or("");
            let head = head.trim_end().trim_end_matches(':');
            format!("{head} at line:column {at}: {expected}")
        }
        _ => text,
    }
}

impl AdapterStore {
    /// The variables of node `i` (and of client `worker`, when not empty).
    pub fn vars(&self, nodes: &[StoreNode], i: usize, params: &RunParams, worker: &str) -> Vars {
        let me = &nodes[i];
        Vars {
            store: self.desc.name.clone(),
            node: me.name.clone(),
            index: i,
            ip: me.ip.to_string(),
            port: self.desc.port,
            ports: self.desc.ports.clone(),
            dir: me.dir.display().to_string(),
            nodes: nodes
                .iter()
                .enumerate()
                .map(|(index, n)| Peer {
                    name: n.name.clone(),
                    ip: n.ip.to_string(),
                    index,
                })
                .collect(),
            faultline_dir: faultline_dir(),
            adapter_dir: self.dir.display().to_string(),
            workload: params.workload.clone(),
            keys: params.keys,
            op_timeout_ms: params.op_timeout_ms,
            worker: worker.to_string(),
            params: self
                .desc
                .params
                .iter()
                .map(|(k, v)| (k.clone(), params.store_params.get(k).unwrap_or(v).clone()))
                .collect(),
        }
    }
}

/// The folder of the running faultline executable.
fn faultline_dir() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
