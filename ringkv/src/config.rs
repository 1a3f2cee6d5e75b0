//! Node configuration: a small TOML file naming this node, the static
//! membership of the cluster and the replication knobs (N, R, W, timeout).
//!
//! Parsing is strict (unknown keys are rejected) so that a typo in a test
//! harness's generated config fails loudly at startup instead of silently
//! running with defaults. Every error renders as one line that names the
//! file and the problem.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::durable::FsyncPolicy;
use crate::versioning::Mode;

/// Default number of virtual nodes (ring tokens) per physical node.
pub const DEFAULT_VNODES: usize = 64;
/// Default replication factor N.
pub const DEFAULT_N: usize = 3;
/// Default read quorum R.
pub const DEFAULT_R: usize = 2;
/// Default write quorum W.
pub const DEFAULT_W: usize = 2;
/// Default replica RPC timeout in milliseconds.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 1000;
/// Default interval between gossip rounds (ms); 0 turns gossip off.
pub const DEFAULT_GOSSIP_INTERVAL_MS: u64 = 200;
/// Default interval between anti-entropy exchanges (ms); 0 turns it off.
pub const DEFAULT_ANTI_ENTROPY_INTERVAL_MS: u64 = 2000;
/// Default interval between handoff scans (ms); 0 turns handoff off.
pub const DEFAULT_HANDOFF_INTERVAL_MS: u64 = 500;
/// Default time without a message after which a peer is suspected dead (ms).
pub const DEFAULT_SUSPECT_AFTER_MS: u64 = 2000;
/// Upper bound on `vnodes`, to keep a typo from allocating a huge ring.
pub const MAX_VNODES: usize = 4096;

/// A configuration problem, always tied to the file it came from.
///
/// The `Display` form is a single line (`config FILE: problem`) so the binary
/// can print it verbatim and exit with status 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("config {path}: cannot read: {source}")]
    Read {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the expected shape.
    #[error("config {path}: {message}")]
    Parse {
        /// The file that was being parsed.
        path: PathBuf,
        /// One-line description, with line and column when known.
        message: String,
    },
    /// The file parsed but its contents are inconsistent (unknown node,
    /// duplicate names, quorum larger than N, ...).
    #[error("config {path}: {message}")]
    Invalid {
        /// The file that was being validated.
        path: PathBuf,
        /// One-line description of the problem.
        message: String,
    },
}

/// One cluster member as listed in `[[nodes]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique node name, used in ring tokens and as the LWW writer id.
    pub name: String,
    /// `host:port` at which the node serves HTTP (public and internal API).
    pub addr: String,
}

/// The raw file shape, before defaults and validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    node: String,
    listen: Option<String>,
    vnodes: Option<usize>,
    n: Option<usize>,
    r: Option<usize>,
    w: Option<usize>,
    request_timeout_ms: Option<u64>,
    conflict: Option<String>,
    data_dir: Option<PathBuf>,
    fsync: Option<String>,
    fsync_interval_ms: Option<u64>,
    sloppy_quorum: Option<bool>,
    read_repair: Option<bool>,
    anti_entropy_interval_ms: Option<u64>,
    gossip_interval_ms: Option<u64>,
    handoff_interval_ms: Option<u64>,
    suspect_after_ms: Option<u64>,
    #[serde(default)]
    nodes: Vec<NodeSpec>,
}

/// A validated node configuration with all defaults applied.
///
/// Invariants (checked by [`Config::from_toml_str`]): `nodes` is non-empty
/// with unique names and addresses, `node` is one of them,
/// `1 <= n <= nodes.len()`, `1 <= r, w <= n`, `vnodes >= 1`, timeout > 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// This node's name.
    pub node: String,
    /// Address to bind the HTTP server to.
    pub listen: String,
    /// Virtual nodes per physical node.
    pub vnodes: usize,
    /// Replicas per key, already capped at the number of nodes.
    pub n: usize,
    /// Default read quorum.
    pub r: usize,
    /// Default write quorum.
    pub w: usize,
    /// Timeout for each replica RPC and for reaching a quorum.
    pub request_timeout: Duration,
    /// How concurrent writes to a register are resolved.
    pub conflict: Mode,
    /// Where the store keeps its data; `None`: in memory only.
    pub data_dir: Option<PathBuf>,
    /// When writes reach the disk (with `data_dir`).
    pub fsync: FsyncPolicy,
    /// Whether unreachable primaries are replaced by fallback nodes
    /// (Dynamo's sloppy quorum with hinted handoff) or quorums are strict.
    pub sloppy_quorum: bool,
    /// Whether a read pushes the merged state to replicas that answered
    /// with an older one.
    pub read_repair: bool,
    /// Time between anti-entropy exchanges; zero turns anti-entropy off.
    pub anti_entropy_interval: Duration,
    /// Time between gossip rounds; zero means no gossip (static membership).
    pub gossip_interval: Duration,
    /// Time between handoff scans; zero means keys never move after a
    /// membership change.
    pub handoff_interval: Duration,
    /// How long a silent peer stays presumed alive.
    pub suspect_after: Duration,
    /// The initial cluster membership, in file order.
    pub nodes: Vec<NodeSpec>,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml_str(&text, path)
    }

    /// Parses and validates TOML text; `path` is only used in error messages.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: one_line_toml_error(text, &e),
        })?;
        raw.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// The address of the named node, if it is a member.
    pub fn addr_of(&self, name: &str) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.addr.as_str())
    }
}

impl RawConfig {
    fn validate(self) -> Result<Config, String> {
        if self.nodes.is_empty() {
            return Err("no [[nodes]] entries".into());
        }
        let mut names = HashSet::new();
        let mut addrs = HashSet::new();
        for spec in &self.nodes {
            if spec.name.is_empty() || spec.name.chars().any(|c| c.is_whitespace()) {
                return Err(format!(
                    "node name {:?} must be non-empty and contain no whitespace",
                    spec.name
                ));
            }
            if !names.insert(spec.name.as_str()) {
                return Err(format!("duplicate node name {:?}", spec.name));
            }
            check_host_port(&spec.addr)
                .map_err(|e| format!("node {:?}: addr {:?}: {e}", spec.name, spec.addr))?;
            if !addrs.insert(spec.addr.as_str()) {
                return Err(format!("duplicate node addr {:?}", spec.addr));
            }
        }
        let Some(me) = self.nodes.iter().find(|s| s.name == self.node) else {
            return Err(format!(
                "node {:?} is not listed in [[nodes]] (known: {})",
                self.node,
                self.nodes
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let listen = match self.listen {
            Some(l) => {
                check_host_port(&l).map_err(|e| format!("listen {l:?}: {e}"))?;
                l
            }
            None => me.addr.clone(),
        };

        let vnodes = self.vnodes.unwrap_or(DEFAULT_VNODES);
        if vnodes == 0 || vnodes > MAX_VNODES {
            return Err(format!("vnodes = {vnodes}: must be in 1..={MAX_VNODES}"));
        }
        let n = self.n.unwrap_or(DEFAULT_N);
        if n == 0 {
            return Err("n = 0: must be at least 1".into());
        }
        let n = n.min(self.nodes.len());
        // Explicit quorums must fit N; defaults are capped so that a one- or
        // two-node config works without spelling out r and w.
        let r = quorum("r", self.r, DEFAULT_R, n)?;
        let w = quorum("w", self.w, DEFAULT_W, n)?;
        let timeout_ms = self
            .request_timeout_ms
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err("request_timeout_ms = 0: must be at least 1".into());
        }

        let fsync_interval = self.fsync_interval_ms.unwrap_or(100);
        let fsync = match self.fsync.as_deref() {
            None => FsyncPolicy::Always,
            Some(f) => FsyncPolicy::parse(f, fsync_interval)
                .ok_or_else(|| format!("fsync = {f:?}: must be one of always, interval, never"))?,
        };
        let conflict = match self.conflict.as_deref() {
            None => Mode::Lww,
            Some(c) => Mode::parse(c)
                .ok_or_else(|| format!("conflict = {c:?}: must be one of {}", Mode::NAMES))?,
        };

        Ok(Config {
            node: self.node,
            listen,
            vnodes,
            n,
            r,
            w,
            request_timeout: Duration::from_millis(timeout_ms),
            conflict,
            data_dir: self.data_dir,
            fsync,
            sloppy_quorum: self.sloppy_quorum.unwrap_or(false),
            read_repair: self.read_repair.unwrap_or(true),
            anti_entropy_interval: Duration::from_millis(
                self.anti_entropy_interval_ms
                    .unwrap_or(DEFAULT_ANTI_ENTROPY_INTERVAL_MS),
            ),
            gossip_interval: Duration::from_millis(
                self.gossip_interval_ms
                    .unwrap_or(DEFAULT_GOSSIP_INTERVAL_MS),
            ),
            handoff_interval: Duration::from_millis(
                self.handoff_interval_ms
                    .unwrap_or(DEFAULT_HANDOFF_INTERVAL_MS),
            ),
            suspect_after: Duration::from_millis(
                self.suspect_after_ms
                    .unwrap_or(DEFAULT_SUSPECT_AFTER_MS)
                    .max(1),
            ),
            nodes: self.nodes,
        })
    }
}

fn quorum(what: &str, explicit: Option<usize>, default: usize, n: usize) -> Result<usize, String> {
    match explicit {
        None => Ok(default.min(n)),
        Some(q) if (1..=n).contains(&q) => Ok(q),
        Some(q) => Err(format!(
            "{what} = {q}: must be in 1..={n} (n, capped at the node count)"
        )),
    }
}

/// Checks that `s` looks like `host:port` (IPv6 hosts in brackets).
fn check_host_port(s: &str) -> Result<(), String> {
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err("expected host:port".into());
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    port.parse::<u16>()
        .map_err(|_| format!("invalid port {port:?}"))?;
    Ok(())
}

/// Renders a TOML error as one line with a 1-based line:column prefix.
fn one_line_toml_error(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().replace('\n', " ");
    let message = message.trim();
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: {message}")
        }
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
node = "n1"
[[nodes]]
name = "n1"
addr = "127.0.0.1:8001"
[[nodes]]
name = "n2"
addr = "127.0.0.1:8002"
[[nodes]]
name = "n3"
addr = "127.0.0.1:8003"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, Path::new("test.toml"))
    }

    fn err(text: &str) -> String {
        let e = parse(text).expect_err("config should be rejected");
        let s = e.to_string();
        assert!(!s.contains('\n'), "error must be one line: {s:?}");
        assert!(s.starts_with("config test.toml: "), "{s}");
        s
    }

    #[test]
    fn defaults_applied() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.node, "n1");
        assert_eq!(c.listen, "127.0.0.1:8001");
        assert_eq!(c.vnodes, 64);
        assert_eq!((c.n, c.r, c.w), (3, 2, 2));
        assert_eq!(c.request_timeout, Duration::from_millis(1000));
        assert_eq!(c.addr_of("n3"), Some("127.0.0.1:8003"));
        assert_eq!(c.gossip_interval, Duration::from_millis(200));
        assert_eq!(c.handoff_interval, Duration::from_millis(500));
        assert_eq!(c.suspect_after, Duration::from_millis(2000));
    }

    #[test]
    fn explicit_values() {
        let text = format!(
            "listen = \"0.0.0.0:9000\"\nvnodes = 8\nn = 2\nr = 1\nw = 2\nrequest_timeout_ms = 250\n{GOOD}"
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!((c.vnodes, c.n, c.r, c.w), (8, 2, 1, 2));
        assert_eq!(c.request_timeout, Duration::from_millis(250));
    }

    #[test]
    fn n_capped_and_default_quorums_follow() {
        let text = r#"
node = "solo"
n = 5
[[nodes]]
name = "solo"
addr = "127.0.0.1:1"
"#;
        let c = parse(text).unwrap();
        assert_eq!((c.n, c.r, c.w), (1, 1, 1));
    }

    #[test]
    fn explicit_quorum_larger_than_n_rejected() {
        let s = err(&format!("w = 4\n{GOOD}"));
        assert!(s.contains("w = 4"), "{s}");
        let s = err(&format!("r = 0\n{GOOD}"));
        assert!(s.contains("r = 0"), "{s}");
    }

    #[test]
    fn unknown_node_rejected() {
        let s = err(&GOOD.replace("node = \"n1\"", "node = \"n9\""));
        assert!(s.contains("\"n9\" is not listed"), "{s}");
    }

    #[test]
    fn duplicate_name_rejected() {
        let s = err(&GOOD.replace("name = \"n2\"", "name = \"n1\""));
        assert!(s.contains("duplicate node name"), "{s}");
    }

    #[test]
    fn bad_addr_rejected() {
        let s = err(&GOOD.replace("127.0.0.1:8002", "127.0.0.1"));
        assert!(s.contains("expected host:port"), "{s}");
        let s = err(&GOOD.replace("127.0.0.1:8002", "127.0.0.1:99999"));
        assert!(s.contains("invalid port"), "{s}");
    }

    #[test]
    fn unknown_key_and_syntax_errors_are_one_line() {
        let s = err(&format!("replicas = 3\n{GOOD}"));
        assert!(s.contains("replicas"), "{s}");
        let s = err("node = \n");
        assert!(s.contains("line 1"), "{s}");
        let s = err(&format!("vnodes = \"many\"\n{GOOD}"));
        assert!(s.contains("line 1"), "{s}");
    }

    #[test]
    fn missing_fields_rejected() {
        err("[[nodes]]\nname = \"n1\"\naddr = \"127.0.0.1:1\"\n");
        err("node = \"n1\"\n");
        err(&format!("vnodes = 0\n{GOOD}"));
        err(&format!("request_timeout_ms = 0\n{GOOD}"));
    }

    #[test]
    fn unreadable_file() {
        let e = Config::load(Path::new("/nonexistent/ringkv.toml")).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("config /nonexistent/ringkv.toml: cannot read"));
    }
}
