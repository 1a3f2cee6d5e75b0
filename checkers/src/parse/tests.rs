use super::*;
use serde_json::json;

fn err(r: Result<History, ParseError>) -> ParseError {
    match r {
        Ok(h) => panic!("expected an error, parsed {} ops", h.ops.len()),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- JSONL

#[test]
fn jsonl_reads_ops_skips_blank_lines_and_fills_index() {
    let text = "\n{\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":1,\"time\":5}\r\n\n   \n\
                {\"index\":7,\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":1,\"node\":\"n1\"}\n\
                {\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"start-partition\",\"value\":[\"n1\"]}\n";
    let h = jsonl(text).unwrap();
    assert_eq!(h.ops.len(), 3);
    assert_eq!(h.ops[0].index, Some(0));
    assert_eq!(h.ops[0].time, 5);
    assert_eq!(h.ops[1].index, Some(7));
    assert_eq!(h.ops[1].node.as_deref(), Some("n1"));
    assert_eq!(h.ops[2].index, Some(2));
    assert_eq!(h.ops[2].process, Process::Nemesis);
    assert_eq!(h.ops[2].kind, OpType::Info);
}

#[test]
fn jsonl_round_trips_what_op_serializes() {
    let op = Op {
        index: Some(3),
        kind: OpType::Fail,
        process: Process::Client(4),
        f: "add".into(),
        value: json!(9),
        time: 123,
        node: Some("n2".into()),
        error: Some("timeout".into()),
    };
    let text = serde_json::to_string(&op).unwrap();
    assert_eq!(jsonl(&text).unwrap().ops, vec![op]);
}

#[test]
fn jsonl_errors_name_the_line_and_show_an_example() {
    let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":1}\n\n\
                {\"type\":\"ok\",\"process\":0,\"value\":1}\n";
    let e = err(jsonl(text));
    assert_eq!(e.line, 3);
    let shown = e.to_string();
    assert!(shown.starts_with("line 3"), "{shown}");
    assert!(
        shown.contains("invalid JSON op (missing field `f`)"),
        "{shown}"
    );
    assert!(shown.contains(JSONL_EXAMPLE), "{shown}");
    assert!(!shown.contains('\n'));

    let e = err(jsonl("{\"type\":\"ok\",\n"));
    assert_eq!(e.line, 1);
    assert!(e.message.starts_with("invalid JSON ("), "{e}");

    let e = err(jsonl("{\"type\":\"done\",\"process\":0,\"f\":\"add\"}"));
    assert!(e.message.contains("unknown variant `done`"), "{e}");

    let e = err(jsonl("[1,2]"));
    assert!(e.message.contains("expected an object, found `[`"), "{e}");

    let e = err(jsonl("{\"type\":\"ok\",\"process\":[],\"f\":\"add\"}"));
    assert!(
        e.message.contains("process must be a non-negative number"),
        "{e}"
    );
}

// ---------------------------------------------------------------- EDN

#[test]
fn edn_one_map_per_line_with_comments_and_commas() {
    let text = "; a Jepsen history\n\
                {:type :invoke, :f :add, :value 1, :process 0, :time 100, :index 0}\n\
                {:type :ok, :f :add, :value 1, :process 0, :time 200, :index 1} ; trailing\n\
                ,,\n\
                {:type :info, :f :start, :value nil, :process :nemesis, :time -5}\n";
    let h = edn(text).unwrap();
    assert_eq!(h.ops.len(), 3);
    assert_eq!(h.ops[0].f, "add");
    assert_eq!(h.ops[0].value, json!(1));
    assert_eq!(h.ops[1].time, 200);
    assert_eq!(h.ops[2].process, Process::Nemesis);
    assert_eq!(h.ops[2].time, 0, "negative time clamps to 0");
    assert_eq!(h.ops[2].index, Some(2), "index filled from the position");
    assert_eq!(h.ops[2].value, json!(null));
}

#[test]
fn edn_whole_history_as_a_vector_or_a_list() {
    for (open, close) in [("[", "]"), ("(", ")")] {
        let text = format!(
            "{open}{{:type :invoke :process 1 :f :read}}\n {{:type :ok :process 1 :f :read :value #{{3 1 2}}}}{close}\n; done\n"
        );
        let h = edn(&text).unwrap();
        assert_eq!(h.ops.len(), 2, "{text}");
        assert_eq!(
            h.ops[1].value,
            json!([1, 2, 3]),
            "sets of numbers are sorted"
        );
    }
    assert_eq!(edn("[]").unwrap().ops.len(), 0);
    assert_eq!(edn("  ; nothing\n").unwrap().ops.len(), 0);
}

#[test]
fn edn_knossos_tuple_ops_one_per_line_or_in_a_vector() {
    // Knossos's `read-history` shape: [process type f value].
    let lines = "[0 :invoke :read nil]\n[0 :ok :read 1] ; a comment\n\
                 [:nemesis :info :start]\n[1 :invoke :cas [1 2]]\n[1 :fail :cas [1 2]]\n";
    let outer = format!("[{lines}]");
    let list = format!("({lines})");
    for text in [lines, outer.as_str(), list.as_str()] {
        assert_eq!(detect(text).unwrap(), Some(Format::Edn), "{text}");
        let h = auto(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(h.ops.len(), 5, "{text}");
        assert_eq!(h.ops[0].kind, OpType::Invoke);
        assert_eq!(h.ops[0].f, "read");
        assert_eq!(h.ops[0].value, json!(null));
        assert_eq!(h.ops[1].kind, OpType::Ok);
        assert_eq!(h.ops[1].value, json!(1));
        assert_eq!(h.ops[1].index, Some(1));
        assert_eq!(h.ops[2].process, Process::Nemesis);
        assert_eq!(
            h.ops[2].value,
            json!(null),
            "a 3-element tuple has no value"
        );
        assert_eq!(h.ops[4].process, Process::Client(1));
        assert_eq!(h.ops[4].kind, OpType::Fail);
        assert_eq!(h.ops[4].value, json!([1, 2]));
    }
    // Maps and tuples mix, as Knossos's reader allows.
    let h = edn("{:type :invoke :process 0 :f :read}\n[0 :ok :read 3]").unwrap();
    assert_eq!(h.ops[1].value, json!(3));
    // A tuple is checked like a map: the type must be one of the four.
    let e = err(edn("[0 :done :read nil]"));
    assert!(e.message.contains(":type must be"), "{e}");
    let e = err(edn("[0 :ok :read nil 5 6]"));
    assert!(e.message.ends_with("found a vector of 6 elements"), "{e}");
}

#[test]
fn edn_tagged_ops_and_values_keep_the_value() {
    let text = "#jepsen.history.Op{:index 5, :time 9, :type :ok, :process 2, :f :read, \
                :value #{2 1}, :node \"n3\"}\n\
                {:type :info :process 3 :f :add :value #my/elem 4 :error [:crash \"boom\"]}";
    let h = edn(text).unwrap();
    assert_eq!(h.ops[0].index, Some(5));
    assert_eq!(h.ops[0].value, json!([1, 2]));
    assert_eq!(h.ops[0].node.as_deref(), Some("n3"));
    assert_eq!(h.ops[1].value, json!(4));
    assert_eq!(h.ops[1].error.as_deref(), Some("[:crash \"boom\"]"));
}

#[test]
fn edn_scalars_convert_to_json() {
    let text = r#"{:type :ok :process 0 :f :foo/bar :error :timeout :node :n1
       :value [nil true false -12 +7 3N 99999999999999999999 1.5 -2e3 7M 1/4
               "tab\there \"q\" \u00e9 \ud83d\ude00" \a \newline \u0041
               :ns/kw sym {:a 1 "b" 2 3 [4] [5] #{6}} (1 2) #{:x} ##Inf #_ discarded 8]}"#;
    let h = edn(text).unwrap();
    let op = &h.ops[0];
    assert_eq!(op.f, "foo/bar");
    assert_eq!(op.error.as_deref(), Some("timeout"));
    assert_eq!(op.node.as_deref(), Some("n1"));
    assert_eq!(
        op.value,
        json!([
            null, true, false, -12, 7, 3, 1e20, 1.5, -2000.0, 7.0, 0.25,
            "tab\there \"q\" é 😀", "a", "\n", "A",
            "ns/kw", "sym", {"a": 1, "b": 2, "3": [4], "[5]": [6]}, [1, 2], ["x"], "##Inf", 8
        ])
    );
}

#[test]
fn edn_process_may_be_a_number_or_nemesis_and_f_a_string() {
    let h = edn(
        "{:type :invoke :process \"nemesis\" :f \"kill\"} {:type :invoke :process 12 :f \"add\"}",
    )
    .unwrap();
    assert_eq!(h.ops[0].process, Process::Nemesis);
    assert_eq!(h.ops[0].f, "kill");
    assert_eq!(h.ops[1].process, Process::Client(12));
}

#[test]
fn edn_unknown_keys_are_ignored_and_edn_maps_keeps_them() {
    let text = "{:process 0, :type :invoke, :f :append, :key \"4\", :value \"x 0 1 y\"}";
    let h = edn(text).unwrap();
    assert_eq!(h.ops[0].value, json!("x 0 1 y"));
    let maps = edn_maps(text).unwrap();
    assert_eq!(maps[0]["key"], json!("4"));
    assert_eq!(maps[0]["type"], json!("invoke"));
}

#[test]
fn edn_errors_say_what_was_expected_and_where() {
    let e = err(edn("{:type :invoke :process 0 :f :add}\n\n[:type :ok]\n"));
    assert_eq!(
        e.to_string(),
        "line 3, column 1: expected a map with :type, :process and :f, or a [process type f value] vector, found a vector of 2 elements"
    );
    let e = err(edn("[{:type :invoke :process 0 :f :add} 7]"));
    assert!(
        e.message
            .ends_with("or a [process type f value] vector, found an integer"),
        "{e}"
    );

    let e = err(edn(
        "[{:type :invoke :process 0 :f :add}\n {:type :ok :process 0}]",
    ));
    assert_eq!(e.line, 2);
    assert!(e.message.ends_with("missing :f"), "{e}");

    let e = err(edn("{:value 1}"));
    assert!(e.message.ends_with("missing :type, :process and :f"), "{e}");

    let e = err(edn("{:type :done :process 0 :f :add}"));
    assert!(
        e.message
            .contains(":type must be :invoke, :ok, :fail or :info, found :done"),
        "{e}"
    );

    let e = err(edn("{:type :ok :process -1 :f :add}"));
    assert!(e.message.contains(":process must be"), "{e}");

    let e = err(edn("{:type :ok :process 0 :f :add :time \"soon\"}"));
    assert!(e.message.contains(":time must be"), "{e}");

    let e = err(edn("{:type :ok :process 0\n :f :add :value [1 2}"));
    assert_eq!((e.line, e.column), (2, Some(21)));
    assert!(e.message.contains("expected `]`"), "{e}");

    let e = err(edn("[{:type :ok :process 0 :f :add}\n"));
    assert!(e.message.contains("never closed"), "{e}");

    let e = err(edn(
        "[{:type :ok :process 0 :f :add}] {:type :ok :process 0 :f :add}",
    ));
    assert!(e.message.contains("expected the end of the input"), "{e}");

    let e = err(edn("{:type :ok :process 0 :f :add :value \"abc}"));
    assert!(e.message.contains("string opened at line 1"), "{e}");

    let e = err(edn("{:type :ok :process 0 :f :add :value 12ab}"));
    assert!(e.message.contains("invalid number `12ab`"), "{e}");

    let e = err(edn("{:type :ok :process}"));
    assert!(e.message.contains("key without a value"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let text = format!(
        "{{:type :ok :process 0 :f :add :value {}}}",
        "[".repeat(100_000)
    );
    let e = err(edn(&text));
    assert!(e.message.contains("nest more than"), "{e}");
    let text = "#_".repeat(50_000) + "1";
    assert!(edn(&text).is_err());

    // Nesting just under the limit parses, converts and renders even on a
    // small stack (an eighth of the test harness's default).
    let ok = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let depth = edn::MAX_DEPTH - 2;
            let text = format!(
                "{{:type :ok :process 0 :f :add :value {}1{} :error {}}}",
                "[".repeat(depth),
                "]".repeat(depth),
                "#{".repeat(depth) + &"}".repeat(depth)
            );
            let h = edn(&text).unwrap();
            // ... and survives a round trip through faultline's JSONL.
            let line = serde_json::to_string(&h.ops[0]).unwrap();
            assert_eq!(jsonl(&line).unwrap().ops, h.ops);
            h.ops[0].value.to_string().len() + h.ops[0].error.as_ref().map_or(0, |e| e.len())
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(ok > 0);
}

// ---------------------------------------------------------------- auto

#[test]
fn auto_detects_the_format() {
    let j = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}";
    let j_spaced = "\n\n{ \"type\": \"invoke\", \"process\": 0, \"f\": \"read\"}";
    let e1 = "{:type :invoke :process 0 :f :read}";
    let e2 = "; comment\n[{:type :invoke :process 0 :f :read}]";
    let e3 = "(\n{:type :invoke :process 0 :f :read})";
    let e4 = "#jepsen.history.Op{:type :invoke :process 0 :f :read}";
    assert_eq!(detect(j).unwrap(), Some(Format::Jsonl));
    assert_eq!(detect(j_spaced).unwrap(), Some(Format::Jsonl));
    for t in [e1, e2, e3, e4] {
        assert_eq!(detect(t).unwrap(), Some(Format::Edn), "{t}");
    }
    for t in [j, j_spaced, e1, e2, e3, e4] {
        let h = auto(t).unwrap();
        assert_eq!(h.ops.len(), 1, "{t}");
        assert_eq!(h.ops[0].f, "read");
    }
    assert_eq!(auto("").unwrap(), History::default());
    assert_eq!(auto(" \n ; only a comment\n").unwrap().ops.len(), 0);
    let e = err(auto("\n  hello"));
    assert_eq!((e.line, e.column), (2, Some(3)));
    assert!(
        e.message
            .contains("cannot tell the history format from `h`"),
        "{e}"
    );
}

// ---------------------------------------------------------------- robustness

/// A valid EDN history exercising most of the reader.
const RICH_EDN: &str = r#"; header
[#jepsen.history.Op{:index 0, :time 1, :type :invoke, :process 0, :f :add, :value 1}
 {:type :ok, :process 0, :f :add, :value 1, :time 2, :node "n1"}
 {:type :invoke, :process :nemesis, :f :start-partition, :value [:n1 :n2]}
 {:type :info, :process :nemesis, :f :start-partition, :value {"n1" #{"n2"}}}
 {:type :fail, :process 0, :f :add, :value 2, :error [:timeout "slow \"db\""]}
 {:type :ok, :process 3, :f :read, :value #{1 -2 3N}, :c \a, :d 1.5e3, :e 1/2, :g ##NaN}
 #_ {:ignored true}
 {:type :ok, :process 3, :f :read, :value "é\u00e9\ud83d\ude00"}]
"#;

#[test]
fn no_prefix_of_a_valid_history_panics() {
    assert_eq!(edn(RICH_EDN).unwrap().ops.len(), 7);
    let jsonl_text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":1}\n\
                      {\"type\":\"ok\",\"process\":\"nemesis\",\"f\":\"add\",\"value\":[1,\"é\"]}\n";
    for text in [RICH_EDN, jsonl_text] {
        for (i, _) in text.char_indices() {
            let prefix = &text[..i];
            let _ = auto(prefix);
            let _ = edn(prefix);
            let _ = jsonl(prefix);
            let _ = edn_maps(prefix);
            // Cutting from the front too: every suffix.
            let _ = auto(&text[i..]);
            let _ = edn(&text[i..]);
        }
    }
}

#[test]
fn garbage_never_panics() {
    // A small deterministic generator: no dependency needed.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: Vec<char> = "[](){}#_:;,\"\\ \n\tabnu0123456789+-./eENM{}é😀^~@`'"
        .chars()
        .collect();
    for _ in 0..5_000 {
        let len = (next() % 40) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let _ = auto(&text);
        let _ = edn(&text);
        let _ = jsonl(&text);
    }
    // Mutations of a valid history: flip one character at a time.
    let chars: Vec<char> = RICH_EDN.chars().collect();
    for i in 0..chars.len() {
        for c in ['"', '\\', '{', ']', '#', ':', '\n'] {
            let mut m = chars.clone();
            m[i] = c;
            let text: String = m.into_iter().collect();
            let _ = auto(&text);
        }
    }
}

#[test]
fn errors_display_on_one_line() {
    let e = ParseError::new(4, None, "two\nlines");
    assert_eq!(e.to_string(), "line 4: two lines");
}

// ---------------------------------------------------------------- corpus

/// Porcupine's public key-value histories, one EDN map a line, vendored in
/// `tests/data/porcupine` (see its `ORIGIN.md`).
#[test]
fn porcupine_kv_corpus_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/porcupine/kv");
    let entries = std::fs::read_dir(&dir).expect("the vendored Porcupine corpus");
    let mut files = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let h = auto(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!h.ops.is_empty(), "{}", path.display());
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(h.ops.len(), lines, "{}", path.display());
        assert!(h
            .ops
            .iter()
            .all(|o| matches!(o.f.as_str(), "get" | "put" | "append")));
        let maps = edn_maps(&text).unwrap();
        assert!(maps
            .iter()
            .all(|m| m.get("key").is_some_and(|k| k.is_string())));
        files += 1;
    }
    assert!(files > 0, "no .txt files in {}", dir.display());
}

#[test]
fn literals_read_as_json_or_edn() {
    for (text, want) in [
        ("0", json!(0)),
        ("null", json!(null)),
        ("nil", json!(null)),
        ("\"a b\"", json!("a b")),
        ("[1, 2]", json!([1, 2])),
        ("[1 2]", json!([1, 2])),
        ("{\"k\": 1}", json!({"k": 1})),
        ("{:k 1}", json!({"k": 1})),
        (":foo", json!("foo")),
        (" -1.5 ", json!(-1.5)),
    ] {
        assert_eq!(literal(text).unwrap(), want, "{text}");
    }
    for bad in ["", "  ", "1 2", "[1", "{:k}"] {
        assert!(literal(bad).is_err(), "{bad:?}");
    }
    assert!(literal("1 2")
        .unwrap_err()
        .message
        .contains("found more after it"));
}
