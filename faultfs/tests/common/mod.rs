//! A faultfs daemon under test: mounts on temp dirs, power-fails, shuts down, cleans up.
//!
//! These tests really mount, so they need root and `/dev/fuse`; without them they fail
//! with a message saying so rather than skip. Every wait is bounded, and the guard's `Drop`
//! kills the daemon and lazily unmounts even when a test panics.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the daemon may take to print its "mounted" line (a bound on hangs, not a
/// performance expectation).
const MOUNT_WAIT: Duration = Duration::from_secs(10);
/// How long a clean shutdown may take before the test calls it hung.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// A faultfs mount over a backing directory, both in a fresh temp dir.
pub struct Mounted {
    dir: tempfile::TempDir,
    pub backing: PathBuf,
    pub mount: PathBuf,
    pub log: PathBuf,
    pub delay_file: PathBuf,
    extra_args: Vec<String>,
    child: Option<Child>,
}

fn require_root_and_fuse() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "faultfs integration tests mount a file system and must run as root (euid is {euid})"
    );
    assert!(
        Path::new("/dev/fuse").exists(),
        "faultfs integration tests need /dev/fuse (load the fuse module or pass the device in)"
    );
}

impl Mounted {
    /// Mounts a fresh faultfs with default options.
    pub fn start() -> Mounted {
        Mounted::start_with(&[])
    }

    /// Mounts a fresh faultfs with extra command-line arguments.
    pub fn start_with(extra: &[&str]) -> Mounted {
        require_root_and_fuse();
        let dir = tempfile::tempdir().expect("temp dir");
        let backing = dir.path().join("backing");
        let mount = dir.path().join("mount");
        fs::create_dir(&backing).unwrap();
        fs::create_dir(&mount).unwrap();
        let mut m = Mounted {
            log: dir.path().join("faultfs.log"),
            delay_file: dir.path().join("delay"),
            backing,
            mount,
            dir,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_faultfs"))
            .arg("--backing")
            .arg(&self.backing)
            .arg("--mount")
            .arg(&self.mount)
            .arg("--delay-file")
            .arg(&self.delay_file)
            .args(&self.extra_args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn faultfs");
        let stdout = child.stdout.take().unwrap();
        self.child = Some(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(MOUNT_WAIT) {
            Ok(line) if line.starts_with("faultfs: mounted ") => {}
            Ok(line) => panic!(
                "faultfs did not mount: stdout {line:?}; log:\n{}",
                self.log_text()
            ),
            Err(_) => panic!(
                "faultfs printed no mounted line within {MOUNT_WAIT:?}; log:\n{}",
                self.log_text()
            ),
        }
    }

    /// The daemon's stderr so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A path under the mount.
    pub fn m(&self, name: &str) -> PathBuf {
        self.mount.join(name)
    }

    /// A path under the backing directory.
    pub fn b(&self, name: &str) -> PathBuf {
        self.backing.join(name)
    }

    /// A power failure: `kill -9` the daemon, reap it, `umount -l` the dead mount, and
    /// mount again on the same backing directory.
    pub fn power_fail(&mut self) {
        self.kill();
        self.spawn();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mount)
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Sends SIGTERM and waits (bounded) for the daemon to exit.
    pub fn stop_clean(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill with a live child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "faultfs did not exit within {STOP_WAIT:?} of SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the mount directory is a mount point right now.
    pub fn is_mounted(&self) -> bool {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
        let needle = format!(" {} ", self.mount.display());
        mounts.lines().any(|l| l.contains(&needle))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- faultfs log ({}) ---\n{}",
                self.dir.path().display(),
                self.log_text()
            );
        }
        self.kill();
        // In case a clean stop left the mount behind.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount)
            .stderr(Stdio::null())
            .status();
    }
}

/// Writes `data` to a new file at `path`, fsyncing it if `fsync`.
pub fn write_file(path: &Path, data: &[u8], fsync: bool) {
    use std::io::Write;
    let mut f = File::create(path).unwrap();
    f.write_all(data).unwrap();
    if fsync {
        f.sync_all().unwrap();
    }
}

/// A deterministic byte pattern.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 12) as u8))
        .collect()
}
