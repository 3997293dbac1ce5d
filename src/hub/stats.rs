//! Per-shard counters: plain integers on the shard, exported for readers.

use std::iter::Sum;
use std::ops::Add;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam::utils::CachePadded;

use crate::hub::close_reason::CloseReason;
use crate::hub::events::Events;

/// Declares `ShardStats` and its exported copy from one list of fields,
/// so a new counter is one line.
macro_rules! counters {
    ($($(#[$doc:meta])* $field:ident),+ $(,)?) => {
        /// A snapshot of one shard's counters (or, summed, of the whole
        /// server).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct ShardStats {
            $($(#[$doc])* pub $field: u64,)+
        }

        impl Add for ShardStats {
            type Output = Self;

            fn add(self, other: Self) -> Self {
                Self { $($field: self.$field + other.$field,)+ }
            }
        }

        /// Number of counters.
        const COUNTERS: usize = [$(stringify!($field)),+].len();

        impl ExportedStats {
            /// Stores a new snapshot (shard thread only).
            pub(crate) fn export(&self, stats: &ShardStats) {
                let values = [$(stats.$field),+];
                for (cell, value) in self.0.iter().zip(values) {
                    cell.store(value, Ordering::Relaxed);
                }
            }

            /// Reads the latest snapshot (any thread).
            pub(crate) fn snapshot(&self) -> ShardStats {
                let [$($field),+] = self.0.each_ref().map(|cell| cell.load(Ordering::Relaxed));
                ShardStats { $($field),+ }
            }
        }
    };
}

counters! {
    /// Clients accepted and set up (including those the handler then
    /// refused); with the PROXY protocol on, once their header is complete.
    accepted,
    /// Clients refused: by the handler in `on_connect`, at a limit
    /// (counted in `over_limit` too), because they could not be set up,
    /// or, with the PROXY protocol on, before the handler saw them
    /// (counted in `proxy_untrusted`, `proxy_invalid` or `proxy_timeouts`
    /// too), or because their TLS handshake failed (counted in
    /// `tls_failed` too).
    refused,
    /// Clients the handler refused in `on_connect` (counted in `refused`
    /// too).
    handler_refused,
    /// Clients refused because `max_connections` or the open-file limit
    /// was reached: accepted and closed at once.
    over_limit,
    /// Clients open now.
    open,
    /// Clients closed (refused ones not included), for any reason; the
    /// `*_closed` counters below split them by [`CloseReason`](crate::CloseReason).
    closed,
    /// Closed because the client ended its side ([`CloseReason::PeerClosed`](crate::CloseReason::PeerClosed)).
    peer_closed,
    /// Closed by a reset or broken pipe ([`CloseReason::Reset`](crate::CloseReason::Reset)).
    reset_closed,
    /// Closed by the handler ([`CloseReason::Handler`](crate::CloseReason::Handler)).
    handler_closed,
    /// Closed through a `ServerHandle` ([`CloseReason::Server`](crate::CloseReason::Server)).
    server_closed,
    /// Closed for queued output over `output_limit` ([`CloseReason::OutputOverflow`](crate::CloseReason::OutputOverflow)).
    output_overflow_closed,
    /// Closed for unconsumed input over `input_limit` ([`CloseReason::InputOverflow`](crate::CloseReason::InputOverflow)).
    input_overflow_closed,
    /// Clients closed by the idle timeout ([`CloseReason::IdleTimeout`](crate::CloseReason::IdleTimeout)).
    idle_closed,
    /// Closed by the server's shutdown ([`CloseReason::Shutdown`](crate::CloseReason::Shutdown)).
    shutdown_closed,
    /// Closed for any other socket error ([`CloseReason::Error`](crate::CloseReason::Error)).
    error_closed,
    /// Graceful closes that ended with output still on its way (queued,
    /// or unacknowledged in the kernel): the close deadline passed, or the
    /// client left without taking it (counted in `closed` too).
    cut_off,
    /// Times accepting paused because the process or system was out of
    /// descriptors or memory.
    accept_pauses,
    /// Bytes read from clients.
    bytes_in,
    /// Bytes written to clients.
    bytes_out,
    /// Messages published by this shard's handler (each counted once,
    /// however many subscribers it reaches).
    published,
    /// Fan-out deliveries queued to this shard's clients, one per client
    /// per message: a topic's subscribers, and every client of a
    /// `send_to_all` or `broadcast`.
    delivered,
    /// Deliveries skipped because the subscriber was slow, under
    /// [`SlowSubscribers::Drop`](crate::SlowSubscribers::Drop).
    dropped_slow,
    /// Times a client of this shard was paced: a publish of its found
    /// another shard past its fan-out credit
    /// ([`Config::fanout_credit`](crate::Config::fanout_credit)), and its
    /// input was read no further until that shard caught up.
    paced,
    /// Messages published here that never reached another shard: its
    /// inbox stayed full until this shard's backlog for it overflowed.
    lost_fanout,
    /// Write system calls that sent queued output: one `writev` each,
    /// however many messages it held (replies written at once, while
    /// nothing is queued, are not counted).
    output_writes,
    /// Rounds whose flush of held deliveries reached its budget (1,024
    /// clients) and left the rest for the next round.
    flushes_carried_over,
    /// Publishes sent to this shard and not yet delivered and written by
    /// it now, against [`Config::fanout_credit`](crate::Config::fanout_credit)
    /// (read from the shared credit when the counters are read).
    fanout_in_flight,
    /// Bytes queued for clients now: output the kernel did not take yet.
    queued_out,
    /// Clients whose reading is paused now because their queued output
    /// passed `output_high_water` (backpressure).
    paused,
    /// Event-loop rounds completed.
    rounds,
    /// Rounds that ran longer than `stall_threshold` (see
    /// [`Config::stall_threshold`](crate::Config::stall_threshold)).
    stalls,
    /// PROXY protocol: connections handed to the handler after a valid
    /// header (`LOCAL` ones included).
    proxy_headers,
    /// PROXY protocol: of those, `LOCAL` headers (the proxy's own
    /// connections, such as health checks).
    proxy_local,
    /// PROXY protocol: connections refused at once because their peer is
    /// not in `proxy_trusted`.
    proxy_untrusted,
    /// PROXY protocol: connections closed for an invalid header or a
    /// wrong signature.
    proxy_invalid,
    /// PROXY protocol: connections closed because no complete header
    /// arrived within `proxy_timeout`.
    proxy_timeouts,
    /// TLS: full handshakes finished (the client then went to
    /// `on_connect`).
    tls_full,
    /// TLS: resumed handshakes finished (from a session ticket).
    tls_resumed,
    /// TLS: handshakes that failed, for any reason below.
    tls_failed,
    /// TLS: of those, the client did not speak TLS (a plaintext client on
    /// a TLS port).
    tls_failed_not_tls,
    /// TLS: of those, the client broke the protocol (or offered nothing
    /// the server accepts), and was sent an alert.
    tls_failed_protocol,
    /// TLS: of those, the client's certificate was missing, unknown or
    /// invalid.
    tls_failed_certificate,
    /// TLS: of those, the client went away before finishing.
    tls_failed_closed,
    /// TLS: of those, the client did not finish within the handshake
    /// timeout.
    tls_failed_timeout,
    /// TLS: handshakes finished with TLS 1.3.
    tls_v13,
    /// TLS: handshakes finished with TLS 1.2.
    tls_v12,
    /// TLS: handshakes finished with an AES-128-GCM suite.
    tls_aes128_gcm,
    /// TLS: handshakes finished with an AES-256-GCM suite.
    tls_aes256_gcm,
    /// TLS: handshakes finished with a ChaCha20-Poly1305 suite.
    tls_chacha20,
    /// TLS: nanoseconds from accepting to the end of the handshake,
    /// summed over finished handshakes.
    tls_handshake_nanos,
    /// TLS: nanoseconds of shard time spent running handshakes (their
    /// CPU cost), finished or not.
    tls_handshake_busy_nanos,
    /// TLS: finished handshakes that took under 1 ms.
    tls_handshake_under_1ms,
    /// TLS: under 10 ms.
    tls_handshake_under_10ms,
    /// TLS: under 100 ms.
    tls_handshake_under_100ms,
    /// TLS: under 1 s.
    tls_handshake_under_1s,
    /// TLS: handshake steps left for the next round by the handshake
    /// budget.
    tls_deferred,
    /// Pub/sub: credentials refused as malformed (see
    /// [`Event`](crate::Event) for these).
    auth_malformed,
    /// Pub/sub: credentials refused as too long.
    auth_too_long,
    /// Pub/sub: credentials refused for a bad signature.
    auth_bad_signature,
    /// Pub/sub: credentials refused for their algorithm.
    auth_algorithm,
    /// Pub/sub: credentials refused as expired.
    auth_expired,
    /// Pub/sub: credentials refused as not valid yet.
    auth_not_yet_valid,
    /// Pub/sub: credentials refused for their claims.
    auth_claims,
    /// Pub/sub: credentials refused for another reason.
    auth_other,
    /// Pub/sub: clients closed for not authenticating in time.
    auth_timeouts,
    /// Pub/sub: clients closed because their grant ended.
    grants_lapsed,
    /// Pub/sub: subscribes and publishes outside a client's permissions.
    not_allowed,
    /// Pub/sub: publishes refused for the client's rate.
    rate_limited,
    /// Pub/sub: clients closed for flooding past their rate.
    flood_closed,
    /// Pub/sub: publishes sent to subscribers recovering what they missed.
    recovered,
    /// Pub/sub: recoveries refused (another epoch, or too old).
    recovery_failed,
    /// Pub/sub: positioned deliveries not sent in order (their publish
    /// was out of the history when a later one arrived first).
    unfilled,
}

impl ShardStats {
    /// These counters with the protocol's `events` in their fields.
    pub(crate) fn with_events(mut self, events: &Events) -> Self {
        let [auth_malformed, auth_too_long, auth_bad_signature, auth_algorithm, auth_expired, auth_not_yet_valid, auth_claims, auth_other, auth_timeouts, grants_lapsed, not_allowed, rate_limited, flood_closed, recovered, recovery_failed, unfilled] =
            events.0;
        self.auth_malformed = auth_malformed;
        self.auth_too_long = auth_too_long;
        self.auth_bad_signature = auth_bad_signature;
        self.auth_algorithm = auth_algorithm;
        self.auth_expired = auth_expired;
        self.auth_not_yet_valid = auth_not_yet_valid;
        self.auth_claims = auth_claims;
        self.auth_other = auth_other;
        self.auth_timeouts = auth_timeouts;
        self.grants_lapsed = grants_lapsed;
        self.not_allowed = not_allowed;
        self.rate_limited = rate_limited;
        self.flood_closed = flood_closed;
        self.recovered = recovered;
        self.recovery_failed = recovery_failed;
        self.unfilled = unfilled;
        self
    }
}

impl ShardStats {
    /// Counts a closed client under its reason.
    pub(crate) fn count_close(&mut self, reason: CloseReason) {
        self.closed += 1;
        let counter = match reason {
            CloseReason::PeerClosed => &mut self.peer_closed,
            CloseReason::Reset => &mut self.reset_closed,
            CloseReason::Handler => &mut self.handler_closed,
            CloseReason::Server => &mut self.server_closed,
            CloseReason::OutputOverflow => &mut self.output_overflow_closed,
            CloseReason::InputOverflow => &mut self.input_overflow_closed,
            CloseReason::IdleTimeout => &mut self.idle_closed,
            CloseReason::Shutdown => &mut self.shutdown_closed,
            CloseReason::Error(_) => &mut self.error_closed,
        };
        *counter += 1;
    }
}

impl Sum for ShardStats {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), Add::add)
    }
}

/// The exported copy of a shard's counters.
///
/// The shard counts in a plain [`ShardStats`] on its own thread and stores
/// the values here at the end of a loop round, at most once per 10 ms (a
/// shard that goes idle with counters unexported wakes once to export
/// them): relaxed stores only, no read-modify-write and no sharing of a
/// cache line with other shards, so keeping the counters on costs nothing
/// measurable.
pub(crate) struct ExportedStats(CachePadded<[AtomicU64; COUNTERS]>);

impl Default for ExportedStats {
    // Arrays derive `Default` only up to 32 elements.
    fn default() -> Self {
        Self(CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
    }
}

#[cfg(test)]
mod tests {
    use super::{ExportedStats, ShardStats};

    #[test]
    fn export_then_snapshot_and_sum() {
        let exported = ExportedStats::default();
        let stats = ShardStats {
            accepted: 1,
            refused: 2,
            open: 3,
            closed: 4,
            bytes_in: 5,
            bytes_out: 6,
            over_limit: 7,
            idle_closed: 8,
            accept_pauses: 9,
            cut_off: 10,
            published: 11,
            delivered: 12,
            dropped_slow: 13,
            lost_fanout: 14,
            stalls: 15,
            proxy_headers: 16,
            proxy_local: 17,
            proxy_untrusted: 18,
            proxy_invalid: 19,
            proxy_timeouts: 20,
            ..ShardStats::default()
        };
        exported.export(&stats);
        assert_eq!(exported.snapshot(), stats);
        let total: ShardStats = [stats, stats].into_iter().sum();
        assert_eq!(total.bytes_out, 12);
        assert_eq!(total.accept_pauses, 18);
        assert_eq!(total.stalls, 30);
    }

    #[test]
    fn closes_are_counted_by_reason() {
        let mut stats = ShardStats::default();
        stats.count_close(super::CloseReason::IdleTimeout);
        stats.count_close(super::CloseReason::Error(std::io::ErrorKind::Other));
        assert_eq!(
            (stats.closed, stats.idle_closed, stats.error_closed),
            (2, 1, 1)
        );
    }
}
