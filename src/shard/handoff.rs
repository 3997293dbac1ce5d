//! Least-loaded balancing, the shard's side: clients the acceptor handed
//! over through the inbox, admitted like those the shard accepts itself,
//! and the load the acceptor picks by.

use std::sync::Arc;

use super::limits::Refusal;
use super::Shard;
use crate::handler::Handler;
use crate::hub::inbox::{Handoff, Order};
use crate::hub::load::{Exported, ShardLoad};

/// What a shard keeps of its load under least-loaded balancing.
#[derive(Default)]
pub(super) struct Balancing {
    /// Where the load is published; `None` under `SO_REUSEPORT`
    /// balancing, where nobody reads it.
    cell: Option<Arc<ShardLoad>>,
    /// The load as it stands now.
    now: Exported,
    /// The load as last published.
    published: Exported,
}

impl Balancing {
    /// Publishing to `cell`, if the server balances by load.
    pub(super) fn new(cell: Option<Arc<ShardLoad>>) -> Self {
        Self {
            cell,
            ..Self::default()
        }
    }
}

impl<H: Handler> Shard<H> {
    /// Serves a client the acceptor handed over: its place in the
    /// server-wide count, then admission as for a client accepted here
    /// (`on_connect`, idle timer), or the refusal at the limit.
    pub(super) fn take_handoff(&mut self, handoff: Handoff) {
        self.balancing.now.taken = self.balancing.now.taken.wrapping_add(1);
        let Handoff { stream, peer } = handoff;
        if !self.cx.handle.hub().reserve_connection() {
            self.refuse(stream, peer, Refusal::AtLimit);
            return;
        }
        self.admit(stream, peer);
        // Handed over after this shard began shutting down (the acceptor
        // ended early): close it like the others, with the same reason.
        if self.deadlines.shutting_down() && self.sweep.is_none() {
            self.sweep = Some(0);
        }
    }

    /// Ends a loop round for the acceptor: stores the load if it changed.
    /// Connections awaiting a PROXY header count as open: they took a
    /// handoff and are clients in a moment.
    #[inline]
    pub(super) fn export_load(&mut self) {
        let Some(cell) = &self.balancing.cell else {
            return;
        };
        let open = self.stats.open.saturating_add(self.awaiting_len() as u64);
        self.balancing.now.open = u32::try_from(open).unwrap_or(u32::MAX);
        if self.balancing.now != self.balancing.published {
            cell.export(self.balancing.now);
            self.balancing.published = self.balancing.now;
        }
    }

    /// Closes the clients still waiting in the inbox as the shard ends
    /// (its loop is over, or a handler panicked): their descriptors would
    /// otherwise wait in the queue until the last handle is dropped.
    ///
    /// After a panic the heartbeat shows the shard in its last round for
    /// ever, so the acceptor skips it as stalled; a handoff sent just
    /// before can still wait in the inbox; later ones come back to the
    /// acceptor ("stopped") and go elsewhere.
    pub(super) fn close_handoffs_left(&mut self) {
        if self.balancing.cell.is_none() {
            return;
        }
        let mut left = 0usize;
        self.inbox.take(usize::MAX, |command| {
            if let Order::Handoff(handoff) = command {
                left += 1;
                drop(handoff);
            }
        });
        if left > 0 {
            tracing::warn!(
                shard = self.index,
                left,
                "the shard ended with clients handed to it still waiting; closed them"
            );
        }
    }
}
