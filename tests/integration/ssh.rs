//! `SshControl` against real OpenSSH servers: one `sshd -D` per network
//! namespace (198.18.0.0/15, on a bridge of its own), each with a host key,
//! an authorized key and a known_hosts file generated here. Exit statuses
//! and signals, large outputs, hostile argv words, timeouts, daemons, files,
//! the nemesis session, and every setup error's one-line message.
//!
//! Needs root and `sshd` (Debian's openssh-server), as CI has. Each test
//! builds its own lab; a lab kills its sshd and deletes its namespaces on
//! drop, so also on failure and panic.

use crate::util::lab::Namespaces;
use crate::util::{faultline_bin, proc_state};
use faultline::cluster::control::ssh::{HostKeyPolicy, Privilege, SshControl, SshNode, SshOptions};
use faultline::cluster::control::{Control, ControlError, DaemonSpec, Signal};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keygen(path: &Path) -> String {
    sh(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "faultline-test",
            "-f",
        ]
        .into_iter()
        .chain([path.to_str().unwrap()])
        .collect::<Vec<_>>(),
    );
    std::fs::read_to_string(path.with_extension("pub")).unwrap()
}

/// N sshd nodes, torn down on drop.
struct Lab {
    /// The nodes' namespaces and the lab's files; dropped after the sshd
    /// are stopped.
    net: Namespaces,
    sshd: Vec<Option<Child>>,
    /// The authorized client key.
    key: PathBuf,
    /// known_hosts naming every node's key.
    known_hosts: PathBuf,
    /// Each node's host public key (`ssh-ed25519 AAAA... comment`).
    host_keys: Vec<String>,
    /// Shared by ordinary labs; a whole `faultline test` over SSH holds it
    /// alone, so its load (five ringkv nodes on a small machine) cannot
    /// push the other tests' timing assertions over their limits.
    _turn: Turn,
}

/// Which turn a lab holds (see [`Lab::_turn`]).
#[allow(dead_code)]
enum Turn {
    Shared(std::sync::RwLockReadGuard<'static, ()>),
    Exclusive(std::sync::RwLockWriteGuard<'static, ()>),
}

static TURNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

impl Lab {
    fn new(n: usize) -> Lab {
        Lab::with(n, "")
    }

    /// A lab no other test runs beside (for whole `faultline test` runs).
    fn alone(n: usize) -> Lab {
        let turn = Turn::Exclusive(TURNS.write().unwrap_or_else(|e| e.into_inner()));
        Lab::build(n, "", turn)
    }

    /// `extra` goes into every sshd config, before (so over) the defaults.
    fn with(n: usize, extra: &str) -> Lab {
        let turn = Turn::Shared(TURNS.read().unwrap_or_else(|e| e.into_inner()));
        Lab::build(n, extra, turn)
    }

    fn build(n: usize, extra: &str, turn: Turn) -> Lab {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} is missing: apt-get install openssh-server"
        );
        std::fs::create_dir_all("/run/sshd").unwrap();
        let net = Namespaces::new(n);
        let dir = net.dir.path();
        // sshd reads authorized_keys as the login user: let others in.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let key = dir.join("id_client");
        let client_pub = keygen(&key);
        let authorized = dir.join("authorized_keys");
        std::fs::write(&authorized, &client_pub).unwrap();
        std::fs::set_permissions(&authorized, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut lab = Lab {
            known_hosts: dir.join("known_hosts"),
            key,
            host_keys: Vec::new(),
            sshd: Vec::new(),
            net,
            _turn: turn,
        };
        let mut kh = String::new();
        for (i, node) in lab.net.network.nodes.clone().iter().enumerate() {
            let host_key = lab.net.dir.path().join(format!("host_{}", node.name));
            let public = keygen(&host_key);
            kh.push_str(&format!("{} {}", node.ip, public));
            lab.host_keys.push(public.trim().to_string());
            let cfg = lab.net.dir.path().join(format!("sshd_{}.conf", node.name));
            std::fs::write(
                &cfg,
                // sshd keeps the first value it reads: `extra` goes first.
                format!(
                    "{extra}\nListenAddress {ip}:22\nHostKey {hk}\nPidFile {dir}/sshd_{name}.pid\n\
                     AuthorizedKeysFile {auth}\nPermitRootLogin yes\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                     Subsystem sftp internal-sftp\nMaxStartups 100\nMaxSessions 20\n\
                     LogLevel VERBOSE\n",
                    ip = node.ip,
                    hk = host_key.display(),
                    dir = lab.net.dir.path().display(),
                    name = node.name,
                    auth = authorized.display(),
                ),
            )
            .unwrap();
            lab.sshd.push(None);
            lab.start_sshd(i);
        }
        std::fs::write(&lab.known_hosts, kh).unwrap();
        lab
    }

    fn start_sshd(&mut self, i: usize) {
        let node = &self.net.network.nodes[i];
        let cfg = self.net.dir.path().join(format!("sshd_{}.conf", node.name));
        let log =
            std::fs::File::create(self.net.dir.path().join(format!("sshd_{}.log", node.name)))
                .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &node.netns, SSHD, "-D", "-e", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.sshd[i] = Some(child);
        let addr = std::net::SocketAddr::from((node.ip, 22));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd on {} did not listen within 10 s: {}",
                node.name,
                self.sshd_log(i)
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn stop_sshd(&mut self, i: usize) {
        if let Some(mut c) = self.sshd[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the processes sshd forked for its open connections (by pid,
    /// all descendants of the sshd this lab started): the server drops
    /// every connection while still accepting new ones.
    fn drop_connections(&self, i: usize) {
        fn children(pid: u32) -> Vec<u32> {
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        }
        let root = self.sshd[i].as_ref().unwrap().id();
        let mut todo = children(root);
        let mut all = Vec::new();
        while let Some(p) = todo.pop() {
            todo.extend(children(p));
            all.push(p);
        }
        assert!(!all.is_empty(), "no connection to drop");
        for p in all {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    fn sshd_log(&self, i: usize) -> String {
        let name = &self.net.network.nodes[i].name;
        std::fs::read_to_string(self.net.dir.path().join(format!("sshd_{name}.log")))
            .unwrap_or_default()
    }

    fn ip(&self, i: usize) -> String {
        self.net.network.nodes[i].ip.to_string()
    }

    fn nodes(&self) -> Vec<SshNode> {
        self.net
            .network
            .nodes
            .iter()
            .map(|n| SshNode::new(&n.name, n.ip.to_string(), 22))
            .collect()
    }

    fn opts(&self) -> SshOptions {
        SshOptions {
            private_key: Some(self.key.clone()),
            host_keys: HostKeyPolicy::Check(self.known_hosts.clone()),
            connect_timeout: Duration::from_secs(3),
            io_timeout: Duration::from_secs(20),
            ..SshOptions::default()
        }
    }

    fn control(&self) -> SshControl {
        SshControl::new(self.nodes(), self.opts())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for i in 0..self.sshd.len() {
            self.stop_sshd(i);
        }
        // `net` tears the namespaces down as it drops.
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

const T: Duration = Duration::from_secs(20);

#[test]
fn exec_reports_output_status_and_signals() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let c = lab.control();
    let out = c.exec("n1", &argv(&["echo", "hello"]), T).unwrap();
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.status, 0);
    // The command runs inside the node's namespace, on its address.
    let out = c.exec("n1", &argv(&["ip", "-4", "-o", "addr"]), T).unwrap();
    assert!(out.stdout.contains(&lab.ip(0)), "{}", out.stdout);

    let e = c
        .exec(
            "n1",
            &argv(&["sh", "-c", "echo out; echo oops >&2; exit 3"]),
            T,
        )
        .unwrap_err();
    match &e {
        ControlError::Failed {
            node,
            status,
            stderr,
            ..
        } => {
            assert_eq!(*status, 3);
            assert_eq!(stderr, "oops");
            assert_eq!(node, &format!("n1 ({}:22)", lab.ip(0)));
        }
        e => panic!("expected Failed, got {e}"),
    }
    // A process killed by a signal is no success, whatever libssh2's
    // exit_status says (0).
    let e = c
        .exec("n1", &argv(&["sh", "-c", "kill -KILL $$"]), T)
        .unwrap_err();
    match &e {
        ControlError::Failed { status, stderr, .. } => {
            assert_eq!(*status, -1, "{e}");
            assert!(stderr.contains("SIGKILL"), "{e}");
        }
        e => panic!("expected Failed, got {e}"),
    }
    // `exit 137` is an exit status, not a signal.
    let e = c
        .exec("n1", &argv(&["sh", "-c", "exit 137"]), T)
        .unwrap_err();
    assert!(
        matches!(&e, ControlError::Failed { status: 137, stderr, .. } if !stderr.contains("signal")),
        "{e}"
    );
    // An unknown program is a failure naming it.
    let e = c
        .exec("n1", &argv(&["no-such-program-faultline"]), T)
        .unwrap_err();
    assert!(
        matches!(&e, ControlError::Failed { status: 127, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("no-such-program-faultline"), "{e}");
}

#[test]
fn large_stdout_and_stderr_do_not_deadlock() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let c = lab.control();
    let started = Instant::now();
    // stderr first and big: a reader blocked on stdout alone would stall.
    let script = "head -c 3000000 /dev/zero | tr '\\0' e >&2; \
                  head -c 5000000 /dev/zero | tr '\\0' o; \
                  head -c 100000 /dev/zero | tr '\\0' E >&2";
    let out = c.exec("n1", &argv(&["sh", "-c", script]), T).unwrap();
    assert_eq!(out.stdout.len(), 5_000_000);
    assert!(out.stdout.bytes().all(|b| b == b'o'));
    assert_eq!(out.stderr.len(), 3_100_000);
    assert!(out.stderr.starts_with("eee") && out.stderr.ends_with("EEE"));
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn hostile_words_arrive_verbatim() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let c = lab.control();
    let marker = lab.net.dir.path().join("pwned");
    let m = marker.display().to_string();
    let words: Vec<String> = vec![
        "with space".into(),
        "it's".into(),
        "\"dq\"".into(),
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("; touch {m}"),
        format!("&& touch {m}"),
        format!("line\ntouch {m}"),
        "$HOME".into(),
        "back\\slash".into(),
        "*".into(),
        "".into(),
        "-n".into(),
        "é".into(),
    ];
    let mut cmd = argv(&["printf", "%s\\0"]);
    cmd.extend(words.iter().cloned());
    let out = c.exec("n1", &cmd, T).unwrap();
    let got: Vec<&str> = out.stdout.split('\0').collect();
    assert_eq!(got.len(), words.len() + 1, "{:?}", out.stdout);
    assert_eq!(
        &got[..words.len()],
        &words.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    assert!(!marker.exists(), "a word was run as a command");
}

#[test]
fn a_timeout_fires_is_reported_and_kills_the_remote_command() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let c = lab.control();
    let started = Instant::now();
    let e = c
        .exec("n1", &argv(&["sleep", "47.25"]), Duration::from_secs(1))
        .unwrap_err();
    let took = started.elapsed();
    match &e {
        ControlError::Timeout {
            node,
            command,
            timeout,
        } => {
            assert!(node.starts_with("n1 ("), "{e}");
            assert_eq!(command, "sleep 47.25");
            assert_eq!(*timeout, Duration::from_secs(1));
        }
        e => panic!("expected Timeout, got {e}"),
    }
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // The remote `timeout` kills the command soon after.
    let deadline = Instant::now() + Duration::from_secs(8);
    while let Some(pid) = find_process("sleep\u{0}47.25\u{0}") {
        assert!(Instant::now() < deadline, "sleep still running: pid {pid}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The control recovers: a fresh session.
    assert_eq!(
        c.exec("n1", &argv(&["echo", "ok"]), T).unwrap().stdout,
        "ok\n"
    );
}

#[test]
fn daemons_start_detached_with_pid_file_and_take_signals() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let c = lab.control();
    let log = lab.net.dir.path().join("daemon.log");
    let spec = DaemonSpec {
        argv: argv(&["sh", "-c", "echo started $GREETING; exec sleep 1000"]),
        log_file: log.clone(),
        env: vec![("GREETING".into(), "hello world; $(x)".into())],
    };
    let started = Instant::now();
    let pid = c.start_daemon("n1", &spec).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "start_daemon must not wait for the daemon"
    );
    let pid_file = std::fs::read_to_string(lab.net.dir.path().join("daemon.log.pid")).unwrap();
    assert_eq!(pid_file.trim(), pid.to_string());
    assert!(c.is_alive("n1", pid));
    // The pid is the daemon's own (shared pid namespace: visible here), in a
    // session of its own.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .starts_with("sleep")
    {
        assert!(Instant::now() < deadline, "the daemon never became `sleep`");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid as i32))).unwrap();
    assert_eq!(
        sid.as_raw(),
        pid as i32,
        "setsid: the daemon leads its session"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("started hello world; $(x)")
    {
        assert!(
            Instant::now() < deadline,
            "log: {:?}",
            std::fs::read_to_string(&log)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    c.signal("n1", pid, Signal::SIGSTOP).unwrap();
    // SIGSTOP takes effect when the kernel next schedules the process
    // (SIGCONT at once), which on a busy machine is not right away.
    let deadline = Instant::now() + Duration::from_secs(30);
    while proc_state(pid) != Some('T') {
        assert!(
            Instant::now() < deadline,
            "never stopped: {:?}",
            proc_state(pid)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(c.is_alive("n1", pid), "a stopped process is alive");
    c.signal("n1", pid, Signal::SIGCONT).unwrap();
    assert_ne!(proc_state(pid), Some('T'));
    c.signal("n1", pid, Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.is_alive("n1", pid) {
        assert!(Instant::now() < deadline, "still alive after SIGKILL");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Signalling a process that does not exist is an error naming the node.
    let absent = (100_000..4_000_000u32)
        .rev()
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    assert!(!c.is_alive("n1", absent));
    let e = c.signal("n1", absent, Signal::SIGTERM).unwrap_err();
    assert!(e.to_string().starts_with("on n1 ("), "{e}");
}

/// A live (not zombie) process whose command line is exactly `cmdline`
/// (NUL-separated).
fn find_process(cmdline: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let c = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        (c == cmdline.as_bytes() && proc_state(pid) != Some('Z')).then_some(pid)
    })
}

#[test]
fn files_go_up_and_down_intact() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let c = lab.control();
    let d = lab.net.dir.path();
    // Binary, every byte value, bigger than one SFTP packet.
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let local = d.join("blob");
    std::fs::write(&local, &data).unwrap();
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o750)).unwrap();
    let remote = d.join("remote dir");
    std::fs::create_dir(&remote).unwrap();
    let remote_file = remote.join("blob 'copy'");
    c.upload("n1", &local, &remote_file).unwrap();
    assert_eq!(std::fs::read(&remote_file).unwrap(), data);
    let mode = std::fs::metadata(&remote_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o750);
    // Replacing a file works, and leaves no temporary file behind.
    c.upload("n1", &local, &remote_file).unwrap();
    assert_eq!(std::fs::read_dir(&remote).unwrap().count(), 1);
    let back = d.join("back");
    c.download("n1", &remote_file, &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), data);
    c.write_file("n1", &remote.join("offset"), "+1.5s\n")
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(remote.join("offset")).unwrap(),
        "+1.5s\n"
    );
    c.write_file("n1", &remote.join("offset"), "0\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(remote.join("offset")).unwrap(),
        "0\n"
    );
    let e = c
        .download("n1", &d.join("missing"), &d.join("x"))
        .unwrap_err();
    assert!(e.to_string().starts_with("n1 ("), "{e}");
    assert!(e.to_string().contains("missing"), "{e}");
    let e = c
        .upload("n1", &local, Path::new("/nonexistent-dir/f"))
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent-dir"), "{e}");
}

#[test]
fn the_nemesis_session_is_free_while_the_others_are_busy() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let c = SshControl::new(
        lab.nodes(),
        SshOptions {
            sessions_per_node: 1,
            ..lab.opts()
        },
    );
    let nemesis = c.nemesis_view();
    // Connect both first, so the timing below measures only waiting.
    c.exec("n1", &argv(&["true"]), T).unwrap();
    nemesis.exec("n1", &argv(&["true"]), T).unwrap();
    std::thread::scope(|s| {
        let busy = s.spawn(|| c.exec("n1", &argv(&["sleep", "3"]), T));
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let out = nemesis.exec("n1", &argv(&["echo", "healed"]), T).unwrap();
        assert_eq!(out.stdout, "healed\n");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the nemesis waited {:?} behind a slow command",
            started.elapsed()
        );
        // The ordinary pool (one session) is busy: a second ordinary call
        // waits for it.
        let started = Instant::now();
        c.exec("n1", &argv(&["true"]), T).unwrap();
        assert!(started.elapsed() > Duration::from_secs(1));
        busy.join().unwrap().unwrap();
    });
}

#[test]
fn many_parallel_commands_share_the_pool() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(2);
    let c = SshControl::connect(lab.nodes(), lab.opts()).unwrap();
    assert_eq!(c.privilege("n1").unwrap(), Privilege::Root);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let c = &c;
                s.spawn(move || {
                    let node = if i % 2 == 0 { "n1" } else { "n2" };
                    let out = c.exec(node, &argv(&["echo", &i.to_string()]), T).unwrap();
                    assert_eq!(out.stdout.trim(), i.to_string());
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
}

fn assert_one_line(e: &ControlError, node: &str, words: &[&str]) -> String {
    let m = e.to_string();
    assert!(!m.contains('\n'), "not one line: {m}");
    assert!(m.contains(node), "does not name {node}: {m}");
    for w in words {
        assert!(m.contains(w), "no {w:?} in: {m}");
    }
    m
}

#[test]
fn unreachable_nodes_are_named_with_the_fix() {
    let _area = crate::util::area::enter(module_path!());
    let mut lab = Lab::new(2);
    // Nothing listens: refused at once.
    lab.stop_sshd(0);
    let n1 = format!("n1 ({}:22)", lab.ip(0));
    let started = Instant::now();
    let e = SshControl::connect(lab.nodes(), lab.opts()).err().unwrap();
    assert!(matches!(e, ControlError::Unreachable { .. }), "{e}");
    assert_one_line(&e, &n1, &["refused", "sshd listens on port 22"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    // Packets dropped: the connect timeout bounds the wait.
    let ns = lab.net.network.nodes[1].netns.clone();
    sh(
        "ip",
        &[
            "netns", "exec", &ns, "iptables", "-I", "INPUT", "-p", "tcp", "--dport", "22", "-j",
            "DROP",
        ],
    );
    let c = SshControl::new(
        lab.nodes(),
        SshOptions {
            connect_timeout: Duration::from_secs(1),
            ..lab.opts()
        },
    );
    let started = Instant::now();
    let e = c.exec("n2", &argv(&["true"]), T).unwrap_err();
    assert_one_line(
        &e,
        &format!("n2 ({}:22)", lab.ip(1)),
        &["unreachable", "within 1s"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_wrong_key_is_an_auth_error_naming_the_fix() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let other = lab.net.dir.path().join("id_other");
    keygen(&other);
    let c = SshControl::new(
        lab.nodes(),
        SshOptions {
            private_key: Some(other.clone()),
            ..lab.opts()
        },
    );
    let e = c.exec("n1", &argv(&["true"]), T).unwrap_err();
    assert!(matches!(e, ControlError::AuthFailed { .. }), "{e}");
    assert_one_line(
        &e,
        &format!("n1 ({}:22)", lab.ip(0)),
        &[
            "authentication as root failed",
            other.to_str().unwrap(),
            "--ssh-private-key",
        ],
    );
}

#[test]
fn unknown_and_changed_host_keys_are_refused_unless_opted_out() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(2);
    let n1 = format!("n1 ({}:22)", lab.ip(0));
    // Empty known_hosts.
    let empty = lab.net.dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let opts = SshOptions {
        host_keys: HostKeyPolicy::Check(empty.clone()),
        ..lab.opts()
    };
    let e = SshControl::new(lab.nodes(), opts.clone())
        .exec("n1", &argv(&["true"]), T)
        .unwrap_err();
    assert!(matches!(e, ControlError::HostKeyUnknown { .. }), "{e}");
    let m = assert_one_line(
        &e,
        &n1,
        &["host key not in", "--no-strict-host-key-checking"],
    );
    let keyscan = format!("ssh-keyscan -p 22 {} >> {}", lab.ip(0), empty.display());
    assert!(m.contains(&keyscan), "{m}");
    // The fix works: run it, then connect.
    let scanned = sh("ssh-keyscan", &["-T", "5", "-p", "22", &lab.ip(0)]);
    std::fs::write(&empty, scanned).unwrap();
    SshControl::new(lab.nodes(), opts)
        .exec("n1", &argv(&["true"]), T)
        .unwrap();
    // A missing file is the same problem.
    let e = SshControl::new(
        lab.nodes(),
        SshOptions {
            host_keys: HostKeyPolicy::Check(lab.net.dir.path().join("absent")),
            ..lab.opts()
        },
    )
    .exec("n1", &argv(&["true"]), T)
    .unwrap_err();
    assert!(matches!(e, ControlError::HostKeyUnknown { .. }), "{e}");
    // n1's address with n2's key: a mismatch.
    let wrong = lab.net.dir.path().join("wrong_known_hosts");
    std::fs::write(&wrong, format!("{} {}\n", lab.ip(0), lab.host_keys[1])).unwrap();
    let e = SshControl::new(
        lab.nodes(),
        SshOptions {
            host_keys: HostKeyPolicy::Check(wrong.clone()),
            ..lab.opts()
        },
    )
    .exec("n1", &argv(&["true"]), T)
    .unwrap_err();
    assert!(matches!(e, ControlError::HostKeyMismatch { .. }), "{e}");
    assert_one_line(
        &e,
        &n1,
        &[
            "host key differs",
            "ssh-keygen -R",
            "--no-strict-host-key-checking",
        ],
    );
    // Opting out accepts any key.
    let c = SshControl::new(
        lab.nodes(),
        SshOptions {
            host_keys: HostKeyPolicy::AcceptAny,
            ..lab.opts()
        },
    );
    assert_eq!(
        c.exec("n1", &argv(&["echo", "in"]), T).unwrap().stdout,
        "in\n"
    );
}

/// A login user that is not root, removed again on drop.
struct TestUser(String);

impl TestUser {
    /// Each test uses its own name: tests run in parallel.
    fn create(name: &str, password: &str) -> TestUser {
        let name = name.to_string();
        let _ = Command::new("userdel").arg(&name).output();
        sh("useradd", &["-M", "-s", "/bin/sh", &name]);
        let mut p = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        p.stdin
            .take()
            .unwrap()
            .write_all(format!("{name}:{password}\n").as_bytes())
            .unwrap();
        assert!(p.wait().unwrap().success());
        TestUser(name)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).output();
    }
}

#[test]
fn a_user_without_root_or_sudo_is_refused_by_password_login_too() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::with(1, "PasswordAuthentication yes");
    let user = TestUser::create("flsshtest", "s3cret pass");
    let n1 = format!("n1 ({}:22)", lab.ip(0));
    let opts = SshOptions {
        username: user.0.clone(),
        private_key: None,
        password: Some("s3cret pass".into()),
        ..lab.opts()
    };
    let e = SshControl::new(lab.nodes(), opts.clone())
        .exec("n1", &argv(&["true"]), T)
        .unwrap_err();
    assert!(matches!(e, ControlError::NotRoot { .. }), "{e}");
    assert_one_line(
        &e,
        &n1,
        &[
            "flsshtest is neither root nor",
            "sudoers.d",
            "--username root",
        ],
    );
    // Without the requirement (as `doctor` runs), the user is logged in and
    // told apart.
    let c = SshControl::new(
        lab.nodes(),
        SshOptions {
            require_root: false,
            ..opts.clone()
        },
    );
    assert_eq!(c.privilege("n1").unwrap(), Privilege::Unprivileged);
    assert_eq!(
        c.exec("n1", &argv(&["id", "-un"]), T).unwrap().stdout,
        "flsshtest\n"
    );
    // A wrong password is an authentication error.
    let e = SshControl::new(
        lab.nodes(),
        SshOptions {
            password: Some("wrong".into()),
            ..opts
        },
    )
    .exec("n1", &argv(&["true"]), T)
    .unwrap_err();
    assert!(matches!(e, ControlError::AuthFailed { .. }), "{e}");
    assert_one_line(&e, &n1, &["authentication as flsshtest failed", "password"]);
    // `faultline test` says the same, in one line, before touching the node.
    let mut cmd = faultline_bin();
    cmd.args([
        "test",
        "--time-limit",
        "2",
        "--nemesis",
        "none",
        "--r",
        "1",
        "--w",
        "1",
    ])
    .args(["--nodes", &lab.ip(0)])
    .args(["--username", "flsshtest", "--password", "s3cret pass"])
    .arg("--known-hosts")
    .arg(&lab.known_hosts)
    .arg("--remote-dir")
    .arg(lab.net.dir.path().join("remote"))
    .arg("--results")
    .arg(lab.net.dir.path().join("results"));
    let out = run_bounded(cmd, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("faultline: error"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    for w in [
        n1.as_str(),
        "flsshtest is neither root nor",
        "--username root",
    ] {
        assert!(errors[0].contains(w), "no {w:?} in {}", errors[0]);
    }
}

/// `faultline doctor` on the lab's nodes; `(flag, value)` pairs in
/// `replace` stand in for the defaults.
fn doctor(lab: &Lab, replace: &[(&str, &str)]) -> (i32, String, String) {
    let nodes = (0..lab.net.network.nodes.len())
        .map(|i| lab.ip(i))
        .collect::<Vec<_>>()
        .join(",");
    let remote_dir = lab.net.dir.path().join("remote").display().to_string();
    let key = lab.key.display().to_string();
    let kh = lab.known_hosts.display().to_string();
    let mut cmd = faultline_bin();
    cmd.arg("doctor");
    for (flag, default) in [
        ("--nodes", nodes.as_str()),
        ("--ssh-private-key", &key),
        ("--known-hosts", &kh),
        ("--remote-dir", &remote_dir),
        ("--store", "ringkv"),
    ] {
        let value = replace
            .iter()
            .find(|(f, _)| *f == flag)
            .map_or(default, |(_, v)| *v);
        cmd.args([flag, value]);
    }
    let out = run_bounded(cmd, Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A socket listening on `port` inside namespace `ns`: bound by a throwaway
/// thread that enters the namespace (`setns` moves only that thread), so it
/// lives in the namespace while this test holds it.
fn listen_in_netns(ns: &str, port: u16) -> std::net::TcpListener {
    use std::os::fd::AsRawFd;
    let ns = ns.to_string();
    std::thread::spawn(move || {
        let f = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
        // SAFETY: setns on a valid namespace fd; affects this thread only.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
        std::net::TcpListener::bind(("0.0.0.0", port)).unwrap()
    })
    .join()
    .unwrap()
}

/// Runs a command, killing it after `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn doctor_passes_healthy_nodes_and_names_each_problem_with_its_fix() {
    let _area = crate::util::area::enter(module_path!());
    let mut lab = Lab::new(2);
    let (code, out, err) = doctor(&lab, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NODE"), "{out}");
    for i in 0..2 {
        let label = format!("n{} ({}:22)", i + 1, lab.ip(i));
        let ok = lines
            .iter()
            .find(|l| l.starts_with(&label) && l.contains(" ok "))
            .unwrap_or_else(|| panic!("no ok line for {label}: {out}"));
        for w in [
            "root",
            "free in",
            "port 8080 free",
            "clock ",
            "/dev/fuse (power faults)",
        ] {
            assert!(ok.contains(w), "no {w:?} in {ok}");
        }
    }
    assert!(out.contains("2 nodes: a test can run"), "{out}");

    // Another store: its packages and its ports are checked.
    let squatter = listen_in_netns(&lab.net.network.nodes[0].netns, 6379);
    let (code, out, err) = doctor(&lab, &[("--store", "redis")]);
    drop(squatter);
    assert_eq!(code, 1, "{out}{err}");
    let taken = out
        .lines()
        .find(|l| l.starts_with(&format!("n1 ({}:22)", lab.ip(0))) && l.contains(" error "))
        .unwrap_or_else(|| panic!("no error line for n1: {out}"));
    assert!(
        taken.contains("port 6379 is taken (redis listens there)"),
        "{taken}"
    );
    let n2_ok = out
        .lines()
        .find(|l| l.starts_with(&format!("n2 ({}:22)", lab.ip(1))) && l.contains(" ok "))
        .unwrap_or_else(|| panic!("no ok line for n2: {out}"));
    for w in [
        "redis-server",
        "redis-sentinel",
        "port 6379 free",
        "port 26379 free",
    ] {
        assert!(n2_ok.contains(w), "no {w:?} in {n2_ok}");
    }

    // n1: something listens on ringkv's port; n2: sshd is down.
    let squatter = listen_in_netns(&lab.net.network.nodes[0].netns, 8080);
    lab.stop_sshd(1);
    let (code, out, err) = doctor(&lab, &[]);
    drop(squatter);
    assert_eq!(code, 1, "{out}{err}");
    let n1 = format!("n1 ({}:22)", lab.ip(0));
    let n2 = format!("n2 ({}:22)", lab.ip(1));
    let port = out
        .lines()
        .find(|l| l.starts_with(&n1) && l.contains(" error "))
        .unwrap_or_else(|| panic!("no error line for n1: {out}"));
    assert!(
        port.contains("port 8080 is taken") && port.contains("ss -ltnp"),
        "{port}"
    );
    let down = out
        .lines()
        .find(|l| l.starts_with(&n2))
        .unwrap_or_else(|| panic!("no line for n2: {out}"));
    assert!(
        down.contains(" error ") && down.contains("unreachable"),
        "{down}"
    );
    assert!(down.contains("sshd listens on port 22"), "{down}");
    assert!(
        !out.lines()
            .any(|l| l.starts_with(&n2) && l.contains(" ok ")),
        "{out}"
    );
    assert!(out.contains("a test cannot run"), "{out}");

    // An unknown host key, and bad flags.
    let empty = lab.net.dir.path().join("kh_empty");
    std::fs::write(&empty, "").unwrap();
    let (code, out, _) = doctor(&lab, &[("--known-hosts", empty.to_str().unwrap())]);
    assert_eq!(code, 1);
    assert!(
        out.contains("host key not in") && out.contains("ssh-keyscan -p 22"),
        "{out}"
    );
    let (code, _, err) = doctor(&lab, &[("--nodes", "n1:99999")]);
    assert_eq!(code, 254, "{err}");
    assert!(
        err.contains("--nodes: \"n1:99999\"") && err.contains("port"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Catches a read loop that sleeps whole poll periods. Most of a command's
/// cost is the node's shell starting (bash reads root's ~/.bashrc when run
/// by sshd), hence the loose bound.
#[test]
fn a_command_costs_no_poll_periods() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let c = lab.control();
    c.exec("n1", &argv(&["true"]), T).unwrap();
    let started = Instant::now();
    for _ in 0..10 {
        c.exec("n1", &argv(&["true"]), T).unwrap();
    }
    let each = started.elapsed() / 10;
    eprintln!("one exec: {each:?}");
    assert!(each < Duration::from_millis(900), "one exec took {each:?}");
}

/// A sudoers.d entry giving a user passwordless sudo, removed on drop.
struct Sudoer(PathBuf);

impl Sudoer {
    fn create(user: &str) -> Sudoer {
        assert!(
            Path::new("/usr/bin/sudo").is_file(),
            "sudo is missing: apt-get install sudo"
        );
        let path = PathBuf::from(format!("/etc/sudoers.d/{user}"));
        std::fs::write(&path, format!("{user} ALL=(ALL) NOPASSWD: ALL\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).unwrap();
        Sudoer(path)
    }
}

impl Drop for Sudoer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_passwordless_sudoer_runs_everything_through_sudo() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let user = TestUser::create("flsshsudo", "unused pw");
    let _sudo = Sudoer::create(&user.0);
    let c = SshControl::connect(
        lab.nodes(),
        SshOptions {
            username: user.0.clone(),
            ..lab.opts()
        },
    )
    .unwrap();
    assert_eq!(c.privilege("n1").unwrap(), Privilege::Sudo);
    assert_eq!(c.exec("n1", &argv(&["id", "-u"]), T).unwrap().stdout, "0\n");
    // Hostile words survive the extra hop through sudo.
    let out = c
        .exec("n1", &argv(&["printf", "%s|", "a b", "$(x)", "it's"]), T)
        .unwrap();
    assert_eq!(out.stdout, "a b|$(x)|it's|");
    // Files in a directory only root may enter.
    let secret = lab.net.dir.path().join("root-only");
    std::fs::create_dir(&secret).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    let local = lab.net.dir.path().join("payload");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&local, &data).unwrap();
    c.upload("n1", &local, &secret.join("payload")).unwrap();
    assert_eq!(std::fs::read(secret.join("payload")).unwrap(), data);
    c.write_file("n1", &secret.join("offset"), "-2s\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(secret.join("offset")).unwrap(),
        "-2s\n"
    );
    let back = lab.net.dir.path().join("back");
    c.download("n1", &secret.join("payload"), &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), data);
    // Daemons run as root, and take signals.
    let spec = DaemonSpec {
        argv: argv(&["sleep", "1000"]),
        log_file: secret.join("d.log"),
        env: vec![],
    };
    let pid = c.start_daemon("n1", &spec).unwrap();
    assert!(c.is_alive("n1", pid));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t0\t")),
        "{status}"
    );
    c.signal("n1", pid, Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.is_alive("n1", pid) {
        assert!(Instant::now() < deadline, "still alive after SIGKILL");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A whole `faultline test` as the sudoer: provisioning, the store,
    // the final reads and the teardown all go through sudo.
    let remote_dir = lab.net.dir.path().join("remote");
    let mut cmd = faultline_bin();
    cmd.args([
        "test",
        "--name",
        "ssh-sudo",
        "--time-limit",
        "3",
        "--quiesce",
        "1",
    ])
    .args([
        "--nemesis",
        "none",
        "--r",
        "1",
        "--w",
        "1",
        "--username",
        &user.0,
    ])
    .args(node_flags(&lab, &remote_dir))
    .arg("--results")
    .arg(lab.net.dir.path().join("results"));
    let out = run_bounded(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("verdict: valid"), "{stdout}");
    assert!(!remote_dir.exists(), "{} left behind", remote_dir.display());
}

#[test]
fn idle_sessions_are_kept_alive_and_dropped_ones_replaced() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::new(1);
    let opts = SshOptions {
        sessions_per_node: 1,
        ..lab.opts()
    };
    let kept = SshControl::new(
        lab.nodes(),
        SshOptions {
            keepalive: Duration::from_secs(1),
            ..opts.clone()
        },
    );
    let plain = SshControl::new(lab.nodes(), opts);
    kept.exec("n1", &argv(&["true"]), T).unwrap();
    plain.exec("n1", &argv(&["true"]), T).unwrap();
    // Keepalives go out on the idle session; it stays usable.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        kept.exec("n1", &argv(&["echo", "a"]), T).unwrap().stdout,
        "a\n"
    );
    // The server drops both connections. The next command finds its
    // session dead before anything ran on the node, so even a command that
    // is not idempotent is safely sent again on a fresh connection.
    lab.drop_connections(0);
    std::thread::sleep(Duration::from_millis(300));
    let marker = lab.net.dir.path().join("appended");
    let m = marker.display().to_string();
    let append = argv(&["sh", "-c", "echo x >> \"$1\"", "sh", &m]);
    plain.exec("n1", &append, T).unwrap();
    kept.exec("n1", &append, T).unwrap();
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "x\nx\n",
        "ran exactly once each"
    );
}

/// Whether namespace `ns` has faultline's partition chain with a DROP rule
/// in it (a partition in force there).
fn partitioned(ns: &str) -> bool {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "iptables", "-w", "-S", "FAULTLINE"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("-j DROP")
}

/// Whether namespace `ns` has any chain of faultline's left.
fn any_faultline_chain(ns: &str) -> bool {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "iptables", "-w", "-S"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("FAULTLINE")
}

/// Pids of processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(needle) && proc_state(pid) != Some('Z') {
            pids.push(pid);
        }
    }
    pids
}

/// The newest run of test `name` under `results`.
fn latest_run(results: &Path, name: &str) -> PathBuf {
    std::fs::canonicalize(results.join(name).join("latest"))
        .or_else(|_| std::fs::canonicalize(results.join("latest")))
        .unwrap()
}

/// After a heal: no process runs from the nodes' `remote_dir` (within a
/// few seconds: SIGKILLed processes take a moment to go) and the
/// directory is gone.
fn assert_healed(remote_dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(remote_dir.to_str().unwrap()).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the store left running after heal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!remote_dir.exists(), "{} left behind", remote_dir.display());
}

/// Each of the run's `nodes` has every one of `logs`, fetched and not empty.
fn assert_logs_fetched(run: &Path, nodes: usize, logs: &[&str]) {
    for i in 1..=nodes {
        for log in logs {
            let p = run.join(format!("n{i}")).join(log);
            assert!(
                std::fs::metadata(&p).is_ok_and(|m| m.len() > 0),
                "{} missing or empty",
                p.display()
            );
        }
    }
}

/// The node flags of `faultline test` / `heal` for the lab.
fn node_flags(lab: &Lab, remote_dir: &Path) -> Vec<String> {
    let nodes = (0..lab.net.network.nodes.len())
        .map(|i| lab.ip(i))
        .collect::<Vec<_>>()
        .join(",");
    argv(&[
        "--nodes",
        &nodes,
        "--ssh-private-key",
        lab.key.to_str().unwrap(),
        "--known-hosts",
        lab.known_hosts.to_str().unwrap(),
        "--remote-dir",
        remote_dir.to_str().unwrap(),
    ])
}

/// Watches the lab's namespaces while a test runs: each time one is
/// partitioned, runs a command on that node over a fresh SSH connection
/// from the controller's address and records whether it worked. Returns
/// (partitions seen with a successful exec, failures).
fn watch_partitions(lab: &Lab, done: &std::sync::atomic::AtomicBool) -> (usize, Vec<String>) {
    let control = lab.control();
    let (mut ok, mut failures) = (0, Vec::new());
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        for (i, node) in lab.net.network.nodes.iter().enumerate() {
            if !partitioned(&node.netns) {
                continue;
            }
            let out = control.exec(&node.name, &argv(&["iptables", "-w", "-S", "FAULTLINE"]), T);
            match out {
                Ok(o) if o.stdout.contains("-j DROP") => ok += 1,
                Ok(_) => {} // healed meanwhile
                Err(e) => failures.push(format!("n{}: {e}", i + 1)),
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    (ok, failures)
}

#[test]
fn faultline_test_runs_over_ssh_and_leaves_nothing_behind() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::alone(5);
    let remote_dir = lab.net.dir.path().join("remote");
    let results = lab.net.dir.path().join("results");
    let mut cmd = faultline_bin();
    cmd.args(["test", "--name", "ssh-set", "--seed", "7"])
        .args(node_flags(&lab, &remote_dir))
        .args([
            "--nemesis",
            "partition,kill,clock",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "10",
            "--quiesce",
            "2",
            "--results",
        ])
        .arg(&results);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (out, (seen, failures)) = std::thread::scope(|s| {
        let watcher = s.spawn(|| watch_partitions(&lab, &done));
        let out = run_bounded(cmd, Duration::from_secs(240));
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        (out, watcher.join().unwrap())
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("verdict: valid"), "{stdout}\n{stderr}");
    // The controller's SSH sessions survive partitions: rules name peers.
    assert!(failures.is_empty(), "{failures:?}");
    assert!(seen > 0, "no partition was observed in force\n{stderr}");
    // Logs fetched, one folder per node.
    let run = latest_run(&results, "ssh-set");
    assert_logs_fetched(&run, 5, &["ringkv.log"]);
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    for f in ["\"f\":\"start-partition\"", "\"f\":\"kill\"", "-clock\""] {
        assert!(history.contains(f), "no {f} in the history");
    }
    // Nothing left on the nodes.
    assert!(!remote_dir.exists(), "{} left behind", remote_dir.display());
    assert!(
        processes_with(remote_dir.to_str().unwrap()).is_empty(),
        "ringkv left running"
    );
    for node in &lab.net.network.nodes {
        assert!(
            !any_faultline_chain(&node.netns),
            "chains left on {}",
            node.name
        );
    }
    // The same test on local namespaces gives the same verdicts, checker
    // by checker.
    let mut local = faultline_bin();
    local
        .args(["test", "--name", "local-set", "--seed", "7", "--nodes", "5"])
        .args([
            "--nemesis",
            "partition,kill,clock",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "10",
            "--quiesce",
            "2",
            "--results",
        ])
        .arg(&results);
    let local = run_bounded(local, Duration::from_secs(240));
    let verdicts = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| !l.starts_with("report:"))
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect()
    };
    let local_out = String::from_utf8_lossy(&local.stdout);
    assert_eq!(local.status.code(), Some(0), "{local_out}");
    assert_eq!(verdicts(&local_out), verdicts(&stdout));
}

#[test]
fn heal_over_ssh_after_the_controller_is_killed_mid_partition() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::alone(3);
    let remote_dir = lab.net.dir.path().join("remote");
    let results = lab.net.dir.path().join("results");
    let mut child = faultline_bin()
        .args(["test", "--name", "ssh-heal", "--seed", "3"])
        .args(node_flags(&lab, &remote_dir))
        .args([
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--time-limit",
            "60",
            "--results",
        ])
        .arg(&results)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !lab.net.network.nodes.iter().any(|n| partitioned(&n.netns)) {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no partition within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(lab
        .net
        .network
        .nodes
        .iter()
        .any(|n| any_faultline_chain(&n.netns)));
    assert!(!processes_with(remote_dir.to_str().unwrap()).is_empty());

    // No node flags: the dead run's folder says where it ran and how to
    // log in.
    let run_dir = std::fs::read_dir(results.join("ssh-heal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("test.json").is_file())
        .expect("the run's folder");
    let mut heal = faultline_bin();
    heal.arg("heal").arg("--run").arg(&run_dir);
    let out = run_bounded(heal, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("removed faultline's iptables chains on n1, n2, n3"),
        "{stdout}"
    );
    assert!(stdout.contains("killed 1 store process"), "{stdout}");
    for node in &lab.net.network.nodes {
        assert!(
            !any_faultline_chain(&node.netns),
            "chains left on {}",
            node.name
        );
    }
    assert_healed(&remote_dir);
}

/// A fixed power failure of every node of a three-node lab, from `at_ms`,
/// stopped `for_ms` later (never, when `None`).
fn power_schedule(dir: &Path, at_ms: u64, for_ms: Option<u64>) -> PathBuf {
    use nemeses::schedule::{Action, Event, Fault};
    let mut events = vec![Event {
        at_ms,
        kind: nemeses::Kind::Power,
        action: Action::Start {
            fault: Fault::Power {
                targets: vec!["n1".into(), "n2".into(), "n3".into()],
            },
        },
    }];
    if let Some(d) = for_ms {
        events.push(Event {
            at_ms: at_ms + d,
            kind: nemeses::Kind::Power,
            action: Action::Stop,
        });
    }
    crate::util::write_schedule(dir, &format!("power-{at_ms}.json"), &events)
}

#[test]
fn power_over_ssh_loses_unsynced_writes_and_heal_unmounts_after_a_dead_controller() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::alone(3);
    let remote_dir = lab.net.dir.path().join("remote");
    let results = lab.net.dir.path().join("results");
    // faultfs is uploaded beside ringkv; ringkv without fsync loses what
    // every node acknowledged before the power went.
    let schedule = power_schedule(lab.net.dir.path(), 2500, Some(1000));
    let mut cmd = faultline_bin();
    cmd.args([
        "test",
        "--name",
        "ssh-power",
        "--seed",
        "5",
        "--fsync",
        "never",
    ])
    .args(node_flags(&lab, &remote_dir))
    .args(["--nemesis", "power", "--nemesis-schedule"])
    .arg(&schedule)
    .args(["--time-limit", "6", "--quiesce", "2", "--results"])
    .arg(&results);
    let out = run_bounded(cmd, Duration::from_secs(240));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("acknowledged elements lost"), "{stdout}");
    let run = latest_run(&results, "ssh-power");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let off = history
        .lines()
        .find(|l| l.contains("\"f\":\"power-off\"") && l.contains("\"type\":\"info\""))
        .expect("a power-off in the history");
    assert!(!off.contains("\"error\""), "{off}");
    // Unmounted at the end, or the wipe of the nodes' folders would fail.
    assert_healed(&remote_dir);

    // The controller dies while every node is powered off: `heal --run`
    // unmounts the dead mounts before it wipes the folders.
    let held = power_schedule(lab.net.dir.path(), 1500, None);
    let mut child = faultline_bin()
        .args(["test", "--name", "ssh-power-held", "--seed", "5"])
        .args(node_flags(&lab, &remote_dir))
        .args(["--nemesis", "power", "--nemesis-schedule"])
        .arg(&held)
        .args(["--time-limit", "60", "--results"])
        .arg(&results)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let run_dir = loop {
        let found = std::fs::read_dir(results.join("ssh-power-held"))
            .ok()
            .and_then(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .find(|p| p.join("test.json").is_file())
            });
        let off = found.as_ref().is_some_and(|d| {
            std::fs::read_to_string(d.join("history.jsonl")).is_ok_and(|h| {
                h.lines()
                    .any(|l| l.contains("\"f\":\"power-off\"") && l.contains("\"type\":\"info\""))
            })
        });
        if off {
            break found.unwrap();
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no power failure within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut heal = faultline_bin();
    heal.arg("heal").arg("--run").arg(&run_dir);
    let out = run_bounded(heal, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("unmounted faultfs"), "{stdout}");
    assert_healed(&remote_dir);
}

#[test]
fn leave_db_running_keeps_ringkv_until_heal_removes_it() {
    let _area = crate::util::area::enter(module_path!());
    let lab = Lab::alone(2);
    let remote_dir = lab.net.dir.path().join("remote");
    let results = lab.net.dir.path().join("results");
    let mut cmd = faultline_bin();
    cmd.args(["test", "--name", "ssh-leave", "--seed", "1"])
        .args(node_flags(&lab, &remote_dir))
        .args([
            "--nemesis",
            "none",
            "--time-limit",
            "2",
            "--quiesce",
            "0",
            "--leave-db-running",
            "--results",
        ])
        .arg(&results);
    let out = run_bounded(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 1..=2 {
        let dir = remote_dir.join(format!("n{i}"));
        for f in ["ringkv", "ringkv.toml", "ringkv.log", "ringkv.log.pid"] {
            assert!(dir.join(f).is_file(), "{} missing", dir.join(f).display());
        }
    }
    assert_eq!(processes_with(remote_dir.to_str().unwrap()).len(), 2);
    let mut heal = faultline_bin();
    heal.arg("heal").args(node_flags(&lab, &remote_dir));
    let out = run_bounded(heal, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("n1: killed 1 store process"), "{stdout}");
    assert_healed(&remote_dir);
}

#[test]
fn etcd_runs_over_ssh_from_its_package_and_leaves_nothing_behind() {
    let _area = crate::util::area::enter(module_path!());
    // A store no one here wrote, on SSH nodes: etcd comes from the nodes'
    // package (installed when missing), not an upload; its members' logs
    // are fetched and its processes and files gone at the end.
    let lab = Lab::alone(3);
    let remote_dir = lab.net.dir.path().join("remote");
    let results = lab.net.dir.path().join("results");
    // The nodes and the login come from a --config file, as a nightly
    // matrix row would give them.
    let hosts = (0..3)
        .map(|i| format!("{:?}", lab.ip(i)))
        .collect::<Vec<_>>()
        .join(", ");
    let config = lab.net.dir.path().join("etcd.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"ssh-etcd\"\nseed = 3\nnodes = [{hosts}]\ntime_limit = 8\nquiesce = 1\n\
             [workload]\nname = \"register\"\nkeys = 2\n[store]\nname = \"etcd\"\n\
             [nemesis]\nfaults = [\"partition\", \"kill\"]\ninterval = 2\n\
             [ssh]\nprivate_key = {:?}\nknown_hosts = {:?}\nremote_dir = {:?}\n",
            lab.key.display().to_string(),
            lab.known_hosts.display().to_string(),
            remote_dir.display().to_string(),
        ),
    )
    .unwrap();
    let mut cmd = faultline_bin();
    cmd.arg("test")
        .arg("--config")
        .arg(&config)
        .arg("--results")
        .arg(&results);
    let out = run_bounded(cmd, Duration::from_secs(240));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("linearizable valid"), "{stdout}");
    let run = latest_run(&results, "ssh-etcd");
    assert_logs_fetched(&run, 3, &["etcd.log"]);
    assert!(!remote_dir.exists(), "{} left behind", remote_dir.display());
    assert!(
        processes_with(remote_dir.to_str().unwrap()).is_empty(),
        "etcd left running"
    );
}

#[test]
fn an_adapter_store_runs_over_ssh_with_its_clients_on_the_controller() {
    let _area = crate::util::area::enter(module_path!());
    // A store described in TOML on SSH nodes: its files are written and its
    // daemons started through SSH (the lab's nodes share this machine's
    // filesystem, so the example's `{{ faultline_dir }}/ringkv` is there),
    // while the adapter processes run here and reach the nodes by address.
    let lab = Lab::alone(3);
    let remote_dir = lab.net.dir.path().join("remote");
    let results = lab.net.dir.path().join("results");
    let store = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/adapters/ringkv.toml");
    let mut cmd = faultline_bin();
    cmd.arg("test")
        .args(node_flags(&lab, &remote_dir))
        .args(argv(&[
            "--store",
            store.to_str().unwrap(),
            "--workload",
            "set",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "8",
            "--quiesce",
            "2",
            "--seed",
            "4",
            "--name",
            "ssh-adapter",
            "--results",
        ]))
        .arg(&results);
    let out = run_bounded(cmd, Duration::from_secs(240));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("set         valid"), "{stdout}");
    let run = std::fs::canonicalize(results.join("latest")).unwrap();
    for i in 1..=3 {
        let log = run.join(format!("n{i}/ringkv.log"));
        assert!(
            std::fs::metadata(&log).is_ok_and(|m| m.len() > 0),
            "{} missing or empty",
            log.display()
        );
    }
    assert!(run.join("adapter/w0.stderr.log").is_file());
    assert!(!remote_dir.exists(), "{} left behind", remote_dir.display());
    assert!(
        processes_with(remote_dir.to_str().unwrap()).is_empty(),
        "ringkv left running"
    );
    for i in 0..3 {
        // The adapters' argv name their node's address (this lab's own).
        assert!(
            processes_with(&format!("{}:8080", lab.ip(i))).is_empty(),
            "an adapter process for n{} left running",
            i + 1
        );
    }
}

#[test]
fn garage_runs_over_ssh_its_scripts_copied_to_each_node() {
    let _area = crate::util::area::enter(module_path!());
    // The shipped Garage description over SSH: the scripts of its folder
    // (install, wipe, start, ready, forming the cluster) are copied to each
    // node, whose commands name that copy; the lab's nodes share this
    // machine's filesystem, so the binary scripts/test built is there.
    let lab = Lab::alone(3);
    let remote_dir = lab.net.dir.path().join("remote");
    let results = lab.net.dir.path().join("results");
    let mut cmd = faultline_bin();
    cmd.arg("test")
        .args(node_flags(&lab, &remote_dir))
        .args(argv(&[
            "--store",
            "garage",
            "--workload",
            "set",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "8",
            "--quiesce",
            "3",
            "--seed",
            "5",
            "--name",
            "ssh-garage",
            "--results",
        ]))
        .arg(&results);
    let out = run_bounded(cmd, Duration::from_secs(300));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("set         valid"), "{stdout}");
    let run = std::fs::canonicalize(results.join("latest")).unwrap();
    let log = std::fs::read_to_string(run.join("faultline.log")).unwrap();
    for i in 1..=3 {
        // Started from the node's own copy of the scripts...
        let started = log
            .lines()
            .find(|l| l.contains("store started") && l.contains(&format!("node=n{i} ")))
            .unwrap_or_else(|| panic!("n{i} never started: {log}"));
        assert!(
            started.contains(&format!("{}/n{i}/adapter/garage.sh", remote_dir.display())),
            "{started}"
        );
        // ...and its log fetched.
        let node = run.join(format!("n{i}"));
        assert!(
            std::fs::metadata(node.join("garage.log")).is_ok_and(|m| m.len() > 0),
            "n{i}: no garage.log"
        );
    }
    assert!(!remote_dir.exists(), "{} left behind", remote_dir.display());
    assert!(
        processes_with(remote_dir.to_str().unwrap()).is_empty(),
        "garage left running"
    );
}

/// Runs `faultline test` on the lab with some node flags replaced, expecting
/// it to fail; returns its exit code and its one error line.
fn failing_test(lab: &Lab, replace: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut flags = node_flags(lab, &lab.net.dir.path().join("remote"));
    for (flag, value) in replace {
        let i = flags.iter().position(|f| f == flag).unwrap();
        flags[i + 1] = value.to_string();
    }
    let mut cmd = faultline_bin();
    cmd.args(["test", "--time-limit", "2", "--results"])
        .arg(lab.net.dir.path().join("results"))
        .args(flags);
    let out = run_bounded(cmd, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("faultline: error"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    (out.status.code(), errors[0].to_string())
}

#[test]
fn faultline_test_stops_in_one_line_on_a_wrong_key_an_unknown_host_key_and_a_dead_node() {
    let _area = crate::util::area::enter(module_path!());
    let mut lab = Lab::new(2);
    let results = lab.net.dir.path().join("results");
    let n1 = format!("n1 ({}:22)", lab.ip(0));
    // A key the nodes do not accept.
    let other = lab.net.dir.path().join("id_other");
    keygen(&other);
    let (code, e) = failing_test(&lab, &[("--ssh-private-key", other.to_str().unwrap())]);
    assert_eq!(code, Some(255), "{e}");
    for w in [
        n1.as_str(),
        "authentication as root failed",
        "--ssh-private-key",
    ] {
        assert!(e.contains(w), "no {w:?} in {e}");
    }
    // A host key the known_hosts file does not have.
    let empty = lab.net.dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let (code, e) = failing_test(&lab, &[("--known-hosts", empty.to_str().unwrap())]);
    assert_eq!(code, Some(255), "{e}");
    for w in [
        n1.as_str(),
        "host key not in",
        "ssh-keyscan",
        "--no-strict-host-key-checking",
    ] {
        assert!(e.contains(w), "no {w:?} in {e}");
    }
    // A node whose sshd is down.
    lab.stop_sshd(1);
    let (code, e) = failing_test(&lab, &[]);
    assert_eq!(code, Some(255), "{e}");
    let n2 = format!("n2 ({}:22)", lab.ip(1));
    for w in [n2.as_str(), "refused", "sshd listens on port 22"] {
        assert!(e.contains(w), "no {w:?} in {e}");
    }
    // Each failed run kept its folder with what it had: the test's
    // settings and an (empty) history a `faultline check` can read.
    let runs: Vec<_> = std::fs::read_dir(results.join("set-crdt"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| e.path().join("history.jsonl").is_file())
        .collect();
    assert_eq!(runs.len(), 3);
    for r in &runs {
        assert!(r.path().join("test.json").is_file());
        let results = std::fs::read_to_string(r.path().join("results.json")).unwrap();
        assert!(results.contains("\"error\""), "{results}");
    }
}

#[test]
fn netem_over_ssh_is_probed_on_the_nodes_like_a_local_run() {
    let _area = crate::util::area::enter(module_path!());
    // The nodes' kernel decides, not the transport: on this machine's
    // kernel (no sch_netem) the run stops naming the missing module, and
    // `--nemesis all` runs on without netem, saying so.
    let lab = Lab::new(2);
    let remote_dir = lab.net.dir.path().join("remote");
    let probe = lab.control().exec(
        "n1",
        &argv(&[
            "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
        ]),
        T,
    );
    let _ = lab
        .control()
        .exec("n1", &argv(&["tc", "qdisc", "del", "dev", "lo", "root"]), T);
    let mut cmd = faultline_bin();
    cmd.args([
        "test",
        "--time-limit",
        "2",
        "--nemesis",
        "netem",
        "--r",
        "1",
        "--w",
        "1",
    ])
    .args(node_flags(&lab, &remote_dir))
    .arg("--results")
    .arg(lab.net.dir.path().join("results"));
    let out = run_bounded(cmd, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    match probe {
        Err(_) => {
            assert_ne!(out.status.code(), Some(0), "{stderr}");
            assert!(stderr.contains("sch_netem"), "{stderr}");
            assert!(!stderr.contains("not available over SSH"), "{stderr}");
        }
        // A kernel with netem: the delay goes on each node's own interface.
        Ok(_) => {
            assert_eq!(out.status.code(), Some(0), "{stderr}");
            let run = std::fs::canonicalize(lab.net.dir.path().join("results/latest")).unwrap();
            let journal = std::fs::read_to_string(run.join("nemesis.jsonl")).unwrap();
            assert!(journal.contains("netem delay"), "{journal}");
        }
    }
}

/// A stand-in for `date` on the lab's nodes (first on sshd's PATH): `date -s
/// @T` records how far T is from the real clock in `<dir>/<node ip>.offset`
/// instead of moving this machine's clock, which every test shares;
/// `date +%s.%N` answers the real time plus that offset. Other uses fall
/// through to the real `date`.
const FAKE_DATE: &str = r#"#!/bin/sh
dir="$(dirname "$0")"
me=$(ip -o -4 addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1)
off=$(cat "$dir/$me.offset" 2>/dev/null || echo 0)
case "$1" in
  -s) real=$(/bin/date +%s.%N)
      awk -v t="${2#@}" -v r="$real" 'BEGIN { printf "%.3f\n", t - r }' > "$dir/$me.offset"
      echo "$2" >> "$dir/$me.steps" ;;
  +%s.%N) real=$(/bin/date +%s.%N)
      awk -v r="$real" -v o="$off" 'BEGIN { printf "%.9f\n", r + o }' ;;
  *) exec /bin/date "$@" ;;
esac
"#;

/// The host clock offset (s) the fake `date` holds for `ip`.
fn fake_offset(bin: &Path, ip: &str) -> f64 {
    std::fs::read_to_string(bin.join(format!("{ip}.offset")))
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[test]
fn clock_mode_date_steps_host_clocks_with_date_and_always_steps_them_back() {
    let _area = crate::util::area::enter(module_path!());
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let date = bin.path().join("date");
    std::fs::write(&date, FAKE_DATE).unwrap();
    std::fs::set_permissions(&date, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "SetEnv PATH={}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        bin.path().display()
    );
    let lab = Lab::with(3, &path);
    let probe = lab
        .control()
        .exec("n1", &argv(&["date", "+%s.%N"]), T)
        .unwrap();
    assert!(probe.stdout.trim().parse::<f64>().is_ok(), "{probe:?}");
    let remote_dir = lab.net.dir.path().join("remote");
    let results = lab.net.dir.path().join("results");
    let test = |name: &str, time_limit: &str| {
        let mut cmd = faultline_bin();
        cmd.args(["test", "--name", name, "--seed", "4", "--store", "etcd"])
            .args(["--workload", "register", "--keys", "2", "--quiesce", "1"])
            .args([
                "--nemesis",
                "clock",
                "--clock-mode",
                "date",
                "--nemesis-interval",
                "1",
            ])
            .args(["--time-limit", time_limit])
            .args(node_flags(&lab, &remote_dir))
            .arg("--results")
            .arg(&results);
        cmd
    };
    // A whole run: etcd (a Go binary, out of libfaketime's reach) takes
    // clock faults this way; every host clock ends where it began.
    let out = run_bounded(test("date-clock", "6"), Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let stepped: Vec<String> = (0..3)
        .filter(|i| bin.path().join(format!("{}.steps", lab.ip(*i))).exists())
        .map(|i| lab.ip(i))
        .collect();
    assert!(!stepped.is_empty(), "no date -s ran\n{stderr}");
    for i in 0..3 {
        let off = fake_offset(bin.path(), &lab.ip(i));
        assert!(off.abs() < 0.2, "n{} left {off} s off", i + 1);
    }
    let run = latest_run(&results, "date-clock");
    let test_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(test_json["clock_mode"], "date", "{test_json}");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        history.contains("-clock\""),
        "no clock fault in the history"
    );

    // A controller killed while a clock is moved (at any point: before or
    // after its journal line): `heal --run` sets every host clock to this
    // machine's time plus the skew measured before the faults.
    let mut child = test("date-heal", "60")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while (0..3).all(|i| fake_offset(bin.path(), &lab.ip(i)).abs() < 1.0) {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no clock moved within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let run_dir = std::fs::read_dir(results.join("date-heal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("test.json").is_file())
        .unwrap();
    let mut heal = faultline_bin();
    heal.arg("heal").arg("--run").arg(&run_dir);
    let out = run_bounded(heal, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("set the host clock back"), "{stdout}");
    // Absolute, so it is off by how long the command took to arrive and
    // the stand-in `date` to start (a few forks here; a few ms on a real
    // host, more with both cores busy), never by the offset the dead run
    // had put there (>= 1 s, which is what the bound tells apart).
    for i in 0..3 {
        let off = fake_offset(bin.path(), &lab.ip(i));
        assert!(off.abs() < 0.9, "n{} left {off} s off after heal", i + 1);
    }
}

#[test]
fn redis_with_sentinel_runs_over_ssh_and_kills_its_primary_there() {
    let _area = crate::util::area::enter(module_path!());
    // Two daemons per node (a server, and on n1-n3 a Sentinel), configs
    // that Sentinel rewrites, the primary found when the fault starts: all
    // through SSH, and nothing left behind.
    let lab = Lab::alone(3);
    let remote_dir = lab.net.dir.path().join("remote");
    let results = lab.net.dir.path().join("results");
    let mut cmd = faultline_bin();
    cmd.args([
        "test",
        "--name",
        "ssh-redis",
        "--seed",
        "2",
        "--store",
        "redis",
    ])
    .args([
        "--workload",
        "set",
        "--nemesis",
        "kill",
        "--nemesis-targets",
        "primary",
    ])
    .args([
        "--nemesis-interval",
        "3",
        "--time-limit",
        "8",
        "--quiesce",
        "2",
    ])
    .args(node_flags(&lab, &remote_dir))
    .arg("--results")
    .arg(&results);
    let out = run_bounded(cmd, Duration::from_secs(240));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let run = latest_run(&results, "ssh-redis");
    assert_logs_fetched(&run, 3, &["redis.log", "sentinel.log"]);
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains(r#""f":"kill""#), "no kill in the history");
    assert!(!history.contains("@primary"), "an unresolved target");
    assert!(!remote_dir.exists(), "{} left behind", remote_dir.display());
    assert!(
        processes_with(remote_dir.to_str().unwrap()).is_empty(),
        "redis left running"
    );
}
