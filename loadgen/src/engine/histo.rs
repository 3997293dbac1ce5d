//! Latency histograms: nanosecond values, 3 significant digits, fixed
//! range (no allocation when recording), and their summary in
//! microseconds.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest value tracked: one hour in nanoseconds; larger ones saturate.
pub const MAX_NS: u64 = 3_600_000_000_000;

/// A new empty latency histogram.
pub fn new_histogram() -> Histogram<u64> {
    // Bounds and precision are constants known to be valid.
    Histogram::new_with_bounds(1, MAX_NS, 3).unwrap_or_else(|_| unreachable!())
}

/// Percentiles of a latency histogram in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// 99.99th percentile.
    pub p9999: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Summary {
    /// Summarises `h` (values in nanoseconds); all zero when empty.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50: us(h.value_at_quantile(0.5)),
            p90: us(h.value_at_quantile(0.9)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            p9999: us(h.value_at_quantile(0.9999)),
            max: us(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// Connect-time percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ConnectSummary {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

impl ConnectSummary {
    /// Summarises `h` (values in nanoseconds).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50: us(h.value_at_quantile(0.5)),
            p99: us(h.value_at_quantile(0.99)),
            max: us(h.max()),
        }
    }
}

/// Adds `from` into `into` (same bounds, so it cannot fail; values beyond
/// range would already have saturated).
pub fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to().min(MAX_NS), v.count_at_value());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reports_microseconds() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.saturating_record(v * 1000);
        }
        let s = Summary::of(&h);
        assert!((s.p50 - 500.0).abs() < 1.0, "{s:?}");
        assert!((s.p99 - 990.0).abs() < 2.0, "{s:?}");
        assert!((s.max - 1000.0).abs() < 1.0, "{s:?}");
        assert_eq!(Summary::of(&new_histogram()), Summary::default());
    }

    #[test]
    fn saturates_instead_of_failing() {
        let mut h = new_histogram();
        h.saturating_record(u64::MAX);
        let mut g = new_histogram();
        add(&mut g, &h);
        assert_eq!(g.len(), 1);
        assert!(g.max() >= MAX_NS / 2);
    }
}
