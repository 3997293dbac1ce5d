//! Per-shard counters: plain integers on the shard, published for readers.

use std::iter::Sum;
use std::ops::Add;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam::utils::CachePadded;

/// Declares `ShardStats` and its published copy from one list of fields,
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

        impl PublishedStats {
            /// Stores a new snapshot (shard thread only).
            pub(crate) fn publish(&self, stats: &ShardStats) {
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
    /// (counted in `over_limit` too), or, with the PROXY protocol on,
    /// before the handler saw them (counted in `proxy_untrusted`,
    /// `proxy_invalid` or `proxy_timeouts` too).
    refused,
    /// Clients refused because `max_connections` or the open-file limit
    /// was reached: accepted and closed at once.
    over_limit,
    /// Clients open now.
    open,
    /// Clients closed (refused ones not included).
    closed,
    /// Clients closed by the idle timeout (counted in `closed` too).
    idle_closed,
    /// Graceful closes that ended with output still on its way (queued,
    /// or unacknowledged in the kernel): the drain deadline passed, or the
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
    /// Deliveries queued to this shard's subscribers (one per subscriber
    /// per message).
    delivered,
    /// Deliveries skipped because the subscriber was slow, under
    /// [`SlowSubscribers::Drop`](crate::SlowSubscribers::Drop).
    dropped_slow,
    /// Messages published here that never reached another shard: its
    /// inbox stayed full until this shard's backlog for it overflowed.
    lost_fanout,
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
}

impl Sum for ShardStats {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), Add::add)
    }
}

/// The published copy of a shard's counters.
///
/// The shard counts in a plain [`ShardStats`] on its own thread and stores
/// the values here once per event-loop round: relaxed stores only, no
/// read-modify-write and no sharing of a cache line with other shards, so
/// keeping the counters on costs nothing measurable.
#[derive(Default)]
pub(crate) struct PublishedStats(CachePadded<[AtomicU64; COUNTERS]>);

#[cfg(test)]
mod tests {
    use super::{PublishedStats, ShardStats};

    #[test]
    fn publish_then_snapshot_and_sum() {
        let published = PublishedStats::default();
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
            proxy_headers: 11,
            proxy_local: 12,
            proxy_untrusted: 13,
            proxy_invalid: 14,
            proxy_timeouts: 15,
        };
        published.publish(&stats);
        assert_eq!(published.snapshot(), stats);
        let total: ShardStats = [stats, stats].into_iter().sum();
        assert_eq!(total.bytes_out, 12);
        assert_eq!(total.accept_pauses, 18);
    }
}
