//! `Conn`: what a handler sees of one client during a callback.

use crate::connection::Connection;
use crate::handler::CloseReason;
use crate::id::ConnId;

/// One client, as a handler callback sees it: its id, and ways to reply or
/// close.
///
/// Replies are written straight to the socket; only what the kernel does not
/// take is queued, and the shard flushes it when the socket becomes writable.
/// A `Conn` lives only for one callback; keep the [`ConnId`] to reach the
/// client later (from any thread, through
/// [`ServerHandle::send`](crate::ServerHandle::send)).
pub struct Conn<'a> {
    /// The client's id.
    id: ConnId,
    /// The shard's record of the client.
    inner: &'a mut Connection,
    /// `Config::output_limit`.
    output_limit: usize,
    /// The shard's output byte counter.
    bytes_out: &'a mut u64,
    /// Bytes at the front of the current `on_data` input that earlier calls
    /// left unconsumed.
    carried: usize,
}

impl<'a> Conn<'a> {
    /// Wraps a connection for one callback.
    pub(crate) fn new(
        id: ConnId,
        inner: &'a mut Connection,
        output_limit: usize,
        bytes_out: &'a mut u64,
        carried: usize,
    ) -> Self {
        Self {
            id,
            inner,
            output_limit,
            bytes_out,
            carried,
        }
    }

    /// The client's id, valid from any thread until the client closes.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// In `on_data`: how many bytes at the front of `data` were already
    /// presented by an earlier call and left unconsumed. New bytes start at
    /// this offset, so a framer need only scan from here.
    pub fn carried(&self) -> usize {
        self.carried
    }

    /// Bytes queued for this client that the kernel has not taken yet.
    pub fn queued(&self) -> usize {
        self.inner.out.len()
    }

    /// Sends a copy of `data`.
    ///
    /// A socket error, or queued output passing `output_limit`, closes the
    /// client after the callback returns (`on_close` says why); sends after
    /// that are dropped.
    pub fn send(&mut self, data: &[u8]) {
        *self.bytes_out += self.inner.send(data, self.output_limit) as u64;
    }

    /// Sends `data`, queueing the buffer itself (no copy) if the kernel does
    /// not take it all at once.
    pub fn send_vec(&mut self, data: Vec<u8>) {
        *self.bytes_out += self.inner.send_vec(data, self.output_limit) as u64;
    }

    /// Closes the client once what was sent so far is delivered, as
    /// [`Verdict::Close`](crate::Verdict::Close) does; no more input is read.
    pub fn close(&mut self) {
        self.inner.begin_close(CloseReason::Handler);
    }

    /// Whether the client is on its way out (closing or failed).
    pub fn is_closing(&self) -> bool {
        self.inner.closing.is_some() || self.inner.failed.is_some()
    }
}
