//! `faultline doctor`: can a test run on these nodes?
//!
//! For every node (in parallel): reachable, host key known, authenticated,
//! root or passwordless sudo, the tools faultline needs present (or
//! installable with apt-get), free disk in `--remote-dir`, ringkv's port
//! free, and the node's wall clock against the controller's. The answer is
//! a table: one line per problem with its fix, and one `ok` line per node
//! without errors summing up what was found.
//!
//! Exit status: 0 when a test could run (warnings allowed), 1 when some node
//! has an error, 254 for bad flags.

use crate::cluster::control::ssh::{Privilege, SshControl, SshNode};
use crate::cluster::control::ControlError;
use crate::cluster::nodes::SshArgs;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `faultline doctor` flags: the node flags, nothing else.
#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// The nodes and how to log in.
    #[command(flatten)]
    pub ssh: SshArgs,
    /// The store the test will run (its packages and ports are checked
    /// too): ringkv, etcd, redis, or an adapter's .toml file.
    #[arg(long, default_value = "ringkv")]
    pub store: String,
}

/// Exit status when some node has an error: a test could not run.
pub const EXIT_PROBLEMS: i32 = 1;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Everything checked is fine (the node's summary line).
    Ok,
    /// A test can run, but something is missing or off (faultline can
    /// install it, or a result may be affected).
    Warn,
    /// A test cannot run until this is fixed.
    Error,
}

impl Severity {
    fn word(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// Which check: `ssh`, `root`, `tools`, `disk`, `port`, `clock`, or
    /// `all` for the summary line.
    pub check: &'static str,
    /// The problem and its fix, or the summary (one line).
    pub detail: String,
}

/// Everything found on one node.
#[derive(Clone, Debug)]
pub struct NodeReport {
    /// The node.
    pub node: SshNode,
    /// Problems, then (without errors) the summary line.
    pub findings: Vec<Finding>,
}

impl NodeReport {
    /// True when nothing on this node stops a test.
    pub fn runnable(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

/// A tool faultline runs on the nodes.
struct Tool {
    program: &'static str,
    package: &'static str,
    purpose: &'static str,
    /// Without it no test can run (otherwise only some faults are lost).
    required: bool,
}

const TOOLS: &[Tool] = &[
    Tool {
        program: "timeout",
        package: "coreutils",
        purpose: "bounding every command",
        required: true,
    },
    Tool {
        program: "setsid",
        package: "util-linux",
        purpose: "starting the store detached",
        required: true,
    },
    Tool {
        program: "ip",
        package: "iproute2",
        purpose: "network faults",
        required: true,
    },
    Tool {
        program: "iptables",
        package: "iptables",
        purpose: "partitions and packet loss",
        required: true,
    },
    Tool {
        program: "faketime",
        package: "faketime",
        purpose: "clock faults",
        required: false,
    },
];

/// Free space below which a test cannot run, and below which it is
/// flagged.
const DISK_ERROR_KIB: u64 = 256 * 1024;
const DISK_WARN_KIB: u64 = 1024 * 1024;

/// Clock offsets beyond this (past the measurement's own uncertainty) are
/// flagged: ringkv's last-write-wins timestamps come from node clocks.
const CLOCK_WARN_S: f64 = 0.1;

const T: Duration = Duration::from_secs(20);

/// Runs `faultline doctor`: prints the table, returns the exit status.
pub fn run(args: &DoctorArgs) -> anyhow::Result<i32> {
    let setup = args.ssh.resolve()?;
    let store = crate::stores::by_name(&args.store)?;
    let store = store.as_ref();
    let mut opts = setup.options.clone();
    // Report privilege as one problem among others, and do not keep trying
    // a node that refuses.
    opts.require_root = false;
    opts.retries = 1;
    opts.sessions_per_node = 1;
    let control = SshControl::new(setup.nodes.clone(), opts);
    let reports: Vec<NodeReport> = std::thread::scope(|s| {
        let handles: Vec<_> = setup
            .nodes
            .iter()
            .map(|n| {
                let control = &control;
                let dir = &setup.remote_dir;
                s.spawn(move || check_node(control, n, dir, store))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("doctor thread panicked"))
            .collect()
    });
    print!("{}", table(&reports));
    let bad = reports.iter().filter(|r| !r.runnable()).count();
    let warned = reports
        .iter()
        .filter(|r| r.findings.iter().any(|f| f.severity == Severity::Warn))
        .count();
    if bad == 0 {
        println!(
            "{} node{}: a test can run{}",
            reports.len(),
            if reports.len() == 1 { "" } else { "s" },
            if warned > 0 {
                format!(" ({warned} with warnings)")
            } else {
                String::new()
            }
        );
        Ok(crate::exit::VALID)
    } else {
        println!(
            "{} node{}, {bad} with errors: a test cannot run until they are fixed",
            reports.len(),
            if reports.len() == 1 { "" } else { "s" },
        );
        Ok(EXIT_PROBLEMS)
    }
}

/// The table: `NODE STATUS CHECK DETAIL`, columns aligned, one finding a
/// line.
pub fn table(reports: &[NodeReport]) -> String {
    let rows: Vec<[String; 4]> = reports
        .iter()
        .flat_map(|r| {
            r.findings.iter().map(|f| {
                [
                    r.node.label(),
                    f.severity.word().to_string(),
                    f.check.to_string(),
                    f.detail.clone(),
                ]
            })
        })
        .collect();
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(4).max(4);
    let w2 = rows.iter().map(|r| r[2].len()).max().unwrap_or(5).max(5);
    let mut out = format!(
        "{:<w0$}  {:<6}  {:<w2$}  DETAIL\n",
        "NODE", "STATUS", "CHECK"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<w0$}  {:<6}  {:<w2$}  {}\n",
            r[0], r[1], r[2], r[3]
        ));
    }
    out
}

/// A control error's message without the node label it starts with (the
/// table has a column for it).
fn detail(e: &ControlError, node: &SshNode) -> String {
    let m = e.to_string();
    let label = node.label();
    m.strip_prefix(&format!("{label}: "))
        .or_else(|| m.strip_prefix(&format!("on {label}: ")))
        .unwrap_or(&m)
        .to_string()
}

fn sh(script: &str, args: &[&str]) -> Vec<String> {
    let mut v = vec!["sh".to_string(), "-c".into(), script.into(), "sh".into()];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

/// Runs every check on one node.
pub fn check_node(
    control: &SshControl,
    node: &SshNode,
    remote_dir: &Path,
    store: &dyn crate::stores::Store,
) -> NodeReport {
    let mut findings = Vec::new();
    let mut facts = Vec::new();
    fn add(findings: &mut Vec<Finding>, severity: Severity, check: &'static str, detail: String) {
        findings.push(Finding {
            severity,
            check,
            detail,
        })
    }
    let name = node.name.as_str();
    let user = control.options().username.clone();
    match control.privilege(name) {
        Err(e) => {
            add(&mut findings, Severity::Error, "ssh", detail(&e, node));
            return NodeReport {
                node: node.clone(),
                findings,
            };
        }
        Ok(Privilege::Root) => facts.push("root".to_string()),
        Ok(Privilege::Sudo) => facts.push(format!("{user} with passwordless sudo")),
        Ok(Privilege::Unprivileged) => {
            let e = ControlError::NotRoot {
                node: node.label(),
                user: user.clone(),
            };
            add(&mut findings, Severity::Error, "root", detail(&e, node));
        }
    }
    let privileged = !findings.iter().any(|f| f.check == "root");

    // Tools.
    let script = "PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\"\n\
                  for p in \"$@\"; do command -v \"$p\" >/dev/null 2>&1 || echo \"missing $p\"; done\n\
                  for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 \
                  /usr/local/lib/faketime/libfaketime.so.1; do [ -f \"$f\" ] && echo \"lib $f\"; done\n\
                  command -v apt-get >/dev/null 2>&1 && echo apt\n\
                  exit 0";
    // faultline's own tools, then the store's packages (ringkv's binary is
    // uploaded; other stores come from packages).
    let store_tools: Vec<Tool> = store
        .requirements()
        .into_iter()
        .map(|r| Tool {
            program: r.program,
            package: r.package,
            purpose: r.purpose,
            required: true,
        })
        .collect();
    let tools: Vec<&Tool> = TOOLS.iter().chain(&store_tools).collect();
    let programs: Vec<&str> = tools.iter().map(|t| t.program).collect();
    match control.exec_idempotent(name, &sh(script, &programs), T) {
        Err(e) => add(&mut findings, Severity::Error, "tools", detail(&e, node)),
        Ok(out) => {
            let lines: Vec<&str> = out.stdout.lines().collect();
            let apt = lines.contains(&"apt");
            let has_lib = lines.iter().any(|l| l.starts_with("lib "));
            let mut missing: Vec<&Tool> = tools
                .iter()
                .copied()
                .filter(|t| lines.contains(&format!("missing {}", t.program).as_str()))
                .collect();
            if !has_lib && !missing.iter().any(|t| t.program == "faketime") {
                missing.push(&TOOLS[4]);
            }
            for t in &missing {
                let what = format!("{} is missing (for {})", t.program, t.purpose);
                if apt && privileged {
                    add(
                        &mut findings,
                        Severity::Warn,
                        "tools",
                        format!(
                            "{what}: installable, install it now with `apt-get install -y {}`",
                            t.package
                        ),
                    );
                } else {
                    let sev = if t.required {
                        Severity::Error
                    } else {
                        Severity::Warn
                    };
                    add(
                        &mut findings,
                        sev,
                        "tools",
                        format!(
                            "{what}: install the {} package with the node's package manager{}",
                            t.package,
                            if t.required {
                                ""
                            } else {
                                " (without it, no clock faults)"
                            }
                        ),
                    );
                }
            }
            if missing.is_empty() {
                facts.push(format!("{} present", programs.join(", ")));
            }
        }
    }

    // What the faults below the store need: FUSE (`power`, slow disks) and
    // a cgroup cpu controller (`slow`). Said as facts: a test without those
    // faults needs neither.
    let script = "[ -c /dev/fuse ] && echo fuse\n\
                  [ -f /sys/fs/cgroup/cgroup.controllers ] && echo cgroup\n\
                  [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] && echo cgroup\n\
                  exit 0";
    if let Ok(out) = control.exec_idempotent(name, &sh(script, &[]), T) {
        let has = |w: &str| out.stdout.lines().any(|l| l == w);
        facts.push(if has("fuse") {
            "/dev/fuse (power faults)".to_string()
        } else {
            "no /dev/fuse: no power or slow faults (load the fuse module: modprobe fuse)"
                .to_string()
        });
        facts.push(if has("cgroup") {
            "cgroup cpu controller (slow faults)".to_string()
        } else {
            "no cgroup cpu controller under /sys/fs/cgroup: no slow faults".to_string()
        });
    }

    // Disk.
    let script = "d=$1\nwhile [ ! -d \"$d\" ]; do d=$(dirname \"$d\"); done\n\
                  echo \"$d\"\ndf -Pk -- \"$d\" | tail -n 1";
    let dir = remote_dir.display().to_string();
    match control.exec_idempotent(name, &sh(script, &[&dir]), T) {
        Err(e) => add(&mut findings, Severity::Error, "disk", detail(&e, node)),
        Ok(out) => match parse_df(&out.stdout) {
            None => add(
                &mut findings,
                Severity::Warn,
                "disk",
                format!(
                    "could not read free space from `df -Pk`: {:?}",
                    out.stdout.trim()
                ),
            ),
            Some((existing, kib)) => {
                let free = format!("{:.1} GiB free in {dir}", kib as f64 / (1024.0 * 1024.0));
                let on = if existing == dir {
                    String::new()
                } else {
                    format!(" (to be created in {existing})")
                };
                if kib < DISK_ERROR_KIB {
                    add(
                        &mut findings,
                        Severity::Error,
                        "disk",
                        format!(
                            "only {free}{on}: free at least 1 GiB, or pass another --remote-dir"
                        ),
                    );
                } else if kib < DISK_WARN_KIB {
                    add(
                        &mut findings,
                        Severity::Warn,
                        "disk",
                        format!("only {free}{on}: a long test may fill it; free at least 1 GiB"),
                    );
                } else {
                    facts.push(format!("{free}{on}"));
                }
            }
        },
    }

    // The store's ports.
    match control.exec_idempotent(
        name,
        &sh("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; exit 0", &[]),
        T,
    ) {
        Err(e) => add(&mut findings, Severity::Error, "port", detail(&e, node)),
        Ok(out) => {
            let listening = listening_ports(&out.stdout);
            for port in store.ports() {
                if listening.contains(&port) {
                    add(
                        &mut findings,
                        Severity::Error,
                        "port",
                        format!(
                            "port {port} is taken ({} listens there): stop what listens on it \
                             (find it with `ss -ltnp 'sport = :{port}'`)",
                            store.name()
                        ),
                    );
                } else {
                    facts.push(format!("port {port} free"));
                }
            }
        }
    }

    // Wall clock.
    let before = SystemTime::now();
    let started = Instant::now();
    let out = control.exec_idempotent(name, &["date".to_string(), "+%s.%N".into()], T);
    let rtt = started.elapsed().as_secs_f64();
    match out {
        Err(e) => add(&mut findings, Severity::Warn, "clock", detail(&e, node)),
        Ok(out) => match out.stdout.trim().parse::<f64>() {
            Err(_) => add(
                &mut findings,
                Severity::Warn,
                "clock",
                format!(
                    "could not read the node's clock (`date +%s.%N` printed {:?})",
                    out.stdout.trim()
                ),
            ),
            Ok(theirs) => {
                let ours = before
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64()
                    + rtt / 2.0;
                let offset = theirs - ours;
                let shown = format!("clock {offset:+.3} s (±{:.3} s)", rtt / 2.0);
                if offset.abs() - rtt / 2.0 > CLOCK_WARN_S {
                    add(
&mut findings,
                        Severity::Warn,
                        "clock",
                        format!(
                            "{shown} off the controller's: last-write-wins results assume \
                             synchronised clocks; run NTP on the node (e.g. `apt-get install -y chrony`)"
                        ),
                    );
                } else {
                    facts.push(shown);
                }
            }
        },
    }
    if findings.iter().all(|f| f.severity != Severity::Error) {
        findings.push(Finding {
            severity: Severity::Ok,
            check: "all",
            detail: facts.join("; "),
        });
    }
    NodeReport {
        node: node.clone(),
        findings,
    }
}

/// Parses the two lines of the disk script: the existing directory, then
/// `df -Pk`'s data line (available KiB is the fourth field).
fn parse_df(out: &str) -> Option<(String, u64)> {
    let mut lines = out.lines();
    let dir = lines.next()?.to_string();
    let fields: Vec<&str> = lines.next()?.split_whitespace().collect();
    Some((dir, fields.get(3)?.parse().ok()?))
}

/// Local ports in the LISTEN state (`0A`) in `/proc/net/tcp{,6}` text.
pub fn listening_ports(proc_net_tcp: &str) -> BTreeSet<u16> {
    proc_net_tcp
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.get(3) != Some(&"0A") {
                return None;
            }
            let port = f.get(1)?.rsplit_once(':')?.1;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_ports_come_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0B00120A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
   1: 0B00120A:0016 0100120A:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n\
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n";
        let p = listening_ports(text);
        assert_eq!(p.into_iter().collect::<Vec<_>>(), vec![22, 8080]);
    }

    #[test]
    fn df_output_is_parsed() {
        let out = "/var/lib\n/dev/sda1 102400 2048 98304 3% /\n";
        assert_eq!(parse_df(out), Some(("/var/lib".into(), 98304)));
        assert_eq!(parse_df("/x\n"), None);
    }

    #[test]
    fn the_table_has_one_line_per_finding() {
        let r = vec![
            NodeReport {
                node: SshNode::new("n1", "198.18.5.11", 22),
                findings: vec![Finding {
                    severity: Severity::Ok,
                    check: "all",
                    detail: "root; port 8080 free".into(),
                }],
            },
            NodeReport {
                node: SshNode::new("n2", "198.18.5.12", 22),
                findings: vec![Finding {
                    severity: Severity::Error,
                    check: "ssh",
                    detail: "unreachable: refused; check sshd".into(),
                }],
            },
        ];
        let t = table(&r);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[0].starts_with("NODE"));
        assert!(
            lines[1].starts_with("n1 (198.18.5.11:22)  ok      all    root"),
            "{t}"
        );
        assert!(
            lines[2].starts_with("n2 (198.18.5.12:22)  error   ssh    unreachable"),
            "{t}"
        );
        assert!(r[0].runnable() && !r[1].runnable());
    }
}
