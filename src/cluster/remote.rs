//! Tests on machines reached over SSH (`faultline test --nodes HOSTS`):
//! Jepsen's OS and DB layers for real nodes.
//!
//! - **Preflight** ([`prepare`]): connect to every node (host key, login,
//!   root or passwordless sudo, all checked by [`SshControl::connect`]),
//!   resolve each node's address (what partition rules name and where
//!   ringkv listens: one node per host, as ringkv's port is fixed), find or
//!   install the tools the faults need (iptables; libfaketime for clock
//!   faults, installed with apt-get when missing and the node has it), and
//!   upload the ringkv binary into `<remote dir>/<node>/ringkv`, skipped
//!   when a file of the same size and mtime is already there.
//! - **Teardown** ([`teardown`]): fetch each node's log into the run's
//!   `<node>/` folder, then delete `<remote dir>/<node>` (unless
//!   `--leave-db-running`).
//! - **Heal** ([`heal_nodes`], called by [`crate::run::heal`]): `faultline heal --nodes HOSTS` after a dead
//!   controller removes faultline's iptables chains, zeroes clock offsets
//!   and (unless `--leave-db-running`) kills ringkv by its pid file and
//!   deletes its directory, on every node.

use crate::cluster::control::os;
use crate::cluster::control::ssh::SshControl;
use crate::cluster::control::{run_plan, Control, ControlError};
use crate::cluster::nodes::RemoteNodes;
use anyhow::{bail, Context, Result};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where libfaketime may be on a node (as [`crate::cluster::control::os::find_libfaketime`]
/// looks locally).
const FAKETIME_CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
];

const T: Duration = Duration::from_secs(60);

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// The SSH nodes, connected and provisioned.
pub struct Prepared {
    /// The control over every node.
    pub control: SshControl,
    /// Each node's name and the address ringkv listens on and partition
    /// rules name.
    pub addrs: Vec<(String, IpAddr)>,
    /// Each node's directory (the ringkv binary is `ringkv` in it, see
    /// [`node_binary`]).
    pub dirs: Vec<PathBuf>,
    /// libfaketime's path on the nodes, when clock faults are on.
    pub faketime: Option<PathBuf>,
}

/// A node's directory.
pub fn node_dir(remote: &RemoteNodes, node: &str) -> PathBuf {
    remote.remote_dir.join(node)
}

/// The faultfs program's path on a node (uploaded when the run has disk
/// faults).
pub fn node_faultfs(dir: &Path) -> PathBuf {
    dir.join("faultfs")
}

/// The ringkv binary's path on a node.
pub fn node_binary(dir: &Path) -> PathBuf {
    dir.join("ringkv")
}

/// Resolves a host to one address (the first IPv4 one, else the first).
fn resolve(host: &str) -> Result<IpAddr> {
    let addrs: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .with_context(|| format!("{host} resolves to no address"))
}

/// Runs `f` on every node in parallel; returns the results in node order.
fn each<T: Send>(names: &[String], f: impl Fn(usize, &str) -> Result<T> + Sync) -> Vec<Result<T>> {
    std::thread::scope(|s| {
        let hs: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let f = &f;
                s.spawn(move || f(i, n))
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("node thread panicked"))
            .collect()
    })
}

fn first_err<T>(rs: Vec<Result<T>>) -> Result<Vec<T>> {
    rs.into_iter().collect()
}

/// Whether `program` is on the node's PATH.
fn has(control: &SshControl, node: &str, program: &str) -> bool {
    control
        .exec_idempotent(
            node,
            &argv(&["sh", "-c", "command -v \"$1\"", "sh", program]),
            T,
        )
        .is_ok()
}

/// Installs Debian packages with apt-get (when the node has it), one install
/// at a time: under `flock` on [`os::INSTALL_LOCK`] when the node has `flock`
/// (two faultline controllers sharing nodes), and waiting for dpkg's lock
/// ([`os::apt_lock_options`]) when unattended-upgrades or another apt holds it.
fn apt_install(control: &SshControl, node: &str, packages: &[&str]) -> Result<()> {
    if !has(control, node, "apt-get") {
        bail!(
            "{node}: {} missing and no apt-get to install it with: install it on the node",
            packages.join(", ")
        );
    }
    eprintln!("faultline: {node}: installing {}", packages.join(" "));
    let flock = has(control, node, "flock");
    let apt = |args: &[&str]| -> Vec<String> {
        let mut cmd = Vec::new();
        if flock {
            cmd.extend(argv(&["flock", "-w", "900", os::INSTALL_LOCK]));
        }
        cmd.extend(argv(&["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]));
        cmd.extend(os::apt_lock_options());
        cmd.extend(args.iter().map(|s| s.to_string()));
        cmd
    };
    let mut install = vec!["install", "-y", "-q"];
    install.extend(packages);
    let wait = Duration::from_secs(u64::from(os::DPKG_LOCK_WAIT_S) + 300);
    if control.exec(node, &apt(&install), wait).is_err() {
        control
            .exec(node, &apt(&["update", "-q"]), wait)
            .with_context(|| format!("{node}: apt-get update"))?;
        control
            .exec(node, &apt(&install), wait)
            .with_context(|| format!("{node}: apt-get install {}", packages.join(" ")))?;
    }
    Ok(())
}

/// libfaketime's path on the node, if there.
fn find_faketime(control: &SshControl, node: &str) -> Option<PathBuf> {
    let mut cmd = argv(&[
        "sh",
        "-c",
        "for f in \"$@\"; do [ -f \"$f\" ] && { echo \"$f\"; exit 0; }; done; exit 1",
        "sh",
    ]);
    cmd.extend(FAKETIME_CANDIDATES.iter().map(|s| s.to_string()));
    control
        .exec_idempotent(node, &cmd, T)
        .ok()
        .map(|o| PathBuf::from(o.stdout.trim()))
}

/// Connects to the nodes and provisions them: tools, directories, the
/// store's packages (`packages`, installed with apt-get when missing) and
/// the ringkv binary `bin` (for ringkv; other stores come from packages),
/// and `faultfs` (when the test has disk faults, see [`node_faultfs`]).
/// `clock` and `network`: whether clock and iptables faults are in the
/// test.
pub fn prepare(
    remote: &RemoteNodes,
    bin: Option<&Path>,
    faultfs: Option<&Path>,
    packages: &[crate::cluster::control::os::Requirement],
    clock: bool,
    network: bool,
) -> Result<Prepared> {
    let nodes = remote.nodes();
    let mut addrs = Vec::new();
    for n in &nodes {
        let ip = resolve(&n.host)?;
        if let Some((other, _)) = addrs.iter().find(|(_, a)| *a == ip) {
            bail!(
                "{} and {other} are both {ip}: faultline runs one store node per host (it listens on the host's address, and partitions are drawn between addresses)",
                n.name
            );
        }
        addrs.push((n.name.clone(), ip));
    }
    eprintln!(
        "faultline: connecting to {} nodes over SSH as {}",
        nodes.len(),
        remote.username
    );
    let control = SshControl::connect(nodes, remote.options())?;
    let names: Vec<String> = addrs.iter().map(|(n, _)| n.clone()).collect();
    let dirs: Vec<PathBuf> = names.iter().map(|n| node_dir(remote, n)).collect();
    // The binary's size and mtime: a node holding the same is not sent it
    // again.
    let stamp = bin.map(stamp_of).transpose()?;
    let faultfs_stamp = faultfs.map(stamp_of).transpose()?;
    let faketimes = first_err(each(&names, |i, node| {
        for tool in ["timeout", "setsid"] {
            if !has(&control, node, tool) {
                bail!("{node}: `{tool}` (coreutils / util-linux) is missing");
            }
        }
        if network && !has(&control, node, "iptables") {
            apt_install(&control, node, &["iptables"])?;
        }
        let missing: Vec<&str> = packages
            .iter()
            .filter(|r| !has(&control, node, r.program))
            .map(|r| r.package)
            .collect();
        if !missing.is_empty() {
            apt_install(&control, node, &missing)?;
        }
        let faketime = if clock {
            match find_faketime(&control, node) {
                Some(p) => Some(p),
                None => {
                    apt_install(&control, node, &["faketime"])?;
                    Some(find_faketime(&control, node).with_context(|| {
                        format!("{node}: libfaketime not found after installing faketime")
                    })?)
                }
            }
        } else {
            None
        };
        let dir = &dirs[i];
        control.exec_idempotent(
            node,
            &argv(&["mkdir", "-p", "--", &dir.display().to_string()]),
            T,
        )?;
        if let Some((bin, size, mtime)) = stamp {
            upload_binary(&control, node, bin, &node_binary(dir), (size, mtime))?;
        }
        if let Some((bin, size, mtime)) = faultfs_stamp {
            upload_binary(&control, node, bin, &node_faultfs(dir), (size, mtime))?;
        }
        Ok(faketime)
    }))?;
    // One path for every node: the first node's (nodes of one test run
    // the same OS, as Jepsen assumes).
    let faketime = faketimes.into_iter().next().flatten();
    Ok(Prepared {
        control,
        addrs,
        dirs,
        faketime,
    })
}

/// `bin` with its size and mtime: a node holding the same is not sent it
/// again.
fn stamp_of(bin: &Path) -> Result<(&Path, u64, u64)> {
    let meta = std::fs::metadata(bin).with_context(|| format!("reading {}", bin.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok((bin, meta.len(), mtime))
}

/// Uploads `bin` to `target` on `node` unless a file of the same size and
/// mtime is there already, and makes it executable.
fn upload_binary(
    control: &SshControl,
    node: &str,
    bin: &Path,
    target: &Path,
    (size, mtime): (u64, u64),
) -> Result<()> {
    let there = control
        .exec_idempotent(
            node,
            &argv(&[
                "sh",
                "-c",
                "stat -c '%s %Y' -- \"$1\" 2>/dev/null || true",
                "sh",
                &target.display().to_string(),
            ]),
            T,
        )
        .map(|o| o.stdout.trim().to_string())
        .unwrap_or_default();
    if there != format!("{size} {mtime}") {
        control.upload(node, bin, target)?;
        control.exec(
            node,
            &argv(&[
                "touch",
                "-d",
                &format!("@{mtime}"),
                "--",
                &target.display().to_string(),
            ]),
            T,
        )?;
    }
    control.exec(
        node,
        &argv(&["chmod", "0755", "--", &target.display().to_string()]),
        T,
    )?;
    Ok(())
}

/// After a run: fetch every node's log into `local_dir(node)`, then delete
/// the node's directory unless `--leave-db-running`. Errors are collected:
/// every node is tried.
pub fn teardown(
    control: &SshControl,
    remote: &RemoteNodes,
    local_dir: &(dyn Fn(&str) -> Result<PathBuf> + Sync),
) -> Result<()> {
    let names: Vec<String> = control.nodes().into_iter().map(|n| n.name).collect();
    // The chains are gone already after a clean run; after an error they
    // may still be there (flushed by the heal).
    if let Err(e) = run_plan(control, &nemeses::iptables::teardown(&placeholders(&names))) {
        eprintln!("faultline: warning: removing faultline's iptables chains: {e}");
    }
    let rs = each(&names, |_, node| {
        let dir = node_dir(remote, node);
        let local = local_dir(node)?;
        std::fs::create_dir_all(&local)?;
        // Every server's log (`<program>.log`), whatever the store.
        let listed = control.exec_idempotent(
            node,
            &argv(&[
                "find",
                &dir.display().to_string(),
                "-maxdepth",
                "1",
                "-type",
                "f",
                "-name",
                "*.log",
            ]),
            T,
        );
        let logs: Vec<PathBuf> = match listed {
            Ok(o) => o.stdout.lines().map(PathBuf::from).collect(),
            Err(e) => {
                eprintln!("faultline: warning: listing {node}'s logs: {e}");
                Vec::new()
            }
        };
        for log in logs {
            let Some(name) = log.file_name() else {
                continue;
            };
            if let Err(e) = control.download(node, &log, &local.join(name)) {
                eprintln!(
                    "faultline: warning: fetching {node}'s {}: {e}",
                    log.display()
                );
            }
        }
        if !remote.leave_db_running {
            // Normally stopped already; not when the run failed half-way
            // through starting the nodes.
            kill_daemons(control, node, &dir)?;
            wipe(control, node, &dir)?;
        }
        Ok(())
    });
    first_err(rs).map(|_| ())
}

/// SIGKILLs every daemon faultline started in the node's directory (each
/// has a `<log>.pid` file beside its log) that still runs; returns how
/// many it killed.
fn kill_daemons(control: &SshControl, node: &str, dir: &Path) -> Result<usize, ControlError> {
    let script = "n=0\n\
                  for f in \"$1\"/*.log.pid; do\n\
                  p=$(cat -- \"$f\" 2>/dev/null) || continue\n\
                  case \"$p\" in ''|*[!0-9]*) continue;; esac\n\
                  kill -s CONT \"$p\" 2>/dev/null; kill -s KILL \"$p\" 2>/dev/null && n=$((n+1))\n\
                  done\n\
                  echo \"killed=$n\"";
    let out = control.exec_idempotent(
        node,
        &argv(&["sh", "-c", script, "sh", &dir.display().to_string()]),
        T,
    )?;
    Ok(out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("killed="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0))
}

/// Deletes a node's directory and, if then empty, the remote dir itself.
fn wipe(control: &SshControl, node: &str, dir: &Path) -> Result<(), ControlError> {
    control.exec_idempotent(
        node,
        &argv(&["rm", "-rf", "--", &dir.display().to_string()]),
        T,
    )?;
    if let Some(parent) = dir.parent() {
        let _ = control.exec_idempotent(
            node,
            &argv(&[
                "sh",
                "-c",
                "rmdir -- \"$1\" 2>/dev/null; true",
                "sh",
                &parent.display().to_string(),
            ]),
            T,
        );
    }
    Ok(())
}

/// Nodes for plans that name no address (removing chains).
fn placeholders(names: &[String]) -> Vec<nemeses::NodeAddr> {
    names
        .iter()
        .map(|n| nemeses::NodeAddr {
            name: n.clone(),
            ip: IpAddr::from([0, 0, 0, 0]),
        })
        .collect()
}

/// Removes faultline's chains, zeroes clock offsets (offset files, and
/// host clocks a `date -s` run moved: each set to this machine's time + its
/// `skew_ms` from before the faults), and (unless `leave_db_running`)
/// kills the store and wipes its files, on every node.
pub fn heal_nodes(
    remote: &RemoteNodes,
    skew_ms: &std::collections::BTreeMap<String, i64>,
) -> Result<i32> {
    let control = SshControl::connect(remote.nodes(), remote.options())?;
    let names: Vec<String> = control.nodes().into_iter().map(|n| n.name).collect();
    let addrs = placeholders(&names);
    let remote = remote.clone();
    let mut code = crate::exit::VALID;
    match run_plan(&control, &nemeses::iptables::teardown(&addrs)) {
        Ok(()) => println!(
            "removed faultline's iptables chains on {}",
            names.join(", ")
        ),
        Err(e) => {
            eprintln!("faultline: error: {e}");
            code = crate::exit::ERROR;
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let back: Vec<(String, i64)> = skew_ms
        .iter()
        .filter(|(n, _)| names.contains(n))
        .map(|(n, skew)| (n.clone(), now + skew))
        .collect();
    if !back.is_empty() {
        match run_plan(&control, &nemeses::clock::date_set(&back)) {
            Ok(()) => skew_ms
                .iter()
                .filter(|(n, _)| names.contains(n))
                .for_each(|(n, skew)| {
                    println!(
                        "{n}: set the host clock back with date -s (this machine's time {skew:+} ms: its skew before the faults, and the command's way there)"
                    )
                }),
            Err(e) => {
                eprintln!("faultline: error: setting host clocks back: {e}");
                code = crate::exit::ERROR;
            }
        }
    }
    let rs = each(&names, |_, node| {
        let dir = node_dir(&remote, node);
        let mut done = Vec::new();
        let clock = dir.join("faketime.rc");
        let exists = control
            .exec_idempotent(
                node,
                &argv(&["test", "-f", &clock.display().to_string()]),
                T,
            )
            .is_ok();
        if exists {
            control.write_file(node, &clock, &nemeses::clock::faketime_offset(0))?;
            done.push(format!("{node}: reset clock offset {}", clock.display()));
        }
        if !remote.leave_db_running {
            match kill_daemons(&control, node, &dir)? {
                0 => {}
                n => done.push(format!("{node}: killed {n} store process(es)")),
            }
            // Dead faultfs mounts first: the directory cannot go with them.
            done.extend(
                crate::cluster::faultfs::heal_node(&control, node, &dir)
                    .into_iter()
                    .map(|l| format!("{node}: {l}")),
            );
            if control
                .exec_idempotent(node, &argv(&["test", "-e", &dir.display().to_string()]), T)
                .is_ok()
            {
                wipe(&control, node, &dir)?;
                done.push(format!("{node}: removed {}", dir.display()));
            }
        }
        Ok(done)
    });
    for r in rs {
        match r {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("faultline: error: {e:#}");
                code = crate::exit::ERROR;
            }
        }
    }
    Ok(code)
}
