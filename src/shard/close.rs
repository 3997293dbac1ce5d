//! Closing clients: at once, gracefully, and all of them at shutdown.

use std::io::{ErrorKind, Read};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use super::Shard;
use crate::handler::{CloseReason, Handler};
use crate::slots::Key;
use crate::socket;

/// How often lingering clients are checked for acknowledged output: a few
/// round trips, so a closed client's socket goes away promptly without
/// busy polling.
const LINGER_CHECK: Duration = Duration::from_millis(10);

impl<H: Handler> Shard<H> {
    /// Closes a client now and tells the handler why.
    pub(super) fn close_now(&mut self, key: Key, reason: CloseReason) {
        if self.conns.remove(key).is_some() {
            // Dropping the stream closes the descriptor, which also removes
            // it from epoll: no extra `epoll_ctl`.
            self.closed(key, reason);
        }
    }

    /// Closes a client whose output is flushed, as a lingering close.
    ///
    /// Closing a socket with unread input makes the kernel answer with a
    /// reset and drop the output it has not delivered yet. So: send FIN,
    /// read and drop what the client still sends, and close once the client
    /// has acknowledged all our output (nothing left to lose), at its end of
    /// stream, or at the drain deadline.
    pub(super) fn close_gracefully(&mut self, key: Key) {
        self.update_interest(key); // nothing is queued: drop WRITABLE
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if !conn.lingering {
            conn.lingering = true;
            // Fails only if the client is already gone; the read below then
            // sees the error and closes.
            let _ = conn.stream.shutdown(Shutdown::Write);
        }
        if self.discard_input(key) {
            // Most clients close (or acknowledge) at once: only the others
            // need a deadline and a place on the linger list.
            self.schedule_drain(key);
            self.lingering.push(key);
            self.timers.check_linger_at(Instant::now() + LINGER_CHECK);
        }
    }

    /// Reads and drops what a closing client sends, so that a client that
    /// writes before it reads cannot stall the flush of its replies. Closes
    /// a lingering client at its end of stream, on an error, or once it
    /// has acknowledged all our output; returns whether it is still open.
    pub(super) fn discard_input(&mut self, key: Key) -> bool {
        let mut budget = self.config.read_budget;
        let reason = loop {
            let Some(conn) = self.conns.get_mut(key) else {
                return false;
            };
            let Some(reason) = conn.closing else {
                return true; // not closing: nothing to discard
            };
            match (&conn.stream).read(&mut self.buf) {
                Ok(0) if !conn.lingering => {
                    conn.read_closed = true; // replies still to flush
                    return true;
                }
                Ok(0) => break reason,
                Ok(n) => {
                    self.stats.bytes_in += n as u64;
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        self.ready.push(key);
                        return true;
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    let in_flight = socket::unacknowledged(&conn.stream).unwrap_or(0);
                    if !conn.lingering || in_flight > 0 {
                        return true;
                    }
                    break reason;
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) if conn.lingering => break reason,
                Err(err) => {
                    conn.fail(CloseReason::from_io(&err));
                    return true; // `settle` closes it
                }
            }
        };
        self.close_now(key, reason);
        false
    }

    /// Looks again at lingering clients: acknowledgements raise no event.
    pub(super) fn check_lingering(&mut self) {
        let mut lingering = std::mem::take(&mut self.lingering);
        lingering.retain(|&key| self.discard_input(key));
        lingering.append(&mut self.lingering);
        self.lingering = lingering;
        if !self.lingering.is_empty() {
            self.timers.check_linger_at(Instant::now() + LINGER_CHECK);
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
                conn.begin_close(CloseReason::Shutdown);
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
