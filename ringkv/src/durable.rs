//! Durability: the store's state on disk, in [redb], with an fsync policy.
//!
//! The in-memory maps of [`crate::storage::Store`] stay the working set;
//! every mutation is also sent, in order, to one writer thread that applies
//! batches of them to a redb database in single transactions (group commit:
//! under load, one fsync covers many writes). At start-up the database is
//! read back into memory.
//!
//! The policy decides when a write is acknowledged and what survives a
//! `kill -9`:
//!
//! | policy | a write is acknowledged | lost on `kill -9` |
//! | --- | --- | --- |
//! | `always` | after the batch holding it is committed and fsynced | nothing acknowledged |
//! | `interval` | at once; a durable commit every interval | up to one interval of writes |
//! | `never` | at once; durable only at a clean shutdown | everything since start-up |
//!
//! Why redb: a pure-Rust, single-file, ACID key-value store with
//! per-transaction durability levels, which map one to one onto the policy
//! knob (`Immediate` commits for `always`; non-durable commits plus a
//! periodic durable one for `interval`), with checksummed commit slots that
//! recover to the last durable commit after a crash. An LSM engine (fjall)
//! would add compaction machinery this store does not need.
//!
//! [redb]: https://docs.rs/redb

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableTable, TableDefinition};
use tokio::sync::watch;

/// Register and versioned-register states, as JSON.
const REGISTERS: TableDefinition<&str, &[u8]> = TableDefinition::new("registers");
/// Versioned registers, as JSON.
const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
/// CRDT states, as JSON.
const CRDTS: TableDefinition<&str, &[u8]> = TableDefinition::new("crdts");
/// Paxos acceptor states, as JSON.
const PAXOS: TableDefinition<&str, &[u8]> = TableDefinition::new("paxos");
/// Set elements: one row per (key, element).
const ELEMENTS: TableDefinition<(&str, i64), ()> = TableDefinition::new("elements");

/// When writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every acknowledged write is on disk.
    Always,
    /// A durable commit every this often.
    Interval(Duration),
    /// Only at a clean shutdown.
    Never,
}

impl FsyncPolicy {
    /// Parses `always`, `never` or `interval` (with `interval_ms`).
    pub fn parse(s: &str, interval_ms: u64) -> Option<FsyncPolicy> {
        match s {
            "always" => Some(FsyncPolicy::Always),
            "never" => Some(FsyncPolicy::Never),
            "interval" => Some(FsyncPolicy::Interval(Duration::from_millis(
                interval_ms.max(1),
            ))),
            _ => None,
        }
    }
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// Opening, reading or creating the database failed.
    #[error("data dir {dir}: {message}")]
    Open {
        /// The data directory.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// One change to persist.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// A register's new state (JSON).
    Register(String, Vec<u8>),
    /// A versioned register's new state (JSON).
    Object(String, Vec<u8>),
    /// Elements added to a set.
    Elements(String, Vec<i64>),
    /// A CRDT's new state (JSON).
    Crdt(String, Vec<u8>),
    /// A CRDT dropped (handoff).
    RemoveCrdt(String),
    /// A Paxos acceptor's new state (JSON).
    Paxos(String, Vec<u8>),
    /// A register dropped (handoff).
    RemoveRegister(String),
    /// A versioned register dropped.
    RemoveObject(String),
    /// A set dropped.
    RemoveSet(String),
}

enum Job {
    Write(u64, Mutation),
    Shutdown(std::sync::mpsc::Sender<()>),
}

/// The persisted state read at start-up.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Register states (JSON).
    pub registers: Vec<(String, Vec<u8>)>,
    /// Versioned register states (JSON).
    pub objects: Vec<(String, Vec<u8>)>,
    /// Set elements.
    pub elements: Vec<(String, i64)>,
    /// CRDT states (JSON).
    pub crdts: Vec<(String, Vec<u8>)>,
    /// Paxos acceptor states (JSON).
    pub paxos: Vec<(String, Vec<u8>)>,
}

/// The handle the store sends mutations to.
#[derive(Debug)]
pub struct Persister {
    tx: mpsc::Sender<Job>,
    policy: FsyncPolicy,
    durable: watch::Receiver<u64>,
}

impl Persister {
    /// Opens (or creates) `dir/ringkv.redb`, reads it back, and starts the
    /// writer thread.
    ///
    /// A database that cannot be read back (a flipped bit its checksums
    /// catch, a file cut short: redb reports the one and panics on the
    /// other) is moved aside as `ringkv.redb.damaged-<ms>` and the node
    /// starts empty, as a Dynamo node replaced after a disk failure does:
    /// read repair and anti-entropy refill it from the other replicas. What
    /// only this node held (a hint not yet handed off, a Paxos acceptor's
    /// promises) is lost with it, and the log says so.
    pub fn open(dir: &Path, policy: FsyncPolicy) -> Result<(Persister, Loaded), DurableError> {
        let err = |e: &dyn std::fmt::Display| DurableError::Open {
            dir: dir.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let file = dir.join("ringkv.redb");
        let (db, loaded) = match open_and_load(&file) {
            Ok(opened) => opened,
            Err(Unreadable::Other(why)) => return Err(err(&why)),
            Err(Unreadable::Damaged(why)) => {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let aside = dir.join(format!("ringkv.redb.damaged-{ms}"));
                std::fs::rename(&file, &aside).map_err(|e| err(&e))?;
                tracing::error!(
                    "{} cannot be read ({why}): moved to {}; starting empty, read repair and anti-entropy refill it from the other replicas (what only this node held is lost: hints not handed off, Paxos promises)",
                    file.display(),
                    aside.display()
                );
                open_and_load(&file).map_err(|e| err(&e))?
            }
        };
        let (tx, rx) = mpsc::channel();
        let (durable_tx, durable) = watch::channel(0);
        let db = Arc::new(db);
        std::thread::Builder::new()
            .name("ringkv-writer".into())
            .spawn(move || writer(db, rx, policy, durable_tx))
            .map_err(|e| err(&e))?;
        Ok((
            Persister {
                tx,
                policy,
                durable,
            },
            loaded,
        ))
    }

    /// Queues a mutation; `seq` orders them (callers hold the map lock).
    pub fn submit(&self, seq: u64, m: Mutation) {
        let _ = self.tx.send(Job::Write(seq, m));
    }

    /// Under `always`, waits until every mutation up to `seq` is durable;
    /// otherwise returns at once.
    pub async fn wait(&self, seq: u64) {
        if self.policy != FsyncPolicy::Always {
            return;
        }
        let mut rx = self.durable.clone();
        let _ = rx.wait_for(|d| *d >= seq).await;
    }

    /// Makes everything durable and stops the writer (clean shutdown).
    pub fn close(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Job::Shutdown(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(10));
        }
    }
}

/// Why a database could not be opened.
#[derive(Debug)]
enum Unreadable {
    /// Its contents are damaged: redb says it is corrupted, or panics (it
    /// asserts on a file shorter than its header says).
    Damaged(String),
    /// Anything else (already open, an I/O error): nothing to move aside.
    Other(String),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::Damaged(why) | Unreadable::Other(why) => f.write_str(why),
        }
    }
}

/// Opens (or creates) the database at `file` with every table and reads it
/// back.
fn open_and_load(file: &Path) -> Result<(Database, Loaded), Unreadable> {
    #[allow(clippy::result_large_err)]
    let attempt = || -> Result<(Database, Loaded), redb::Error> {
        let db = Database::create(file)?;
        let txn = db.begin_write()?;
        {
            txn.open_table(REGISTERS)?;
            txn.open_table(OBJECTS)?;
            txn.open_table(ELEMENTS)?;
            txn.open_table(CRDTS)?;
            txn.open_table(PAXOS)?;
        }
        txn.commit()?;
        let loaded = load(&db)?;
        Ok((db, loaded))
    };
    match std::panic::catch_unwind(attempt) {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(e @ redb::Error::Corrupted(_))) => Err(Unreadable::Damaged(e.to_string())),
        Ok(Err(e)) => Err(Unreadable::Other(e.to_string())),
        Err(panic) => Err(Unreadable::Damaged(
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "redb panicked".into()),
        )),
    }
}

// redb's error is large; these run once per start-up or per batch, so the
// size of the error does not matter.
#[allow(clippy::result_large_err)]
fn load(db: &Database) -> Result<Loaded, redb::Error> {
    let txn = db.begin_read()?;
    let mut out = Loaded::default();
    for row in txn.open_table(REGISTERS)?.iter()? {
        let (k, v) = row?;
        out.registers
            .push((k.value().to_string(), v.value().to_vec()));
    }
    for row in txn.open_table(OBJECTS)?.iter()? {
        let (k, v) = row?;
        out.objects
            .push((k.value().to_string(), v.value().to_vec()));
    }
    for row in txn.open_table(CRDTS)?.iter()? {
        let (k, v) = row?;
        out.crdts.push((k.value().to_string(), v.value().to_vec()));
    }
    for row in txn.open_table(PAXOS)?.iter()? {
        let (k, v) = row?;
        out.paxos.push((k.value().to_string(), v.value().to_vec()));
    }
    for row in txn.open_table(ELEMENTS)?.iter()? {
        let (k, _) = row?;
        let (key, e) = k.value();
        out.elements.push((key.to_string(), e));
    }
    Ok(out)
}

/// Most mutations one transaction takes.
const BATCH: usize = 4096;

fn writer(
    db: Arc<Database>,
    rx: mpsc::Receiver<Job>,
    policy: FsyncPolicy,
    durable: watch::Sender<u64>,
) {
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    let mut done_upto = 0u64;
    loop {
        let first = match policy {
            FsyncPolicy::Interval(every) => match rx.recv_timeout(every) {
                Ok(j) => Some(j),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            },
            _ => match rx.recv() {
                Ok(j) => Some(j),
                Err(_) => return,
            },
        };
        let mut batch = Vec::new();
        let mut shutdown = None;
        if let Some(j) = first {
            let mut next = Some(j);
            while let Some(j) = next.take() {
                match j {
                    Job::Write(seq, m) => batch.push((seq, m)),
                    Job::Shutdown(ack) => {
                        shutdown = Some(ack);
                        break;
                    }
                }
                if batch.len() < BATCH {
                    next = rx.try_recv().ok();
                }
            }
        }
        let sync_due = match policy {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(every) => last_sync.elapsed() >= every,
            FsyncPolicy::Never => false,
        } || shutdown.is_some();
        if !batch.is_empty() || (sync_due && unsynced) {
            let durability = if sync_due {
                Durability::Immediate
            } else {
                Durability::None
            };
            match commit(&db, &batch, durability) {
                Ok(()) => {
                    if let Some((seq, _)) = batch.last() {
                        done_upto = done_upto.max(*seq);
                    }
                    if sync_due {
                        last_sync = Instant::now();
                        unsynced = false;
                        let _ = durable.send(done_upto);
                    } else {
                        unsynced = true;
                    }
                }
                Err(e) => tracing::error!("persisting {} mutations failed: {e}", batch.len()),
            }
        }
        if let Some(ack) = shutdown {
            // Closed before the ack: whoever waited may open it again.
            drop(db);
            let _ = ack.send(());
            return;
        }
    }
}

#[allow(clippy::result_large_err)]
fn commit(
    db: &Database,
    batch: &[(u64, Mutation)],
    durability: Durability,
) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(durability);
    {
        let mut registers = txn.open_table(REGISTERS)?;
        let mut objects = txn.open_table(OBJECTS)?;
        let mut elements = txn.open_table(ELEMENTS)?;
        let mut crdts = txn.open_table(CRDTS)?;
        let mut paxos = txn.open_table(PAXOS)?;
        for (_, m) in batch {
            match m {
                Mutation::Register(k, v) => {
                    registers.insert(k.as_str(), v.as_slice())?;
                }
                Mutation::Object(k, v) => {
                    objects.insert(k.as_str(), v.as_slice())?;
                }
                Mutation::Elements(k, es) => {
                    for e in es {
                        elements.insert((k.as_str(), *e), ())?;
                    }
                }
                Mutation::Crdt(k, v) => {
                    crdts.insert(k.as_str(), v.as_slice())?;
                }
                Mutation::RemoveCrdt(k) => {
                    crdts.remove(k.as_str())?;
                }
                Mutation::Paxos(k, v) => {
                    paxos.insert(k.as_str(), v.as_slice())?;
                }
                Mutation::RemoveRegister(k) => {
                    registers.remove(k.as_str())?;
                }
                Mutation::RemoveObject(k) => {
                    objects.remove(k.as_str())?;
                }
                Mutation::RemoveSet(k) => {
                    let doomed: Vec<i64> = elements
                        .range((k.as_str(), i64::MIN)..=(k.as_str(), i64::MAX))?
                        .map(|r| r.map(|(key, _)| key.value().1))
                        .collect::<Result<_, _>>()?;
                    for e in doomed {
                        elements.remove((k.as_str(), e))?;
                    }
                }
            }
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes elements durably, closes, and cuts or damages the file the
    /// way the corrupt nemesis does.
    fn written(dir: &Path) {
        let (p, loaded) = Persister::open(dir, FsyncPolicy::Always).unwrap();
        assert!(loaded.elements.is_empty());
        for i in 0..200 {
            p.submit(i as u64 + 1, Mutation::Elements("k".into(), vec![i]));
        }
        p.close();
    }

    #[test]
    fn a_database_intact_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        written(dir.path());
        let (_p, loaded) = Persister::open(dir.path(), FsyncPolicy::Always).unwrap();
        assert_eq!(loaded.elements.len(), 200);
    }

    #[test]
    fn a_file_cut_short_is_moved_aside_and_the_node_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        written(dir.path());
        let file = dir.path().join("ringkv.redb");
        let len = std::fs::metadata(&file).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(len - 8192).unwrap();
        drop(f);
        // redb asserts on such a file; the node opens anyway, empty.
        let (_p, loaded) = Persister::open(dir.path(), FsyncPolicy::Always).unwrap();
        assert!(loaded.elements.is_empty());
        let aside: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("ringkv.redb.damaged-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
    }
}
