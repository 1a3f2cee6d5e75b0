//! A cluster's lifecycle against a recording control layer (no root): the
//! order of install, wipe, files, setup and start on every node; the
//! nemesis's signals by pid; the workers' spread and the final phase.

use super::super::tests::{nodes, params};
use super::*;
use crate::cluster::control::{ControlError, ExecOutput};
use crate::stores::DbProcesses;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use workloads::adapter::Shape;
use workloads::set;

/// A control layer that records what it is asked and keeps fake pids.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    next_pid: AtomicU32,
    alive: Mutex<HashSet<u32>>,
}

impl Recorder {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn on(&self, node: &str) -> Vec<String> {
        let prefix = format!("{node} ");
        self.calls()
            .into_iter()
            .filter_map(|c| c.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }
}

impl Control for Recorder {
    fn exec(&self, node: &str, argv: &[String], _: Duration) -> Result<ExecOutput, ControlError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{node} exec {}", argv.join(" ")));
        if argv[0] == "false" {
            return Err(ControlError::Failed {
                node: node.into(),
                command: argv.join(" "),
                status: 1,
                stderr: "nope".into(),
            });
        }
        Ok(ExecOutput::default())
    }

    fn start_daemon(&self, node: &str, spec: &DaemonSpec) -> Result<u32, ControlError> {
        let pid = 100 + self.next_pid.fetch_add(1, Ordering::SeqCst);
        self.alive.lock().unwrap().insert(pid);
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.calls.lock().unwrap().push(format!(
            "{node} daemon {} > {} [{}]",
            spec.argv.join(" "),
            spec.log_file.display(),
            env.join(" ")
        ));
        Ok(pid)
    }

    fn signal(&self, node: &str, pid: u32, signal: Signal) -> Result<(), ControlError> {
        if matches!(signal, Signal::SIGKILL | Signal::SIGTERM) {
            self.alive.lock().unwrap().remove(&pid);
        }
        self.calls
            .lock()
            .unwrap()
            .push(format!("{node} signal {signal} {pid}"));
        Ok(())
    }

    fn is_alive(&self, _: &str, pid: u32) -> bool {
        self.alive.lock().unwrap().contains(&pid)
    }

    fn upload(&self, node: &str, local: &Path, remote: &Path) -> Result<(), ControlError> {
        self.calls.lock().unwrap().push(format!(
            "{node} upload {} {}",
            local.file_name().unwrap().to_string_lossy(),
            remote.display()
        ));
        Ok(())
    }

    fn download(&self, _: &str, _: &Path, _: &Path) -> Result<(), ControlError> {
        unreachable!()
    }

    fn write_file(&self, node: &str, remote: &Path, contents: &str) -> Result<(), ControlError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{node} write {} {contents:?}", remote.display()));
        Ok(())
    }
}

const LIFECYCLE: &str = r#"
name = "life"
workloads = ["set", "register"]
port = 7000
[node]
install = [["apt-get", "install", "-y", "pkg-{{ node }}"]]
wipe = [["rm", "-rf", "--", "{{ dir }}/data"]]
setup = [["init", "{{ dir }}/data"], ["chown", "x", "{{ dir }}"]]
start = ["store", "--conf", "{{ dir }}/s.conf"]
env = { ID = "{{ index }}" }
logs = ["{{ dir }}/data/extra.log", "{{ dir }}/life.log"]
faketime = true
[[node.files]]
path = "{{ dir }}/s.conf"
template = "me {{ node }}{% for n in nodes %} peer {{ n.ip }}{% endfor %}"
[client]
command = ["adapter", "{{ worker }}", "{{ ip }}"]
read_local = ["set"]
"#;

fn placement(control: Arc<Recorder>, ns: Vec<StoreNode>, remote: bool) -> Placement {
    Placement {
        nodes: ns,
        control,
        remote,
        faketime: Some(PathBuf::from("/lib/faketime.so")),
        run_dir: PathBuf::from("/tmp/run"),
    }
}

#[test]
fn a_cluster_installs_wipes_writes_sets_up_then_starts_every_node_in_order() {
    // The description's folder: its files go to each SSH node first, and
    // a node's commands name the node's copy.
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("adapter.py"), "").unwrap();
    std::fs::create_dir(folder.path().join("sub")).unwrap();
    let text = LIFECYCLE.replace(
        "\"init\", \"{{ dir }}/data\"",
        "\"{{ adapter_dir }}/init\", \"{{ dir }}/data\"",
    );
    let store = AdapterStore::parse(&text, "life.toml", folder.path()).unwrap();
    let rec = Arc::new(Recorder::default());
    let ns = nodes(2, Path::new("/remote/run"));
    let cluster = AdapterCluster::start(store, params(), placement(rec.clone(), ns, true)).unwrap();
    assert_eq!(
        rec.on("n2"),
        [
            "exec mkdir -p -- /remote/run/n2/adapter",
            "upload adapter.py /remote/run/n2/adapter/adapter.py",
            "exec apt-get install -y pkg-n2",
            "exec mkdir -p -- /remote/run/n2",
            "exec rm -rf -- /remote/run/n2/data",
            "write /remote/run/n2/s.conf \"me n2 peer 198.18.3.11 peer 198.18.3.12\"",
            "write /remote/run/n2/faketime.rc \"+0.000s\\n\"",
            "exec /remote/run/n2/adapter/init /remote/run/n2/data",
            "exec chown x /remote/run/n2",
            "daemon store --conf /remote/run/n2/s.conf > /remote/run/n2/life.log [ID=1 \
             LD_PRELOAD=/lib/faketime.so FAKETIME_TIMESTAMP_FILE=/remote/run/n2/faketime.rc \
             FAKETIME_NO_CACHE=1 DONT_FAKE_MONOTONIC=1]",
        ]
    );
    assert_eq!(
        cluster.clock_file("n1"),
        Some(PathBuf::from("/remote/run/n1/faketime.rc"))
    );
    assert_eq!(
        cluster.log_files("n1"),
        [
            PathBuf::from("/remote/run/n1/life.log"),
            PathBuf::from("/remote/run/n1/data/extra.log")
        ]
    );
    assert_eq!(
        cluster
            .nodes()
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>(),
        ["n1", "n2"]
    );

    // The nemesis: kill -9, restart, SIGSTOP, SIGCONT by pid.
    rec.calls.lock().unwrap().clear();
    cluster.pause("n1").unwrap();
    cluster.kill("n2").unwrap();
    cluster.resume("n1").unwrap();
    assert_eq!(
        rec.calls(),
        [
            "n1 signal SIGSTOP 100",
            "n2 signal SIGKILL 101",
            "n1 signal SIGCONT 100"
        ]
    );
    rec.calls.lock().unwrap().clear();
    cluster.stop();
    assert_eq!(
        rec.calls(),
        ["n1 signal SIGCONT 100", "n1 signal SIGTERM 100"],
        "the killed node has no pid left to signal"
    );
    assert_eq!(cluster.failure(), None);
}

#[test]
fn workers_are_spread_over_the_nodes_and_the_final_phase_follows_the_description() {
    // Local nodes: install would run on this machine, so there is none.
    let text = LIFECYCLE.replace(
        "install = [[\"apt-get\", \"install\", \"-y\", \"pkg-{{ node }}\"]]\n",
        "",
    );
    assert_ne!(text, LIFECYCLE);
    let store = AdapterStore::parse(&text, "life.toml", Path::new("/a")).unwrap();
    let rec = Arc::new(Recorder::default());
    let dir = tempfile::tempdir().unwrap();
    let ns = nodes(2, dir.path());
    let cluster =
        AdapterCluster::start(store, params(), placement(rec.clone(), ns, false)).unwrap();
    let plans = cluster
        .plans(
            Shape::Set { keys: 4 },
            workloads::ClientMode::Adapter,
            &params(),
        )
        .unwrap();
    let targets: Vec<&str> = plans.iter().map(|p| p.targets[0].0.as_str()).collect();
    assert_eq!(targets, ["n1", "n2", "n1", "n2", "n1"]);
    assert!(plans.iter().all(|p| p.targets.len() == 1));
    let set = cluster.finals(Shape::Set { keys: 4 }, 4).unwrap().unwrap();
    assert_eq!(set.ops, [set::Generator::final_read()]);
    assert_eq!(set.keys, ["set-0", "set-1", "set-2", "set-3"]);
    assert_eq!(set.readers.len(), 2);
    assert_eq!(set.local.len(), 2);
    // The description reads registers' replicas for no one: the
    // linearizability checker judges the main phase alone.
    assert!(cluster.finals(Shape::Register, 4).unwrap().is_none());
    // Locally, the files are written with std::fs.
    let conf = std::fs::read_to_string(dir.path().join("n1/s.conf")).unwrap();
    assert_eq!(conf, "me n1 peer 198.18.3.11 peer 198.18.3.12");
    assert!(!rec.calls().iter().any(|c| c.contains("write ")));
}

#[test]
fn locally_install_runs_once_on_this_machine_and_a_failing_step_names_field_and_node() {
    let dir = tempfile::tempdir().unwrap();
    let text = LIFECYCLE
        .replace(
            "[[\"apt-get\", \"install\", \"-y\", \"pkg-{{ node }}\"]]",
            "[[\"touch\", \"{{ adapter_dir }}/installed-{{ node }}\"]]",
        )
        .replace(
            "[\"chown\", \"x\", \"{{ dir }}\"]",
            "[\"false\", \"{{ node }}\"]",
        );
    let store = AdapterStore::parse(&text, "life.toml", dir.path()).unwrap();
    let rec = Arc::new(Recorder::default());
    let ns = nodes(3, dir.path());
    let e = AdapterCluster::start(store, params(), placement(rec.clone(), ns, false))
        .err()
        .expect("setup fails");
    let installed: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("installed-"))
        .collect();
    assert_eq!(installed, ["installed-n1"]);
    assert!(!rec.calls().iter().any(|c| c.contains("touch")));
    let e = format!("{e:#}");
    assert!(e.starts_with("adapter life: node.setup[1] on n"), "{e}");
    assert!(e.contains("`false n"), "{e}");
    // No daemon starts on a cluster whose setup failed.
    assert!(!rec.calls().iter().any(|c| c.contains("daemon")));
}
