//! Rate-limited warnings: a flood of bad clients must not become a flood
//! of log lines.

use std::time::{Duration, Instant};

/// At most one line per kind of warning per this interval.
const INTERVAL: Duration = Duration::from_secs(1);

/// One kind of warning's limiter.
#[derive(Default)]
pub(crate) struct RateLimit {
    /// When the last line was let through.
    last: Option<Instant>,
    /// Lines held back since then.
    suppressed: u64,
}

impl RateLimit {
    /// Whether a line may be logged at `now`; if so, how many were held
    /// back since the last one (to say in it).
    pub(crate) fn allow(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < INTERVAL)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// The shard's warnings, each limited on its own.
#[derive(Default)]
pub(crate) struct Warnings {
    /// Clients refused at a limit.
    pub(crate) refused: RateLimit,
    /// Accepting paused for lack of descriptors or memory.
    pub(crate) out_of_resources: RateLimit,
    /// Clients closed for an overflow or a socket error.
    pub(crate) client_failed: RateLimit,
    /// Loop rounds that ran past the stall threshold.
    pub(crate) stall: RateLimit,
    /// Publishes lost because another shard's inbox stayed full.
    pub(crate) fanout_lost: RateLimit,
    /// PROXY protocol: peers refused as untrusted.
    pub(crate) proxy_untrusted: RateLimit,
    /// PROXY protocol: invalid headers.
    pub(crate) proxy_invalid: RateLimit,
    /// PROXY protocol: headers that did not arrive in time.
    pub(crate) proxy_timeout: RateLimit,
    /// TLS handshakes that failed.
    pub(crate) tls_failed: RateLimit,
}

#[cfg(test)]
mod tests {
    use super::{RateLimit, INTERVAL};
    use std::time::Instant;

    #[test]
    fn one_line_per_interval_with_the_count_held_back() {
        let start = Instant::now();
        let mut limit = RateLimit::default();
        assert_eq!(limit.allow(start), Some(0));
        assert_eq!(limit.allow(start), None);
        assert_eq!(limit.allow(start + INTERVAL / 2), None);
        assert_eq!(limit.allow(start + INTERVAL), Some(2));
    }
}
