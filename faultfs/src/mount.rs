//! Starting a mount: checks that give one clear line when something is in the way, and the
//! fuser configuration faultfs mounts with.
//!
//! faultfs mounts with mount(2) directly, which needs root and `/dev/fuse`. The mount is
//! named `faultfs` (the `fsname`, shown by `mount` and `/proc/mounts`), lets every user in
//! (`allow_other`) and leaves permission checks to the kernel (`default_permissions`).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use fuser::{Config, MountOption, SessionACL};

use crate::Error;

/// How many threads serve FUSE requests. More than one lets reads proceed while a write or
/// fsync sleeps out a slow-disk delay.
const THREADS: usize = 4;

/// Directories that passed [`check`], made absolute.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// The backing directory.
    pub backing: PathBuf,
    /// The mount directory.
    pub mount: PathBuf,
}

/// Checks everything a mount needs, so that a failure names its cause: root, `/dev/fuse`,
/// a backing directory, an empty-handed mount directory, and no overlap between the two.
pub fn check(backing: &Path, mount: &Path) -> Result<Dirs, Error> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(Error::NotRoot(euid));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(Error::NoFuseDevice)?;
    let dir = |meta: io::Result<std::fs::Metadata>| match meta {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::other("not a directory")),
        Err(e) => Err(e),
    };
    dir(std::fs::metadata(backing)).map_err(|source| Error::Backing {
        path: backing.to_path_buf(),
        source,
    })?;
    match std::fs::metadata(mount) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            return Err(Error::MountBusy {
                path: mount.to_path_buf(),
                why: format!(
                    "a dead FUSE mount is still there; run `umount -l {}` first",
                    mount.display()
                ),
            })
        }
        meta => dir(meta).map_err(|source| Error::MountDir {
            path: mount.to_path_buf(),
            source,
        })?,
    }
    let canon = |p: &Path| p.canonicalize();
    let backing_abs = canon(backing).map_err(|source| Error::Backing {
        path: backing.to_path_buf(),
        source,
    })?;
    let mount_abs = canon(mount).map_err(|source| Error::MountDir {
        path: mount.to_path_buf(),
        source,
    })?;
    if mount_abs.starts_with(&backing_abs) || backing_abs.starts_with(&mount_abs) {
        return Err(Error::Overlap {
            mount: mount_abs,
            backing: backing_abs,
        });
    }
    if let (Ok(m), Some(parent)) = (std::fs::metadata(&mount_abs), mount_abs.parent()) {
        if let Ok(p) = std::fs::metadata(parent) {
            if m.dev() != p.dev() {
                return Err(Error::MountBusy {
                    path: mount_abs.clone(),
                    why: format!(
                        "something is already mounted there; unmount it first (`umount -l {}`)",
                        mount_abs.display()
                    ),
                });
            }
        }
    }
    Ok(Dirs {
        backing: backing_abs,
        mount: mount_abs,
    })
}

/// The fuser session configuration: fsname `faultfs`, `allow_other`, `default_permissions`.
pub fn config() -> Config {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("faultfs".into()),
        MountOption::DefaultPermissions,
    ];
    config.acl = SessionACL::All;
    config.n_threads = Some(THREADS);
    config
}
