//! The controller's log: to standard error, and into each run's folder.
//!
//! faultline logs with `tracing`. [`init`] installs one subscriber with two
//! destinations:
//!
//! - standard error, filtered by `FAULTLINE_LOG` (an `EnvFilter`, default
//!   `warn`): what a user sees;
//! - the current run's `faultline.log`, at `info` and above (or what
//!   `FAULTLINE_RUN_LOG` says), as text or as one JSON object a line
//!   (`--log-json`), set with [`RunLog::open`] once the run's folder exists
//!   and closed when the [`RunLog`] is dropped. Phase changes, faults, the
//!   watchdog and errors land there, beside the history they explain.
//!
//! One file at a time: a controller runs one test at a time in-process
//! (a matrix runs its rows as child processes).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The open run log, if any, and whether it takes JSON.
type Slot = Mutex<Option<(Arc<File>, bool)>>;

static RUN_FILE: Slot = Mutex::new(None);

/// Installs the global subscriber (once; later calls do nothing).
pub fn init() {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::try_from_env("FAULTLINE_LOG").unwrap_or_else(|_| "warn".into()));
    let filter = || EnvFilter::try_from_env("FAULTLINE_RUN_LOG").unwrap_or_else(|_| "info".into());
    let text = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(RunFile { json: false })
        .with_filter(filter());
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(RunFile { json: true })
        .with_filter(filter());
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(text)
        .with(json)
        .try_init();
}

/// The run's `faultline.log` while it is open; closed on drop.
pub struct RunLog(());

impl RunLog {
    /// Sends the log to `path` (created or truncated) from now on, as JSON
    /// lines when `json`.
    pub fn open(path: &Path, json: bool) -> std::io::Result<RunLog> {
        let file = File::create(path)?;
        *RUN_FILE.lock().unwrap() = Some((Arc::new(file), json));
        Ok(RunLog(()))
    }
}

impl Drop for RunLog {
    fn drop(&mut self) {
        if let Some((f, _)) = RUN_FILE.lock().unwrap().take() {
            let _ = f.sync_all();
        }
    }
}

/// A `MakeWriter` for the run's file in one of the two formats.
struct RunFile {
    json: bool,
}

/// Writes to the run's file, or nowhere when no run log of this format is
/// open.
struct RunWriter(Option<Arc<File>>);

impl<'a> MakeWriter<'a> for RunFile {
    type Writer = RunWriter;

    fn make_writer(&'a self) -> RunWriter {
        let slot = RUN_FILE.lock().unwrap();
        RunWriter(match &*slot {
            Some((f, json)) if *json == self.json => Some(f.clone()),
            _ => None,
        })
    }
}

impl Write for RunWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &self.0 {
            Some(f) => (&**f).write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &self.0 {
            Some(f) => (&**f).flush(),
            None => Ok(()),
        }
    }
}
