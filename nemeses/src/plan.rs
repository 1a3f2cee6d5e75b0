//! Command plans: what to do on each node, as data.
//!
//! A step either runs an argument vector (never a shell string: nothing in a
//! plan is ever re-parsed by a shell, so no value can become a command) or
//! writes a small file (a clock offset), which the control layer does with an
//! upload rather than `echo … > file`.

use serde::{Deserialize, Serialize};

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Run a program with these arguments, passed as-is.
    Exec {
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// Replace the contents of a file on the node.
    WriteFile {
        /// Path on the node.
        path: String,
        /// The new contents.
        contents: String,
    },
    /// Write into an existing file in place (no temporary file and
    /// rename): for kernel files such as a cgroup's `cgroup.procs`, which
    /// take one value a write and cannot be replaced.
    Overwrite {
        /// Path on the node.
        path: String,
        /// What to write.
        contents: String,
    },
}

/// One action on one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The node to act on.
    pub node: String,
    /// What to do there.
    #[serde(flatten)]
    pub action: Action,
    /// True when failure is expected and harmless (e.g. deleting a rule that
    /// may not exist), so the runner logs it instead of aborting.
    pub may_fail: bool,
}

impl Step {
    /// The argv of an `Exec` step (empty for other actions).
    pub fn argv(&self) -> &[String] {
        match &self.action {
            Action::Exec { argv } => argv,
            Action::WriteFile { .. } | Action::Overwrite { .. } => &[],
        }
    }

    /// The step as a line a user could read or replay.
    pub fn display(&self) -> String {
        match &self.action {
            Action::Exec { argv } => format!("[{}] {}", self.node, argv.join(" ")),
            Action::WriteFile { path, contents } => {
                format!(
                    "[{}] write {path:?} <- {:?}",
                    self.node,
                    contents.trim_end()
                )
            }
            Action::Overwrite { path, contents } => {
                format!(
                    "[{}] overwrite {path:?} <- {:?}",
                    self.node,
                    contents.trim_end()
                )
            }
        }
    }
}

/// An ordered list of steps; steps on different nodes are independent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The steps in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Appends a command that must succeed.
    pub fn run(&mut self, node: &str, argv: &[&str]) {
        self.push_exec(node, argv, false);
    }

    /// Appends a command whose failure is harmless.
    pub fn try_run(&mut self, node: &str, argv: &[&str]) {
        self.push_exec(node, argv, true);
    }

    /// Appends a file write.
    pub fn write_file(&mut self, node: &str, path: &str, contents: &str) {
        self.steps.push(Step {
            node: node.to_string(),
            action: Action::WriteFile {
                path: path.to_string(),
                contents: contents.to_string(),
            },
            may_fail: false,
        });
    }

    /// Appends an in-place write that must succeed.
    pub fn overwrite(&mut self, node: &str, path: &str, contents: &str) {
        self.push_overwrite(node, path, contents, false);
    }

    /// Appends an in-place write whose failure is harmless.
    pub fn try_overwrite(&mut self, node: &str, path: &str, contents: &str) {
        self.push_overwrite(node, path, contents, true);
    }

    fn push_overwrite(&mut self, node: &str, path: &str, contents: &str, may_fail: bool) {
        self.steps.push(Step {
            node: node.to_string(),
            action: Action::Overwrite {
                path: path.to_string(),
                contents: contents.to_string(),
            },
            may_fail,
        });
    }

    fn push_exec(&mut self, node: &str, argv: &[&str], may_fail: bool) {
        self.steps.push(Step {
            node: node.to_string(),
            action: Action::Exec {
                argv: argv.iter().map(|s| s.to_string()).collect(),
            },
            may_fail,
        });
    }

    /// Appends every step of `other`.
    pub fn extend(&mut self, other: Plan) {
        self.steps.extend(other.steps);
    }

    /// The steps grouped by node, preserving order within each node.
    pub fn by_node(&self) -> Vec<(String, Vec<&Step>)> {
        let mut out: Vec<(String, Vec<&Step>)> = Vec::new();
        for s in &self.steps {
            match out.iter_mut().find(|(n, _)| *n == s.node) {
                Some((_, v)) => v.push(s),
                None => out.push((s.node.clone(), vec![s])),
            }
        }
        out
    }

    /// The plan as lines a user could read, one per step, for reports.
    pub fn display_lines(&self) -> Vec<String> {
        self.steps.iter().map(Step::display).collect()
    }
}
