//! The page cache: file data written through the mount but not yet made durable.
//!
//! A real kernel keeps written data in its page cache and writes it to the disk later; a
//! power failure loses whatever had not been written yet. faultfs plays the kernel's role
//! for the files under its mount: a [`FileCache`] holds, for one inode,
//!
//! - the *dirty pages*: 4 KiB blocks of the file keyed by page number (`offset / 4096`),
//!   each holding the file's full current content of that page;
//! - the *logical size*: what `stat` reports now, after the writes and truncates that the
//!   backing file has not seen;
//! - the *valid backing length*: how much of the backing file still shows through. A
//!   truncate down lowers it, so bytes it cut off read as zeros even if the file is later
//!   extended again, exactly as on a real file system; they do not reappear from the backing
//!   file.
//!
//! A read merges: a cached page wins, otherwise the backing file supplies bytes below the
//! valid backing length, and everything else up to the logical size is zeros (a hole).
//! [`FileCache::write_back`] makes the backing file equal to that merged view. The cache
//! knows nothing of FUSE: it reads and writes the backing file through the small
//! [`Backing`] trait, so it is unit-tested on plain byte vectors.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::SystemTime;

/// The size of a cached page in bytes.
pub const PAGE_SIZE: u64 = 4096;

/// The part of one page that a byte range `[pos, pos + n)` covers.
struct Span {
    /// The page's number.
    page_no: u64,
    /// Where the part starts in the file.
    pos: u64,
    /// Where it starts in the page.
    in_page: usize,
    /// Its length.
    n: usize,
}

/// The range `[start, end)` cut at page boundaries, in order.
fn spans(start: u64, end: u64) -> impl Iterator<Item = Span> {
    let mut pos = start;
    std::iter::from_fn(move || {
        if pos >= end {
            return None;
        }
        let page_no = pos / PAGE_SIZE;
        let in_page = (pos - page_no * PAGE_SIZE) as usize;
        let n = (PAGE_SIZE as usize - in_page).min((end - pos) as usize);
        let span = Span {
            page_no,
            pos,
            in_page,
            n,
        };
        pos += n as u64;
        Some(span)
    })
}

/// Contiguous dirty pages are written back in runs of at most this many bytes.
const WRITEBACK_RUN: usize = 1 << 20;

/// The file a cache reads missing pages from and writes back to.
pub trait Backing {
    /// Reads into `buf` from `offset`, returning how many bytes were read (fewer only at
    /// end of file).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `data` at `offset`.
    fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()>;
    /// The current length of the file.
    fn file_len(&self) -> io::Result<u64>;
    /// Truncates or zero-extends the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
}

impl Backing for &File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match FileExt::read_at(*self, &mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        self.write_all_at(data, offset)
    }

    fn file_len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
}

/// The not-yet-durable state of one file: dirty pages, logical size, valid backing length.
#[derive(Debug, Clone)]
pub struct FileCache {
    pages: BTreeMap<u64, Box<[u8]>>,
    size: u64,
    backing_valid: u64,
    mtime: Option<SystemTime>,
}

impl FileCache {
    /// A cache over a backing file that is `backing_len` bytes long, with nothing dirty yet.
    pub fn new(backing_len: u64) -> Self {
        FileCache {
            pages: BTreeMap::new(),
            size: backing_len,
            backing_valid: backing_len,
            mtime: None,
        }
    }

    /// The logical size of the file, as `stat` should report it.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The time of the last cached write or truncate, unless an explicit `utimens` since.
    pub fn mtime(&self) -> Option<SystemTime> {
        self.mtime
    }

    /// Forgets the cached modification time (after an explicit `utimens`).
    pub fn clear_mtime(&mut self) {
        self.mtime = None;
    }

    /// Bytes of memory held by dirty pages.
    pub fn dirty_bytes(&self) -> u64 {
        self.pages.len() as u64 * PAGE_SIZE
    }

    /// Writes `data` at `offset`, loading any partly written page from `backing` first.
    pub fn write(&mut self, offset: u64, data: &[u8], backing: &impl Backing) -> io::Result<()> {
        let end = offset + data.len() as u64;
        for Span {
            page_no,
            pos,
            in_page,
            n,
        } in spans(offset, end)
        {
            let page_start = page_no * PAGE_SIZE;
            let src = &data[(pos - offset) as usize..][..n];
            let page = match self.pages.entry(page_no) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let mut page = vec![0u8; PAGE_SIZE as usize].into_boxed_slice();
                    let whole = in_page == 0 && n == PAGE_SIZE as usize;
                    if !whole {
                        Self::load(&mut page, page_start, self.backing_valid, backing)?;
                    }
                    e.insert(page)
                }
            };
            page[in_page..in_page + n].copy_from_slice(src);
        }
        self.size = self.size.max(end);
        self.mtime = Some(SystemTime::now());
        Ok(())
    }

    /// Reads up to `len` bytes at `offset` (fewer at end of file) from the merged view.
    pub fn read(&self, offset: u64, len: usize, backing: &impl Backing) -> io::Result<Vec<u8>> {
        let end = (offset + len as u64).min(self.size);
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut out = vec![0u8; (end - offset) as usize];
        for Span {
            page_no,
            pos,
            in_page,
            n,
        } in spans(offset, end)
        {
            let dst = &mut out[(pos - offset) as usize..][..n];
            match self.pages.get(&page_no) {
                Some(page) => dst.copy_from_slice(&page[in_page..in_page + n]),
                None if pos < self.backing_valid => {
                    let want = n.min((self.backing_valid - pos) as usize);
                    // A short read leaves zeros: the backing file ended early.
                    backing.read_at(&mut dst[..want], pos)?;
                }
                None => {} // a hole: already zeros
            }
        }
        Ok(out)
    }

    /// Sets the logical size. Bytes cut off by shrinking read as zeros if the file grows again.
    pub fn truncate(&mut self, new_size: u64) {
        if new_size < self.size {
            let first_gone = new_size.div_ceil(PAGE_SIZE);
            self.pages.split_off(&first_gone);
            let tail = (new_size % PAGE_SIZE) as usize;
            if tail != 0 {
                if let Some(page) = self.pages.get_mut(&(new_size / PAGE_SIZE)) {
                    page[tail..].fill(0);
                }
            }
            self.backing_valid = self.backing_valid.min(new_size);
        }
        self.size = new_size;
        self.mtime = Some(SystemTime::now());
    }

    /// Makes `backing` hold exactly the merged view. The cache is unchanged (drop it after
    /// success); the caller fsyncs if the write back is meant to be durable.
    pub fn write_back(&self, backing: &mut impl Backing) -> io::Result<()> {
        if backing.file_len()? > self.backing_valid {
            backing.set_len(self.backing_valid)?;
        }
        let mut run: Vec<u8> = Vec::new();
        let mut run_start = 0u64;
        for (&page_no, page) in &self.pages {
            let page_start = page_no * PAGE_SIZE;
            let n = (self.size - page_start).min(PAGE_SIZE) as usize;
            let contiguous = run_start + run.len() as u64 == page_start;
            if !run.is_empty() && (!contiguous || run.len() >= WRITEBACK_RUN) {
                backing.write_at(&run, run_start)?;
                run.clear();
            }
            if run.is_empty() {
                run_start = page_start;
            }
            run.extend_from_slice(&page[..n]);
        }
        if !run.is_empty() {
            backing.write_at(&run, run_start)?;
        }
        if backing.file_len()? != self.size {
            backing.set_len(self.size)?;
        }
        Ok(())
    }

    fn load(
        page: &mut [u8],
        page_start: u64,
        backing_valid: u64,
        backing: &impl Backing,
    ) -> io::Result<()> {
        if page_start < backing_valid {
            let want = (PAGE_SIZE.min(backing_valid - page_start)) as usize;
            backing.read_at(&mut page[..want], page_start)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backing file in memory.
    #[derive(Debug, Clone, Default, PartialEq)]
    struct Mem(Vec<u8>);

    impl Backing for Mem {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let start = (offset as usize).min(self.0.len());
            let n = buf.len().min(self.0.len() - start);
            buf[..n].copy_from_slice(&self.0[start..start + n]);
            Ok(n)
        }
        fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
            let end = offset as usize + data.len();
            if self.0.len() < end {
                self.0.resize(end, 0);
            }
            self.0[offset as usize..end].copy_from_slice(data);
            Ok(())
        }
        fn file_len(&self) -> io::Result<u64> {
            Ok(self.0.len() as u64)
        }
        fn set_len(&mut self, len: u64) -> io::Result<()> {
            self.0.resize(len as usize, 0);
            Ok(())
        }
    }

    /// A plain in-memory file: the model the cache must agree with.
    #[derive(Debug, Default)]
    struct Model(Vec<u8>);

    impl Model {
        fn write(&mut self, offset: usize, data: &[u8]) {
            if self.0.len() < offset + data.len() {
                self.0.resize(offset + data.len(), 0);
            }
            self.0[offset..offset + data.len()].copy_from_slice(data);
        }
        fn truncate(&mut self, len: usize) {
            self.0.resize(len, 0);
        }
    }

    fn all(cache: &FileCache, backing: &Mem) -> Vec<u8> {
        cache.read(0, cache.size() as usize + 10, backing).unwrap()
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn write_spanning_pages_reads_back_and_leaves_backing_alone() {
        let backing = Mem(pattern(10_000, 1));
        let mut cache = FileCache::new(10_000);
        let data = pattern(6000, 7);
        cache.write(3000, &data, &backing).unwrap();
        let mut model = Model(backing.0.clone());
        model.write(3000, &data);
        assert_eq!(all(&cache, &backing), model.0);
        assert_eq!(
            backing.0,
            pattern(10_000, 1),
            "a cached write must not reach the backing file"
        );
        assert_eq!(
            cache.dirty_bytes(),
            3 * PAGE_SIZE,
            "pages 0, 1 and 2 are dirty"
        );
    }

    #[test]
    fn overwrites_keep_the_latest_bytes() {
        let backing = Mem(vec![b'a'; 8192]);
        let mut cache = FileCache::new(8192);
        cache.write(100, b"xxxxxxxxxx", &backing).unwrap();
        cache.write(105, b"YY", &backing).unwrap();
        let got = cache.read(98, 14, &backing).unwrap();
        assert_eq!(got, b"aaxxxxxYYxxxaa");
    }

    #[test]
    fn read_past_backing_eof_is_zeros_up_to_size_and_stops_there() {
        let backing = Mem(b"hello".to_vec());
        let mut cache = FileCache::new(5);
        cache.write(10_000, b"end", &backing).unwrap();
        assert_eq!(cache.size(), 10_003);
        let got = all(&cache, &backing);
        assert_eq!(&got[..5], b"hello");
        assert!(got[5..10_000].iter().all(|&b| b == 0));
        assert_eq!(&got[10_000..], b"end");
        assert!(cache.read(10_003, 10, &backing).unwrap().is_empty());
    }

    #[test]
    fn truncate_down_then_extend_reads_zeros_not_old_backing_bytes() {
        let backing = Mem(vec![b'o'; 3 * PAGE_SIZE as usize]);
        let mut cache = FileCache::new(3 * PAGE_SIZE);
        cache.write(4090, b"0123456789", &backing).unwrap(); // dirty pages 0 and 1
        cache.truncate(4095);
        cache.truncate(3 * PAGE_SIZE);
        let mut model = Model(backing.0.clone());
        model.write(4090, b"0123456789");
        model.truncate(4095);
        model.truncate(3 * PAGE_SIZE as usize);
        assert_eq!(all(&cache, &backing), model.0);
        // A write after the extension loads its page: the cut-off backing bytes stay zeros.
        cache.write(9000, b"Z", &backing).unwrap();
        model.write(9000, b"Z");
        assert_eq!(all(&cache, &backing), model.0);
        let mut after = backing.clone();
        cache.write_back(&mut after).unwrap();
        assert_eq!(after.0, model.0);
    }

    #[test]
    fn write_back_equals_the_merged_view() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % m
        };
        for round in 0..200 {
            let start = pattern(next(20_000) as usize, round as u8);
            let backing = Mem(start.clone());
            let mut cache = FileCache::new(start.len() as u64);
            let mut model = Model(start);
            for _ in 0..12 {
                if next(4) == 0 {
                    let len = next(24_000) as usize;
                    cache.truncate(len as u64);
                    model.truncate(len);
                } else {
                    let off = next(24_000) as usize;
                    let data = pattern(next(9000) as usize + 1, next(256) as u8);
                    cache.write(off as u64, &data, &backing).unwrap();
                    model.write(off, &data);
                }
                assert_eq!(all(&cache, &backing), model.0, "round {round}: read");
            }
            let mut after = backing.clone();
            cache.write_back(&mut after).unwrap();
            assert_eq!(after.0, model.0, "round {round}: write back");
        }
    }

    #[test]
    fn truncate_only_changes_are_written_back() {
        let backing = Mem(vec![1; 5000]);
        let mut cache = FileCache::new(5000);
        cache.truncate(10);
        assert_eq!(cache.dirty_bytes(), 0);
        let mut after = backing.clone();
        cache.write_back(&mut after).unwrap();
        assert_eq!(after.0, vec![1; 10]);
    }
}
