//! `faultline heal`: undo what a dead run left behind, on this machine or
//! on SSH nodes. The work is [`crate::run::heal`]'s; this is the flags.

use crate::run::heal;
use std::path::PathBuf;

/// `faultline heal` flags: none for local runs; the node flags to heal SSH
/// nodes.
#[derive(clap::Args, Debug)]
pub struct HealArgs {
    /// The folder of the run to heal (`results/<test>/<time>`): its
    /// `test.json` says which SSH nodes it ran on and how to log in, so no
    /// node flags are needed (a password, never saved, is still given with
    /// --password).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["nodes", "nodes_file"])]
    pub run: Option<PathBuf>,
    /// SSH nodes to heal (as `faultline test --nodes HOSTS` named them).
    #[command(flatten)]
    pub ssh: crate::cluster::nodes::SshArgs,
    /// Only undo faults: leave ringkv running and its files in place.
    #[arg(long)]
    pub leave_db_running: bool,
}

/// Runs `faultline heal`: the run folder's nodes with `--run`, the SSH
/// nodes given, or else every dead local run.
pub fn main(args: &HealArgs) -> anyhow::Result<i32> {
    match (
        &args.run,
        args.ssh.nodes.is_some() || args.ssh.nodes_file.is_some(),
    ) {
        (Some(dir), _) => {
            heal::run_folder(dir, args.ssh.login.password.clone(), args.leave_db_running)
        }
        (None, true) => heal::ssh_nodes(&crate::cluster::nodes::RemoteNodes::from_setup(
            &args.ssh.resolve()?,
            args.leave_db_running,
        )),
        (None, false) => Ok(heal::local()),
    }
}
