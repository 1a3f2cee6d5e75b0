//! The OS layer: make sure a node has the tools faultline needs.
//!
//! As Jepsen's Debian setup does, a missing tool is installed with the
//! package manager when faultline runs as root on a system with `apt-get`.
//! Otherwise the run stops before it starts, with one line saying what is
//! missing and how to get it: a test that silently cannot inject its faults
//! would report a clean bill of health it never earned.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A program faultline needs, and the Debian package that provides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The program's name.
    pub program: &'static str,
    /// The Debian package that provides it.
    pub package: &'static str,
    /// Why it is needed, for the error message.
    pub purpose: &'static str,
}

/// What a local namespace cluster with partitions needs.
pub const LOCAL_CLUSTER: &[Requirement] = &[
    Requirement {
        program: "ip",
        package: "iproute2",
        purpose: "network namespaces",
    },
    Requirement {
        program: "iptables",
        package: "iptables",
        purpose: "partitions",
    },
];

/// What the clock nemesis needs locally: libfaketime (the `faketime`
/// package ships the `faketime` program and the preload library).
pub const CLOCK_FAULTS: &[Requirement] = &[Requirement {
    program: "faketime",
    package: "faketime",
    purpose: "clock faults",
}];

/// Finds `program` on `PATH` or in the sbin directories root's PATH has.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// True when this process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Stops with a clear message unless this process may build namespaces.
pub fn require_root_for_namespaces() -> Result<()> {
    if !is_root() {
        bail!(
            "the local cluster needs root to create network namespaces and iptables rules \
             (CAP_SYS_ADMIN, CAP_NET_ADMIN): run faultline with sudo"
        );
    }
    Ok(())
}

/// How long an install waits for dpkg's lock when another package manager
/// (unattended-upgrades on a real VM, a second faultline) holds it.
pub const DPKG_LOCK_WAIT_S: u32 = 600;

/// apt-get's options that make it wait for dpkg's lock instead of failing
/// with "Unable to lock directory".
pub fn apt_lock_options() -> [String; 2] {
    [
        "-o".into(),
        format!("DPkg::Lock::Timeout={DPKG_LOCK_WAIT_S}"),
    ]
}

/// The file faultline locks (on this machine and on SSH nodes) around every
/// package install, so that two faultline processes never run apt-get at once.
pub const INSTALL_LOCK: &str = "/run/lock/faultline-install.lock";

/// Installs whatever of `reqs` is missing, or explains what to install.
///
/// Installs happen one at a time: faultline holds [`INSTALL_LOCK`] for the
/// whole install (and checks again under it, since whoever held it before may
/// have installed the same thing), and apt-get waits for dpkg's own lock
/// ([`apt_lock_options`]) rather than failing when something else holds it.
pub fn ensure(reqs: &[Requirement]) -> Result<()> {
    if missing(reqs).is_empty() {
        return Ok(());
    }
    if !is_root() || find_program("apt-get").is_none() {
        bail!("{}", missing_message(&missing(reqs)));
    }
    let _lock = install_lock()?;
    let missing = missing(reqs);
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|r| r.package).collect();
    let what = missing
        .iter()
        .map(|r| format!("{} (for {})", r.program, r.purpose))
        .collect::<Vec<_>>()
        .join(", ");
    tracing::info!("installing {} (missing: {what})", packages.join(" "));
    eprintln!(
        "faultline: installing {} (missing: {what})",
        packages.join(" ")
    );
    apt_get(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&packages);
    apt_get(&args)?;
    if let Some(r) = reqs.iter().find(|r| find_program(r.program).is_none()) {
        bail!(
            "{} is still missing after installing {}; install it by hand",
            r.program,
            r.package
        );
    }
    Ok(())
}

/// The requirements whose program is not found.
fn missing(reqs: &[Requirement]) -> Vec<&Requirement> {
    reqs.iter()
        .filter(|r| find_program(r.program).is_none())
        .collect()
}

/// Takes [`INSTALL_LOCK`], waiting for another faultline's install to end.
fn install_lock() -> Result<std::fs::File> {
    let path = Path::new(INSTALL_LOCK);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the install lock {INSTALL_LOCK}"))?;
    file.lock()
        .with_context(|| format!("locking {INSTALL_LOCK}"))?;
    Ok(file)
}

/// Runs apt-get non-interactively, waiting for dpkg's lock; `update` (whose
/// lists lock the timeout option does not cover on every apt) is retried
/// while another apt holds that lock.
fn apt_get(args: &[&str]) -> Result<()> {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(DPKG_LOCK_WAIT_S.into());
    loop {
        let out = Command::new("apt-get")
            .args(apt_lock_options())
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .context("running apt-get")?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if is_lock_error(&err) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_secs(2));
            continue;
        }
        bail!(
            "`apt-get {}` failed: {}",
            args.join(" "),
            err.lines().last().unwrap_or("")
        );
    }
}

/// Whether apt-get's error says another process holds one of its locks.
pub fn is_lock_error(stderr: &str) -> bool {
    stderr.contains("Unable to lock") || stderr.contains("Could not get lock")
}

/// Whether process `pid` is alive on this machine. A zombie (exited, not yet
/// reaped by its parent: state `Z` in `/proc/PID/stat`) is dead, though
/// `kill(pid, 0)` still succeeds on it.
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and
        // may itself hold spaces and parentheses: read after the last ')'.
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().chars().next()),
            Some(Some('Z' | 'X'))
        ),
        Err(_) => false,
    }
}

/// The one-line error for tools that are missing and cannot be installed
/// here: what is missing, what for, and the command that installs it.
fn missing_message(missing: &[&Requirement]) -> String {
    let packages: Vec<&str> = missing.iter().map(|r| r.package).collect();
    let what = missing
        .iter()
        .map(|r| format!("{} (for {})", r.program, r.purpose))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "missing on this machine: {what}; install with `apt-get install {}` (faultline does this itself when run as root on Debian)",
        packages.join(" ")
    )
}

/// Finds libfaketime's preload library, if installed.
pub fn find_libfaketime() -> Option<PathBuf> {
    let dirs = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib",
        "/usr/local/lib",
    ];
    dirs.iter()
        .map(|d| Path::new(d).join("faketime/libfaketime.so.1"))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_that_exist_and_not_others() {
        assert!(find_program("sh").is_some());
        assert!(find_program("no-such-program-faultline").is_none());
    }

    #[test]
    fn missing_tools_are_named_with_their_purpose_and_package() {
        let a = Requirement {
            program: "iptables",
            package: "iptables",
            purpose: "partitions",
        };
        let b = Requirement {
            program: "faketime",
            package: "faketime",
            purpose: "clock faults",
        };
        let m = missing_message(&[&a, &b]);
        assert_eq!(
            m,
            "missing on this machine: iptables (for partitions), faketime (for clock faults); install with `apt-get install iptables faketime` (faultline does this itself when run as root on Debian)"
        );
        assert!(!m.contains('\n'), "one line");
        // Nothing missing: nothing to do, whoever runs it.
        ensure(&[Requirement {
            program: "sh",
            package: "dash",
            purpose: "shell",
        }])
        .unwrap();
    }

    #[test]
    fn a_zombie_is_dead() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0));
        // A child that exits and is not reaped yet stays a zombie.
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while pid_alive(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "pid {pid} never exited"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        assert!(stat.contains(") Z"), "{stat}");
        assert!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok(),
            "kill(pid, 0) still succeeds on a zombie"
        );
        child.wait().unwrap();
        assert!(!pid_alive(pid));
    }

    #[test]
    fn apt_waits_for_dpkg_and_knows_lock_errors() {
        assert_eq!(apt_lock_options()[1], "DPkg::Lock::Timeout=600");
        assert!(is_lock_error(
            "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 7 (apt-get)"
        ));
        assert!(is_lock_error(
            "E: Unable to lock directory /var/lib/apt/lists/"
        ));
        assert!(!is_lock_error("E: Unable to locate package nosuch"));
    }
}
