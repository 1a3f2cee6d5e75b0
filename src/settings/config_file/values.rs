//! The values a configuration file writes more freely than a flag: a
//! duration as a number or a string with a unit, a seed above 2^63 as a
//! string, a sibling bound as a number or a word, nodes as a count or a list
//! of hosts. Each deserializes into the same value the flag parses to, with
//! an error that says what was expected.

use crate::settings::parse_seconds;
use checkers::siblings::SiblingBound;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// A duration in seconds, written as a number (`30`, `1.5`) or as a string
/// with a unit (`"30s"`, `"2m"`, `"500ms"`), as the flags take it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seconds(pub f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration: seconds (30, 1.5) or a string with a unit (\"30s\", \"2m\")",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                parse_seconds(v).map(Seconds).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A seed: an integer, or a string of digits for seeds above TOML's
/// largest integer (2^63 - 1), which half of the random seeds are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed(pub u64);

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seed;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a seed: an integer from 0 to 2^64 - 1 (as a string, \"…\", above 2^63 - 1)",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seed, E> {
                u64::try_from(v)
                    .map(Seed)
                    .map_err(|_| E::custom(format!("{v} is negative; a seed is 0 to 2^64 - 1")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seed, E> {
                Ok(Seed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seed, E> {
                v.trim().parse().map(Seed).map_err(|_| {
                    E::custom(format!(
                        "{v:?} is not a seed (an integer from 0 to 2^64 - 1)"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// How many siblings a read may return, for the siblings checker:
/// `"writers"` (at most the read's concurrent writers, and only mutually
/// concurrent writes: the default), `"unbounded"` (measure only), or a
/// number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound(pub SiblingBound);

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bound;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"writers\", \"causal\", \"unbounded\" or a number of siblings (1 or more)",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bound, E> {
                match usize::try_from(v) {
                    Ok(n) if n >= 1 => Ok(Bound(SiblingBound::AtMost(n))),
                    _ => Err(E::custom(format!(
                        "{v}: expected \"writers\", \"causal\", \"unbounded\" or a number of siblings (1 or more)"
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bound, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bound, E> {
                match v {
                    "writers" => Ok(Bound(SiblingBound::Writers)),
                    "causal" => Ok(Bound(SiblingBound::Causal)),
                    "unbounded" => Ok(Bound(SiblingBound::Unbounded)),
                    other => Err(E::custom(format!(
                        "{other:?}: expected \"writers\", \"causal\", \"unbounded\" or a number of siblings"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `nodes`: a count of local nodes (`5`) or a list of hosts
/// (`["10.0.0.1", "db2:2222"]`), as `--nodes` takes either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nodes(pub crate::cluster::nodes::NodesArg);

impl<'de> Deserialize<'de> for Nodes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::cluster::nodes::NodesArg;
        struct V;
        const WANT: &str = "a number of local nodes (1 to 200) or a list of hosts";
        impl<'de> Visitor<'de> for V {
            type Value = Nodes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(WANT)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Nodes, E> {
                match u16::try_from(v) {
                    Ok(n) if (1..=200).contains(&n) => Ok(Nodes(NodesArg::Count(n))),
                    _ => Err(E::custom(format!("{v} is out of range (1 to 200)"))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Nodes, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            /// `"a,b,c"`, as the flag takes it.
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Nodes, E> {
                v.parse::<NodesArg>().map(Nodes).map_err(E::custom)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Nodes, A::Error> {
                let mut hosts: Vec<String> = Vec::new();
                while let Some(h) = seq.next_element::<String>()? {
                    hosts.push(h);
                }
                if hosts.is_empty() {
                    return Err(de::Error::custom(format!("[]: expected {WANT}")));
                }
                let list = hosts.join(",");
                match list.parse::<NodesArg>() {
                    Ok(NodesArg::Hosts(h)) => Ok(Nodes(NodesArg::Hosts(h))),
                    Ok(NodesArg::Count(_)) => Err(de::Error::custom(format!(
                        "{list:?} is a number, not a host: write nodes = {list} for local nodes"
                    ))),
                    Err(e) => Err(de::Error::custom(e)),
                }
            }
        }
        d.deserialize_any(V)
    }
}
