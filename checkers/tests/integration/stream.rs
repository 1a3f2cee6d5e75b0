//! The streaming checkers give the verdicts of the whole-history `check`
//! functions, however the text is fed: line by line, as bytes cut anywhere,
//! in the caller's thread or with the checkers in a thread of their own;
//! and a malformed, truncated or non-UTF-8 line is an error naming its line,
//! skipped, never a panic.

use checkers::convergence::{self, Convergence};
use checkers::counter::{self, Counter, CounterOps};
use checkers::parse::ParseError;
use checkers::perf::{self, Perf, PerfOptions};
use checkers::set::{self, Set};
use checkers::set_full::{self, SetFull, SetFullOptions};
use checkers::stream::{OnlineChecker, Stream};
use checkers::{parse, CheckResult, Validity};

/// A keyed set-full history with concurrent adds, reads of growing sets,
/// an indeterminate add, and (when `lose`) an element lost from the later
/// reads of one key.
fn set_full_text(keys: u64, lose: bool) -> String {
    let mut out = String::new();
    let mut t = 0u64;
    let mut line = |out: &mut String, kind: &str, p: u64, f: &str, v: String| {
        t += 1_000;
        out.push_str(&format!(
            r#"{{"type":"{kind}","process":{p},"f":"{f}","value":{v},"time":{t}}}"#
        ));
        out.push('\n');
    };
    for k in 0..keys {
        let mut acked: Vec<u64> = Vec::new();
        for i in 0..12u64 {
            let (p, q) = (i % 4, 4 + i % 4);
            let (e, g) = (k * 100 + 2 * i, k * 100 + 2 * i + 1);
            line(&mut out, "invoke", p, "add", format!(r#"["k{k}",{e}]"#));
            line(&mut out, "invoke", q, "add", format!(r#"["k{k}",{g}]"#));
            line(&mut out, "ok", q, "add", format!(r#"["k{k}",{g}]"#));
            let done = if i == 5 { "info" } else { "ok" };
            line(&mut out, done, p, "add", format!(r#"["k{k}",{e}]"#));
            acked.extend([e, g]);
            if i % 3 == 2 {
                let seen: Vec<String> = acked
                    .iter()
                    .filter(|&&x| !(lose && k == 1 && x == 103 && i > 5))
                    .map(u64::to_string)
                    .collect();
                line(&mut out, "invoke", 9, "read", format!(r#"["k{k}",null]"#));
                line(
                    &mut out,
                    "ok",
                    9,
                    "read",
                    format!(r#"["k{k}",[{}]]"#, seen.join(",")),
                );
            }
        }
    }
    out
}

/// A counter history; when `bad`, one read returns more than was added.
fn counter_text(ops: u64, bad: bool) -> String {
    let mut out = String::new();
    let (mut sum, mut t) = (0i64, 0u64);
    for i in 0..ops {
        let d = (i as i64 * 7) % 9 - 3;
        let p = i % 5;
        t += 10;
        out.push_str(&format!(
            "{{\"type\":\"invoke\",\"process\":{p},\"f\":\"add\",\"value\":{d},\"time\":{t}}}\n"
        ));
        t += 10;
        out.push_str(&format!(
            "{{\"type\":\"ok\",\"process\":{p},\"f\":\"add\",\"value\":{d},\"time\":{t}}}\n"
        ));
        sum += d;
        if i % 4 == 3 {
            let v = if bad && i + 1 == ops / 2 {
                sum + 1000
            } else {
                sum
            };
            out.push_str(&format!(
                "{{\"type\":\"invoke\",\"process\":9,\"f\":\"read\",\"time\":{t}}}\n\
                 {{\"type\":\"ok\",\"process\":9,\"f\":\"read\",\"value\":{v},\"time\":{t}}}\n"
            ));
        }
    }
    out
}

/// A convergence history: a fault, a heal, two rounds of local reads on
/// three replicas; round 1 disagrees on some keys, round 2 too when
/// `diverge`. Values are integers, strings and lists.
fn convergence_text(keys: u64, diverge: bool) -> String {
    let mut out = String::from(
        "{\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"start-partition\",\"value\":[\"n1\"],\"time\":0}\n\
         {\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"stop-partition\",\"value\":null,\"time\":5}\n",
    );
    let mut t = 10u64;
    for round in 0..2 {
        for k in 0..keys {
            for (p, node) in ["n1", "n2", "n3"].iter().enumerate() {
                let off = (k % 7 == 0 && p == 2 && (round == 0 || diverge)) as u64;
                let v = match k % 3 {
                    0 => (k + off).to_string(),
                    1 => format!("\"v{}\"", k + off),
                    _ => format!("[{},{}]", k, k + off),
                };
                t += 1;
                out.push_str(&format!("{{\"type\":\"invoke\",\"process\":{p},\"f\":\"read-local\",\"value\":[\"k{k}\",null],\"time\":{t},\"node\":\"{node}\"}}\n"));
                t += 1;
                out.push_str(&format!("{{\"type\":\"ok\",\"process\":{p},\"f\":\"read-local\",\"value\":[\"k{k}\",{v}],\"time\":{t},\"node\":\"{node}\"}}\n"));
            }
        }
    }
    out
}

fn checkers() -> Vec<Box<dyn OnlineChecker + Send>> {
    vec![
        Box::new(SetFull::new(SetFullOptions::default())),
        Box::new(Counter::new(CounterOps::COUNTER, "counter")),
        Box::new(Convergence::new()),
        Box::new(Perf::new(PerfOptions::default())),
        Box::new(Set::new()),
    ]
}

fn stream(threaded: bool) -> Stream {
    if threaded {
        Stream::threaded(checkers())
    } else {
        Stream::new(
            checkers()
                .into_iter()
                .map(|c| -> Box<dyn OnlineChecker> { c })
                .collect(),
        )
    }
}

fn check_all(text: &str) -> Vec<CheckResult> {
    let h = parse::jsonl(text).expect("a valid history");
    vec![
        set_full::check(&h, SetFullOptions::default()),
        counter::check(&h),
        convergence::check(&h),
        perf::check(&h, PerfOptions::default()),
        set::check(&h),
    ]
}

/// Feeds `text` in chunks of `chunk` bytes; the verdicts and the errors.
fn feed(text: &[u8], chunk: usize, threaded: bool) -> (Vec<CheckResult>, Vec<ParseError>) {
    let mut s = stream(threaded);
    let mut errors = Vec::new();
    for piece in text.chunks(chunk.max(1)) {
        if let Err(e) = s.feed_bytes(piece) {
            errors.push(e);
        }
    }
    if let Err(e) = s.end_input() {
        errors.push(e);
    }
    (s.finish(), errors)
}

fn texts() -> Vec<(&'static str, String)> {
    vec![
        ("set-full valid", set_full_text(30, false)),
        ("set-full lost", set_full_text(30, true)),
        ("counter valid", counter_text(3000, false)),
        ("counter invalid", counter_text(3000, true)),
        ("convergence valid", convergence_text(2000, false)),
        ("convergence divergent", convergence_text(2000, true)),
        ("set valid", set_text(false)),
        ("set lost", set_text(true)),
    ]
}

/// An unkeyed set history: concurrent adds (one failed, one indeterminate,
/// one never completed), reads during them, and final reads through three
/// nodes; when `lose`, one acknowledged element is missing from the last.
fn set_text(lose: bool) -> String {
    let mut out = String::new();
    let mut t = 0u64;
    let mut line = |out: &mut String, kind: &str, p: u64, f: &str, v: String, node: &str| {
        t += 1_000;
        out.push_str(&format!(
            r#"{{"type":"{kind}","process":{p},"f":"{f}","value":{v},"time":{t},"node":"{node}"}}"#
        ));
        out.push('\n');
    };
    let mut acked = Vec::new();
    for e in 0..3000u64 {
        let p = e % 8;
        line(&mut out, "invoke", p, "add", e.to_string(), "n1");
        let done = match e {
            100 => "fail",
            200 => "info",
            _ => "ok",
        };
        if e != 300 {
            line(&mut out, done, p, "add", e.to_string(), "n1");
        }
        if done == "ok" && e != 300 {
            acked.push(e);
        }
        if e % 500 == 499 {
            let seen: Vec<String> = acked.iter().map(u64::to_string).collect();
            line(&mut out, "invoke", 20, "read", "null".into(), "n2");
            line(
                &mut out,
                "ok",
                20,
                "read",
                format!("[{}]", seen.join(",")),
                "n2",
            );
        }
    }
    for (i, node) in ["n1", "n2", "n3"].iter().enumerate() {
        let seen: Vec<String> = acked
            .iter()
            .filter(|&&e| !(lose && i == 2 && e == 1234))
            .map(u64::to_string)
            .collect();
        line(
            &mut out,
            "invoke",
            30 + i as u64,
            "read",
            "null".into(),
            node,
        );
        line(
            &mut out,
            "ok",
            30 + i as u64,
            "read",
            format!("[{}]", seen.join(",")),
            node,
        );
    }
    out
}

#[test]
fn the_histories_have_the_verdicts_they_were_made_for() {
    let want = [
        (0, Validity::Valid),
        (0, Validity::Invalid),
        (1, Validity::Valid),
        (1, Validity::Invalid),
        (2, Validity::Valid),
        (2, Validity::Invalid),
        (4, Validity::Valid),
        (4, Validity::Invalid),
    ];
    for ((name, text), (checker, validity)) in texts().iter().zip(want) {
        let r = &check_all(text)[checker];
        assert_eq!(r.valid, validity, "{name}: {}", r.summary);
    }
}

#[test]
fn streaming_gives_the_verdicts_of_check_however_it_is_fed() {
    for (name, text) in texts() {
        let want = check_all(&text);
        // Line by line.
        for threaded in [false, true] {
            let mut s = stream(threaded);
            for line in text.lines() {
                s.feed_line(line).unwrap();
            }
            assert_eq!(s.finish(), want, "{name}, lines, threaded {threaded}");
        }
        // As bytes, cut anywhere (batches of the checking thread end
        // mid-history: these histories are longer than one batch).
        for chunk in [1, 2, 3, 7, 64, 1000, 65536, text.len()] {
            for threaded in [false, true] {
                let (got, errors) = feed(text.as_bytes(), chunk, threaded);
                assert!(errors.is_empty(), "{name}: {errors:?}");
                assert_eq!(got, want, "{name}, chunks of {chunk}, threaded {threaded}");
            }
        }
        // Without the final newline, and with CRLF line ends.
        let trimmed = text.trim_end_matches('\n');
        let crlf = text.replace('\n', "\r\n");
        for t in [trimmed, crlf.as_str()] {
            for threaded in [false, true] {
                let (got, errors) = feed(t.as_bytes(), 4096, threaded);
                assert!(errors.is_empty(), "{name}: {errors:?}");
                assert_eq!(got, want, "{name}, threaded {threaded}");
            }
        }
    }
}

#[test]
fn bad_lines_are_errors_naming_the_line_and_are_skipped() {
    let good = convergence_text(50, false) + &counter_text(200, false);
    let lines: Vec<&str> = good.lines().collect();
    // Each bad line replaces the good line at its position (1-based line
    // numbers), so the rest of the history is checked as without it.
    let bad: Vec<(usize, Vec<u8>, &str)> = vec![
        (
            3,
            br#"{"type":"invoke","process":0,"f":"read-lo"#.to_vec(),
            "EOF",
        ),
        (10, b"not json at all".to_vec(), "expected an object"),
        (
            57,
            b"{\"type\":\"ok\",\"process\":1,\"f\":\"read-local\",\"value\":[\"k\xff\",1]}"
                .to_vec(),
            "UTF-8",
        ),
        (
            120,
            br#"{"type":"ok","process":2,"f":"read-local","value":[1,2]]}"#.to_vec(),
            "JSON",
        ),
        (
            400,
            br#"{"type":"bogus","process":2,"f":"add"}"#.to_vec(),
            "bogus",
        ),
        (401, br#"[1,2,3]"#.to_vec(), "expected an object"),
    ];
    let mut text: Vec<u8> = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match bad.iter().find(|(n, ..)| *n == i + 1) {
            Some((_, b, _)) => text.extend_from_slice(b),
            None => {
                text.extend_from_slice(line.as_bytes());
                kept.push(line);
            }
        }
        text.push(b'\n');
    }
    // What the bad lines' neighbours make of it: the history without them.
    let want = {
        let mut s = stream(false);
        for l in &kept {
            s.feed_line(l).unwrap();
        }
        s.finish()
    };
    for chunk in [1, 5, 100, 4096, text.len()] {
        for threaded in [false, true] {
            let mut s = stream(threaded);
            let mut errors = Vec::new();
            for piece in text.chunks(chunk) {
                if let Err(e) = s.feed_bytes(piece) {
                    errors.push(e);
                }
            }
            s.end_input().unwrap();
            // Every chunk reports its first error: chunks shorter than a
            // line report them all, longer ones some, the first included.
            let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
            let all: Vec<usize> = bad.iter().map(|b| b.0).collect();
            assert!(lines.iter().all(|l| all.contains(l)), "{lines:?}");
            assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
            if chunk <= 5 {
                assert_eq!(lines, all);
                for (e, (_, _, what)) in errors.iter().zip(&bad) {
                    assert!(
                        e.to_string().contains(what),
                        "line {}: {e} (expected {what:?})",
                        e.line
                    );
                }
            } else {
                assert_eq!(lines.first(), Some(&3), "{errors:?}");
            }
            assert_eq!(s.error_count(), bad.len() as u64);
            assert_eq!(s.finish(), want, "chunks of {chunk}, threaded {threaded}");
        }
    }
}

#[test]
fn a_truncated_last_line_is_an_error_at_the_end_of_input() {
    let text = counter_text(100, false);
    let n = text.lines().count();
    let cut = &text[..text.len() - 20];
    for threaded in [false, true] {
        let mut s = stream(threaded);
        s.feed_bytes(cut.as_bytes()).unwrap();
        let e = s.end_input().unwrap_err();
        assert_eq!(e.line, n, "{e}");
        assert!(e.to_string().contains(&format!("line {n}")), "{e}");
        // The stream still gives the verdicts of the lines before.
        let want = check_all(&text[..text.len() - text.lines().last().unwrap().len() - 1]);
        assert_eq!(s.finish(), want);
    }
}

#[test]
fn nothing_fed_gives_the_verdicts_of_an_empty_history() {
    for threaded in [false, true] {
        let (got, errors) = feed(b"", 10, threaded);
        assert!(errors.is_empty());
        assert_eq!(got, check_all(""));
        let (got, errors) = feed(b"\n\n  \n", 1, threaded);
        assert!(errors.is_empty());
        assert_eq!(got, check_all(""));
    }
}

#[test]
fn errors_are_those_of_parsing_the_whole_history() {
    let good = counter_text(20, false);
    let n = good.lines().count();
    for bad in [
        r#"{"type":"invoke","process":0,"f":"rea"#,
        "not json",
        r#"{"type":"ok","process":1,"f":"read","value":[1,2]]}"#,
        r#"{"type":"bogus","process":2,"f":"add"}"#,
        r#"{"type":"ok","process":-1,"f":"add"}"#,
        r#"{"type":"ok","process":1,"f":"add","value":1.5e999}"#,
        r#"{"type":"ok","process":1}"#,
        "[1]",
    ] {
        let text = format!("{good}{bad}\n{good}");
        let want = parse::jsonl(&text).unwrap_err();
        assert_eq!(want.line, n + 1);
        for threaded in [false, true] {
            let (_, errors) = feed(text.as_bytes(), 50, threaded);
            assert_eq!(errors, vec![want.clone()], "{bad}");
        }
    }
}
