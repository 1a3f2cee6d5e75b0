//! How a Dynamo-style store replicates: N/R/W quorums, the conflict mode
//! (last write wins, or siblings under version vectors / dotted version
//! vectors), sloppy quorum, read repair, anti-entropy and durability.
//!
//! These are ringkv's knobs, flags and `[store]` keys alike; other stores
//! ignore them. [`Conflict`] is the model of a setting parsed once at the
//! edge: the flag's string becomes the enum where the command line or the
//! file is read, and nothing deeper matches on the name.

/// Replication settings written into every node's config: quorums and how
/// concurrent writes are resolved.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Replication {
    /// Replicas per key.
    pub n: u8,
    /// Read quorum.
    pub r: u8,
    /// Write quorum.
    pub w: u8,
    /// Conflict mode: `lww`, `vclock`, `dvv` or `node-vclock`.
    pub conflict: Conflict,
    /// Sloppy quorum with hinted handoff instead of strict quorums.
    #[serde(default)]
    pub sloppy_quorum: bool,
    /// Read repair on or off.
    #[serde(default = "yes")]
    pub read_repair: bool,
    /// Anti-entropy interval in milliseconds (0: off).
    #[serde(default)]
    pub anti_entropy_ms: u64,
    /// Durability: `always`, `interval`, `never` (data on disk with that
    /// fsync policy), or `off` (memory only).
    #[serde(default = "always")]
    pub fsync: String,
}

fn always() -> String {
    "always".into()
}

/// The values `--fsync` accepts.
pub const FSYNC_POLICIES: &[&str] = &["always", "interval", "never", "off"];

fn yes() -> bool {
    true
}

/// ringkv's conflict modes (see `ringkv::versioning`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Conflict {
    /// Last write wins, by the coordinator's wall clock.
    Lww,
    /// Siblings with per-client version vectors.
    Vclock,
    /// Siblings with dotted version vectors.
    Dvv,
    /// Siblings with node-keyed clocks and no dots (sibling explosion).
    NodeVclock,
}

impl Conflict {
    /// The names `--conflict` accepts.
    pub const NAMES: &'static str = "lww, vclock, dvv, node-vclock";

    /// Parses a `--conflict` value.
    pub fn parse(s: &str) -> Option<Conflict> {
        Some(match s {
            "lww" => Conflict::Lww,
            "vclock" => Conflict::Vclock,
            "dvv" => Conflict::Dvv,
            "node-vclock" => Conflict::NodeVclock,
            _ => return None,
        })
    }

    /// The name, as ringkv's config spells it.
    pub fn name(self) -> &'static str {
        match self {
            Conflict::Lww => "lww",
            Conflict::Vclock => "vclock",
            Conflict::Dvv => "dvv",
            Conflict::NodeVclock => "node-vclock",
        }
    }
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            n: 3,
            r: 2,
            w: 2,
            conflict: Conflict::Lww,
            sloppy_quorum: false,
            read_repair: true,
            anti_entropy_ms: 2000,
            fsync: always(),
        }
    }
}
