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

use crate::history::OpType;
use crate::parse::Format;
use serde_json::Value;

/// The `error` a client puts on a `cas` that completed `fail` because the
/// register held another value. Only such a failure is evidence about the
/// register's value under [`Reading::FAULTLINE`]; a `fail` carrying any
/// other error (the request never reached the store: connection refused,
/// bad request) did nothing at all. A failed `cas` with no error is read as
/// a mismatch, as Porcupine's histories mean it. (Other readings: see
/// this module.)
pub const CAS_MISMATCH: &str = "compare failed";

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
    use crate::linear::{check_with, Model, Options};
    use crate::{parse, History, Validity};
    use serde_json::json;

    /// The register verdict of EDN `text` under `reading`, from `initial`.
    fn verdict(text: &str, reading: Reading, initial: Option<Value>) -> Validity {
        let h = parse::edn(text).unwrap();
        verdict_of(&h, reading, initial)
    }

    fn verdict_of(h: &History, reading: Reading, initial: Option<Value>) -> Validity {
        let options = Options {
            reading,
            initial_value: initial,
            ..Options::default()
        };
        check_with(h, Model::Register, &options).valid
    }

    /// A failed cas between a write of its `old` and a read of it: Jepsen's
    /// `:fail` (did not happen, for whatever reason) leaves this valid;
    /// read as a compare that failed, the register cannot have held 1
    /// while it ran, yet nothing else was written.
    const FAILED_CAS_OF_THE_VALUE_HELD: &str = "
        [0 :invoke :write 1] [0 :ok :write 1]
        [1 :invoke :cas [1 2]] [1 :fail :cas [1 2]]
        [2 :invoke :read nil] [2 :ok :read 1]";

    #[test]
    fn a_failed_cas_is_evidence_only_where_the_reading_says() {
        let t = FAILED_CAS_OF_THE_VALUE_HELD;
        assert_eq!(verdict(t, Reading::KNOSSOS, None), Validity::Valid);
        for r in [
            Reading::KNOSSOS.fail_is_evidence(),
            Reading::PORCUPINE,
            Reading::FAULTLINE,
        ] {
            assert_eq!(verdict(t, r, None), Validity::Invalid, "{r:?}");
        }
        // The evidence is about the cas's interval only: a write of 3
        // concurrent with it, then a write of 1 back, makes it consistent.
        let t = "[0 :invoke :write 1] [0 :ok :write 1]
                 [3 :invoke :write 3]
                 [1 :invoke :cas [1 2]] [1 :fail :cas [1 2]]
                 [3 :ok :write 3]
                 [0 :invoke :write 1] [0 :ok :write 1]
                 [2 :invoke :read nil] [2 :ok :read 1]";
        assert_eq!(verdict(t, Reading::PORCUPINE, None), Validity::Valid);
        // ... but not if the write of 3 ended before the cas began.
        let t = "[0 :invoke :write 1] [0 :ok :write 1]
                 [3 :invoke :write 3] [3 :ok :write 3]
                 [0 :invoke :write 1] [0 :ok :write 1]
                 [1 :invoke :cas [1 2]] [1 :fail :cas [1 2]]
                 [2 :invoke :read nil] [2 :ok :read 1]";
        assert_eq!(verdict(t, Reading::PORCUPINE, None), Validity::Invalid);
        assert_eq!(verdict(t, Reading::KNOSSOS, None), Validity::Valid);
    }

    #[test]
    fn faultline_reads_the_error_and_fail_is_evidence_overrides_it() {
        let mut h = parse::edn(FAILED_CAS_OF_THE_VALUE_HELD).unwrap();
        h.ops[3].error = Some("connect: Connection refused".into());
        assert_eq!(verdict_of(&h, Reading::FAULTLINE, None), Validity::Valid);
        assert_eq!(
            verdict_of(&h, Reading::FAULTLINE.fail_is_evidence(), None),
            Validity::Invalid
        );
        assert_eq!(verdict_of(&h, Reading::PORCUPINE, None), Validity::Invalid);
        h.ops[3].error = Some(CAS_MISMATCH.into());
        assert_eq!(verdict_of(&h, Reading::FAULTLINE, None), Validity::Invalid);
        assert_eq!(verdict_of(&h, Reading::KNOSSOS, None), Validity::Valid);
    }

    #[test]
    fn a_nil_read_in_the_middle_counts_only_where_nil_is_observed() {
        // Nothing ever wrote nil back, so a read of nil between two reads
        // of 1 is impossible if nil is a value read; in Knossos's model it
        // is always legal.
        let t = "[0 :invoke :write 1] [0 :ok :write 1]
                 [1 :invoke :read nil] [1 :ok :read 1]
                 [2 :invoke :read nil] [2 :ok :read nil]
                 [1 :invoke :read nil] [1 :ok :read 1]";
        assert_eq!(verdict(t, Reading::KNOSSOS, None), Validity::Valid);
        assert_eq!(
            verdict(t, Reading::KNOSSOS, Some(json!(0))),
            Validity::Valid
        );
        assert_eq!(verdict(t, Reading::PORCUPINE, None), Validity::Invalid);
        assert_eq!(verdict(t, Reading::FAULTLINE, None), Validity::Invalid);
        // A nil read is no evidence, but the other reads still are: a read
        // of 2 after it is as wrong as ever.
        let t2 = format!("{t} [3 :invoke :read nil] [3 :ok :read 2]");
        assert_eq!(verdict(&t2, Reading::KNOSSOS, None), Validity::Invalid);
        // Before any write, a read of nil is what the register held (from
        // nil), and still no evidence from 0 under Knossos's reading.
        let t = "[2 :invoke :read nil] [2 :ok :read nil]
                 [0 :invoke :write 1] [0 :ok :write 1]";
        assert_eq!(verdict(t, Reading::FAULTLINE, None), Validity::Valid);
        assert_eq!(
            verdict(t, Reading::FAULTLINE, Some(json!(0))),
            Validity::Invalid
        );
        assert_eq!(
            verdict(t, Reading::KNOSSOS, Some(json!(0))),
            Validity::Valid
        );
    }

    #[test]
    fn the_initial_value_decides_what_the_first_ops_may_see() {
        // A cas from 0 and reads of 0 before any write: valid only if the
        // register starts at 0 (Knossos's tests' `(cas-register 0)`).
        let t = "[0 :invoke :read nil] [0 :ok :read 0]
                 [1 :invoke :cas [0 1]] [1 :ok :cas [0 1]]
                 [0 :invoke :read nil] [0 :ok :read 1]";
        for r in [Reading::KNOSSOS, Reading::PORCUPINE, Reading::FAULTLINE] {
            assert_eq!(verdict(t, r, None), Validity::Invalid, "{r:?}");
            assert_eq!(verdict(t, r, Some(json!(0))), Validity::Valid, "{r:?}");
            // Values compare as JSON text: the string "0" is not 0.
            assert_eq!(verdict(t, r, Some(json!("0"))), Validity::Invalid, "{r:?}");
        }
        // A failed cas from the initial value, read as evidence, is
        // impossible from 0 and fine from nil.
        let t = "[1 :invoke :cas [0 1]] [1 :fail :cas [0 1]]";
        assert_eq!(verdict(t, Reading::PORCUPINE, None), Validity::Valid);
        assert_eq!(
            verdict(t, Reading::PORCUPINE, Some(json!(0))),
            Validity::Invalid
        );
        assert_eq!(
            verdict(t, Reading::KNOSSOS, Some(json!(0))),
            Validity::Valid
        );
    }

    #[test]
    fn the_verdict_details_name_the_reading_and_the_initial_value() {
        let h = parse::edn(FAILED_CAS_OF_THE_VALUE_HELD).unwrap();
        let o = Options {
            reading: Reading::KNOSSOS.fail_is_evidence(),
            initial_value: Some(json!(0)),
            ..Options::default()
        };
        let r = check_with(&h, Model::Register, &o);
        assert_eq!(
            r.details["reading"],
            "failed cas as evidence, nil reads no evidence"
        );
        assert_eq!(r.details["initial_value"], json!(0));
        // The kv model has no reading; its keys start at a string.
        let kv = parse::edn(
            "[0 :invoke :get nil] [0 :ok :get \"a\"] [0 :invoke :append \"b\"] [0 :ok :append \"b\"]
             [0 :invoke :get nil] [0 :ok :get \"ab\"]",
        )
        .unwrap();
        let with = |v: Option<Value>| Options {
            initial_value: v,
            ..Options::default()
        };
        assert_eq!(
            check_with(&kv, Model::Kv, &with(None)).valid,
            Validity::Invalid
        );
        let r = check_with(&kv, Model::Kv, &with(Some(json!("a"))));
        assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
        assert!(r.details.get("reading").is_none());
        let r = check_with(&kv, Model::Kv, &with(Some(json!(0))));
        assert_eq!(r.valid, Validity::Unknown);
        assert!(
            r.summary
                .contains("the kv model's initial value must be a string, found 0"),
            "{}",
            r.summary
        );
    }

    /// Knossos's reading only ever drops evidence (failed cas, reads of nil)
    /// and keeps every op that changes the register, so from the same
    /// initial value, whatever another reading finds valid it finds valid
    /// too: no history is valid under fail-is-evidence yet invalid under
    /// Knossos's reading. Checked on small histories drawn at random
    /// (seeded), some of which the readings do tell apart.
    #[test]
    fn knossos_reading_is_never_stricter_than_the_others() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (mut differ, mut invalid) = (0, 0);
        for _ in 0..400 {
            let mut text = String::new();
            let mut open: Vec<(u64, String)> = Vec::new();
            for _ in 0..8 {
                let p = next(3);
                if let Some(i) = open.iter().position(|(q, _)| *q == p) {
                    let (_, inv) = open.remove(i);
                    let kind = [":ok", ":ok", ":fail", ":info"][next(4) as usize];
                    let done = match inv.split_once(' ') {
                        Some(("read", _)) if kind == ":ok" => {
                            let v = ["nil", "0", "1", "2"][next(4) as usize];
                            format!("read {v}")
                        }
                        _ => inv,
                    };
                    text += &format!("[{p} {kind} :{done}]\n");
                } else {
                    let inv = match next(3) {
                        0 => "read nil".to_string(),
                        1 => format!("write {}", next(3)),
                        _ => format!("cas [{} {}]", next(3), next(3)),
                    };
                    text += &format!("[{p} :invoke :{inv}]\n");
                    open.push((p, inv));
                }
            }
            for initial in [None, Some(json!(0))] {
                let k = verdict(&text, Reading::KNOSSOS, initial.clone());
                for r in [
                    Reading::KNOSSOS.fail_is_evidence(),
                    Reading::PORCUPINE,
                    Reading::FAULTLINE,
                ] {
                    let v = verdict(&text, r, initial.clone());
                    assert!(
                        !(v == Validity::Valid && k == Validity::Invalid),
                        "valid under {r:?} but not Knossos's reading:\n{text}"
                    );
                    differ += usize::from(v != k);
                }
                invalid += usize::from(k == Validity::Invalid);
            }
        }
        assert!(differ > 20, "the readings told only {differ} apart");
        assert!(
            invalid > 20,
            "only {invalid} invalid under Knossos's reading"
        );
    }

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
