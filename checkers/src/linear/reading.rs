//! Readings: what an op's recorded outcome says about a register.
//!
//! A history records that a `cas [1 2]` completed `fail`, or that a read
//! returned `nil`. What that *means* is not in the history: it depends on the
//! client that wrote it, and tools disagree. Jepsen's `:fail` means "did not
//! take effect", for any reason (the connection was refused, the server said
//! no, the compare failed); Knossos therefore drops every failed op, and its
//! register model treats a read that returned `nil` as no evidence at all.
//! Porcupine's etcd logs mean by a failed `cas` that the compare failed,
//! which *is* evidence: the register did not hold `old` at some instant of
//! the op's interval. faultline's own clients record that distinction in the
//! op's `error` ([`CAS_MISMATCH`] for a compare that failed; anything else,
//! such as a refused connection, did nothing).
//!
//! A [`Reading`] fixes these choices for the register model. Read with the
//! wrong one, a valid history can come back invalid (a failed `cas` taken as
//! evidence it is not) or an invalid one valid. Each input format has a
//! default ([`Reading::for_format`]: [`Reading::KNOSSOS`] for Jepsen EDN,
//! [`Reading::PORCUPINE`] for Porcupine's logs, [`Reading::FAULTLINE`] for
//! faultline's JSONL), which `faultline check` uses unless its flags say
//! otherwise; the table of what each reading makes of each outcome is in
//! the [`compile`](super::compile) module docs. [`Reading::fail_is_evidence`]
//! (`--fail-is-evidence`, for clients that guarantee a failed `cas` means
//! the compare failed) makes every failed `cas` evidence, whatever its
//! error. The register's initial value is a separate option
//! ([`super::Options::initial_value`]).
//!
//! Readings apply to the register model. The kv model reads every input the
//! same way: failed ops did nothing, and a `get` that returned nil read `""`.

use super::compile::CAS_MISMATCH;
use crate::history::OpType;
use crate::parse::Format;
use serde_json::Value;

/// What a `cas` that completed `fail` says about the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedCas {
    /// Nothing: it did not take effect, and why is unknown (Jepsen, Knossos).
    Dropped,
    /// The register did not hold `old` at some instant of the op's interval
    /// (Porcupine; `--fail-is-evidence`).
    Evidence,
    /// Evidence when its `error` is [`CAS_MISMATCH`] or absent; dropped when
    /// the error names another cause, such as a refused connection
    /// (faultline's clients).
    EvidenceUnlessOtherError,
}

/// What an `ok` read that returned nil says about the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NilRead {
    /// The register held nil, like any other value read.
    Observed,
    /// Nothing: the read is always legal (Knossos's register models).
    NoEvidence,
}

/// How recorded outcomes are read for the register model; see the
/// [module docs](self) for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// What a failed `cas` says.
    pub failed_cas: FailedCas,
    /// What an `ok` read of nil says.
    pub nil_read: NilRead,
}

impl Default for Reading {
    /// [`Reading::FAULTLINE`]: what faultline's own histories mean.
    fn default() -> Self {
        Reading::FAULTLINE
    }
}

impl Reading {
    /// Knossos's reading of Jepsen histories: failed ops did nothing and say
    /// nothing; a read of nil is always legal.
    pub const KNOSSOS: Reading = Reading {
        failed_cas: FailedCas::Dropped,
        nil_read: NilRead::NoEvidence,
    };
    /// Porcupine's reading of its corpus: a failed `cas` is evidence the
    /// compare failed; nil is a value like any other.
    pub const PORCUPINE: Reading = Reading {
        failed_cas: FailedCas::Evidence,
        nil_read: NilRead::Observed,
    };
    /// faultline's reading of its own histories: a failed `cas` is evidence
    /// unless its error names another cause; nil is a value like any other.
    pub const FAULTLINE: Reading = Reading {
        failed_cas: FailedCas::EvidenceUnlessOtherError,
        nil_read: NilRead::Observed,
    };

    /// The named readings, by the names `--reading` accepts.
    pub const NAMED: [(&'static str, Reading); 3] = [
        ("knossos", Reading::KNOSSOS),
        ("porcupine", Reading::PORCUPINE),
        ("faultline", Reading::FAULTLINE),
    ];

    /// The reading a history in `format` means.
    pub fn for_format(format: Format) -> Reading {
        match format {
            Format::Jsonl => Reading::FAULTLINE,
            Format::Edn => Reading::KNOSSOS,
            Format::EtcdLog | Format::EdnKeyed => Reading::PORCUPINE,
        }
    }

    /// The named reading called `name` (`knossos`, `porcupine`, `faultline`).
    pub fn named(name: &str) -> Option<Reading> {
        Reading::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, r)| r)
    }

    /// This reading with every failed `cas` taken as evidence.
    pub fn fail_is_evidence(self) -> Reading {
        Reading {
            failed_cas: FailedCas::Evidence,
            ..self
        }
    }

    /// A short description for verdict details, e.g. `knossos` or
    /// `knossos, failed cas as evidence`.
    pub fn describe(self) -> String {
        if let Some((name, _)) = Reading::NAMED.iter().find(|(_, r)| *r == self) {
            return (*name).to_string();
        }
        let cas = match self.failed_cas {
            FailedCas::Dropped => "failed cas dropped",
            FailedCas::Evidence => "failed cas as evidence",
            FailedCas::EvidenceUnlessOtherError => "failed cas as evidence unless another error",
        };
        let nil = match self.nil_read {
            NilRead::Observed => "nil reads observed",
            NilRead::NoEvidence => "nil reads no evidence",
        };
        format!("{cas}, {nil}")
    }

    /// Whether a register op, `f` completed with `outcome` (its completion's
    /// `error` and value `result`), says nothing about the register under
    /// this reading and is to be left out. Ops this does not drop are
    /// classified as usual (failed reads and writes are dropped there).
    pub(crate) fn says_nothing(
        self,
        f: &str,
        outcome: OpType,
        error: Option<&str>,
        result: &Value,
    ) -> bool {
        match (f, outcome) {
            ("cas", OpType::Fail) => match self.failed_cas {
                FailedCas::Dropped => true,
                FailedCas::Evidence => false,
                FailedCas::EvidenceUnlessOtherError => error.is_some_and(|e| e != CAS_MISMATCH),
            },
            ("read", OpType::Ok) => self.nil_read == NilRead::NoEvidence && result.is_null(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_format_has_its_reading_and_names_round_trip() {
        assert_eq!(Reading::for_format(Format::Edn), Reading::KNOSSOS);
        assert_eq!(Reading::for_format(Format::Jsonl), Reading::FAULTLINE);
        assert_eq!(Reading::for_format(Format::EtcdLog), Reading::PORCUPINE);
        assert_eq!(Reading::for_format(Format::EdnKeyed), Reading::PORCUPINE);
        for (name, r) in Reading::NAMED {
            assert_eq!(Reading::named(name), Some(r));
            assert_eq!(r.describe(), name);
        }
        assert_eq!(Reading::named("jepsen"), None);
        assert_eq!(Reading::default(), Reading::FAULTLINE);
        // Knossos with failed cas as evidence is none of the named ones.
        let k = Reading::KNOSSOS.fail_is_evidence();
        assert_eq!(k.failed_cas, FailedCas::Evidence);
        assert_eq!(k.nil_read, NilRead::NoEvidence);
        assert_eq!(
            k.describe(),
            "failed cas as evidence, nil reads no evidence"
        );
    }

    #[test]
    fn what_each_reading_drops() {
        let null = Value::Null;
        let one = json!(1);
        let fail = OpType::Fail;
        for (r, plain, mismatch, refused) in [
            (Reading::KNOSSOS, true, true, true),
            (Reading::PORCUPINE, false, false, false),
            (Reading::FAULTLINE, false, false, true),
        ] {
            assert_eq!(r.says_nothing("cas", fail, None, &null), plain, "{r:?}");
            let m = Some(CAS_MISMATCH);
            assert_eq!(r.says_nothing("cas", fail, m, &null), mismatch, "{r:?}");
            let e = Some("connection refused");
            assert_eq!(r.says_nothing("cas", fail, e, &null), refused, "{r:?}");
            // An ok cas and a failed write are never this module's business.
            assert!(!r.says_nothing("cas", OpType::Ok, None, &null));
            assert!(!r.says_nothing("write", fail, None, &null));
            // A read of a value is always evidence.
            assert!(!r.says_nothing("read", OpType::Ok, None, &one));
        }
        assert!(Reading::KNOSSOS.says_nothing("read", OpType::Ok, None, &null));
        assert!(!Reading::PORCUPINE.says_nothing("read", OpType::Ok, None, &null));
        assert!(!Reading::FAULTLINE.says_nothing("read", OpType::Ok, None, &null));
        let e = Some("connection refused");
        assert!(!Reading::FAULTLINE
            .fail_is_evidence()
            .says_nothing("cas", fail, e, &null));
    }
}
