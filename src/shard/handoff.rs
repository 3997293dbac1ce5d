//! Least-loaded balancing, the shard's side: clients the acceptor handed
//! over through the inbox, admitted like those the shard accepts itself,
//! and the load the acceptor picks by.

use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpStream;

use super::accept::Refusal;
use super::inbox::Command;
use super::Shard;
use crate::handler::Handler;
use crate::server::balance::{Published, ShardLoad};

/// A client the acceptor accepted for a shard, its socket options set.
pub(crate) struct Handoff {
    /// The connected socket.
    pub(crate) stream: TcpStream,
    /// The client's address.
    pub(crate) peer: SocketAddr,
}

/// What a shard keeps of its load under least-loaded balancing.
#[derive(Default)]
pub(super) struct Balancing {
    /// Where the load is published; `None` under `SO_REUSEPORT`
    /// balancing, where nobody reads it.
    cell: Option<Arc<ShardLoad>>,
    /// The load as it stands now.
    now: Published,
    /// The load as last published.
    published: Published,
}

impl Balancing {
    /// Publishing to `cell`, if the server balances by load.
    pub(super) fn new(cell: Option<Arc<ShardLoad>>) -> Self {
        Self {
            cell,
            ..Self::default()
        }
    }

    /// A loop round begins.
    #[inline]
    pub(super) fn begin_round(&self) {
        if let Some(cell) = &self.cell {
            cell.begin_round();
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
        if !self.cx.handle.reserve_connection() {
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
    #[inline]
    pub(super) fn publish_load(&mut self) {
        let Some(cell) = &self.balancing.cell else {
            return;
        };
        self.balancing.now.open = u32::try_from(self.stats.open).unwrap_or(u32::MAX);
        if self.balancing.now != self.balancing.published {
            cell.publish(self.balancing.now);
            self.balancing.published = self.balancing.now;
        }
        cell.end_round();
    }

    /// Stops taking handoffs as the shard ends (its loop is over, or a
    /// handler panicked): tells the acceptor (the shard shows as stalled
    /// for ever from now on), then closes the clients already waiting in
    /// the inbox, whose descriptors would otherwise wait in the queue
    /// until the last handle is dropped.
    ///
    /// One handoff sent between the acceptor's last look at the load and
    /// the inbox's end can still wait there; the acceptor gets the next
    /// ones back ("stopped") and places them elsewhere.
    pub(super) fn close_handoffs_left(&mut self) {
        let Some(cell) = &self.balancing.cell else {
            return;
        };
        cell.stop();
        let mut left = 0usize;
        self.inbox.take(usize::MAX, |command| {
            if let Command::Handoff(handoff) = command {
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
