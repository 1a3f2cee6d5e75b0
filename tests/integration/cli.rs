//! The command line as scripts see it: verdict lines and exit codes of
//! `faultline check` on histories with known verdicts, clear one-line
//! errors for bad input, and the CI outputs (`check --junit --markdown
//! --report`, `faultline index`, `faultline serve`). No root needed.

use crate::util::{faultline_bin, read_junit, repo, stderr, stdout, text, KillOnDrop};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// `faultline ARGS...`, to completion.
fn faultline(args: &[&str]) -> Output {
    faultline_bin()
        .args(args)
        .output()
        .expect("running faultline")
}

/// A history of `tests/fixtures/histories/`.
fn fixture(name: &str) -> String {
    repo("tests/fixtures/histories")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn valid_histories_exit_zero() {
    let _area = crate::util::area::enter(module_path!());
    for f in ["set-valid.jsonl", "set-valid.edn", "set-recovered.jsonl"] {
        let o = faultline(&["check", &fixture(f), "--workload", "set"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{f}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains("set valid"), "{f}: {}", stdout(&o));
    }
}

#[test]
fn recovered_indeterminate_adds_are_reported() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&["check", &fixture("set-recovered.jsonl")]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("recovered"), "{}", stdout(&o));
}

#[test]
fn lost_and_unexpected_elements_are_invalid() {
    let _area = crate::util::area::enter(module_path!());
    for (f, word) in [
        ("set-lost.jsonl", "lost"),
        ("set-lost-vector.edn", "lost"),
        ("set-unexpected.edn", "unexpected"),
    ] {
        let o = faultline(&["check", &fixture(f), "--workload", "set"]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{f}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let out = stdout(&o);
        assert!(out.contains("INVALID") && out.contains(word), "{f}: {out}");
    }
}

#[test]
fn several_files_give_one_line_each_and_the_worst_exit_code() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&[
        "check",
        &fixture("set-valid.jsonl"),
        &fixture("set-lost.jsonl"),
        &fixture("set-valid.edn"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // One line per checker the set workload feeds, for each file.
    let out = stdout(&o);
    for f in ["set-valid.jsonl", "set-lost.jsonl", "set-valid.edn"] {
        let lines: Vec<&str> = out.lines().filter(|l| l.contains(f)).collect();
        assert!(lines.iter().any(|l| l.contains(": set ")), "{f}: {out}");
        assert!(
            lines.iter().any(|l| l.contains(": set-full ")),
            "{f}: {out}"
        );
        assert!(lines.iter().any(|l| l.contains(": perf ")), "{f}: {out}");
    }
    assert!(out.contains("set INVALID"), "{out}");
}

/// A recorded run of `tests/fixtures/runs/`.
fn run(name: &str) -> String {
    repo("tests/fixtures/runs").join(name).display().to_string()
}

#[test]
fn sequence_and_session_runs_are_checked_offline_with_their_checkers() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&[
        "check",
        &run("sequence-crdt.jsonl"),
        "--workload",
        "sequence",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for line in ["crdt valid", "convergence valid", "perf valid"] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let o = faultline(&[
        "check",
        &run("session-random.jsonl"),
        "--workload",
        "session",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("sessions INVALID"), "{out}");
    assert!(out.contains("monotonic reads"), "{out}");
    for line in ["staleness valid", "convergence valid", "perf valid"] {
        assert!(out.contains(line), "{line}: {out}");
    }
    // The same history as a register workload: linearizability is judged on
    // the values, sessions on the store's versions.
    let o = faultline(&[
        "check",
        &run("session-random.jsonl"),
        "--workload",
        "register",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains(": linearizable ") && out.contains("sessions INVALID"),
        "{out}"
    );
}

#[test]
fn malformed_histories_name_the_file_and_line() {
    let _area = crate::util::area::enter(module_path!());
    for f in ["set-malformed.jsonl", "set-malformed.edn"] {
        let o = faultline(&["check", &fixture(f)]);
        assert_eq!(o.status.code(), Some(254), "{f}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{f}: one line expected: {err}"
        );
        assert!(err.contains(f) && err.contains("line "), "{f}: {err}");
    }
}

#[test]
fn missing_file_and_unknown_workload_are_bad_arguments() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&["check", "/nonexistent/history.jsonl"]);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("/nonexistent/history.jsonl"));
    let o = faultline(&["check", &fixture("set-valid.jsonl"), "--workload", "bank"]);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("bank"), "{}", stderr(&o));
}

#[test]
fn bad_test_flags_exit_254_before_touching_anything() {
    let _area = crate::util::area::enter(module_path!());
    for args in [
        vec!["test", "--client", "lww"],
        vec!["test", "--nemesis", "meteor"],
        vec!["test", "--time-limit", "soon"],
        vec!["test", "--nodes", "0"],
        vec!["test", "--frobnicate"],
    ] {
        let o = faultline(&args);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty());
    }
}

#[test]
fn help_exits_zero() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("check"));
}

fn porcupine(file: &str) -> String {
    let p = repo("checkers/tests/data/porcupine").join(file);
    assert!(
        p.is_file(),
        "the vendored Porcupine corpus is missing: {}",
        p.display()
    );
    p.display().to_string()
}

#[test]
fn linearizability_verdicts_on_porcupine_files() {
    let _area = crate::util::area::enter(module_path!());
    // etcd_005 is linearizable, etcd_000 is not (Porcupine's known verdicts).
    let o = faultline(&[
        "check",
        &porcupine("jepsen/etcd_005.log"),
        "--workload",
        "register",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("linearizable valid"), "{}", stdout(&o));
    let o = faultline(&[
        "check",
        &porcupine("jepsen/etcd_000.log"),
        "--workload",
        "register",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("linearizable INVALID") && stdout(&o).contains("cannot be linearized"),
        "{}",
        stdout(&o)
    );
    let o = faultline(&["check", &porcupine("kv/c01-bad.txt"), "--workload", "kv"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let o = faultline(&["check", &porcupine("kv/c01-ok.txt"), "--workload", "kv"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

fn knossos(file: &str) -> String {
    let p = repo("checkers/tests/data/knossos/cas-register").join(file);
    assert!(
        p.is_file(),
        "the vendored Knossos corpus is missing: {}",
        p.display()
    );
    p.display().to_string()
}

#[test]
fn knossos_verdicts_on_jepsen_edn_with_knossos_reading_by_default() {
    let _area = crate::util::area::enter(module_path!());
    // Knossos finds this valid: its reads, writes and cas fail by the
    // hundred, and a Jepsen `:fail` means only "did not take effect".
    let good = knossos("good/mongodb-v0-ack-rollback-0.edn");
    for extra in [&[][..], &["--initial-value", "0"][..]] {
        let mut args = vec!["check", &good, "--workload", "register"];
        args.extend_from_slice(extra);
        let o = faultline(&args);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("linearizable valid"), "{}", stdout(&o));
        assert!(stdout(&o).contains("[reading: knossos"), "{}", stdout(&o));
    }
    // Read as a client whose failed cas always means "compare failed", it
    // is not linearizable.
    let o = faultline(&[
        "check",
        &good,
        "--workload",
        "register",
        "--fail-is-evidence",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("[reading: failed cas as evidence, nil reads no evidence]"),
        "{}",
        stdout(&o)
    );
    // Knossos's bad history: invalid, blocked on the read Knossos names.
    let bad = knossos("bad/cas-failure.edn");
    let tmp = tempfile::tempdir().unwrap();
    let md = tmp.path().join("summary.md");
    let o = faultline(&[
        "check",
        &bad,
        "--workload",
        "register",
        "--initial-value",
        "0",
        "--markdown",
        md.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("linearizable INVALID")
            && stdout(&o).contains("read by process 70 returned 0 [#488–#491]"),
        "{}",
        stdout(&o)
    );
    // The command that checks it again keeps the flags.
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains("--workload register") && md.contains("--initial-value 0"),
        "{md}"
    );
}

#[test]
fn knossos_tuple_histories_and_reading_flags() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path().join("tuples.edn");
    // Knossos's [process type f value] shape; the read of 0 needs the
    // register to start at 0, and a failed cas of 0 is evidence only when
    // asked.
    std::fs::write(
        &h,
        "[0 :invoke :read nil]\n[0 :ok :read 0]\n[1 :invoke :cas [0 5]]\n[1 :fail :cas [0 5]]\n",
    )
    .unwrap();
    let h = h.to_str().unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec!["check", h, "--workload", "register"];
        args.extend_from_slice(extra);
        faultline(&args)
    };
    let o = check(&[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let o = check(&["--initial-value", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = check(&["--initial-value", "0", "--fail-is-evidence"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let o = check(&["--initial-value", "0", "--reading", "porcupine"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    // Bad flags are one-line errors and exit 254.
    for (args, says) in [
        (
            vec!["--reading", "jepsen"],
            "known: knossos, porcupine, faultline",
        ),
        (vec!["--initial-value", "[1"], "not a JSON or EDN literal"),
        (
            vec!["--workload", "set", "--fail-is-evidence"],
            "apply to --workload register",
        ),
        (
            vec!["--workload", "counter", "--initial-value", "0"],
            "--initial-value applies to",
        ),
    ] {
        let mut all = vec!["check", h];
        all.extend_from_slice(&args);
        let o = faultline(&all);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn knossos_model_verdicts_on_knossos_files() {
    let _area = crate::util::area::enter(module_path!());
    let knossos = |file: &str| {
        let p = repo("checkers/tests/data/knossos").join(file);
        assert!(
            p.is_file(),
            "the vendored Knossos file is missing: {}",
            p.display()
        );
        p.display().to_string()
    };
    // Knossos's etcd mutex history is in its bad/ folder.
    let o = faultline(&[
        "check",
        &knossos("mutex/bad/etcd.edn"),
        "--workload",
        "mutex",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("linearizable INVALID") && stdout(&o).contains("acquire by process"),
        "{}",
        stdout(&o)
    );
    // The same history is not a queue's: the fix is named.
    let o = faultline(&[
        "check",
        &knossos("mutex/bad/etcd.edn"),
        "--workload",
        "fifo-queue",
    ]);
    assert!(
        stdout(&o).contains("knows enqueue and dequeue, not \"release\""),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = faultline(&["check", "--help"]);
    assert!(stdout(&o).contains("multi-register"), "{}", stdout(&o));
    // Knossos's multi-register history is valid from x = y = 0, as its
    // tests assert (`(multi-register {:x 0 :y 0})`), and not from null.
    let file = knossos("multi-register/good/multi-register.edn");
    let from = |initial: Option<&str>| {
        let mut args = vec!["check", &file, "--workload", "multi-register"];
        if let Some(v) = initial {
            args.extend(["--initial-value", v]);
        }
        faultline(&args)
    };
    let o = from(Some("{:x 0, :y 0}"));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = from(Some(r#"{"x": 0, "y": 0}"#));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = from(None);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    // A register value where a map is due: the verdict is unknown, saying why.
    let o = from(Some("0"));
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("must be a map of register to value"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn kv_workload_has_no_live_client_yet() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&["test", "--workload", "kv"]);
    assert_eq!(o.status.code(), Some(254), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("no live client yet"), "{}", stderr(&o));
}

#[test]
fn set_full_stays_valid_on_a_live_history_with_reads_during_the_run() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&["check", &fixture("set-full-midrun-reads.jsonl")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains(
            ": set-full valid — none of 605 known elements lost (605 ok, 0 stale, 0 never read)"
        ),
        "{out}"
    );
}

// ---- CI outputs ----

#[test]
fn check_writes_junit_and_markdown_for_each_history() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let junit = tmp.path().join("junit.xml");
    let md = tmp.path().join("summary.md");
    let reports = tmp.path().join("reports");
    let o = faultline(&[
        "check",
        "--workload",
        "set",
        "--junit",
        junit.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
        "--report",
        reports.to_str().unwrap(),
        &fixture("set-lost.jsonl"),
        &fixture("set-valid.jsonl"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let suites = read_junit(&junit);
    let names: Vec<&str> = suites.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["faultline.set-lost", "faultline.set-valid"]);
    let lost = &suites.suites[0];
    assert_eq!((lost.tests, lost.failures, lost.errors), (3, 1, 0));
    let set = &lost.cases[0];
    assert_eq!(set.original_name, "set");
    assert_eq!(set.classname.as_deref(), Some("faultline.set-lost.set"));
    let f = set.status.failure_as_ref();
    assert!(f.message.contains("acknowledged elements lost"), "{f:?}");
    assert_eq!(suites.suites[1].failures, 0);
    assert!(suites.suites[1].cases.iter().all(|c| c.status.is_success()));

    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.starts_with("### ❌ faultline set-lost: INVALID\n"),
        "{md}"
    );
    assert!(md.contains("### ✅ faultline set-valid: valid\n"), "{md}");
    assert!(
        md.contains("| set | ❌ INVALID | 1 of 3 acknowledged elements lost"),
        "{md}"
    );
    // The anomaly in words, for readers who never open the report.
    assert!(md.contains("**What went wrong:**"), "{md}");
    assert!(
        md.contains("- **set**: lost element: element 2 was acknowledged to process"),
        "{md}"
    );
    // One report per history, with the anomaly explained.
    let page = std::fs::read_to_string(reports.join("set-lost.html")).unwrap();
    assert!(page.contains(r#"id="verdict""#) && page.contains("lost element"));
    assert!(reports.join("set-valid.html").is_file());
    assert!(
        md.contains(&format!(
            "```sh\nfaultline check --workload set {}\n```",
            fixture("set-lost.jsonl")
        )),
        "{md}"
    );
}

#[test]
fn an_unreadable_history_is_an_erroring_suite_and_exit_254() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let junit = tmp.path().join("junit.xml");
    let o = faultline(&[
        "check",
        "--junit",
        junit.to_str().unwrap(),
        &fixture("set-valid.jsonl"),
        "/nonexistent/history.jsonl",
    ]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
    let suites = read_junit(&junit);
    assert_eq!(suites.suites.len(), 2);
    let bad = &suites.suites[1];
    assert_eq!(bad.name, "faultline.history");
    assert_eq!((bad.tests, bad.errors), (1, 1));
    assert_eq!(bad.cases[0].original_name, "run");
    assert!(bad.cases[0]
        .status
        .error_as_ref()
        .message
        .contains("cannot read /nonexistent/history.jsonl"));
}

#[test]
fn an_unwritable_output_is_a_bad_argument() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&[
        "check",
        "--markdown",
        "/nonexistent/dir/summary.md",
        &fixture("set-valid.jsonl"),
    ]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
    assert!(text(&o).contains("--markdown"), "{}", text(&o));
}

fn fake_run(results: &Path, test: &str, stamp: &str, valid: &str) {
    let d = results.join(test).join(stamp);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("results.json"),
        format!(r#"{{"valid": {valid}, "checkers": [], "op_count": 1, "interrupted": false, "duration_s": 3.0}}"#),
    )
    .unwrap();
    std::fs::write(
        d.join("test.json"),
        r#"{"seed": 77, "workload": "set", "nemesis": []}"#,
    )
    .unwrap();
    std::fs::write(d.join("report.html"), format!("<p>report of {test}</p>")).unwrap();
}

#[test]
fn index_regenerates_the_page_and_refuses_a_missing_folder() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    fake_run(tmp.path(), "set-crdt", "20261124T100000.000", "true");
    fake_run(tmp.path(), "set-rmw", "20261124T110000.000", "false");
    let o = faultline(&["index", "--results", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let html = std::fs::read_to_string(tmp.path().join("index.html")).unwrap();
    let rmw = html
        .find("<td class=\"nowrap\">set-rmw</td>")
        .expect("set-rmw listed");
    let crdt = html
        .find("<td class=\"nowrap\">set-crdt</td>")
        .expect("set-crdt listed");
    assert!(rmw < crdt, "newest first");
    assert!(html.contains("<td class=\"verdict invalid\">INVALID</td>"));
    assert!(html.contains("<td>77</td>"));

    let o = faultline(&["index", "--results", "/nonexistent/results"]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
}

#[test]
fn serve_prints_its_loopback_url_serves_the_index_and_stops_on_sigterm() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    fake_run(tmp.path(), "set-crdt", "20261124T100000.000", "true");
    let mut child = KillOnDrop(
        faultline_bin()
            .args([
                "serve",
                "--port",
                "0",
                "--results",
                tmp.path().to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url:?}"
    );
    assert!(!url.ends_with(":0/"), "{url}");
    // serve regenerated the index at start.
    assert!(tmp.path().join("index.html").is_file());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let index = client.get(&url).send().await.unwrap();
        assert_eq!(index.status(), 200);
        let body = index.text().await.unwrap();
        assert!(
            body.contains("faultline results") && body.contains("set-crdt"),
            "{body}"
        );
        let report = client
            .get(format!("{url}set-crdt/20261124T100000.000/report.html"))
            .send()
            .await
            .unwrap();
        assert_eq!(report.status(), 200);
        assert_eq!(report.text().await.unwrap(), "<p>report of set-crdt</p>");
    });

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn serve_refuses_a_missing_results_folder() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&["serve", "--port", "0", "--results", "/nonexistent/results"]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
}

#[test]
fn a_bad_config_or_matrix_file_is_one_line_naming_the_file_and_the_key() {
    let _area = crate::util::area::enter(module_path!());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("t.toml");
    std::fs::write(&config, "nodes = 3\n[store]\nfsynk = \"always\"\n").unwrap();
    let o = faultline(&["test", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(254), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("t.toml: unknown key store.fsynk (known in [store]: name, n, r, w,"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&config, "[store]\nconflict = \"lamport\"\n").unwrap();
    let o = faultline(&["test", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(254), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "t.toml: store.conflict: \"lamport\" is not a conflict mode; expected one of lww, vclock, dvv, node-vclock"
        ),
        "{}",
        stderr(&o)
    );

    let matrix = dir.path().join("m.toml");
    std::fs::write(&matrix, "[[row]]\nname = \"x\"\nexpect = \"maybe\"\n").unwrap();
    let o = faultline(&["test-all", "--matrix", matrix.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(254), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("m.toml: row \"x\": expect = \"maybe\": expected \"valid\" or \"invalid\""),
        "{}",
        stderr(&o)
    );
    let o = faultline(&["test-all", "--matrix", "/nonexistent/m.toml"]);
    assert_eq!(o.status.code(), Some(254), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--matrix /nonexistent/m.toml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn heal_run_needs_a_run_folder() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&["heal", "--run", "/nonexistent/run"]);
    assert_eq!(o.status.code(), Some(254), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--run /nonexistent/run"),
        "{}",
        stderr(&o)
    );
    let o = faultline(&["heal", "--run", "/tmp", "--nodes", "a,b"]);
    assert_eq!(o.status.code(), Some(254), "{}", stderr(&o));
}

#[test]
fn matrix_and_repetition_flags_are_checked_at_the_edge() {
    let _area = crate::util::area::enter(module_path!());
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("m.toml");
    std::fs::write(&matrix, "[[row]]\nname = \"x\"\nexpect = \"valid\"\n").unwrap();
    let m = matrix.to_str().unwrap();
    for (args, want) in [
        (
            vec!["test-all", "--matrix", m, "--shard", "3/2"],
            "\"3/2\": I must be 1 to 2",
        ),
        (
            vec!["test-all", "--matrix", m, "--shard", "2"],
            "\"2\": expected I/N",
        ),
        (
            vec!["test-all", "--matrix", m, "--shard", "1/0"],
            "N must be at least 1",
        ),
        (vec!["test-all", "--matrix", m, "--jobs", "0"], "--jobs"),
        (
            vec!["test", "--concurrency", "2x"],
            "\"2x\": expected a number of workers (10) or a multiple of the node count (2n)",
        ),
        (vec!["test", "--concurrency", "0n"], "must be at least 1"),
        (
            vec!["test", "--nodes", "200", "--concurrency", "6n"],
            "--concurrency 6n is 1200 workers with 200 nodes; it must be 1 to 1000",
        ),
        (vec!["test", "--test-count", "0"], "--test-count"),
        (vec!["test", "--keep-going"], "--test-count"),
    ] {
        let o = faultline(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // A shard with no rows runs nothing and is as expected.
    let results = dir.path().join("results");
    let o = faultline(&[
        "test-all",
        "--matrix",
        m,
        "--shard",
        "2/2",
        "--results",
        results.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("(shard 2/2: rows none of 1)"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("matrix m: 0 of 0 rows as expected"),
        "{}",
        stdout(&o)
    );
    // Merging that shard alone: row x is in no shard's results.
    let merged = dir.path().join("merged");
    let o = faultline(&[
        "merge",
        "--results",
        merged.to_str().unwrap(),
        results.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ERROR row \"x\": in no shard's results (shards merged: 2/2)"),
        "{}",
        stdout(&o)
    );
    let o = faultline(&["merge", "/nonexistent/shard"]);
    assert_eq!(o.status.code(), Some(254), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("merge /nonexistent/shard: "),
        "{}",
        stderr(&o)
    );
    // The matrix's child refuses anything but a job from test-all.
    let o = faultline_bin()
        .arg("test-row")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("faultline test-row is run by faultline test-all"),
        "{}",
        stderr(&o)
    );
}

/// The verdict lines of `faultline check` (its standard output), and its
/// exit code.
fn verdicts(args: &[&str]) -> (String, Option<i32>) {
    let o = faultline(args);
    (stdout(&o), o.status.code())
}

#[test]
fn generated_histories_get_their_verdicts_streamed_and_parsed_whole_alike() {
    let _area = crate::util::area::enter(module_path!());
    let tmp = tempfile::tempdir().unwrap();
    let md = tmp.path().join("summary.md");
    let cases: &[(&[&str], &str, i32)] = &[
        (&["set"], "set", 0),
        (&["set", "--invalid"], "set", 1),
        (&["set", "--keys", "40"], "set", 0),
        (&["set", "--keys", "40", "--invalid"], "set", 1),
        (&["counter"], "counter", 0),
        (&["counter", "--invalid"], "counter", 1),
        (&["register", "--crashed", "0.05"], "register", 0),
        (
            &["register", "--crashed", "0.05", "--invalid"],
            "register",
            1,
        ),
    ];
    for (i, (shape, workload, code)) in cases.iter().enumerate() {
        let file = tmp.path().join(format!("h{i}.jsonl"));
        let file = file.to_str().unwrap();
        let mut gen = vec!["generate", "--lines", "20000", "-o", file];
        gen.extend_from_slice(shape);
        let o = faultline(&gen);
        assert_eq!(o.status.code(), Some(0), "{shape:?}: {}", text(&o));
        // Streamed (nothing written that needs the ops) and parsed whole
        // (a Markdown summary needs them): the same lines, the same code.
        let streamed = verdicts(&["check", "--workload", workload, file]);
        let whole = verdicts(&[
            "check",
            "--workload",
            workload,
            "--markdown",
            md.to_str().unwrap(),
            file,
        ]);
        assert_eq!(streamed, whole, "{shape:?}");
        assert_eq!(streamed.1, Some(*code), "{shape:?}: {}", streamed.0);
    }
    // Keyed sets are judged per key, and the lost element's key is named.
    let keyed = tmp.path().join("h3.jsonl");
    let (out, _) = verdicts(&["check", "--workload", "set", keyed.to_str().unwrap()]);
    assert!(
        out.contains("set INVALID — 1 of 40 keys invalid (1 of ") && out.contains(": key k"),
        "{out}"
    );
}

#[test]
fn generate_refuses_a_share_out_of_range_and_an_unknown_shape() {
    let _area = crate::util::area::enter(module_path!());
    let o = faultline(&["generate", "register", "--crashed", "1.5"]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
    assert!(
        stderr(&o).contains("--crashed 1.5 is not a share from 0 to 1"),
        "{}",
        text(&o)
    );
    let o = faultline(&["generate", "bank"]);
    assert_eq!(o.status.code(), Some(254), "{}", text(&o));
}
