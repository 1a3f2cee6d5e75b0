//! When faults start and stop: a timeline drawn from the run's seed.
//!
//! Each fault kind has its own cycle, as in Jepsen's combined nemesis: wait,
//! start a fault, hold it for the kind's interval, stop it, stay calm for the
//! interval, and again. Kinds run side by side (a partition can overlap a
//! clock bump), and each kind draws from its own random stream, derived from
//! the seed and the kind's name, so adding `kill` to a run does not change
//! which partitions the same seed produces. The whole timeline is computed
//! up front: it can be shown, saved, compared between runs, and replayed.

use crate::clock::ClockFault;
use crate::disk::Corruption;
use crate::partition::{Partition, Shape};
use crate::targets::{TargetMode, Targets, OTHERS, PRIMARY};
use crate::Kind;
use crate::NemesisError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::fault::{kind_of_f, stop_f, Fault};

/// Start or stop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Apply this fault.
    Start {
        /// The fault.
        fault: Fault,
    },
    /// Undo the kind's current fault.
    Stop,
}

/// One entry of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds after the main phase starts.
    pub at_ms: u64,
    /// The nemesis kind this event belongs to.
    pub kind: Kind,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
}

/// What the schedule may do, beyond the kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Hold time and calm time of each fault, per kind (ms).
    pub interval_ms: BTreeMap<Kind, u64>,
    /// Default for kinds not in `interval_ms`.
    pub default_interval_ms: u64,
    /// Packet-loss probability.
    pub loss_probability: f64,
    /// Largest clock offset (ms).
    pub max_skew_ms: i64,
    /// A fixed partition (`n1,n2|n3`) instead of random shapes.
    pub partition: Option<String>,
    /// Make partitions one-way.
    pub one_way: bool,
    /// Which nodes faults hit: drawn node sets, or the store's current
    /// primary (`--nemesis-targets primary`).
    #[serde(default, skip_serializing_if = "TargetMode::is_nodes")]
    pub targets: TargetMode,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            interval_ms: BTreeMap::new(),
            default_interval_ms: 5000,
            loss_probability: 0.2,
            max_skew_ms: 5000,
            partition: None,
            one_way: false,
            targets: TargetMode::Nodes,
        }
    }
}

impl Options {
    fn interval(&self, kind: Kind) -> u64 {
        self.interval_ms
            .get(&kind)
            .copied()
            .unwrap_or(self.default_interval_ms)
            .max(100)
    }
}

/// A 64-bit FNV-1a hash: stable across runs and versions, for stream ids.
fn stream_id(kind: &str) -> u64 {
    kind.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Draws one fault of `kind`. Under [`TargetMode::Primary`] it is aimed
/// at the [`PRIMARY`] placeholder (a partition: the primary against
/// [`OTHERS`]), resolved when the fault starts.
pub fn draw<R: Rng>(
    kind: Kind,
    nodes: &[String],
    opts: &Options,
    rng: &mut R,
) -> Result<Fault, NemesisError> {
    let fault = draw_on_nodes(kind, nodes, opts, rng)?;
    Ok(match opts.targets {
        TargetMode::Nodes => fault,
        TargetMode::Primary => fault.aimed_at(PRIMARY, &[OTHERS.to_string()]),
    })
}

/// Draws one fault of `kind` over node sets.
fn draw_on_nodes<R: Rng>(
    kind: Kind,
    nodes: &[String],
    opts: &Options,
    rng: &mut R,
) -> Result<Fault, NemesisError> {
    Ok(match kind {
        Kind::Partition => match &opts.partition {
            Some(spec) => Fault::Partition(Partition::explicit(spec, nodes, opts.one_way)?),
            None => {
                let shapes: &[Shape] = if nodes.len() >= 3 {
                    &Shape::RANDOM
                } else {
                    &Shape::RANDOM[..2]
                };
                let shape = shapes[rng.random_range(0..shapes.len())];
                Fault::Partition(Partition::draw(shape, nodes, opts.one_way, rng)?)
            }
        },
        Kind::Loss => {
            // A third of the time one link (into one node from one peer),
            // otherwise every link into one node, a minority or all.
            if nodes.len() >= 2 && rng.random_range(0..3) == 0 {
                let to = rng.random_range(0..nodes.len());
                let mut from = rng.random_range(0..nodes.len() - 1);
                if from >= to {
                    from += 1;
                }
                Fault::Loss {
                    targets: vec![nodes[to].clone()],
                    from: vec![nodes[from].clone()],
                    probability: opts.loss_probability,
                }
            } else {
                let t = [Targets::One, Targets::Minority, Targets::All][rng.random_range(0..3)];
                Fault::Loss {
                    targets: t.choose(nodes, rng),
                    from: Vec::new(),
                    probability: opts.loss_probability,
                }
            }
        }
        Kind::Clock => {
            let t = Targets::ALL[rng.random_range(0..Targets::ALL.len())];
            let targets = t.choose(nodes, rng);
            let max = opts.max_skew_ms.max(4);
            let magnitude = rng.random_range(max / 4..=max);
            if rng.random_bool(0.25) {
                Fault::Clock(ClockFault::Strobe {
                    targets,
                    delta_ms: magnitude,
                    period_ms: 50,
                    duration_ms: opts.interval(Kind::Clock).min(2000),
                })
            } else {
                let sign = if rng.random_bool(0.5) { 1 } else { -1 };
                Fault::Clock(ClockFault::Bump {
                    targets,
                    offset_ms: sign * magnitude,
                })
            }
        }
        Kind::Kill => Fault::Kill {
            targets: Targets::ALL[rng.random_range(0..4)].choose(nodes, rng),
        },
        Kind::Pause => Fault::Pause {
            targets: Targets::ALL[rng.random_range(0..4)].choose(nodes, rng),
        },
        // One node at a time, as Jepsen's membership nemesis does: the ring
        // keeps enough members for N replicas.
        Kind::Membership => Fault::Membership {
            targets: Targets::One.choose(nodes, rng),
        },
        // One node, a minority, a majority, all: a coordinated power
        // failure of all is where stores that do not fsync lose writes.
        Kind::Power => Fault::Power {
            targets: Targets::ALL[rng.random_range(0..4)].choose(nodes, rng),
        },
        // One node or a minority: the others hold what it lost.
        Kind::Corrupt => {
            let targets =
                [Targets::One, Targets::Minority][rng.random_range(0..2)].choose(nodes, rng);
            let how = match rng.random_range(0..3) {
                0 => Corruption::Bitflip {
                    bits: 1 << rng.random_range(0..6),
                    seed: rng.random(),
                },
                1 => Corruption::Truncate {
                    bytes: 512 << rng.random_range(0..6),
                    seed: rng.random(),
                },
                _ => Corruption::Rollback,
            };
            Fault::Corrupt { targets, how }
        }
        Kind::Slow => Fault::Slow {
            targets: Targets::One.choose(nodes, rng),
            cpu_percent: [2, 5, 10][rng.random_range(0..3)],
            disk_delay_ms: [0, 20, 100][rng.random_range(0..3)],
        },
        Kind::Netem => {
            let t = [Targets::One, Targets::Minority, Targets::All][rng.random_range(0..3)];
            let delay_ms = rng.random_range(50..=300);
            Fault::Netem {
                targets: t.choose(nodes, rng),
                delay_ms,
                jitter_ms: delay_ms / 5,
                duplicate: if rng.random_bool(0.5) { 0.05 } else { 0.0 },
            }
        }
    })
}

/// The whole fault timeline for a run of `time_limit_ms`: events in time
/// order (ties broken by kind name). A fault still in force at the time
/// limit is left to the runner's final heal.
pub fn timeline(
    seed: u64,
    kinds: &[Kind],
    nodes: &[String],
    opts: &Options,
    time_limit_ms: u64,
) -> Result<Vec<Event>, NemesisError> {
    let mut events = Vec::new();
    for &kind in kinds {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ stream_id(kind.name()));
        let interval = opts.interval(kind);
        // Stagger kinds so they do not all strike at the same instant.
        let mut t = interval / 2 + rng.random_range(0..=interval / 2);
        while t < time_limit_ms {
            let fault = draw(kind, nodes, opts, &mut rng)?;
            events.push(Event {
                at_ms: t,
                kind,
                action: Action::Start { fault },
            });
            t += interval;
            if t >= time_limit_ms {
                break;
            }
            events.push(Event {
                at_ms: t,
                kind,
                action: Action::Stop,
            });
            t += interval;
        }
    }
    events.sort_by(|a, b| a.at_ms.cmp(&b.at_ms).then_with(|| a.kind.cmp(&b.kind)));
    Ok(events)
}

/// True when some fault of `events` is aimed at the store's primary (a
/// `--nemesis-targets primary` timeline, or a file holding one).
pub fn needs_primary(events: &[Event]) -> bool {
    events.iter().any(|e| match &e.action {
        Action::Start { fault } => fault.needs_primary(),
        Action::Stop => false,
    })
}

/// Checks a timeline that came from a file (`--nemesis-schedule`, often a
/// previous run's `schedule.json`) against this cluster: events in time
/// order, each fault of the kind its event names, targets and partition
/// members that are nodes here (or the [`PRIMARY`] and [`OTHERS`]
/// placeholders, resolved when the fault starts), probabilities that are
/// probabilities.
pub fn validate(events: &[Event], nodes: &[String]) -> Result<(), NemesisError> {
    let mut last = 0;
    for (index, e) in events.iter().enumerate() {
        let bad = |why: String| NemesisError::BadSchedule {
            index,
            at_ms: e.at_ms,
            why,
        };
        if e.at_ms < last {
            return Err(bad(format!(
                "events must be in time order (previous at {last} ms)"
            )));
        }
        last = e.at_ms;
        let Action::Start { fault } = &e.action else {
            continue;
        };
        if fault.kind() != e.kind {
            return Err(bad(format!(
                "a {} fault in a {} event",
                fault.kind(),
                e.kind
            )));
        }
        let named: Vec<&String> = match fault {
            Fault::Partition(p) => p
                .components
                .iter()
                .flatten()
                .chain(
                    p.grudge
                        .iter()
                        .flat_map(|(a, bs)| std::iter::once(a).chain(bs)),
                )
                .collect(),
            Fault::Loss {
                targets,
                from,
                probability,
            } => {
                if !(0.0..=1.0).contains(probability) {
                    return Err(bad(format!(
                        "loss probability {probability} is not between 0 and 1"
                    )));
                }
                targets.iter().chain(from).collect()
            }
            Fault::Clock(c) => {
                if let ClockFault::Strobe { period_ms, .. } = c {
                    if *period_ms < 10 {
                        return Err(bad(format!("strobe period {period_ms} ms is under 10 ms")));
                    }
                }
                c.targets().iter().collect()
            }
            Fault::Netem {
                targets, duplicate, ..
            } => {
                if !(0.0..=1.0).contains(duplicate) {
                    return Err(bad(format!(
                        "duplicate share {duplicate} is not between 0 and 1"
                    )));
                }
                targets.iter().collect()
            }
            Fault::Slow {
                targets,
                cpu_percent,
                ..
            } => {
                if !(1..=100).contains(cpu_percent) {
                    return Err(bad(format!(
                        "cpu_percent {cpu_percent} is not between 1 and 100"
                    )));
                }
                targets.iter().collect()
            }
            Fault::Kill { targets }
            | Fault::Pause { targets }
            | Fault::Membership { targets }
            | Fault::Power { targets }
            | Fault::Corrupt { targets, .. } => targets.iter().collect(),
        };
        if let Fault::Partition(p) = fault {
            if p.grudge.is_empty() {
                return Err(bad("a partition with an empty grudge cuts nothing".into()));
            }
        } else if named.is_empty() {
            return Err(bad("no targets".into()));
        }
        let placeholder = |n: &str| n == PRIMARY || n == OTHERS;
        if let Some(n) = named.iter().find(|n| !nodes.contains(n) && !placeholder(n)) {
            return Err(bad(format!(
                "{n} is not a node (nodes: {})",
                nodes.join(",")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<String> {
        (1..=5).map(|i| format!("n{i}")).collect()
    }

    fn kinds(k: &[&str]) -> Vec<Kind> {
        k.iter().map(|s| Kind::parse(s).unwrap()).collect()
    }

    #[test]
    fn a_seed_replays_the_same_timeline() {
        let all = kinds(crate::KINDS);
        let a = timeline(42, &all, &nodes(), &Options::default(), 60_000).unwrap();
        let b = timeline(42, &all, &nodes(), &Options::default(), 60_000).unwrap();
        let c = timeline(43, &all, &nodes(), &Options::default(), 60_000).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
    }

    #[test]
    fn adding_a_kind_leaves_the_others_unchanged() {
        let opts = Options::default();
        let p = timeline(7, &kinds(&["partition"]), &nodes(), &opts, 60_000).unwrap();
        let pk = timeline(7, &kinds(&["partition", "kill"]), &nodes(), &opts, 60_000).unwrap();
        let only_p: Vec<_> = pk
            .into_iter()
            .filter(|e| e.kind == Kind::Partition)
            .collect();
        assert_eq!(p, only_p);
    }

    #[test]
    fn each_kind_alternates_start_and_stop_within_the_limit() {
        let all = kinds(crate::KINDS);
        let t = timeline(1, &all, &nodes(), &Options::default(), 30_000).unwrap();
        for k in Kind::ALL.iter() {
            let mine: Vec<_> = t.iter().filter(|e| e.kind == *k).collect();
            assert!(!mine.is_empty(), "{k} never scheduled in 30 s");
            for (i, e) in mine.iter().enumerate() {
                assert!(e.at_ms < 30_000);
                assert_eq!(matches!(e.action, Action::Start { .. }), i % 2 == 0, "{k}");
            }
        }
        assert!(t.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    }

    #[test]
    fn every_kind_draws_sensible_faults() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let opts = Options::default();
        for _ in 0..50 {
            for k in Kind::ALL.iter() {
                let f = draw(*k, &nodes(), &opts, &mut rng).unwrap();
                assert_eq!(f.kind(), *k);
                assert!(!f.label().is_empty());
                match &f {
                    Fault::Loss {
                        targets,
                        from,
                        probability,
                    } => {
                        assert!(!targets.is_empty() && *probability == 0.2);
                        assert!(from.iter().all(|f| !targets.contains(f)));
                    }
                    Fault::Clock(c) => {
                        assert!(!c.targets().is_empty());
                        if let ClockFault::Bump { offset_ms, .. } = c {
                            assert!(offset_ms.abs() >= 1250 && offset_ms.abs() <= 5000);
                        }
                    }
                    Fault::Kill { targets } | Fault::Pause { targets } => {
                        assert!(!targets.is_empty() && targets.len() <= 5)
                    }
                    Fault::Partition(p) => assert!(!p.grudge.is_empty()),
                    Fault::Membership { targets } => assert_eq!(targets.len(), 1),
                    Fault::Netem {
                        targets, delay_ms, ..
                    } => assert!(!targets.is_empty() && (50..=300).contains(delay_ms)),
                    Fault::Power { targets } => assert!(!targets.is_empty() && targets.len() <= 5),
                    // Never a majority: the others must hold what it lost.
                    Fault::Corrupt { targets, .. } => {
                        assert!(!targets.is_empty() && targets.len() <= 2)
                    }
                    Fault::Slow {
                        targets,
                        cpu_percent,
                        ..
                    } => assert!(targets.len() == 1 && (1..=100).contains(cpu_percent)),
                }
            }
        }
    }

    #[test]
    fn explicit_partition_is_used_verbatim() {
        let opts = Options {
            partition: Some("n1|n2,n3,n4,n5".into()),
            ..Options::default()
        };
        let t = timeline(3, &kinds(&["partition"]), &nodes(), &opts, 20_000).unwrap();
        for e in t {
            if let Action::Start { fault } = e.action {
                assert_eq!(fault.label(), "partition n1|n2,n3,n4,n5");
            }
        }
    }

    #[test]
    fn primary_targets_are_placeholders_until_resolved() {
        let opts = Options {
            targets: TargetMode::Primary,
            ..Options::default()
        };
        let all = kinds(crate::KINDS);
        let t = timeline(11, &all, &nodes(), &opts, 30_000).unwrap();
        assert!(needs_primary(&t));
        validate(&t, &nodes()).unwrap();
        let starts: Vec<&Fault> = t
            .iter()
            .filter_map(|e| match &e.action {
                Action::Start { fault } => Some(fault),
                Action::Stop => None,
            })
            .collect();
        assert!(starts.len() >= crate::KINDS.len());
        for f in &starts {
            assert!(f.needs_primary(), "{f:?}");
            if let Fault::Partition(_) = f {
                assert_eq!(f.label(), "partition @primary|@others");
            } else {
                assert_eq!(f.targets(), vec![PRIMARY.to_string()], "{f:?}");
            }
            // Resolved: the real node, and no placeholder left.
            let r = f.resolve_primary("n3", &nodes());
            assert!(!r.needs_primary(), "{r:?}");
            assert_eq!(r.kind(), f.kind());
            match &r {
                Fault::Partition(p) => {
                    assert_eq!(r.label(), "partition n3|n1,n2,n4,n5");
                    assert_eq!(p.grudge["n3"].len(), 4);
                    for n in ["n1", "n2", "n4", "n5"] {
                        assert_eq!(p.grudge[n].iter().collect::<Vec<_>>(), ["n3"]);
                    }
                }
                Fault::Loss { targets, from, .. } => {
                    assert_eq!(targets, &["n3"]);
                    assert!(from.is_empty());
                }
                other => assert_eq!(other.targets(), ["n3"], "{other:?}"),
            }
            validate(
                &[Event {
                    at_ms: 0,
                    kind: r.kind(),
                    action: Action::Start { fault: r.clone() },
                }],
                &nodes(),
            )
            .unwrap();
        }
        // Parameters survive resolution; a fault on node sets is untouched.
        let kill = Fault::Kill {
            targets: vec!["n1".into(), "n2".into()],
        };
        assert_eq!(kill.resolve_primary("n3", &nodes()), kill);
        let one_way = Fault::Partition(Partition::isolate(PRIMARY, &[OTHERS.into()], true));
        match one_way.resolve_primary("n2", &nodes()) {
            Fault::Partition(p) => {
                assert!(p.one_way);
                assert_eq!(p.grudge["n2"].len(), 4);
                assert!(
                    p.grudge["n1"].is_empty(),
                    "one-way: the others still hear it"
                );
            }
            other => panic!("{other:?}"),
        }
        // The default mode draws node sets, and test.json leaves it out.
        let plain = timeline(11, &all, &nodes(), &Options::default(), 30_000).unwrap();
        assert!(!needs_primary(&plain));
        let json = serde_json::to_value(Options::default()).unwrap();
        assert!(json.get("targets").is_none(), "{json}");
        let back: Options = serde_json::from_value(serde_json::to_value(&opts).unwrap()).unwrap();
        assert_eq!(back.targets, TargetMode::Primary);
        assert_eq!(TargetMode::parse("primary"), Some(TargetMode::Primary));
        assert_eq!(TargetMode::parse("leader"), None);
    }

    #[test]
    fn a_written_timeline_validates_and_nonsense_is_named() {
        let opts = Options::default();
        let t = timeline(9, &Kind::ALL, &nodes(), &opts, 30_000).unwrap();
        let text = serde_json::to_string(&t).unwrap();
        let back: Vec<Event> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, t);
        validate(&back, &nodes()).unwrap();
        // On a smaller cluster the same file names nodes that do not exist.
        let three: Vec<String> = nodes()[..3].to_vec();
        let uses_n5 = t
            .iter()
            .any(|e| serde_json::to_string(e).unwrap().contains("n5"));
        if uses_n5 {
            let e = validate(&t, &three).unwrap_err().to_string();
            assert!(e.contains("n5 is not a node"), "{e}");
        }
        let mut unordered = t.clone();
        unordered.swap(0, 1);
        if unordered[0].at_ms != unordered[1].at_ms {
            assert!(validate(&unordered, &nodes())
                .unwrap_err()
                .to_string()
                .contains("time order"));
        }
        let bad_loss = vec![Event {
            at_ms: 5,
            kind: Kind::Loss,
            action: Action::Start {
                fault: Fault::Loss {
                    targets: vec!["n1".into()],
                    from: Vec::new(),
                    probability: 1.5,
                },
            },
        }];
        let e = validate(&bad_loss, &nodes()).unwrap_err().to_string();
        assert!(e.contains("event 0") && e.contains("1.5"), "{e}");
        let mismatched = vec![Event {
            at_ms: 5,
            kind: Kind::Pause,
            action: Action::Start {
                fault: Fault::Kill {
                    targets: vec!["n1".into()],
                },
            },
        }];
        assert!(validate(&mismatched, &nodes()).is_err());
    }
}
