//! faultfs: a FUSE file system that loses un-fsynced writes on a power failure.
//!
//! # Why
//!
//! A store that acknowledges a write before `fsync` returns can lose it when the machine
//! loses power: until then the data sits only in the kernel's page cache. Killing the store
//! with `kill -9` does not show this, because the kernel and its page cache survive the
//! process. faultfs moves the page cache into a process that *can* be killed: it mounts a
//! passthrough view of a *backing* directory at a *mount* directory, and keeps the file
//! data written through the mount in its own memory until the file is fsynced. Killing the
//! faultfs daemon with `kill -9` is then a power failure for everything under the mount.
//!
//! # What is durable when
//!
//! - **File data** goes to a per-file page cache ([`cache`]): dirty 4 KiB pages, the
//!   logical size, and how much of the backing file still shows through after truncates.
//!   Reads and `stat` merge the cache over the backing file, so every process sees its own
//!   and others' writes and a truncate shows its new size at once. The data reaches the
//!   backing file (and is fsynced there) only on `fsync`/`fdatasync` of the file through any
//!   handle, on a write through a handle opened `O_SYNC`/`O_DSYNC` (or `pwritev2` with
//!   `RWF_SYNC`/`RWF_DSYNC`, which the kernel turns into an fsync), on `msync(MS_SYNC)` of a
//!   shared mapping (the kernel sends its dirty pages, then an fsync), and at a clean
//!   shutdown (SIGTERM/SIGINT).
//! - **Metadata** (create, mkdir, unlink, rmdir, rename, link, symlink, chmod, chown,
//!   utimens) is applied to the backing directory at once, so it is durable at once;
//!   `fsync` of a directory succeeds and does nothing. faultfs therefore does **not** catch a
//!   store that forgets to fsync a directory after creating or renaming a file. A renamed or
//!   hard-linked file's cached data follows its inode; unlinking a file's last name drops
//!   its cached data.
//! - **`sync_file_range`** never reaches a FUSE file system: data it alone flushed counts as
//!   not durable (its man page promises nothing across a crash either).
//! - **mmap**: files are opened without `direct_io`, so shared writable mappings work
//!   through the kernel's page cache; the kernel sends their dirty pages as ordinary writes
//!   (on `msync`, on `close` of the file descriptor, or when its own writeback runs), and
//!   those writes wait in faultfs's cache like any other until an fsync. Files are opened
//!   without `keep_cache`, so a reopened file never reads stale kernel pages.
//! - **The dirty-data cap** (`--max-dirty-mib`, 1024 by default): past it, faultfs writes
//!   every cached file back, as the kernel's writeback would, and logs that it did. This
//!   shrinks the loss window: data written back this way survives a power failure.
//! - **Slow disk** ([`delay`]): every write and every fsync first waits the number of
//!   milliseconds held in the delay file.
//!
//! # Power failure
//!
//! `kill -9` of the daemon: every un-fsynced byte dies with its memory. The caller then
//! lazily unmounts the dead mount (`umount -l MOUNT`) and starts faultfs again on the same
//! backing directory. SIGTERM or SIGINT is a clean shutdown: write everything back, fsync,
//! unmount, exit 0.
//!
//! Unsupported operations (extended attributes, `fallocate` modes other than 0,
//! `copy_file_range`, `SEEK_DATA`/`SEEK_HOLE`, `RENAME_EXCHANGE`) answer an errno and log
//! one warning naming the operation.

pub mod cache;
pub mod corrupt;
pub mod delay;
pub mod fs;
pub mod inodes;
pub mod mount;

use std::io;
use std::path::PathBuf;

pub use fs::{FaultFs, Options, Shared};

/// Why faultfs could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `/dev/fuse` is missing or cannot be opened.
    #[error("cannot open /dev/fuse ({0}): the FUSE kernel module or device is missing (try `modprobe fuse`, or give the container /dev/fuse)")]
    NoFuseDevice(io::Error),
    /// The daemon is not running as root.
    #[error("faultfs must run as root (it mounts with mount(2) and serves every user); effective uid is {0}")]
    NotRoot(u32),
    /// The backing directory is missing or unreadable.
    #[error("backing directory {path}: {source}")]
    Backing {
        /// The backing directory given.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The mount directory is missing or unusable.
    #[error("mount directory {path}: {source}")]
    MountDir {
        /// The mount directory given.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// Something is already mounted on the mount directory.
    #[error("mount directory {path} is busy: {why}")]
    MountBusy {
        /// The mount directory given.
        path: PathBuf,
        /// What is in the way and how to clear it.
        why: String,
    },
    /// The mount directory and the backing directory overlap.
    #[error("mount directory {mount} and backing directory {backing} overlap: neither may contain the other")]
    Overlap {
        /// The mount directory.
        mount: PathBuf,
        /// The backing directory.
        backing: PathBuf,
    },
    /// mount(2) or the FUSE handshake failed.
    #[error("mounting {path} failed: {source}")]
    Mount {
        /// The mount directory.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// Writing the cached data back failed.
    #[error("writing cached data back failed: {0}")]
    WriteBack(io::Error),
}
