//! Checking a parsed description: what serde cannot say, and a trial
//! rendering of every template.
//!
//! Names must be plain, workloads ones adapters run, ports not 0, commands
//! non-empty argument lists (an argument holding spaces, unrendered, is
//! most likely a shell string and is refused with its split), `leave` and
//! `join` given together, environment names valid. Then every template is
//! rendered once with sample variables (three nodes, a worker), so a
//! syntax error or an unknown variable shows when the description is
//! loaded, not on a node half-way through a run.

use super::description::DescriptionError;
use super::parse::example;
use super::templates::{render, RunParams};
use super::AdapterStore;
use crate::stores::StoreNode;
use std::path::PathBuf;
use workloads::adapter as protocol;

impl AdapterStore {
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
    pub(super) fn check(&self) -> Result<(), DescriptionError> {
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
        let Some(version) = protocol::Protocol::from_number(d.client.protocol) else {
            return Err(self.error(
                "client.protocol",
                format!("{} is not a protocol version", d.client.protocol),
                "write protocol = 2 (a hello, every workload), or leave it out for protocol 1",
            ));
        };
        for (i, w) in d.workloads.iter().enumerate() {
            if !version.workloads().contains(&w.as_str()) {
                let fix = if protocol::WORKLOADS_V2.contains(&w.as_str()) {
                    format!(
                        "{w} needs protocol 2: add protocol = 2 under [client] and answer its hello (docs/adapters.md#hello)"
                    )
                } else {
                    format!("use {}", version.workloads().join(", "))
                };
                return Err(self.error(
                    &format!("workloads[{i}]"),
                    format!(
                        "adapters of protocol {} cannot run the workload {w:?}",
                        version.number()
                    ),
                    &fix,
                ));
            }
        }
        for k in d.params.keys() {
            let ident = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ident {
                return Err(self.error(
                    &format!("params.{k}"),
                    "is not a name of letters, digits and '_'",
                    "e.g. [params] then consistency_mode = \"consistent\", used as {{ params.consistency_mode }}",
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
            ("node.after_start", &d.node.after_start),
            ("cluster.after_start", &d.cluster.after_start),
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
            ("node.ready", &d.node.ready),
        ] {
            if let Some(argv) = argv {
                self.check_argv(field, argv, argv_fix)?;
            }
        }
        let relative = |p: &str| {
            let path = std::path::Path::new(p);
            !p.is_empty()
                && path.is_relative()
                && path
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
        };
        if let Some(dir) = &d.node.data_dir {
            if !relative(dir) {
                return Err(self.error(
                    "node.data_dir",
                    format!("{dir:?} is not a folder inside the node's directory"),
                    "give it relative to {{ dir }}, without '..', e.g. data_dir = \"data\"",
                ));
            }
        }
        for (i, f) in d.node.data_files.iter().enumerate() {
            let field = format!("node.data_files[{i}]");
            if d.node.data_dir.is_none() {
                return Err(self.error(
                    &field,
                    "names a file but node.data_dir is not given",
                    "give node.data_dir, the folder these files are in",
                ));
            }
            if !relative(f.trim_end_matches('/')) {
                return Err(self.error(
                    &field,
                    format!("{f:?} is not a path inside node.data_dir"),
                    "give it relative to node.data_dir, e.g. \"store.db\" or \"wal/\"",
                ));
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
                store_params: Default::default(),
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
            ("node.after_start", &d.node.after_start),
            ("cluster.after_start", &d.cluster.after_start),
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
            ("node.ready", &d.node.ready),
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
}
