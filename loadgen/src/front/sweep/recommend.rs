//! The sweep's pick: the smallest thread count whose median throughput is
//! within 5% of the best, and, when balance modes were swept, the fastest
//! mode at that thread count with its measured ratio to each other mode.

use serde::Serialize;

use super::SweepRun;
use crate::units::{fmt_rate, fmt_us};

/// Throughput within this share of the best counts as "as good".
const GOOD_SHARE: f64 = 0.95;

/// The pick.
#[derive(Debug, Serialize)]
pub struct Recommendation {
    /// Smallest thread count whose median is within 5% of the best median.
    pub threads: usize,
    /// The fastest balance mode at that thread count, when modes were
    /// swept (`--balance-list`); `null` otherwise.
    pub balance: Option<String>,
    /// Its median throughput divided by each other mode's at the same
    /// thread count: the measurement behind `balance`.
    pub balance_ratios: Vec<BalanceRatio>,
    /// Its median messages per second.
    pub messages_per_sec: f64,
    /// Its median p99 (µs), if measured.
    pub p99_us: Option<f64>,
    /// The sentence printed.
    pub text: String,
}

/// How the recommended balance mode compares with another one.
#[derive(Debug, Clone, Serialize)]
pub struct BalanceRatio {
    /// The other mode.
    pub against: String,
    /// Recommended median msg/s over the other mode's (1.07: 7% faster).
    pub ratio: f64,
    /// The other mode's median messages per second.
    pub messages_per_sec: f64,
}

/// Picks the smallest thread count within 5% of the best median
/// throughput and, among the balance modes measured at that count, the
/// fastest.
pub fn recommend(runs: &[SweepRun]) -> Option<Recommendation> {
    let best = runs
        .iter()
        .map(|r| r.messages_per_sec.median)
        .fold(0.0, f64::max);
    if best <= 0.0 {
        return None;
    }
    let threads = runs
        .iter()
        .filter(|r| r.messages_per_sec.median >= best * GOOD_SHARE)
        .map(|r| r.threads)
        .min()?;
    let at_threads = || runs.iter().filter(move |r| r.threads == threads);
    let pick = at_threads().max_by(|a, b| {
        a.messages_per_sec
            .median
            .total_cmp(&b.messages_per_sec.median)
    })?;
    let (rate, p99) = (
        pick.messages_per_sec.median,
        pick.p99_us.as_ref().map(|p| p.median),
    );
    let balance_ratios: Vec<BalanceRatio> = at_threads()
        .filter(|r| r.balance != pick.balance)
        .filter_map(|r| {
            let other = r.messages_per_sec.median;
            Some(BalanceRatio {
                against: r.balance.clone()?,
                ratio: if other > 0.0 {
                    rate / other
                } else {
                    f64::INFINITY
                },
                messages_per_sec: other,
            })
        })
        .collect();
    let mode = match &pick.balance {
        Some(b) => {
            let ratios: Vec<String> = balance_ratios
                .iter()
                .map(|r| {
                    format!(
                        "{:.2}x {} ({} msg/s)",
                        r.ratio,
                        r.against,
                        fmt_rate(r.messages_per_sec)
                    )
                })
                .collect();
            if ratios.is_empty() {
                format!(", --balance {b}")
            } else {
                format!(
                    ", --balance {b}: {} at {threads} threads",
                    ratios.join(", ")
                )
            }
        }
        None => String::new(),
    };
    Some(Recommendation {
        threads,
        balance: pick.balance.clone(),
        balance_ratios,
        messages_per_sec: rate,
        p99_us: p99,
        text: format!(
            "recommendation: {threads} server threads{mode} ({} msg/s, {:.0}% of the best {}; p99 {})",
            fmt_rate(rate),
            100.0 * rate / best,
            fmt_rate(best),
            p99.map_or_else(|| "n/a".to_owned(), fmt_us)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::spread::Spread;

    fn point(threads: usize, balance: Option<&str>, rate: f64) -> SweepRun {
        SweepRun {
            threads,
            balance: balance.map(str::to_owned),
            messages_per_sec: Spread::of(&[rate]).unwrap(),
            p99_us: Spread::of(&[1000.0]),
            errors: 0,
            reports: Vec::new(),
        }
    }

    #[test]
    fn the_smallest_thread_count_near_the_best() {
        let r = recommend(&[
            point(1, None, 50_000.0),
            point(2, None, 97_000.0),
            point(4, None, 100_000.0),
        ])
        .unwrap();
        assert_eq!((r.threads, r.balance.as_deref()), (2, None));
        assert!(r.balance_ratios.is_empty());
        assert!(
            r.text.starts_with("recommendation: 2 server threads ("),
            "{}",
            r.text
        );
        assert!(recommend(&[point(1, None, 0.0)]).is_none());
    }

    #[test]
    fn the_balance_mode_comes_with_its_ratio() {
        let r = recommend(&[
            point(1, Some("reuseport"), 60_000.0),
            point(1, Some("cpu"), 64_000.0),
            point(2, Some("reuseport"), 110_000.0),
            point(2, Some("cpu"), 126_000.0),
            point(2, Some("least-loaded"), 90_000.0),
        ])
        .unwrap();
        assert_eq!((r.threads, r.balance.as_deref()), (2, Some("cpu")));
        let ratios: Vec<(&str, String)> = r
            .balance_ratios
            .iter()
            .map(|b| (b.against.as_str(), format!("{:.2}", b.ratio)))
            .collect();
        assert_eq!(
            ratios,
            [
                ("reuseport", "1.15".to_owned()),
                ("least-loaded", "1.40".to_owned())
            ]
        );
        assert!(
            r.text
                .contains("--balance cpu: 1.15x reuseport (110.0k msg/s), 1.40x least-loaded"),
            "{}",
            r.text
        );
        // Close to the best with fewer threads: that count, and its best mode.
        let r = recommend(&[
            point(1, Some("reuseport"), 120_000.0),
            point(1, Some("cpu"), 119_000.0),
            point(2, Some("cpu"), 124_000.0),
        ])
        .unwrap();
        assert_eq!((r.threads, r.balance.as_deref()), (1, Some("reuseport")));
        assert!(r.balance_ratios[0].ratio > 1.0 && r.balance_ratios[0].ratio < 1.01);
    }
}
