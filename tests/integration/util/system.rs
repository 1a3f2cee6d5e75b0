//! This machine as the tests see it: root, `/proc`, network namespaces,
//! children that must not outlive a failed test.

use std::process::Command;

/// The tests build network namespaces and iptables rules: they fail,
/// rather than skip, without root, so a green run means the faults were
/// real.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the end-to-end tests build network namespaces and iptables rules: run them as root"
    );
}

/// A process's state letter from `/proc/<pid>/stat` (`R`, `S`, `T`, `Z`,
/// ...), or `None` once it is gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Network namespaces whose names start with `prefix` (`fl<slot>-` for
/// one cluster slot).
pub fn namespaces_of(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// A child process, killed and reaped when dropped: a test that fails
/// before stopping it leaves nothing running.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
