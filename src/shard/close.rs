//! Closing clients: at once, gracefully, and all of them at shutdown.

use std::io::{ErrorKind, Read};
use std::net::Shutdown;
use std::time::Instant;

use super::Shard;
use crate::handler::{CloseReason, Handler};
use crate::slots::Key;

impl<H: Handler> Shard<H> {
    /// Closes a client now and tells the handler why.
    pub(super) fn close_now(&mut self, key: Key, reason: CloseReason) {
        if self.conns.remove(key).is_some() {
            // Dropping the stream closes the descriptor, which also removes
            // it from epoll: no extra `epoll_ctl`.
            self.closed(key, reason);
        }
    }

    /// Closes a client whose output is flushed, as a lingering close:
    /// sends FIN, then keeps reading and discarding what the client still
    /// sends until its end of stream (or the drain deadline). Closing with
    /// unread input would make the kernel answer with a reset that destroys
    /// the replies still in flight to the client.
    pub(super) fn close_gracefully(&mut self, key: Key, reason: CloseReason) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if !conn.lingering {
            conn.lingering = true;
            // Fails only if the client is already gone; the read below then
            // sees the error and closes.
            let _ = conn.stream.shutdown(Shutdown::Write);
            self.schedule_drain(key);
        }
        self.discard_input(key, reason);
    }

    /// Reads and drops what a lingering client sends; closes it at its end
    /// of stream or on an error.
    pub(super) fn discard_input(&mut self, key: Key, reason: CloseReason) {
        let mut budget = self.config.read_budget;
        loop {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            match (&conn.stream).read(&mut self.buf) {
                Ok(0) => return self.close_now(key, reason),
                Ok(n) => {
                    self.stats.bytes_in += n as u64;
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        return self.ready.push(key);
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.close_now(key, reason),
            }
        }
    }

    /// Bookkeeping after a client is gone.
    fn closed(&mut self, key: Key, reason: CloseReason) {
        self.stats.open -= 1;
        self.stats.closed += 1;
        let id = self.id(key);
        match reason {
            CloseReason::OutputOverflow | CloseReason::InputOverflow | CloseReason::Error(_) => {
                tracing::warn!(shard = self.index, conn = %id, ?reason, "client closed");
            }
            _ => tracing::trace!(shard = self.index, conn = %id, ?reason, "client closed"),
        }
        self.handler.on_close(id, reason);
    }

    /// Stops accepting at once and closes every client once its output is
    /// flushed, or at the drain deadline.
    pub(super) fn begin_shutdown(&mut self) {
        if self.timers.shutting_down() {
            return; // a second shutdown changes nothing
        }
        self.timers
            .shut_down_by(Instant::now() + self.config.drain_timeout);
        self.listener = None;
        self.accept_pending = false;
        for key in self.conns.keys() {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.close_gracefully(CloseReason::Shutdown);
            }
            self.settle(key);
        }
    }

    /// Closes every client at once.
    pub(super) fn close_all(&mut self, reason: CloseReason) {
        for key in self.conns.keys() {
            self.close_now(key, reason);
        }
    }
}
