//! End-to-end tests: real `ringkv` processes on loopback, driven over HTTP.
//!
//! Each test starts its own small cluster on free ports in a temp dir; a
//! drop guard kills every child process even when an assertion panics, and
//! dumps the nodes' logs in that case.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ringkv");

/// Reserves `k` distinct free loopback ports (all listeners are held until
/// every port is known, then released for the nodes to bind).
fn free_ports(k: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..k)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind port 0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A set of running ringkv processes; killed on drop.
struct Cluster {
    dir: tempfile::TempDir,
    /// `(name, addr)` of every member, including ones not started.
    members: Vec<(String, String)>,
    /// Started processes by member index (`None`: not started or killed).
    children: Vec<Option<Child>>,
    http: Client,
}

impl Cluster {
    /// Writes configs for all `members` and starts those whose index is in
    /// `start`, then waits for each started node's `/health`.
    fn start(members: Vec<(String, String)>, start: &[usize], timeout_ms: u64) -> Cluster {
        Cluster::start_with(members, start, timeout_ms, "")
    }

    /// [`Cluster::start`] with extra top-level config lines.
    fn start_with(
        members: Vec<(String, String)>,
        start: &[usize],
        timeout_ms: u64,
        extra: &str,
    ) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut nodes_toml = String::new();
        for (name, addr) in &members {
            nodes_toml.push_str(&format!(
                "[[nodes]]\nname = \"{name}\"\naddr = \"{addr}\"\n"
            ));
        }
        let http = Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut cluster = Cluster {
            dir,
            members,
            children: Vec::new(),
            http,
        };
        for (i, (name, _)) in cluster.members.iter().enumerate() {
            if !start.contains(&i) {
                cluster.children.push(None);
                continue;
            }
            let config = cluster.dir.path().join(format!("{name}.toml"));
            std::fs::write(
                &config,
                format!(
                    "node = \"{name}\"\nvnodes = 32\nrequest_timeout_ms = {timeout_ms}\n{extra}\n{nodes_toml}"
                ),
            )
            .unwrap();
            let log = std::fs::File::create(cluster.log_path(i)).unwrap();
            let child = Command::new(BIN)
                .arg("--config")
                .arg(&config)
                .env("RUST_LOG", "info,ringkv=debug")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn ringkv");
            cluster.children.push(Some(child));
        }
        for &i in start {
            cluster.wait_healthy(i);
        }
        cluster
    }

    /// Three real nodes n1..n3 on free ports.
    fn three(timeout_ms: u64) -> Cluster {
        let members = free_ports(3)
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("n{}", i + 1), format!("127.0.0.1:{p}")))
            .collect();
        Cluster::start(members, &[0, 1, 2], timeout_ms)
    }

    /// Starts member `i` again (after [`Cluster::kill`]) with its config,
    /// appending to its log, and waits until it is healthy.
    fn restart(&mut self, i: usize) {
        let name = &self.members[i].0;
        let config = self.dir.path().join(format!("{name}.toml"));
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.log_path(i))
            .unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info,ringkv=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn ringkv");
        self.children[i] = Some(child);
        self.wait_healthy(i);
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.members[i].0))
    }

    fn url(&self, i: usize, path: &str) -> String {
        format!("http://{}{path}", self.members[i].1)
    }

    fn wait_healthy(&mut self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.children[i].as_mut().unwrap().try_wait().unwrap() {
                panic!("{} exited during startup: {status}", self.members[i].0);
            }
            if let Ok(resp) = self.http.get(self.url(i, "/health")).send() {
                if resp.status() == StatusCode::OK {
                    let body: Value = resp.json().unwrap();
                    assert_eq!(body, json!({ "node": self.members[i].0 }));
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} not healthy in time",
                self.members[i].0
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn get(&self, i: usize, path: &str) -> (StatusCode, Value) {
        let resp = self.http.get(self.url(i, path)).send().unwrap();
        let status = resp.status();
        (status, resp.json().unwrap())
    }

    fn put(&self, i: usize, path: &str, body: Value) -> (StatusCode, Value) {
        let resp = self.http.put(self.url(i, path)).json(&body).send().unwrap();
        let status = resp.status();
        (status, resp.json().unwrap())
    }

    fn post(&self, i: usize, path: &str, body: Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(self.url(i, path))
            .json(&body)
            .send()
            .unwrap();
        let status = resp.status();
        (status, resp.json().unwrap())
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and returns the exit status if it exits within `within`.
    fn terminate(&mut self, i: usize, within: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.children[i].take().expect("node running");
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(ok.success());
        let deadline = Instant::now() + within;
        let result = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if result.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        result
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        if std::thread::panicking() {
            for i in 0..self.members.len() {
                if let Ok(log) = std::fs::read_to_string(self.log_path(i)) {
                    eprintln!("===== log of {} =====\n{log}", self.members[i].0);
                }
            }
        }
    }
}

#[test]
fn three_node_cluster_quorums_and_failures() {
    let timeout_ms = 500;
    let mut c = Cluster::three(timeout_ms);

    // Status and preference lists agree across nodes.
    let (s, mut status) = c.get(0, "/admin/status");
    assert_eq!(s, StatusCode::OK);
    let obj = status.as_object_mut().unwrap();
    let wall = obj.remove("wall_clock_ms").unwrap().as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(wall.abs_diff(now) < 5_000, "wall clock {wall} vs {now}");
    assert!(obj.remove("uptime_ms").unwrap().as_u64().is_some());
    assert_eq!(obj.remove("status").unwrap(), "valid");
    assert_eq!(obj.remove("ring").unwrap(), json!(["n1", "n2", "n3"]));
    assert_eq!(obj.remove("members").unwrap().as_array().unwrap().len(), 3);
    assert_eq!(
        obj.remove("handoff").unwrap(),
        json!({"moved": 0, "pending": 0})
    );
    for (field, v) in [
        ("hints_pending", json!(0)),
        ("read_repairs", json!(0)),
        ("anti_entropy_repairs", json!(0)),
        ("sloppy_quorum", json!(false)),
    ] {
        assert_eq!(obj.remove(field).unwrap(), v, "{field}");
    }
    assert_eq!(
        status,
        json!({"node": "n1", "nodes": ["n1", "n2", "n3"], "n": 3, "r": 2, "w": 2,
               "conflict": "lww",
               "keys": {"kv": 0, "set": 0, "objects": 0, "with_siblings": 0, "max_siblings": 0,
                        "crdts": 0}})
    );
    let (_, pl) = c.get(0, "/admin/preflist/alpha");
    let mut names: Vec<String> = serde_json::from_value(pl["nodes"].clone()).unwrap();
    assert_eq!(c.get(2, "/admin/preflist/alpha").1, pl);
    names.sort();
    assert_eq!(names, ["n1", "n2", "n3"]);

    // Register: write via n1, read via n3.
    let (s, put) = c.put(0, "/kv/alpha", json!({"value": {"x": [1, 2]}}));
    assert_eq!(s, StatusCode::OK, "{put}");
    let ts = put["timestamp"].as_u64().expect("u64 timestamp");
    let (s, got) = c.get(2, "/kv/alpha");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        got,
        json!({"value": {"x": [1, 2]}, "timestamp": ts, "writer": "n1"})
    );

    // A later write through another node wins (same machine clock).
    let (s, put2) = c.put(1, "/kv/alpha?w=3", json!({"value": "second"}));
    assert_eq!(s, StatusCode::OK, "{put2}");
    assert!(put2["timestamp"].as_u64().unwrap() > ts);
    let (_, got) = c.get(0, "/kv/alpha?r=1");
    assert_eq!(
        (&got["value"], &got["writer"]),
        (&json!("second"), &json!("n2"))
    );

    // Percent-decoded keys; the write reaches every replica eventually.
    let (s, _) = c.put(2, "/kv/a%2Fb%20c", json!({"value": null}));
    assert_eq!(s, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(3);
    for i in 0..3 {
        loop {
            let (s, local) = c.get(i, "/admin/local/kv/a%2Fb%20c");
            if s == StatusCode::OK {
                assert_eq!(
                    (&local["value"], &local["writer"]),
                    (&Value::Null, &json!("n3"))
                );
                break;
            }
            assert!(Instant::now() < deadline, "replica {i} never got the write");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(c.get(0, "/admin/status").1["keys"]["kv"], json!(2));

    // Sets: adds via different nodes, any node reads the union.
    for (i, e) in [(0, 3), (1, -7), (2, 1), (0, 3)] {
        let (s, body) = c.post(i, "/set/alpha", json!({"element": e}));
        assert_eq!((s, body), (StatusCode::OK, json!({})));
    }
    for i in 0..3 {
        assert_eq!(
            c.get(i, "/set/alpha"),
            (StatusCode::OK, json!({"elements": [-7, 1, 3]}))
        );
    }
    // Register "alpha" and set "alpha" are unrelated.
    assert_eq!(c.get(1, "/kv/alpha").1["value"], json!("second"));
    assert_eq!(
        c.get(0, "/set/empty"),
        (StatusCode::OK, json!({"elements": []}))
    );
    assert_eq!(
        c.get(0, "/kv/missing"),
        (StatusCode::NOT_FOUND, json!({"error": "not_found"}))
    );
    assert_eq!(
        c.get(0, "/admin/local/set/missing").0,
        StatusCode::NOT_FOUND
    );

    // Client errors.
    let (s, body) = c.put(0, "/kv/alpha?w=9", json!({"value": 1}));
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("w must be"),
        "{body}"
    );
    assert_eq!(c.get(0, "/kv/alpha?r=0").0, StatusCode::BAD_REQUEST);
    assert_eq!(c.get(0, "/set/alpha?r=x").0, StatusCode::BAD_REQUEST);
    assert_eq!(
        c.post(0, "/set/alpha", json!({"element": "nope"})).0,
        StatusCode::BAD_REQUEST
    );
    let (s, body) = c.put(0, "/kv/alpha", json!({"val": 1}));
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string());

    // Two of three nodes down: W=2 cannot be met, W=1 can (N=3 of 3 nodes,
    // so n1 is in every preference list).
    c.kill(1);
    c.kill(2);
    let slack = Duration::from_millis(1500);
    let start = Instant::now();
    let (s, body) = c.put(0, "/kv/beta?w=2", json!({"value": 42}));
    assert!(start.elapsed() < Duration::from_millis(timeout_ms) + slack);
    assert_eq!(
        (s, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "quorum", "needed": 2, "acks": 1})
        )
    );
    let (s, body) = c.put(0, "/kv/beta?w=1", json!({"value": 43}));
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(c.get(0, "/kv/beta?r=1").1["value"], json!(43));
    assert_eq!(
        c.get(0, "/kv/beta"),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "quorum", "needed": 2, "replies": 1})
        )
    );
    assert_eq!(
        c.post(0, "/set/beta?w=1", json!({"element": 9})).0,
        StatusCode::OK
    );
    assert_eq!(
        c.post(0, "/set/beta", json!({"element": 10})),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "quorum", "needed": 2, "acks": 1})
        )
    );
    assert_eq!(
        c.get(0, "/admin/local/set/beta"),
        (StatusCode::OK, json!({"elements": [9, 10]}))
    );

    // SIGTERM: graceful, successful exit.
    let status = c
        .terminate(0, Duration::from_secs(5))
        .expect("n1 exits on SIGTERM");
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(c.log_path(0)).unwrap();
    assert!(
        log.contains(&format!("ringkv n1 listening on {}", c.members[0].1)),
        "{log}"
    );
}

#[test]
fn hanging_replica_costs_one_timeout() {
    // n3's address accepts TCP connections (kernel backlog) but never
    // answers, like a peer behind an iptables DROP after the handshake or a
    // SIGSTOPped process.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_addr = black_hole.local_addr().unwrap().to_string();
    let ports = free_ports(2);
    let members = vec![
        ("n1".to_string(), format!("127.0.0.1:{}", ports[0])),
        ("n2".to_string(), format!("127.0.0.1:{}", ports[1])),
        ("n3".to_string(), hole_addr),
    ];
    let timeout_ms = 1000;
    let c = Cluster::start(members, &[0, 1], timeout_ms);

    // W=2 is met by n1 and n2 without waiting for the silent n3.
    let start = Instant::now();
    let (s, _) = c.put(0, "/kv/k?w=2", json!({"value": 1}));
    assert_eq!(s, StatusCode::OK);
    assert!(
        start.elapsed() < Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );

    // W=3 needs n3: 503 after about one request timeout.
    let start = Instant::now();
    let (s, body) = c.put(0, "/kv/k?w=3", json!({"value": 2}));
    let took = start.elapsed();
    assert_eq!(
        (s, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "quorum", "needed": 3, "acks": 2})
        )
    );
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_millis(timeout_ms + 1500), "{took:?}");

    // Reads behave the same way.
    let (s, body) = c.get(1, "/kv/k?r=3");
    assert_eq!(
        (s, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "quorum", "needed": 3, "replies": 2})
        )
    );
    // The failed W=3 write still landed on the reachable replicas: failure
    // to reach quorum does not roll anything back.
    assert_eq!(c.get(1, "/kv/k?r=2").1["value"], json!(2));
    drop(black_hole);
}

#[test]
fn bad_config_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "node = \"n9\"\n[[nodes]]\nname = \"n1\"\naddr = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("\"n9\" is not listed"), "{stderr}");
}

/// Polls `cond` every 50 ms for up to `secs` seconds.
fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn leave_hands_data_off_and_join_takes_a_share_back() {
    let members: Vec<(String, String)> = free_ports(4)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("n{}", i + 1), format!("127.0.0.1:{p}")))
        .collect();
    let c = Cluster::start(members, &[0, 1, 2, 3], 1000);
    // Elements in many keys, written with W = N = 3 so every owner has them.
    for k in 0..40 {
        for e in 0..3 {
            let (s, _) = c.post(k % 4, &format!("/set/s{k}?w=3"), json!({ "element": e }));
            assert_eq!(s, StatusCode::OK);
        }
    }
    let local_keys = |i: usize| c.get(i, "/admin/status").1["keys"]["set"].as_u64().unwrap();
    assert!(local_keys(0) > 0, "n1 holds some of the keys");

    // n1 leaves: every node soon agrees n1 is out of the ring, n1 hands its
    // data to the new owners and ends up `left`, holding nothing.
    let (s, body) = c.post(0, "/admin/leave", json!({}));
    assert_eq!(
        (s, body["status"].as_str()),
        (StatusCode::OK, Some("leaving"))
    );
    for i in 0..4 {
        eventually(5, "every node drops n1 from the ring", || {
            c.get(i, "/admin/status").1["ring"] == json!(["n2", "n3", "n4"])
        });
    }
    eventually(10, "n1 has handed everything off", || {
        c.get(0, "/admin/status").1["status"] == "left"
    });
    assert_eq!(local_keys(0), 0);
    // Nothing was lost: every element is on every new owner (R = 3), and n1
    // still coordinates requests though it owns nothing.
    for k in 0..40 {
        let (s, body) = c.get(0, &format!("/set/s{k}?r=3"));
        assert_eq!(s, StatusCode::OK, "s{k}: {body}");
        assert_eq!(body["elements"], json!([0, 1, 2]), "s{k}");
    }
    let moved: u64 = c.get(0, "/admin/status").1["handoff"]["moved"]
        .as_u64()
        .unwrap();
    assert!(moved > 0);

    // n1 joins again: it re-enters every ring and gets its share back from
    // the nodes that lose ownership to it.
    let (_, body) = c.post(0, "/admin/join", json!({}));
    assert_eq!(body["status"], "valid");
    for i in 0..4 {
        eventually(5, "every node has n1 back in the ring", || {
            c.get(i, "/admin/status").1["ring"] == json!(["n1", "n2", "n3", "n4"])
        });
    }
    eventually(10, "n1 holds its share again", || local_keys(0) > 0);
    for k in 0..40 {
        let (s, body) = c.get(1, &format!("/set/s{k}?r=3"));
        assert_eq!(s, StatusCode::OK, "s{k}: {body}");
        assert_eq!(body["elements"], json!([0, 1, 2]), "s{k}");
    }
    // Status lists every member with its version and liveness.
    let status = c.get(2, "/admin/status").1;
    let n1 = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "n1")
        .unwrap()
        .clone();
    assert_eq!(n1["status"], "valid");
    assert_eq!(n1["version"], 3, "leaving, left, valid");
    assert_eq!(n1["alive"], true);
}

/// Response status and body of a request whose status may be 300.
fn send(req: reqwest::blocking::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().unwrap();
    let status = resp.status();
    (status, resp.json().unwrap())
}

/// Two clients on different coordinators write one key in turns, each with
/// the context of its own previous read, so each write misses the other's
/// latest: returns the sibling count after every write.
fn interleaved_writers(conflict: &str, rounds: usize) -> Vec<usize> {
    let members: Vec<(String, String)> = free_ports(3)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("n{}", i + 1), format!("127.0.0.1:{p}")))
        .collect();
    let c = Cluster::start_with(
        members,
        &[0, 1, 2],
        1000,
        &format!("conflict = {conflict:?}"),
    );
    let mut contexts = [json!({}), json!({})];
    let mut counts = Vec::new();
    for i in 0..rounds {
        let w = i % 2;
        let url = c.url(w, &format!("/kv/k?w=3&client=c{w}"));
        let (s, put) = send(
            c.http
                .put(url)
                .json(&json!({"value": i, "context": contexts[w]})),
        );
        assert_eq!(s, StatusCode::OK, "{put}");
        let (s, got) = send(c.http.get(c.url(w, "/kv/k?r=3")));
        let siblings = match s {
            StatusCode::OK => 1,
            StatusCode::MULTIPLE_CHOICES => got["siblings"].as_array().unwrap().len(),
            other => panic!("read: {other} {got}"),
        };
        contexts[w] = got["context"].clone();
        counts.push(siblings);
    }
    // Every replica holds the same state (W = N).
    let local: Vec<Value> = (0..3)
        .map(|i| send(c.http.get(c.url(i, "/admin/local/kv/k"))).1)
        .collect();
    assert!(local.windows(2).all(|w| w[0] == w[1]), "{local:?}");
    counts
}

#[test]
fn concurrent_writes_become_siblings_bounded_by_dvv_exploding_without_dots() {
    for conflict in ["dvv", "vclock"] {
        let counts = interleaved_writers(conflict, 16);
        assert!(
            counts[1..].iter().all(|&n| n == 2),
            "{conflict}: {counts:?}"
        );
    }
    let exploded = interleaved_writers("node-vclock", 16);
    assert!(
        *exploded.last().unwrap() >= 8,
        "node-vclock should pile up siblings: {exploded:?}"
    );
}

#[test]
fn a_write_with_the_latest_context_resolves_siblings_and_lww_has_none() {
    let members: Vec<(String, String)> = free_ports(3)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("n{}", i + 1), format!("127.0.0.1:{p}")))
        .collect();
    let c = Cluster::start_with(members, &[0, 1, 2], 1000, "conflict = \"dvv\"");
    c.put(0, "/kv/x?w=3", json!({"value": "a"}));
    c.put(1, "/kv/x?w=3", json!({"value": "b"}));
    let (s, got) = send(c.http.get(c.url(2, "/kv/x?r=3")));
    assert_eq!(s, StatusCode::MULTIPLE_CHOICES, "{got}");
    assert_eq!(got["siblings"], json!(["a", "b"]));
    c.put(
        2,
        "/kv/x?w=3",
        json!({"value": "ab", "context": got["context"]}),
    );
    let (s, got) = send(c.http.get(c.url(0, "/kv/x?r=3")));
    assert_eq!((s, &got["value"]), (StatusCode::OK, &json!("ab")), "{got}");
    let status = c.get(0, "/admin/status").1;
    assert_eq!(status["conflict"], "dvv");
    assert_eq!(status["keys"]["max_siblings"], 1);
}

fn cluster_of(k: usize, extra: &str) -> Cluster {
    let members: Vec<(String, String)> = free_ports(k)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("n{}", i + 1), format!("127.0.0.1:{p}")))
        .collect();
    let all: Vec<usize> = (0..k).collect();
    Cluster::start_with(members, &all, 1000, extra)
}

fn index_of(c: &Cluster, name: &str) -> usize {
    c.members.iter().position(|(n, _)| n == name).unwrap()
}

fn local_set(c: &Cluster, i: usize, key: &str) -> Option<Value> {
    let (s, body) = c.get(i, &format!("/admin/local/set/{key}"));
    (s == StatusCode::OK).then(|| body["elements"].clone())
}

#[test]
fn sloppy_quorum_writes_through_a_dead_primary_and_hands_the_hint_back() {
    for sloppy in [false, true] {
        let mut c = cluster_of(
            4,
            &format!("sloppy_quorum = {sloppy}\nanti_entropy_interval_ms = 0"),
        );
        let (_, pl) = c.get(0, "/admin/preflist/k");
        let owners: Vec<String> = serde_json::from_value(pl["nodes"].clone()).unwrap();
        let dead = index_of(&c, &owners[2]);
        let fallback = (0..4).find(|i| !owners.contains(&c.members[*i].0)).unwrap();
        let coord = index_of(&c, &owners[0]);
        c.kill(dead);
        // The failure detector has not noticed yet: the write must still
        // find the fallback after the dead primary refuses.
        let (s, body) = c.post(coord, "/set/k?w=3", json!({"element": 7}));
        if !sloppy {
            assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "strict quorum: {body}");
            continue;
        }
        assert_eq!(s, StatusCode::OK, "sloppy quorum: {body}");
        // PW: fallbacks count toward W, not toward the primaries required.
        let (s, body) = c.post(coord, "/set/k?w=3&pw=3", json!({"element": 8}));
        assert_eq!(
            s,
            StatusCode::SERVICE_UNAVAILABLE,
            "pw=3 with a primary down: {body}"
        );
        let (s, body) = c.post(coord, "/set/k?w=3&pw=2", json!({"element": 9}));
        assert_eq!(s, StatusCode::OK, "pw=2: {body}");
        let (s, _) = c.post(coord, "/set/k?w=2&pw=3", json!({"element": 10}));
        assert_eq!(s, StatusCode::BAD_REQUEST, "pw above w");
        let (s, body) = c.get(coord, "/set/k?r=2&pr=2");
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(
            local_set(&c, fallback, "k").is_some_and(|e| e.as_array().unwrap().contains(&json!(7))),
            "the hint"
        );
        eventually(5, "the fallback reports a pending hint", || {
            c.get(fallback, "/admin/status").1["hints_pending"].as_u64() == Some(1)
        });
        c.restart(dead);
        eventually(10, "the hints reach the owner", || {
            local_set(&c, dead, "k") == Some(json!([7, 8, 9]))
        });
        eventually(5, "the fallback drops its copy", || {
            local_set(&c, fallback, "k").is_none()
        });
    }
}

#[test]
fn read_repair_and_anti_entropy_each_bring_a_stale_replica_back() {
    // (read repair, anti-entropy interval)
    for (repair, aae) in [(true, 0), (false, 200), (false, 0)] {
        let mut c = cluster_of(
            3,
            &format!(
                "read_repair = {repair}\nanti_entropy_interval_ms = {aae}\nhandoff_interval_ms = 0"
            ),
        );
        c.kill(2);
        let (s, _) = c.post(0, "/set/k?w=2", json!({"element": 1}));
        assert_eq!(s, StatusCode::OK);
        c.restart(2);
        if aae == 0 {
            assert_eq!(local_set(&c, 2, "k"), None, "restarted empty");
        }
        if repair {
            let (s, body) = c.get(0, "/set/k?r=3");
            assert_eq!((s, &body["elements"]), (StatusCode::OK, &json!([1])));
            eventually(5, "read repair reaches n3", || {
                local_set(&c, 2, "k") == Some(json!([1]))
            });
            assert!(
                c.get(0, "/admin/status").1["read_repairs"]
                    .as_u64()
                    .unwrap()
                    >= 1
            );
        } else if aae > 0 {
            eventually(10, "anti-entropy reaches n3", || {
                local_set(&c, 2, "k") == Some(json!([1]))
            });
            let total: u64 = (0..3)
                .map(|i| {
                    c.get(i, "/admin/status").1["anti_entropy_repairs"]
                        .as_u64()
                        .unwrap()
                })
                .sum();
            assert!(total >= 1);
        } else {
            // Neither: a read sees the value, and n3 stays stale.
            let (s, _) = c.get(0, "/set/k?r=3");
            assert_eq!(s, StatusCode::OK);
            std::thread::sleep(Duration::from_millis(500));
            assert_eq!(
                local_set(&c, 2, "k"),
                None,
                "nothing should have repaired n3"
            );
        }
    }
}

#[test]
fn fsync_always_survives_kill_9_and_never_loses_acknowledged_writes() {
    for (policy, survives) in [("always", true), ("never", false)] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let members = vec![("n1".to_string(), format!("127.0.0.1:{}", free_ports(1)[0]))];
        let extra = format!(
            "n = 1\nfsync = {policy:?}\ndata_dir = {:?}",
            data.display().to_string()
        );
        let mut c = Cluster::start_with(members, &[0], 1000, &extra);
        for e in 0..20 {
            let (s, _) = c.post(0, "/set/s", json!({ "element": e }));
            assert_eq!(s, StatusCode::OK);
        }
        let (s, _) = c.put(0, "/kv/r", json!({ "value": "kept" }));
        assert_eq!(s, StatusCode::OK);
        c.kill(0); // SIGKILL: no shutdown of any kind.
        c.restart(0);
        let (_, set) = c.get(0, "/set/s");
        let (s, reg) = c.get(0, "/kv/r");
        if survives {
            assert_eq!(
                set["elements"],
                json!((0..20).collect::<Vec<_>>()),
                "{policy}"
            );
            assert_eq!(
                (s, &reg["value"]),
                (StatusCode::OK, &json!("kept")),
                "{policy}"
            );
        } else {
            assert_eq!(
                set["elements"],
                json!([]),
                "{policy}: acknowledged writes should be lost"
            );
            assert_eq!(s, StatusCode::NOT_FOUND, "{policy}");
        }
        // A clean stop makes everything durable, whatever the policy.
        c.post(0, "/set/s", json!({ "element": 99 }));
        assert!(c.terminate(0, Duration::from_secs(5)).is_some());
        c.restart(0);
        let (_, set) = c.get(0, "/set/s");
        assert!(
            set["elements"].as_array().unwrap().contains(&json!(99)),
            "{policy}: {set}"
        );
    }
}

#[test]
fn crdts_over_http_count_add_win_and_converge_on_every_replica() {
    let c = cluster_of(3, "anti_entropy_interval_ms = 0");
    // PN-counter: concurrent increments and decrements through every node.
    std::thread::scope(|s| {
        for i in 0..3 {
            let c = &c;
            s.spawn(move || {
                for _ in 0..20 {
                    let (st, body) = c.post(i, "/counter/hits?w=3", json!({"delta": 2}));
                    assert_eq!(st, StatusCode::OK, "{body}");
                }
                let (st, _) = c.post(i, "/counter/hits?w=3", json!({"delta": -5}));
                assert_eq!(st, StatusCode::OK);
            });
        }
    });
    for i in 0..3 {
        assert_eq!(c.get(i, "/counter/hits?r=3").1, json!({"value": 105}));
        assert_eq!(
            c.get(i, "/admin/local/counter/hits").1,
            json!({"value": 105})
        );
    }
    // OR-set: add, remove, add again; a remove of an unseen add loses.
    c.post(0, "/orset/s?w=3", json!({"add": "x"}));
    c.post(1, "/orset/s?w=3", json!({"add": "y"}));
    c.post(2, "/orset/s?w=3", json!({"remove": "x"}));
    assert_eq!(c.get(0, "/orset/s?r=3").1, json!({"elements": ["y"]}));
    c.post(0, "/orset/s?w=3", json!({"add": "x"}));
    assert_eq!(c.get(1, "/orset/s?r=3").1, json!({"elements": ["x", "y"]}));
    // Sequence: appends from two nodes, an insert in the middle, a delete.
    for (i, v) in [(0, "a"), (1, "b"), (2, "c")] {
        let (st, body) = c.post(i, "/seq/l?w=3", json!({"insert": v}));
        assert_eq!(st, StatusCode::OK, "{body}");
    }
    c.post(1, "/seq/l?w=3", json!({"insert": "ab", "at": 1}));
    c.post(2, "/seq/l?w=3", json!({"delete": 2}));
    let expected = json!({"items": ["a", "ab", "c"]});
    for i in 0..3 {
        assert_eq!(c.get(i, "/seq/l?r=3").1, expected);
        assert_eq!(c.get(i, "/admin/local/seq/l").1, expected);
    }
    // By value: each writer inserts after its own previous element, on
    // whichever node; a delete names the element, not its position.
    let mut last = [None::<String>, None];
    for round in 0..4 {
        for (w, last) in last.iter_mut().enumerate() {
            let v = format!("w{w}-{round}");
            let body = match last {
                Some(prev) => json!({"insert": v, "after": prev}),
                None => json!({"insert": v}),
            };
            let (st, reply) = c.post((round + w) % 3, "/seq/m?w=2", body);
            assert_eq!(st, StatusCode::OK, "{reply}");
            *last = Some(v);
        }
    }
    let (st, _) = c.post(2, "/seq/m?w=2", json!({"remove": "w0-1"}));
    assert_eq!(st, StatusCode::OK);
    // Deleting it again is harmless; inserting after it keeps its place.
    let (st, _) = c.post(0, "/seq/m?w=2", json!({"remove": "w0-1"}));
    assert_eq!(st, StatusCode::OK);
    let (st, _) = c.post(1, "/seq/m?w=2", json!({"insert": "x", "after": "w0-1"}));
    assert_eq!(st, StatusCode::OK);
    // Naming an element no replica holds changes nothing: 409.
    for body in [
        json!({"remove": "nope"}),
        json!({"insert": "y", "after": "nope"}),
    ] {
        let (st, reply) = c.post(0, "/seq/m?w=3", body);
        assert_eq!(st, StatusCode::CONFLICT, "{reply}");
        assert_eq!(reply["error"], "no_such_element", "{reply}");
    }
    let items = c.get(0, "/seq/m?r=3").1["items"].clone();
    let items: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(items.len(), 8, "{items:?}");
    assert!(
        !items.contains(&"w0-1") && !items.contains(&"y"),
        "{items:?}"
    );
    for w in ["w0", "w1"] {
        let own: Vec<&&str> = items.iter().filter(|v| v.starts_with(w)).collect();
        let mut sorted = own.clone();
        sorted.sort();
        assert_eq!(own, sorted, "{w}'s inserts in the order made: {items:?}");
    }
    let at = |v: &str| items.iter().position(|i| *i == v).unwrap();
    assert!(at("w0-0") < at("x") && at("x") < at("w0-2"), "{items:?}");
    eventually(10, "every replica lists the same", || {
        (0..3).all(|i| c.get(i, "/admin/local/seq/m").1["items"] == json!(items))
    });
    // Types do not mix, and bad bodies say what they expected.
    let (st, body) = c.post(0, "/seq/m", json!({"insert": 1, "after": 2, "at": 0}));
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let (st, body) = c.post(0, "/orset/s", json!({"add": 1, "remove": 2}));
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("remove"));
}

#[test]
fn paxos_compare_and_set_never_loses_an_increment_even_with_a_node_down() {
    let mut c = cluster_of(3, "anti_entropy_interval_ms = 0");
    assert_eq!(
        c.get(0, "/cas/x").1,
        json!({"value": null, "version": null})
    );
    let (s, body) = c.post(1, "/cas/x", json!({"expected": 5, "value": 6}));
    assert_eq!(
        (s, &body),
        (StatusCode::CONFLICT, &json!({"ok": false, "value": null}))
    );
    let (s, written) = c.put(2, "/cas/x", json!({"value": 0}));
    assert_eq!(s, StatusCode::OK);
    // Every value carries the version (ballot) it was chosen at, and
    // versions grow with each write, whichever node coordinates it.
    let (_, read) = c.get(0, "/cas/x");
    assert_eq!(read["value"], 0);
    assert_eq!(read["version"], written["version"], "{read} {written}");
    let (_, again) = c.put(1, "/cas/x", json!({"value": 0}));
    assert!(again["version"].as_u64() > written["version"].as_u64());
    let (_, swapped) = c.post(0, "/cas/x", json!({"expected": 0, "value": 0}));
    assert!(swapped["version"].as_u64() > again["version"].as_u64());
    assert_eq!(c.get(2, "/cas/x").1["version"], swapped["version"]);
    // Three clients, one per coordinator, each adds 1 ten times by
    // read + compare-and-set, retrying on conflict. A 503 is indeterminate
    // (the proposal may still be completed), so it is counted, not retried
    // blindly: the final value lies between the sure increments and those
    // plus the unknown ones.
    let increment = |c: &Cluster, i: usize| -> i64 {
        let mut unknown = 0;
        for _ in 0..10 {
            loop {
                let (s, cur) = c.get(i, "/cas/x");
                if s != StatusCode::OK {
                    continue;
                }
                let v = cur["value"].as_i64().unwrap();
                let (s, _) = c.post(i, "/cas/x", json!({"expected": v, "value": v + 1}));
                match s {
                    StatusCode::OK => break,
                    StatusCode::CONFLICT => {}
                    StatusCode::SERVICE_UNAVAILABLE => {
                        unknown += 1;
                        break;
                    }
                    other => panic!("{other}"),
                }
            }
        }
        unknown
    };
    let unknown: i64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|i| {
                let c = &c;
                s.spawn(move || increment(c, i))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let value = |c: &Cluster, i: usize| c.get(i, "/cas/x").1["value"].as_i64().unwrap();
    let v = value(&c, 0);
    assert!(
        (30 - unknown..=30).contains(&v),
        "value {v}, {unknown} indeterminate"
    );
    for i in 1..3 {
        assert_eq!(value(&c, i), v, "every coordinator reads the same value");
    }
    // A majority is enough: with one node down, operations go on.
    c.kill(2);
    let unknown = increment(&c, 0);
    let w = value(&c, 1);
    assert!((v + 10 - unknown..=v + 10).contains(&w), "{w}");
}
