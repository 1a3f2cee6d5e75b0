//! Command plans: argument vectors per node, never shell strings.

use serde::{Deserialize, Serialize};

/// One command on one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The node to run it on.
    pub node: String,
    /// The program and its arguments, passed as-is (no shell, no quoting).
    pub argv: Vec<String>,
    /// True when failure is expected and harmless (e.g. deleting a rule that
    /// may not exist), so the runner logs it instead of aborting.
    pub may_fail: bool,
}

/// An ordered list of steps; steps on different nodes are independent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The steps in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Appends a step that must succeed.
    pub fn run(&mut self, node: &str, argv: &[&str]) {
        self.push(node, argv, false);
    }

    /// Appends a step whose failure is harmless.
    pub fn try_run(&mut self, node: &str, argv: &[&str]) {
        self.push(node, argv, true);
    }

    fn push(&mut self, node: &str, argv: &[&str], may_fail: bool) {
        self.steps.push(Step {
            node: node.to_string(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            may_fail,
        });
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

    /// The plan as shell lines a user could paste, one per step, for reports.
    pub fn display_lines(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| format!("[{}] {}", s.node, s.argv.join(" ")))
            .collect()
    }
}
