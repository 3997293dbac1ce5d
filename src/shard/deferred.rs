//! Applying what callbacks asked of other clients of the shard, right
//! after each callback returns.

use super::Shard;
use crate::core::context::Deferred;
use crate::handler::Handler;
use crate::hub::close_reason::CloseReason;
use crate::hub::fanout::Audience;

impl<H: Handler> Shard<H> {
    /// Applies every deferred request, in the order asked, including those
    /// that callbacks run meanwhile (`on_close`, `on_drain`) add.
    pub(super) fn apply_deferred(&mut self) {
        while !self.cx.deferred.is_empty() {
            let mut batch = std::mem::take(&mut self.cx.deferred);
            for request in batch.drain(..) {
                match request {
                    Deferred::Send(id, data) => {
                        let Some(key) = self.key(id) else { continue };
                        let limit = self.config.output_limit;
                        if let Some(client) = self.clients.get_mut(key) {
                            client.io.send_bytes(data, limit, &mut self.stats);
                            self.settle(key);
                        }
                    }
                    Deferred::Close(id) => {
                        let Some(key) = self.key(id) else { continue };
                        if let Some(client) = self.clients.get_mut(key) {
                            client.io.begin_close(CloseReason::Handler);
                            self.settle(key);
                        }
                    }
                    Deferred::IdleTimeout(id, idle) => {
                        let Some(key) = self.key(id) else { continue };
                        self.set_idle(key, idle);
                    }
                    Deferred::Published => self.stats.published += 1,
                    Deferred::Fanout(fanout) => {
                        if matches!(fanout.audience, Audience::Topic(_)) {
                            self.stats.published += 1;
                            self.cx.handle.hub().forward(&fanout);
                        }
                        self.fan_out(&fanout);
                    }
                }
            }
            // Keep the vector's memory unless new requests arrived.
            if self.cx.deferred.is_empty() {
                self.cx.deferred = batch;
            }
        }
        // Publishes of callbacks other than `on_data` pace nobody.
        self.cx.over_credit = None;
    }
}
