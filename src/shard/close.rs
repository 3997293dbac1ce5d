//! Closing clients: at once, and gracefully with a lingering close.

use std::io::ErrorKind;
use std::time::Duration;

use super::Shard;
use crate::core::client::Phase;
use crate::core::context::ticks;
use crate::core::slots::Key;
use crate::handler::context::ShardContext;
use crate::handler::Handler;
use crate::hub::close_reason::CloseReason;
use crate::hub::heartbeat::Activity;

/// First wait before looking again whether a lingering client has
/// acknowledged our output: a few loopback or LAN round trips.
const LINGER_FIRST_CHECK: Duration = Duration::from_millis(10);

/// Longest wait between two looks: the wait doubles after each look, so
/// 100,000 unresponsive clients at shutdown cost a few checks each (about
/// a dozen over a 5 s close timeout) instead of one every 10 ms.
const LINGER_MAX_CHECK: Duration = Duration::from_secs(1);

/// Whether a close for `reason` is a graceful one, which owes the client
/// all its output (a failure closes at once by design).
fn reason_is_graceful(reason: CloseReason) -> bool {
    matches!(
        reason,
        CloseReason::PeerClosed
            | CloseReason::Handler
            | CloseReason::Server
            | CloseReason::IdleTimeout
            | CloseReason::Shutdown
    )
}

impl<H: Handler> Shard<H> {
    /// Closes a client now and tells the handler why.
    pub(super) fn close_now(&mut self, key: Key, reason: CloseReason) {
        let Some(client) = self.clients.remove(key) else {
            return;
        };
        self.unsubscribe_all(key);
        if reason_is_graceful(reason) && client.io.output_in_flight() {
            // A graceful close that ends with output not yet taken: the
            // close deadline cut it short, or the client left first. The
            // operator should know.
            self.stats.cut_off += 1;
        }
        client.io.forget(&mut self.stats);
        // Dropping the stream closes the descriptor, which also removes it
        // from epoll: no extra `epoll_ctl`.
        drop(client.io);
        if !client.timer.is_none() {
            self.cx.wheel.cancel(client.timer);
        }
        self.cx.handle.hub().release_connection();
        self.stats.open -= 1;
        self.stats.count_close(reason);
        let id = self.id(key);
        match reason {
            CloseReason::OutputOverflow | CloseReason::InputOverflow | CloseReason::Error(_) => {
                let now = self.cx.now();
                if let Some(suppressed) = self.warnings.client_failed.allow(now) {
                    tracing::warn!(shard = self.index, conn = %id, ?reason, suppressed, "client closed");
                }
            }
            CloseReason::IdleTimeout => {
                tracing::trace!(shard = self.index, conn = %id, ?reason, "client closed");
            }
            _ => tracing::trace!(shard = self.index, conn = %id, ?reason, "client closed"),
        }
        self.cx.enter(Activity::OnClose);
        let mut cx = ShardContext::new(&mut self.cx);
        self.handler.on_close(&mut cx, id, client.state, reason);
    }

    /// Closes a client whose output is flushed, as a lingering close.
    ///
    /// Closing a socket with unread input makes the kernel answer with a
    /// reset and drop the output it has not delivered yet. So: send FIN,
    /// read and drop what the client still sends, and close once the client
    /// has acknowledged all our output (nothing left to lose), at its end of
    /// stream, or at the close deadline.
    pub(super) fn close_gracefully(&mut self, key: Key) {
        self.update_interest(key); // nothing is queued: drop WRITABLE
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if let Phase::Closing(reason) = client.io.phase {
            client.io.phase = Phase::Lingering(reason);
            // Fails only if the client is already gone; the read below then
            // sees the error and closes.
            let _ = client.io.stream.shutdown_write();
        }
        if self.discard_input(key) {
            // Most clients close (or acknowledge) at once: only the others
            // need a deadline and a timer.
            self.arm_linger_check(key);
        }
    }

    /// Sets the next look at a lingering client: after a wait that doubles
    /// with each look, and never after its close deadline.
    fn arm_linger_check(&mut self, key: Key) {
        let now = self.cx.now_tick();
        // Never early: the wheel counts whole milliseconds.
        let deadline = self.cx.deadline_after(self.config.close_timeout);
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if !client.io.deadline_armed() {
            client.io.set_deadline_armed();
            client.io.clock = deadline as u32;
        }
        let shift = u32::from(client.io.linger_checks).min(16);
        client.io.linger_checks = client.io.linger_checks.saturating_add(1);
        let wait = ticks(LINGER_FIRST_CHECK)
            .saturating_mul(1 << shift)
            .min(ticks(LINGER_MAX_CHECK));
        // Wrapping distance to the deadline (within a day), 0 once passed.
        let left = (client.io.clock.wrapping_sub(now as u32) as i32).max(0) as u64;
        self.arm(key, now + wait.min(left));
    }

    /// A lingering client's timer fired: close it at its deadline, else
    /// look whether it acknowledged everything, else look again later.
    pub(super) fn check_lingering(&mut self, key: Key, reason: CloseReason) {
        let now = self.cx.now_tick() as u32;
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        // Wrapping distance: the deadline is within a day of now.
        if (now.wrapping_sub(client.io.clock) as i32) >= 0 {
            return self.close_now(key, reason);
        }
        if self.discard_input(key) {
            self.arm_linger_check(key);
        }
    }

    /// Reads and drops what a closing client sends, so that a client that
    /// writes before it reads cannot stall the flush of its replies. Closes
    /// a lingering client at its end of stream, on an error, or once it
    /// has acknowledged all our output; returns whether it is still open.
    pub(super) fn discard_input(&mut self, key: Key) -> bool {
        let mut budget = self.config.read_budget;
        let reason = loop {
            let Some(client) = self.clients.get_mut(key) else {
                return false;
            };
            let io = &mut client.io;
            let (reason, lingering) = match io.phase {
                Phase::Closing(reason) => (reason, false),
                Phase::Lingering(reason) => (reason, true),
                Phase::Open | Phase::Failed(_) => return true, // nothing to discard
            };
            match io.stream.read(&mut self.buf) {
                Ok(0) if !lingering => {
                    io.mark_read_closed(); // replies still to flush
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
                    let in_flight = io.stream.unacknowledged().unwrap_or(0);
                    if !lingering || in_flight > 0 {
                        return true;
                    }
                    break reason;
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) if lingering => break reason,
                Err(err) => {
                    io.fail(CloseReason::from_io(&err));
                    return true; // `settle` closes it
                }
            }
        };
        self.close_now(key, reason);
        false
    }

    /// Closes every client at once.
    pub(super) fn close_all(&mut self, reason: CloseReason) {
        for key in self.clients.keys() {
            self.close_now(key, reason);
        }
    }
}
