//! A shard's heartbeat: when its current event-loop round began and which
//! callback it entered last, plus how long its rounds took, published for
//! the stall watchdog and the metrics endpoint.
//!
//! The shard writes, other threads read: relaxed stores and loads only, in
//! a cache line of its own. Per round the shard stores the start word, the
//! activity byte, one histogram bucket and the duration sum; per handler
//! callback one byte (which callback).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

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

/// Bits of the beat word that hold the round number (the rest hold the
/// start time).
const ROUND_BITS: u32 = 16;

/// The start time is kept in units of 2^10 ns (about a microsecond), so
/// 48 bits of it last 9 years.
const UNIT_SHIFT: u32 = 10;

/// Mask of the start-time part, after the shift.
const TIME_MASK: u64 = (1 << (64 - ROUND_BITS)) - 1;

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
    /// The round's beat word: names the round (start time and number).
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
pub(crate) struct Heartbeat {
    /// The same for every shard of a server: time zero of the beats.
    epoch: Instant,
    /// The shared part, in a cache line of its own.
    cells: CachePadded<Cells>,
}

/// The atomics of a [`Heartbeat`].
#[derive(Default)]
struct Cells {
    /// `start << 16 | round`: the start of the current (or last) round in
    /// 2^10 ns units since `epoch`, and its number modulo 2^16. The round
    /// is over once the shard's published `rounds` counter reached that
    /// number.
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
    /// A heartbeat whose time zero is `epoch` (the same for all shards).
    pub(crate) fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            cells: CachePadded::new(Cells::default()),
        }
    }

    /// Nanoseconds from time zero to `at`.
    #[inline]
    pub(crate) fn nanos(&self, at: Instant) -> u64 {
        // 584 years of nanoseconds fit in 64 bits.
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// The beat word of round `round`, started `start` nanoseconds after
    /// time zero.
    #[inline]
    pub(crate) fn beat_of(start: u64, round: u64) -> u64 {
        ((start >> UNIT_SHIFT) << ROUND_BITS) | (round & ((1 << ROUND_BITS) - 1))
    }

    /// Round begins (shard thread only): its beat word, and no callback
    /// entered yet.
    #[inline]
    pub(crate) fn begin(&self, beat: u64) {
        self.cells.beat.store(beat, Ordering::Relaxed);
        self.enter(Activity::Loop);
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

    /// Publishes bucket `bucket` and the sum of `times` (shard thread
    /// only): the only parts a round changed.
    #[inline]
    pub(crate) fn publish_round(&self, times: &RoundTimes, bucket: usize) {
        if let (Some(cell), Some(&count)) =
            (self.cells.buckets.get(bucket), times.buckets.get(bucket))
        {
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
    /// (any thread). `rounds_done` reads the rounds it completed (its
    /// published `rounds` counter).
    ///
    /// The beat is read first, then the count, then the clock: a round
    /// that ends meanwhile is seen as over (the count passed it), never as
    /// running since long ago.
    pub(crate) fn busy(&self, rounds_done: impl FnOnce() -> u64) -> Option<Busy> {
        let beat = self.cells.beat.load(Ordering::Relaxed);
        let activity = self.activity();
        let round_mask = (1 << ROUND_BITS) - 1;
        // The round in progress is always the one after the last completed.
        if beat & round_mask != rounds_done().wrapping_add(1) & round_mask {
            return None;
        }
        let started = beat >> ROUND_BITS;
        let units = (self.nanos(Instant::now()) >> UNIT_SHIFT).wrapping_sub(started) & TIME_MASK;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_is_busy_until_the_shard_counts_it_done() {
        let now = Instant::now();
        let epoch = now
            .checked_sub(Duration::from_secs(1))
            .expect("a second ago");
        let heartbeat = Heartbeat::new(epoch);
        assert_eq!(heartbeat.busy(|| 0), None, "no round yet");
        let start = now
            .checked_sub(Duration::from_millis(25))
            .expect("25 ms ago");
        let beat = Heartbeat::beat_of(heartbeat.nanos(start), 1);
        heartbeat.begin(beat);
        heartbeat.enter(Activity::OnData);
        let busy = heartbeat.busy(|| 0).expect("round 1 runs");
        assert_eq!(busy.activity, Activity::OnData);
        assert_eq!(busy.beat, beat);
        assert!(
            busy.running >= Duration::from_millis(24),
            "{:?}",
            busy.running
        );
        assert!(busy.running < Duration::from_secs(5), "{:?}", busy.running);
        assert_eq!(heartbeat.busy(|| 1), None, "round 1 is over");
        assert_eq!(heartbeat.busy(|| 2), None, "and so is the next one");
    }

    #[test]
    fn only_the_first_claim_of_a_stall_wins() {
        let heartbeat = Heartbeat::new(Instant::now());
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
        let heartbeat = Heartbeat::new(Instant::now());
        heartbeat.publish_round(&times, 0);
        heartbeat.publish_round(&times, ROUND_BUCKETS - 1);
        let published = heartbeat.round_times();
        assert_eq!(published.buckets[0], 2);
        assert_eq!(published.buckets[13], 0, "bucket 13 was not published");
        assert_eq!(published.buckets[ROUND_BUCKETS - 1], 1);
        assert_eq!(published.sum_nanos, times.sum_nanos);
    }
}
