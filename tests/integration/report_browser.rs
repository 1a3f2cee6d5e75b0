//! Browser acceptance test of the HTML report (issue 6).
//!
//! Renders reports (a valid run, an invalid run of each checker, a run of
//! 100 000 ops), checks each page stays under [`MAX_PAGE_BYTES`], and opens it
//! in real headless Chromium (Debian's `chromium`, driven over the DevTools
//! pipe by `util/browser.rs`): the page must show the verdict banner with the
//! right word and the latency plot, log no console error, throw no uncaught
//! exception and request no URL but its own; the browser as a whole must
//! open no TCP connection. Screenshots land in `<target>/report-screenshots/`.
//!
//! Hand-written pages prove that each of those checks can fail.
//!
//! Without Chromium the browser part fails with a one-line hint, unless
//! `FAULTLINE_SKIP_BROWSER=1`, which skips it loudly.

use crate::util::browser::{self, Chromium, Js, Visit};
use checkers::{History, Validity};
use faultline::artifacts::results::Results;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A report must stay under this size, whatever the history (issue 6).
const MAX_PAGE_BYTES: usize = 5 * 1024 * 1024;

/// Where a case's history comes from.
enum Source {
    /// A file in `tests/fixtures/histories/`.
    Fixture(&'static str),
    /// A recorded run in `tests/fixtures/runs/`.
    Run(&'static str),
    /// A JSONL history written out here.
    Inline(&'static str),
}

/// One report to render and open.
struct Case {
    /// Names the page and its screenshot.
    name: &'static str,
    /// The workload whose checkers judge the history.
    workload: &'static str,
    /// The history.
    source: Source,
    /// The verdict the banner must show.
    expected: Validity,
    /// The checkers that must each find the history invalid (every checker
    /// but `perf`, which is always valid, has a case here).
    invalid: &'static [&'static str],
}

/// The reports to check; one line (or one history) per added case.
#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { name: "set-valid", workload: "set", source: Source::Fixture("set-valid.jsonl"), expected: Validity::Valid, invalid: &[] },
    Case { name: "set-lost", workload: "set", source: Source::Fixture("set-lost.jsonl"), expected: Validity::Invalid, invalid: &["set"] },
    Case { name: "set-unexpected", workload: "set", source: Source::Fixture("set-unexpected.edn"), expected: Validity::Invalid, invalid: &["set", "set-full"] },
    Case { name: "set-no-final-read", workload: "set", source: Source::Inline(SET_NO_READ), expected: Validity::Unknown, invalid: &[] },
    Case { name: "run-set-rmw", workload: "set", source: Source::Run("set-rmw.jsonl"), expected: Validity::Invalid, invalid: &["set", "set-full"] },
    Case { name: "run-counter-rmw", workload: "counter", source: Source::Run("counter-rmw.jsonl"), expected: Validity::Invalid, invalid: &["counter"] },
    Case { name: "run-register-quorum", workload: "register", source: Source::Run("register-quorum.jsonl"), expected: Validity::Invalid, invalid: &["linearizable"] },
    Case { name: "run-set-noconv", workload: "set", source: Source::Run("set-noconv.jsonl"), expected: Validity::Invalid, invalid: &["convergence"] },
    Case { name: "run-set-all-faults", workload: "set", source: Source::Run("set-all.jsonl"), expected: Validity::Valid, invalid: &[] },
    Case { name: "set-full-midrun-reads", workload: "set", source: Source::Fixture("set-full-midrun-reads.jsonl"), expected: Validity::Valid, invalid: &[] },
    Case { name: "register-invalid", workload: "register", source: Source::Inline(REGISTER_INVALID), expected: Validity::Invalid, invalid: &["linearizable"] },
    Case { name: "counter-invalid", workload: "counter", source: Source::Inline(COUNTER_INVALID), expected: Validity::Invalid, invalid: &["counter"] },
    Case { name: "convergence-invalid", workload: "counter", source: Source::Inline(CONVERGENCE_INVALID), expected: Validity::Invalid, invalid: &["convergence"] },
    Case { name: "or-set-invalid", workload: "or-set", source: Source::Inline(OR_SET_INVALID), expected: Validity::Invalid, invalid: &["crdt"] },
    Case { name: "siblings-invalid", workload: "siblings", source: Source::Inline(SIBLINGS_INVALID), expected: Validity::Invalid, invalid: &["siblings"] },
    Case { name: "run-sequence-crdt", workload: "sequence", source: Source::Run("sequence-crdt.jsonl"), expected: Validity::Valid, invalid: &[] },
    Case { name: "sequence-invalid", workload: "sequence", source: Source::Inline(SEQUENCE_INVALID), expected: Validity::Invalid, invalid: &["crdt"] },
    Case { name: "run-session-random", workload: "session", source: Source::Run("session-random.jsonl"), expected: Validity::Invalid, invalid: &["sessions"] },
];

/// Two replicas agree on list l0, but a mid-run read listed 2 before 3 and
/// they list 3 before 2: no single order explains the reads.
const SEQUENCE_INVALID: &str = r#"
{"type":"invoke","process":0,"f":"insert","value":["l0",1],"time":1000000,"node":"n1"}
{"type":"ok","process":0,"f":"insert","value":["l0",1],"time":2000000,"node":"n1"}
{"type":"invoke","process":1,"f":"insert","value":["l0",2],"time":3000000,"node":"n2"}
{"type":"ok","process":1,"f":"insert","value":["l0",2],"time":4000000,"node":"n2"}
{"type":"invoke","process":0,"f":"insert","value":["l0",3],"time":5000000,"node":"n1"}
{"type":"ok","process":0,"f":"insert","value":["l0",3],"time":6000000,"node":"n1"}
{"type":"invoke","process":2,"f":"read-list","value":["l0",null],"time":7000000,"node":"n3"}
{"type":"ok","process":2,"f":"read-list","value":["l0",[1,2,3]],"time":8000000,"node":"n3"}
{"type":"invoke","process":1,"f":"insert","value":["l0",9],"time":9000000,"node":"n2"}
{"type":"ok","process":1,"f":"insert","value":["l0",9],"time":10000000,"node":"n2"}
{"type":"invoke","process":3,"f":"read-list","value":["l0",null],"time":11000000,"node":"n1"}
{"type":"ok","process":3,"f":"read-list","value":["l0",[1,3,2,9]],"time":12000000,"node":"n1"}
{"type":"invoke","process":4,"f":"read-list","value":["l0",null],"time":13000000,"node":"n2"}
{"type":"ok","process":4,"f":"read-list","value":["l0",[1,3,2,9]],"time":14000000,"node":"n2"}
"#;

/// Adds and no read at all: nothing to judge by.
const SET_NO_READ: &str = r#"
{"type":"invoke","process":0,"f":"add","value":1,"time":1000000,"node":"n1"}
{"type":"ok","process":0,"f":"add","value":1,"time":2000000,"node":"n1"}
"#;

/// A read of 5 from a register only ever written 1.
const REGISTER_INVALID: &str = r#"
{"type":"invoke","process":0,"f":"write","value":1,"time":1000000,"node":"n1"}
{"type":"ok","process":0,"f":"write","value":1,"time":3000000,"node":"n1"}
{"type":"invoke","process":1,"f":"read","value":null,"time":4000000,"node":"n2"}
{"type":"ok","process":1,"f":"read","value":5,"time":6000000,"node":"n2"}
"#;

/// A counter that read 2 after an acknowledged add of 3.
const COUNTER_INVALID: &str = r#"
{"type":"invoke","process":0,"f":"add","value":3,"time":1000000,"node":"n1"}
{"type":"ok","process":0,"f":"add","value":3,"time":2000000,"node":"n1"}
{"type":"invoke","process":1,"f":"read","value":null,"time":3000000,"node":"n2"}
{"type":"ok","process":1,"f":"read","value":2,"time":4000000,"node":"n2"}
"#;

/// Replicas whose local reads still disagree after the last heal.
const CONVERGENCE_INVALID: &str = r#"
{"type":"invoke","process":0,"f":"add","value":3,"time":1000000,"node":"n1"}
{"type":"ok","process":0,"f":"add","value":3,"time":2000000,"node":"n1"}
{"type":"invoke","process":"nemesis","f":"start-partition","value":null,"time":2500000}
{"type":"info","process":"nemesis","f":"start-partition","value":null,"time":2600000}
{"type":"invoke","process":"nemesis","f":"stop-partition","value":null,"time":3000000}
{"type":"info","process":"nemesis","f":"stop-partition","value":null,"time":3100000}
{"type":"invoke","process":1,"f":"read","value":null,"time":4000000,"node":"n1"}
{"type":"ok","process":1,"f":"read","value":3,"time":5000000,"node":"n1"}
{"type":"invoke","process":1,"f":"read-local","value":["counter",null],"time":6000000,"node":"n1"}
{"type":"ok","process":1,"f":"read-local","value":["counter",3],"time":7000000,"node":"n1"}
{"type":"invoke","process":2,"f":"read-local","value":["counter",null],"time":6000000,"node":"n2"}
{"type":"ok","process":2,"f":"read-local","value":["counter",0],"time":7000000,"node":"n2"}
"#;

/// An add that began after the remove ended, lost by the final read.
const OR_SET_INVALID: &str = r#"
{"type":"invoke","process":0,"f":"add","value":1,"time":1000000,"node":"n1"}
{"type":"ok","process":0,"f":"add","value":1,"time":2000000,"node":"n1"}
{"type":"invoke","process":1,"f":"remove","value":1,"time":3000000,"node":"n2"}
{"type":"ok","process":1,"f":"remove","value":1,"time":4000000,"node":"n2"}
{"type":"invoke","process":2,"f":"add","value":1,"time":5000000,"node":"n3"}
{"type":"ok","process":2,"f":"add","value":1,"time":6000000,"node":"n3"}
{"type":"invoke","process":3,"f":"read","value":null,"time":7000000,"node":"n1"}
{"type":"ok","process":3,"f":"read","value":[],"time":8000000,"node":"n1"}
"#;

/// Two siblings from writes that were not concurrent.
const SIBLINGS_INVALID: &str = r#"
{"type":"invoke","process":0,"f":"write","value":["k","a"],"time":1000000,"node":"n1"}
{"type":"ok","process":0,"f":"write","value":["k","a"],"time":2000000,"node":"n1"}
{"type":"invoke","process":1,"f":"write","value":["k","b"],"time":3000000,"node":"n2"}
{"type":"ok","process":1,"f":"write","value":["k","b"],"time":4000000,"node":"n2"}
{"type":"invoke","process":2,"f":"read","value":["k",null],"time":5000000,"node":"n3"}
{"type":"ok","process":2,"f":"read","value":["k",["a","b"]],"time":6000000,"node":"n3"}
"#;

/// The test configuration `faultline test --seed 1 --workload W` makes.
fn config(workload: &str) -> faultline::settings::TestConfig {
    let cli = <faultline::commands::Cli as clap::Parser>::try_parse_from([
        "faultline",
        "test",
        "--seed",
        "1",
        "--workload",
        workload,
    ])
    .expect("parsing the test command line");
    match cli.command {
        faultline::commands::Command::Test(a) => {
            faultline::settings::test_config(*a).expect("test config")
        }
        _ => unreachable!(),
    }
}

/// Checks `history` with `workload`'s checkers and renders its report into
/// `dir/name.html`, asserting the verdict (and that each checker of
/// `invalid` found the history invalid) and the page size; returns the
/// page's path and how long checking and rendering took.
fn render(
    dir: &Path,
    name: &str,
    workload: &str,
    history: &History,
    expected: Validity,
    invalid: &[&str],
) -> (PathBuf, std::time::Duration, std::time::Duration) {
    let started = Instant::now();
    let checks = workloads::check(workload, history).expect("checking the history");
    let checked = started.elapsed();
    let results = Results::from_checks(checks, history.ops.len() as u64);
    let verdicts: Vec<String> = results
        .checkers
        .iter()
        .map(|c| format!("{}: {} ({})", c.checker, c.valid.word(), c.summary))
        .collect();
    assert_eq!(results.valid, expected, "{name}: verdicts {verdicts:#?}");
    for checker in invalid {
        assert!(
            results
                .checkers
                .iter()
                .any(|c| c.checker == *checker && c.valid == Validity::Invalid),
            "{name}: checker {checker} should find the history invalid: {verdicts:#?}"
        );
    }
    let started = Instant::now();
    let html = faultline::artifacts::report::render(&config(workload), history, &results, &[])
        .expect("rendering the report");
    let rendered = started.elapsed();
    assert!(
        html.len() < MAX_PAGE_BYTES,
        "{name}: the report is {} bytes, over the {MAX_PAGE_BYTES}-byte bound",
        html.len()
    );
    let path = dir.join(format!("{name}.html"));
    std::fs::write(&path, html).expect("writing the report");
    (path, checked, rendered)
}

/// Renders every case of [`CASES`] into `dir`; returns each case with its page.
fn render_cases(dir: &Path) -> Vec<(&'static Case, PathBuf)> {
    let fixtures = crate::util::repo("tests/fixtures/histories");
    let runs = crate::util::repo("tests/fixtures/runs");
    CASES
        .iter()
        .map(|case| {
            let text = match case.source {
                Source::Fixture(f) => {
                    std::fs::read_to_string(fixtures.join(f)).expect("reading a fixture")
                }
                Source::Run(f) => std::fs::read_to_string(runs.join(f)).expect("reading a run"),
                Source::Inline(t) => t.trim().to_string(),
            };
            let history =
                checkers::parse::auto(&text).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let (path, _, _) = render(
                dir,
                case.name,
                case.workload,
                &history,
                case.expected,
                case.invalid,
            );
            (case, path)
        })
        .collect()
}

/// The `file://` URL of a local file.
fn file_url(path: &Path) -> String {
    let path = path.canonicalize().expect("canonical path");
    let s = path.to_str().expect("UTF-8 path");
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b)),
        "path needs URL escaping: {s}"
    );
    format!("file://{s}")
}

/// `<target>/report-screenshots/`, created: the screenshots for humans.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("report-screenshots");
    std::fs::create_dir_all(&dir).expect("creating the screenshot dir");
    dir
}

/// Writes one line straight to stderr, where it shows even for a passing
/// test (the harness captures `eprintln!` of passing tests).
fn say(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Saves a screenshot for humans and says where.
fn save_screenshot(v: &Visit, name: &str) {
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, &v.screenshot).expect("saving a screenshot");
    say(&format!("screenshot: {}", path.display()));
}

/// Checks that `bytes` is a real screenshot: a PNG that decodes, at least
/// 200×200 pixels, in more than a handful of colours (not a blank page).
/// Returns its width and height.
fn check_png(bytes: &[u8]) -> Result<(u32, u32), String> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(format!(
            "not a PNG (starts {:02x?})",
            &bytes[..bytes.len().min(8)]
        ));
    }
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("PNG header: {e}"))?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("PNG too large")?];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("PNG data: {e}"))?;
    let (w, h) = (info.width, info.height);
    if w < 200 || h < 200 {
        return Err(format!("PNG only {w}×{h}"));
    }
    let px = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    for p in buf[..info.buffer_size()].chunks_exact(px) {
        colours.insert(p.to_vec());
        if colours.len() > 16 {
            return Ok((w, h));
        }
    }
    Err(format!(
        "PNG {w}×{h} has only {} colour(s): a blank page",
        colours.len()
    ))
}

/// Everything wrong with a report page as the browser showed it: the
/// visit's console errors, exceptions and foreign requests, then the
/// contract (banner with `expected`'s word, latency plot) and the
/// screenshot. Empty when the page is fine.
fn report_problems(v: &Visit, expected: Validity) -> Vec<String> {
    let mut out = v.hygiene_problems();
    let class = match expected {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    };
    match &v.probe.banner {
        None => out.push("no verdict banner (id=\"verdict\")".into()),
        Some(b) => {
            if b.first_line != expected.word() {
                out.push(format!(
                    "banner reads {:?}, not {:?}",
                    b.first_line,
                    expected.word()
                ));
            }
            let classes: Vec<&str> = b.class.split_whitespace().collect();
            if !classes.contains(&"banner") || !classes.contains(&class) {
                out.push(format!(
                    "banner classes {:?} lack `banner {class}`",
                    b.class
                ));
            }
            if b.size.0 < 1.0 || b.size.1 < 1.0 {
                out.push(format!("banner not visible (laid out {:?})", b.size));
            }
        }
    }
    if !v.dom.contains("id=\"verdict\"") {
        out.push("rendered DOM lacks id=\"verdict\"".into());
    }
    if !v.probe.latency_plot {
        out.push("no latency plot (figure#plot-latency.plot with an svg)".into());
    }
    if v.probe.plots.is_empty() {
        out.push("no plot figure (figure.plot) with a visible svg".into());
    }
    if let Err(e) = check_png(&v.screenshot) {
        out.push(format!("screenshot: {e}"));
    }
    out
}

/// Visits `path` and asserts the page meets the contract.
fn assert_report_ok(b: &mut Chromium, path: &Path, expected: Validity, screenshot: &str) {
    let v = b
        .visit(&file_url(path))
        .unwrap_or_else(|e| panic!("{screenshot}: {e:#}"));
    save_screenshot(&v, screenshot);
    let problems = report_problems(&v, expected);
    assert!(problems.is_empty(), "{screenshot}: {problems:#?}");
}

/// Closes `b` and asserts no TCP connection was attempted by anything in it.
fn assert_no_connections(b: Chromium) {
    let log = b.close().expect("reading the net log");
    assert!(
        log.events > 0,
        "empty net log: is --log-net-log still honoured?"
    );
    assert!(
        log.tcp_connects.is_empty(),
        "TCP connections attempted: {:?}",
        log.tcp_connects
    );
    if !log.urls.is_empty() {
        eprintln!(
            "Chromium's own background requests (unresolvable, none connected): {:?}",
            log.urls
                .iter()
                .map(|u| u.split('?').next().unwrap_or(u))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn every_report_opens_cleanly_in_chromium() {
    let _area = crate::util::area::enter(module_path!());
    let dir = tempfile::tempdir().unwrap();
    let pages = render_cases(dir.path());
    let Some(bin) = browser::require_chromium("every_report_opens_cleanly_in_chromium") else {
        return;
    };
    let mut b = Chromium::launch(&bin, Js::On).expect("launching chromium");
    for (case, path) in &pages {
        assert_report_ok(&mut b, path, case.expected, case.name);
    }
    assert_no_connections(b);
}

#[test]
fn reports_are_readable_without_javascript() {
    let _area = crate::util::area::enter(module_path!());
    let dir = tempfile::tempdir().unwrap();
    let pages = render_cases(dir.path());
    let Some(bin) = browser::require_chromium("reports_are_readable_without_javascript") else {
        return;
    };
    let mut b = Chromium::launch(&bin, Js::Off).expect("launching chromium");
    // Control: JavaScript really is off (the same page says "on" with it).
    let control = dir.path().join("js-control.html");
    std::fs::write(&control, JS_CONTROL).unwrap();
    let v = b.visit(&file_url(&control)).unwrap();
    assert!(
        v.dom.contains(r#"<p id="js">off</p>"#),
        "a script ran: {}",
        v.dom
    );
    for (case, path) in &pages {
        assert_report_ok(&mut b, path, case.expected, &format!("{}-nojs", case.name));
    }
    assert_no_connections(b);
}

/// A page whose script, if it runs, turns "off" into "on".
const JS_CONTROL: &str = r#"<!DOCTYPE html><html><body><p id="js">off</p><script>document.getElementById("js").textContent = "on";</script></body></html>"#;

#[test]
fn report_of_100k_ops_stays_small_and_opens_cleanly() {
    let _area = crate::util::area::enter(module_path!());
    let dir = tempfile::tempdir().unwrap();
    let history = faultline::artifacts::report::synthetic::set_history(100_040, 6);
    assert!(history.ops.len() >= 100_000, "{} ops", history.ops.len());
    let (path, checked, rendered) = render(
        dir.path(),
        "set-100k",
        "set",
        &history,
        Validity::Valid,
        &[],
    );
    let bytes = std::fs::metadata(&path).unwrap().len();
    say(&format!(
        "100k-op report: {} ops, checked in {checked:.2?}, rendered in {rendered:.2?}, {bytes} bytes ({:.2} MB)",
        history.ops.len(),
        bytes as f64 / 1e6
    ));
    let Some(bin) = browser::require_chromium("report_of_100k_ops_stays_small_and_opens_cleanly")
    else {
        return;
    };
    let mut b = Chromium::launch(&bin, Js::On).expect("launching chromium");
    let started = Instant::now();
    assert_report_ok(&mut b, &path, Validity::Valid, "set-100k");
    say(&format!(
        "100k-op report: opened, probed and screenshot in {:.2?}",
        started.elapsed()
    ));
    assert_no_connections(b);
}

/// A page that meets the report's contract, with `extra` in its body.
fn page(extra: &str) -> String {
    format!(
        r##"<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>
<div class="banner invalid" id="verdict" style="background:#c0392b;color:#fff;padding:16px"><div>INVALID</div><div>set: 1 lost</div></div>
<figure class="card plot" id="plot-latency"><svg xmlns="http://www.w3.org/2000/svg" width="400" height="200"><rect width="400" height="200" fill="#eef"/><circle cx="50" cy="50" r="20" fill="#36c"/></svg></figure>
{extra}
</body></html>"##
    )
}

/// Serves HTTP 404 to whatever connects to a loopback port, for a while;
/// returns the port.
fn loopback_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let until = Instant::now() + std::time::Duration::from_secs(120);
        while Instant::now() < until {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(1)));
                    let _ = s.read(&mut [0u8; 4096]);
                    let _ = s.write_all(
                        b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    });
    port
}

#[test]
fn the_checks_catch_what_they_claim_to() {
    let _area = crate::util::area::enter(module_path!());
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = browser::require_chromium("the_checks_catch_what_they_claim_to") else {
        return;
    };
    let port = loopback_server();
    let tcp_target = format!("http://127.0.0.1:{port}/x.png");
    // (name, page, a problem the checks must report). Each page is the
    // clean control page with one defect.
    let cases: Vec<(&str, String, String)> = vec![
        ("control", page(""), String::new()),
        (
            "console-error",
            page(r#"<script>console.error("boom")</script>"#),
            "console error: boom".into(),
        ),
        (
            "uncaught-exception",
            page(r#"<script>throw new Error("kaboom")</script>"#),
            "uncaught exception: Error: kaboom".into(),
        ),
        (
            "rejected-promise",
            page(r#"<script>Promise.reject(new Error("nope"))</script>"#),
            "uncaught exception: Error: nope".into(),
        ),
        (
            "image-request",
            page(r#"<img src="http://127.0.0.1:9/x.png">"#),
            "request leaving the file: http://127.0.0.1:9/x.png".into(),
        ),
        (
            "iframe",
            page(r#"<iframe src="http://127.0.0.1:9/frame.html"></iframe>"#),
            "request leaving the file: http://127.0.0.1:9/frame.html".into(),
        ),
        (
            "fetch",
            page(r#"<script>fetch("http://127.0.0.1:9/api").catch(() => {})</script>"#),
            "request leaving the file: http://127.0.0.1:9/api".into(),
        ),
        (
            "stylesheet",
            page(r#"<link rel="stylesheet" href="http://127.0.0.1:9/s.css">"#),
            "request leaving the file: http://127.0.0.1:9/s.css".into(),
        ),
        (
            "websocket",
            page(r#"<script>new WebSocket("ws://127.0.0.1:9/")</script>"#),
            "request leaving the file: ws://127.0.0.1:9/".into(),
        ),
        (
            "tcp-request",
            page(&format!(r#"<img src="{tcp_target}">"#)),
            format!("request leaving the file: {tcp_target}"),
        ),
        (
            "no-banner",
            page("").replace(r#"id="verdict""#, r#"id="other""#),
            "no verdict banner".into(),
        ),
        (
            "wrong-word",
            page("").replace("<div>INVALID</div>", "<div>valid</div>"),
            r#"banner reads "valid", not "INVALID""#.into(),
        ),
        (
            "wrong-class",
            page("").replace("banner invalid", "banner valid"),
            "banner classes \"banner valid\" lack `banner invalid`".into(),
        ),
        (
            "hidden-banner",
            page("").replace(
                r#"id="verdict" style=""#,
                r#"id="verdict" style="display:none;"#,
            ),
            "banner not visible".into(),
        ),
        (
            "no-latency-plot",
            page("").replace(r#"id="plot-latency""#, ""),
            "no latency plot".into(),
        ),
        (
            "latency-plot-without-svg",
            page("").replace("<svg", "<div").replace("</svg>", "</div>"),
            "no latency plot".into(),
        ),
        (
            "invisible-plot",
            page("").replace("<svg", r#"<svg style="display:none""#),
            "no plot figure".into(),
        ),
        (
            "blank",
            "<!DOCTYPE html><html><body></body></html>".into(),
            "screenshot: PNG".into(),
        ),
    ];
    let mut b = Chromium::launch(&bin, Js::On).expect("launching chromium");
    for (name, html, expected) in &cases {
        let path = dir.path().join(format!("{name}.html"));
        std::fs::write(&path, html).unwrap();
        let v = b
            .visit(&file_url(&path))
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let problems = report_problems(&v, Validity::Invalid);
        if expected.is_empty() {
            assert!(
                problems.is_empty(),
                "the control page should pass: {problems:#?}"
            );
        } else {
            assert!(
                problems.iter().any(|p| p.contains(expected.as_str())),
                "{name}: expected a problem containing {expected:?}, got {problems:#?}"
            );
        }
        eprintln!("negative test {name}: caught {problems:?}");
    }
    // JavaScript really runs in this browser (the other test's control).
    let control = dir.path().join("js-control.html");
    std::fs::write(&control, JS_CONTROL).unwrap();
    let v = b.visit(&file_url(&control)).unwrap();
    assert!(
        v.dom.contains(r#"<p id="js">on</p>"#),
        "the script did not run: {}",
        v.dom
    );
    // The browser-wide net log saw the loopback connection.
    let log = b.close().expect("reading the net log");
    let addr = format!("127.0.0.1:{port}");
    assert!(
        log.tcp_connects.contains(&addr),
        "net log missed the connection to {addr}: {log:?}"
    );
    assert!(
        log.urls.contains(&tcp_target),
        "net log missed {tcp_target}"
    );
}

#[test]
fn a_hung_chromium_is_killed_at_the_step_timeout() {
    let _area = crate::util::area::enter(module_path!());
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = browser::require_chromium("a_hung_chromium_is_killed_at_the_step_timeout")
    else {
        return;
    };
    let timeout = std::time::Duration::from_secs(2);
    let mut b = Chromium::launch_with_timeout(&bin, Js::On, timeout).expect("launching chromium");
    let path = dir.path().join("page.html");
    std::fs::write(&path, page("")).unwrap();
    // Freeze the whole browser: it will never answer.
    // SAFETY: plain syscall on the process group of our own child, which is
    // not reaped before `b` is dropped.
    assert_eq!(
        unsafe { libc::killpg(b.pid() as libc::pid_t, libc::SIGSTOP) },
        0
    );
    let started = Instant::now();
    let err = b
        .visit(&file_url(&path))
        .expect_err("a frozen browser cannot answer");
    let waited = started.elapsed();
    assert!(
        waited >= timeout && waited < timeout * 3,
        "gave up after {waited:?}: {err:#}"
    );
    // Stopped processes cannot exit by themselves: only the watchdog's
    // SIGKILL ends it. (The bound is generous: what is checked is that the
    // kill happens, not how fast a loaded machine reaps a browser.)
    let until = Instant::now() + Duration::from_secs(30);
    while !b.leader_exited() && Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        b.leader_exited(),
        "the watchdog did not kill the frozen browser"
    );
    let why = err.to_string();
    let why = why.split(';').next().unwrap_or_default();
    say(&format!(
        "hung browser: the visit failed after {waited:.1?} ({why}); the watchdog killed it"
    ));
}

#[test]
fn the_screenshot_check_rejects_blank_and_broken_images() {
    let _area = crate::util::area::enter(module_path!());
    let encode = |w: u32, h: u32, pixels: &dyn Fn(u32, u32) -> [u8; 3]| {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        let mut writer = enc.write_header().unwrap();
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| pixels(x, y)))
            .collect();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    };
    let blank = encode(800, 600, &|_, _| [255, 255, 255]);
    assert!(check_png(&blank).unwrap_err().contains("only 1 colour"));
    let tiny = encode(20, 20, &|x, y| [x as u8 * 10, y as u8 * 10, 0]);
    assert!(check_png(&tiny).unwrap_err().contains("20×20"));
    assert!(check_png(b"<html>").unwrap_err().contains("not a PNG"));
    let mut cut = encode(300, 300, &|x, y| [x as u8, y as u8, 7]);
    cut.truncate(cut.len() / 2);
    assert!(check_png(&cut).is_err());
    let busy = encode(300, 300, &|x, y| [x as u8, y as u8, 7]);
    assert_eq!(check_png(&busy), Ok((300, 300)));
}
