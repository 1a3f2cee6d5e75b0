//! The FUSE file system: a passthrough whose file data waits in [`crate::cache`] until fsync.
//!
//! Every request the kernel sends for the mount lands in a method of [`FaultFs`], the
//! `fuser::Filesystem` implementation. Metadata operations (create, mkdir, unlink, rename,
//! link, symlink, chmod, chown, utimens) go straight to the backing directory. File data
//! goes to a per-inode [`FileCache`]; `fsync`/`fdatasync`, writes through an `O_SYNC`/`O_DSYNC`
//! handle, a clean shutdown, or the `--max-dirty-mib` cap write it back to the backing file.
//!
//! All state (inode table, caches, open handles) sits behind one mutex, so requests served
//! by several fuser threads see one consistent file system; write backs happen under it.
//! The slow-disk delay is slept *before* taking the lock, so a slow write stalls its own
//! caller, not readers.

use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyLock, ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, TimeOrNow, WriteFlags,
};

use crate::cache::{Backing, FileCache};
use crate::delay::Delay;
use crate::inodes::InodeTable;
use crate::Error;

/// How long the kernel may trust attributes and directory entries we return.
const TTL: Duration = Duration::from_secs(1);

/// What a mounted faultfs needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory whose contents the mount shows and where durable data lives.
    pub backing: PathBuf,
    /// The slow-disk delay file, if any (see [`crate::delay`]).
    pub delay_file: Option<PathBuf>,
    /// Past this many bytes of dirty pages, everything is written back.
    pub max_dirty_bytes: u64,
}

/// An open file: the backing file opened for it, and whether its writes are synchronous.
#[derive(Debug)]
struct Handle {
    ino: u64,
    file: File,
    writable: bool,
    /// `O_SYNC`/`O_DSYNC` bits the file was opened with.
    sync_flags: i32,
}

/// A directory listing taken at `opendir`: (inode, kind, name).
type Listing = Vec<(u64, FileType, OsString)>;

#[derive(Debug)]
struct State {
    inodes: InodeTable,
    caches: HashMap<u64, FileCache>,
    handles: HashMap<u64, Handle>,
    dirs: HashMap<u64, Listing>,
    next_fh: u64,
}

/// The state shared by the FUSE session and the daemon's main thread (which flushes it on
/// a clean shutdown).
#[derive(Debug)]
pub struct Shared {
    backing: PathBuf,
    delay: Delay,
    max_dirty_bytes: u64,
    state: Mutex<State>,
    warned: Mutex<HashSet<&'static str>>,
}

/// The `fuser::Filesystem` implementation.
#[derive(Debug)]
pub struct FaultFs {
    shared: Arc<Shared>,
}

impl FaultFs {
    /// A file system over `options.backing`; the returned [`Shared`] flushes it later.
    pub fn new(options: Options) -> Result<(FaultFs, Arc<Shared>), Error> {
        let meta = fs::metadata(&options.backing).map_err(|source| Error::Backing {
            path: options.backing.clone(),
            source,
        })?;
        let shared = Arc::new(Shared {
            backing: options.backing,
            delay: Delay::new(options.delay_file),
            max_dirty_bytes: options.max_dirty_bytes,
            state: Mutex::new(State {
                inodes: InodeTable::new(meta.ino()),
                caches: HashMap::new(),
                handles: HashMap::new(),
                dirs: HashMap::new(),
                next_fh: 1,
            }),
            warned: Mutex::new(HashSet::new()),
        });
        Ok((
            FaultFs {
                shared: shared.clone(),
            },
            shared,
        ))
    }
}

impl Shared {
    /// Writes every cached file back and fsyncs it (a clean shutdown). Returns how many
    /// files had cached data.
    pub fn flush_all(&self) -> io::Result<usize> {
        let mut st = self.lock();
        let inos: Vec<u64> = st.caches.keys().copied().collect();
        for &ino in &inos {
            self.write_back(&mut st, ino, Some(false), None)?;
        }
        Ok(inos.len())
    }

    /// Bytes of dirty pages held right now.
    pub fn dirty_bytes(&self) -> u64 {
        self.lock()
            .caches
            .values()
            .map(FileCache::dirty_bytes)
            .sum()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs, once per operation name, that faultfs does not support it.
    fn unsupported(&self, op: &'static str, errno: Errno) -> Errno {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.insert(op) {
            let code = errno.code();
            let name = io::Error::from_raw_os_error(code);
            tracing::warn!(
                op,
                "faultfs does not support {op}; answering errno {code} ({name})"
            );
        }
        errno
    }

    fn full(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.backing.clone()
        } else {
            self.backing.join(rel)
        }
    }

    fn rel_path(st: &State, ino: u64) -> Result<PathBuf, Errno> {
        st.inodes
            .path(ino)
            .map(Path::to_path_buf)
            .ok_or(Errno::ENOENT)
    }

    fn child(st: &State, parent: u64, name: &OsStr) -> Result<PathBuf, Errno> {
        Ok(Self::rel_path(st, parent)?.join(name))
    }

    /// Attributes of `ino` as the mount shows them: the backing file's, with the cached
    /// size and modification time laid over.
    fn attr(st: &State, ino: u64, meta: &Metadata) -> FileAttr {
        let mut attr = to_attr(ino, meta);
        if let Some(cache) = st.caches.get(&ino) {
            attr.size = cache.size();
            attr.blocks = attr.blocks.max(cache.size().div_ceil(512));
            if let Some(m) = cache.mtime() {
                attr.mtime = attr.mtime.max(m);
            }
        }
        attr
    }

    /// The backing metadata of `ino`: through an open handle if one is given or exists
    /// (an unlinked open file has no path), else by path.
    fn stat(&self, st: &State, ino: u64, fh: Option<u64>) -> Result<Metadata, Errno> {
        let handle = fh
            .and_then(|fh| st.handles.get(&fh))
            .filter(|h| h.ino == ino)
            .or_else(|| st.handles.values().find(|h| h.ino == ino));
        match (st.inodes.path(ino), handle) {
            (Some(rel), _) => Ok(fs::symlink_metadata(self.full(rel))?),
            (None, Some(h)) => Ok(h.file.metadata()?),
            (None, None) => Err(Errno::ENOENT),
        }
    }

    /// Records a new name the kernel now holds a reference to and returns its attributes.
    fn enter(&self, st: &mut State, rel: &Path) -> Result<FileAttr, Errno> {
        let meta = fs::symlink_metadata(self.full(rel))?;
        let ino = st.inodes.fuse_ino(meta.ino());
        st.inodes.remember(ino, rel, true);
        Ok(Self::attr(st, ino, &meta))
    }

    /// Writes `ino`'s cached data to its backing file and, if `sync` is `Some(datasync)`,
    /// fdatasyncs (`true`) or fsyncs (`false`) that file. `fh` picks the handle to use.
    fn write_back(
        &self,
        st: &mut State,
        ino: u64,
        sync: Option<bool>,
        fh: Option<u64>,
    ) -> io::Result<()> {
        let State {
            inodes,
            caches,
            handles,
            ..
        } = st;
        let by_handle = fh
            .and_then(|fh| handles.get(&fh))
            .filter(|h| h.ino == ino && h.writable)
            .or_else(|| handles.values().find(|h| h.ino == ino && h.writable));
        let opened;
        let file: &File = match (by_handle, inodes.path(ino)) {
            (Some(h), _) => &h.file,
            (None, Some(rel)) => {
                opened = OpenOptions::new().write(true).open(self.full(rel))?;
                &opened
            }
            (None, None) => {
                if caches.remove(&ino).is_some() {
                    tracing::warn!(
                        ino,
                        "dropping cached data of a file with no name and no open handle"
                    );
                }
                return Ok(());
            }
        };
        if let Some(cache) = caches.get(&ino) {
            let mut target = file;
            cache.write_back(&mut target)?;
            caches.remove(&ino);
        }
        match sync {
            Some(true) => file.sync_data(),
            Some(false) => file.sync_all(),
            None => Ok(()),
        }
    }

    /// The cache of `ino`, created over `file` (the backing file) if there is none yet.
    fn cache_for<'s>(
        caches: &'s mut HashMap<u64, FileCache>,
        ino: u64,
        file: &File,
    ) -> io::Result<&'s mut FileCache> {
        match caches.entry(ino) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                Ok(e.insert(FileCache::new(file.metadata()?.len())))
            }
        }
    }

    /// Past the dirty-data cap, write everything back, as the kernel's writeback would.
    fn enforce_cap(&self, st: &mut State) -> io::Result<()> {
        let dirty: u64 = st.caches.values().map(FileCache::dirty_bytes).sum();
        if dirty <= self.max_dirty_bytes {
            return Ok(());
        }
        let inos: Vec<u64> = st.caches.keys().copied().collect();
        for &ino in &inos {
            self.write_back(st, ino, None, None)?;
        }
        tracing::info!(
            dirty_bytes = dirty,
            files = inos.len(),
            "dirty data passed --max-dirty-mib: wrote {} files back (that data now survives a power failure)",
            inos.len()
        );
        Ok(())
    }

    /// Sets the owner of a newly created node to the caller, as a kernel file system would.
    fn chown_to_caller(path: &Path, req: &Request) -> io::Result<()> {
        if req.uid() != 0 || req.gid() != 0 {
            std::os::unix::fs::lchown(path, Some(req.uid()), Some(req.gid()))?;
        }
        Ok(())
    }

    fn new_fh(st: &mut State) -> u64 {
        let fh = st.next_fh;
        st.next_fh += 1;
        fh
    }

    /// The name at `rel` is going away (unlink, or replaced by a rename): forget it and, if
    /// it was the file's last name, drop the file's cached data, or, while handles still
    /// hold the file open, leave that to the last release.
    fn drop_name(st: &mut State, ino: u64, rel: &Path, nlink: u64) {
        st.inodes.unlink_path(ino, rel);
        let open = st.handles.values().any(|h| h.ino == ino);
        if nlink <= 1 && !open && st.caches.remove(&ino).is_some() {
            tracing::debug!(ino, "last name unlinked: cached data dropped");
        }
    }
}

fn to_attr(ino: u64, m: &Metadata) -> FileAttr {
    let time = |secs: i64, nsecs: i64| {
        if secs >= 0 {
            UNIX_EPOCH + Duration::new(secs as u64, nsecs as u32)
        } else {
            UNIX_EPOCH - Duration::new(secs.unsigned_abs(), 0) + Duration::from_nanos(nsecs as u64)
        }
    };
    FileAttr {
        ino: INodeNo(ino),
        size: m.size(),
        blocks: m.blocks(),
        atime: time(m.atime(), m.atime_nsec()),
        mtime: time(m.mtime(), m.mtime_nsec()),
        ctime: time(m.ctime(), m.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind: FileType::from_std(m.file_type()).unwrap_or(FileType::RegularFile),
        perm: (m.mode() & 0o7777) as u16,
        nlink: m.nlink() as u32,
        uid: m.uid(),
        gid: m.gid(),
        rdev: m.rdev() as u32,
        blksize: m.blksize() as u32,
        flags: 0,
    }
}

fn cstring(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

fn errno_of(e: io::Error) -> Errno {
    Errno::from(e)
}

fn last_os_error() -> Errno {
    errno_of(io::Error::last_os_error())
}

fn timespec(t: Option<TimeOrNow>) -> libc::timespec {
    match t {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(t)) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
            Err(e) => libc::timespec {
                tv_sec: -(e.duration().as_secs_f64().ceil() as libc::time_t),
                tv_nsec: 0,
            },
        },
    }
}

/// The open flags faultfs acts on itself rather than passing to the backing file.
const SYNC_FLAGS: i32 = libc::O_SYNC | libc::O_DSYNC;

impl FaultFs {
    fn do_lookup(&self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let rel = Shared::child(&st, parent, name)?;
        sh.enter(&mut st, &rel)
    }

    fn do_getattr(&self, ino: u64, fh: Option<u64>) -> Result<FileAttr, Errno> {
        let sh = &self.shared;
        let st = sh.lock();
        let meta = sh.stat(&st, ino, fh)?;
        Ok(Shared::attr(&st, ino, &meta))
    }

    #[allow(clippy::too_many_arguments)]
    fn do_setattr(
        &self,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<u64>,
    ) -> Result<FileAttr, Errno> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let path = st.inodes.path(ino).map(|rel| sh.full(rel));
        if let Some(mode) = mode {
            let path = path.as_ref().ok_or(Errno::ENOENT)?;
            let c = cstring(path)?;
            // SAFETY: c is a valid NUL-terminated path.
            if unsafe { libc::chmod(c.as_ptr(), (mode & 0o7777) as libc::mode_t) } != 0 {
                return Err(last_os_error());
            }
        }
        if uid.is_some() || gid.is_some() {
            let path = path.as_ref().ok_or(Errno::ENOENT)?;
            std::os::unix::fs::lchown(path, uid, gid)?;
        }
        if let Some(size) = size {
            let meta = sh.stat(&st, ino, fh)?;
            if !meta.is_file() {
                return Err(Errno::EINVAL);
            }
            let State { caches, .. } = &mut *st;
            caches
                .entry(ino)
                .or_insert_with(|| FileCache::new(meta.len()))
                .truncate(size);
        }
        if atime.is_some() || mtime.is_some() {
            let path = path.as_ref().ok_or(Errno::ENOENT)?;
            let c = cstring(path)?;
            let times = [timespec(atime), timespec(mtime)];
            // SAFETY: c is a valid path and times a two-element array, as utimensat wants.
            let rc = unsafe {
                libc::utimensat(
                    libc::AT_FDCWD,
                    c.as_ptr(),
                    times.as_ptr(),
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            };
            if rc != 0 {
                return Err(last_os_error());
            }
            if mtime.is_some() {
                if let Some(cache) = st.caches.get_mut(&ino) {
                    cache.clear_mtime();
                }
            }
        }
        let meta = sh.stat(&st, ino, fh)?;
        Ok(Shared::attr(&st, ino, &meta))
    }

    fn do_make(
        &self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        make: impl FnOnce(&Path) -> io::Result<()>,
    ) -> Result<FileAttr, Errno> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let rel = Shared::child(&st, parent, name)?;
        let full = sh.full(&rel);
        make(&full)?;
        Shared::chown_to_caller(&full, req)?;
        sh.enter(&mut st, &rel)
    }

    fn do_unlink(&self, parent: u64, name: &OsStr, dir: bool) -> Result<(), Errno> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let rel = Shared::child(&st, parent, name)?;
        let full = sh.full(&rel);
        let meta = fs::symlink_metadata(&full)?;
        if dir {
            fs::remove_dir(&full)?;
        } else {
            fs::remove_file(&full)?;
        }
        let ino = st.inodes.fuse_ino(meta.ino());
        Shared::drop_name(&mut st, ino, &rel, if dir { 0 } else { meta.nlink() });
        Ok(())
    }

    fn do_rename(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        let sh = &self.shared;
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            return Err(sh.unsupported(
                "rename with RENAME_EXCHANGE or RENAME_WHITEOUT",
                Errno::EINVAL,
            ));
        }
        let mut st = sh.lock();
        let from = Shared::child(&st, parent, name)?;
        let to = Shared::child(&st, newparent, newname)?;
        let (full_from, full_to) = (sh.full(&from), sh.full(&to));
        let source = fs::symlink_metadata(&full_from)?;
        let target = fs::symlink_metadata(&full_to).ok();
        if flags.contains(RenameFlags::RENAME_NOREPLACE) {
            let (a, b) = (cstring(&full_from)?, cstring(&full_to)?);
            // SAFETY: both are valid paths; renameat2 only reads them.
            let rc = unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    a.as_ptr(),
                    libc::AT_FDCWD,
                    b.as_ptr(),
                    libc::RENAME_NOREPLACE,
                )
            };
            if rc != 0 {
                return Err(last_os_error());
            }
        } else {
            fs::rename(&full_from, &full_to)?;
        }
        if let Some(target) = target {
            if target.ino() == source.ino() {
                return Ok(()); // two names of one file: rename does nothing
            }
            let tino = st.inodes.fuse_ino(target.ino());
            let nlink = if target.is_dir() { 0 } else { target.nlink() };
            Shared::drop_name(&mut st, tino, &to, nlink);
        }
        st.inodes.rename(&from, &to);
        Ok(())
    }

    fn do_link(&self, ino: u64, newparent: u64, newname: &OsStr) -> Result<FileAttr, Errno> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let from = Shared::rel_path(&st, ino)?;
        let to = Shared::child(&st, newparent, newname)?;
        fs::hard_link(sh.full(&from), sh.full(&to))?;
        sh.enter(&mut st, &to)
    }

    /// Opens the backing file for a handle: read-write whenever possible, so the cache can
    /// read the pages it completes and write them back, falling back to read-only for
    /// read-only opens of files that cannot be opened for writing.
    fn open_backing(path: &Path, flags: i32) -> io::Result<(File, bool)> {
        match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => Ok((f, true)),
            Err(e) if flags & libc::O_ACCMODE == libc::O_RDONLY => {
                tracing::debug!(?path, "read-write open failed ({e}); opening read-only");
                Ok((File::open(path)?, false))
            }
            Err(e) => Err(e),
        }
    }

    fn add_handle(st: &mut State, ino: u64, file: File, writable: bool, flags: i32) -> u64 {
        let fh = Shared::new_fh(st);
        st.handles.insert(
            fh,
            Handle {
                ino,
                file,
                writable,
                sync_flags: flags & SYNC_FLAGS,
            },
        );
        fh
    }

    fn do_open(&self, ino: u64, flags: OpenFlags) -> Result<u64, Errno> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let full = sh.full(&Shared::rel_path(&st, ino)?);
        let (file, writable) = Self::open_backing(&full, flags.0)?;
        if flags.acc_mode() != OpenAccMode::O_RDONLY && !writable {
            return Err(Errno::EACCES);
        }
        Ok(Self::add_handle(&mut st, ino, file, writable, flags.0))
    }

    fn do_create(
        &self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
    ) -> Result<(FileAttr, u64), Errno> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let rel = Shared::child(&st, parent, name)?;
        let full = sh.full(&rel);
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).mode(mode & !umask & 0o7777);
        if flags & libc::O_EXCL != 0 {
            opts.create_new(true);
        } else {
            opts.create(true);
        }
        // O_TRUNC is not passed on: truncating is a data change and goes to the cache.
        let file = opts.open(&full)?;
        Shared::chown_to_caller(&full, req)?;
        let attr = sh.enter(&mut st, &rel)?;
        let ino = attr.ino.0;
        if flags & libc::O_TRUNC != 0 && attr.size > 0 {
            Shared::cache_for(&mut st.caches, ino, &file)?.truncate(0);
        }
        let fh = Self::add_handle(&mut st, ino, file, true, flags);
        let meta = sh.stat(&st, ino, Some(fh))?;
        Ok((Shared::attr(&st, ino, &meta), fh))
    }

    fn do_read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let st = self.shared.lock();
        let h = st.handles.get(&fh).ok_or(Errno::EBADF)?;
        let file = &h.file;
        match st.caches.get(&h.ino) {
            Some(cache) => Ok(cache.read(offset, size as usize, &file)?),
            None => {
                let mut buf = vec![0u8; size as usize];
                let n = Backing::read_at(&file, &mut buf, offset)?;
                buf.truncate(n);
                Ok(buf)
            }
        }
    }

    fn do_write(&self, fh: u64, offset: u64, data: &[u8], flags: i32) -> Result<u32, Errno> {
        let sh = &self.shared;
        sh.delay.wait();
        let mut st = sh.lock();
        let State {
            caches, handles, ..
        } = &mut *st;
        let h = handles.get(&fh).ok_or(Errno::EBADF)?;
        if !h.writable {
            return Err(Errno::EBADF);
        }
        let (ino, sync_flags) = (h.ino, h.sync_flags | (flags & SYNC_FLAGS));
        let file = &h.file;
        Shared::cache_for(caches, ino, file)?.write(offset, data, &file)?;
        if sync_flags != 0 {
            // O_SYNC carries the O_DSYNC bit too; O_DSYNC alone means data only.
            let datasync = sync_flags & libc::O_SYNC != libc::O_SYNC;
            sh.write_back(&mut st, ino, Some(datasync), Some(fh))?;
        }
        sh.enforce_cap(&mut st)?;
        Ok(data.len() as u32)
    }

    fn do_fsync(&self, ino: u64, fh: u64, datasync: bool) -> Result<(), Errno> {
        let sh = &self.shared;
        sh.delay.wait();
        let mut st = sh.lock();
        sh.write_back(&mut st, ino, Some(datasync), Some(fh))?;
        Ok(())
    }

    fn do_release(&self, ino: u64, fh: u64) {
        let mut st = self.shared.lock();
        st.handles.remove(&fh);
        let still_open = st.handles.values().any(|h| h.ino == ino);
        if !still_open && st.inodes.path(ino).is_none() {
            // Unlinked and now closed: nobody can reach the data any more.
            st.caches.remove(&ino);
            if !st.inodes.is_known(ino) {
                st.inodes.remove(ino);
            }
        }
    }

    fn do_opendir(&self, ino: u64) -> Result<u64, Errno> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let full = sh.full(&Shared::rel_path(&st, ino)?);
        let parent_ino = fs::symlink_metadata(full.join(".."))
            .map(|m| st.inodes.fuse_ino(m.ino()))
            .unwrap_or(ino);
        let mut listing: Listing = vec![
            (ino, FileType::Directory, ".".into()),
            (
                if ino == crate::inodes::ROOT {
                    ino
                } else {
                    parent_ino
                },
                FileType::Directory,
                "..".into(),
            ),
        ];
        for entry in fs::read_dir(&full)? {
            let entry = entry?;
            let kind = entry
                .file_type()
                .ok()
                .and_then(FileType::from_std)
                .unwrap_or(FileType::RegularFile);
            listing.push((st.inodes.fuse_ino(entry.ino()), kind, entry.file_name()));
        }
        let fh = Shared::new_fh(&mut st);
        st.dirs.insert(fh, listing);
        Ok(fh)
    }

    fn do_fallocate(
        &self,
        ino: u64,
        fh: u64,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<(), Errno> {
        let sh = &self.shared;
        if mode != 0 {
            return Err(sh.unsupported("fallocate with a mode other than 0", Errno::EOPNOTSUPP));
        }
        let mut st = sh.lock();
        let State {
            caches, handles, ..
        } = &mut *st;
        let h = handles
            .get(&fh)
            .filter(|h| h.ino == ino)
            .ok_or(Errno::EBADF)?;
        let cache = Shared::cache_for(caches, ino, &h.file)?;
        let end = offset + length;
        if end > cache.size() {
            cache.truncate(end);
        }
        Ok(())
    }

    fn do_statfs(&self) -> Result<libc::statvfs, Errno> {
        let c = cstring(&self.shared.backing)?;
        // SAFETY: statvfs fills the zeroed struct; c is a valid path.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
            return Err(last_os_error());
        }
        Ok(s)
    }
}

fn reply_entry(reply: ReplyEntry, r: Result<FileAttr, Errno>) {
    match r {
        Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn reply_empty(reply: ReplyEmpty, r: Result<(), Errno>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for FaultFs {
    fn destroy(&mut self) {
        match self.shared.flush_all() {
            Ok(n) => tracing::info!(
                files = n,
                "session ended: cached data written back and fsynced"
            ),
            Err(e) => tracing::error!("session ended but writing cached data back failed: {e}"),
        }
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        reply_entry(reply, self.do_lookup(parent.0, name));
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        let mut st = self.shared.lock();
        let ino = ino.0;
        if st.inodes.forget(ino, nlookup)
            && !st.caches.contains_key(&ino)
            && !st.handles.values().any(|h| h.ino == ino)
        {
            st.inodes.remove(ino);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.do_getattr(ino.0, fh.map(|f| f.0)) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let fh = fh.map(|f| f.0);
        match self.do_setattr(ino.0, mode, uid, gid, size, atime, mtime, fh) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let sh = &self.shared;
        let r = Shared::rel_path(&sh.lock(), ino.0)
            .and_then(|rel| fs::read_link(sh.full(&rel)).map_err(errno_of));
        match r {
            Ok(target) => reply.data(target.as_os_str().as_bytes()),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let r = self.do_make(req, parent.0, name, |path| {
            let c = CString::new(path.as_os_str().as_bytes())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: c is a valid path.
            let rc = unsafe {
                libc::mknod(
                    c.as_ptr(),
                    (mode & !umask) as libc::mode_t,
                    rdev as libc::dev_t,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
        reply_entry(reply, r);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let r = self.do_make(req, parent.0, name, |path| {
            fs::DirBuilder::new()
                .mode(mode & !umask & 0o7777)
                .create(path)
        });
        reply_entry(reply, r);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.do_unlink(parent.0, name, false));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.do_unlink(parent.0, name, true));
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let r = self.do_make(req, parent.0, link_name, |path| {
            std::os::unix::fs::symlink(target, path)
        });
        reply_entry(reply, r);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply_empty(
            reply,
            self.do_rename(parent.0, name, newparent.0, newname, flags),
        );
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply_entry(reply, self.do_link(ino.0, newparent.0, newname));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        // No FOPEN_KEEP_CACHE: the kernel drops its cached pages of the file on every open.
        // No FOPEN_DIRECT_IO: shared writable mmap keeps working through the page cache.
        match self.do_open(ino.0, flags) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.do_read(fh.0, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.do_write(fh.0, offset, data, flags.0) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() is not a durability point: nothing to do.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.do_release(ino.0, fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.do_fsync(ino.0, fh.0, datasync));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.do_opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let st = self.shared.lock();
        let Some(listing) = st.dirs.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        for (i, (ino, kind, name)) in listing.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*ino), (i + 1) as u64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.shared.lock().dirs.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Directory changes were applied to the backing directory at once: already durable.
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match self.do_statfs() {
            Ok(s) => reply.statfs(
                s.f_blocks,
                s.f_bfree,
                s.f_bavail,
                s.f_files,
                s.f_ffree,
                s.f_bsize as u32,
                s.f_namemax as u32,
                s.f_frsize as u32,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(self.shared.unsupported("setxattr", Errno::ENOSYS));
    }

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(self.shared.unsupported("getxattr", Errno::ENOSYS));
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(self.shared.unsupported("listxattr", Errno::ENOSYS));
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(self.shared.unsupported("removexattr", Errno::ENOSYS));
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        // Mounted with default_permissions: the kernel checks permissions itself.
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.do_create(req, parent.0, name, mode, umask, flags) {
            Ok((attr, fh)) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn getlk(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        _start: u64,
        _end: u64,
        _typ: i32,
        _pid: u32,
        reply: ReplyLock,
    ) {
        // ENOSYS makes the kernel keep POSIX locks locally, which is right on one machine.
        reply.error(
            self.shared
                .unsupported("getlk (the kernel keeps locks locally)", Errno::ENOSYS),
        );
    }

    fn setlk(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        _start: u64,
        _end: u64,
        _typ: i32,
        _pid: u32,
        _sleep: bool,
        reply: ReplyEmpty,
    ) {
        reply.error(
            self.shared
                .unsupported("setlk (the kernel keeps locks locally)", Errno::ENOSYS),
        );
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.do_fallocate(ino.0, fh.0, offset, length, mode));
    }

    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: i64,
        _whence: i32,
        reply: ReplyLseek,
    ) {
        // ENOSYS makes the kernel answer SEEK_DATA/SEEK_HOLE generically (all data, no holes).
        reply.error(
            self.shared
                .unsupported("lseek SEEK_DATA/SEEK_HOLE", Errno::ENOSYS),
        );
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: fuser::CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        // ENOSYS makes callers fall back to read and write, which faultfs caches.
        reply.error(self.shared.unsupported("copy_file_range", Errno::ENOSYS));
    }
}
