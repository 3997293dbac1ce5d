//! Per-shard counters: plain integers on the shard, published for readers.

use std::iter::Sum;
use std::ops::Add;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam::utils::CachePadded;

/// A snapshot of one shard's counters (or, summed, of the whole server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Clients accepted (including those the handler then refused).
    pub accepted: u64,
    /// Clients the handler refused in `on_connect`.
    pub refused: u64,
    /// Clients open now.
    pub open: u64,
    /// Clients closed (refused ones not included).
    pub closed: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
}

impl Add for ShardStats {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            accepted: self.accepted + other.accepted,
            refused: self.refused + other.refused,
            open: self.open + other.open,
            closed: self.closed + other.closed,
            bytes_in: self.bytes_in + other.bytes_in,
            bytes_out: self.bytes_out + other.bytes_out,
        }
    }
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
pub(crate) struct PublishedStats(CachePadded<[AtomicU64; 6]>);

impl PublishedStats {
    /// Stores a new snapshot (shard thread only).
    pub(crate) fn publish(&self, stats: &ShardStats) {
        let values = [
            stats.accepted,
            stats.refused,
            stats.open,
            stats.closed,
            stats.bytes_in,
            stats.bytes_out,
        ];
        for (cell, value) in self.0.iter().zip(values) {
            cell.store(value, Ordering::Relaxed);
        }
    }

    /// Reads the latest snapshot (any thread).
    pub(crate) fn snapshot(&self) -> ShardStats {
        let [accepted, refused, open, closed, bytes_in, bytes_out] =
            self.0.each_ref().map(|cell| cell.load(Ordering::Relaxed));
        ShardStats {
            accepted,
            refused,
            open,
            closed,
            bytes_in,
            bytes_out,
        }
    }
}

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
        };
        published.publish(&stats);
        assert_eq!(published.snapshot(), stats);
        let total: ShardStats = [stats, stats].into_iter().sum();
        assert_eq!(total.bytes_out, 12);
        assert_eq!(total.accepted, 2);
    }
}
