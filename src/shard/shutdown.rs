//! Shutdown: stop accepting without resetting anyone queued, say goodbye,
//! then close every client in batches, so no round stalls the shard.

use super::Shard;
use crate::handler::context::ShardContext;
use crate::handler::outcome::CloseReason;
use crate::handler::Handler;

/// Clients set closing per loop round at shutdown: each costs a few
/// system calls (flush, FIN, a read, `SIOCOUTQ`), so a batch is about a
/// millisecond and a million clients are spread over a thousand rounds in
/// which their events are still served.
const SWEEP_BATCH: usize = 1024;

impl<H: Handler> Shard<H> {
    /// Stops accepting and starts closing every client once its output is
    /// flushed, or at the drain deadline.
    ///
    /// Clients already queued in the listener are accepted first and
    /// closed like the others: closing a listener resets every connection
    /// still in its queue (unless `net.ipv4.tcp_migrate_req` moves them to
    /// another listener of the group).
    pub(super) fn begin_shutdown(&mut self) {
        if self.deadlines.shutting_down() {
            return; // a second shutdown changes nothing
        }
        let now = self.cx.now();
        self.deadlines.shutdown = Some(now + self.config.drain_timeout);
        self.deadlines.tick = None;
        self.accept_all();
        self.listener = None;
        self.accept_pending = false;
        self.drop_all_awaiting();
        self.handler
            .on_shutting_down(&mut ShardContext::new(&mut self.cx));
        self.apply_deferred();
        self.sweep = Some(0);
        self.sweep_step();
    }

    /// Sets the next batch of clients closing.
    pub(super) fn sweep_step(&mut self) {
        let Some(start) = self.sweep else { return };
        let end = start
            .saturating_add(SWEEP_BATCH)
            .min(self.clients.capacity());
        for index in start..end {
            let Some(key) = self.clients.key_at(index) else {
                continue;
            };
            if let Some(client) = self.clients.get_mut(key) {
                client.io.begin_close(CloseReason::Shutdown);
            }
            self.settle(key);
        }
        self.sweep = (end < self.clients.capacity()).then_some(end);
        self.apply_deferred();
    }
}
