//! [`ClientMode`]: how a test's clients talk to the store (`--client`), as
//! one enum of the words every workload and store uses.
//!
//! A word means one thing wherever it appears: `crdt` is the store's own
//! merge (a set's union, a counter's PN-counter), `rmw` a client-side
//! read-modify-write, `cas` ringkv's Paxos registers, `quorum` plain quorum
//! reads and writes, and so on. So the mode round-trips through
//! `test.json` as its word alone, and each workload or store turns it into
//! its own typed mode with `TryFrom`, refusing, by name, a mode it does not
//! have.

use crate::{counter, etcd, redis, register, session, set, siblings, WorkloadError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A client mode, as `--client` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientMode {
    /// The store merges concurrent updates itself (CRDT endpoints).
    Crdt,
    /// The client reads, modifies and writes back.
    Rmw,
    /// ringkv's Paxos compare-and-set registers.
    Cas,
    /// Plain quorum reads and writes (client-side compare-and-set).
    Quorum,
    /// Writes carry the causal context of the read before them.
    Context,
    /// Writes carry no causal context.
    Blind,
    /// A session stays on one coordinator.
    Sticky,
    /// Each op of a session goes to a coordinator drawn at random.
    Random,
    /// etcd's linearizable reads (through the leader).
    Linearizable,
    /// etcd's serializable reads (a member's own copy).
    Serializable,
    /// Redis: SADD acknowledged by the primary alone.
    Plain,
    /// Redis: SADD then WAIT for replicas.
    Wait,
    /// A store through an adapter (the adapter decides how it talks).
    Adapter,
}

impl ClientMode {
    /// Every mode.
    pub const ALL: [ClientMode; 13] = [
        ClientMode::Crdt,
        ClientMode::Rmw,
        ClientMode::Cas,
        ClientMode::Quorum,
        ClientMode::Context,
        ClientMode::Blind,
        ClientMode::Sticky,
        ClientMode::Random,
        ClientMode::Linearizable,
        ClientMode::Serializable,
        ClientMode::Plain,
        ClientMode::Wait,
        ClientMode::Adapter,
    ];

    /// The word `--client` takes.
    pub fn name(self) -> &'static str {
        match self {
            ClientMode::Crdt => "crdt",
            ClientMode::Rmw => "rmw",
            ClientMode::Cas => "cas",
            ClientMode::Quorum => "quorum",
            ClientMode::Context => "context",
            ClientMode::Blind => "blind",
            ClientMode::Sticky => "sticky",
            ClientMode::Random => "random",
            ClientMode::Linearizable => "linearizable",
            ClientMode::Serializable => "serializable",
            ClientMode::Plain => "plain",
            ClientMode::Wait => "wait",
            ClientMode::Adapter => "adapter",
        }
    }

    /// The mode named `word`, if any.
    pub fn parse(word: &str) -> Option<ClientMode> {
        ClientMode::ALL.into_iter().find(|m| m.name() == word)
    }
}

impl fmt::Display for ClientMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ClientMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ClientMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClientMode::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown client mode {s:?}")))
    }
}

/// `TryFrom<ClientMode>` for a workload's or store's own mode type: the
/// modes it has, and an error naming them for any other.
macro_rules! from_client_mode {
    ($ty:ty, $who:literal, $known:expr, { $($cm:ident => $m:expr),* $(,)? }) => {
        impl TryFrom<ClientMode> for $ty {
            type Error = WorkloadError;
            fn try_from(c: ClientMode) -> Result<Self, WorkloadError> {
                match c {
                    $(ClientMode::$cm => Ok($m),)*
                    #[allow(unreachable_patterns)]
                    other => Err(WorkloadError::UnknownMode {
                        workload: $who.into(),
                        mode: other.name().into(),
                        known: $known.join(", "),
                    }),
                }
            }
        }
    };
}

from_client_mode!(set::Mode, "set", set::MODES, { Crdt => set::Mode::Crdt, Rmw => set::Mode::Rmw });
from_client_mode!(register::Mode, "register", register::MODES, {
    Cas => register::Mode::Cas,
    Quorum => register::Mode::Quorum,
});
from_client_mode!(counter::Mode, "counter", counter::MODES, {
    Crdt => counter::Mode::Crdt,
    Rmw => counter::Mode::Rmw,
});
from_client_mode!(siblings::Mode, "siblings", siblings::MODES, {
    Context => siblings::Mode::Context,
    Blind => siblings::Mode::Blind,
});
from_client_mode!(session::Routing, "session", session::MODES, {
    Sticky => session::Routing::Sticky,
    Random => session::Routing::Random,
});
from_client_mode!(etcd::ReadMode, "register", etcd::MODES, {
    Linearizable => etcd::ReadMode::Linearizable,
    Serializable => etcd::ReadMode::Serializable,
});
from_client_mode!(redis::Mode, "set (redis)", redis::MODES, {
    Plain => redis::Mode::Plain,
    Wait => redis::Mode::Wait,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_each_mode_type_takes_only_its_own() {
        for m in ClientMode::ALL {
            assert_eq!(ClientMode::parse(m.name()), Some(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(serde_json::from_str::<ClientMode>(&json).unwrap(), m);
        }
        assert_eq!(
            set::Mode::try_from(ClientMode::Rmw).unwrap(),
            set::Mode::Rmw
        );
        assert_eq!(
            counter::Mode::try_from(ClientMode::Crdt).unwrap(),
            counter::Mode::Crdt
        );
        let e = register::Mode::try_from(ClientMode::Crdt)
            .unwrap_err()
            .to_string();
        assert!(e.contains("register") && e.contains("cas, quorum"), "{e}");
        assert!(etcd::ReadMode::try_from(ClientMode::Cas).is_err());
        assert!(serde_json::from_str::<ClientMode>("\"fast\"").is_err());
    }
}
