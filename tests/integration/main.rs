//! faultline's integration tests, in one test binary (ripgrep's layout):
//! one module per area, each what used to be a test binary of its own, and
//! [`util`] for what several areas share.
//!
//! Run one area with `cargo test --test integration AREA::`, e.g.
//! `cargo test --test integration etcd::`. Most areas need root (network
//! namespaces, iptables, sshd); `cli` and `module_graph` do not.
//!
//! All tests share this one process. Tests of one area run side by side as
//! they always did; tests of different areas never do ([`util::area`]), as
//! separate binaries never did: each area's timing bounds and its checks of
//! what a run leaves behind (namespaces, processes, slots) were written for
//! its own company only.

mod adapter;
mod adapter_parity;
mod bench;
mod ci_examples;
mod cli;
mod convergence_time;
mod disk_faults;
mod e2e;
mod e2e_matrix;
mod etcd;
mod faults;
mod module_graph;
mod redis;
mod redis_cluster;
mod report_browser;
mod ssh;
mod stores;
mod util;
