//! One client as its shard holds it: socket, buffers, phase, state.

use std::os::fd::BorrowedFd;

use super::outqueue::OutQueue;
use super::wheel::TimerKey;
use crate::hub::close_reason::CloseReason;
use crate::hub::stats::ShardStats;
use crate::net::transport::Stream;

/// Where a client is in its life. Every client starts `Open`; the others
/// are steps towards the close and never go back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Served: input goes to the handler.
    Open,
    /// Closing gracefully for this reason: input is read and dropped,
    /// queued output is flushed, then the lingering close begins.
    Closing(CloseReason),
    /// Output flushed and FIN sent; input is dropped until the client's end
    /// of stream, its acknowledgement of all our output, or the deadline.
    Lingering(CloseReason),
    /// Broken or over a limit: close at once, for this reason.
    Failed(CloseReason),
}

/// Bit flags of a [`ClientIo`], one byte instead of four `bool`s.
pub(super) mod flag {
    /// WRITABLE interest is registered (only while output is queued).
    pub(crate) const WRITABLE: u8 = 1;
    /// Reading stopped because queued output passed the high-water mark.
    pub(crate) const PAUSED: u8 = 2;
    /// The peer's end of stream (or hang-up) was seen in an event; read
    /// until the socket reports it.
    pub(crate) const READ_CLOSED: u8 = 4;
    /// The close deadline is set: `ClientIo::clock` holds it.
    pub(crate) const DEADLINE_ARMED: u8 = 8;
    /// Deliveries were queued without a write; the client is on the
    /// shard's list of clients to flush at the end of the round.
    pub(crate) const HELD: u8 = 16;
    /// Reading stopped because a publish of the client found a shard
    /// past its fan-out credit (`shard/pacing.rs`).
    pub(crate) const PACED: u8 = 32;
}

/// The socket side of a client: what [`Conn`](crate::Conn) lends a
/// callback.
///
/// An idle client owns no heap memory: both buffers are empty until a
/// partial write or a partial message needs them, and are released again
/// once drained.
pub(crate) struct ClientIo {
    /// What carries the client's bytes: its socket (registered with the
    /// shard's poll), or another transport.
    pub(crate) stream: Stream,
    /// Output the kernel did not take yet.
    pub(crate) out: OutQueue,
    /// Input the handler did not consume yet.
    pub(crate) input: Carry,
    /// Where the client is in its life.
    pub(crate) phase: Phase,
    /// `flag::*` bits.
    flags: u8,
    /// Lingering: how many times the acknowledgement was checked, which
    /// sets the back-off before the next check.
    pub(crate) linger_checks: u8,
    /// Open: wheel tick (ms, wrapping) of the last input, kept while an idle
    /// timeout applies. Closing or lingering: the tick by which the close
    /// must end.
    pub(crate) clock: u32,
    /// The client's own idle timeout, in ms: [`IDLE_INHERITED`] (the
    /// server's), [`IDLE_OFF`], or a timeout set by the handler.
    pub(crate) idle: u32,
}

/// [`ClientIo::idle`]: the server's idle timeout applies.
pub(crate) const IDLE_INHERITED: u32 = 0;

/// [`ClientIo::idle`]: no idle timeout for this client.
pub(crate) const IDLE_OFF: u32 = u32::MAX;

/// Input the handler did not consume yet. Nothing on the heap, and one
/// pointer in the record, between messages: most clients carry nothing,
/// and 16 bytes less per client pay for the transport seam.
// A boxed `Vec` on purpose: one pointer in every client's record instead
// of three words; the second allocation is paid only by partial messages.
#[allow(clippy::box_collection)]
#[derive(Default)]
pub(crate) struct Carry(Option<Box<Vec<u8>>>);

impl Carry {
    /// Whether nothing is carried.
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Appends `data`.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        self.0
            .get_or_insert_with(Box::default)
            .extend_from_slice(data);
    }

    /// Takes what is carried out of its box, which stays (with an empty
    /// `Vec`) until [`put`](Self::put) refills or frees it: a client that
    /// carries partial messages read after read allocates the box once.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.0
            .as_mut()
            .map(|boxed| std::mem::take(&mut **boxed))
            .unwrap_or_default()
    }

    /// Carries `input`, in the box if one is left; nothing (and no heap)
    /// if it is empty.
    pub(crate) fn put(&mut self, input: Vec<u8>) {
        match (&mut self.0, input.is_empty()) {
            (_, true) => self.0 = None,
            (Some(boxed), false) => **boxed = input,
            (None, false) => self.0 = Some(Box::new(input)),
        }
    }
}

/// One client: its socket side, the handler's state for it, and the
/// shard's timer for it.
pub(crate) struct Client<S> {
    /// Socket, buffers, phase.
    pub(crate) io: ClientIo,
    /// The handler's per-connection state.
    pub(crate) state: S,
    /// The shard's one timer for this client (idle check while open, close
    /// deadline while closing, acknowledgement check while lingering), or
    /// `TimerKey::NONE`.
    pub(crate) timer: TimerKey,
}

impl<S> Client<S> {
    /// A freshly accepted client, with its state.
    pub(crate) fn new(stream: Stream, state: S, now_tick: u32) -> Self {
        Self {
            io: ClientIo {
                stream,
                out: OutQueue::default(),
                input: Carry::default(),
                phase: Phase::Open,
                flags: 0,
                linger_checks: 0,
                clock: now_tick,
                idle: IDLE_INHERITED,
            },
            state,
            timer: TimerKey::NONE,
        }
    }
}

impl ClientIo {
    /// The idle timeout that applies to the client, in ms, given the
    /// server's: its own, or the server's, or none.
    #[inline(always)]
    pub(crate) fn idle_timeout(&self, server: Option<u32>) -> Option<u32> {
        match self.idle {
            IDLE_INHERITED => server,
            IDLE_OFF => None,
            own => Some(own),
        }
    }

    /// Whether `bit` is set.
    pub(super) fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }

    /// Sets or clears `bit`.
    pub(super) fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.flags |= bit;
        } else {
            self.flags &= !bit;
        }
    }

    /// Whether WRITABLE interest is registered.
    pub(crate) fn writable_interest(&self) -> bool {
        self.has(flag::WRITABLE)
    }

    /// Records whether WRITABLE interest is registered.
    pub(crate) fn set_writable_interest(&mut self, on: bool) {
        self.set(flag::WRITABLE, on);
    }

    /// Whether reading is paused by backpressure.
    pub(crate) fn paused(&self) -> bool {
        self.has(flag::PAUSED)
    }

    /// Pauses or resumes reading for backpressure.
    pub(crate) fn set_paused(&mut self, on: bool) {
        self.set(flag::PAUSED, on);
    }

    /// Whether reading stopped, for backpressure or pacing: one test of
    /// both bits on the read path.
    #[inline(always)]
    pub(crate) fn reading_stopped(&self) -> bool {
        self.has(flag::PAUSED | flag::PACED)
    }

    /// Stops or resumes reading for pacing (the client published past a
    /// shard's fan-out credit).
    pub(crate) fn set_paced(&mut self, on: bool) {
        self.set(flag::PACED, on);
    }

    /// Whether an event reported the peer's end of stream.
    pub(crate) fn read_closed(&self) -> bool {
        self.has(flag::READ_CLOSED)
    }

    /// Records that an event reported the peer's end of stream.
    pub(crate) fn mark_read_closed(&mut self) {
        self.set(flag::READ_CLOSED, true);
    }

    /// Whether the close deadline is set (in `ClientIo::clock`).
    pub(crate) fn deadline_armed(&self) -> bool {
        self.has(flag::DEADLINE_ARMED)
    }

    /// Records that the close deadline is set.
    pub(crate) fn set_deadline_armed(&mut self) {
        self.set(flag::DEADLINE_ARMED, true);
    }

    /// Whether the client is served (not closing, lingering or failed).
    pub(crate) fn is_open(&self) -> bool {
        // `matches!` tests the tag only; `==` would compare the payload too.
        matches!(self.phase, Phase::Open)
    }

    /// The failure to close for at once, if any.
    pub(crate) fn failure(&self) -> Option<CloseReason> {
        match self.phase {
            Phase::Failed(reason) => Some(reason),
            _ => None,
        }
    }

    /// Whether nothing about the client needs the shard's attention:
    /// open, reading, nothing queued, no WRITABLE interest.
    pub(crate) fn is_quiet(&self) -> bool {
        !self.output_queued() && self.flags & (flag::WRITABLE | flag::PAUSED) == 0 && self.is_open()
    }

    /// Whether output waits for the socket: in the queue, or held by the
    /// transport (a TLS record the socket took only part of).
    #[inline(always)]
    pub(crate) fn output_queued(&self) -> bool {
        !self.out.is_empty() || self.stream.pending()
    }

    /// The client's socket, if its bytes travel on one.
    pub(crate) fn socket(&self) -> Option<BorrowedFd<'_>> {
        self.stream.socket()
    }

    /// Takes the client out of the shard's gauges as it goes: its queued
    /// output and its pause.
    pub(crate) fn forget(&self, stats: &mut ShardStats) {
        stats.queued_out -= self.out.len() as u64;
        if self.paused() {
            stats.paused -= 1;
        }
    }

    /// Starts a graceful close, unless the client is already on its way
    /// out (the first reason wins).
    pub(crate) fn begin_close(&mut self, reason: CloseReason) {
        if self.is_open() {
            self.phase = Phase::Closing(reason);
        }
    }

    /// Marks the client for closing at once (the first failure wins).
    pub(crate) fn fail(&mut self, reason: CloseReason) {
        if self.failure().is_none() {
            self.phase = Phase::Failed(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    /// An idle client's record is what idle memory per connection is
    /// made of: it must not grow unnoticed. In release builds
    /// `mio::net::TcpStream` is one descriptor; debug builds add a
    /// selector id for mio's own checks.
    #[test]
    fn an_idle_client_record_stays_small() {
        let stream = std::mem::size_of::<mio::net::TcpStream>();
        let record = std::mem::size_of::<super::Client<()>>();
        // 88 bytes in release (the slot's generation makes 96, as before
        // per-connection state and timers existed); 104 with debug's
        // larger socket and its padding.
        let limit = if stream == 4 { 88 } else { 104 };
        assert!(
            record <= limit,
            "{record} bytes per client ({stream} of them the socket)"
        );
    }
}
