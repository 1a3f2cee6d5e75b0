//! Flags and configuration files into a `TestConfig`: what is accepted,
//! what is refused and how.

use super::*;
use crate::commands::{Cli, Command};
use crate::settings::parse_seconds;
use clap::{CommandFactory, FromArgMatches};

fn args(extra: &[&str]) -> TestArgs {
    let mut v = vec!["faultline", "test"];
    v.extend(extra);
    match Cli::try_parse_from(v).unwrap().command {
        Command::Test(a) => *a,
        _ => unreachable!(),
    }
}

#[test]
fn intervals_take_a_default_and_per_kind_overrides() {
    let (d, k) = parse_intervals("5,kill=10,clock=2.5").unwrap();
    assert_eq!(d, 5.0);
    assert_eq!(k[&nemeses::Kind::Kill], 10.0);
    assert_eq!(k[&nemeses::Kind::Clock], 2.5);
    let c = test_config(args(&[
        "--nemesis",
        "all",
        "--nemesis-interval",
        "3,kill=9",
    ]))
    .unwrap();
    assert_eq!(c.nemesis, nemeses::Kind::ALL.to_vec());
    assert_eq!(c.nemesis_options.default_interval_ms, 3000);
    assert_eq!(c.nemesis_options.interval_ms[&nemeses::Kind::Kill], 9000);
    assert!(c
        .command
        .contains("--nemesis partition,loss,clock,kill,pause"));
}

#[test]
fn a_schedule_file_replaces_the_drawn_timeline_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    let kinds = vec![nemeses::Kind::Kill, nemeses::Kind::Clock];
    let t = nemeses::schedule::timeline(4, &kinds, &nodes, &Default::default(), 20_000).unwrap();
    let good = dir.path().join("schedule.json");
    std::fs::write(&good, serde_json::to_string(&t).unwrap()).unwrap();
    let c = test_config(args(&["--nemesis-schedule", good.to_str().unwrap()])).unwrap();
    assert_eq!(c.fixed_schedule.as_ref(), Some(&t));
    let mut expected: Vec<nemeses::Kind> = Vec::new();
    for e in &t {
        if !expected.contains(&e.kind) {
            expected.push(e.kind);
        }
    }
    assert_eq!(c.nemesis, expected);
    assert_eq!(expected.len(), 2);
    assert!(c.command.contains("--nemesis-schedule"));
    // Too few nodes for the file's targets.
    let e = test_config(args(&[
        "--nodes",
        "2",
        "--nemesis-schedule",
        good.to_str().unwrap(),
    ]))
    .unwrap_err()
    .0;
    assert!(
        e.contains("schedule.json") && e.contains("not a node"),
        "{e}"
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[{\"at_ms\": 1}]").unwrap();
    let e = test_config(args(&["--nemesis-schedule", bad.to_str().unwrap()]))
        .unwrap_err()
        .0;
    assert!(e.contains("bad.json") && e.contains("schedule.json"), "{e}");
    let e = test_config(args(&["--nemesis-schedule", "/nonexistent/s.json"]))
        .unwrap_err()
        .0;
    assert!(e.contains("/nonexistent/s.json"), "{e}");
}

#[test]
fn nemesis_targets_primary_needs_a_store_with_a_primary() {
    let redis = |extra: &[&str]| {
        let mut v = vec!["--store", "redis", "--nodes", "3"];
        v.extend(extra);
        test_config(args(&v))
    };
    let c = redis(&[
        "--nemesis",
        "partition,kill",
        "--nemesis-targets",
        "primary",
    ])
    .unwrap();
    assert_eq!(
        c.nemesis_options.targets,
        nemeses::targets::TargetMode::Primary
    );
    assert!(
        c.command.contains(" --nemesis-targets primary"),
        "{}",
        c.command
    );
    assert!(c.command.contains(" --store 'redis'"), "{}", c.command);
    assert_eq!(c.client, workloads::ClientMode::parse("plain").unwrap());
    // The default draws node sets, and the command line says nothing.
    let c = redis(&[]).unwrap();
    assert!(c.nemesis_options.targets.is_nodes());
    assert!(!c.command.contains("nemesis-targets"));
    // A store without a primary refuses, in one line.
    let e = test_config(args(&["--nemesis-targets", "primary"]))
        .unwrap_err()
        .0;
    assert_eq!(
        e,
        "--nemesis-targets primary: --store ringkv has no primary to aim faults at (stores with one: redis)"
    );
    // So does a schedule file aimed at the primary.
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
    let opts = nemeses::schedule::Options {
        targets: nemeses::targets::TargetMode::Primary,
        ..Default::default()
    };
    let t = nemeses::schedule::timeline(4, &[nemeses::Kind::Kill], &nodes, &opts, 20_000).unwrap();
    let file = dir.path().join("schedule.json");
    std::fs::write(&file, serde_json::to_string(&t).unwrap()).unwrap();
    let f = file.to_str().unwrap();
    let e = test_config(args(&["--nodes", "3", "--nemesis-schedule", f]))
        .unwrap_err()
        .0;
    assert!(e.contains("has no primary"), "{e}");
    let c = redis(&["--nemesis-schedule", f]).unwrap();
    assert_eq!(c.fixed_schedule.unwrap(), t);
    // Nonsense and a cluster too small for three Sentinels.
    let e = redis(&["--nemesis-targets", "leader"]).unwrap_err().0;
    assert!(e.contains("nodes, primary"), "{e}");
    let e = test_config(args(&["--store", "redis", "--nodes", "2"]))
        .unwrap_err()
        .0;
    assert!(e.contains("at least 3 nodes"), "{e}");
}

#[test]
fn durations_accept_bare_seconds_and_units() {
    assert_eq!(parse_seconds("30").unwrap(), 30.0);
    assert_eq!(parse_seconds("30s").unwrap(), 30.0);
    assert_eq!(parse_seconds("2m").unwrap(), 120.0);
    assert_eq!(parse_seconds("1.5").unwrap(), 1.5);
    assert!(parse_seconds("soon").unwrap_err().contains("30s"));
    assert!(parse_seconds("-1").is_err());
}

#[test]
fn defaults_are_the_documented_test() {
    let c = test_config(args(&["--seed", "7"])).unwrap();
    assert_eq!(c.nodes, 5);
    assert_eq!(c.concurrency, 10);
    assert_eq!(c.workload, workloads::Workload::Set);
    assert_eq!(c.client, workloads::ClientMode::parse("crdt").unwrap());
    assert_eq!(c.nemesis, vec![nemeses::Kind::Partition]);
    assert_eq!(c.time_limit_s, 30.0);
    assert_eq!(c.name, "set-crdt");
    assert!(c.command.contains("--seed 7"));
}

#[test]
fn nodes_is_a_count_of_local_nodes_or_a_list_of_ssh_hosts() {
    let c = test_config(args(&["--nodes", "3"])).unwrap();
    assert_eq!((c.nodes, c.remote.is_none()), (3, true));
    assert!(!c.command.contains("--remote-dir"), "{}", c.command);
    let c = test_config(args(&[
        "--nodes",
        "10.0.0.1,db2:2222,[fd00::3]",
        "--no-strict-host-key-checking",
        "--remote-dir",
        "/srv/fl",
        "--leave-db-running",
        "--password",
        "secret",
    ]))
    .unwrap();
    assert_eq!(c.nodes, 3);
    let r = c.remote.as_ref().unwrap();
    assert_eq!(r.hosts, ["10.0.0.1:22", "db2:2222", "[fd00::3]:22"]);
    assert_eq!(r.known_hosts, None);
    assert!(r.leave_db_running);
    assert!(
        c.command
            .contains("--nodes 10.0.0.1:22,db2:2222,[fd00::3]:22")
            && c.command.contains("--remote-dir '/srv/fl'")
            && c.command.contains("--no-strict-host-key-checking")
            && c.command.contains("--leave-db-running"),
        "{}",
        c.command
    );
    // The password never reaches test.json or the command.
    let json = serde_json::to_string(&c).unwrap();
    assert!(!json.contains("secret") && !c.command.contains("secret"));
    assert_eq!(r.nodes()[1].name, "n2");
    // A host list needs at least two nodes for faults, as a count does.
    let e = test_config(args(&["--nodes", "a"])).unwrap_err().0;
    assert!(e.contains("at least 2 nodes"), "{e}");
    for bad in ["0", "201", "a;b", "root@a"] {
        assert!(
            Cli::try_parse_from(["faultline", "test", "--nodes", bad]).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    let e = test_config(args(&["--client", "lww"])).unwrap_err().0;
    assert!(e.contains("crdt, rmw"), "{e}");
    let e = test_config(args(&["--nemesis", "meteor"])).unwrap_err().0;
    assert!(e.contains("meteor"), "{e}");
    let e = test_config(args(&["--nodes", "1"])).unwrap_err().0;
    assert!(e.contains("at least 2 nodes"), "{e}");
    let e = test_config(args(&["--workload", "session", "--conflict", "dvv"]))
        .unwrap_err()
        .0;
    assert!(e.contains("--conflict lww"), "{e}");
    let c = test_config(args(&["--workload", "session", "--client", "random"])).unwrap();
    assert_eq!(
        (c.name.as_str(), c.client.name()),
        ("session-random", "random")
    );
    let e = test_config(args(&["--workload", "sequence", "--client", "sticky"]))
        .unwrap_err()
        .0;
    assert!(e.contains("no client mode \"sticky\""), "{e}");
    let e = test_config(args(&["--conflict", "lamport"])).unwrap_err().0;
    assert!(e.contains("--conflict") && e.contains("dvv"), "{e}");
    let c = test_config(args(&["--client", "rmw", "--conflict", "dvv"])).unwrap();
    assert_eq!(c.name, "set-rmw-dvv");
    assert_eq!(c.quorums.conflict, Conflict::Dvv);
    assert!(c.command.contains("--conflict dvv"));
    let e = test_config(args(&["--w", "4"])).unwrap_err().0;
    assert!(e.contains("--w"), "{e}");
    let e = test_config(args(&["--subnet", "10.0.0.0/30"]))
        .unwrap_err()
        .0;
    assert!(e.contains("subnet"), "{e}");
    assert!(Cli::try_parse_from(["faultline", "test", "--nodes", "0"]).is_err());
}

/// `faultline test ARGS` as the command line gives them, with `file`
/// (if any) as its `--config`: every repetition's configuration.
fn configs(file: Option<&str>, extra: &[&str]) -> Result<Vec<TestConfig>, UsageError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    let mut argv = vec!["faultline".to_string(), "test".to_string()];
    if let Some(text) = file {
        std::fs::write(&path, text).unwrap();
        argv.extend(["--config".to_string(), path.display().to_string()]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    let m = Cli::command().try_get_matches_from(argv).unwrap();
    let sub = m.subcommand_matches("test").unwrap();
    match Cli::from_arg_matches(&m).unwrap().command {
        Command::Test(a) => test_configs(*a, sub),
        _ => unreachable!(),
    }
}

#[test]
fn concurrency_is_a_number_or_a_multiple_of_the_node_count() {
    let c = test_config(args(&["--nodes", "3", "--concurrency", "2n"])).unwrap();
    assert_eq!(c.concurrency, 6);
    assert!(c.command.contains("--concurrency 6 "), "{}", c.command);
    let c = test_config(args(&["--nodes", "4", "--concurrency", "n"])).unwrap();
    assert_eq!(c.concurrency, 4);
    let c = test_config(args(&["--nodes", "4", "--concurrency", "7"])).unwrap();
    assert_eq!(c.concurrency, 7);
    let c = test_config(args(&["--nodes", "4"])).unwrap();
    assert_eq!(c.concurrency, 8, "the default is 2n");
    let e = test_config(args(&["--nodes", "200", "--concurrency", "6n"]))
        .unwrap_err()
        .0;
    assert_eq!(
        e,
        "--concurrency 6n is 1200 workers with 200 nodes; it must be 1 to 1000"
    );
    // Bad text stops at the edge, as clap's one-line error.
    for bad in ["2x", "0", "-3n", "1.5n"] {
        let flag = format!("--concurrency={bad}");
        let e = Cli::try_parse_from(["faultline", "test", &flag])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--concurrency"), "{bad}: {e}");
    }
    // A configuration file takes a number or "Kn"; the flag wins.
    let file = "nodes = 3\nconcurrency = \"3n\"\n";
    assert_eq!(configs(Some(file), &[]).unwrap()[0].concurrency, 9);
    let c = &configs(Some(file), &["--concurrency", "1n"]).unwrap()[0];
    assert_eq!(c.concurrency, 3);
    let file = "nodes = 3\nconcurrency = 5\n";
    assert_eq!(configs(Some(file), &[]).unwrap()[0].concurrency, 5);
    let e = configs(Some("concurrency = \"two\"\n"), &[]).unwrap_err().0;
    assert!(e.contains("concurrency") && !e.contains('\n'), "{e}");
}

#[test]
fn test_count_repeats_the_test_with_the_seeds_that_follow_the_first() {
    let c = configs(None, &["--seed", "41", "--test-count", "3"]).unwrap();
    let seeds: Vec<u64> = c.iter().map(|c| c.seed).collect();
    assert_eq!(seeds, [41, 42, 43]);
    assert!(c[2].command.contains("--seed 43 "), "{}", c[2].command);
    assert!(c
        .iter()
        .all(|c| c.name == c.name.clone() && c.name == "set-crdt"));
    // Without --seed, the first is drawn and the others follow it.
    let c = configs(None, &["--test-count", "2"]).unwrap();
    assert_eq!(c[1].seed, c[0].seed.wrapping_add(1));
    // A seed from a configuration file counts from there.
    let c = configs(Some("seed = 7\n"), &["--test-count", "2"]).unwrap();
    assert_eq!((c[0].seed, c[1].seed), (7, 8));
    assert_eq!(c[1].config.as_ref().unwrap().text, "seed = 7\n");
    assert_eq!(configs(None, &[]).unwrap().len(), 1);
    for bad in [&["--test-count", "0"][..], &["--keep-going"]] {
        let mut argv = vec!["faultline", "test"];
        argv.extend(bad);
        assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
    }
}
