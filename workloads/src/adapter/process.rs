//! The process driver: one adapter process, one request at a time.
//!
//! The process starts on a client's first request, in its own process
//! group, with its stderr appended to a log. A request is one line on its
//! stdin; its reply is the next line on its stdout, read up to
//! [`super::MAX_LINE`] bytes. When no reply comes in time, or an exchange is
//! cut off halfway, the process is killed, since its next line would answer
//! the wrong request; the next request starts a fresh one. When the
//! process exits, the failure names its status and its last stderr line.

use std::io::{Read, Seek, SeekFrom, Write};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::Instant;

use super::{quote, AdapterClient, Hello, Protocol, Reply, RequestFailure, MAX_LINE};

/// A running adapter process.
pub(super) struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The id of the last request sent.
    last_id: u64,
    /// Reply lines read so far.
    lines: u64,
    /// A request was written and its reply not read: the exchange was cut
    /// off (the harness's hard cap dropped the op), so the process's next
    /// line would answer the wrong request.
    in_flight: bool,
}

impl AdapterClient {
    /// Kills the process, if one runs; the next request starts a new one.
    pub(super) async fn reset(&self) {
        if let Some(r) = self.process.lock().await.take() {
            discard(r);
        }
    }

    /// Starts the process, its stderr appended to the log after a marker
    /// line.
    fn spawn(&self) -> Result<Running, RequestFailure> {
        let cannot = |e: String| {
            self.broke(
                &format!(
                    "cannot start the client process {:?}: {e}",
                    self.spec.argv.first().map(String::as_str).unwrap_or("")
                ),
                "the-client",
            )
        };
        let Some((program, args)) = self.spec.argv.split_first() else {
            return Err(cannot("its argv is empty".into()));
        };
        if let Some(dir) = self.spec.stderr_log.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| cannot(format!("creating {}: {e}", dir.display())))?;
        }
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.stderr_log)
            .map_err(|e| cannot(format!("opening {}: {e}", self.spec.stderr_log.display())))?;
        let _ = writeln!(log, "--- faultline: starting {:?}", self.spec.argv);
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            // Its own process group: a Ctrl-C at the terminal reaches
            // faultline, which then finishes the run in order, and not the
            // adapters in the middle of a request.
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| cannot(e.to_string()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(cannot("no pipes to the process".into()));
        };
        Ok(Running {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            last_id: 0,
            lines: 0,
            in_flight: false,
        })
    }

    /// Sends one request and waits (until `deadline`) for its reply.
    /// Checks what every reply must be (JSON, this request's id, a known
    /// type); what its value must be is the caller's to check.
    pub async fn request(
        &self,
        f: &str,
        key: &str,
        value: &Value,
        deadline: Instant,
    ) -> Result<Reply, RequestFailure> {
        self.request_with(f, key, value, &[], deadline).await
    }

    /// [`Self::request`] with more fields in the request (`context`,
    /// `after`).
    pub async fn request_with(
        &self,
        f: &str,
        key: &str,
        value: &Value,
        extra: &[(&str, &Value)],
        deadline: Instant,
    ) -> Result<Reply, RequestFailure> {
        let mut guard = self.process.lock().await;
        if !self.spec.keep_on_timeout {
            if let Some(r) = guard.take_if(|r| r.in_flight) {
                discard(r);
            }
        }
        if guard.is_none() {
            let mut run = self.spawn()?;
            if let Some(hello) = &self.spec.hello {
                let mut line = json!({
                    "id": 0,
                    "f": "hello",
                    "protocol": Protocol::V2.number(),
                    "workload": hello.workload,
                    "node": hello.node,
                })
                .to_string();
                line.push('\n');
                let raw = match self.exchange(&mut run, 0, &line, deadline).await {
                    Ok(raw) => raw,
                    Err(e) => {
                        discard(run);
                        return Err(e);
                    }
                };
                let n = run.lines;
                if let Err(what) = check_hello(hello, &raw) {
                    discard(run);
                    return Err(self.broke(
                        &format!("hello reply (line {n}) {what}: {}", quote(&raw)),
                        "hello",
                    ));
                }
            }
            *guard = Some(run);
        }
        let run = guard.as_mut().expect("just started");
        run.last_id += 1;
        let id = run.last_id;
        let mut request = json!({ "id": id, "f": f, "key": key, "value": value });
        for (k, v) in extra {
            request[*k] = (*v).clone();
        }
        let mut line = request.to_string();
        line.push('\n');
        match self.exchange(run, id, &line, deadline).await {
            Ok(raw) => {
                let n = run.lines;
                drop(guard);
                self.parse(id, n, raw).await
            }
            Err(e) => {
                let keep = self.spec.keep_on_timeout && matches!(e, RequestFailure::Timeout(_));
                if !keep {
                    if let Some(r) = guard.take() {
                        discard(r);
                    }
                }
                Err(e)
            }
        }
    }

    /// Writes request `id`'s `line` and reads its reply line (skipping the
    /// late replies to earlier requests of a process kept after a
    /// timeout). The process is the caller's to discard on an error.
    async fn exchange(
        &self,
        run: &mut Running,
        id: u64,
        line: &str,
        deadline: Instant,
    ) -> Result<String, RequestFailure> {
        run.in_flight = true;
        let keep = self.spec.keep_on_timeout;
        let lines = &mut run.lines;
        let stdin = &mut run.stdin;
        let stdout = &mut run.stdout;
        let exchange = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await?;
            loop {
                let read = read_line(stdout, MAX_LINE).await?;
                if let LineRead::Line(bytes) = &read {
                    if keep && answers_earlier(bytes, id) {
                        *lines += 1;
                        continue;
                    }
                }
                return Ok::<_, std::io::Error>(read);
            }
        };
        let read = tokio::time::timeout_at(deadline, exchange).await;
        let Ok(read) = read else {
            return Err(RequestFailure::Timeout(self.timeout));
        };
        match read {
            Ok(LineRead::Line(bytes)) => {
                run.lines += 1;
                run.in_flight = false;
                Ok(String::from_utf8_lossy(&bytes)
                    .trim_end_matches('\r')
                    .to_string())
            }
            Ok(LineRead::TooLong) => {
                let n = run.lines + 1;
                Err(self.broke(
                    &format!("reply line {n} is longer than {} MiB", MAX_LINE >> 20),
                    "replies",
                ))
            }
            // Its stdout closed (or the write found no reader): it exited.
            Ok(LineRead::Eof) | Err(_) => {
                let status = match tokio::time::timeout(
                    Duration::from_millis(500),
                    run.child.wait(),
                )
                .await
                {
                    Ok(Ok(s)) => format!("exited ({s})"),
                    Ok(Err(e)) => format!("closed its output ({e})"),
                    Err(_) => "closed its output".to_string(),
                };
                let tail = last_line(&self.spec.stderr_log)
                    .map(|l| format!("; its last stderr line: {}", quote(&l)))
                    .unwrap_or_else(|| "; it wrote nothing on stderr".into());
                let what = if id == 0 {
                    "the hello".to_string()
                } else {
                    format!("request {id}")
                };
                Err(self.broke(
                    &format!(
                        "the client process {status} before answering {what} (after {} reply lines){tail}; stderr is in {}",
                        run.lines,
                        self.spec.stderr_log.display()
                    ),
                    "processes",
                ))
            }
        }
    }
}

/// A line that is a reply to a request before `id` (a late one, after a
/// timeout), to be skipped.
fn answers_earlier(line: &[u8], id: u64) -> bool {
    serde_json::from_slice::<Value>(line)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_u64))
        .is_some_and(|got| got < id)
}

/// What is wrong with a hello reply for `hello`, if anything.
fn check_hello(hello: &Hello, raw: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(raw).map_err(|_| "is not JSON".to_string())?;
    if v.get("id").and_then(Value::as_u64) != Some(0) {
        return Err("does not answer request 0 (\"id\": 0)".into());
    }
    if v.get("type").and_then(Value::as_str) != Some("ok") {
        return Err("is not \"type\": \"ok\"".into());
    }
    let protocol = v.get("protocol").and_then(Value::as_u64);
    if protocol != Some(Protocol::V2.number()) {
        return Err(format!(
            "says protocol {}, but the description says protocol = 2",
            protocol.map_or("(none)".to_string(), |p| p.to_string())
        ));
    }
    let names = |field: &str| -> Result<Vec<String>, String> {
        match v.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(list) => list
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|w| w.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| format!("has a \"{field}\" that is not a list of names")),
        }
    };
    let workloads = names("workloads")?;
    if !workloads.iter().any(|w| w == hello.workload) {
        return Err(format!(
            "does not list the workload {} in \"workloads\" (it lists {}): map its ops, or run another workload",
            hello.workload,
            if workloads.is_empty() { "none".to_string() } else { workloads.join(", ") }
        ));
    }
    if hello.read_local && !names("read_local")?.iter().any(|w| w == hello.workload) {
        return Err(format!(
            "does not list {} in \"read_local\", which the description's client.read_local does",
            hello.workload
        ));
    }
    if hello.preflist && v.get("preflist").and_then(Value::as_bool) != Some(true) {
        return Err(
            "does not say \"preflist\": true, which the description's client.replicas = \"preflist\" needs"
                .into(),
        );
    }
    Ok(())
}

/// Kills a process we are done with, and reaps it in the background.
fn discard(mut r: Running) {
    let _ = r.child.start_kill();
    tokio::spawn(async move {
        let _ = r.child.wait().await;
    });
}

/// What reading one line gave.
enum LineRead {
    /// A line, without its `\n`.
    Line(Vec<u8>),
    /// The stream ended (a partial last line is dropped).
    Eof,
    /// The line went past the limit.
    TooLong,
}

/// Reads one line of at most `max` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<LineRead> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(LineRead::Eof);
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&buf[..i]);
            r.consume(i + 1);
            return Ok(if line.len() > max {
                LineRead::TooLong
            } else {
                LineRead::Line(line)
            });
        }
        let n = buf.len();
        line.extend_from_slice(buf);
        r.consume(n);
        if line.len() > max {
            return Ok(LineRead::TooLong);
        }
    }
}

/// The last non-empty line of a file (its last 4 KiB), if any.
fn last_line(path: &std::path::Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("--- faultline: "))
        .map(str::to_string)
}
