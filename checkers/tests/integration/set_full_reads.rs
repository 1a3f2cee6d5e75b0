//! set-full on a history shaped like the live set workload's: many
//! processes adding unique elements slightly out of order, reads of the
//! whole growing set in between, final reads of everything. Every
//! acknowledged element is in every read after its add completed, so the
//! verdict is known: valid, nothing lost, nothing unexpected.

use checkers::{parse, set_full, Validity};

fn history() -> String {
    let mut lines = Vec::new();
    let mut t = 0u64;
    let mut push = |lines: &mut Vec<String>, kind: &str, p: u64, f: &str, v: String| {
        t += 1_000;
        lines.push(format!(
            r#"{{"type":"{kind}","process":{p},"f":"{f}","value":{v},"time":{t}}}"#
        ));
    };
    let mut acked: Vec<i64> = Vec::new();
    let mut e = 0i64;
    for round in 0..300 {
        // Four adds in flight at once, completing in reverse order.
        let batch: Vec<i64> = (0..4).map(|i| e + i).collect();
        e += 5; // every fifth number is never added
        for (p, x) in batch.iter().enumerate() {
            push(&mut lines, "invoke", p as u64, "add", x.to_string());
        }
        for (p, x) in batch.iter().enumerate().rev() {
            push(&mut lines, "ok", p as u64, "add", x.to_string());
            acked.push(*x);
        }
        if round % 3 == 0 {
            let mut seen = acked.clone();
            seen.sort_unstable();
            let list = format!("{seen:?}").replace(' ', "");
            push(&mut lines, "invoke", 10, "read", "null".into());
            push(&mut lines, "ok", 10, "read", list);
        }
    }
    let mut all = acked.clone();
    all.sort_unstable();
    let list = format!("{all:?}").replace(' ', "");
    for p in 20..23 {
        push(&mut lines, "invoke", p, "read", "null".into());
        push(&mut lines, "ok", p, "read", list.clone());
    }
    lines.join("\n")
}

#[test]
fn growing_reads_of_out_of_order_adds_are_valid() {
    let text = history();
    let h = parse::jsonl(&text).unwrap();
    let r = set_full::check(&h, Default::default());
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    assert_eq!(r.details["lost_count"], 0, "{}", r.summary);
    assert_eq!(r.details["unexpected_count"], 0, "{}", r.summary);
    assert_eq!(r.details["ok_count"], 1200, "{}", r.summary);
    // The streaming path agrees.
    let online = set_full::SetFull::new(Default::default());
    let mut s = checkers::stream::Stream::new(vec![Box::new(online)]);
    for line in text.lines() {
        s.feed_line(line).unwrap();
    }
    let streamed = s.finish();
    assert_eq!(
        streamed[0].valid,
        Validity::Valid,
        "{}",
        streamed[0].summary
    );
}
