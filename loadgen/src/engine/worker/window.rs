//! The clock of a worker's load phase: warmup from the start, then the
//! measured window, cut into the per-second samples the coordinator
//! merges, up to the end.

use std::time::{Duration, Instant};

use super::{INTERVAL, MAX_WAIT};
use crate::front::config::RunConfig;

/// Where the load phase of one worker stands.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// End of the warmup: measuring starts.
    pub warm_end: Instant,
    /// End of the measured window: sending stops.
    pub end: Instant,
    /// When the next per-second sample is due.
    next_tick: Instant,
    /// Its index.
    tick: u64,
}

impl Window {
    /// The window of a load phase that starts at `start`.
    pub fn new(start: Instant, cfg: &RunConfig) -> Self {
        let warm_end = start + cfg.warmup;
        Self {
            warm_end,
            end: warm_end + cfg.duration,
            next_tick: warm_end + INTERVAL,
            tick: 0,
        }
    }

    /// Whether sending is over at `now`.
    pub fn over(&self, now: Instant) -> bool {
        now >= self.end
    }

    /// The index of the per-second sample due at `now` (taken: the next
    /// one is a second later); none before it, or while not `measuring`.
    pub fn sample_due(&mut self, now: Instant, measuring: bool) -> Option<u64> {
        if !measuring || now < self.next_tick {
            return None;
        }
        let index = self.tick;
        self.tick += 1;
        self.next_tick += INTERVAL;
        Some(index)
    }

    /// How long the loop may wait at `now`: at most [`MAX_WAIT`], and not
    /// past the end, the end of the warmup, or (`measuring`) the next
    /// sample.
    pub fn wait(&self, now: Instant, measuring: bool) -> Duration {
        let next = if measuring {
            self.next_tick
        } else {
            self.warm_end
        };
        MAX_WAIT
            .min(self.end.saturating_duration_since(now))
            .min(next.saturating_duration_since(now))
    }

    /// The last, partial sample, ending at `window_end`: its index and
    /// length.
    pub fn last(&self, window_end: Instant) -> (u64, Duration) {
        let from = self
            .next_tick
            .checked_sub(INTERVAL)
            .unwrap_or(self.warm_end);
        (self.tick, window_end.saturating_duration_since(from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(warmup_ms: u64, duration_ms: u64) -> (Instant, Window) {
        let start = Instant::now();
        let w = Window {
            warm_end: start + Duration::from_millis(warmup_ms),
            end: start + Duration::from_millis(warmup_ms + duration_ms),
            next_tick: start + Duration::from_millis(warmup_ms) + INTERVAL,
            tick: 0,
        };
        (start, w)
    }

    #[test]
    fn samples_fall_each_second_of_the_measured_window() {
        let (start, mut w) = window(500, 2500);
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(w.wait(at(100), false), MAX_WAIT);
        assert_eq!(
            w.wait(at(480), false),
            Duration::from_millis(20),
            "to the end of warmup"
        );
        assert_eq!(w.sample_due(at(1600), false), None, "not measuring");
        assert_eq!(w.sample_due(at(1400), true), None);
        assert_eq!(
            w.wait(at(1490), true),
            Duration::from_millis(10),
            "to the sample"
        );
        assert_eq!(w.sample_due(at(1500), true), Some(0));
        assert_eq!(w.sample_due(at(1500), true), None, "once");
        assert_eq!(w.sample_due(at(2600), true), Some(1));
        assert!(!w.over(at(2999)) && w.over(at(3000)));
        assert_eq!(
            w.wait(at(2990), true),
            Duration::from_millis(10),
            "to the end"
        );
        assert_eq!(w.last(at(3000)), (2, Duration::from_millis(500)));
    }
}
