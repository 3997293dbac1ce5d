//! A shard's heartbeat: when its current event-loop round began, whether
//! it is still running, and which callback it entered last; plus how long
//! its rounds took. Published for the stall watchdog and the metrics
//! endpoint.
//!
//! The shard writes, other threads read: relaxed stores and loads only, in
//! a cache line of its own. Per round the shard stores the beat twice (at
//! the start: running; at the end: done) and resets the activity byte; per
//! handler callback it stores that byte. The round durations are published
//! with the counters (at most once a millisecond).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use crossbeam::utils::CachePadded;

/// Upper bounds (in nanoseconds) of the round-duration histogram's
/// buckets, the last one open-ended: 10 µs to 1 s in 1-2.5-5 steps, with
/// the default stall threshold (25 ms) among them.
pub(crate) const ROUND_BOUNDS_NANOS: [u64; 16] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// Buckets of the histogram: one per bound, and one above the last.
pub(crate) const ROUND_BUCKETS: usize = ROUND_BOUNDS_NANOS.len() + 1;

/// The beat holds the start time in units of 2^10 ns (about a
/// microsecond): 63 bits of them never wrap.
const UNIT_SHIFT: u32 = 10;

/// The beat's low bit: the round is still running.
const RUNNING: u64 = 1;

/// Nanoseconds on the monotonic clock (`CLOCK_MONOTONIC`, the clock
/// behind `Instant`), as a plain number: cheaper to subtract than
/// `Instant`s (no normalising, no checks), which matters twice per round.
#[inline]
pub(crate) fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own; CLOCK_MONOTONIC
    // always exists on Linux, so it cannot fail (the zero stays if it did).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(now.tv_nsec as u64)
}

/// What a shard is doing: its own work, or (the last) handler callback it
/// entered in the current round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Activity {
    /// The shard's own work (polling results, accepting, reading, the
    /// inbox, timers), before any callback of the round.
    Loop = 0,
    /// `Handler::on_connect`.
    OnConnect,
    /// `Handler::on_data`.
    OnData,
    /// `Handler::on_timer`.
    OnTimer,
    /// `Handler::on_tick`.
    OnTick,
    /// `Handler::on_close`.
    OnClose,
    /// `Handler::on_drain`.
    OnDrain,
    /// `Handler::on_shutting_down`.
    OnShuttingDown,
}

impl Activity {
    /// Every activity, by its byte.
    const ALL: [Self; 8] = [
        Self::Loop,
        Self::OnConnect,
        Self::OnData,
        Self::OnTimer,
        Self::OnTick,
        Self::OnClose,
        Self::OnDrain,
        Self::OnShuttingDown,
    ];

    /// The name an operator reads in a stall warning.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Loop => "the shard's own work (no callback yet)",
            Self::OnConnect => "on_connect",
            Self::OnData => "on_data",
            Self::OnTimer => "on_timer",
            Self::OnTick => "on_tick",
            Self::OnClose => "on_close",
            Self::OnDrain => "on_drain",
            Self::OnShuttingDown => "on_shutting_down",
        }
    }
}

/// A round the shard is in, as another thread sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Busy {
    /// The round's beat word: names the round (its start time).
    pub(crate) beat: u64,
    /// How long the round has run.
    pub(crate) running: Duration,
    /// The last callback the shard entered in it.
    pub(crate) activity: Activity,
}

/// The published round durations: a histogram and its sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RoundTimes {
    /// Rounds per bucket (not cumulative), by [`ROUND_BOUNDS_NANOS`].
    pub(crate) buckets: [u64; ROUND_BUCKETS],
    /// All rounds' durations added up, in nanoseconds.
    pub(crate) sum_nanos: u64,
}

impl RoundTimes {
    /// Counts one round of `nanos`; returns the bucket it went to.
    #[inline]
    pub(crate) fn observe(&mut self, nanos: u64) -> usize {
        // Most rounds are short: a scan from the bottom ends at once.
        let bucket = ROUND_BOUNDS_NANOS
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(ROUND_BOUNDS_NANOS.len());
        self.buckets[bucket] += 1;
        self.sum_nanos = self.sum_nanos.wrapping_add(nanos);
        bucket
    }
}

/// One shard's heartbeat and round durations, written by the shard only.
#[derive(Default)]
pub(crate) struct Heartbeat {
    /// The atomics, in a cache line of their own.
    cells: CachePadded<Cells>,
}

/// The atomics of a [`Heartbeat`].
#[derive(Default)]
struct Cells {
    /// `start << 1 | running`: the start of the current (or last) round,
    /// in 2^10 ns units of the monotonic clock, and whether it still runs.
    beat: AtomicU64,
    /// The [`Activity`] byte.
    activity: AtomicU8,
    /// The beat of the last round whose stall was reported: the watchdog
    /// and the shard each swap the beat in, and only the first to do so
    /// reports it as a stall.
    reported: AtomicU64,
    /// Published [`RoundTimes::buckets`].
    buckets: [AtomicU64; ROUND_BUCKETS],
    /// Published [`RoundTimes::sum_nanos`].
    sum_nanos: AtomicU64,
}

impl Heartbeat {
    /// The beat word of a round that started at `start` (monotonic
    /// nanoseconds), still running.
    #[inline]
    pub(crate) fn beat_of(start: u64) -> u64 {
        ((start >> UNIT_SHIFT) << 1) | RUNNING
    }

    /// A round begins (shard thread only): its beat, and no callback
    /// entered yet.
    #[inline]
    pub(crate) fn begin(&self, beat: u64) {
        self.cells.beat.store(beat, Ordering::Relaxed);
        self.enter(Activity::Loop);
    }

    /// The round named `beat` ended (shard thread only).
    #[inline]
    pub(crate) fn end(&self, beat: u64) {
        self.cells.beat.store(beat & !RUNNING, Ordering::Relaxed);
    }

    /// The shard enters a handler callback (shard thread only).
    #[inline(always)]
    pub(crate) fn enter(&self, activity: Activity) {
        self.cells.activity.store(activity as u8, Ordering::Relaxed);
    }

    /// The last callback the shard entered in its current round.
    pub(crate) fn activity(&self) -> Activity {
        let byte = self.cells.activity.load(Ordering::Relaxed);
        Activity::ALL
            .get(usize::from(byte))
            .copied()
            .unwrap_or(Activity::Loop)
    }

    /// Publishes the round durations (shard thread only).
    pub(crate) fn export_rounds(&self, times: &RoundTimes) {
        for (cell, &count) in self.cells.buckets.iter().zip(&times.buckets) {
            cell.store(count, Ordering::Relaxed);
        }
        self.cells
            .sum_nanos
            .store(times.sum_nanos, Ordering::Relaxed);
    }

    /// The published round durations (any thread).
    pub(crate) fn round_times(&self) -> RoundTimes {
        RoundTimes {
            buckets: self
                .cells
                .buckets
                .each_ref()
                .map(|cell| cell.load(Ordering::Relaxed)),
            sum_nanos: self.cells.sum_nanos.load(Ordering::Relaxed),
        }
    }

    /// The round the shard is in now; `None` while it waits for events
    /// (any thread).
    pub(crate) fn busy(&self) -> Option<Busy> {
        let beat = self.cells.beat.load(Ordering::Relaxed);
        if beat & RUNNING == 0 {
            return None;
        }
        let activity = self.activity();
        let started = beat >> 1;
        // A start read just before the clock may be a unit "in the
        // future" of a clock read on another core: saturate.
        let units = (monotonic_nanos() >> UNIT_SHIFT).saturating_sub(started);
        Some(Busy {
            beat,
            running: Duration::from_nanos(units << UNIT_SHIFT),
            activity,
        })
    }

    /// Claims the report of the stall of the round named `beat`: `true`
    /// for the first caller only (the watchdog while the round runs, or
    /// the shard when it ends).
    pub(crate) fn claim_stall(&self, beat: u64) -> bool {
        self.cells.reported.swap(beat, Ordering::Relaxed) != beat
    }
}

/// Nanoseconds as milliseconds, to the microsecond.
pub(crate) fn millis(nanos: u64) -> f64 {
    (nanos / 1_000) as f64 / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_is_busy_from_its_start_until_it_ends() {
        let heartbeat = Heartbeat::default();
        assert_eq!(heartbeat.busy(), None, "no round yet");
        let start = monotonic_nanos() - 25_000_000;
        let beat = Heartbeat::beat_of(start);
        heartbeat.begin(beat);
        heartbeat.enter(Activity::OnData);
        let busy = heartbeat.busy().expect("the round runs");
        assert_eq!(busy.activity, Activity::OnData);
        assert_eq!(busy.beat, beat);
        assert!(
            busy.running >= Duration::from_millis(24),
            "{:?}",
            busy.running
        );
        assert!(busy.running < Duration::from_secs(5), "{:?}", busy.running);
        heartbeat.end(beat);
        assert_eq!(heartbeat.busy(), None, "the round is over");
    }

    #[test]
    fn only_the_first_claim_of_a_stall_wins() {
        let heartbeat = Heartbeat::default();
        assert!(heartbeat.claim_stall(7));
        assert!(!heartbeat.claim_stall(7));
        assert!(heartbeat.claim_stall(8));
    }

    #[test]
    fn rounds_land_in_their_buckets() {
        let mut times = RoundTimes::default();
        assert_eq!(times.observe(3_000), 0);
        assert_eq!(times.observe(10_000), 0, "bounds are inclusive");
        assert_eq!(times.observe(200_000_000), 13);
        assert_eq!(times.observe(5_000_000_000), ROUND_BUCKETS - 1);
        assert_eq!(times.sum_nanos, 5_200_013_000);
        let heartbeat = Heartbeat::default();
        heartbeat.export_rounds(&times);
        assert_eq!(heartbeat.round_times(), times);
    }
}
