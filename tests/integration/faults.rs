//! Every fault, for real, and its undoing: a three-node ringkv cluster in
//! network namespaces, one fault applied through the same [`NemesisRunner`]
//! a test run uses, its effect observed from outside (TCP, ping, the node's
//! own clock, `/proc`), then the fault stopped and the effect gone.
//!
//! Needs root (as CI has): the tests fail rather than skip without it. Each
//! test builds its own cluster in its own slot, so they may run in parallel.

use crate::util::lab::Namespaces;
use crate::util::{proc_state, ringkv_bin};
use faultline::cluster::control::local::LocalControl;
use faultline::cluster::control::{Control, ExecOutput};
use faultline::run::history_log::HistoryLog;
use faultline::run::nemesis::NemesisRunner;
use faultline::settings::Replication;
use faultline::stores::ringkv::cluster::{RingkvCluster, RingkvNode};
use faultline::stores::DbProcesses;
use nemeses::clock::ClockFault;
use nemeses::partition::Partition;
use nemeses::schedule::Fault;
use nemeses::NodeAddr;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A running three-node cluster with a nemesis, torn down on drop.
struct Lab {
    rt: tokio::runtime::Runtime,
    control: Arc<dyn Control>,
    cluster: Arc<RingkvCluster>,
    nemesis: NemesisRunner,
    log: Arc<HistoryLog>,
    /// Dropped last (fields drop in order, after [`Lab`]'s own drop).
    net: Namespaces,
}

impl Lab {
    fn new() -> Lab {
        let net = Namespaces::new(3);
        let (network, dir) = (&net.network, &net.dir);
        let control: Arc<dyn Control> = Arc::new(LocalControl::new(network.namespaces()));
        let nodes = network
            .nodes
            .iter()
            .map(|n| RingkvNode::new(&n.name, n.ip, dir.path().join(&n.name)))
            .collect();
        let faketime = faultline::cluster::control::os::find_libfaketime()
            .expect("libfaketime (Debian package faketime)");
        let cluster = Arc::new(
            RingkvCluster::start(
                control.clone(),
                &ringkv_bin(),
                nodes,
                Replication::default(),
                Some(faketime),
            )
            .unwrap(),
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(cluster.await_ready(Duration::from_secs(20)))
            .unwrap();
        let log = Arc::new(HistoryLog::create(&dir.path().join("history.jsonl")).unwrap());
        let addrs = network
            .nodes
            .iter()
            .map(|n| NodeAddr {
                name: n.name.clone(),
                ip: n.ip.into(),
            })
            .collect();
        let nemesis = rt
            .block_on(NemesisRunner::setup(
                control.clone(),
                cluster.clone(),
                addrs,
                log.clone(),
                dir.path().join("nemesis.jsonl"),
            ))
            .unwrap();
        Lab {
            rt,
            control,
            cluster,
            nemesis,
            log,
            net,
        }
    }

    fn names(&self) -> Vec<String> {
        self.net.names()
    }

    fn ip(&self, node: &str) -> String {
        let n = self
            .net
            .network
            .nodes
            .iter()
            .find(|n| n.name == node)
            .unwrap();
        n.ip.to_string()
    }

    fn start(&self, fault: Fault) {
        self.rt.block_on(self.nemesis.start(fault)).unwrap();
    }

    fn stop(&self, kind: &str) {
        self.rt
            .block_on(
                self.nemesis
                    .stop(nemeses::Kind::parse(kind).expect("a fault kind")),
            )
            .unwrap();
    }

    fn exec(&self, node: &str, argv: &[&str], timeout_s: u64) -> Result<ExecOutput, String> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        self.control
            .exec(node, &argv, Duration::from_secs(timeout_s))
            .map_err(|e| e.to_string())
    }

    /// Whether a TCP connection from `from` to ringkv on `to` completes
    /// within a second.
    fn tcp(&self, from: &str, to: &str) -> bool {
        let script = "exec 3<>/dev/tcp/$0/$1";
        self.exec(
            from,
            &["timeout", "1", "bash", "-c", script, &self.ip(to), "8080"],
            5,
        )
        .is_ok()
    }

    /// `GET /admin/status` on `node`, from the controller.
    fn status(&self, node: &str) -> Result<Value, String> {
        let url = format!("http://{}:8080/admin/status", self.ip(node));
        self.rt.block_on(async {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_millis(700))
                .build()
                .unwrap();
            let r = http.get(&url).send().await.map_err(|e| e.to_string())?;
            r.json::<Value>().await.map_err(|e| e.to_string())
        })
    }

    /// The node's wall clock minus ours, in ms.
    fn clock_offset_ms(&self, node: &str) -> i64 {
        let s = self.status(node).unwrap();
        let theirs = s["wall_clock_ms"].as_i64().unwrap();
        theirs - now_ms()
    }

    fn pid(&self, node: &str) -> u32 {
        let nodes = self.cluster.nodes();
        nodes.iter().find(|n| n.name == node).unwrap().pid.unwrap()
    }

    /// The nemesis ops recorded so far.
    fn nemesis_ops(&self) -> Vec<Value> {
        std::fs::read_to_string(self.net.dir.path().join("history.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|o| o["process"] == "nemesis")
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.nemesis.heal_all());
        let _ = self.rt.block_on(self.nemesis.teardown());
        self.cluster.stop();
        let _ = self.log.finish();
        // `net` tears the namespaces down as it drops.
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn partition(spec: &str, lab: &Lab, one_way: bool) -> Fault {
    Fault::Partition(Partition::explicit(spec, &lab.names(), one_way).unwrap())
}

#[test]
fn partition_cuts_tcp_between_components_and_heals() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new();
    assert!(
        lab.tcp("n1", "n2") && lab.tcp("n2", "n1"),
        "connected before"
    );
    lab.start(partition("n1|n2,n3", &lab, false));
    assert!(
        !lab.tcp("n1", "n2"),
        "n1 still reaches n2 across the partition"
    );
    assert!(
        !lab.tcp("n3", "n1"),
        "n3 still reaches n1 across the partition"
    );
    assert!(
        lab.tcp("n2", "n3"),
        "a component must stay connected inside"
    );
    lab.stop("partition");
    assert!(lab.tcp("n1", "n2") && lab.tcp("n3", "n1"), "not healed");
    let fs: Vec<String> = lab
        .nemesis_ops()
        .iter()
        .map(|o| o["f"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        fs,
        [
            "start-partition",
            "start-partition",
            "stop-partition",
            "stop-partition"
        ]
    );
}

#[test]
fn one_way_partition_drops_only_into_the_first_component() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new();
    lab.start(partition("n1|n2,n3", &lab, true));
    // n1 -> n2: the SYN arrives (n2 holds a half-open connection from n1),
    // but n2's answer is dropped on the way into n1.
    assert!(!lab.tcp("n1", "n2"));
    let syn_recv = lab
        .exec("n2", &["ss", "-Htn", "state", "syn-recv"], 5)
        .unwrap()
        .stdout;
    assert!(
        syn_recv.contains(&lab.ip("n1")),
        "n1's SYN never reached n2: {syn_recv:?}"
    );
    // n2 -> n1: dropped on arrival, n1 never sees it.
    assert!(!lab.tcp("n2", "n1"));
    let syn_recv = lab
        .exec("n1", &["ss", "-Htn", "state", "syn-recv"], 5)
        .unwrap()
        .stdout;
    assert!(!syn_recv.contains(&lab.ip("n2")), "{syn_recv:?}");
    lab.stop("partition");
    assert!(lab.tcp("n1", "n2") && lab.tcp("n2", "n1"));
}

/// Share of ping packets lost from `from` to `to` (ping exits 1 when any
/// were lost; its summary line is what counts).
fn ping_loss(lab: &Lab, from: &str, to: &str, count: u32) -> f64 {
    let script = "ping -q -n -c \"$0\" -i 0.005 -W 1 \"$1\" || true";
    let out = lab
        .exec(
            from,
            &["sh", "-c", script, &count.to_string(), &lab.ip(to)],
            60,
        )
        .unwrap();
    parse_loss(&out.stdout)
}

fn parse_loss(summary: &str) -> f64 {
    let line = summary
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary in {summary:?}"));
    let sent: f64 = line.split_whitespace().next().unwrap().parse().unwrap();
    let received: f64 = line
        .split(',')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    1.0 - received / sent
}

#[test]
fn packet_loss_is_near_the_set_probability_and_heals() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new();
    assert_eq!(ping_loss(&lab, "n1", "n2", 100), 0.0);
    lab.start(Fault::Loss {
        targets: vec!["n2".into()],
        from: Vec::new(),
        probability: 0.3,
    });
    let loss = ping_loss(&lab, "n1", "n2", 600);
    // 600 packets at p = 0.3: the standard deviation is under 2 points.
    assert!(
        (0.22..=0.38).contains(&loss),
        "measured loss {loss:.3}, set 0.3"
    );
    // Only traffic into the target is dropped.
    assert_eq!(ping_loss(&lab, "n1", "n3", 100), 0.0);
    lab.stop("loss");
    assert_eq!(ping_loss(&lab, "n1", "n2", 200), 0.0);
    // One link: into n3 from n1 only.
    lab.start(Fault::Loss {
        targets: vec!["n3".into()],
        from: vec!["n1".into()],
        probability: 0.5,
    });
    let link = ping_loss(&lab, "n1", "n3", 400);
    assert!(
        (0.4..=0.6).contains(&link),
        "measured {link:.3} on the link, set 0.5"
    );
    assert_eq!(
        ping_loss(&lab, "n2", "n3", 100),
        0.0,
        "other links are untouched"
    );
    lab.stop("loss");
}

#[test]
fn clock_bump_skews_the_wall_clock_not_the_timers_and_resets() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new();
    assert!(lab.clock_offset_ms("n2").abs() < 1000);
    lab.start(Fault::Clock(ClockFault::Bump {
        targets: vec!["n2".into()],
        offset_ms: 120_000,
    }));
    let skew = lab.clock_offset_ms("n2");
    assert!(
        (119_000..121_000).contains(&skew),
        "n2's wall clock is off by {skew} ms, expected +120 s"
    );
    assert!(
        lab.clock_offset_ms("n1").abs() < 1000,
        "n1 was not a target"
    );
    // Monotonic time is untouched: uptime advances with real time, and the
    // node's own request timeouts and timers keep working.
    let (u1, t1) = (
        lab.status("n2").unwrap()["uptime_ms"].as_i64().unwrap(),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let u2 = lab.status("n2").unwrap()["uptime_ms"].as_i64().unwrap();
    let real = t1.elapsed().as_millis() as i64;
    assert!(
        (u2 - u1 - real).abs() < 300,
        "uptime advanced {} ms in {real} ms of real time",
        u2 - u1
    );
    lab.stop("clock");
    assert!(lab.clock_offset_ms("n2").abs() < 1000, "clock not reset");
    // The history records each node's offset.
    let ops = lab.nemesis_ops();
    assert_eq!(ops[0]["f"], "bump-clock");
    assert_eq!(ops[0]["value"]["offset_ms"], 120_000);
    assert_eq!(ops[0]["value"]["targets"], serde_json::json!(["n2"]));
    assert_eq!(ops[2]["f"], "reset-clock");
}

#[test]
fn clock_strobe_flips_back_and_forth_then_resets() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new();
    lab.start(Fault::Clock(ClockFault::Strobe {
        targets: vec!["n3".into()],
        delta_ms: 60_000,
        period_ms: 100,
        duration_ms: 3_000,
    }));
    let (mut skewed, mut normal) = (0, 0);
    for _ in 0..30 {
        let off = lab.clock_offset_ms("n3");
        if (59_000..61_000).contains(&off) {
            skewed += 1;
        } else if off.abs() < 1000 {
            normal += 1;
        } else {
            panic!("n3's offset {off} ms is neither 0 nor +60 s");
        }
        std::thread::sleep(Duration::from_millis(37));
    }
    assert!(skewed > 3 && normal > 3, "skewed {skewed}, normal {normal}");
    lab.stop("clock");
    for _ in 0..5 {
        assert!(
            lab.clock_offset_ms("n3").abs() < 1000,
            "strobe outlived its stop"
        );
        std::thread::sleep(Duration::from_millis(60));
    }
}

#[test]
fn kill_takes_the_process_away_and_restart_brings_it_back() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new();
    let before = lab.pid("n2");
    lab.start(Fault::Kill {
        targets: vec!["n2".into()],
    });
    assert!(!lab.control.is_alive("n2", before), "n2 survived kill -9");
    assert!(!lab.tcp("n1", "n2"), "something still listens on n2");
    assert!(lab.status("n2").is_err());
    lab.stop("kill");
    let after = lab.pid("n2");
    assert_ne!(before, after, "not a new process");
    assert!(lab.control.is_alive("n2", after));
    lab.rt
        .block_on(lab.cluster.await_ready(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(lab.status("n2").unwrap()["node"], "n2");
    let fs: Vec<Value> = lab.nemesis_ops().iter().map(|o| o["f"].clone()).collect();
    assert_eq!(fs, ["kill", "kill", "start", "start"]);
}

#[test]
fn pause_stops_answering_and_resume_continues() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new();
    let pid = lab.pid("n3");
    lab.start(Fault::Pause {
        targets: vec!["n3".into()],
    });
    // SIGSTOP takes effect when the kernel next schedules the process
    // (the bound is generous: it checks that it happens, not how soon).
    let deadline = Instant::now() + Duration::from_secs(30);
    while proc_state(pid) != Some('T') {
        assert!(
            Instant::now() < deadline,
            "n3 is not stopped: {:?}",
            proc_state(pid)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(lab.status("n3").is_err(), "a paused node answered");
    lab.stop("pause");
    assert_ne!(proc_state(pid), Some('T'));
    assert_eq!(lab.pid("n3"), pid, "resume must continue the same process");
    assert_eq!(lab.status("n3").unwrap()["node"], "n3");
}

#[test]
fn heal_all_undoes_every_fault_at_once() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new();
    let db: &dyn DbProcesses = lab.cluster.as_ref();
    lab.start(partition("n1|n2,n3", &lab, false));
    lab.start(Fault::Loss {
        targets: vec!["n1".into(), "n3".into()],
        from: Vec::new(),
        probability: 0.5,
    });
    lab.start(Fault::Clock(ClockFault::Bump {
        targets: vec!["n1".into(), "n2".into()],
        offset_ms: -30_000,
    }));
    lab.start(Fault::Kill {
        targets: vec!["n1".into()],
    });
    lab.start(Fault::Membership {
        targets: vec!["n3".into()],
    });
    lab.start(Fault::Pause {
        targets: vec!["n2".into()],
    });
    lab.rt.block_on(lab.nemesis.heal_all()).unwrap();
    lab.rt
        .block_on(lab.cluster.await_ready(Duration::from_secs(10)))
        .unwrap();
    for n in lab.names() {
        for chain in ["FAULTLINE", "FAULTLINE-LOSS"] {
            let rules = lab
                .exec(&n, &["iptables", "-w", "-S", chain], 5)
                .unwrap()
                .stdout;
            assert_eq!(rules.trim(), format!("-N {chain}"), "{n} still has rules");
        }
        assert!(
            lab.clock_offset_ms(&n).abs() < 1000,
            "{n}'s clock not reset"
        );
        let clock_file = db.clock_file(&n).unwrap();
        assert_eq!(std::fs::read_to_string(clock_file).unwrap(), "+0.000s\n");
        assert_ne!(proc_state(lab.pid(&n)), Some('T'));
    }
    assert!(lab.tcp("n1", "n2") && lab.tcp("n3", "n1"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab
        .names()
        .iter()
        .all(|n| lab.status(n).unwrap()["ring"] == serde_json::json!(["n1", "n2", "n3"]))
    {
        assert!(Instant::now() < deadline, "n3 never rejoined the ring");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Healing twice is harmless.
    lab.rt.block_on(lab.nemesis.heal_all()).unwrap();
}

#[test]
fn membership_leave_hands_off_and_join_returns() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new();
    let ring = |node: &str| lab.status(node).unwrap()["ring"].clone();
    let eventually = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    lab.start(Fault::Membership {
        targets: vec!["n2".into()],
    });
    eventually("n1 and n3 drop n2 from the ring", &|| {
        ring("n1") == serde_json::json!(["n1", "n3"])
            && ring("n3") == serde_json::json!(["n1", "n3"])
    });
    eventually("n2 has left", &|| {
        lab.status("n2").unwrap()["status"] == "left"
    });
    lab.stop("membership");
    eventually("n2 is back in every ring", &|| {
        lab.names()
            .iter()
            .all(|n| ring(n) == serde_json::json!(["n1", "n2", "n3"]))
    });
    let fs: Vec<Value> = lab.nemesis_ops().iter().map(|o| o["f"].clone()).collect();
    assert_eq!(fs, ["leave", "leave", "join", "join"]);
}
