//! One shard's published load, for least-loaded balancing: written by
//! the shard, read by the acceptor.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam::utils::CachePadded;

/// Bits of the load word that count open clients; the rest count
/// handoffs taken (wrapping).
const OPEN_BITS: u32 = 32;

/// One shard's published load: written by the shard, read by the
/// acceptor, in a cache line of its own.
#[derive(Debug, Default)]
pub(crate) struct ShardLoad {
    /// `taken << 32 | open`: clients open, and handoffs taken from the
    /// inbox (wrapping), stored together so that a client moving from the
    /// inbox to the clients' table is never counted twice or not at all.
    load: CachePadded<AtomicU64>,
}

/// A shard's load as it last exported it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Exported {
    /// Clients open on the shard.
    pub(crate) open: u32,
    /// Handoffs the shard has taken from its inbox (wrapping).
    pub(crate) taken: u32,
}

impl ShardLoad {
    /// Stores the shard's load (shard thread only).
    pub(crate) fn export(&self, load: Exported) {
        let word = (u64::from(load.taken) << OPEN_BITS) | u64::from(load.open);
        self.load.store(word, Ordering::Relaxed);
    }

    /// The last load stored (any thread).
    pub(crate) fn read(&self) -> Exported {
        let word = self.load.load(Ordering::Relaxed);
        Exported {
            open: word as u32,
            taken: (word >> OPEN_BITS) as u32,
        }
    }
}
