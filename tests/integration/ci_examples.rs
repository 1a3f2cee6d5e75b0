//! The CI examples in `examples/ci/`, run here as far as one machine
//! allows: the exact commands of the GitHub Actions workflow and of the
//! Kubernetes Indexed Job are read out of their YAML, pointed at a small
//! matrix instead of nightly.toml, and run — every shard at once, as CI
//! machines would — then merged as the files say. The merged summary must
//! be the whole matrix's. Needs root (the rows are real local clusters).
//!
//! The commands are read line by line, not with a YAML parser: each file
//! keeps them on one line that calls examples/ci/run-shard.sh or
//! merge-shards.sh, and this test fails if that stops being so.

use crate::util;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn example(name: &str) -> String {
    std::fs::read_to_string(Path::new(REPO).join("examples/ci").join(name)).unwrap()
}

/// The commands in `yaml` that call the scripts of examples/ci: `run:`
/// values (GitHub) or list items (a Kubernetes `command`).
fn script_commands(yaml: &str) -> Vec<String> {
    yaml.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("run: ").or_else(|| l.strip_prefix("- ")))
        .filter(|c| c.contains("examples/ci/"))
        .map(str::to_string)
        .collect()
}

/// A command of the examples made to run here: the scripts from this
/// checkout, the small matrix instead of nightly.toml, and `replace`'s
/// other substitutions.
fn localize(cmd: &str, matrix: &Path, replace: &[(&str, String)]) -> String {
    let mut c = cmd
        .replace("examples/ci/", &format!("{REPO}/examples/ci/"))
        .replace("nightly.toml", matrix.to_str().unwrap());
    for (from, to) in replace {
        assert!(c.contains(from), "{cmd} has no {from}");
        c = c.replace(from, to);
    }
    c
}

/// `sh -c CMD` in `cwd`, with FAULTLINE the binary under test.
fn sh(cmd: &str, cwd: &Path, env: &[(&str, String)]) -> std::process::Child {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_faultline"));
    let ringkv = util::ringkv_bin();
    let mut sh = Command::new("sh");
    sh.args(["-c", cmd])
        .current_dir(cwd)
        .env("FAULTLINE", bin)
        .env("FAULTLINE_RINGKV_BIN", ringkv)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        sh.env(k, v);
    }
    sh.spawn().unwrap()
}

/// A shard's command, the folder it runs in, and its environment.
type ShardCommand = (String, PathBuf, Vec<(&'static str, String)>);

/// Runs every shard's command at once; their outputs, in shard order.
fn run_shards(cmds: Vec<ShardCommand>) -> Vec<Output> {
    let children: Vec<_> = cmds
        .iter()
        .map(|(cmd, cwd, env)| sh(cmd, cwd, env))
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// What the small matrix's shards exit with, cut 4 ways: a row each (a-safe
/// as expected, b-wrong differs, c-broken fails, d-safe as expected).
const SHARD_CODES: [i32; 4] = [0, 1, 255, 0];

/// The merged folder is the whole small matrix: its rows, in order, with
/// their verdicts, and the exit code of an unsharded run.
fn assert_whole_matrix(o: &Output, results: &Path) {
    let text = util::text(o);
    assert_eq!(o.status.code(), Some(255), "{text}");
    assert_eq!(
        util::count_line(&String::from_utf8_lossy(&o.stdout)),
        "matrix small: 2 of 4 rows as expected, 1 differs, 1 error"
    );
    let dir = util::matrix_dir(results);
    assert_eq!(util::matrix_rows(&dir), util::small_matrix_verdicts());
    for row in ["a-safe", "b-wrong", "d-safe"] {
        assert!(util::run_dir(results, row).join("report.html").is_file());
    }
    assert!(results.join("index.html").is_file());
    assert!(dir.join("junit.xml").is_file() && dir.join("summary.md").is_file());
}

#[test]
fn the_github_workflow_runs_its_shards_and_merges_them_into_the_whole_matrix() {
    let _area = crate::util::area::enter(module_path!());
    util::require_root();
    let yaml = example("github-actions.yml");
    let cmds = script_commands(&yaml);
    let [shard_cmd, merge_cmd] = &cmds[..] else {
        panic!("expected one run-shard.sh and one merge-shards.sh step: {cmds:?}")
    };
    assert!(shard_cmd.contains("run-shard.sh"), "{shard_cmd}");
    assert!(merge_cmd.contains("merge-shards.sh"), "{merge_cmd}");
    // Root on the runner through sudo; this test is root already.
    let shard_cmd = shard_cmd
        .strip_prefix("sudo -E ")
        .expect("the shard step runs as root");
    // `shard: [1, 2, ...]` and the N of the command agree.
    let values: Vec<String> = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("shard: ["))
        .expect("a shard: [...] matrix")
        .trim_end_matches(']')
        .split(',')
        .map(|v| v.trim().to_string())
        .collect();
    assert_eq!(values, ["1", "2", "3", "4"]);
    assert!(
        shard_cmd.contains("${{ matrix.shard }} 4 results"),
        "{shard_cmd}"
    );
    // What the emulation below does with artifacts is what the file says.
    for line in [
        "name: faultline-shard-${{ matrix.shard }}",
        "path: results",
        "pattern: faultline-shard-*",
        "path: shards",
    ] {
        assert!(yaml.contains(line), "the workflow has no `{line}`");
    }

    let tmp = tempfile::tempdir().unwrap();
    let matrix = tmp.path().join("small.toml");
    std::fs::write(&matrix, util::SMALL_MATRIX).unwrap();
    // Each shard on a runner of its own: a checkout directory each.
    let runners: Vec<PathBuf> = values
        .iter()
        .map(|v| {
            let d = tmp.path().join(format!("runner-{v}"));
            std::fs::create_dir_all(&d).unwrap();
            d
        })
        .collect();
    let outs = run_shards(
        values
            .iter()
            .zip(&runners)
            .map(|(v, cwd)| {
                let c = localize(shard_cmd, &matrix, &[("${{ matrix.shard }}", v.clone())]);
                (c, cwd.clone(), vec![])
            })
            .collect(),
    );
    for (o, want) in outs.iter().zip(SHARD_CODES) {
        assert_eq!(o.status.code(), Some(want), "{}", util::text(o));
    }
    // upload-artifact `results` as faultline-shard-I; download-artifact
    // with the pattern into shards/faultline-shard-I.
    let merger = tmp.path().join("runner-merge");
    std::fs::create_dir_all(merger.join("shards")).unwrap();
    for (v, r) in values.iter().zip(&runners) {
        let to = merger.join(format!("shards/faultline-shard-{v}"));
        let ok = Command::new("cp")
            .arg("-a")
            .arg(r.join("results"))
            .arg(&to)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let merge = localize(merge_cmd, &matrix, &[]);
    let o = sh(&merge, &merger, &[]).wait_with_output().unwrap();
    assert_whole_matrix(&o, &merger.join("results"));
}

#[test]
fn the_kubernetes_indexed_job_runs_its_shards_and_merges_them_into_the_whole_matrix() {
    let _area = crate::util::area::enter(module_path!());
    util::require_root();
    let yaml = example("kubernetes-indexed-job.yaml");
    let cmds = script_commands(&yaml);
    let [shard_cmd, merge_cmd] = &cmds[..] else {
        panic!("expected one run-shard.sh and one merge-shards.sh command: {cmds:?}")
    };
    assert!(shard_cmd.contains("run-shard.sh"), "{shard_cmd}");
    assert!(merge_cmd.contains("merge-shards.sh"), "{merge_cmd}");
    assert!(yaml.contains("completionMode: Indexed"));
    let completions: usize = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions: "))
        .expect("completions: N")
        .parse()
        .unwrap();
    assert_eq!(completions, 4);
    assert!(shard_cmd.contains(") 4 /results/"), "{shard_cmd}");

    let tmp = tempfile::tempdir().unwrap();
    let matrix = tmp.path().join("small.toml");
    std::fs::write(&matrix, util::SMALL_MATRIX).unwrap();
    // The shared volume mounted at /results.
    let volume = tmp.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    let at = |c: &str| localize(c, &matrix, &[("/results", volume.display().to_string())]);
    // Every pod at once, each with its completion index.
    let outs = run_shards(
        (0..completions)
            .map(|i| {
                let cwd = tmp.path().join(format!("pod-{i}"));
                std::fs::create_dir_all(&cwd).unwrap();
                (
                    at(shard_cmd),
                    cwd,
                    vec![("JOB_COMPLETION_INDEX", i.to_string())],
                )
            })
            .collect(),
    );
    for (o, want) in outs.iter().zip(SHARD_CODES) {
        assert_eq!(o.status.code(), Some(want), "{}", util::text(o));
    }
    for i in 1..=completions {
        assert!(volume.join(format!("shard-{i}")).is_dir(), "shard-{i}");
    }
    let o = sh(&at(merge_cmd), tmp.path(), &[])
        .wait_with_output()
        .unwrap();
    assert_whole_matrix(&o, &volume.join("merged"));
}

#[test]
fn the_scripts_refuse_missing_arguments_with_their_usage() {
    let _area = crate::util::area::enter(module_path!());
    for (script, args) in [
        ("run-shard.sh", vec!["m.toml", "1"]),
        ("merge-shards.sh", vec!["out"]),
    ] {
        let o = Command::new(Path::new(REPO).join("examples/ci").join(script))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(254), "{script}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("usage:"), "{err}");
    }
}
