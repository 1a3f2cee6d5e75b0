//! A minimal headless-Chromium driver for the report browser test.
//!
//! It speaks the DevTools protocol over `--remote-debugging-pipe` (JSON
//! messages separated by NUL bytes on file descriptors 3 and 4 of the
//! browser), so it needs no TCP port, no WebSocket client and no browser
//! download: only Debian's `chromium` package. Every step (launch, one page
//! visit) has a deadline after which a watchdog kills the browser's whole
//! process group. Every browser gets a throw-away profile directory and
//! flags that keep Chromium's own services (sync, updates, safe browsing,
//! ...) quiet, and no address but loopback resolves, so not even a report
//! that tried could reach another machine. Besides the per-page DevTools
//! events, the browser writes a net log, so [`Chromium::close`] can tell
//! every URL the whole browser requested and every TCP connection it tried.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one step (visiting one page, closing) may take before the
/// watchdog kills the browser.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the browser may take to start and answer its first command
/// (at least; a longer step timeout applies to the launch too).
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Width and height of the emulated window, in CSS pixels.
pub const VIEWPORT: (u32, u32) = (1280, 900);

/// Screenshots are cut at this height (CSS pixels) so a long page stays a
/// reasonable image.
pub const MAX_SCREENSHOT_HEIGHT: f64 = 12_000.0;

/// Screenshots are cut at this width (CSS pixels): the page's own width when
/// something overflows the viewport, up to this.
pub const MAX_SCREENSHOT_WIDTH: f64 = 4_000.0;

/// The Chromium binary to drive, if one is installed: `$FAULTLINE_CHROMIUM`
/// (when set, it is the only candidate: point it at a missing file to see
/// what happens without Chromium), else Debian's real binary `/usr/lib/chromium/chromium` (the
/// `/usr/bin/chromium` wrapper script adds flags of its own, such as
/// `--enable-remote-extensions`), else `chromium` or `chromium-browser` on
/// `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FAULTLINE_CHROMIUM") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let debian = Path::new("/usr/lib/chromium/chromium");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

/// The Chromium to drive, or `None` (after saying so loudly) when it is
/// missing and `FAULTLINE_SKIP_BROWSER=1` asks to skip; panics with a
/// one-line instruction when it is missing otherwise.
pub fn require_chromium(test: &str) -> Option<PathBuf> {
    if let Some(p) = find_chromium() {
        return Some(p);
    }
    if std::env::var("FAULTLINE_SKIP_BROWSER").as_deref() == Ok("1") {
        // Straight to stderr: the test harness captures `eprintln!` of
        // passing tests, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "!!! SKIPPED the browser part of {test}: no Chromium found and FAULTLINE_SKIP_BROWSER=1 !!!"
        );
        return None;
    }
    panic!(
        "headless Chromium not found: install Debian's `chromium` package (apt-get install chromium; .ci/run does), or set FAULTLINE_SKIP_BROWSER=1 to skip"
    );
}

/// Whether pages may run JavaScript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Js {
    /// Scripts run, as in an ordinary browser.
    On,
    /// `--blink-settings=scriptEnabled=false`: the page's scripts never run
    /// (the driver's own DevTools evaluations still do).
    Off,
}

/// One headless Chromium, driven over the DevTools pipe.
pub struct Chromium {
    child: Child,
    to_browser: std::io::PipeWriter,
    /// Messages from the browser, read by a detached thread that ends at
    /// the pipe's EOF (never joined: a straggler holding the pipe open must
    /// not hang the test).
    from_browser: Receiver<Value>,
    watchdog: Option<(Sender<()>, JoinHandle<()>)>,
    next_id: u64,
    /// Events received but not yet handed to a page visit.
    events: Vec<Value>,
    /// When the current step must be over; the watchdog reads it too.
    deadline: Arc<Mutex<Instant>>,
    step_timeout: Duration,
    net_log: PathBuf,
    stderr: PathBuf,
    closed: bool,
    // Last: removed after the browser is gone.
    _profile: tempfile::TempDir,
}

/// What a page showed and did while it was open.
#[derive(Debug)]
pub struct Visit {
    /// The `file://` URL opened.
    pub url: String,
    /// `console.error`/`console.assert` messages and browser log entries of
    /// level `error` (e.g. "Failed to load resource").
    pub console_errors: Vec<String>,
    /// Uncaught exceptions and unhandled promise rejections.
    pub exceptions: Vec<String>,
    /// Every URL the page requested (the document itself included), and
    /// every WebSocket it opened. `data:` URLs are not among them: Chromium
    /// reports no request for them (they are part of the page anyway).
    pub requests: Vec<String>,
    /// The verdict banner and plots as laid out (see [`Probe`]).
    pub probe: Probe,
    /// The rendered DOM (`document.documentElement.outerHTML`, read through
    /// the DOM domain, which needs no page script).
    pub dom: String,
    /// A PNG screenshot of the whole page (cut at [`MAX_SCREENSHOT_WIDTH`] ×
    /// [`MAX_SCREENSHOT_HEIGHT`]).
    pub screenshot: Vec<u8>,
}

/// The parts of the report's contract, as the browser laid them out.
#[derive(Debug, Default)]
pub struct Probe {
    /// The element `id="verdict"`, if any.
    pub banner: Option<Banner>,
    /// `figure.plot` elements holding an `svg` of non-zero size, by id.
    pub plots: Vec<String>,
    /// Whether `figure#plot-latency.plot` exists and holds an `svg`.
    pub latency_plot: bool,
}

/// The verdict banner as rendered.
#[derive(Debug)]
pub struct Banner {
    /// Its `class` attribute, e.g. `banner invalid`.
    pub class: String,
    /// Its first non-empty line of rendered text (`innerText`).
    pub first_line: String,
    /// Its laid-out width and height in CSS pixels (0 when hidden).
    pub size: (f64, f64),
}

/// Runs in the page (in the DevTools' evaluation, not as a page script) to
/// read the report's contract off the laid-out page.
const PROBE_JS: &str = r#"(() => {
  const size = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  const b = document.getElementById('verdict');
  const plots = [...document.querySelectorAll('figure.plot')]
    .filter(f => { const s = f.querySelector('svg'); return s && size(s)[0] > 0 && size(s)[1] > 0; })
    .map(f => f.id || '(no id)');
  const lat = document.getElementById('plot-latency');
  return {
    banner: b && { class: b.className, text: b.innerText, size: size(b) },
    plots,
    latency: !!(lat && lat.matches('figure.plot') && lat.querySelector('svg')),
  };
})()"#;

impl Visit {
    /// Requested URLs other than the page's own (any fragment ignored).
    pub fn foreign_requests(&self) -> Vec<&str> {
        let own = self.url.split('#').next().unwrap_or_default();
        self.requests
            .iter()
            .map(String::as_str)
            .filter(|u| u.split('#').next() != Some(own))
            .collect()
    }

    /// Console errors, uncaught exceptions and foreign requests, one line
    /// each; empty for a clean page.
    pub fn hygiene_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(
            self.console_errors
                .iter()
                .map(|e| format!("console error: {e}")),
        );
        out.extend(
            self.exceptions
                .iter()
                .map(|e| format!("uncaught exception: {e}")),
        );
        out.extend(
            self.foreign_requests()
                .into_iter()
                .map(|u| format!("request leaving the file: {u}")),
        );
        out
    }
}

impl Chromium {
    /// Starts a headless Chromium with a fresh temporary profile; each step
    /// gets [`BROWSER_TIMEOUT`].
    pub fn launch(binary: &Path, js: Js) -> anyhow::Result<Self> {
        Self::launch_with_timeout(binary, js, BROWSER_TIMEOUT)
    }

    /// [`Chromium::launch`] with another step timeout (a test of the
    /// watchdog needs a short one).
    pub fn launch_with_timeout(
        binary: &Path,
        js: Js,
        step_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let profile = tempfile::Builder::new()
            .prefix("chromium-profile-")
            .tempdir()?;
        let net_log = profile.path().join("netlog.json");
        let stderr = profile.path().join("stderr.log");
        let mut cmd = Command::new(binary);
        cmd.args([
            "--headless",
            "--no-sandbox", // tests run as root
            "--remote-debugging-pipe",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-component-extensions-with-background-pages",
            "--disable-background-networking",
            "--disable-sync",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-breakpad",
            "--no-pings",
            "--metrics-recording-only",
            "--safebrowsing-disable-auto-update",
            "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,NetworkTimeServiceQuerying",
            "--password-store=basic",
            "--use-mock-keychain",
            "--no-proxy-server",
            // No host name and no IP address but loopback resolves, so
            // nothing can reach another machine even if it tried (Chromium
            // itself tries: see `NetLog::urls`). Loopback stays reachable
            // for the negative test of the net-log check.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
            "--force-color-profile=srgb",
        ]);
        cmd.arg(format!("--user-data-dir={}", profile.path().display()));
        cmd.arg(format!("--log-net-log={}", net_log.display()));
        cmd.arg(format!("--window-size={},{}", VIEWPORT.0, VIEWPORT.1));
        if js == Js::Off {
            cmd.arg("--blink-settings=scriptEnabled=false");
        }
        cmd.arg("about:blank");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .process_group(0);

        let (to_child, to_browser) = std::io::pipe()?;
        let (from_browser, from_child) = std::io::pipe()?;
        let (r, w) = (to_child.as_raw_fd(), from_child.as_raw_fd());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and
        // exec. The browser reads commands on fd 3 and writes replies on fd 4.
        // First our two ends are copied above fd 10 (so placing one cannot
        // clobber the other), and whatever else sits on 3 or 4 (e.g. the
        // pipe std uses to report a failed exec) is copied away with
        // close-on-exec, so it still closes at exec as it would have.
        unsafe {
            cmd.pre_exec(move || {
                let high = |fd| {
                    let n = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
                    if n < 0 {
                        Err(std::io::Error::last_os_error())
                    } else {
                        Ok(n)
                    }
                };
                let (r2, w2) = (high(r)?, high(w)?);
                for fd in [3, 4] {
                    if libc::fcntl(fd, libc::F_GETFD) >= 0 {
                        high(fd)?;
                    }
                }
                if libc::dup2(r2, 3) < 0 || libc::dup2(w2, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", binary.display()))?;
        // Only the browser may hold its ends, so that its exit reads as EOF.
        drop((to_child, from_child));

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut input = BufReader::new(from_browser);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match input.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                let msg = serde_json::from_slice(&buf).unwrap_or_else(
                    |e| json!({"unparsable": format!("{e}: {}", String::from_utf8_lossy(&buf))}),
                );
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });

        // Starting up is not a step: with both cores busy and other
        // browsers starting beside it, it can take longer than a short step
        // timeout, so the launch has its own bound.
        let deadline = Arc::new(Mutex::new(
            Instant::now() + step_timeout.max(LAUNCH_TIMEOUT),
        ));
        let pgid = child.id() as libc::pid_t;
        let (stop, stopped) = mpsc::channel::<()>();
        let watched = Arc::clone(&deadline);
        let watchdog = std::thread::spawn(move || loop {
            // Look again at least every 50 ms: a new step may move the
            // deadline earlier (the launch's bound is the longest).
            let until = *watched.lock().unwrap();
            let nap = until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50));
            match stopped.recv_timeout(nap) {
                Err(RecvTimeoutError::Timeout) if Instant::now() >= *watched.lock().unwrap() => {
                    eprintln!("chromium {pgid}: a step ran past {step_timeout:?}, killing it");
                    // SAFETY: plain syscall. The group leader is not reaped
                    // before this thread is joined, so the group id is ours.
                    unsafe { libc::killpg(pgid, libc::SIGKILL) };
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {} // the deadline moved on
                _ => return,
            }
        });

        let mut browser = Chromium {
            child,
            to_browser,
            from_browser: rx,
            watchdog: Some((stop, watchdog)),
            next_id: 0,
            events: Vec::new(),
            deadline,
            step_timeout,
            net_log,
            stderr,
            closed: false,
            _profile: profile,
        };
        let version = browser.call(None, "Browser.getVersion", json!({}))?;
        browser.new_step();
        eprintln!(
            "launched {} ({}, JavaScript {:?})",
            binary.display(),
            version["product"].as_str().unwrap_or("?"),
            js
        );
        Ok(browser)
    }

    /// The last lines of the browser's stderr, for error messages.
    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// The current step's deadline.
    fn deadline(&self) -> Instant {
        *self.deadline.lock().unwrap()
    }

    /// Starts a new step: it has the step timeout from now.
    fn new_step(&self) {
        *self.deadline.lock().unwrap() = Instant::now() + self.step_timeout;
    }

    /// Receives the next message by `until`, within the step's deadline.
    fn recv(&mut self, until: Instant) -> anyhow::Result<Option<Value>> {
        let deadline = self.deadline();
        let until = until.min(deadline);
        match self
            .from_browser
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            Ok(m) => Ok(Some(m)),
            Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => Ok(None),
            Err(RecvTimeoutError::Timeout) => anyhow::bail!(
                "chromium gave no answer within {:?}; its stderr ends:\n{}",
                self.step_timeout,
                self.stderr_tail()
            ),
            Err(RecvTimeoutError::Disconnected) => anyhow::bail!(
                "chromium closed the DevTools pipe (exited?); its stderr ends:\n{}",
                self.stderr_tail()
            ),
        }
    }

    /// Sends one DevTools command (to a page when `session` is given) and
    /// waits for its result; events that arrive meanwhile are kept.
    pub fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg)?;
        bytes.push(0);
        self.to_browser.write_all(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "writing {method} to chromium: {e}; stderr:\n{}",
                self.stderr_tail()
            )
        })?;
        loop {
            let Some(m) = self.recv(self.deadline())? else {
                continue;
            };
            if m.get("id").and_then(Value::as_u64) == Some(id) {
                if let Some(e) = m.get("error") {
                    anyhow::bail!("{method} failed: {e}");
                }
                return Ok(m["result"].clone());
            }
            if m.get("unparsable").is_some() {
                anyhow::bail!("unparsable message from chromium: {m}");
            }
            self.events.push(m);
        }
    }

    /// Takes the kept events of `session`, leaving the others.
    fn take_events(&mut self, session: &str) -> Vec<Value> {
        let (mine, rest) = std::mem::take(&mut self.events)
            .into_iter()
            .partition(|e| e["sessionId"].as_str() == Some(session));
        self.events = rest;
        mine
    }

    /// Waits until `session` has sent `method` (kept events included), then
    /// until it has been quiet for `quiet`; returns whether `method` came.
    fn wait_for(
        &mut self,
        session: &str,
        method: &str,
        quiet: Duration,
        max: Duration,
    ) -> anyhow::Result<bool> {
        let until = Instant::now() + max;
        let seen = |e: &Value| e["sessionId"].as_str() == Some(session) && e["method"] == method;
        let mut found = self.events.iter().any(seen);
        while !found {
            match self.recv(until)? {
                Some(m) => {
                    found = seen(&m);
                    self.events.push(m);
                }
                None => return Ok(false),
            }
        }
        loop {
            match self.recv((Instant::now() + quiet).min(until))? {
                Some(m) => self.events.push(m),
                None => return Ok(true),
            }
        }
    }

    /// Opens `url` in a new tab, waits for it to load and settle, reads the
    /// banner and plots, the rendered DOM and a screenshot, and closes the
    /// tab.
    pub fn visit(&mut self, url: &str) -> anyhow::Result<Visit> {
        self.new_step();
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_string();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no session: {attached}"))?
            .to_string();
        let s = Some(session.as_str());
        for domain in ["Page", "Runtime", "Log", "Network", "DOM"] {
            self.call(s, &format!("{domain}.enable"), json!({}))?;
        }
        self.call(
            s,
            "Emulation.setDeviceMetricsOverride",
            json!({"width": VIEWPORT.0, "height": VIEWPORT.1, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        // Forget about:blank's events; what follows is the page's.
        self.take_events(&session);
        let nav = self.call(s, "Page.navigate", json!({"url": url}))?;
        if let Some(e) = nav.get("errorText") {
            anyhow::bail!("navigating to {url}: {e}");
        }
        if !self.wait_for(
            &session,
            "Page.loadEventFired",
            Duration::from_millis(300),
            Duration::from_secs(15),
        )? {
            anyhow::bail!("{url} did not finish loading within 15 s");
        }

        let probe = self.call(
            s,
            "Runtime.evaluate",
            json!({"expression": PROBE_JS, "returnByValue": true}),
        )?;
        if let Some(e) = probe.get("exceptionDetails") {
            anyhow::bail!("probing {url} failed: {e}");
        }
        let probe = parse_probe(&probe["result"]["value"]);

        let doc = self.call(s, "DOM.getDocument", json!({"depth": 0}))?;
        let root = doc["root"]["nodeId"].clone();
        let html = self.call(
            s,
            "DOM.querySelector",
            json!({"nodeId": root, "selector": "html"}),
        )?;
        let dom = self.call(s, "DOM.getOuterHTML", json!({"nodeId": html["nodeId"]}))?["outerHTML"]
            .as_str()
            .unwrap_or_default()
            .to_string();

        let metrics = self.call(s, "Page.getLayoutMetrics", json!({}))?;
        let content = &metrics["cssContentSize"];
        let width = content["width"]
            .as_f64()
            .unwrap_or(VIEWPORT.0 as f64)
            .clamp(1.0, MAX_SCREENSHOT_WIDTH);
        let height = content["height"]
            .as_f64()
            .unwrap_or(VIEWPORT.1 as f64)
            .clamp(1.0, MAX_SCREENSHOT_HEIGHT);
        let shot = self.call(
            s,
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
            }),
        )?;
        use base64::Engine as _;
        let screenshot = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())?;

        self.call(None, "Target.closeTarget", json!({"targetId": target_id}))?;
        let mut visit = Visit {
            url: url.to_string(),
            console_errors: vec![],
            exceptions: vec![],
            requests: vec![],
            probe,
            dom,
            screenshot,
        };
        for e in self.take_events(&session) {
            record_event(&mut visit, &e);
        }
        Ok(visit)
    }

    /// Closes the browser and reads its net log: what the whole browser (its
    /// pages and Chromium itself) requested and connected to.
    pub fn close(mut self) -> anyhow::Result<NetLog> {
        self.shut_down();
        let text = std::fs::read_to_string(&self.net_log)
            .map_err(|e| anyhow::anyhow!("reading the net log {}: {e}", self.net_log.display()))?;
        NetLog::parse(&text)
    }

    /// Asks the browser to exit, waits a little, then kills what is left of
    /// its process group and reaps it. Idempotent.
    fn shut_down(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Some((stop, handle)) = self.watchdog.take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
        self.next_id += 1;
        let mut bytes = serde_json::to_vec(
            &json!({"id": self.next_id, "method": "Browser.close", "params": {}}),
        )
        .unwrap_or_default();
        bytes.push(0);
        let _ = self.to_browser.write_all(&bytes);
        // The pipe closes as the browser exits; wait for the leader to
        // exit without reaping it, so that its group id stays ours.
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && !self.leader_exited() {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: plain syscall on our own child's process group, whose
        // leader is not reaped yet.
        unsafe { libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = self.child.wait();
    }

    /// The browser's main process id, also its process group id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the browser's main process has exited (it is not reaped
    /// before the browser is dropped or closed).
    pub fn leader_exited(&self) -> bool {
        // SAFETY: waitid with WNOWAIT only inspects our own child.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                self.child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Reads [`PROBE_JS`]'s answer.
fn parse_probe(v: &Value) -> Probe {
    let size = |s: &Value| (s[0].as_f64().unwrap_or(0.0), s[1].as_f64().unwrap_or(0.0));
    Probe {
        banner: v["banner"].as_object().map(|b| Banner {
            class: b["class"].as_str().unwrap_or_default().to_string(),
            first_line: b["text"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or_default()
                .to_string(),
            size: size(&b["size"]),
        }),
        plots: v["plots"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        latency_plot: v["latency"].as_bool().unwrap_or(false),
    }
}

/// Files one DevTools event of the page under console errors, exceptions or
/// requests.
fn record_event(visit: &mut Visit, e: &Value) {
    let p = &e["params"];
    match e["method"].as_str().unwrap_or_default() {
        "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
            let text: Vec<String> = p["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| match &a["value"] {
                    Value::String(s) => s.clone(),
                    Value::Null => a["description"].as_str().unwrap_or("?").to_string(),
                    v => v.to_string(),
                })
                .collect();
            visit.console_errors.push(text.join(" "));
        }
        "Log.entryAdded" if p["entry"]["level"] == "error" => {
            let entry = &p["entry"];
            visit.console_errors.push(format!(
                "{} ({})",
                entry["text"].as_str().unwrap_or_default(),
                entry["url"].as_str().unwrap_or_default()
            ));
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let text = d["exception"]["description"]
                .as_str()
                .or(d["text"].as_str())
                .unwrap_or("?");
            visit.exceptions.push(text.to_string());
        }
        "Network.requestWillBeSent" => {
            if let Some(u) = p["request"]["url"].as_str() {
                visit.requests.push(u.to_string());
            }
        }
        "Network.webSocketCreated" => {
            if let Some(u) = p["url"].as_str() {
                visit.requests.push(u.to_string());
            }
        }
        _ => {}
    }
}

/// What a browser's net log (`--log-net-log`) shows.
#[derive(Debug)]
pub struct NetLog {
    /// Every URL requested through the network stack (file URLs are not),
    /// by the pages or by Chromium's own services, sorted, without repeats.
    pub urls: Vec<String>,
    /// Every address a TCP connection was attempted to (`TCP_CONNECT_ATTEMPT`
    /// events), e.g. `127.0.0.1:8080`.
    pub tcp_connects: Vec<String>,
    /// How many events the log holds.
    pub events: usize,
}

impl NetLog {
    /// Reads a net log: a first line with the constants (which give the
    /// event types their numbers), then one event a line. A log cut short by
    /// a kill still yields the events written.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        let constants: Value =
            serde_json::from_str(&format!("{}}}", first.trim_end().trim_end_matches(',')))
                .map_err(|e| anyhow::anyhow!("net log constants unreadable: {e}"))?;
        let tcp_connect_attempt = constants["constants"]["logEventTypes"]["TCP_CONNECT_ATTEMPT"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("net log names no TCP_CONNECT_ATTEMPT event type"))?;
        let mut log = NetLog {
            urls: vec![],
            tcp_connects: vec![],
            events: 0,
        };
        for line in lines {
            let Ok(e) = serde_json::from_str::<Value>(line.trim().trim_end_matches(',')) else {
                continue;
            };
            if e.get("type").is_none() {
                continue;
            }
            log.events += 1;
            if let Some(u) = e["params"]["url"].as_str() {
                log.urls.push(u.to_string());
            }
            if e["type"].as_u64() == Some(tcp_connect_attempt) {
                if let Some(a) = e["params"]["address"].as_str() {
                    log.tcp_connects.push(a.to_string());
                }
            }
        }
        log.urls.sort();
        log.urls.dedup();
        Ok(log)
    }
}
