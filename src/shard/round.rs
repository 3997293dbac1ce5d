//! Timing the event loop's rounds: the heartbeat at a round's start and
//! end, its duration, a stall when it ran past the threshold, and
//! exporting the counters.
//!
//! Per round: two reads of the monotonic clock, two heartbeat stores and
//! an activity byte, a histogram bucket counted locally. The counters and
//! durations are exported at most once per [`EXPORT_EVERY`] (and when
//! the shard ends): under load that is a few stores per thousand rounds
//! instead of thirty per round.

use std::time::Duration;

use super::Shard;
use crate::handler::context::ShardContext;
use crate::handler::Handler;
use crate::hub::heartbeat::millis;
use crate::hub::heartbeat::{monotonic_nanos, Heartbeat, RoundTimes};

/// Longest time the exported counters may lag behind the shard's. A
/// shard that goes idle with counters unexported wakes up once after
/// this long to export them.
pub(super) const EXPORT_EVERY: Duration = Duration::from_millis(10);

/// [`EXPORT_EVERY`] in nanoseconds.
const EXPORT_EVERY_NANOS: u64 = EXPORT_EVERY.as_nanos() as u64;

/// The shard's side of its round timing.
pub(super) struct Rounds {
    /// Start of the current round (monotonic nanoseconds).
    start: u64,
    /// The current round's beat word.
    beat: u64,
    /// Durations of the rounds so far.
    times: RoundTimes,
    /// Rounds at least this long (nanoseconds) are stalls; `u64::MAX`
    /// when stall detection is off.
    stall_nanos: u64,
    /// When the counters were last exported (monotonic nanoseconds).
    exported_at: u64,
    /// Something was counted since the last export.
    pub(super) unexported: bool,
}

impl Rounds {
    /// Timing with stalls from `stall_nanos` on.
    pub(super) fn new(stall_nanos: u64) -> Self {
        Self {
            start: 0,
            beat: 0,
            times: RoundTimes::default(),
            stall_nanos,
            exported_at: 0,
            unexported: false,
        }
    }
}

impl<H: Handler> Shard<H> {
    /// Begins a round: reads the clock and beats.
    #[inline]
    pub(super) fn begin_round(&mut self) {
        self.rounds.start = monotonic_nanos();
        self.rounds.beat = Heartbeat::beat_of(self.rounds.start);
        self.cx.heartbeat.begin(self.rounds.beat);
    }

    /// The handler's end of a round: [`Handler::on_round_end`], then what
    /// it asked for (sends, closes, publishes), so nothing it asked waits
    /// for the next wakeup. The last callback of a round unless those
    /// requests cause others (an `on_close`). Each step is one check when
    /// the hook asked nothing.
    #[inline]
    pub(super) fn end_handler_round(&mut self) {
        self.handler
            .on_round_end(&mut ShardContext::new(&mut self.cx));
        self.apply_deferred();
        // What the hook published, within a flush budget of its own (the
        // rest is carried over like any flush's).
        if !self.held.is_empty() {
            self.flush_held(super::fanout::FLUSH_BUDGET);
        }
        self.send_outbound();
    }

    /// Ends a round: counts it and its duration, reports a stall if it ran
    /// long, and exports the counters if they are due.
    #[inline]
    pub(super) fn end_round(&mut self) {
        let end = monotonic_nanos();
        self.cx.heartbeat.end(self.rounds.beat);
        let took = end.saturating_sub(self.rounds.start);
        self.stats.rounds += 1;
        self.rounds.times.observe(took);
        if took >= self.rounds.stall_nanos {
            self.stalled(took);
        }
        if end.wrapping_sub(self.rounds.exported_at) >= EXPORT_EVERY_NANOS {
            self.rounds.exported_at = end;
            self.export();
        } else {
            self.rounds.unexported = true;
        }
    }

    /// Stores the counters and round durations for other threads to read.
    pub(super) fn export(&mut self) {
        self.rounds.unexported = false;
        if let Some(exported) = self.cx.handle.hub().exported(usize::from(self.index)) {
            exported.export(&self.stats.with_events(&self.cx.events));
        }
        self.cx.heartbeat.export_rounds(&self.rounds.times);
    }

    /// A round took `took` nanoseconds, past the stall threshold: count it,
    /// and log it, as a warning unless the watchdog already warned while it
    /// ran (then the line says it is over).
    #[cold]
    #[inline(never)]
    fn stalled(&mut self, took: u64) {
        self.stats.stalls += 1;
        let heartbeat = &self.cx.heartbeat;
        let doing = heartbeat.activity().name();
        let warned_while_running = !heartbeat.claim_stall(self.rounds.beat);
        let Some(suppressed) = self.warnings.stall.allow(self.cx.now()) else {
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
                 too much at once, the round had very many clients to serve, or the thread \
                 was kept off its core (more busy threads than cores)"
            );
        }
    }
}
