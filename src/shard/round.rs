//! Timing the event loop's rounds: the heartbeat at a round's start, its
//! duration at its end, and a stall when it ran past the threshold.
//!
//! Two clock reads per round (start and end; the start is also the
//! round's `now` for callbacks and timers, the end the poll timeout's
//! reference), one heartbeat store at the start, and at the end the
//! histogram bucket, its sum and the counters published.

use std::time::Instant;

use super::Shard;
use crate::handler::Handler;
use crate::server::heartbeat::{Heartbeat, RoundTimes};

/// The shard's side of its round timing.
pub(super) struct Rounds {
    /// Start of the current round, in nanoseconds after the heartbeat's
    /// time zero.
    start: u64,
    /// The current round's beat word.
    beat: u64,
    /// Durations of the rounds so far.
    times: RoundTimes,
    /// Rounds at least this long (nanoseconds) are stalls; `u64::MAX`
    /// when stall detection is off.
    stall_nanos: u64,
}

impl Rounds {
    /// Timing with stalls from `stall_nanos` on.
    pub(super) fn new(stall_nanos: u64) -> Self {
        Self {
            start: 0,
            beat: 0,
            times: RoundTimes::default(),
            stall_nanos,
        }
    }
}

impl<H: Handler> Shard<H> {
    /// Begins a round: reads the clock (the round's `now`) and beats.
    #[inline]
    pub(super) fn begin_round(&mut self) {
        let now = Instant::now();
        let heartbeat = &self.cx.heartbeat;
        self.rounds.start = heartbeat.nanos(now);
        self.rounds.beat = Heartbeat::beat_of(self.rounds.start, self.stats.rounds + 1);
        heartbeat.begin(self.rounds.beat);
        self.cx.begin_round(now);
    }

    /// Ends a round: counts it and its duration, reports a stall if it ran
    /// long, and publishes the counters. Returns when it ended.
    #[inline]
    pub(super) fn end_round(&mut self) -> Instant {
        let now = Instant::now();
        let heartbeat = &self.cx.heartbeat;
        let took = heartbeat.nanos(now).saturating_sub(self.rounds.start);
        self.stats.rounds += 1;
        let bucket = self.rounds.times.observe(took);
        heartbeat.publish_round(&self.rounds.times, bucket);
        if took >= self.rounds.stall_nanos {
            self.stalled(took, now);
        }
        self.publish();
        now
    }

    /// Stores the counters for other threads to read.
    pub(super) fn publish(&self) {
        if let Some(published) = self.cx.handle.published(usize::from(self.index)) {
            published.publish(&self.stats);
        }
    }

    /// A round took `took` nanoseconds, past the stall threshold: count it,
    /// and log it, as a warning unless the watchdog already warned while it
    /// ran (then the line says it is over).
    #[cold]
    #[inline(never)]
    fn stalled(&mut self, took: u64, now: Instant) {
        self.stats.stalls += 1;
        let heartbeat = &self.cx.heartbeat;
        let doing = heartbeat.activity().name();
        let warned_while_running = !heartbeat.claim_stall(self.rounds.beat);
        let Some(suppressed) = self.warnings.stall.allow(now) else {
            return;
        };
        let took_ms = millis(took);
        let shard = self.index;
        if warned_while_running {
            tracing::info!(
                shard,
                took_ms,
                doing,
                "stall over: shard {shard}'s loop round took {took_ms} ms in all"
            );
        } else {
            let threshold_ms = millis(self.rounds.stall_nanos);
            tracing::warn!(
                shard,
                took_ms,
                threshold_ms,
                doing,
                suppressed,
                "shard {shard} stalled: a loop round took {took_ms} ms (stall threshold \
                 {threshold_ms} ms), last in {doing}; a handler callback blocked or did \
                 too much at once"
            );
        }
    }
}

/// Nanoseconds as milliseconds, to the microsecond.
pub(crate) fn millis(nanos: u64) -> f64 {
    (nanos / 1_000) as f64 / 1e3
}
