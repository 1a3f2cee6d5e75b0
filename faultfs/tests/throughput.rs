//! Throughput of faultfs against the bare backing directory (ignored: it measures, it does
//! not check). Run with `cargo test -p faultfs --release --test throughput -- --ignored --nocapture`.

mod common;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use common::Mounted;

/// `n` appends of 4 KiB, each followed by fdatasync; returns operations per second.
fn write_fsync_loop(path: &Path, n: usize) -> f64 {
    let mut f = File::create(path).unwrap();
    let block = vec![7u8; 4096];
    let t = Instant::now();
    for _ in 0..n {
        f.write_all(&block).unwrap();
        f.sync_data().unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// `mib` MiB written in 64 KiB writes, no fsync; returns MiB per second.
fn write_only_loop(path: &Path, mib: usize) -> f64 {
    let mut f = File::create(path).unwrap();
    let block = vec![7u8; 64 << 10];
    let t = Instant::now();
    for _ in 0..mib * 16 {
        f.write_all(&block).unwrap();
    }
    mib as f64 / t.elapsed().as_secs_f64()
}

#[test]
#[ignore]
fn throughput_mount_vs_backing() {
    let fs = Mounted::start();
    let (n, mib) = (500, 256);
    let bare_sync = write_fsync_loop(&fs.b("bare-sync"), n);
    let fuse_sync = write_fsync_loop(&fs.m("fuse-sync"), n);
    let bare_write = write_only_loop(&fs.b("bare-write"), mib);
    let fuse_write = write_only_loop(&fs.m("fuse-write"), mib);
    println!("write 4 KiB + fdatasync, {n} times: bare {bare_sync:.0}/s, faultfs {fuse_sync:.0}/s ({:.2}x slower)", bare_sync / fuse_sync);
    println!("write {mib} MiB in 64 KiB writes, no fsync: bare {bare_write:.0} MiB/s, faultfs {fuse_write:.0} MiB/s ({:.2}x slower)", bare_write / fuse_write);
}
