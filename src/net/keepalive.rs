//! TCP keepalive settings, set on the listening sockets.

use std::time::Duration;

/// TCP keepalive: the kernel probes a client after `idle` without traffic,
/// every `interval`, and drops it after `count` unanswered probes, so a
/// peer that vanished (power loss, NAT timeout) is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the first probe (`TCP_KEEPIDLE`).
    pub idle: Duration,
    /// Time between probes (`TCP_KEEPINTVL`).
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped (`TCP_KEEPCNT`).
    pub count: u32,
}

impl Keepalive {
    /// Probes after `idle`, then every 10 s, giving up after 6: a dead
    /// peer is found about `idle` + 1 minute after it went silent.
    pub fn after(idle: Duration) -> Self {
        Self {
            idle,
            interval: Duration::from_secs(10),
            count: 6,
        }
    }
}
