//! Reading from clients, handing input to the handler, flushing output.

use std::io::ErrorKind;

use mio::event::Event;

use super::{tls, Shard};
use crate::config::Config;
use crate::core::client::{Client, IDLE_INHERITED};
use crate::core::slots::Key;
use crate::handler::context::ShardContext;
use crate::handler::outcome::Verdict;
use crate::handler::{Conn, Handler};
use crate::hub::close_reason::CloseReason;
use crate::hub::heartbeat::Activity;
use crate::hub::id::ConnId;
use crate::hub::stats::ShardStats;

/// What a client's transport is ready for: a poll's event, or what the
/// testing harness says. A trait, not a struct filled from the event, so
/// the poll's path asks the event only what it needs, as before the seam
/// (a struct built for every event cost 15 instructions per echoed
/// message under callgrind).
pub(crate) trait Ready {
    /// Input may have arrived.
    fn readable(&self) -> bool;
    /// Output may be taken (or the connection broke: a flush will say).
    fn writable(&self) -> bool;
    /// The peer's end of stream, or an error, was seen.
    fn read_closed(&self) -> bool;
}

impl Ready for Event {
    #[inline(always)]
    fn readable(&self) -> bool {
        self.is_readable()
    }

    /// An error or hang-up is reported whether or not WRITABLE was asked
    /// for; flushing then fails and marks the client, so a paused client
    /// whose peer vanished does not linger until shutdown.
    #[inline(always)]
    fn writable(&self) -> bool {
        self.is_writable() || self.is_write_closed() || self.is_error()
    }

    #[inline(always)]
    fn read_closed(&self) -> bool {
        self.is_read_closed() || self.is_error()
    }
}

/// Readiness as the testing harness states it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Readiness {
    /// Input may have arrived.
    pub(crate) readable: bool,
    /// Output may be taken.
    pub(crate) writable: bool,
    /// The peer's end of stream, or a reset, was seen.
    pub(crate) read_closed: bool,
}

impl Ready for Readiness {
    fn readable(&self) -> bool {
        self.readable
    }

    fn writable(&self) -> bool {
        self.writable
    }

    fn read_closed(&self) -> bool {
        self.read_closed
    }
}

impl<H: Handler> Shard<H> {
    /// A client's transport is ready: a poll's event, or the testing
    /// harness's word.
    #[inline(always)]
    pub(crate) fn client_ready(&mut self, key: Key, ready: &impl Ready) {
        let Some(client) = self.clients.get_mut(key) else {
            // Closed earlier in this round, or not a client yet: in its TLS
            // handshake, or, with the PROXY protocol on, awaiting its
            // header.
            if self.config.tls.is_some() && key.index & tls::HANDSHAKE_BIT != 0 {
                self.handshake_event(key);
            } else if self.config.proxy_protocol {
                self.awaiting_event(key, ready.read_closed());
            }
            return;
        };
        if ready.read_closed() {
            client.io.mark_read_closed();
        }
        let mut unsettled = false;
        if ready.writable() && client.io.output_queued() {
            client.io.flush(&mut self.stats);
            unsettled = true;
        }
        if ready.readable() || client.io.read_closed() {
            unsettled |= self.read(key);
        }
        self.apply_then_settle(key, unsettled);
    }

    /// After a client's callbacks: their requests first (one made for its
    /// own client, `cx.send` to itself or `send_to_all`, must reach it
    /// before a close asked for in the same callback finishes), then the
    /// client's settling, then what settling's callbacks asked (an
    /// `on_close` that says goodbye to the others).
    #[inline(always)]
    pub(super) fn apply_then_settle(&mut self, key: Key, unsettled: bool) {
        if !self.cx.deferred.is_empty() {
            // A publish defers its local delivery, so this is the only
            // place a publisher's pacing is looked at: not on the echo
            // path.
            let over = self.cx.over_credit.take();
            self.apply_deferred();
            if let Some(shard) = over {
                self.pace(key, shard);
            }
        }
        if unsettled {
            self.settle(key);
            if !self.cx.deferred.is_empty() {
                self.apply_deferred();
            }
        }
    }

    /// Reads from a client until the socket is empty, the read budget is
    /// spent (then it goes on the ready list), or reading stops. A closing
    /// client's input is read and dropped instead. Returns whether the
    /// client now needs [`settle`](Shard::settle); after a plain echo it
    /// does not, which saves a look-up per message.
    fn read(&mut self, key: Key) -> bool {
        let id = self.id(key);
        // One look-up for the whole loop: the fields are borrowed apart.
        let Self {
            clients,
            buf,
            handler,
            stats,
            config,
            ready,
            cx,
            idle_ticks,
            ..
        } = self;
        let Some(client) = clients.get_mut(key) else {
            return false;
        };
        if (idle_ticks.is_some() || client.io.idle != IDLE_INHERITED) && client.io.is_open() {
            // Re-arming the idle timer is this store: the timer looks at it
            // when it fires, and sets itself again if the client was active.
            // Only while open: closing or lingering, `clock` holds the close
            // deadline, which input must not overwrite.
            client.io.clock = cx.now_tick() as u32;
        }
        let mut budget = config.read_budget;
        loop {
            if !client.io.is_open() {
                // Failed: `settle` closes it; closing: drop its input below.
                if client.io.failure().is_some() {
                    return true;
                }
                break;
            }
            // Past the high-water mark `settle` pauses the client; stop now
            // so one wakeup cannot queue a whole read budget beyond it.
            // Paced (`shard/pacing.rs`): read again once credit is back.
            if client.io.reading_stopped() || client.io.out.len() > config.output_high_water {
                return true;
            }
            match client.io.stream.read(buf) {
                Ok(0) => {
                    client.io.begin_close(CloseReason::PeerClosed);
                    return true;
                }
                Ok(n) => {
                    stats.bytes_in += n as u64;
                    let emptied =
                        client.io.stream.emptied_by(n, buf.len()) && !client.io.read_closed();
                    cx.enter(Activity::OnData);
                    let mut context = ShardContext::new(cx);
                    hand_input(handler, &mut context, client, id, &buf[..n], stats, config);
                    // A short read emptied the socket: on Linux, epoll raises
                    // a new edge for any byte that arrives after it, so the
                    // read that would only say WouldBlock is skipped (as
                    // tokio does). The hang-up case reads on to the EOF, and
                    // a layered transport (TLS) reads on to WouldBlock.
                    if emptied {
                        return !client.io.is_quiet();
                    }
                    budget = budget.saturating_sub(n);
                    // Requests the callback made through the context are
                    // applied before the next callback (the caller does it
                    // on return), as documented; the rest of the input is
                    // read after that, from the ready list.
                    if budget == 0 || !cx.deferred.is_empty() {
                        ready.push(key);
                        return !client.io.is_quiet();
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return !client.io.is_quiet(),
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    client.io.fail(CloseReason::from_io(&err));
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
            let unsettled = self.read(key);
            self.apply_then_settle(key, unsettled);
        }
        // Keys queued while reading stay; the vector's memory is reused.
        ready.append(&mut self.ready);
        self.ready = ready;
    }

    /// Hands a client's first application data, which came with its PROXY
    /// header, to the handler (right after `on_connect`).
    pub(super) fn hand_first_input(&mut self, key: Key, data: &[u8]) {
        let id = self.id(key);
        let Self {
            clients,
            handler,
            stats,
            config,
            cx,
            ..
        } = self;
        let Some(client) = clients.get_mut(key) else {
            return;
        };
        if !client.io.is_open() {
            return; // the handler closed it in `on_connect`
        }
        let mut context = ShardContext::new(cx);
        hand_input(handler, &mut context, client, id, data, stats, config);
        self.settle(key);
        self.apply_deferred();
    }

    /// Tells the handler a client's output fell below the low-water mark.
    pub(super) fn notify_drain(&mut self, key: Key) {
        let id = self.id(key);
        let limit = self.config.output_limit;
        if let Some(client) = self.clients.get_mut(key) {
            let mut conn = Conn::new(id, &mut client.io, limit, &mut self.stats, 0);
            self.cx.enter(Activity::OnDrain);
            let mut cx = ShardContext::new(&mut self.cx);
            self.handler.on_drain(&mut cx, &mut conn, &mut client.state);
        }
    }
}

/// Hands `fresh` bytes (after any carried input) to the handler and keeps
/// what it does not consume.
// Once per read, on the hottest path: always inlined into `read` (with a
// second caller, `hand_first_input`, LLVM stopped inlining it: 23 more
// instructions per echoed message under callgrind).
#[inline(always)]
fn hand_input<H: Handler>(
    handler: &mut H,
    cx: &mut ShardContext<'_>,
    client: &mut Client<H::State>,
    id: ConnId,
    fresh: &[u8],
    stats: &mut ShardStats,
    config: &Config,
) {
    let io = &mut client.io;
    if io.input.is_empty() {
        // The common case: the handler reads straight from the shard's
        // buffer, and only a partial message is copied (and allocated).
        let mut conn = Conn::new(id, io, config.output_limit, stats, 0);
        let verdict = handler.on_data(cx, &mut conn, &mut client.state, fresh);
        let rest = unconsumed(&mut client.io, verdict, fresh);
        // Commands a paced publisher's handler left (`cx.paced()`) may
        // pass the limit by up to this read: they are handed back.
        if rest.len() > config.input_limit && client.io.is_open() && !cx.paced() {
            // (A client the handler closed keeps its graceful close.)
            client.io.fail(CloseReason::InputOverflow);
        } else if !rest.is_empty() {
            client.io.input.extend(rest);
        }
        return;
    }
    let mut input = io.input.take();
    let carried = input.len();
    input.extend_from_slice(fresh);
    let mut conn = Conn::new(id, io, config.output_limit, stats, carried);
    let verdict = handler.on_data(cx, &mut conn, &mut client.state, &input);
    let rest = unconsumed(&mut client.io, verdict, &input).len();
    if rest > config.input_limit && client.io.is_open() && !cx.paced() {
        client.io.fail(CloseReason::InputOverflow);
        input.clear();
    } else {
        input.drain(..input.len() - rest);
    }
    // Always put back: an empty rest frees the box `take` left.
    client.io.input.put(input);
}

/// The bytes `on_data` left unconsumed; a close consumes everything.
pub(super) fn unconsumed<'d>(
    io: &mut crate::core::client::ClientIo,
    verdict: Verdict,
    data: &'d [u8],
) -> &'d [u8] {
    match verdict {
        Verdict::Consumed(consumed) => &data[consumed.min(data.len())..],
        Verdict::Close => {
            io.begin_close(CloseReason::Handler);
            &[]
        }
    }
}
