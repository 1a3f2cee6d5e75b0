//! Distributions for reports: quantiles of latencies, staleness, sibling
//! counts.
//!
//! Checkers that measure rather than judge (visibility latency, staleness,
//! siblings per read, op latency) summarize a list of samples the same way,
//! with nearest-rank quantiles, so that numbers from different checkers can
//! be compared.

use serde::{Deserialize, Serialize};

/// Nearest-rank quantiles of a list of samples, in the samples' unit
/// (milliseconds for times, a count for staleness and siblings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// How many samples.
    pub count: usize,
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The largest sample.
    pub max: f64,
}

impl Quantiles {
    /// Quantiles of `samples` (sorted in place); all zero when empty.
    pub fn of(samples: &mut [f64]) -> Quantiles {
        if samples.is_empty() {
            return Quantiles::default();
        }
        samples.sort_unstable_by(|a, b| a.total_cmp(b));
        let n = samples.len();
        let at = |q: f64| {
            // Nearest rank: the smallest sample with at least q of the
            // samples at or below it.
            let rank = (q * n as f64).ceil() as usize;
            samples[rank.clamp(1, n) - 1]
        };
        Quantiles {
            count: n,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: samples[n - 1],
        }
    }

    /// Quantiles of durations given in nanoseconds, reported in milliseconds.
    pub fn of_ns_as_ms(samples: &[u64]) -> Quantiles {
        let mut v: Vec<f64> = samples.iter().map(|&ns| ns as f64 / 1e6).collect();
        Quantiles::of(&mut v)
    }

    /// Quantiles of counts.
    pub fn of_counts(samples: &[u64]) -> Quantiles {
        let mut v: Vec<f64> = samples.iter().map(|&c| c as f64).collect();
        Quantiles::of(&mut v)
    }
}

impl std::fmt::Display for Quantiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {} p90 {} p99 {} max {}",
            self.p50, self.p90, self.p99, self.max
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let q = Quantiles::of(&mut v);
        assert_eq!(
            (q.count, q.p50, q.p90, q.p99, q.max),
            (100, 50.0, 90.0, 99.0, 100.0)
        );
        let q = Quantiles::of_ns_as_ms(&[3_000_000]);
        assert_eq!((q.p50, q.max), (3.0, 3.0));
        assert_eq!(Quantiles::of(&mut []), Quantiles::default());
    }
}
