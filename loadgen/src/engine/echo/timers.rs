//! Per-connection timers of a worker (lifetime over, connect timeout,
//! reconnect, read credit), in one min-heap. A timer names the connect
//! generation it was set for; one that outlived its socket is ignored.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TimerKind {
    /// The connection's lifetime is over (churn).
    Expire,
    /// Its connect has taken `--connect-timeout`.
    ConnectTimeout,
    /// Time to reconnect after a backoff.
    Retry,
    /// Its read credit is back (`--read-rate`).
    ReadResume,
}

/// One timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Timer {
    /// When it fires (first field: the heap orders by it).
    pub at: Instant,
    /// Index of the connection in its worker.
    pub conn: usize,
    /// Connect generation it was set for.
    pub generation: u32,
    /// What for.
    pub kind: TimerKind,
}

/// Pending timers, earliest first.
#[derive(Debug, Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    /// Adds a timer.
    pub fn push(&mut self, timer: Timer) {
        self.heap.push(Reverse(timer));
    }

    /// Removes and returns the earliest timer due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse(t)) if t.at <= now => self.heap.pop().map(|Reverse(t)| t),
            _ => None,
        }
    }

    /// When the earliest timer fires.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(t)| t.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_time_order() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for (ms, conn) in [(30, 3), (10, 1), (20, 2)] {
            timers.push(Timer {
                at: t0 + Duration::from_millis(ms),
                conn,
                generation: 0,
                kind: TimerKind::Retry,
            });
        }
        assert_eq!(timers.next(), Some(t0 + Duration::from_millis(10)));
        assert!(timers.pop_due(t0).is_none());
        let due: Vec<usize> = std::iter::from_fn(|| timers.pop_due(t0 + Duration::from_millis(25)))
            .map(|t| t.conn)
            .collect();
        assert_eq!(due, vec![1, 2]);
    }
}
