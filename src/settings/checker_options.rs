//! The checkers' options a test sets (a configuration file's
//! `[checkers]`; they have no flags): each is `None` until set, which keeps
//! the checker's own default, and [`CheckerOptions::check_options`] hands
//! them to the checkers in their own types.

use checkers::siblings::SiblingBound;
use serde::{Deserialize, Serialize};

/// The checkers' options a configuration sets; `None` (or `false`) keeps
/// each checker's default. Saved in `test.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckerOptions {
    /// set-full: stale reads are anomalies (`SetFullOptions::linearizable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_full_linearizable: Option<bool>,
    /// siblings: the bound on siblings per read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siblings_bound: Option<SiblingBound>,
    /// perf: window width in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perf_window_s: Option<f64>,
    /// linearizable: the search's step budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linearizable_max_steps: Option<u64>,
    /// linearizable: the memo's budget per key, MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linearizable_max_cache_mb: Option<u64>,
    /// staleness: largest allowed versions behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staleness_max_versions_behind: Option<u64>,
    /// staleness: largest allowed t-visibility, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staleness_max_visibility_s: Option<f64>,
}

impl CheckerOptions {
    /// True when every checker keeps its defaults.
    pub fn is_default(&self) -> bool {
        *self == CheckerOptions::default()
    }

    /// set-full's options.
    pub fn set_full(&self) -> checkers::set_full::SetFullOptions {
        checkers::set_full::SetFullOptions {
            linearizable: self.set_full_linearizable.unwrap_or(false),
        }
    }

    /// The siblings checker's options.
    pub fn siblings(&self) -> checkers::siblings::SiblingsOptions {
        checkers::siblings::SiblingsOptions {
            bound: self.siblings_bound.unwrap_or_default(),
        }
    }

    /// perf's options.
    pub fn perf(&self) -> checkers::perf::PerfOptions {
        let mut o = checkers::perf::PerfOptions::default();
        if let Some(s) = self.perf_window_s {
            o.window_ns = ((s * 1e9) as u64).max(1);
        }
        o
    }

    /// The linearizability checker's options.
    pub fn linear(&self) -> checkers::linear::Options {
        let mut o = checkers::linear::Options::default();
        if let Some(s) = self.linearizable_max_steps {
            o.budget.max_steps = s;
        }
        if let Some(mb) = self.linearizable_max_cache_mb {
            o.budget.max_cache_bytes =
                usize::try_from(mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        }
        o
    }

    /// The staleness checker's options.
    pub fn staleness(&self) -> checkers::staleness::StalenessOptions {
        checkers::staleness::StalenessOptions {
            max_versions_behind: self.staleness_max_versions_behind,
            max_visibility_ms: self.staleness_max_visibility_s.map(|s| s * 1000.0),
        }
    }

    /// All of them, as `workloads::check_with` takes them.
    pub fn check_options(&self) -> workloads::CheckOptions {
        workloads::CheckOptions {
            set_full: self.set_full(),
            siblings: self.siblings(),
            perf: self.perf(),
            linear: self.linear(),
            staleness: self.staleness(),
        }
    }
}
