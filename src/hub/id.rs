//! Connection ids: which shard, which slot, which generation of that slot.

use std::fmt;

/// A stable, copyable name for one client connection, valid from any thread.
///
/// An id carries the shard that owns the connection, the slot it occupies in
/// that shard's table and the slot's generation. When a client closes, its
/// slot's generation is bumped before the slot is reused, so a stale id (kept
/// by a handler or another thread) can never reach the next client in that
/// slot: messages sent to it are dropped.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    shard: u16,
    slot: u32,
    generation: u32,
}

impl ConnId {
    /// Builds an id from its parts.
    pub(crate) const fn new(shard: u16, slot: u32, generation: u32) -> Self {
        Self {
            shard,
            slot,
            generation,
        }
    }

    /// Index of the shard (thread) that owns the connection.
    pub const fn shard(self) -> usize {
        self.shard as usize
    }

    /// Slot of the connection in its shard's table.
    pub const fn slot(self) -> usize {
        self.slot as usize
    }

    /// Generation of the slot when this connection was accepted.
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.shard, self.slot, self.generation)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::ConnId;

    #[test]
    fn parts_round_trip_and_print() {
        let id = ConnId::new(3, 70_000, 9);
        assert_eq!((id.shard(), id.slot(), id.generation()), (3, 70_000, 9));
        assert_eq!(id.to_string(), "3.70000.9");
    }

    #[test]
    fn generation_distinguishes_ids_in_one_slot() {
        assert_ne!(ConnId::new(0, 1, 1), ConnId::new(0, 1, 2));
    }
}
