//! Reading from clients, handing input to the handler, flushing output.

use std::io::{ErrorKind, Read};

use mio::event::Event;

use super::Shard;
use crate::conn::Conn;
use crate::connection::Connection;
use crate::handler::{CloseReason, Handler, Verdict};
use crate::slots::Key;

impl<H: Handler> Shard<H> {
    /// A readiness event for a client.
    pub(super) fn conn_event(&mut self, key: Key, event: &Event) {
        let Some(conn) = self.conns.get_mut(key) else {
            return; // closed earlier in this round
        };
        if event.is_read_closed() || event.is_error() {
            conn.read_closed = true;
        }
        // An error or hang-up is reported whether or not WRITABLE was asked
        // for; flushing then fails and marks the client, so a paused client
        // whose peer vanished does not linger until shutdown.
        let flushable = event.is_writable() || event.is_write_closed() || event.is_error();
        if flushable && !conn.out.is_empty() {
            self.stats.bytes_out += conn.flush() as u64;
        }
        if event.is_readable() || conn.read_closed {
            self.read(key);
        }
        // Checked here, inline: after a plain echo there is nothing to settle.
        if self.conns.get_mut(key).is_some_and(|conn| !conn.is_quiet()) {
            self.settle(key);
        }
    }

    /// Reads from a client until the socket is drained, the read budget is
    /// spent (then it goes on the ready list), or reading stops.
    fn read(&mut self, key: Key) {
        let mut budget = self.config.read_budget;
        loop {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            if conn.closing.is_some() && conn.failed.is_none() {
                self.discard_input(key);
                return;
            }
            // Past the high-water mark `settle` pauses the client; stop now
            // so one wakeup cannot queue a whole read budget beyond it.
            if conn.reading_stopped() || conn.out.len() > self.config.output_high_water {
                return;
            }
            match (&conn.stream).read(&mut self.buf) {
                Ok(0) => return conn.begin_close(CloseReason::PeerClosed),
                Ok(n) => {
                    self.stats.bytes_in += n as u64;
                    let drained = n < self.buf.len() && !conn.read_closed;
                    self.deliver(key, n);
                    // A short read emptied the socket: on Linux, epoll raises
                    // a new edge for any byte that arrives after it, so the
                    // read that would only say WouldBlock is skipped (as
                    // tokio does). The hang-up case reads on to the EOF.
                    if drained {
                        return;
                    }
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        return self.ready.push(key);
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return conn.fail(CloseReason::from_io(&err)),
            }
        }
    }

    /// Hands the `n` bytes just read (after any carried input) to the
    /// handler and keeps what it does not consume.
    fn deliver(&mut self, key: Key, n: usize) {
        let id = self.id(key);
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let limit = self.config.output_limit;
        if conn.input.is_empty() {
            // The common case: the handler reads straight from the shard's
            // buffer, and only a partial message is copied (and allocated).
            let data = &self.buf[..n];
            let mut view = Conn::new(id, conn, limit, &mut self.stats.bytes_out, 0);
            let verdict = self.handler.on_data(&mut view, data);
            let rest = unconsumed(conn, verdict, data);
            if rest.len() > self.config.input_limit {
                conn.fail(CloseReason::InputOverflow);
            } else if !rest.is_empty() {
                conn.input.extend_from_slice(rest);
            }
            return;
        }
        let mut input = std::mem::take(&mut conn.input);
        let carried = input.len();
        input.extend_from_slice(&self.buf[..n]);
        let mut view = Conn::new(id, conn, limit, &mut self.stats.bytes_out, carried);
        let verdict = self.handler.on_data(&mut view, &input);
        let rest = unconsumed(conn, verdict, &input).len();
        if rest > self.config.input_limit {
            conn.fail(CloseReason::InputOverflow);
        } else if rest > 0 {
            input.drain(..input.len() - rest);
            conn.input = input;
        }
    }

    /// Reads clients whose budget ran out or whose reading resumed.
    pub(super) fn read_ready(&mut self) {
        let mut ready = std::mem::take(&mut self.ready);
        for key in ready.drain(..) {
            self.read(key);
            self.settle(key);
        }
        // Keys queued while reading stay; the vector's memory is reused.
        ready.append(&mut self.ready);
        self.ready = ready;
    }

    /// Tells the handler a client's output fell below the low-water mark.
    pub(super) fn drained(&mut self, key: Key) {
        let id = self.id(key);
        let limit = self.config.output_limit;
        if let Some(conn) = self.conns.get_mut(key) {
            let mut view = Conn::new(id, conn, limit, &mut self.stats.bytes_out, 0);
            self.handler.on_drain(&mut view);
        }
    }
}

/// The bytes `on_data` left unconsumed; a close consumes everything.
fn unconsumed<'d>(conn: &mut Connection, verdict: Verdict, data: &'d [u8]) -> &'d [u8] {
    match verdict {
        Verdict::Keep(consumed) => &data[consumed.min(data.len())..],
        Verdict::Close => {
            conn.begin_close(CloseReason::Handler);
            &[]
        }
    }
}
