//! Reading a description: TOML in, a checked [`AdapterStore`] out, or one
//! line saying which field is wrong and how to write it.
//!
//! The file is parsed as TOML, then deserialized field by field with the
//! path of each value kept (`serde_path_to_error`), so a type error names
//! its field (`node.install[2]`) and gets an example of that field
//! ([`example`]); the commonest slips — a command written as one shell
//! string, a list of commands written as one command — are recognised and
//! answered with the exact rewrite. Configuration file templates are read
//! (inline, or from `template_file` beside the description), and the store
//! is then checked as a whole (`check`).

use super::description::{Description, DescriptionError};
use super::AdapterStore;
use std::path::{Path, PathBuf};

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
}

/// An example of each field, for the fix of a type error.
pub(super) fn example(field: &str) -> &'static str {
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
        "node.ready" => "ready = [\"redis-cli\", \"-h\", \"{{ ip }}\", \"ping\"]",
        "node.after_start" => "after_start = [[\"my-store\", \"join\", \"{{ nodes[0].ip }}\"]]",
        "cluster" => "[cluster] then after_start = [[\"garage\", \"layout\", \"apply\", \"--version\", \"1\"]]",
        "cluster.after_start" => "after_start = [[\"garage\", \"layout\", \"apply\", \"--version\", \"1\"]]",
        "node.data_dir" => "data_dir = \"data\"",
        "node.data_files" => "data_files = [\"store.db\", \"wal/\"]",
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
