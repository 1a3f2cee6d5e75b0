//! Running a matrix's rows: each in a child process, up to `--jobs` at
//! once.
//!
//! Every row runs as a child `faultline test-row` of the same binary,
//! whatever `--jobs` is, rather than in this process. A child process is
//! the simplest thing that isolates what a run assumes it owns:
//!
//! - **Signals.** A run's Ctrl-C handling (first: heal and save; second:
//!   exit at once) is per process. Each child gets a process group of its
//!   own, so a terminal's Ctrl-C reaches only the matrix, which stops
//!   starting rows and passes the interrupt on to each running row once
//!   (a second Ctrl-C passes a second on). If the matrix itself dies, the
//!   kernel sends each child SIGTERM (`PR_SET_PDEATHSIG`), which heals.
//! - **Output.** Each child's stderr and stdout are read line by line and
//!   written to the matrix's stderr prefixed `[row] `, so the lines of rows
//!   running together interleave whole and say whose they are.
//! - **Cluster slots.** A local run claims a network slot under a lock,
//!   owned by its process id ([`crate::cluster::control::netns`]): children have
//!   distinct ids, and one that dies is cleaned up as any dead run is.
//! - **Crashes.** A panic or an abort in one run cannot take the others,
//!   or the matrix's summary, with it: a child that ends without an
//!   outcome is that row's error.
//!
//! A child reads its job (the row, with its configuration as resolved by
//! the matrix, and an SSH password if the row has one, which is never
//! written to disk) as JSON on its standard input, and writes its outcome
//! as JSON to a file the matrix names. Local rows run up to `--jobs` at
//! once, each in its own slot; rows on SSH nodes never run together with
//! another row on any of the same hosts. Rows start in file order, and
//! outcomes are kept in file order whatever order they end in, so the
//! summary is the same in form as a sequential run's.

use super::{run_row, Got, Matrix, Row, RowOutcome};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};

/// What the matrix hands a child `faultline test-row`: the row, and what
/// its configuration leaves out when serialized (so `test.json` never
/// holds it), carried beside it.
#[derive(Serialize, Deserialize)]
pub struct Job {
    /// The row to run.
    row: Row,
    /// The row's SSH password (never serialized with its configuration).
    password: Option<String>,
    /// The row's `config.toml` text (not repeated in `test.json`).
    config_text: Option<String>,
    /// Where to write the [`Done`].
    outcome: PathBuf,
}

impl Job {
    /// The job of running `row`, its outcome to be written to `outcome`.
    pub fn new(row: &Row, outcome: &Path) -> Job {
        Job {
            row: row.clone(),
            password: row.config.remote.as_ref().and_then(|r| r.password.clone()),
            config_text: row.config.config.as_ref().map(|c| c.text.clone()),
            outcome: outcome.to_path_buf(),
        }
    }

    /// The row, whole again.
    pub fn into_row(self) -> Row {
        let mut row = self.row;
        if let Some(r) = row.config.remote.as_mut() {
            r.password = self.password;
        }
        if let (Some(c), Some(text)) = (row.config.config.as_mut(), self.config_text) {
            c.text = text;
        }
        row
    }
}

/// What a child reports back.
#[derive(Serialize, Deserialize)]
pub struct Done {
    /// The row's outcome.
    pub outcome: RowOutcome,
    /// The run was interrupted (Ctrl-C, SIGTERM): the matrix stops.
    pub interrupted: bool,
}

/// `faultline test-row` (hidden; the matrix's child): reads a [`Job`] on
/// standard input, runs its row, writes the [`Done`].
pub fn child_main() -> Result<i32> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .context("reading the row's job on standard input")?;
    let job: Job = serde_json::from_str(&text)
        .context("faultline test-row is run by faultline test-all: its job is JSON on stdin")?;
    let out = job.outcome.clone();
    let row = job.into_row();
    let (outcome, interrupted) = run_row(&row);
    let done = Done {
        outcome,
        interrupted,
    };
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(&done)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &out).with_context(|| format!("writing {}", out.display()))?;
    Ok(crate::exit::VALID)
}

/// The hosts a row's nodes are on (none for local rows).
fn hosts(row: &Row) -> Vec<String> {
    row.config
        .remote
        .as_ref()
        .map(|r| r.hosts.clone())
        .unwrap_or_default()
}

/// The position in `pending` (row numbers, in file order) of the first row
/// that can start now: a local row always can; a row on SSH nodes only if
/// no running row (`busy`: row number to its hosts) uses any of its hosts.
fn next_startable(
    pending: &[usize],
    hosts: &[Vec<String>],
    busy: &HashMap<usize, Vec<String>>,
) -> Option<usize> {
    let taken: HashSet<&String> = busy.values().flatten().collect();
    pending
        .iter()
        .position(|k| !hosts[*k].iter().any(|h| taken.contains(h)))
}

/// Runs the rows of `m`, up to `jobs` at once, each in a child process of
/// `exe`; prints a line per row as it ends; on an interruption starts no
/// more rows (those left are `not run`). Outcomes are in row order.
pub fn run(m: &Matrix, jobs: usize, exe: &Path) -> Result<Vec<RowOutcome>> {
    let scratch = tempfile::Builder::new()
        .prefix("faultline-matrix-")
        .tempdir()
        .context("creating a scratch folder for the rows' outcomes")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(schedule(m, jobs.max(1), exe, scratch.path())))
}

async fn schedule(m: &Matrix, jobs: usize, exe: &Path, scratch: &Path) -> Vec<RowOutcome> {
    let total = m.rows.len();
    let name_width = m
        .rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut outcomes: Vec<Option<RowOutcome>> = vec![None; total];
    let mut pending: Vec<usize> = (0..total).collect();
    let mut busy_hosts: HashMap<usize, Vec<String>> = HashMap::new();
    let all_hosts: Vec<Vec<String>> = m.rows.iter().map(hosts).collect();
    let pids: Arc<Mutex<HashMap<usize, u32>>> = Arc::default();
    let mut set = tokio::task::JoinSet::new();
    let (sig_tx, mut sig_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let signals = tokio::spawn(async move {
        loop {
            crate::run::signals::stop_requested().await;
            if sig_tx.send(()).is_err() {
                break;
            }
        }
    });
    let mut stopping = false;
    loop {
        if !stopping {
            // Start rows in file order while there is room; an SSH row
            // waits for rows on any of its hosts, and rows after it may
            // go first.
            while set.len() < jobs {
                let Some(i) = next_startable(&pending, &all_hosts, &busy_hosts) else {
                    break;
                };
                let k = pending.remove(i);
                let row = &m.rows[k];
                busy_hosts.insert(k, all_hosts[k].clone());
                eprintln!(
                    "faultline: matrix {}: row {}/{total} {} (expects {})",
                    m.name,
                    k + 1,
                    row.name,
                    row.expect.word()
                );
                let (row, exe, out) = (
                    row.clone(),
                    exe.to_path_buf(),
                    scratch.join(format!("row-{k}.json")),
                );
                let pids = pids.clone();
                set.spawn(async move { (k, run_child(k, row, &exe, &out, pids).await) });
            }
        }
        if set.is_empty() {
            break;
        }
        tokio::select! {
            Some(joined) = set.join_next() => {
                let Ok((k, done)) = joined else { continue };
                busy_hosts.remove(&k);
                let o = done.outcome;
                println!(
                    "[{:>w$}/{total}] {:<name_width$}  expected {:<7}  got {:<7}  {:<11}  {}",
                    k + 1,
                    o.name,
                    o.expect.word(),
                    o.got.word(),
                    if o.as_expected() {
                        "as expected"
                    } else if o.errored() {
                        "ERROR"
                    } else {
                        "DIFFERS"
                    },
                    super::summary::seconds(o.duration_s),
                    w = total.to_string().len()
                );
                if done.interrupted && !stopping {
                    stopping = true;
                    eprintln!("faultline: matrix {}: a row was interrupted; starting no more rows", m.name);
                }
                outcomes[k] = Some(o);
            }
            Some(()) = sig_rx.recv() => {
                let running: Vec<(usize, u32)> = pids.lock().map(|p| p.iter().map(|(k, p)| (*k, *p)).collect()).unwrap_or_default();
                eprintln!(
                    "faultline: matrix {}: interrupted; {} row{} running will heal and save what they recorded (interrupt again to stop them at once); no more rows start",
                    m.name,
                    running.len(),
                    if running.len() == 1 { "" } else { "s" }
                );
                stopping = true;
                for (_, pid) in running {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGINT,
                    );
                }
            }
        }
    }
    signals.abort();
    outcomes
        .into_iter()
        .zip(&m.rows)
        .map(|(o, row)| o.unwrap_or_else(|| super::not_run(row)))
        .collect()
}

/// Runs row `k` in a child process and waits for its outcome.
async fn run_child(
    k: usize,
    row: Row,
    exe: &Path,
    out: &Path,
    pids: Arc<Mutex<HashMap<usize, u32>>>,
) -> Done {
    let started = std::time::Instant::now();
    let name = row.name.clone();
    let failed = |row: &Row, why: String| Done {
        outcome: RowOutcome {
            got: Got::Error(why),
            duration_s: started.elapsed().as_secs_f64(),
            ..super::not_run(row)
        },
        interrupted: false,
    };
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("test-row")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: between fork and exec, only prctl(2), which is
    // async-signal-safe, runs.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return failed(&row, format!("starting {} test-row: {e}", exe.display())),
    };
    if let (Some(pid), Ok(mut p)) = (child.id(), pids.lock()) {
        p.insert(k, pid);
    }
    let prefix = format!("[{name}] ");
    let relays = [
        child
            .stderr
            .take()
            .map(|r| tokio::spawn(relay(r, prefix.clone()))),
        child
            .stdout
            .take()
            .map(|r| tokio::spawn(relay(r, prefix.clone()))),
    ];
    let job = Job::new(&row, out);
    if let Some(mut stdin) = child.stdin.take() {
        let text = serde_json::to_vec(&job).unwrap_or_default();
        // A child that died at once is reported by its exit status below.
        let _ = stdin.write_all(&text).await;
        drop(stdin);
    }
    let status = child.wait().await;
    if let Ok(mut p) = pids.lock() {
        p.remove(&k);
    }
    for r in relays.into_iter().flatten() {
        let _ = r.await;
    }
    let read = std::fs::read(out)
        .ok()
        .and_then(|b| serde_json::from_slice::<Done>(&b).ok());
    match (read, status) {
        (Some(done), _) => done,
        (None, Ok(s)) => failed(
            &row,
            format!("the row's process ({} test-row) ended ({s}) without an outcome; its output is above, prefixed [{name}]", exe.display()),
        ),
        (None, Err(e)) => failed(&row, format!("waiting for the row's process: {e}")),
    }
}

/// Copies `r` to stderr line by line, each line prefixed.
async fn relay(r: impl AsyncRead + Unpin, prefix: String) {
    let mut r = BufReader::new(r);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                eprintln!("{prefix}{}", text.trim_end_matches(['\n', '\r']));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::matrix::{load, parse, Overrides};

    #[test]
    fn ssh_rows_wait_for_their_hosts_and_rows_after_them_may_go_first() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Rows 0 and 1 share host b; row 2 is on c; row 3 is local.
        let hosts = vec![h(&["a", "b"]), h(&["b"]), h(&["c"]), h(&[])];
        let mut busy = HashMap::new();
        assert_eq!(next_startable(&[0, 1, 2, 3], &hosts, &busy), Some(0));
        busy.insert(0, hosts[0].clone());
        assert_eq!(
            next_startable(&[1, 2, 3], &hosts, &busy),
            Some(1),
            "row 2 goes before row 1"
        );
        busy.insert(2, hosts[2].clone());
        assert_eq!(
            next_startable(&[1, 3], &hosts, &busy),
            Some(1),
            "the local row"
        );
        assert_eq!(next_startable(&[1], &hosts, &busy), None, "host b is taken");
        busy.remove(&0);
        assert_eq!(next_startable(&[1], &hosts, &busy), Some(0));
        assert_eq!(next_startable(&[], &hosts, &busy), None);
    }

    /// A row handed to a child is the row the matrix read, whole.
    fn round_trip(row: &Row) -> Row {
        let text = serde_json::to_string(&Job::new(row, Path::new("/o.json"))).unwrap();
        serde_json::from_str::<Job>(&text).unwrap().into_row()
    }

    #[test]
    fn a_child_gets_its_row_whole_secrets_and_config_text_included() {
        let nightly = Path::new(env!("CARGO_MANIFEST_DIR")).join("nightly.toml");
        let m = load(&nightly, &Overrides::default()).unwrap();
        for row in &m.rows {
            let back = round_trip(row);
            assert_eq!(format!("{:?}", back), format!("{:?}", row), "{}", row.name);
            assert!(!back.config.config.as_ref().unwrap().text.is_empty());
        }
        let ssh = r#"
            [defaults]
            nodes = ["10.9.0.1", "10.9.0.2", "10.9.0.3"]
            [defaults.ssh]
            password = "hunter2"
            strict_host_key_checking = false
            [[row]]
            name = "remote"
            expect = "valid"
        "#;
        let m = parse(ssh, Path::new("ssh.toml"), &Overrides::default()).unwrap();
        let row = &m.rows[0];
        assert_eq!(hosts(row), ["10.9.0.1:22", "10.9.0.2:22", "10.9.0.3:22"]);
        let back = round_trip(row);
        assert_eq!(
            back.config.remote.as_ref().unwrap().password.as_deref(),
            Some("hunter2")
        );
        assert_eq!(format!("{:?}", back), format!("{:?}", row));
        // The password travels beside the row, never inside what a run
        // saves of its configuration.
        assert!(!serde_json::to_string(&row.config)
            .unwrap()
            .contains("hunter2"));
    }
}
