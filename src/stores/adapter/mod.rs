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
//! The description side: `description` (the TOML's fields), `parse`
//! (reading it, with errors that name the field and its fix), `check`
//! (what serde cannot say, and a trial rendering of every template),
//! `templates` (the variables and the rendering). The running side:
//! `cluster` (the processes on the nodes, their readiness, the nemesis's
//! hands on them, the workers' adapter processes and the final phase).
//! This module holds the [`AdapterStore`], the [`Store`] the seam sees.
//!
//!
//! [tera]: https://keats.github.io/tera/docs/

mod check;
mod cluster;
mod description;
mod parse;
mod shipped;
mod templates;

pub use cluster::{
    client_log_dir, AdapterCluster, COMMAND_TIMEOUT, INSTALL_TIMEOUT, REPLY_GRACE, RESTART_TIMEOUT,
};
pub use description::{
    ClientCommand, Description, DescriptionError, FileTemplate, NodeCommands, Required,
};
pub use shipped::load as load_shipped;
pub use templates::{render, render_argv, Peer, RunParams, Vars};

use super::{Placement, Store, StoreCluster};
use crate::cluster::control::os::Requirement;
use crate::settings::TestConfig;
use crate::UsageError;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;
use workloads::adapter as protocol;
use workloads::Workload;

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
    /// The description.
    pub fn description(&self) -> &Description {
        &self.desc
    }
}

impl Store for AdapterStore {
    fn name(&self) -> &str {
        &self.desc.name
    }

    fn validate(
        &self,
        workload: Workload,
        client: Option<&str>,
    ) -> Result<workloads::ClientMode, UsageError> {
        let name = workload.name();
        if !self.desc.workloads.iter().any(|w| w == name) {
            let version = self.desc.client.protocol();
            let how = if version.workloads().contains(&name) {
                format!("add {name:?} to its workloads once its adapter maps {name}'s ops")
            } else if protocol::WORKLOADS_V2.contains(&name) {
                format!("{name} needs an adapter of protocol 2 (protocol = 2 under [client], docs/adapters.md#hello)")
            } else {
                format!("adapters run {}", protocol::WORKLOADS_V2.join(", "))
            };
            return Err(UsageError(format!(
                "--workload {name}: the adapter {} ({}) runs {}; {how} (docs/adapters.md#workloads)",
                self.desc.name,
                self.file,
                self.desc.workloads.join(", ")
            )));
        }
        use workloads::ClientMode as M;
        // Where faultline, not the adapter, does the part a mode changes:
        // it carries a siblings write's context, it picks a session's node.
        let modes: &[M] = match workload {
            Workload::Siblings => &[M::Context, M::Blind],
            Workload::Session => &[M::Sticky, M::Random],
            _ => &[M::Adapter],
        };
        match client {
            None => Ok(modes[0]),
            Some(m) => match modes.iter().find(|k| k.name() == m) {
                Some(k) => Ok(*k),
                None if modes == [M::Adapter] => Err(UsageError(format!(
                    "--client {m}: {name} through an adapter has one client mode, {} (the adapter decides how it talks to its store); leave --client out",
                    protocol::MODE
                ))),
                None => Err(UsageError(format!(
                    "--client {m}: {name} through an adapter has the client modes {}",
                    modes.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
                ))),
            },
        }
    }

    fn params(&self) -> std::collections::BTreeMap<String, String> {
        self.desc.params.clone()
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

    fn unsupported_fault(&self, kind: nemeses::Kind) -> Option<String> {
        match kind {
            nemeses::Kind::Clock if !self.desc.node.faketime => Some(format!(
                "the clock nemesis cannot reach the adapter {}: its description ({}) does not say the store honours libfaketime (node.faketime = true; Go binaries do not)",
                self.desc.name, self.file
            )),
            nemeses::Kind::Membership if self.desc.node.leave.is_none() => Some(format!(
                "the membership nemesis cannot reach the adapter {}: its description ({}) has no node.leave and node.join commands",
                self.desc.name, self.file
            )),
            _ => None,
        }
    }

    /// `node.data_dir` and `node.data_files` of the description.
    fn data_dir(&self, _cfg: &TestConfig) -> Result<crate::stores::DataLayout, String> {
        match &self.desc.node.data_dir {
            Some(dir) => Ok(crate::stores::DataLayout {
                dir: dir.into(),
                files: self.desc.node.data_files.clone(),
            }),
            None => Err(format!(
                "the adapter {}'s description ({}) has no node.data_dir, the folder the store keeps its data in",
                self.desc.name, self.file
            )),
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

/// The example description's path in this checkout.
#[cfg(test)]
fn example_path() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/adapters/ringkv.toml")
}

#[cfg(test)]
mod tests;
