//! Settings that name one of a few things, as enums: the store under test
//! ([`StoreKind`]) and how clock faults move clocks ([`ClockMode`]).
//!
//! Each is parsed from its flag or file key once, where the command line or
//! the file is read, and written to `test.json` in the same words the flag
//! takes, so a run's settings read back as they were given. Nothing deeper
//! compares these names as strings.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;

/// How the `clock` nemesis moves clocks (`--clock-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Each store process under libfaketime, with an offset file per node.
    #[default]
    Faketime,
    /// `date -s` on SSH nodes: the whole host's clock, for stores
    /// libfaketime cannot reach (Go binaries).
    Date,
}

impl ClockMode {
    /// The word `--clock-mode` takes.
    pub fn name(self) -> &'static str {
        match self {
            ClockMode::Faketime => "faketime",
            ClockMode::Date => "date",
        }
    }

    /// Parses `--clock-mode`'s word.
    pub fn parse(s: &str) -> Option<ClockMode> {
        match s {
            "faketime" => Some(ClockMode::Faketime),
            "date" => Some(ClockMode::Date),
            _ => None,
        }
    }
}

/// The store under test (`--store`): one shipped with faultline, or any
/// store described by an adapter's TOML file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StoreKind {
    /// ringkv, the reference store (every workload).
    #[default]
    Ringkv,
    /// etcd (register).
    Etcd,
    /// Redis with Sentinel (set).
    Redis,
    /// An adapter's description (`docs/adapters.md`).
    Adapter(PathBuf),
    /// A description shipped with faultline (`garage`, `couch`).
    Shipped(Shipped),
}

/// A store shipped as a description (`--store` takes its name); its files
/// are built into the binary (`stores::adapter::shipped`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shipped {
    /// Garage 2.5.0: K2V siblings and sets, S3 registers.
    Garage,
    /// pouchdb-server: CouchDB's replication protocol, multi-master.
    Couch,
}

impl Shipped {
    /// Every shipped description.
    pub const ALL: [Shipped; 2] = [Shipped::Garage, Shipped::Couch];

    /// The name `--store` takes.
    pub fn name(self) -> &'static str {
        match self {
            Shipped::Garage => "garage",
            Shipped::Couch => "couch",
        }
    }

    /// The store `--store` names, if it is a shipped description.
    pub fn parse(s: &str) -> Option<Shipped> {
        Shipped::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Where its description is in this checkout (for messages and docs).
    pub fn source(self) -> String {
        format!("examples/adapters/{0}/{0}.toml", self.name())
    }
}

/// The stores `--store` names (an adapter is given by its file instead).
pub const STORES: &[&str] = &["ringkv", "etcd", "redis", "garage", "couch"];

impl StoreKind {
    /// Parses `--store`: a shipped store's name, or a path ending `.toml`.
    pub fn parse(s: &str) -> Result<StoreKind, String> {
        if s.ends_with(".toml") {
            return Ok(StoreKind::Adapter(PathBuf::from(s)));
        }
        match s {
            "ringkv" => Ok(StoreKind::Ringkv),
            "etcd" => Ok(StoreKind::Etcd),
            "redis" => Ok(StoreKind::Redis),
            other if Shipped::parse(other).is_some() => {
                Ok(StoreKind::Shipped(Shipped::parse(other).expect("just found")))
            }
            other => Err(format!(
                "--store {other:?}: unknown store; known: {}, or the path of an adapter's .toml file (docs/adapters.md)",
                STORES.join(", ")
            )),
        }
    }

    /// Whether ringkv's replication settings (N/R/W, conflict mode, read
    /// repair, anti-entropy, fsync) apply: they are ringkv's knobs, and
    /// other stores ignore them.
    pub fn has_replication_settings(&self) -> bool {
        *self == StoreKind::Ringkv
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreKind::Ringkv => f.write_str("ringkv"),
            StoreKind::Etcd => f.write_str("etcd"),
            StoreKind::Redis => f.write_str("redis"),
            StoreKind::Adapter(p) => write!(f, "{}", p.display()),
            StoreKind::Shipped(s) => f.write_str(s.name()),
        }
    }
}

impl std::str::FromStr for StoreKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StoreKind::parse(s)
    }
}

impl Serialize for StoreKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StoreKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StoreKind::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_as_they_were_written() {
        for s in ["ringkv", "etcd", "redis", "stores/garage.toml"] {
            let k = StoreKind::parse(s).unwrap();
            assert_eq!(k.to_string(), s);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<StoreKind>(&json).unwrap(), k);
        }
        assert!(StoreKind::parse("mongo")
            .unwrap_err()
            .contains("known: ringkv"));
        assert!(StoreKind::Ringkv.has_replication_settings());
        assert!(!StoreKind::Etcd.has_replication_settings());
        assert_eq!(serde_json::to_string(&ClockMode::Date).unwrap(), "\"date\"");
        assert_eq!(ClockMode::parse("faketime"), Some(ClockMode::Faketime));
        assert_eq!(ClockMode::parse("ntp"), None);
    }
}
