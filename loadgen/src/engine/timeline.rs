//! The run second by second, and the stalls it reveals.
//!
//! A closed-loop summary hides a stalled server: while it stalls, few
//! messages are sent, so the stall weighs little in the percentiles. The
//! per-second series does not hide it: a second whose slowest message took
//! far longer than the run's p99, or a second with hardly any traffic while
//! connections are open, is a stall, and its time is reported.

use hdrhistogram::Histogram;
use serde::Serialize;

/// A second's max latency beyond this multiple of the run's p99 is a stall.
pub const STALL_P99_FACTOR: f64 = 10.0;
/// ... if it is also at least this long (µs; `--stall-floor`): shorter
/// pauses are the scheduler of a busy machine, not a stalled server.
pub const STALL_FLOOR_US: f64 = 200_000.0;
/// A second with less than this share of the run's mean throughput, while
/// connections are open, is a stall.
pub const STALL_THROUGHPUT_SHARE: f64 = 0.01;
/// Seconds shorter than this (the last, partial one) are not judged on
/// throughput.
const MIN_JUDGED_S: f64 = 0.5;
/// A slow second is put down to loadgen, not the server, when loadgen
/// itself paused for at least this share of the slowest latency.
const PAUSE_SHARE: f64 = 0.5;

/// One second of the measured window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelinePoint {
    /// Start, in seconds after warmup.
    pub t_s: f64,
    /// Length in seconds (1, less for the last).
    pub length_s: f64,
    /// Messages verified.
    pub messages: u64,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Errors of all causes; `null` when not recorded (merged logs).
    pub errors: Option<u64>,
    /// Connections open at its end; `null` when not recorded.
    pub open: Option<u64>,
    /// Connects completed (churn, reconnects); `null` when not recorded.
    pub connects: Option<u64>,
    /// Median latency (µs); `null` when no message completed.
    pub p50_us: Option<f64>,
    /// 99th percentile (µs); `null` when no message completed.
    pub p99_us: Option<f64>,
    /// Largest latency (µs); `null` when no message completed.
    pub max_us: Option<f64>,
    /// Messages slower than the stall floor (`--stall-floor`).
    pub slow_messages: u64,
    /// Longest time a loadgen thread was paused (not scheduled, or busy)
    /// beyond its poll timeout (ms); `null` when not recorded.
    pub loadgen_pause_ms: Option<f64>,
}

impl TimelinePoint {
    /// A point from one interval's counters and latency histogram (ns).
    pub fn new(
        t_s: f64,
        length_s: f64,
        counts: (u64, u64, u64, u64),
        latency: &Histogram<u64>,
    ) -> Self {
        let (messages, errors, open, connects) = counts;
        Self {
            errors: Some(errors),
            open: Some(open),
            connects: Some(connects),
            ..Self::latency_only(t_s, length_s, messages, latency)
        }
    }

    /// A point that knows only messages and latency (an interval log
    /// records no errors, open connections or connects).
    pub fn latency_only(t_s: f64, length_s: f64, messages: u64, latency: &Histogram<u64>) -> Self {
        let at = |q: f64| (!latency.is_empty()).then(|| latency.value_at_quantile(q) as f64 / 1e3);
        Self {
            t_s,
            length_s,
            messages,
            messages_per_sec: if length_s > 0.0 {
                messages as f64 / length_s
            } else {
                0.0
            },
            errors: None,
            open: None,
            connects: None,
            p50_us: at(0.5),
            p99_us: at(0.99),
            max_us: (!latency.is_empty()).then(|| latency.max() as f64 / 1e3),
            slow_messages: slow_messages(latency, STALL_FLOOR_US),
            loadgen_pause_ms: None,
        }
    }
}

/// Messages of `h` (ns) at or above `floor_us`.
pub fn slow_messages(h: &Histogram<u64>, floor_us: f64) -> u64 {
    let floor = (floor_us * 1e3) as u64;
    if h.is_empty() || h.max() < floor {
        return 0;
    }
    h.count_between(floor, h.max())
}

/// A stall found in the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stall {
    /// Start of the second, in seconds after warmup.
    pub at_s: f64,
    /// `latency` (max > 10x run p99, on several connections at once),
    /// `throughput` (near zero while connections are open), or `loadgen`
    /// (a slow or empty second explained by loadgen itself pausing).
    pub kind: &'static str,
    /// That second's max latency (µs), if any message completed.
    pub max_us: Option<f64>,
    /// That second's messages per second.
    pub messages_per_sec: f64,
    /// The sentence printed.
    pub text: String,
}

/// The stalls of a closed-loop run with overall `p99_us` and mean
/// throughput `mean_rate`; slow seconds count from `floor_us` (whose
/// `slow_messages` must have been counted against the same floor).
pub fn find_stalls(
    points: &[TimelinePoint],
    p99_us: f64,
    mean_rate: f64,
    floor_us: f64,
) -> Vec<Stall> {
    let limit = (p99_us * STALL_P99_FACTOR).max(floor_us);
    let mut out = Vec::new();
    for p in points {
        let open = p.open.unwrap_or(0);
        // A server stall holds up every connection's message at once; one
        // slow message among several connections is one thread's hiccup.
        let enough = p.slow_messages >= open.clamp(1, 2);
        let slow = p.max_us.filter(|&m| m > limit && enough);
        let starved = p.length_s >= MIN_JUDGED_S
            && open > 0
            && p.messages_per_sec < mean_rate * STALL_THROUGHPUT_SHARE;
        let when = format!(
            "{:.0}-{:.0} s into the measured window",
            p.t_s,
            p.t_s + p.length_s
        );
        let pause_us = p.loadgen_pause_ms.unwrap_or(0.0) * 1e3;
        let stall = |kind, text| Stall {
            at_s: p.t_s,
            kind,
            max_us: p.max_us,
            messages_per_sec: p.messages_per_sec,
            text,
        };
        if slow.is_none() && !starved {
            continue;
        }
        let worst_us = slow.unwrap_or(p.length_s * 1e6);
        if pause_us >= worst_us * PAUSE_SHARE {
            out.push(stall(
                "loadgen",
                format!(
                    "loadgen itself paused {:.0} ms {when} (not scheduled, or busy): that \
                     second's latency and throughput include the pause; not a server stall",
                    pause_us / 1e3
                ),
            ));
        } else if let Some(max) = slow {
            out.push(stall(
                "latency",
                format!(
                    "STALL {when}: a message took {:.0} ms, more than {STALL_P99_FACTOR:.0}x the \
                     run's p99 ({:.2} ms), on {} messages at once",
                    max / 1e3,
                    p99_us / 1e3,
                    p.slow_messages
                ),
            ));
        } else {
            out.push(stall(
                "throughput",
                format!(
                    "STALL {when}: {:.0} msg/s with {open} connections open (run mean {:.0} msg/s)",
                    p.messages_per_sec, mean_rate
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, rate: f64, max_us: f64) -> TimelinePoint {
        TimelinePoint {
            t_s: t,
            length_s: 1.0,
            messages: rate as u64,
            messages_per_sec: rate,
            errors: Some(0),
            open: Some(10),
            connects: Some(0),
            p50_us: Some(50.0),
            p99_us: Some(200.0),
            max_us: Some(max_us),
            slow_messages: if max_us >= STALL_FLOOR_US { 10 } else { 0 },
            loadgen_pause_ms: Some(1.0),
        }
    }

    #[test]
    fn a_slow_second_and_an_empty_second_are_stalls() {
        let points = [
            point(0.0, 10_000.0, 900.0),
            point(1.0, 20.0, 1_000_000.0),
            point(2.0, 10.0, 300.0),
            point(3.0, 10_000.0, 800.0),
        ];
        let stalls = find_stalls(&points, 250.0, 7_500.0, STALL_FLOOR_US);
        let kinds: Vec<(f64, &str)> = stalls.iter().map(|s| (s.at_s, s.kind)).collect();
        assert_eq!(kinds, vec![(1.0, "latency"), (2.0, "throughput")]);
        assert!(stalls[0].text.contains("1-2 s"), "{}", stalls[0].text);
    }

    #[test]
    fn one_slow_message_or_a_loadgen_pause_is_not_a_server_stall() {
        let mut lone = point(0.0, 10_000.0, 300_000.0);
        lone.slow_messages = 1;
        assert!(find_stalls(&[lone], 300.0, 10_000.0, STALL_FLOOR_US).is_empty());
        let mut paused = point(0.0, 10_000.0, 300_000.0);
        paused.loadgen_pause_ms = Some(280.0);
        let stalls = find_stalls(&[paused], 300.0, 10_000.0, STALL_FLOOR_US);
        assert_eq!(stalls.len(), 1);
        assert_eq!(stalls[0].kind, "loadgen");
        assert!(!stalls[0].text.contains("STALL"), "{}", stalls[0].text);
    }

    #[test]
    fn a_healthy_run_has_none() {
        let points = [point(0.0, 10_000.0, 5_000.0), point(1.0, 9_000.0, 40_000.0)];
        assert!(find_stalls(&points, 300.0, 9_500.0, STALL_FLOOR_US).is_empty());
    }
}
