//! The history as it is written: one JSON line per op, appended as it happens.
//!
//! Every op is written with a single `write` of a whole line to an unbuffered
//! file, so the kernel holds it the moment `record` returns: a controller
//! killed with SIGKILL leaves a history that ends with the last op recorded,
//! never with half a line, and `faultline check` can analyse it. Indices and
//! times are assigned under the same lock as the write, so file order, index
//! order and real-time order agree.

use checkers::{Op, OpType, Process};
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::run::status::Status;
use std::time::Instant;

/// Appends ops to `history.jsonl`.
pub struct HistoryLog {
    inner: Mutex<Inner>,
    start: Instant,
    /// The run's live status, told of every op recorded.
    status: Option<Arc<Status>>,
}

struct Inner {
    file: File,
    next_index: u64,
    error: Option<std::io::Error>,
}

/// What to record; index and time are filled in by the log.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Invoke or a completion.
    pub kind: OpType,
    /// Who.
    pub process: Process,
    /// What.
    pub f: String,
    /// Argument or result.
    pub value: Value,
    /// The node involved, if any.
    pub node: Option<String>,
    /// Why it failed or is unknown.
    pub error: Option<String>,
}

impl HistoryLog {
    /// Creates (truncates) the history file; times count from now.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(HistoryLog {
            inner: Mutex::new(Inner {
                file: File::create(path)?,
                next_index: 0,
                error: None,
            }),
            start: Instant::now(),
            status: None,
        })
    }

    /// Tells `status` of every op recorded from now on (its tallies of ops
    /// and faults in force come from the history itself).
    pub fn with_status(mut self, status: Arc<Status>) -> Self {
        self.status = Some(status);
        self
    }

    /// Nanoseconds since the test started (monotonic, immune to clock faults).
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Appends one op and returns it as written. A write error is kept and
    /// reported by [`HistoryLog::finish`]; recording goes on in memory.
    pub fn record(&self, e: Entry) -> Op {
        let mut inner = self.inner.lock().unwrap();
        let op = Op {
            index: Some(inner.next_index),
            kind: e.kind,
            process: e.process,
            f: e.f,
            value: e.value,
            time: self.now_ns(),
            node: e.node,
            error: e.error,
        };
        inner.next_index += 1;
        if let Some(status) = &self.status {
            status.observe(&op);
        }
        let mut line = serde_json::to_vec(&op).expect("ops always serialize");
        line.push(b'\n');
        if let Err(err) = inner.file.write_all(&line) {
            if inner.error.is_none() {
                tracing::error!("writing history: {err}");
                inner.error = Some(err);
            }
        }
        op
    }

    /// How many ops were recorded.
    pub fn len(&self) -> u64 {
        self.inner.lock().unwrap().next_index
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flushes to disk and reports the first write error, if any.
    pub fn finish(&self) -> std::io::Result<()> {
        let mut inner = self.inner.lock().unwrap();
        if let Some(e) = inner.error.take() {
            return Err(e);
        }
        inner.file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_record_is_on_disk_immediately_and_parses_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let log = HistoryLog::create(&path).unwrap();
        let e = |kind, v: i64| Entry {
            kind,
            process: Process::Client(3),
            f: "add".into(),
            value: serde_json::json!(v),
            node: Some("n1".into()),
            error: None,
        };
        log.record(e(OpType::Invoke, 1));
        // Read while the log is still open: nothing is buffered.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        log.record(e(OpType::Ok, 1));
        let h = checkers::parse::jsonl(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(h.ops.len(), 2);
        assert_eq!(h.ops[1].index, Some(1));
        assert!(h.ops[1].time >= h.ops[0].time);
        log.finish().unwrap();
    }
}
