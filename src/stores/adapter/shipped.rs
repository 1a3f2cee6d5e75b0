//! Described stores shipped with faultline: `--store garage`, `--store
//! couch`.
//!
//! Some stores no one here wrote are tested often enough to ship with
//! faultline: their descriptions and adapters live in `examples/adapters/`
//! (where a store author reads them as examples) and are built into the
//! binary, so `--store garage` works from any directory and from a copied
//! binary. On use, the files are written once into a folder named by the
//! hash of their contents under the system's temporary directory (a new
//! build with changed files gets a new folder; a folder already written is
//! reused), and the store is loaded from there like any description.

use super::description::DescriptionError;
use super::AdapterStore;
use crate::settings::Shipped;
use std::path::{Path, PathBuf};

/// One file of a shipped description.
struct File {
    name: &'static str,
    text: &'static str,
    executable: bool,
}

macro_rules! file {
    ($dir:literal, $name:literal, $exec:expr) => {
        File {
            name: $name,
            text: include_str!(concat!("../../../examples/adapters/", $dir, "/", $name)),
            executable: $exec,
        }
    };
}

const GARAGE: &[File] = &[
    file!("garage", "garage.toml", false),
    file!("garage", "garage_adapter.py", true),
    file!("garage", "garage_cluster.py", true),
    file!("garage", "garage_install.sh", true),
    file!("garage", "garage.sh", true),
];

const COUCH: &[File] = &[
    file!("couch", "couch.toml", false),
    file!("couch", "couch_adapter.py", true),
    file!("couch", "couch_server.js", false),
    file!("couch", "package.json", false),
    file!("couch", "package-lock.json", false),
];

fn files(s: Shipped) -> &'static [File] {
    match s {
        Shipped::Garage => GARAGE,
        Shipped::Couch => COUCH,
    }
}

/// Writes the files of `s` (once per content) and loads its description.
pub fn load(s: Shipped) -> Result<AdapterStore, DescriptionError> {
    let dir = materialize(s).map_err(|e| DescriptionError {
        file: s.source(),
        field: "(files)".into(),
        problem: format!("cannot write the shipped files: {e}"),
        fix: "make the temporary directory writable (TMPDIR)".into(),
    })?;
    AdapterStore::parse(files(s)[0].text, &s.source(), &dir)
}

/// The folder holding the files of `s`, written if not there yet.
fn materialize(s: Shipped) -> std::io::Result<PathBuf> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for f in files(s) {
        h.update(f.name.as_bytes());
        h.update(&[0, f.executable as u8]);
        h.update(f.text.as_bytes());
    }
    let root = std::env::temp_dir().join("faultline-stores");
    let dir = root.join(format!("{}-{:016x}", s.name(), h.digest()));
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&root)?;
    // Written beside, then renamed into place: two runs starting at once
    // never see a half-written folder.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}-", s.name()))
        .tempdir_in(&root)?;
    for f in files(s) {
        write(tmp.path(), f)?;
    }
    std::fs::write(tmp.path().join(".complete"), b"")?;
    let tmp = tmp.keep();
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another run put it there first.
        Err(_) if dir.join(".complete").exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn write(dir: &Path, f: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(f.name);
    std::fs::write(&path, f.text)?;
    let mode = if f.executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_description_loads_and_its_files_are_written_once() {
        for s in Shipped::ALL {
            assert_eq!(Shipped::parse(s.name()), Some(s));
            let store = load(s).unwrap_or_else(|e| panic!("{}: {e}", s.name()));
            assert_eq!(store.description().name, s.name());
            assert_eq!(
                store.desc.client.protocol(),
                workloads::adapter::Protocol::V2
            );
            for f in files(s) {
                let on_disk = std::fs::read_to_string(store.dir.join(f.name)).unwrap();
                assert_eq!(on_disk, f.text, "{}", f.name);
            }
            let again = load(s).unwrap();
            assert_eq!(again.dir, store.dir, "the same folder is reused");
        }
        assert_eq!(Shipped::parse("ringkv"), None);
    }
}
