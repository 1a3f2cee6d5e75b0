//! ringkv: the reference Dynamo-style key-value store of the faultline
//! project.
//!
//! A small, real distributed store for faultline to break: membership spread
//! by gossip, with leave/join and data handoff ([`membership`]), a
//! consistent-hashing ring with virtual nodes ([`ring`]),
//! N-way replication with per-request R/W quorums ([`coordinator`]),
//! registers that are last-writer-wins by wall clock or keep concurrent
//! writes as siblings under version vectors or dotted version vectors
//! ([`versioning`]), grow-only sets ([`storage`]), replica RPC over HTTP
//! ([`replica`], its messages in [`wire`], served to peers by
//! [`peer_api`]) and a JSON API ([`api`]). State is in memory only.
//!
//! Sloppy quorums with hinted handoff, read repair and hash-tree
//! anti-entropy ([`anti_entropy`]) each have a knob, and so does
//! durability ([`durable`]: redb on disk with an fsync policy).

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
