//! Per-worker latency recording: totals for the final report and a
//! per-second interval handed to the coordinator (progress line, interval
//! log).

use std::time::Instant;

use hdrhistogram::Histogram;

use crate::engine::histo::new_histogram;

/// Send times of one message.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// When the schedule wanted it sent (open loop); the send time in the
    /// closed loop.
    pub intended: Instant,
    /// When it was actually sent.
    pub sent: Instant,
    /// Sent in the measured window (after warmup): counted and recorded.
    pub measured: bool,
}

/// Latency histograms (nanoseconds) and message counts.
#[derive(Debug)]
pub struct Recorder {
    /// Warmup is over: messages sent from now on are measured.
    pub measuring: bool,
    /// From intended send time, whole run.
    pub corrected: Histogram<u64>,
    /// From actual send time, whole run.
    pub uncorrected: Histogram<u64>,
    /// From intended send time, current interval.
    pub interval_corrected: Histogram<u64>,
    /// From actual send time, current interval.
    pub interval_uncorrected: Histogram<u64>,
    /// Measured messages completed.
    pub messages: u64,
    /// Open loop: measured messages that fell due but were never sent
    /// because the connection's pipeline stayed full.
    pub unsent: u64,
    /// Measured messages completed in the current interval.
    pub interval_messages: u64,
    /// Latency (from intended send) per connection group; empty when the
    /// run has one group (then `corrected` is that group's).
    pub groups: Vec<Histogram<u64>>,
    /// Open loop: how late each message left against its schedule (ns).
    pub pacing: Histogram<u64>,
    /// Whether the `uncorrected` histograms are kept: in the closed loop a
    /// message is sent when intended, so they would only repeat the
    /// corrected ones (and reports leave them out).
    keeps_uncorrected: bool,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new(1, true)
    }
}

impl Recorder {
    /// Empty, not yet measuring, for `groups` connection groups;
    /// `uncorrected`: also record latency from the actual send (the open
    /// loop, where it differs from the intended one).
    pub fn new(groups: usize, uncorrected: bool) -> Self {
        let per_group = if groups > 1 { groups } else { 0 };
        Self {
            interval_messages: 0,
            groups: (0..per_group).map(|_| new_histogram()).collect(),
            pacing: new_histogram(),
            measuring: false,
            corrected: new_histogram(),
            uncorrected: new_histogram(),
            interval_corrected: new_histogram(),
            interval_uncorrected: new_histogram(),
            messages: 0,
            unsent: 0,
            keeps_uncorrected: uncorrected,
        }
    }

    /// Records one completed message of connection group `group`, if it
    /// was sent after warmup; returns whether it was.
    pub fn record(&mut self, stamp: Stamp, now: Instant, group: usize) -> bool {
        if !stamp.measured {
            return false;
        }
        let corrected = now.saturating_duration_since(stamp.intended).as_nanos() as u64;
        self.corrected.saturating_record(corrected.max(1));
        self.interval_corrected.saturating_record(corrected.max(1));
        if self.keeps_uncorrected {
            let uncorrected = now.saturating_duration_since(stamp.sent).as_nanos() as u64;
            self.uncorrected.saturating_record(uncorrected.max(1));
            self.interval_uncorrected
                .saturating_record(uncorrected.max(1));
        }
        if let Some(h) = self.groups.get_mut(group) {
            h.saturating_record(corrected.max(1));
        }
        self.messages += 1;
        self.interval_messages += 1;
        true
    }

    /// Counts a message as [`Recorder::record`] does, without timing it
    /// (a delivery to a subscriber that is only counted); returns whether
    /// it was in the measured window.
    pub fn count(&mut self, stamp: Stamp) -> bool {
        if !stamp.measured {
            return false;
        }
        self.messages += 1;
        self.interval_messages += 1;
        true
    }

    /// Records how late a message left against its schedule.
    pub fn record_pacing(&mut self, lag: std::time::Duration) {
        if self.measuring {
            self.pacing
                .saturating_record((lag.as_nanos() as u64).max(1));
        }
    }

    /// Records a message that was due at `intended` but never sent before
    /// the window closed at `end`: its wait so far is a lower bound of its
    /// latency and goes into the corrected histograms, so a server that
    /// stalls at the end of a run cannot hide the stall by never being
    /// asked (wrk2 does the same).
    pub fn record_unsent(&mut self, intended: Instant, end: Instant) {
        let waited = end.saturating_duration_since(intended).as_nanos() as u64;
        self.corrected.saturating_record(waited.max(1));
        self.interval_corrected.saturating_record(waited.max(1));
        self.unsent += 1;
    }

    /// Hands out the current interval's histograms and message count and
    /// starts a new one.
    pub fn take_interval(&mut self) -> (Histogram<u64>, Histogram<u64>, u64) {
        (
            std::mem::replace(&mut self.interval_corrected, new_histogram()),
            std::mem::replace(&mut self.interval_uncorrected, new_histogram()),
            std::mem::take(&mut self.interval_messages),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Recorder, Stamp};
    use std::time::{Duration, Instant};

    #[test]
    fn a_counted_message_is_in_the_count_not_the_histograms() {
        let mut rec = Recorder::new(1, true);
        let now = Instant::now();
        let stamp = |measured| Stamp {
            intended: now,
            sent: now,
            measured,
        };
        assert!(rec.count(stamp(true)));
        assert!(!rec.count(stamp(false)), "outside the window");
        assert_eq!((rec.messages, rec.interval_messages), (1, 1));
        assert_eq!(rec.corrected.len() + rec.uncorrected.len(), 0);
    }

    #[test]
    fn unsent_messages_count_in_the_corrected_tail_only() {
        let mut rec = Recorder::new(1, true);
        let end = Instant::now();
        rec.record_unsent(end - Duration::from_millis(300), end);
        assert_eq!(rec.unsent, 1);
        assert_eq!(rec.messages, 0, "not a verified message");
        assert!(rec.corrected.max() >= 299_000_000, "waited about 300 ms");
        assert_eq!(rec.uncorrected.len(), 0, "never sent: no send time");
        assert_eq!(rec.interval_corrected.len(), 1);
    }
}
