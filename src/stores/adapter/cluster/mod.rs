//! A running cluster of a described store: its processes, their readiness,
//! and the nemesis's hands on them.
//!
//! Starting a cluster runs the description's lifecycle on every node, nodes
//! in parallel: `install` (once per SSH node; locally once, on this machine,
//! since namespaced nodes share its filesystem and have no route to a
//! package mirror), then the node's directory, `wipe`, the configuration
//! files, the libfaketime offset file when clock faults are on, `setup`,
//! and the daemon (`start`, in the foreground, its pid kept). A node is
//! ready when its `ready` command exits 0 (tried every 200 ms), or, without
//! one, when it accepts connections on the description's port; one whose
//! daemon exited at start-up is named with the last line of its log. The
//! first time every node is ready, the cluster is formed: each node's
//! `after_start`, then the cluster's `after_start` on the first node (the
//! step a store needs before it serves: a layout, an init, a replication
//! document), and every node is awaited ready again.
//! Stopping runs `stop` (or sends SIGTERM), then SIGKILL after a grace
//! period. The nemesis's kill, pause, restart, leave and join are in
//! `processes`; the workers' adapter processes and the final phase in
//! `plans`.

mod plans;
mod processes;

pub use plans::REPLY_GRACE;

use super::templates::{render, render_argv, RunParams, Vars};
use super::AdapterStore;
use crate::cluster::control::{Control, DaemonSpec, Signal};
use crate::settings::TestConfig;
use crate::stores::{FinalPlan, Placement, StoreCluster, StoreNode, WorkerPlan};
use anyhow::{bail, Context, Result};
use nemeses::NodeAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workloads::adapter::FailureSlot;

/// How long one `install` command may take: package managers are slow,
/// and a store built from source (`cargo install --locked garage`) takes
/// a quarter of an hour on two cores. The run's `--setup-timeout` bounds
/// the whole start as well.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(2400);

/// How long one `setup`, `wipe`, `stop`, `leave` or `join` command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a restarted node may take to listen on its port again.
pub const RESTART_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one try of a node's `ready` command may take.
pub const READY_TRY: Duration = Duration::from_secs(5);

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
    /// The after-start commands have run (they run once).
    formed: std::sync::atomic::AtomicBool,
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
            formed: std::sync::atomic::AtomicBool::new(false),
        };
        if cluster.remote {
            cluster.on_each_node(|i| cluster.ship_adapter_dir(i))?;
        }
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

    /// The store's description.
    pub fn description(&self) -> &super::Description {
        &self.store.desc
    }

    /// The variables of node `i`, and of client `worker` when not empty.
    /// On SSH nodes, a node's own commands see `adapter_dir` as the node's
    /// copy of the description's folder ([`Self::ship_adapter_dir`]); the
    /// clients run here and see this machine's.
    fn vars(&self, i: usize, worker: &str) -> Vars {
        let mut vars = self.store.vars(&self.nodes, i, &self.params, worker);
        if self.remote && worker.is_empty() {
            vars.adapter_dir = self.node_adapter_dir(i).display().to_string();
        }
        vars
    }

    /// Where an SSH node keeps its copy of the description's folder.
    fn node_adapter_dir(&self, i: usize) -> PathBuf {
        self.nodes[i].dir.join("adapter")
    }

    /// Copies the files of the description's folder (its scripts, its
    /// package lists; not its subfolders) to an SSH node, modes kept, so
    /// that `{{ adapter_dir }}` in the node's commands names files the
    /// node has.
    fn ship_adapter_dir(&self, i: usize) -> Result<()> {
        let node = &self.nodes[i].name;
        let dest = self.node_adapter_dir(i);
        let mkdir = vec![
            "mkdir".to_string(),
            "-p".into(),
            "--".into(),
            dest.display().to_string(),
        ];
        self.control.exec(node, &mkdir, COMMAND_TIMEOUT)?;
        let entries = std::fs::read_dir(&self.store.dir).with_context(|| {
            format!(
                "adapter {}: reading its folder {}",
                self.name(),
                self.store.dir.display()
            )
        })?;
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().expect("a file has a name");
            self.control.upload(node, &f, &dest.join(name))?;
        }
        Ok(())
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
        tracing::info!(node = %node.name, pid, argv = ?spec.argv, "store started");
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

    /// One readiness probe of node `i`: its `ready` command exits 0, or
    /// (without one) its port accepts a connection.
    fn ready_once(&self, i: usize) -> bool {
        match &self.store.desc.node.ready {
            Some(argv) => match self.argv(i, "node.ready", argv) {
                Ok(argv) => self
                    .control
                    .exec(&self.nodes[i].name, &argv, READY_TRY)
                    .is_ok(),
                Err(_) => false,
            },
            None => std::net::TcpStream::connect_timeout(&self.addr(i), Duration::from_millis(200))
                .is_ok(),
        }
    }

    /// What readiness means for this store, for messages.
    fn readiness(&self, i: usize) -> String {
        match &self.store.desc.node.ready {
            Some(_) => "answer its node.ready command".to_string(),
            None => format!("listen on {}", self.addr(i)),
        }
    }

    /// Waits until node `i` is ready again after a restart.
    fn await_port(&self, i: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.ready_once(i) {
            if Instant::now() > deadline {
                bail!(
                    "adapter {} on {} did not {} within {timeout:?} after a restart; last log line: {}",
                    self.name(),
                    self.nodes[i].name,
                    self.readiness(i),
                    self.log_tail(i)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    /// Forms the cluster, the first time every node is ready: each node's
    /// `node.after_start` (nodes in parallel), then `cluster.after_start`
    /// on the first node. True when it ran now.
    fn form(&self) -> Result<bool> {
        use std::sync::atomic::Ordering;
        if self.formed.swap(true, Ordering::SeqCst) {
            return Ok(false);
        }
        let d = &self.store.desc;
        if d.node.after_start.is_empty() && d.cluster.after_start.is_empty() {
            return Ok(false);
        }
        self.on_each_node(|i| {
            for (k, argv) in d.node.after_start.iter().enumerate() {
                self.exec(i, &format!("node.after_start[{k}]"), argv, COMMAND_TIMEOUT)?;
            }
            Ok(())
        })?;
        for (k, argv) in d.cluster.after_start.iter().enumerate() {
            self.exec(
                0,
                &format!("cluster.after_start[{k}]"),
                argv,
                COMMAND_TIMEOUT,
            )?;
        }
        Ok(true)
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

#[async_trait::async_trait]
impl StoreCluster for AdapterCluster {
    fn nodes(&self) -> Vec<NodeAddr> {
        self.nodes.iter().map(StoreNode::addr).collect()
    }

    async fn await_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        // The probes and the after-start commands block (they run through
        // the control layer): off the runtime's worker where it can.
        let blocking = |f: &mut dyn FnMut() -> Result<bool>| match tokio::runtime::Handle::current()
            .runtime_flavor()
        {
            tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
            _ => f(),
        };
        loop {
            for (i, node) in self.nodes.iter().enumerate() {
                loop {
                    if blocking(&mut || Ok(self.ready_once(i)))? {
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
                                format!("did not {} in time", self.readiness(i))
                            },
                            self.log_file(i).display(),
                            self.log_tail(i)
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            // Formed just now: every node is awaited ready again.
            if !blocking(&mut || self.form())? {
                return Ok(());
            }
        }
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
        self.plans(self.shape(cfg)?, cfg.client, &RunParams::of(cfg))
    }

    fn final_plan(&self, cfg: &TestConfig) -> Result<Option<FinalPlan>> {
        self.finals(self.shape(cfg)?, cfg.keys)
    }

    fn failure(&self) -> Option<String> {
        self.failure.get()
    }
}

#[cfg(test)]
mod tests;
