//! The daemon refuses bad directories with one clear line on stderr and a failing exit.

use std::process::Command;

fn run(args: &[&std::path::Path]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_faultfs"))
        .arg("--backing")
        .arg(args[0])
        .arg("--mount")
        .arg(args[1])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_or_overlapping_directories_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("backing");
    let mount = dir.path().join("mount");
    std::fs::create_dir(&backing).unwrap();

    let (ok, err) = run(&[&backing, &mount]);
    assert!(!ok);
    assert!(
        err.contains("mount directory") && err.contains("mount"),
        "{err}"
    );

    let (ok, err) = run(&[&dir.path().join("nope"), &backing]);
    assert!(!ok);
    assert!(err.contains("backing directory"), "{err}");

    let inner = backing.join("inner");
    std::fs::create_dir(&inner).unwrap();
    let (ok, err) = run(&[&backing, &inner]);
    assert!(!ok);
    assert!(err.contains("overlap"), "{err}");
}
