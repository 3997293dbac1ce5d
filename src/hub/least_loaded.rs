//! How other threads reach the least-loaded acceptor: to stop it, and to
//! read what it counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mio::Waker;

use crate::hub::stats::ShardStats;

/// How other threads reach the acceptor: to stop it, and to read what it
/// counted.
pub(crate) struct Control {
    /// Shutdown was asked.
    pub(crate) stop: AtomicBool,
    /// The acceptor thread has ended.
    pub(crate) finished: AtomicBool,
    /// Wakes the acceptor's poll.
    pub(crate) waker: Waker,
    /// Clients refused for lack of descriptors.
    pub(crate) refused: AtomicU64,
    /// Times accepting paused for lack of descriptors or memory.
    pub(crate) accept_pauses: AtomicU64,
}

impl Control {
    /// Asks the acceptor to stop. Returns whether it will pass the
    /// shutdown on to the shards; if not (it has ended already), the
    /// caller must.
    pub(crate) fn stop(&self) -> bool {
        // SeqCst with `finish`'s pair: of a stop and the acceptor's end,
        // at least one side sees the other, so the shards are told.
        self.stop.store(true, Ordering::SeqCst);
        // A broken eventfd: the acceptor is gone and `finished` says so.
        let _ = self.waker.wake();
        !self.finished.load(Ordering::SeqCst)
    }

    /// Adds what the acceptor counted to `stats` (shard 0's counters: the
    /// clients it refused never reached a shard).
    pub(crate) fn add_counters(&self, stats: &mut ShardStats) {
        let refused = self.refused.load(Ordering::Relaxed);
        stats.refused += refused;
        stats.over_limit += refused;
        stats.accept_pauses += self.accept_pauses.load(Ordering::Relaxed);
    }
}
