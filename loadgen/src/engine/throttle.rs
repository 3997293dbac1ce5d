//! A token bucket for slow readers (`--read-rate`): a connection may read
//! `rate` bytes per second, with a burst of at most `BURST` worth of
//! credit so an idle spell does not let it read faster later.

use std::time::{Duration, Instant};

/// Credit a reader may save up, in seconds of its rate.
const BURST: f64 = 0.05;
/// Shortest wait before reading again, so a very slow reader does not
/// wake its worker for a byte at a time.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// Read credit of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    /// Bytes per second.
    rate: f64,
    /// Most credit held (bytes).
    cap: f64,
    /// Credit now (bytes).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl Throttle {
    /// A reader of `rate` bytes per second, reading messages of `size`
    /// bytes, starting with no credit at `now`.
    pub fn new(rate: u64, size: usize, now: Instant) -> Self {
        let rate = rate as f64;
        Self {
            rate,
            cap: (rate * BURST).max(size as f64).max(1.0),
            tokens: 0.0,
            at: now,
        }
    }

    /// Bytes that may be read now.
    pub fn allowance(&mut self, now: Instant) -> usize {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.cap);
        self.at = now;
        self.tokens.floor() as usize
    }

    /// Takes `n` bytes of credit.
    pub fn spend(&mut self, n: usize) {
        self.tokens -= n as f64;
    }

    /// When `want` bytes of credit will be there (at least `MIN_WAIT`).
    pub fn ready_at(&self, want: usize, now: Instant) -> Instant {
        let missing = (want as f64).min(self.cap) - self.tokens;
        let wait = Duration::from_secs_f64((missing / self.rate).max(0.0));
        now + wait.max(MIN_WAIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_follows_the_rate_and_is_capped() {
        let t0 = Instant::now();
        let mut t = Throttle::new(1000, 10, t0);
        assert_eq!(t.allowance(t0), 0);
        assert_eq!(t.allowance(t0 + Duration::from_millis(20)), 20);
        t.spend(20);
        // Capped at 50 ms worth (50 bytes) however long it waits.
        assert_eq!(t.allowance(t0 + Duration::from_secs(10)), 50);
        t.spend(50);
        let at = t.ready_at(10, t0 + Duration::from_secs(10));
        assert_eq!(
            at - (t0 + Duration::from_secs(10)),
            Duration::from_millis(10)
        );
    }
}
