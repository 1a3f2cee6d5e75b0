//! [`Workload`]: what a test does to the store, and which checkers judge
//! what it recorded.
//!
//! A workload is parsed once from `--workload` (or a file's `[workload]
//! name`) into this enum. Each has a table of checkers ([`Workload::plan`])
//! instead of a branch of code per workload: the checkers of its model,
//! those that need the store's versions (run only when the history carries
//! them), and whether it is live (so the history may hold each replica's
//! local reads for the convergence checker, and has latencies for perf).
//! Workloads that only `faultline check` judges (Knossos's models and `kv`)
//! have no live client: their plan is linearizability against their model.

use crate::{CheckOptions, ClientMode, WorkloadError};
use checkers::linear::Model;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A workload, as `--workload` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Adds to a grow-only set; every acknowledged element must survive.
    Set,
    /// Reads, writes and compare-and-sets registers (linearizability).
    Register,
    /// Increments and reads a counter (exact reachable totals).
    Counter,
    /// Writes siblings under causal contexts (sibling explosion).
    Siblings,
    /// Adds to and removes from an OR-set (CRDT semantics).
    OrSet,
    /// Inserts into and deletes from a sequence CRDT.
    Sequence,
    /// Session guarantees and staleness of versioned registers.
    Session,
    /// Linearizability of a string key-value store's history (check only).
    Kv,
    /// Linearizability against one of Knossos's other models (check only:
    /// mutex, multi-register, queue, fifo-queue, linear-set).
    Model(Model),
}

/// The workloads this build runs live, by the names `--workload` accepts.
pub const WORKLOADS: &[&str] = &[
    "set", "register", "counter", "siblings", "or-set", "sequence", "session",
];

/// Workloads that `faultline check` judges by linearizability against one
/// of Knossos's models (`checkers::linear::Model`), for histories recorded
/// elsewhere (Jepsen's): `mutex`, `multi-register`, `queue` (unordered),
/// `fifo-queue`, `linear-set`. They have no live client.
pub const CHECK_ONLY_MODELS: &[&str] = &[
    "mutex",
    "multi-register",
    "queue",
    "fifo-queue",
    "linear-set",
];

/// One checker a workload's history is fed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Lost and unexpected elements of a set.
    Set,
    /// When each element became visible and whether it stayed.
    SetFull,
    /// Linearizability against a model, on the history without the store's
    /// versions and the replicas' local reads.
    Linear(Model),
    /// Session guarantees.
    Sessions,
    /// Stale reads (versions behind, time to visibility).
    Staleness,
    /// OR-set and sequence CRDT semantics.
    Crdt,
    /// Sibling counts against their bound.
    Siblings,
    /// A counter's reads against the totals its adds can reach.
    Counter,
}

/// Which checkers a workload's history is fed to, in order.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// The checkers of its model.
    pub model: &'static [Check],
    /// Checkers that order values by the store's versions, run only when
    /// the history carries them.
    pub with_versions: &'static [Check],
    /// Live workloads: convergence (when the history holds local reads)
    /// and perf follow.
    pub live: bool,
}

impl Workload {
    /// Parses a `--workload` name.
    pub fn parse(name: &str) -> Result<Workload, WorkloadError> {
        Ok(match name {
            "set" => Workload::Set,
            "register" => Workload::Register,
            "counter" => Workload::Counter,
            "siblings" => Workload::Siblings,
            "or-set" => Workload::OrSet,
            "sequence" => Workload::Sequence,
            "session" => Workload::Session,
            "kv" => Workload::Kv,
            other => match Model::from_name(other) {
                Some(m) if CHECK_ONLY_MODELS.contains(&other) => Workload::Model(m),
                _ => return Err(WorkloadError::UnknownWorkload(other.to_string())),
            },
        })
    }

    /// The name `--workload` takes.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Set => "set",
            Workload::Register => "register",
            Workload::Counter => "counter",
            Workload::Siblings => "siblings",
            Workload::OrSet => "or-set",
            Workload::Sequence => "sequence",
            Workload::Session => "session",
            Workload::Kv => "kv",
            Workload::Model(m) => m.name(),
        }
    }

    /// The checkers its history is fed to: the table this crate keeps in
    /// one place.
    pub fn plan(self) -> Plan {
        const LIVE: bool = true;
        let (model, with_versions, live): (&'static [Check], &'static [Check], bool) = match self {
            Workload::Set => (&[Check::Set, Check::SetFull], &[], LIVE),
            // The values repeat, so only the versions the store reported
            // can order them: without those, sessions and staleness would
            // read small values as versions and cry wolf (a Jepsen or
            // Porcupine history is checked for linearizability alone).
            Workload::Register => (
                &[Check::Linear(Model::Register)],
                &[Check::Sessions, Check::Staleness],
                LIVE,
            ),
            Workload::Session => (&[Check::Sessions, Check::Staleness], &[], LIVE),
            Workload::OrSet | Workload::Sequence => (&[Check::Crdt], &[], LIVE),
            Workload::Siblings => (&[Check::Siblings], &[], LIVE),
            Workload::Counter => (&[Check::Counter], &[], LIVE),
            Workload::Kv => (&[Check::Linear(Model::Kv)], &[], !LIVE),
            Workload::Model(m) => (linear(m), &[], !LIVE),
        };
        Plan {
            model,
            with_versions,
            live,
        }
    }

    /// Checks that this workload runs live with client mode `client`
    /// (`None`: its default); returns the mode to record.
    pub fn mode(self, client: Option<&str>) -> Result<ClientMode, WorkloadError> {
        use crate::{counter, orset, register, sequence, session, set, siblings};
        let word = match self {
            Workload::Set => set::Mode::parse(client.unwrap_or("crdt"))?.name(),
            Workload::Register => register::Mode::parse(client.unwrap_or("cas"))?.name(),
            Workload::Counter => counter::Mode::parse(client.unwrap_or("crdt"))?.name(),
            Workload::Siblings => siblings::Mode::parse(client.unwrap_or("context"))?.name(),
            Workload::OrSet => orset::parse_mode(client.unwrap_or("crdt"))?,
            Workload::Sequence => sequence::parse_mode(client.unwrap_or("crdt"))?,
            Workload::Session => session::Routing::parse(client.unwrap_or("sticky"))?.name(),
            Workload::Kv | Workload::Model(_) => {
                return Err(WorkloadError::NoLiveClient(self.name().to_string()))
            }
        };
        Ok(ClientMode::parse(word).expect("every workload's mode is a client mode"))
    }

    /// Runs every checker of [`Workload::plan`] on `history`.
    pub fn check_with(
        self,
        history: &checkers::History,
        o: &CheckOptions,
    ) -> Vec<checkers::CheckResult> {
        let plan = self.plan();
        let mut checks: Vec<Check> = plan.model.to_vec();
        if checkers::versioned::has_store_versions(history) {
            checks.extend_from_slice(plan.with_versions);
        }
        let mut results: Vec<checkers::CheckResult> =
            checks.into_iter().map(|c| run(c, history, o)).collect();
        if plan.live {
            if has_local_reads(history) {
                results.push(checkers::convergence::check(history));
            }
            results.push(checkers::perf::check(history, o.perf));
        }
        results
    }
}

/// An online checker that a [`checkers::stream::Stream`] may run in a
/// thread of its own.
pub type OnlineCheck = Box<dyn checkers::stream::OnlineChecker + Send>;

impl Workload {
    /// The checkers of [`Workload::plan`] as online checkers, when every one
    /// of them can take the history one op at a time (`None`: some need the
    /// whole history, as linearizability does). Fed the same ops, a
    /// [`checkers::stream::Stream`] of these gives the results of
    /// [`Workload::check_with`], in the same order: convergence only when the
    /// history holds local reads ([`checkers::convergence::Convergence::optional`]).
    pub fn online_checks(self, o: &CheckOptions) -> Option<Vec<OnlineCheck>> {
        let plan = self.plan();
        if !plan.with_versions.is_empty() {
            return None;
        }
        let mut out: Vec<OnlineCheck> = Vec::new();
        for check in plan.model {
            out.push(match check {
                Check::Set => Box::new(checkers::set::Set::new()),
                Check::SetFull => Box::new(checkers::set_full::SetFull::new(o.set_full)),
                Check::Counter => Box::new(checkers::counter::Counter::new(
                    checkers::counter::CounterOps::COUNTER,
                    checkers::counter::NAME,
                )),
                _ => return None,
            });
        }
        if plan.live {
            out.push(Box::new(checkers::convergence::Convergence::optional()));
            out.push(Box::new(checkers::perf::Perf::new(o.perf)));
        }
        Some(out)
    }
}

/// The one-model plans of the check-only workloads.
fn linear(m: Model) -> &'static [Check] {
    match m {
        Model::Register => &[Check::Linear(Model::Register)],
        Model::Kv => &[Check::Linear(Model::Kv)],
        Model::Mutex => &[Check::Linear(Model::Mutex)],
        Model::MultiRegister => &[Check::Linear(Model::MultiRegister)],
        Model::Queue => &[Check::Linear(Model::Queue)],
        Model::FifoQueue => &[Check::Linear(Model::FifoQueue)],
        Model::LinearSet => &[Check::Linear(Model::LinearSet)],
    }
}

/// Runs one checker.
fn run(c: Check, history: &checkers::History, o: &CheckOptions) -> checkers::CheckResult {
    match c {
        Check::Set => checkers::set::check(history),
        Check::SetFull => checkers::set_full::check(history, o.set_full),
        Check::Linear(model) => {
            let plain = checkers::versioned::without_versions(&without_local_reads(history));
            checkers::linear::check_with(&plain, model, &o.linear)
        }
        Check::Sessions => checkers::sessions::check(history),
        Check::Staleness => checkers::staleness::check(history, o.staleness),
        Check::Crdt => checkers::crdt::check(history),
        Check::Siblings => checkers::siblings::check(history, o.siblings),
        Check::Counter => checkers::counter::check(history),
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Workload {
    type Err = WorkloadError;
    fn from_str(s: &str) -> Result<Self, WorkloadError> {
        Workload::parse(s)
    }
}

impl Serialize for Workload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Workload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Workload::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Whether the history holds local reads of each replica, which faultline's
/// runs record (for the convergence checker) and other tools' lack.
fn has_local_reads(history: &checkers::History) -> bool {
    history
        .ops
        .iter()
        .any(|o| checkers::convergence::LOCAL_READS.contains(&o.f.as_str()))
}

/// The history without its per-replica local reads (and their
/// completions): those are for the convergence checker, not ops of the
/// workload's model.
fn without_local_reads(history: &checkers::History) -> checkers::History {
    let local = |o: &checkers::Op| checkers::convergence::LOCAL_READS.contains(&o.f.as_str());
    if !history.ops.iter().any(local) {
        return history.clone();
    }
    checkers::History::new(history.ops.iter().filter(|o| !local(o)).cloned().collect())
}

/// Parses `workload` and checks its client mode: [`Workload::mode`].
pub fn validate(workload: &str, client: Option<&str>) -> Result<String, WorkloadError> {
    Ok(Workload::parse(workload)?.mode(client)?.name().to_string())
}

/// Checks that `faultline check` can judge histories of `workload`: every
/// workload [`Workload::parse`] knows, live or check-only.
pub fn validate_check(workload: &str) -> Result<(), WorkloadError> {
    Workload::parse(workload).map(|_| ())
}

/// Parses `workload` and runs its checkers with default options.
pub fn check(
    workload: &str,
    history: &checkers::History,
) -> Result<Vec<checkers::CheckResult>, WorkloadError> {
    check_with(workload, history, &CheckOptions::default())
}

/// Parses `workload` and runs its checkers: [`Workload::check_with`].
pub fn check_with(
    workload: &str,
    history: &checkers::History,
    o: &CheckOptions,
) -> Result<Vec<checkers::CheckResult>, WorkloadError> {
    Ok(Workload::parse(workload)?.check_with(history, o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_itself_and_the_plans_are_as_documented() {
        for name in WORKLOADS.iter().chain(CHECK_ONLY_MODELS).chain(&["kv"]) {
            let w = Workload::parse(name).unwrap();
            assert_eq!(w.name(), *name);
            assert_eq!(w.plan().live, WORKLOADS.contains(name), "{name}");
            let json = serde_json::to_string(&w).unwrap();
            assert_eq!(serde_json::from_str::<Workload>(&json).unwrap(), w);
        }
        assert!(Workload::parse("bank").is_err());
        // Knossos's register model is the live register workload, not a
        // check-only model.
        assert_eq!(Workload::parse("register").unwrap(), Workload::Register);
        assert_eq!(
            Workload::Register.plan().with_versions,
            &[Check::Sessions, Check::Staleness]
        );
    }
}

#[cfg(test)]
mod online_tests {
    use super::*;
    use checkers::stream::{OnlineChecker, Stream};

    /// The shipped run histories and check-only fixtures.
    fn fixture(rel: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn streamed_checks_are_the_whole_history_checks_in_the_same_order() {
        let cases = [
            ("set", "runs/set-all.jsonl"),
            ("set", "runs/set-noconv.jsonl"),
            ("set", "runs/set-rmw.jsonl"),
            ("set", "histories/set-lost.jsonl"),
            ("set", "histories/set-recovered.jsonl"),
            ("set", "histories/set-full-midrun-reads.jsonl"),
            ("counter", "runs/counter-rmw.jsonl"),
        ];
        let o = CheckOptions::default();
        let mut with_convergence = 0;
        for (name, rel) in cases {
            let w = Workload::parse(name).unwrap();
            let text = fixture(rel);
            let h = checkers::parse::jsonl(&text).unwrap();
            let want = w.check_with(&h, &o);
            for threaded in [false, true] {
                let checks = w.online_checks(&o).expect("streams");
                let mut s = if threaded {
                    Stream::threaded(checks)
                } else {
                    Stream::new(
                        checks
                            .into_iter()
                            .map(|c| -> Box<dyn OnlineChecker> { c })
                            .collect(),
                    )
                };
                s.feed_bytes(text.as_bytes()).unwrap();
                s.end_input().unwrap();
                assert_eq!(s.finish(), want, "{rel}, threaded {threaded}");
            }
            with_convergence += want.iter().any(|r| r.checker == "convergence") as usize;
        }
        // Both sides of the optional convergence checker were seen.
        assert!(with_convergence > 0 && with_convergence < cases.len());
    }

    #[test]
    fn workloads_with_whole_history_checkers_do_not_stream() {
        let o = CheckOptions::default();
        for name in ["register", "session", "siblings", "or-set", "kv", "mutex"] {
            assert!(
                Workload::parse(name).unwrap().online_checks(&o).is_none(),
                "{name}"
            );
        }
    }
}
