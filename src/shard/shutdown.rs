//! Shutdown: stop accepting without resetting anyone queued, serve the
//! clients a while longer if asked (the grace), say goodbye, then close
//! every client in batches, so no round stalls the shard.

use super::Shard;
use crate::handler::context::ShardContext;
use crate::handler::Handler;
use crate::hub::close_reason::CloseReason;
use crate::hub::heartbeat::Activity;

/// Clients set closing per loop round at shutdown: each costs a few
/// system calls (flush, FIN, a read, `SIOCOUTQ`), so a batch is about a
/// millisecond and a million clients are spread over a thousand rounds in
/// which their events are still served.
const SWEEP_BATCH: usize = 1024;

impl<H: Handler> Shard<H> {
    /// Stops accepting; then, after the grace (`Config::shutdown_grace`,
    /// ended early once no client is left), starts closing every client
    /// once its output is flushed, or at the close deadline.
    ///
    /// Closing a listener resets every connection still in its queue,
    /// unless `net.ipv4.tcp_migrate_req` moves them to another listener of
    /// the group, or someone else holds the socket open. So the clients
    /// already queued are accepted first and served like the others,
    /// except where the group says another server will take them (see
    /// `Group::leaves_queued`).
    pub(super) fn begin_shutdown(&mut self) {
        if self.deadlines.shutting_down() {
            return; // a second shutdown changes nothing
        }
        let now = self.cx.now();
        let grace = self.config.shutdown_grace;
        self.deadlines.shutdown = Some(now + grace + self.config.close_timeout);
        if !self.group.leaves_queued() {
            self.accept_all();
        }
        self.listener = None;
        self.accept_pending = false;
        self.drop_all_awaiting();
        self.drop_all_handshakes();
        if grace.is_zero() || self.clients.is_empty() {
            self.begin_closing_all();
        } else {
            self.deadlines.grace = Some(now + grace);
        }
    }

    /// Ends the grace: says goodbye (`on_shutting_down`) and starts
    /// closing every client, a batch per round.
    pub(super) fn begin_closing_all(&mut self) {
        self.deadlines.grace = None;
        self.deadlines.tick = None;
        self.cx.enter(Activity::OnShuttingDown);
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
