//! Configuration files: what is read, what is refused, and how a file and
//! the command line combine.

use super::*;
use crate::commands::Cli;
use crate::settings::test_config_with;
use clap::{CommandFactory, FromArgMatches};

/// `faultline test ARGS` with `text` as its `--config` file.
fn run(text: &str, args: &[&str]) -> Result<crate::settings::TestConfig, UsageError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, text).unwrap();
    let mut argv = vec!["faultline", "test", "--config", path.to_str().unwrap()];
    argv.extend(args);
    let m = Cli::command().try_get_matches_from(argv).unwrap();
    let sub = m.subcommand_matches("test").unwrap();
    match Cli::from_arg_matches(&m).unwrap().command {
        crate::commands::Command::Test(a) => test_config_with(*a, sub),
        _ => unreachable!(),
    }
    .map_err(|e| UsageError(e.0.replace(path.to_str().unwrap(), "t.toml")))
}

fn err(text: &str) -> String {
    let e = run(text, &[]).unwrap_err().0;
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

#[test]
fn ssh_nodes_and_their_login_come_from_the_file_and_flags_win() {
    let key = tempfile::NamedTempFile::new().unwrap();
    let text = format!(
        "nodes = [\"10.0.0.1\", \"db2:2222\", \"10.0.0.3\"]\n[ssh]\nusername = \"admin\"\nprivate_key = {:?}\nstrict_host_key_checking = false\nremote_dir = \"/srv/fl\"\nleave_db_running = true\n",
        key.path().display().to_string()
    );
    let c = run(&text, &["--seed", "1"]).unwrap();
    let r = c.remote.expect("SSH nodes");
    assert_eq!(r.hosts, ["10.0.0.1:22", "db2:2222", "10.0.0.3:22"]);
    assert_eq!(
        (
            r.username.as_str(),
            r.remote_dir.to_str(),
            r.leave_db_running
        ),
        ("admin", Some("/srv/fl"), true)
    );
    assert_eq!(r.private_key.as_deref(), Some(key.path()));
    assert_eq!(r.known_hosts, None, "strict_host_key_checking = false");
    assert_eq!(c.nodes, 3);
    // Flags win: a count on the command line means local nodes, and
    // --strict-host-key-checking turns the check back on.
    let c = run(&text, &["--nodes", "4"]).unwrap();
    assert!(c.remote.is_none());
    assert_eq!(c.nodes, 4);
    let c = run(&text, &["--strict-host-key-checking", "--username", "root"]).unwrap();
    let r = c.remote.unwrap();
    assert!(r.known_hosts.is_some());
    assert_eq!(r.username, "root");
    // A count in the file is local nodes, as before.
    assert!(run("nodes = 3\n", &[]).unwrap().remote.is_none());
}

#[test]
fn bad_node_lists_name_the_key() {
    let e = err("nodes = []\n");
    assert!(e.contains("nodes") && e.contains("list of hosts"), "{e}");
    let e = err("nodes = [\"a b\"]\n");
    assert!(e.contains("nodes"), "{e}");
    let e = err("nodes = 3\nnodes_file = \"hosts.txt\"\n");
    assert!(e.contains("nodes_file") && e.contains("not both"), "{e}");
    let e = err("[ssh]\nuser = \"x\"\n");
    assert!(e.contains("ssh.user") && e.contains("username"), "{e}");
}

#[test]
fn the_example_file_sets_every_table() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/test.toml"))
            .unwrap();
    let c = run(&text, &["--seed", "1"]).unwrap();
    assert_eq!((c.workload.name(), c.client.name()), ("set", "rmw"));
    assert_eq!(c.keys, 1);
    assert_eq!(c.nemesis, [nemeses::Kind::Partition, nemeses::Kind::Clock]);
    assert_eq!(c.nemesis_options.interval_ms[&nemeses::Kind::Clock], 3000);
    assert_eq!(c.nemesis_options.default_interval_ms, 5000);
    assert_eq!(c.quorums.conflict, Conflict::Lww);
    assert_eq!(c.time_limit_s, 30.0);
    assert_eq!(c.convergence_timeout_s, 30.0);
    // Every checker option there is its default: none is recorded.
    assert!(c.checker_options.is_default(), "{:?}", c.checker_options);
    let src = c.config.unwrap();
    assert_eq!(src.text, text);
    assert!(src.path.ends_with("t.toml") && src.row.is_none());
}

#[test]
fn the_file_overrides_defaults_and_flags_given_override_the_file() {
    let file = r#"
        nodes = 3
        time_limit = "7s"
        seed = "18446744073709551615"
        [workload]
        name = "register"
        client = "quorum"
        [store]
        conflict = "dvv"
        read_repair = false
        anti_entropy = 0
        n = 2
        r = 1
        w = 1
        [nemesis]
        faults = ["clock"]
        interval = 2
        intervals = { clock = "1s" }
        [checkers.convergence]
        timeout = "4s"
    "#;
    let c = run(file, &[]).unwrap();
    assert_eq!(c.nodes, 3);
    assert_eq!(c.concurrency, 6, "2 per node of the file's nodes");
    assert_eq!(c.time_limit_s, 7.0);
    assert_eq!(c.seed, u64::MAX);
    assert_eq!((c.workload.name(), c.client.name()), ("register", "quorum"));
    assert_eq!(c.quorums.conflict, Conflict::Dvv);
    assert!(!c.quorums.read_repair);
    assert_eq!(c.quorums.anti_entropy_ms, 0);
    assert_eq!((c.quorums.n, c.quorums.r, c.quorums.w), (2, 1, 1));
    assert_eq!(c.nemesis, [nemeses::Kind::Clock]);
    assert_eq!(c.nemesis_options.default_interval_ms, 2000);
    assert_eq!(c.nemesis_options.interval_ms[&nemeses::Kind::Clock], 1000);
    assert_eq!(c.convergence_timeout_s, 4.0);
    assert!(c.command.contains("--no-read-repair") && c.command.contains("--n 2"));

    // A flag on the command line wins, even one equal to its default
    // (`--nodes 5`, `--nemesis partition`): given is not the same as
    // defaulted.
    let c = run(
        file,
        &[
            "--nodes",
            "5",
            "--nemesis",
            "partition",
            "--conflict",
            "vclock",
            "--seed",
            "9",
            "--nemesis-interval",
            "3",
        ],
    )
    .unwrap();
    assert_eq!(c.nodes, 5);
    assert_eq!(c.nemesis, [nemeses::Kind::Partition]);
    assert_eq!(c.quorums.conflict, Conflict::Vclock);
    assert_eq!(c.seed, 9);
    assert_eq!(c.nemesis_options.default_interval_ms, 3000);
    assert!(
        c.nemesis_options.interval_ms.is_empty(),
        "the flag replaces intervals too"
    );
    // What no flag overrode still comes from the file.
    assert_eq!(c.time_limit_s, 7.0);
    assert_eq!(c.client, workloads::ClientMode::parse("quorum").unwrap());
    assert!(!c.quorums.read_repair);

    // An empty file is the flags' defaults.
    let c = run("", &["--seed", "7"]).unwrap();
    let d = crate::settings::test_config(crate::settings::default_test_args()).unwrap();
    assert_eq!(
        (c.nodes, c.time_limit_s, c.rate),
        (d.nodes, d.time_limit_s, d.rate)
    );
    assert_eq!(c.nemesis, d.nemesis);
    assert_eq!(c.quorums, d.quorums);
}

#[test]
fn unknown_keys_name_the_key_the_file_and_what_is_known() {
    let e = err("nodez = 3\n");
    assert!(e.starts_with("t.toml: unknown key nodez"), "{e}");
    assert!(e.contains("known at the top level: name, nodes"), "{e}");
    let e = err("[store]\nfsynk = \"always\"\n");
    assert!(
        e.starts_with("t.toml: unknown key store.fsynk (known in [store]: name, n, r, w"),
        "{e}"
    );
    let e = err("[checkers.sibling]\nbound = 3\n");
    assert!(
        e.contains("unknown key checkers.sibling") && e.contains("siblings"),
        "{e}"
    );
    let e = err("[checkers.siblings]\nmax = 3\n");
    assert!(
        e.contains("unknown key checkers.siblings.max (known in [checkers.siblings]: bound)"),
        "{e}"
    );
    let e = err("[nemesis]\nfaults = [\"kill\"]\n[nemesis.extra]\n");
    assert!(e.contains("unknown key nemesis.extra"), "{e}");
}

#[test]
fn bad_values_name_the_key_and_the_allowed_values() {
    for (text, want) in [
        ("[store]\nconflict = \"lamport\"\n", "t.toml: store.conflict: \"lamport\" is not a conflict mode; expected one of lww, vclock, dvv, node-vclock"),
        ("[store]\nfsync = \"sometimes\"\n", "t.toml: store.fsync: \"sometimes\" is not an fsync policy; expected one of always, interval, never, off"),
        ("[workload]\nname = \"bank\"\n", "t.toml: workload.name: unknown workload \"bank\"; known: set, register"),
        ("[workload]\nname = \"set\"\nclient = \"cas\"\n", "t.toml: workload.client: workload set has no client mode \"cas\"; known: crdt, rmw"),
        ("[nemesis]\nfaults = [\"meteor\"]\n", "t.toml: nemesis.faults: unknown nemesis \"meteor\""),
        ("[nemesis]\nfaults = \"kill\"\n", "t.toml: nemesis.faults: invalid type: string \"kill\", expected a list"),
        ("[nemesis.intervals]\nmeteor = 3\n", "t.toml: nemesis.intervals.meteor: unknown fault kind; known: partition, loss, clock"),
        ("[nemesis]\ninterval = 0.1\n", "t.toml: nemesis.interval: 0.1 s is below 0.5 s"),
        ("time_limit = \"soon\"\n", "t.toml: time_limit: \"soon\" is not a duration"),
        ("nodes = true\n", "t.toml: nodes: invalid type: boolean `true`, expected a number of local nodes (1 to 200) or a list of hosts"),
        ("nodes = 0\n", "t.toml: nodes: 0 is out of range (1 to 200)"),
        ("rate = -1\n", "t.toml: rate: -1 must be a positive number"),
        ("seed = -3\n", "t.toml: seed: -3 is negative"),
        ("[checkers.siblings]\nbound = \"lots\"\n", "t.toml: checkers.siblings.bound: \"lots\": expected \"writers\", \"causal\", \"unbounded\" or a number"),
        ("[checkers.siblings]\nbound = 0\n", "t.toml: checkers.siblings.bound: 0: expected"),
        ("workload = \"set\"\n", "t.toml: workload: invalid type: string \"set\", expected a table"),
        ("name = \"a/b\"\n", "t.toml: name: \"a/b\" must be a plain folder name"),
        ("nodes = 3\n[store\n", "t.toml: not valid TOML (line 2)"),
    ] {
        let e = err(text);
        assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
    }
    // What depends on several settings is checked after the flags.
    let e = err("[store]\nr = 3\nw = 4\n");
    assert!(
        e.contains("--r 3 / --w 4") && e.contains("t.toml and the command line"),
        "{e}"
    );
    let e = load(Path::new("/nonexistent.toml")).unwrap_err().0;
    assert!(e.starts_with("--config /nonexistent.toml: "), "{e}");
}

#[test]
fn checker_options_are_kept_unless_defaults_and_rerun_the_checker() {
    let c = run(
        "[checkers.siblings]\nbound = 3\n[checkers.set-full]\nlinearizable = true\n[checkers.perf]\nwindow = \"1s\"\n[checkers.linearizable]\nmax_steps = 1000\n[checkers.staleness]\nmax_visibility = \"250ms\"\n",
        &[],
    )
    .unwrap();
    let o = &c.checker_options;
    assert_eq!(o.siblings_bound, Some(SiblingBound::AtMost(3)));
    assert_eq!(o.set_full_linearizable, Some(true));
    assert_eq!(o.perf_window_s, None, "1 s is perf's default");
    assert_eq!(o.linear().budget.max_steps, 1000);
    assert_eq!(o.staleness().max_visibility_ms, Some(250.0));
    // Saved in test.json and read back.
    let back: CheckerOptions = serde_json::from_str(&serde_json::to_string(o).unwrap()).unwrap();
    assert_eq!(&back, o);
    let causal = run("[checkers.siblings]\nbound = \"causal\"\n", &[]).unwrap();
    assert_eq!(
        causal.checker_options.siblings_bound,
        Some(SiblingBound::Causal)
    );

    // An element acknowledged, then missed by a read that began after
    // the add returned: stale, which set-full reports and, with
    // `linearizable = true`, calls invalid.
    let h = checkers::parse::jsonl(
        r#"{"type":"invoke","process":0,"f":"add","value":1,"time":0}
{"type":"ok","process":0,"f":"add","value":1,"time":1000000}
{"type":"invoke","process":1,"f":"read","value":null,"time":2000000}
{"type":"ok","process":1,"f":"read","value":[],"time":3000000}
{"type":"invoke","process":1,"f":"read","value":null,"time":4000000}
{"type":"ok","process":1,"f":"read","value":[1],"time":5000000}"#,
    )
    .unwrap();
    let full = |r: &[checkers::CheckResult]| {
        r.iter()
            .find(|c| c.checker == checkers::set_full::NAME)
            .unwrap()
            .valid
    };
    let defaults = workloads::check("set", &h).unwrap();
    assert_eq!(full(&defaults), checkers::Validity::Valid);
    let with = workloads::check_with("set", &h, &o.check_options()).unwrap();
    assert_eq!(full(&with), checkers::Validity::Invalid);
    // The linearizability budget reaches the checker: a budget of one
    // step cannot decide a register history that needs more.
    let tight = CheckerOptions {
        linearizable_max_steps: Some(1),
        ..Default::default()
    };
    let reg = checkers::parse::jsonl(
        r#"{"type":"invoke","process":0,"f":"write","value":1}
{"type":"ok","process":0,"f":"write","value":1}
{"type":"invoke","process":1,"f":"write","value":2}
{"type":"invoke","process":2,"f":"read","value":null}
{"type":"ok","process":2,"f":"read","value":1}
{"type":"ok","process":1,"f":"write","value":2}
{"type":"invoke","process":0,"f":"read","value":null}
{"type":"ok","process":0,"f":"read","value":2}"#,
    )
    .unwrap();
    let lin = |o: &CheckerOptions| {
        workloads::check_with("register", &reg, &o.check_options()).unwrap()[0].valid
    };
    assert_eq!(lin(&CheckerOptions::default()), checkers::Validity::Valid);
    assert_eq!(lin(&tight), checkers::Validity::Unknown);
}

/// The first ```toml block after `heading` in README.md.
pub(crate) fn readme_toml(heading: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let at = readme.find(heading).expect("the README's heading");
    let block = &readme[at..];
    let start = block.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = block[start..].find("```").unwrap();
    block[start..start + end].to_string()
}

#[test]
fn the_readme_example_is_a_valid_config() {
    let c = run(&readme_toml("## Tests as files"), &[]).unwrap();
    assert_eq!(c.seed, 42);
    assert_eq!(
        c.checker_options.siblings_bound,
        Some(SiblingBound::AtMost(3))
    );
    assert_eq!(c.checker_options.staleness_max_versions_behind, Some(2));
}

#[test]
fn merge_is_deep_for_tables_and_replaces_the_rest() {
    let mut base: toml::Table =
        "nodes = 5\n[store]\nr = 2\nw = 2\n[nemesis]\nfaults = [\"kill\"]\n"
            .parse()
            .unwrap();
    let over: toml::Table = "nodes = 3\n[store]\nw = 3\n[nemesis]\nfaults = []\n"
        .parse()
        .unwrap();
    merge(&mut base, over);
    let f = from_table(base, "m").unwrap();
    assert_eq!(
        f.nodes,
        Some(Nodes(crate::cluster::nodes::NodesArg::Count(3)))
    );
    assert_eq!((f.store.r, f.store.w), (Some(2), Some(3)));
    assert_eq!(f.nemesis.faults, Some(vec![]));
}
