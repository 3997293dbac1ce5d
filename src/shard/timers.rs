//! The few deadlines a shard keeps, and the poll timeout they imply.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Shard;
use crate::handler::{CloseReason, Handler};
use crate::slots::Key;

/// A shard's deadlines. Drain deadlines are all "now + drain timeout", so
/// they arrive in order and a FIFO queue is a complete timer wheel for them.
#[derive(Default)]
pub(super) struct Timers {
    /// Graceful closes waiting for output to flush, oldest first.
    drains: VecDeque<(Instant, Key)>,
    /// Accepting is paused until then (descriptor exhaustion).
    accept_resume: Option<Instant>,
    /// Shutdown began; every client is closed by then.
    shutdown: Option<Instant>,
    /// Next look at lingering clients' unacknowledged output.
    linger_check: Option<Instant>,
    /// The earliest of all the above, kept so a loop round costs one
    /// comparison instead of a scan.
    next: Option<Instant>,
}

impl Timers {
    /// Closes `key` by `deadline` if its output has not flushed.
    pub(super) fn drain_by(&mut self, deadline: Instant, key: Key) {
        self.drains.push_back((deadline, key));
        self.wake_by(deadline);
    }

    /// Pauses accepting until `until`.
    pub(super) fn pause_accept(&mut self, until: Instant) {
        self.accept_resume = Some(until);
        self.wake_by(until);
    }

    /// Whether accepting is paused at `now`.
    pub(super) fn accept_paused(&self, now: Instant) -> bool {
        self.accept_resume.is_some_and(|until| now < until)
    }

    /// Looks at lingering clients again at `at` (unless sooner is set).
    pub(super) fn check_linger_at(&mut self, at: Instant) {
        if self.linger_check.is_none_or(|current| at < current) {
            self.linger_check = Some(at);
            self.wake_by(at);
        }
    }

    /// Records that shutdown began, to finish by `deadline`.
    pub(super) fn shut_down_by(&mut self, deadline: Instant) {
        self.shutdown = Some(deadline);
        self.wake_by(deadline);
    }

    /// Makes sure the loop wakes by `at`.
    fn wake_by(&mut self, at: Instant) {
        if self.next.is_none_or(|next| at < next) {
            self.next = Some(at);
        }
    }

    /// Recomputes the earliest deadline after some have fired.
    fn recompute_next(&mut self) {
        self.next = [
            self.drains.front().map(|&(at, _)| at),
            self.accept_resume,
            self.shutdown,
            self.linger_check,
        ]
        .into_iter()
        .flatten()
        .min();
    }

    /// Whether a deadline has passed at `now`.
    fn due(&self, now: Instant) -> bool {
        self.next.is_some_and(|next| next <= now)
    }

    /// Whether shutdown began.
    pub(super) fn shutting_down(&self) -> bool {
        self.shutdown.is_some()
    }

    /// Whether no deadline is set: then the clock need not be read.
    pub(super) fn is_empty(&self) -> bool {
        self.next.is_none()
    }

    /// How long the poll may sleep: until the next deadline, or forever.
    pub(super) fn timeout(&self, now: Instant) -> Option<Duration> {
        self.next.map(|at| at.saturating_duration_since(now))
    }
}

impl<H: Handler> Shard<H> {
    /// Acts on every deadline that has passed.
    pub(super) fn fire_timers(&mut self) {
        if self.timers.is_empty() {
            return; // the usual case: no clock read per round
        }
        let now = Instant::now();
        if !self.timers.due(now) {
            return;
        }
        while let Some(&(at, key)) = self.timers.drains.front() {
            if at > now {
                break;
            }
            self.timers.drains.pop_front();
            let reason = self.conns.get_mut(key).and_then(|conn| conn.closing);
            if let Some(reason) = reason {
                self.close_now(key, reason);
            }
        }
        if self.timers.accept_resume.is_some_and(|until| until <= now) {
            self.timers.accept_resume = None;
            self.accept();
        }
        if self.timers.linger_check.is_some_and(|at| at <= now) {
            self.timers.linger_check = None;
            self.check_lingering();
        }
        if self.timers.shutdown.is_some_and(|at| at <= now) {
            self.close_all(CloseReason::Shutdown);
        }
        self.timers.recompute_next();
    }
}

#[cfg(test)]
mod tests {
    use super::Timers;
    use crate::slots::Key;
    use std::time::{Duration, Instant};

    #[test]
    fn timeout_is_the_earliest_deadline() {
        let now = Instant::now();
        let mut timers = Timers::default();
        assert_eq!(
            timers.timeout(now),
            None,
            "no deadline: sleep until an event"
        );
        let key = Key {
            index: 0,
            generation: 0,
        };
        timers.drain_by(now + Duration::from_secs(5), key);
        timers.pause_accept(now + Duration::from_millis(100));
        assert_eq!(timers.timeout(now), Some(Duration::from_millis(100)));
        assert!(timers.accept_paused(now));
        assert!(!timers.accept_paused(now + Duration::from_millis(100)));
        timers.shut_down_by(now);
        assert_eq!(
            timers.timeout(now + Duration::from_secs(1)),
            Some(Duration::ZERO)
        );
    }
}
