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

/// Installs whatever of `reqs` is missing, or explains what to install.
pub fn ensure(reqs: &[Requirement]) -> Result<()> {
    let missing: Vec<&Requirement> = reqs
        .iter()
        .filter(|r| find_program(r.program).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|r| r.package).collect();
    let what = missing
        .iter()
        .map(|r| format!("{} (for {})", r.program, r.purpose))
        .collect::<Vec<_>>()
        .join(", ");
    if !is_root() || find_program("apt-get").is_none() {
        bail!("{}", missing_message(&missing));
    }
    eprintln!(
        "faultline: installing {} (missing: {what})",
        packages.join(" ")
    );
    let apt = |args: &[&str]| -> Result<()> {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .context("running apt-get")?;
        if !out.status.success() {
            bail!(
                "`apt-get {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&packages);
    apt(&args)?;
    if let Some(r) = reqs.iter().find(|r| find_program(r.program).is_none()) {
        bail!(
            "{} is still missing after installing {}; install it by hand",
            r.program,
            r.package
        );
    }
    Ok(())
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
}
