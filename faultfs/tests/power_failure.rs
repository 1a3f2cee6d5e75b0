//! What survives a power failure (`kill -9` of the daemon) under a real faultfs mount.
//!
//! Each test mounts faultfs on temp dirs, does file operations through the mount, power-fails
//! it, and checks what survived both through the new mount and in the backing directory.

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

use common::{pattern, write_file, Mounted};

/// Reads a file through the mount and in the backing directory; both must agree.
fn both(fs: &Mounted, name: &str) -> Vec<u8> {
    let via_mount = fs::read(fs.m(name)).unwrap();
    let backing = fs::read(fs.b(name)).unwrap();
    assert_eq!(
        via_mount.len(),
        backing.len(),
        "{name}: mount and backing differ in length"
    );
    assert!(via_mount == backing, "{name}: mount and backing differ");
    via_mount
}

#[test]
fn fsynced_data_survives() {
    let mut fs = Mounted::start();
    write_file(&fs.m("a"), b"durable", true);
    assert_eq!(
        fs::read(fs.b("a")).unwrap(),
        b"durable",
        "fsync writes the backing file"
    );
    fs.power_fail();
    assert_eq!(both(&fs, "a"), b"durable");
}

#[test]
fn unfsynced_data_is_lost_but_the_created_file_stays() {
    let mut fs = Mounted::start();
    write_file(&fs.m("b"), b"gone", false);
    assert_eq!(
        fs::read(fs.m("b")).unwrap(),
        b"gone",
        "read your own writes"
    );
    assert_eq!(
        fs::read(fs.b("b")).unwrap(),
        b"",
        "nothing reached the backing file yet"
    );
    fs.power_fail();
    assert_eq!(
        both(&fs, "b"),
        b"",
        "the file exists (metadata is durable) but is empty"
    );
}

#[test]
fn fsynced_prefix_survives_unfsynced_append_does_not() {
    let mut fs = Mounted::start();
    let mut f = File::create(fs.m("log")).unwrap();
    f.write_all(b"A").unwrap();
    f.sync_data().unwrap();
    f.write_all(b"B").unwrap();
    drop(f);
    assert_eq!(fs::read(fs.m("log")).unwrap(), b"AB");
    fs.power_fail();
    assert_eq!(both(&fs, "log"), b"A");
}

#[test]
fn unfsynced_overwrite_in_the_middle_reverts_to_old_bytes() {
    let mut fs = Mounted::start();
    let old = vec![b'a'; 10_000];
    write_file(&fs.m("f"), &old, true);
    let f = OpenOptions::new().write(true).open(fs.m("f")).unwrap();
    f.write_all_at(&[b'b'; 100], 5000).unwrap();
    drop(f);
    let now = fs::read(fs.m("f")).unwrap();
    assert_eq!(&now[5000..5100], &[b'b'; 100][..]);
    assert_eq!(now.len(), 10_000);
    fs.power_fail();
    assert_eq!(both(&fs, "f"), old);
}

#[test]
fn truncate_needs_fsync_and_cut_bytes_never_reappear() {
    let mut fs = Mounted::start();
    write_file(&fs.m("t"), &vec![b'x'; 10_000], true);
    let f = OpenOptions::new().write(true).open(fs.m("t")).unwrap();
    f.set_len(100).unwrap();
    assert_eq!(
        fs::metadata(fs.m("t")).unwrap().len(),
        100,
        "the mount shows the new size"
    );
    drop(f);
    fs.power_fail();
    assert_eq!(
        both(&fs, "t").len(),
        10_000,
        "an un-fsynced truncate is lost"
    );

    let f = OpenOptions::new().write(true).open(fs.m("t")).unwrap();
    f.set_len(100).unwrap();
    f.set_len(8000).unwrap();
    let mut expect = vec![b'x'; 100];
    expect.resize(8000, 0);
    assert_eq!(
        fs::read(fs.m("t")).unwrap(),
        expect,
        "truncated bytes read as zeros"
    );
    f.sync_all().unwrap();
    drop(f);
    fs.power_fail();
    assert_eq!(
        both(&fs, "t"),
        expect,
        "a fsynced truncate then extend survives"
    );
}

#[test]
fn sparse_write_past_eof_then_fsync() {
    let mut fs = Mounted::start();
    let f = File::create(fs.m("s")).unwrap();
    f.write_all_at(b"end", 1 << 20).unwrap();
    f.sync_all().unwrap();
    drop(f);
    fs.power_fail();
    let got = both(&fs, "s");
    assert_eq!(got.len(), (1 << 20) + 3);
    assert!(got[..1 << 20].iter().all(|&b| b == 0));
    assert_eq!(&got[1 << 20..], b"end");
}

#[test]
fn renamed_dirty_file_fsynced_under_its_new_name_keeps_its_data() {
    let mut fs = Mounted::start();
    write_file(&fs.m("c"), b"moved", false);
    fs::rename(fs.m("c"), fs.m("d")).unwrap();
    File::open(fs.m("d")).unwrap().sync_all().unwrap();
    // A second dirty file renamed without fsync: the rename is durable, the data is not.
    write_file(&fs.m("e"), b"lost", false);
    fs::rename(fs.m("e"), fs.m("g")).unwrap();
    fs.power_fail();
    assert_eq!(both(&fs, "d"), b"moved");
    assert!(!fs.m("c").exists() && !fs.b("c").exists());
    assert_eq!(
        both(&fs, "g"),
        b"",
        "rename is durable at once, the data is not"
    );
    assert!(!fs.b("e").exists());
}

#[test]
fn renamed_directory_carries_its_dirty_files() {
    let mut fs = Mounted::start();
    fs::create_dir(fs.m("dir")).unwrap();
    write_file(&fs.m("dir/x"), b"inside", false);
    fs::rename(fs.m("dir"), fs.m("dir2")).unwrap();
    assert_eq!(fs::read(fs.m("dir2/x")).unwrap(), b"inside");
    File::open(fs.m("dir2/x")).unwrap().sync_all().unwrap();
    fs.power_fail();
    assert_eq!(both(&fs, "dir2/x"), b"inside");
}

#[test]
fn o_sync_and_o_dsync_writes_survive_without_fsync() {
    let mut fs = Mounted::start();
    for (name, flag) in [("sync", libc::O_SYNC), ("dsync", libc::O_DSYNC)] {
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .custom_flags(flag)
            .open(fs.m(name))
            .unwrap();
        f.write_all(name.as_bytes()).unwrap();
    }
    fs.power_fail();
    assert_eq!(both(&fs, "sync"), b"sync");
    assert_eq!(both(&fs, "dsync"), b"dsync");
}

/// Writes `data` at the start of `name` through a shared mapping, then unmaps and closes.
fn write_through_mmap(path: &std::path::Path, data: &[u8], msync: bool) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let len = f.metadata().unwrap().len() as usize;
    // SAFETY: a fresh shared mapping of a file at least `len` long, written within bounds,
    // synced and unmapped before the file is closed.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(
            p,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        std::ptr::copy_nonoverlapping(data.as_ptr(), p as *mut u8, data.len());
        if msync {
            assert_eq!(libc::msync(p, len, libc::MS_SYNC), 0, "msync");
        }
        assert_eq!(libc::munmap(p, len), 0);
    }
}

#[test]
fn mmap_write_survives_with_msync_and_is_lost_without() {
    let mut fs = Mounted::start();
    for name in ["synced", "unsynced"] {
        write_file(&fs.m(name), &[0u8; 8192], true);
    }
    write_through_mmap(&fs.m("synced"), b"mapped and synced", true);
    write_through_mmap(&fs.m("unsynced"), b"mapped, never synced", false);
    // Both are visible through the mount: the kernel sent the dirty pages as writes (at
    // close at the latest), and faultfs holds them in its cache.
    assert_eq!(
        &fs::read(fs.m("unsynced")).unwrap()[..20],
        b"mapped, never synced"
    );
    assert_eq!(&fs::read(fs.b("unsynced")).unwrap()[..20], &[0u8; 20]);
    fs.power_fail();
    assert_eq!(&both(&fs, "synced")[..17], b"mapped and synced");
    assert_eq!(
        both(&fs, "unsynced"),
        vec![0u8; 8192],
        "no msync, no fsync: lost"
    );
}

#[test]
fn fsync_of_a_directory_succeeds_and_metadata_is_durable_anyway() {
    let mut fs = Mounted::start();
    fs::create_dir(fs.m("sub")).unwrap();
    write_file(&fs.m("sub/f"), b"data", true);
    File::open(fs.m("sub")).unwrap().sync_all().unwrap();
    File::open(&fs.mount).unwrap().sync_all().unwrap();
    // A file created without any directory fsync survives too: faultfs does not model
    // lost directory entries.
    write_file(&fs.m("sub/nodirsync"), b"", false);
    fs.power_fail();
    assert_eq!(both(&fs, "sub/f"), b"data");
    assert!(fs.m("sub/nodirsync").exists());
}

#[test]
fn unlinking_a_dirty_file_drops_it() {
    let mut fs = Mounted::start();
    write_file(&fs.m("u"), b"dirty", false);
    fs::remove_file(fs.m("u")).unwrap();
    assert!(!fs.b("u").exists());
    // A new file under the same name starts empty: no stale cached pages.
    write_file(&fs.m("u"), b"", false);
    assert_eq!(fs::read(fs.m("u")).unwrap(), b"");
    // An unlinked file still open keeps working for its holder.
    let mut held = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(fs.m("h"))
        .unwrap();
    held.write_all(b"held").unwrap();
    fs::remove_file(fs.m("h")).unwrap();
    let mut back = String::new();
    held.seek(SeekFrom::Start(0)).unwrap();
    held.read_to_string(&mut back).unwrap();
    assert_eq!(back, "held");
    drop(held);
    fs.power_fail();
    assert_eq!(both(&fs, "u"), b"");
    assert!(!fs.m("h").exists() && !fs.b("h").exists());
}

#[test]
fn two_handles_see_each_others_writes() {
    let fs = Mounted::start();
    let a = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(fs.m("two"))
        .unwrap();
    let b = File::options()
        .read(true)
        .write(true)
        .open(fs.m("two"))
        .unwrap();
    a.write_all_at(b"one", 0).unwrap();
    let mut buf = [0u8; 3];
    b.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"one");
    b.write_all_at(b"two", 3).unwrap();
    let mut buf = [0u8; 6];
    a.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"onetwo");
    assert_eq!(fs::metadata(fs.m("two")).unwrap().len(), 6);
}

#[test]
fn multi_megabyte_files() {
    let mut fs = Mounted::start();
    let big = pattern(8 << 20, 3);
    write_file(&fs.m("big"), &big, true);
    write_file(&fs.m("big-dirty"), &pattern(8 << 20, 9), false);
    assert_eq!(fs::read(fs.m("big-dirty")).unwrap(), pattern(8 << 20, 9));
    fs.power_fail();
    assert!(
        both(&fs, "big") == big,
        "8 MiB fsynced file survives byte for byte"
    );
    assert_eq!(both(&fs, "big-dirty").len(), 0);
}

#[test]
fn dirty_cap_writes_back_and_says_so() {
    let mut fs = Mounted::start_with(&["--max-dirty-mib", "1"]);
    let data = pattern(3 << 20, 5);
    write_file(&fs.m("capped"), &data, false);
    fs.power_fail();
    let got = both(&fs, "capped");
    assert!(
        got.len() >= 1 << 20,
        "past the cap, data was written back (got {} bytes)",
        got.len()
    );
    assert!(
        got[..] == data[..got.len()],
        "what was written back is the data written"
    );
    assert!(
        fs.log_text().contains("max-dirty-mib"),
        "the write back is logged"
    );
}

#[test]
fn sigterm_writes_everything_back_and_unmounts() {
    let mut fs = Mounted::start();
    write_file(&fs.m("p"), b"clean", false);
    fs::create_dir(fs.m("q")).unwrap();
    write_file(&fs.m("q/r"), &pattern(100_000, 1), false);
    let f = OpenOptions::new().write(true).open(fs.m("p")).unwrap();
    f.write_all_at(b"C", 0).unwrap();
    drop(f);
    let status = fs.stop_clean();
    assert!(status.success(), "clean shutdown exits 0, got {status}");
    assert!(!fs.is_mounted(), "the mount is gone");
    assert_eq!(fs::read(fs.b("p")).unwrap(), b"Clean");
    assert_eq!(fs::read(fs.b("q/r")).unwrap(), pattern(100_000, 1));
}

#[test]
fn delay_file_makes_fsync_wait_at_least_the_delay() {
    let delay = Duration::from_millis(300);
    let fs = Mounted::start();
    fs::write(&fs.delay_file, format!("{}\n", delay.as_millis())).unwrap();
    // The daemon looks at the delay file at most every 100 ms.
    std::thread::sleep(Duration::from_millis(250));
    let mut f = File::create(fs.m("slow")).unwrap();
    f.write_all(b"x").unwrap();
    let t = Instant::now();
    f.sync_all().unwrap();
    let took = t.elapsed();
    assert!(
        took >= delay,
        "fsync took {took:?}, less than the {delay:?} delay"
    );
    fs::write(&fs.delay_file, "0\n").unwrap();
}

#[test]
fn hard_linked_dirty_file_keeps_its_data_under_the_other_name() {
    let mut fs = Mounted::start();
    write_file(&fs.m("orig"), b"linked", false);
    fs::hard_link(fs.m("orig"), fs.m("alias")).unwrap();
    fs::remove_file(fs.m("orig")).unwrap();
    assert_eq!(
        fs::read(fs.m("alias")).unwrap(),
        b"linked",
        "the cache follows the inode"
    );
    File::open(fs.m("alias")).unwrap().sync_all().unwrap();
    fs.power_fail();
    assert_eq!(both(&fs, "alias"), b"linked");
    assert!(!fs.b("orig").exists());
}

#[test]
fn concurrent_writers_through_separate_handles() {
    let mut fs = Mounted::start();
    File::create(fs.m("shared")).unwrap();
    let chunk = 256 << 10;
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let path = fs.m("shared");
            s.spawn(move || {
                let f = OpenOptions::new().write(true).open(path).unwrap();
                for i in 0..8 {
                    let off = (i * 4 + t as usize) * chunk;
                    f.write_all_at(&pattern(chunk, t * 8 + i as u8), off as u64)
                        .unwrap();
                }
                if t == 0 {
                    f.sync_data().unwrap();
                }
            });
        }
    });
    let mut expect = vec![0u8; 32 * chunk];
    for t in 0..4u8 {
        for i in 0..8 {
            let off = (i * 4 + t as usize) * chunk;
            expect[off..off + chunk].copy_from_slice(&pattern(chunk, t * 8 + i as u8));
        }
    }
    assert!(
        fs::read(fs.m("shared")).unwrap() == expect,
        "all writers' data reads back"
    );
    // Thread 0's fsync covered whatever the others had written by then; fsync once more
    // from here so the check does not depend on how the threads interleaved.
    File::open(fs.m("shared")).unwrap().sync_all().unwrap();
    fs.power_fail();
    assert!(
        both(&fs, "shared") == expect,
        "fsynced concurrent writes survive"
    );
}
