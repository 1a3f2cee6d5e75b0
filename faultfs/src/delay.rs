//! The slow-disk knob: a file holding a number of milliseconds that every write and every
//! fsync waits before it runs.
//!
//! A test harness turns a disk slow, and heals it, by writing one integer into the delay file
//! (`echo 200 > delay`, `echo 0 > delay`); the daemon never needs a restart. The file is
//! re-read when its modification time (or existence) changes, looked at no more often than
//! every 100 ms so that a busy store does not pay a `stat` per write; a file modified in the
//! last second is re-read at every check, since coarse timestamps can hide a second change. A missing file, or one
//! that does not hold a whole number, means no delay.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// How often the delay file's modification time is checked at most.
const CHECK_EVERY: Duration = Duration::from_millis(100);
/// A delay file modified more recently than this is re-read at every check.
const RECENT: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Seen {
    checked_at: Option<Instant>,
    mtime: Option<SystemTime>,
    delay: Duration,
}

/// The current delay, read from an optional delay file.
#[derive(Debug)]
pub struct Delay {
    path: Option<PathBuf>,
    seen: Mutex<Seen>,
}

impl Delay {
    /// A delay read from `path`; `None` means never delay.
    pub fn new(path: Option<PathBuf>) -> Self {
        Delay {
            path,
            seen: Mutex::new(Seen {
                checked_at: None,
                mtime: None,
                delay: Duration::ZERO,
            }),
        }
    }

    /// The delay in force now.
    pub fn current(&self) -> Duration {
        let Some(path) = &self.path else {
            return Duration::ZERO;
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if seen
            .checked_at
            .is_some_and(|t| now.duration_since(t) < CHECK_EVERY)
        {
            return seen.delay;
        }
        seen.checked_at = Some(now);
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        // A file modified within the last second is read again even if its mtime did not
        // change: timestamps are coarse, and a truncate-then-write (or two quick writes)
        // can share one, which would otherwise leave a half-written value in force.
        let recent = mtime.is_some_and(|m| {
            SystemTime::now()
                .duration_since(m)
                .map_or(true, |age| age < RECENT)
        });
        if mtime != seen.mtime || recent {
            seen.mtime = mtime;
            let ms = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let delay = Duration::from_millis(ms);
            if delay != seen.delay {
                tracing::info!(ms, "delay file changed: writes and fsyncs now wait {ms} ms");
            }
            seen.delay = delay;
        }
        seen.delay
    }

    /// Sleeps for the current delay (called before each write and fsync, outside any lock).
    pub fn wait(&self) {
        let d = self.current();
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_garbage_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("delay");
        let d = Delay::new(Some(path.clone()));
        assert_eq!(d.current(), Duration::ZERO, "missing file means no delay");
        std::fs::write(&path, "25\n").unwrap();
        std::thread::sleep(CHECK_EVERY + Duration::from_millis(20));
        assert_eq!(d.current(), Duration::from_millis(25));
        std::fs::write(&path, "soon").unwrap();
        // Make sure the mtime differs even on coarse-grained file systems.
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        std::thread::sleep(CHECK_EVERY + Duration::from_millis(20));
        assert_eq!(d.current(), Duration::ZERO, "unparsable means no delay");
        assert_eq!(Delay::new(None).current(), Duration::ZERO);
    }

    #[test]
    fn a_second_change_within_one_timestamp_is_still_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("delay");
        let stamp = SystemTime::now();
        let set = |text: &str| {
            std::fs::write(&path, text).unwrap();
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(stamp).unwrap();
        };
        let d = Delay::new(Some(path.clone()));
        set("");
        assert_eq!(
            d.current(),
            Duration::ZERO,
            "caught between truncate and write"
        );
        set("40");
        std::thread::sleep(CHECK_EVERY + Duration::from_millis(20));
        assert_eq!(d.current(), Duration::from_millis(40));
    }
}
