//! ringkv: the reference Dynamo-style key-value store of the faultline
//! project.
//!
//! A small, real distributed store for faultline to break:
//!
//! - membership spread by gossip, with a heartbeat failure detector, leave
//!   and join ([`membership`]), over a consistent-hashing ring with virtual
//!   nodes ([`ring`]);
//! - N-way replication: any node coordinates any request with per-request
//!   R/W (and PR/PW) quorums, strict or sloppy, with hinted handoff, read
//!   repair, handoff of keys a node no longer owns, and hash-tree
//!   anti-entropy ([`coordinator`], [`anti_entropy`]);
//! - registers that are last-writer-wins by wall clock or keep concurrent
//!   writes as siblings under version vectors or dotted version vectors
//!   ([`versioning`]), grow-only sets ([`storage`]), CRDTs (PN-counter,
//!   OR-set, sequence: [`crdt`]) and linearizable compare-and-set registers
//!   by single-decree Paxos ([`paxos`]);
//! - each replica's state in memory and, with a `data_dir`, on disk in redb
//!   under an fsync policy (`always`, `interval`, `never`: [`durable`]);
//! - replica RPC over HTTP ([`replica`], its messages in [`wire`], served to
//!   peers by [`peer_api`]) and a JSON API for clients ([`api`]), run by a
//!   [`node`] from its [`config`].
//!
//! Sloppy quorum, read repair, anti-entropy, gossip, handoff and durability
//! each have a knob, so a test can turn each mechanism on or off.

#![warn(missing_docs)]

pub mod anti_entropy;
pub mod api;
pub mod config;
pub mod coordinator;
pub mod crdt;
pub mod durable;
pub mod membership;
pub mod node;
pub mod paxos;
pub mod peer_api;
pub mod replica;
pub mod ring;
pub mod storage;
pub mod versioning;
pub mod wire;

pub use config::{Config, ConfigError};
pub use coordinator::{CoordError, Coordinator};
pub use node::{Node, NodeError};
