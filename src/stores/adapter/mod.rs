//! Any store through an adapter: a store described in a TOML file, its
//! clients speaking JSON lines.
//!
//! A user who brings a database faultline has no code for writes two
//! things: a *description* (this module reads it) saying how to install,
//! configure, start and stop the store on a node, and an *adapter*, a small
//! program in any language that performs one worker's operations against
//! the store and speaks the protocol of [`workloads::adapter`] on its
//! stdin and stdout. `--store path/to/store.toml` then runs any workload
//! the adapter maps (`set`, `register`) under every fault faultline has:
//! partitions and packet loss work on addresses, `kill -9` and SIGSTOP on
//! the daemon's pid, clock faults through libfaketime when the description
//! says the store honours it, leave and join through its commands.
//!
//! Commands are argument vectors (never shell strings), and every argument
//! is a [tera] template rendered on its own with the node's variables
//! ([`Vars`]), so a value (a directory with a space, a name with a `;`) is
//! always exactly one argument. docs/adapters.md documents every field.
//!
//! [tera]: https://keats.github.io/tera/docs/

use super::{FinalPlan, Placement, Store, StoreCluster, StoreNode, WorkerPlan};
use crate::cluster::control::os::Requirement;
use crate::cluster::control::{Control, DaemonSpec, Signal};
use crate::settings::TestConfig;
use crate::stores::DbProcesses;
use crate::UsageError;
use anyhow::{bail, Context, Result};
use nemeses::NodeAddr;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workloads::adapter::{
    self as protocol, AdapterClient, FailureSlot, ProcessSpec, Replicas, Shape,
};
use workloads::{register, set, Client, LocalRead, OpSource};

/// The section of docs/adapters.md every description error points to.
const DOCS: &str = "docs/adapters.md#the-description";

/// How long one `install` command may take (package managers are slow).
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// How long one `setup`, `wipe`, `stop`, `leave` or `join` command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a restarted node may take to listen on its port again.
pub const RESTART_TIMEOUT: Duration = Duration::from_secs(20);

/// How much longer than `--op-timeout-ms` faultline waits for an adapter's
/// reply: the adapter bounds its own requests by `op_timeout_ms` and must
/// have time left to say `info`.
pub const REPLY_GRACE: Duration = Duration::from_millis(500);

/// A store's description, as its TOML file says it (templates unrendered).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// The store's name, in messages and log file names.
    pub name: String,
    /// The workloads its adapter maps (`set`, `register`).
    pub workloads: Vec<String>,
    /// The port clients use on every node; the node is ready when it
    /// accepts connections there.
    pub port: u16,
    /// Other ports by name (`{{ ports.peer }}`), for templates.
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
    /// Programs the nodes need, installed with apt-get when missing.
    #[serde(default)]
    pub requires: Vec<Required>,
    /// What runs on each node.
    pub node: NodeCommands,
    /// The adapter process each worker starts.
    pub client: ClientCommand,
}

/// A program the nodes need and the Debian package that has it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Required {
    /// The program, looked up on `PATH`.
    pub program: String,
    /// The package that provides it.
    pub package: String,
}

/// The per-node lifecycle: argv lists whose every element is a template.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeCommands {
    /// Run first, once per node over SSH, once on this machine for local
    /// nodes (they share its filesystem).
    #[serde(default)]
    pub install: Vec<Vec<String>>,
    /// Run before the files are written, on every start of a cluster, so
    /// each run begins with an empty store.
    #[serde(default)]
    pub wipe: Vec<Vec<String>>,
    /// Configuration files rendered from templates.
    #[serde(default)]
    pub files: Vec<FileTemplate>,
    /// Run after the files are written, before the daemon starts.
    #[serde(default)]
    pub setup: Vec<Vec<String>>,
    /// The daemon: started in the foreground (it must not fork away), its
    /// pid kept for the nemesis's `kill -9`, SIGSTOP and SIGCONT.
    pub start: Vec<String>,
    /// Extra environment for the daemon.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the daemon's stdout and stderr go.
    #[serde(default = "default_log")]
    pub log: String,
    /// Stops the daemon gracefully; by default SIGTERM. Either way
    /// SIGKILL follows after a grace period.
    #[serde(default)]
    pub stop: Option<Vec<String>>,
    /// Makes the node leave the cluster (with `join`: the membership
    /// nemesis).
    #[serde(default)]
    pub leave: Option<Vec<String>>,
    /// Makes the node join the cluster again.
    #[serde(default)]
    pub join: Option<Vec<String>>,
    /// Other log files worth keeping, beside `log`.
    #[serde(default)]
    pub logs: Vec<String>,
    /// The daemon is dynamically linked against libc and honours
    /// libfaketime, so the clock nemesis can move its clock.
    #[serde(default)]
    pub faketime: bool,
}

fn default_log() -> String {
    "{{ dir }}/{{ store }}.log".into()
}

/// A configuration file: where it goes and its template.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileTemplate {
    /// Its path on the node (a template).
    pub path: String,
    /// Its contents (a template).
    #[serde(default)]
    pub template: Option<String>,
    /// Or a file holding them, relative to the description.
    #[serde(default)]
    pub template_file: Option<String>,
}

/// The adapter process a worker starts.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientCommand {
    /// Its argv; runs on this machine (the controller), with the variables
    /// of the worker's node.
    pub command: Vec<String>,
    /// Extra environment for it.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The workloads for which it answers `read-local` (a node's own
    /// replica of a key) for the convergence checker.
    #[serde(default)]
    pub read_local: Vec<String>,
    /// Where a key's replicas are: `all` (every node holds every key) or
    /// `preflist` (the adapter answers `preflist` requests).
    #[serde(default = "default_replicas")]
    pub replicas: String,
}

fn default_replicas() -> String {
    "all".into()
}

/// A description that cannot be used: one line naming the file, the
/// field, what is wrong with it, and how to fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {field}: {problem}; {fix} ({DOCS})")]
pub struct DescriptionError {
    /// The description's path, as given.
    pub file: String,
    /// The field (`node.start`, `client.command[1]`), or `line N` for a
    /// TOML syntax error.
    pub field: String,
    /// What is wrong.
    pub problem: String,
    /// What to write instead.
    pub fix: String,
}

impl From<DescriptionError> for UsageError {
    fn from(e: DescriptionError) -> Self {
        UsageError(e.to_string())
    }
}

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
}

impl RunParams {
    /// The parameters of `cfg`.
    pub fn of(cfg: &TestConfig) -> Self {
        RunParams {
            workload: cfg.workload.clone(),
            keys: cfg.keys,
            values: cfg.values,
            op_timeout_ms: cfg.op_timeout_ms,
            concurrency: cfg.concurrency,
            seed: cfg.seed,
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

/// A store described in a TOML file, and its adapter.
#[derive(Clone, Debug)]
pub struct AdapterStore {
    desc: Description,
    /// The description's path, as given (for messages).
    file: String,
    /// Its directory, absolute (`adapter_dir`).
    dir: PathBuf,
    /// Each of `node.files`' template text (from `template_file` when
    /// given).
    templates: Vec<String>,
}

impl AdapterStore {
    /// Reads and checks the description at `path`: every field, and every
    /// template rendered once with sample variables.
    pub fn load(path: &Path) -> Result<Self, DescriptionError> {
        let file = path.display().to_string();
        let err = |field: &str, problem: String, fix: &str| DescriptionError {
            file: file.clone(),
            field: field.to_string(),
            problem,
            fix: fix.to_string(),
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            err(
                "(file)",
                format!("cannot read it: {e}"),
                "give --store the path of an adapter's .toml description",
            )
        })?;
        let dir = std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &file, &dir)
    }

    /// Reads and checks a description's `text`; `file` names it in errors
    /// and `dir` is where `template_file`s are found.
    pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Self, DescriptionError> {
        let err = |field: &str, problem: String, fix: &str| DescriptionError {
            file: file.to_string(),
            field: field.to_string(),
            problem,
            fix: fix.to_string(),
        };
        let table = text.parse::<toml::Table>().map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            err(
                &format!("line {line}"),
                format!("not valid TOML: {}", e.message().trim().replace('\n', " ")),
                "fix the syntax (strings in quotes, lists in [ ], tables as [name])",
            )
        })?;
        let desc: Description = serde_path_to_error::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| shape_error(file, &table, &e))?;
        let mut templates = Vec::new();
        for (i, f) in desc.node.files.iter().enumerate() {
            let field = format!("node.files[{i}]");
            templates.push(match (&f.template, &f.template_file) {
                (Some(t), None) => t.clone(),
                (None, Some(rel)) => {
                    let p = dir.join(rel);
                    std::fs::read_to_string(&p).map_err(|e| {
                        err(
                            &format!("{field}.template_file"),
                            format!("cannot read {}: {e}", p.display()),
                            "give a path relative to the description's folder",
                        )
                    })?
                }
                _ => {
                    return Err(err(
                        &field,
                        "needs exactly one of template and template_file".into(),
                        "write template = \"\"\"...\"\"\" (the contents) or template_file = \"x.conf.tera\"",
                    ))
                }
            });
        }
        let store = AdapterStore {
            desc,
            file: file.to_string(),
            dir: dir.to_path_buf(),
            templates,
        };
        store.check()?;
        Ok(store)
    }

    /// The description.
    pub fn description(&self) -> &Description {
        &self.desc
    }

    fn error(&self, field: &str, problem: impl Into<String>, fix: &str) -> DescriptionError {
        DescriptionError {
            file: self.file.clone(),
            field: field.to_string(),
            problem: problem.into(),
            fix: fix.to_string(),
        }
    }

    /// The checks serde cannot make, and a trial rendering of every
    /// template.
    fn check(&self) -> Result<(), DescriptionError> {
        let d = &self.desc;
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        };
        if !name_ok(&d.name) {
            return Err(self.error(
                "name",
                format!("{:?} is not a plain name", d.name),
                "use letters, digits, '.', '_' and '-', e.g. name = \"my-store\"",
            ));
        }
        if d.workloads.is_empty() {
            return Err(self.error(
                "workloads",
                "is empty",
                "name the workloads the adapter maps, e.g. workloads = [\"set\"]",
            ));
        }
        for (i, w) in d.workloads.iter().enumerate() {
            if !protocol::WORKLOADS.contains(&w.as_str()) {
                return Err(self.error(
                    &format!("workloads[{i}]"),
                    format!("adapters cannot run the workload {w:?}"),
                    &format!("use {}", protocol::WORKLOADS.join(" or ")),
                ));
            }
        }
        if d.port == 0 {
            return Err(self.error(
                "port",
                "is 0",
                "give the port clients use on every node, e.g. port = 8080",
            ));
        }
        for (k, v) in &d.ports {
            let ident = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ident || *v == 0 {
                return Err(self.error(
                    &format!("ports.{k}"),
                    "needs a name of letters, digits and '_' and a port that is not 0",
                    "e.g. [ports] then peer = 7000, used as {{ ports.peer }}",
                ));
            }
        }
        for (i, r) in d.requires.iter().enumerate() {
            if r.program.is_empty() || r.program.contains('/') || r.package.is_empty() {
                return Err(self.error(
                    &format!("requires[{i}]"),
                    "needs a program name (no path) and a package",
                    "e.g. requires = [{ program = \"redis-server\", package = \"redis-server\" }]",
                ));
            }
        }
        let argv_fix = "write each argument as one string, e.g. start = [\"{{ faultline_dir }}/ringkv\", \"--config\", \"{{ dir }}/ringkv.toml\"]";
        let lists = [
            ("node.install", &d.node.install),
            ("node.wipe", &d.node.wipe),
            ("node.setup", &d.node.setup),
        ];
        for (field, cmds) in lists {
            let fix = format!(
                "write each command as a list of arguments, e.g. {}",
                example(field)
            );
            for (i, argv) in cmds.iter().enumerate() {
                self.check_argv(&format!("{field}[{i}]"), argv, &fix)?;
            }
        }
        self.check_argv("node.start", &d.node.start, argv_fix)?;
        for (field, argv) in [
            ("node.stop", &d.node.stop),
            ("node.leave", &d.node.leave),
            ("node.join", &d.node.join),
        ] {
            if let Some(argv) = argv {
                self.check_argv(field, argv, argv_fix)?;
            }
        }
        if d.node.leave.is_some() != d.node.join.is_some() {
            let field = if d.node.leave.is_some() {
                "node.join"
            } else {
                "node.leave"
            };
            return Err(self.error(
                field,
                "is missing: the membership nemesis needs both leave and join",
                "give both node.leave and node.join, or neither",
            ));
        }
        self.check_argv(
            "client.command",
            &d.client.command,
            "e.g. command = [\"python3\", \"{{ adapter_dir }}/my_adapter.py\", \"{{ ip }}:{{ port }}\"]",
        )?;
        for (field, env) in [("node.env", &d.node.env), ("client.env", &d.client.env)] {
            for k in env.keys() {
                if k.is_empty() || k.contains('=') || k.contains('\0') {
                    return Err(self.error(
                        &format!("{field}.{k}"),
                        "is not an environment variable's name",
                        "use a name without '=', e.g. RUST_LOG = \"info\"",
                    ));
                }
            }
        }
        for (i, w) in d.client.read_local.iter().enumerate() {
            if !d.workloads.contains(w) {
                return Err(self.error(
                    &format!("client.read_local[{i}]"),
                    format!("{w:?} is not one of the description's workloads"),
                    &format!("list some of {:?}, or none", d.workloads),
                ));
            }
        }
        if !["all", "preflist"].contains(&d.client.replicas.as_str()) {
            return Err(self.error(
                "client.replicas",
                format!("{:?} is neither all nor preflist", d.client.replicas),
                "write replicas = \"all\" (every node holds every key) or \"preflist\" (the adapter answers preflist requests)",
            ));
        }
        self.trial_render()
    }

    fn check_argv(&self, field: &str, argv: &[String], fix: &str) -> Result<(), DescriptionError> {
        match argv.first() {
            None => Err(self.error(field, "is an empty command", fix)),
            Some(p) if p.trim().is_empty() => {
                Err(self.error(&format!("{field}[0]"), "names no program", fix))
            }
            Some(p) if argv.len() == 1 && p.trim().contains(' ') && !p.contains("{{") => {
                let split: Vec<String> = p.split_whitespace().map(|s| format!("{s:?}")).collect();
                Err(self.error(
                    field,
                    format!("{p:?} is one argument holding spaces: faultline runs no shell, so it would be run as one program of that name"),
                    &format!("split it into arguments: [{}]", split.join(", ")),
                ))
            }
            Some(_) => Ok(()),
        }
    }

    /// Renders every template with sample variables: a syntax error or an
    /// unknown variable shows now, not on a node half-way through a run.
    fn trial_render(&self) -> Result<(), DescriptionError> {
        let sample = |worker: &str| {
            let nodes: Vec<StoreNode> = (1..=3)
                .map(|i| StoreNode {
                    name: format!("n{i}"),
                    ip: std::net::Ipv4Addr::new(198, 18, 0, 10 + i).into(),
                    dir: PathBuf::from(format!("/tmp/faultline/n{i}")),
                })
                .collect();
            let params = RunParams {
                workload: self.desc.workloads[0].clone(),
                keys: 5,
                values: workloads::register::DEFAULT_VALUES,
                op_timeout_ms: 2000,
                concurrency: 6,
                seed: 0,
            };
            self.vars(&nodes, 0, &params, worker)
        };
        let fix = "templates use tera syntax ({{ variable }}, {% if %}, {% for n in nodes %}) and the variables listed in docs/adapters.md#variables";
        let node = sample("");
        let d = &self.desc;
        let mut argvs: Vec<(String, &Vec<String>)> = Vec::new();
        for (field, cmds) in [
            ("node.install", &d.node.install),
            ("node.wipe", &d.node.wipe),
            ("node.setup", &d.node.setup),
        ] {
            argvs.extend(
                cmds.iter()
                    .enumerate()
                    .map(|(i, a)| (format!("{field}[{i}]"), a)),
            );
        }
        argvs.push(("node.start".into(), &d.node.start));
        for (field, argv) in [
            ("node.stop", &d.node.stop),
            ("node.leave", &d.node.leave),
            ("node.join", &d.node.join),
        ] {
            if let Some(a) = argv {
                argvs.push((field.into(), a));
            }
        }
        for (field, argv) in argvs {
            for (i, a) in argv.iter().enumerate() {
                render(a, &node).map_err(|e| self.error(&format!("{field}[{i}]"), e, fix))?;
            }
        }
        let mut singles: Vec<(String, &String)> = vec![("node.log".into(), &d.node.log)];
        singles.extend(
            d.node
                .logs
                .iter()
                .enumerate()
                .map(|(i, l)| (format!("node.logs[{i}]"), l)),
        );
        singles.extend(d.node.env.iter().map(|(k, v)| (format!("node.env.{k}"), v)));
        for (i, f) in d.node.files.iter().enumerate() {
            singles.push((format!("node.files[{i}].path"), &f.path));
            let which = if f.template.is_some() {
                "template"
            } else {
                "template_file"
            };
            singles.push((format!("node.files[{i}].{which}"), &self.templates[i]));
        }
        for (field, t) in singles {
            render(t, &node).map_err(|e| self.error(&field, e, fix))?;
        }
        let client = sample("w0");
        for (i, a) in d.client.command.iter().enumerate() {
            render(a, &client).map_err(|e| self.error(&format!("client.command[{i}]"), e, fix))?;
        }
        for (k, v) in &d.client.env {
            render(v, &client).map_err(|e| self.error(&format!("client.env.{k}"), e, fix))?;
        }
        Ok(())
    }

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

/// An example of each field, for the fix of a type error.
fn example(field: &str) -> &'static str {
    match field {
        "name" => "name = \"my-store\"",
        "workloads" => "workloads = [\"set\", \"register\"]",
        "port" => "port = 8080",
        "ports" => "[ports] then peer = 7000",
        "requires" => "requires = [{ program = \"redis-server\", package = \"redis-server\" }]",
        "node" | "client" => "a table: [node] with start = [...], [client] with command = [...]",
        "node.install" => "install = [[\"apt-get\", \"install\", \"-y\", \"redis-server\"]]",
        "node.wipe" => "wipe = [[\"rm\", \"-rf\", \"--\", \"{{ dir }}/data\"]]",
        "node.setup" => "setup = [[\"mkdir\", \"-p\", \"{{ dir }}/data\"]]",
        "node.start" | "node.stop" | "node.leave" | "node.join" | "client.command" => {
            "a list of arguments, no shell: start = [\"{{ faultline_dir }}/ringkv\", \"--config\", \"{{ dir }}/ringkv.toml\"]"
        }
        "node.env" | "client.env" => "env = { RUST_LOG = \"info\" }",
        "node.log" => "log = \"{{ dir }}/store.log\"",
        "node.logs" => "logs = [\"{{ dir }}/data/store.log\"]",
        "node.files" => "[[node.files]] then path = \"{{ dir }}/store.conf\" and template = \"\"\"port {{ port }}\"\"\"",
        "node.faketime" => "faketime = true",
        "client.read_local" => "read_local = [\"set\"]",
        "client.replicas" => "replicas = \"all\"",
        _ => "see the example in examples/adapters/ringkv.toml",
    }
}

/// `node.files[0].path` → `node.files.path`: the field without indices.
fn plain_field(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The field a serde path names, for `example`: `node.install[2][0]` →
/// `node.install`; `node.files[0].path` → `node.files`.
fn example_field(path: &str) -> String {
    let plain = plain_field(path);
    let parts: Vec<&str> = plain.split('.').collect();
    if parts.len() > 2 {
        parts[..2].join(".")
    } else {
        plain
    }
}

/// The value at a serde path (`node.start`, `node.install[1]`) in the
/// table, if there is one.
fn lookup<'a>(table: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut cur: Option<&toml::Value> = None;
    for part in path.split('.') {
        let (name, indices) = part.split_once('[').unwrap_or((part, ""));
        cur = Some(match cur {
            None => table.get(name)?,
            Some(v) => v.get(name)?,
        });
        for ix in indices.split('[').filter(|s| !s.is_empty()) {
            let i: usize = ix.trim_end_matches(']').parse().ok()?;
            cur = Some(cur?.get(i)?);
        }
    }
    cur
}

/// One line for a deserialization error: the field, what is wrong, and
/// an example of what it should be.
fn shape_error(
    file: &str,
    table: &toml::Table,
    e: &serde_path_to_error::Error<toml::de::Error>,
) -> DescriptionError {
    let msg = e.inner().message().trim().replace('\n', " ");
    let path = e.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let at = |field: String, problem: String, fix: String| DescriptionError {
        file: file.to_string(),
        field,
        problem,
        fix,
    };
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, known) = rest.split_once('`').unwrap_or((rest, ""));
        let known = known
            .trim_start_matches(", expected ")
            .trim_start_matches("one of ")
            .replace('`', "");
        // The path is the unknown field's own (`node.strat`).
        let field = if path.is_empty() || path.ends_with(name) {
            if path.is_empty() {
                name.to_string()
            } else {
                path.clone()
            }
        } else {
            format!("{path}.{name}")
        };
        return at(
            field,
            "is not a field of an adapter description".into(),
            format!("check its spelling; known here: {known}"),
        );
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let field = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return at(
            field.clone(),
            "is missing".into(),
            format!("add it: {}", example(&example_field(&field))),
        );
    }
    let field = if path.is_empty() {
        "(top level)".to_string()
    } else {
        path.clone()
    };
    let ex = example(&example_field(&field));
    // A list of commands written as one command: nest it.
    let lists = ["node.install", "node.wipe", "node.setup"];
    if let Some(list) = lists.iter().find(|l| {
        path.strip_prefix(**l)
            .is_some_and(|rest| rest.starts_with('[') && rest.matches('[').count() == 1)
    }) {
        if let Some(toml::Value::Array(items)) = lookup(table, list) {
            if items.iter().all(toml::Value::is_str) {
                let args: Vec<String> = items
                    .iter()
                    .filter_map(|v| v.as_str().map(|a| format!("{a:?}")))
                    .collect();
                let name = list.trim_start_matches("node.");
                return at(
                    list.to_string(),
                    "is one command, but it is a list of commands (each a list of arguments)"
                        .into(),
                    format!("write {name} = [[{}]]", args.join(", ")),
                );
            }
        }
    }
    // A command written as a shell string: say so, and split it.
    if let (Some(toml::Value::String(s)), true) = (
        lookup(table, &path),
        msg.contains("expected a sequence") || msg.contains("expected a list"),
    ) {
        let split: Vec<String> = s.split_whitespace().map(|a| format!("{a:?}")).collect();
        return at(
            field,
            "is a string, but faultline runs no shell: a command is a list of arguments".into(),
            format!("write [{}]", split.join(", ")),
        );
    }
    let problem = msg
        .replace("expected a sequence", "expected a list")
        .replace("expected u16", "expected a port number (1-65535)")
        .replace("expected a boolean", "expected true or false");
    let problem = match problem.find("expected struct ") {
        Some(at) => format!("{}expected a table", &problem[..at]),
        None => problem,
    };
    at(field, problem, format!("e.g. {ex}"))
}

impl Store for AdapterStore {
    fn name(&self) -> &str {
        &self.desc.name
    }

    fn validate(&self, workload: &str, client: Option<&str>) -> Result<String, UsageError> {
        if !self.desc.workloads.iter().any(|w| w == workload) {
            let how = if protocol::WORKLOADS.contains(&workload) {
                format!("add {workload:?} to its workloads once its adapter maps {workload}'s ops")
            } else {
                format!("adapters run {}", protocol::WORKLOADS.join(" and "))
            };
            return Err(UsageError(format!(
                "--workload {workload}: the adapter {} ({}) runs {}; {how} (docs/adapters.md#workloads)",
                self.desc.name,
                self.file,
                self.desc.workloads.join(", ")
            )));
        }
        match client {
            None => Ok(protocol::MODE.to_string()),
            Some(m) if m == protocol::MODE => Ok(protocol::MODE.to_string()),
            Some(m) => Err(UsageError(format!(
                "--client {m}: a store through an adapter has one client mode, {} (the adapter decides how it talks to its store); leave --client out",
                protocol::MODE
            ))),
        }
    }

    fn requirements(&self) -> Vec<Requirement> {
        // Requirement holds &'static str (the built-in stores' lists are
        // constants): a description is loaded once or a few times per
        // process, so leaking its few short strings costs nothing.
        let purpose: &'static str =
            Box::leak(format!("the adapter {}", self.desc.name).into_boxed_str());
        self.desc
            .requires
            .iter()
            .map(|r| Requirement {
                program: Box::leak(r.program.clone().into_boxed_str()),
                package: Box::leak(r.package.clone().into_boxed_str()),
                purpose,
            })
            .collect()
    }

    fn ports(&self) -> Vec<u16> {
        let mut ports = vec![self.desc.port];
        ports.extend(
            self.desc
                .ports
                .values()
                .copied()
                .filter(|p| *p != self.desc.port),
        );
        ports
    }

    fn unsupported_fault(&self, kind: &str) -> Option<String> {
        match kind {
            "clock" if !self.desc.node.faketime => Some(format!(
                "the clock nemesis cannot reach the adapter {}: its description ({}) does not say the store honours libfaketime (node.faketime = true; Go binaries do not)",
                self.desc.name, self.file
            )),
            "membership" if self.desc.node.leave.is_none() => Some(format!(
                "the membership nemesis cannot reach the adapter {}: its description ({}) has no node.leave and node.join commands",
                self.desc.name, self.file
            )),
            _ => None,
        }
    }

    fn start(&self, cfg: &TestConfig, placement: Placement) -> Result<Arc<dyn StoreCluster>> {
        Ok(Arc::new(AdapterCluster::start(
            self.clone(),
            RunParams::of(cfg),
            placement,
        )?))
    }
}

/// Where the adapter processes' stderr logs go: `adapter/` in the run's
/// directory (the processes run on this machine, whatever the nodes).
pub fn client_log_dir(placement: &Placement) -> PathBuf {
    placement.run_dir.join("adapter")
}

/// A store's daemon on one node, as the cluster tracks it.
#[derive(Clone, Debug, Default)]
struct Daemon {
    pid: Option<u32>,
    paused: bool,
    left: bool,
}

/// A running cluster of a described store.
pub struct AdapterCluster {
    store: AdapterStore,
    params: RunParams,
    nodes: Vec<StoreNode>,
    control: Arc<dyn Control>,
    remote: bool,
    faketime: Option<PathBuf>,
    daemons: Mutex<Vec<Daemon>>,
    failure: FailureSlot,
    client_logs: PathBuf,
}

impl AdapterCluster {
    /// Installs (once), wipes, writes the files, sets up and starts every
    /// node, in that order; nodes in parallel. Adapter processes' stderr
    /// goes to [`client_log_dir`].
    pub fn start(store: AdapterStore, params: RunParams, placement: Placement) -> Result<Self> {
        let client_logs = client_log_dir(&placement);
        let faketime = placement
            .faketime
            .clone()
            .filter(|_| store.desc.node.faketime);
        let cluster = AdapterCluster {
            daemons: Mutex::new(vec![Daemon::default(); placement.nodes.len()]),
            store,
            params,
            nodes: placement.nodes,
            control: placement.control,
            remote: placement.remote,
            faketime,
            failure: FailureSlot::new(),
            client_logs,
        };
        cluster.install()?;
        cluster.on_each_node(|i| cluster.prepare(i))?;
        for i in 0..cluster.nodes.len() {
            cluster.spawn(i)?;
        }
        Ok(cluster)
    }

    fn name(&self) -> &str {
        &self.store.desc.name
    }

    fn vars(&self, i: usize, worker: &str) -> Vars {
        self.store.vars(&self.nodes, i, &self.params, worker)
    }

    fn index(&self, node: &str) -> Result<usize> {
        self.nodes
            .iter()
            .position(|n| n.name == node)
            .with_context(|| format!("no node {node}"))
    }

    fn argv(&self, i: usize, field: &str, argv: &[String]) -> Result<Vec<String>> {
        render_argv(argv, &self.vars(i, ""))
            .map_err(|e| anyhow::anyhow!("adapter {}: {field}: {e}", self.name()))
    }

    /// Runs `f` for every node at once; the first error, after all ended.
    fn on_each_node(&self, f: impl Fn(usize) -> Result<()> + Sync) -> Result<()> {
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..self.nodes.len())
                .map(|i| {
                    let f = &f;
                    s.spawn(move || f(i))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| bail!("a node's setup panicked"))
                })
                .collect()
        });
        results.into_iter().collect()
    }

    fn exec(&self, i: usize, field: &str, argv: &[String], timeout: Duration) -> Result<()> {
        let argv = self.argv(i, field, argv)?;
        let node = &self.nodes[i].name;
        self.control
            .exec(node, &argv, timeout)
            .with_context(|| format!("adapter {}: {field} on {node}", self.name()))?;
        Ok(())
    }

    /// `node.install`: once per node over SSH; locally once, on this
    /// machine (namespaced nodes share its filesystem, and a namespace has
    /// no route to a package mirror).
    fn install(&self) -> Result<()> {
        let cmds = &self.store.desc.node.install;
        if cmds.is_empty() {
            return Ok(());
        }
        if self.remote {
            return self.on_each_node(|i| {
                for (k, argv) in cmds.iter().enumerate() {
                    self.exec(i, &format!("node.install[{k}]"), argv, INSTALL_TIMEOUT)?;
                }
                Ok(())
            });
        }
        for (k, argv) in cmds.iter().enumerate() {
            let field = format!("node.install[{k}]");
            let argv = self.argv(0, &field, argv)?;
            run_here(&argv, INSTALL_TIMEOUT)
                .with_context(|| format!("adapter {}: {field} on this machine", self.name()))?;
        }
        Ok(())
    }

    fn write(&self, i: usize, path: &Path, text: &str) -> Result<()> {
        let node = &self.nodes[i].name;
        if self.remote {
            self.control.write_file(node, path, text)?;
        } else {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    /// A node's directory, wipe, files, clock offset and setup.
    fn prepare(&self, i: usize) -> Result<()> {
        let d = &self.store.desc.node;
        let node = &self.nodes[i];
        if self.remote {
            let mkdir = vec![
                "mkdir".to_string(),
                "-p".into(),
                "--".into(),
                node.dir.display().to_string(),
            ];
            self.control.exec(&node.name, &mkdir, COMMAND_TIMEOUT)?;
        } else {
            std::fs::create_dir_all(&node.dir)
                .with_context(|| format!("creating {}", node.dir.display()))?;
        }
        for (k, argv) in d.wipe.iter().enumerate() {
            self.exec(i, &format!("node.wipe[{k}]"), argv, COMMAND_TIMEOUT)?;
        }
        let vars = self.vars(i, "");
        for (k, f) in d.files.iter().enumerate() {
            let field = format!("node.files[{k}]");
            let fail = |e: String| anyhow::anyhow!("adapter {}: {field}: {e}", self.name());
            let path = render(&f.path, &vars).map_err(fail)?;
            let text = render(&self.store.templates[k], &vars).map_err(fail)?;
            self.write(i, Path::new(&path), &text)
                .with_context(|| format!("adapter {}: {field} on {}", self.name(), node.name))?;
        }
        if self.faketime.is_some() {
            self.write(i, &clock_file(node), &nemeses::clock::faketime_offset(0))?;
        }
        for (k, argv) in d.setup.iter().enumerate() {
            self.exec(i, &format!("node.setup[{k}]"), argv, COMMAND_TIMEOUT)?;
        }
        Ok(())
    }

    /// The daemon's log file on node `i`.
    fn log_file(&self, i: usize) -> PathBuf {
        PathBuf::from(render(&self.store.desc.node.log, &self.vars(i, "")).unwrap_or_default())
    }

    /// Starts the daemon of node `i`.
    fn spawn(&self, i: usize) -> Result<()> {
        let d = &self.store.desc.node;
        let node = &self.nodes[i];
        let vars = self.vars(i, "");
        let mut env = Vec::new();
        for (k, v) in &d.env {
            let v = render(v, &vars)
                .map_err(|e| anyhow::anyhow!("adapter {}: node.env.{k}: {e}", self.name()))?;
            env.push((k.clone(), v));
        }
        if let Some(lib) = &self.faketime {
            env.extend([
                ("LD_PRELOAD".to_string(), lib.display().to_string()),
                (
                    "FAKETIME_TIMESTAMP_FILE".into(),
                    clock_file(node).display().to_string(),
                ),
                ("FAKETIME_NO_CACHE".into(), "1".into()),
                ("DONT_FAKE_MONOTONIC".into(), "1".into()),
            ]);
        }
        let spec = DaemonSpec {
            argv: self.argv(i, "node.start", &d.start)?,
            log_file: self.log_file(i),
            env,
        };
        let pid = self
            .control
            .start_daemon(&node.name, &spec)
            .with_context(|| format!("adapter {}: node.start on {}", self.name(), node.name))?;
        let mut daemons = self.daemons.lock().unwrap();
        daemons[i].pid = Some(pid);
        daemons[i].paused = false;
        Ok(())
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.daemons.lock().unwrap()[i].pid
    }

    fn signal(&self, node: &str, sig: Signal) -> Result<()> {
        let i = self.index(node)?;
        if let Some(pid) = self.pid(i) {
            self.control.signal(node, pid, sig)?;
        }
        Ok(())
    }

    /// The end of node `i`'s daemon log.
    fn log_tail(&self, i: usize) -> String {
        let node = &self.nodes[i];
        let text = if self.remote {
            let argv = vec![
                "tail".to_string(),
                "-n".into(),
                "20".into(),
                "--".into(),
                self.log_file(i).display().to_string(),
            ];
            self.control
                .exec(&node.name, &argv, Duration::from_secs(10))
                .map(|o| o.stdout)
                .unwrap_or_default()
        } else {
            std::fs::read_to_string(self.log_file(i)).unwrap_or_default()
        };
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(empty log)")
            .to_string()
    }

    fn addr(&self, i: usize) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.nodes[i].ip, self.store.desc.port)
    }

    /// An adapter client for node `i`: `who` in messages, `slug` in its
    /// log's name and the `worker` variable.
    fn client(&self, i: usize, who: &str, slug: &str, shape: Shape) -> Result<Arc<AdapterClient>> {
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

    fn shape(&self, cfg: &TestConfig) -> Result<Shape> {
        Shape::of(&cfg.workload, cfg.keys).with_context(|| {
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

    /// Waits until node `i` accepts connections on the description's port.
    fn await_port(&self, i: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let addr = self.addr(i);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "adapter {} on {} did not listen on {addr} within {timeout:?} after a restart; last log line: {}",
                    self.name(),
                    self.nodes[i].name,
                    self.log_tail(i)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

/// Where node `node`'s libfaketime offset is written.
fn clock_file(node: &StoreNode) -> PathBuf {
    node.dir.join("faketime.rc")
}

/// Runs `argv` on this machine (outside any namespace), bounded.
fn run_here(argv: &[String], timeout: Duration) -> Result<()> {
    use std::process::{Command, Stdio};
    let (program, args) = argv.split_first().context("empty command")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let stderr = child.stderr.take();
    let drain = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
        }
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("`{}` did not finish within {timeout:?}", argv.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = drain.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "`{}` exited with {status}: {}",
            argv.join(" "),
            err.trim().replace('\n', " ")
        );
    }
    Ok(())
}

impl DbProcesses for AdapterCluster {
    fn kill(&self, node: &str) -> Result<()> {
        let i = self.index(node)?;
        let pid = self.daemons.lock().unwrap()[i].pid.take();
        if let Some(pid) = pid {
            self.control.signal(node, pid, Signal::SIGKILL)?;
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.control.is_alive(node, pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.daemons.lock().unwrap()[i].paused = false;
        Ok(())
    }

    fn start(&self, node: &str) -> Result<()> {
        let i = self.index(node)?;
        if self.pid(i).is_some_and(|p| self.control.is_alive(node, p)) {
            return Ok(());
        }
        self.spawn(i)?;
        self.await_port(i, RESTART_TIMEOUT)
    }

    fn pause(&self, node: &str) -> Result<()> {
        self.signal(node, Signal::SIGSTOP)?;
        let i = self.index(node)?;
        self.daemons.lock().unwrap()[i].paused = true;
        Ok(())
    }

    fn resume(&self, node: &str) -> Result<()> {
        self.signal(node, Signal::SIGCONT)?;
        let i = self.index(node)?;
        self.daemons.lock().unwrap()[i].paused = false;
        Ok(())
    }

    fn clock_file(&self, node: &str) -> Option<PathBuf> {
        self.faketime.as_ref()?;
        let i = self.index(node).ok()?;
        Some(clock_file(&self.nodes[i]))
    }

    fn leave(&self, node: &str) -> Result<()> {
        let i = self.index(node)?;
        let argv = self
            .store
            .desc
            .node
            .leave
            .as_ref()
            .with_context(|| format!("adapter {} has no node.leave command", self.name()))?;
        self.exec(i, "node.leave", argv, COMMAND_TIMEOUT)?;
        self.daemons.lock().unwrap()[i].left = true;
        Ok(())
    }

    fn join(&self, node: &str) -> Result<()> {
        let i = self.index(node)?;
        let argv = self
            .store
            .desc
            .node
            .join
            .as_ref()
            .with_context(|| format!("adapter {} has no node.join command", self.name()))?;
        self.exec(i, "node.join", argv, COMMAND_TIMEOUT)?;
        self.daemons.lock().unwrap()[i].left = false;
        Ok(())
    }

    fn heal(&self) -> Result<()> {
        let mut first_err = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if self.daemons.lock().unwrap()[i].paused {
                if let Err(e) = self.resume(&n.name) {
                    first_err.get_or_insert(e);
                }
            }
            if let Err(e) = DbProcesses::start(self, &n.name) {
                first_err.get_or_insert(e);
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if self.daemons.lock().unwrap()[i].left {
                if let Err(e) = self.join(&n.name) {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

#[async_trait::async_trait]
impl StoreCluster for AdapterCluster {
    fn nodes(&self) -> Vec<NodeAddr> {
        self.nodes.iter().map(StoreNode::addr).collect()
    }

    async fn await_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        for (i, node) in self.nodes.iter().enumerate() {
            let addr = self.addr(i);
            loop {
                let attempt = tokio::time::timeout(
                    Duration::from_millis(500),
                    tokio::net::TcpStream::connect(addr),
                )
                .await;
                if matches!(attempt, Ok(Ok(_))) {
                    break;
                }
                let dead = self
                    .pid(i)
                    .is_some_and(|p| !self.control.is_alive(&node.name, p));
                if dead || tokio::time::Instant::now() > deadline {
                    bail!(
                        "adapter {} on {} {} ({}): last log line: {}",
                        self.name(),
                        node.name,
                        if dead {
                            "exited at start-up".to_string()
                        } else {
                            format!("did not listen on {addr} in time")
                        },
                        self.log_file(i).display(),
                        self.log_tail(i)
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    fn stop(&self) {
        let stop = self.store.desc.node.stop.clone();
        let pids: Vec<Option<u32>> = self.daemons.lock().unwrap().iter().map(|d| d.pid).collect();
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(pid) = pids[i] else { continue };
            // A paused process cannot stop gracefully.
            let _ = self.control.signal(&n.name, pid, Signal::SIGCONT);
            match &stop {
                Some(argv) => {
                    if let Err(e) = self.exec(i, "node.stop", argv, COMMAND_TIMEOUT) {
                        tracing::warn!("{e:#}");
                    }
                }
                None => {
                    let _ = self.control.signal(&n.name, pid, Signal::SIGTERM);
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut daemons = self.daemons.lock().unwrap();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(pid) = daemons[i].pid.take() {
                while self.control.is_alive(&n.name, pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if self.control.is_alive(&n.name, pid) {
                    let _ = self.control.signal(&n.name, pid, Signal::SIGKILL);
                }
            }
        }
    }

    fn log_files(&self, node: &str) -> Vec<PathBuf> {
        let Ok(i) = self.index(node) else {
            return Vec::new();
        };
        let vars = self.vars(i, "");
        let mut files = vec![self.log_file(i)];
        for l in &self.store.desc.node.logs {
            if let Ok(p) = render(l, &vars) {
                let p = PathBuf::from(p);
                if !files.contains(&p) {
                    files.push(p);
                }
            }
        }
        files
    }

    fn workers(&self, cfg: &TestConfig) -> Result<Vec<WorkerPlan>> {
        self.plans(self.shape(cfg)?, &RunParams::of(cfg))
    }

    fn final_plan(&self, cfg: &TestConfig) -> Result<Option<FinalPlan>> {
        self.finals(self.shape(cfg)?, cfg.keys)
    }

    fn failure(&self) -> Option<String> {
        self.failure.get()
    }
}

/// The example description's path in this checkout.
#[cfg(test)]
fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/adapters/ringkv.toml")
}

#[cfg(test)]
mod tests;
