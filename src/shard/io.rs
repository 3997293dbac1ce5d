//! Reading from clients, handing input to the handler, flushing output.

use std::io::ErrorKind;

use mio::event::Event;

use super::Shard;
use crate::config::Config;
use crate::conn::Conn;
use crate::connection::Connection;
use crate::handler::{CloseReason, Handler, Verdict};
use crate::id::ConnId;
use crate::slots::Key;
use crate::socket;

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
        let mut unsettled = false;
        if flushable && !conn.out.is_empty() {
            self.stats.bytes_out += conn.flush() as u64;
            unsettled = true;
        }
        if event.is_readable() || conn.read_closed {
            unsettled |= self.read(key);
        }
        if unsettled {
            self.settle(key);
        }
    }

    /// Reads from a client until the socket is drained, the read budget is
    /// spent (then it goes on the ready list), or reading stops. A closing
    /// client's input is read and dropped instead. Returns whether the
    /// client now needs [`settle`](Shard::settle); after a plain echo it
    /// does not, which saves a look-up per message.
    fn read(&mut self, key: Key) -> bool {
        let id = self.id(key);
        // One look-up for the whole loop: the fields are borrowed apart.
        let Self {
            conns,
            buf,
            handler,
            stats,
            config,
            ready,
            ..
        } = self;
        let Some(conn) = conns.get_mut(key) else {
            return false;
        };
        let mut budget = config.read_budget;
        loop {
            if conn.closing.is_some() && conn.failed.is_none() {
                break;
            }
            // Past the high-water mark `settle` pauses the client; stop now
            // so one wakeup cannot queue a whole read budget beyond it.
            if conn.reading_stopped() || conn.out.len() > config.output_high_water {
                return true;
            }
            match socket::read(&conn.stream, buf) {
                Ok(0) => {
                    conn.begin_close(CloseReason::PeerClosed);
                    return true;
                }
                Ok(n) => {
                    stats.bytes_in += n as u64;
                    let drained = n < buf.len() && !conn.read_closed;
                    deliver(handler, conn, id, &buf[..n], &mut stats.bytes_out, config);
                    // A short read emptied the socket: on Linux, epoll raises
                    // a new edge for any byte that arrives after it, so the
                    // read that would only say WouldBlock is skipped (as
                    // tokio does). The hang-up case reads on to the EOF.
                    if drained {
                        return !conn.is_quiet();
                    }
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        ready.push(key);
                        return !conn.is_quiet();
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return !conn.is_quiet(),
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    conn.fail(CloseReason::from_io(&err));
                    return true;
                }
            }
        }
        self.discard_input(key);
        true
    }

    /// Reads clients whose budget ran out or whose reading resumed.
    pub(super) fn read_ready(&mut self) {
        if self.ready.is_empty() {
            return;
        }
        let mut ready = std::mem::take(&mut self.ready);
        for key in ready.drain(..) {
            if self.read(key) {
                self.settle(key);
            }
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

/// Hands `fresh` bytes (after any carried input) to the handler and keeps
/// what it does not consume.
#[inline] // once per read, on the hottest path
fn deliver<H: Handler>(
    handler: &mut H,
    conn: &mut Connection,
    id: ConnId,
    fresh: &[u8],
    bytes_out: &mut u64,
    config: &Config,
) {
    if conn.input.is_empty() {
        // The common case: the handler reads straight from the shard's
        // buffer, and only a partial message is copied (and allocated).
        let mut view = Conn::new(id, conn, config.output_limit, bytes_out, 0);
        let verdict = handler.on_data(&mut view, fresh);
        let rest = unconsumed(conn, verdict, fresh);
        if rest.len() > config.input_limit {
            conn.fail(CloseReason::InputOverflow);
        } else if !rest.is_empty() {
            conn.input.extend_from_slice(rest);
        }
        return;
    }
    let mut input = std::mem::take(&mut conn.input);
    let carried = input.len();
    input.extend_from_slice(fresh);
    let mut view = Conn::new(id, conn, config.output_limit, bytes_out, carried);
    let verdict = handler.on_data(&mut view, &input);
    let rest = unconsumed(conn, verdict, &input).len();
    if rest > config.input_limit {
        conn.fail(CloseReason::InputOverflow);
    } else if rest > 0 {
        input.drain(..input.len() - rest);
        conn.input = input;
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
