//! Connections coming and going during the load: churn (lifetimes) and
//! reconnects after failures. Counted per worker, merged at the end.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::engine::errors::Errors;
use crate::engine::histo::{self, new_histogram};

/// First wait before a reconnect; doubles per failed attempt.
pub const BACKOFF_START: Duration = Duration::from_millis(10);
/// Longest wait between reconnect attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The backoff after `previous` (zero: the first attempt).
pub fn next_backoff(previous: Duration) -> Duration {
    if previous.is_zero() {
        BACKOFF_START
    } else {
        (previous * 2).min(BACKOFF_MAX)
    }
}

/// What happened to connections after the connect phase.
#[derive(Debug)]
pub struct Lifecycle {
    /// Connects completed in the measured window (churn and reconnects).
    pub connects: u64,
    /// Connections closed by loadgen because their lifetime was over, in
    /// the measured window.
    pub closes: u64,
    /// Time of each connect of the measured window (ns).
    pub connect_time: Histogram<u64>,
    /// Connects that failed after the connect phase, by cause.
    pub failed: Errors,
    /// Connections the server closed or reset (or that failed) during the
    /// load, with `--reconnect`.
    pub disconnects: u64,
    /// Connections brought back after being down.
    pub reconnects: u64,
    /// Sum over connections of the time they were down.
    pub downtime: Duration,
    /// Longest time one connection was down.
    pub longest_outage: Duration,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            connects: 0,
            closes: 0,
            connect_time: new_histogram(),
            failed: Errors::default(),
            disconnects: 0,
            reconnects: 0,
            downtime: Duration::ZERO,
            longest_outage: Duration::ZERO,
        }
    }
}

impl Lifecycle {
    /// Counts a connection back up after being down for `outage`.
    pub fn back_up(&mut self, outage: Duration) {
        self.reconnects += 1;
        self.downtime += outage;
        self.longest_outage = self.longest_outage.max(outage);
    }

    /// Counts a connection still down when the run ended, after `outage`.
    pub fn still_down(&mut self, outage: Duration) {
        self.downtime += outage;
        self.longest_outage = self.longest_outage.max(outage);
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Lifecycle) {
        self.connects += other.connects;
        self.closes += other.closes;
        histo::add(&mut self.connect_time, &other.connect_time);
        self.failed.merge(&other.failed);
        self.disconnects += other.disconnects;
        self.reconnects += other.reconnects;
        self.downtime += other.downtime;
        self.longest_outage = self.longest_outage.max(other.longest_outage);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        let mut b = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..10 {
            b = next_backoff(b);
            seen.push(b);
        }
        assert_eq!(seen[0], BACKOFF_START);
        assert_eq!(seen[1], BACKOFF_START * 2);
        assert_eq!(*seen.last().unwrap(), BACKOFF_MAX);
    }

    #[test]
    fn outages_add_up() {
        let mut l = Lifecycle::default();
        l.back_up(Duration::from_millis(300));
        let mut m = Lifecycle::default();
        m.back_up(Duration::from_millis(500));
        l.merge(&m);
        assert_eq!(l.reconnects, 2);
        assert_eq!(l.downtime, Duration::from_millis(800));
        assert_eq!(l.longest_outage, Duration::from_millis(500));
    }
}
