//! One client's state on its shard: socket, queued output, unconsumed input.

use std::io::{self, Write};

use mio::net::TcpStream;

use crate::handler::CloseReason;
use crate::outqueue::OutQueue;

/// One client connection as its shard holds it.
///
/// An idle connection owns no heap memory: both buffers are empty `Vec`s
/// until a partial write or a partial message needs them, and are released
/// again once drained.
pub(crate) struct Connection {
    /// The socket, registered with the shard's poll.
    pub(crate) stream: TcpStream,
    /// Output the kernel did not take yet.
    pub(crate) out: OutQueue,
    /// Input the handler did not consume yet.
    pub(crate) input: Vec<u8>,
    /// WRITABLE interest is registered (only while `out` is not empty).
    pub(crate) writable_interest: bool,
    /// Reading stopped because `out` passed the high-water mark.
    pub(crate) paused: bool,
    /// The peer's end-of-stream (or hang-up) was seen in an event; read
    /// until the socket reports it.
    pub(crate) read_closed: bool,
    /// Closing gracefully for this reason: no more reading, close once `out`
    /// is flushed or the drain deadline passes.
    pub(crate) closing: Option<CloseReason>,
    /// Output is flushed and FIN sent; what the client still sends is read
    /// and dropped until its end of stream (a lingering close).
    pub(crate) lingering: bool,
    /// A drain deadline was set for the graceful close.
    pub(crate) drain_scheduled: bool,
    /// Broken or over a limit: close at once, for this reason.
    pub(crate) failed: Option<CloseReason>,
}

impl Connection {
    /// A freshly accepted client.
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            out: OutQueue::default(),
            input: Vec::new(),
            writable_interest: false,
            paused: false,
            read_closed: false,
            closing: None,
            lingering: false,
            drain_scheduled: false,
            failed: None,
        }
    }

    /// Whether nothing about the connection needs the shard's attention:
    /// open, reading, nothing queued, no WRITABLE interest.
    pub(crate) fn is_quiet(&self) -> bool {
        self.out.is_empty()
            && !self.writable_interest
            && !self.paused
            && self.closing.is_none()
            && self.failed.is_none()
    }

    /// Whether the connection should not be read from.
    pub(crate) fn reading_stopped(&self) -> bool {
        self.paused || self.closing.is_some() || self.failed.is_some()
    }

    /// Sends `data`: straight to the socket while nothing is queued, and
    /// queues only what the kernel did not take. Returns the bytes written
    /// now. Marks the connection failed on a socket error or when the queue
    /// would pass `output_limit`.
    pub(crate) fn send(&mut self, data: &[u8], output_limit: usize) -> usize {
        let written = self.write_direct(data);
        let rest = &data[written..];
        if !rest.is_empty() && self.room_for(rest.len(), output_limit) {
            self.out.push_slice(rest);
        }
        written
    }

    /// Like [`send`](Self::send), but queues `data` without copying it when
    /// the kernel does not take it all at once.
    pub(crate) fn send_vec(&mut self, mut data: Vec<u8>, output_limit: usize) -> usize {
        let written = self.write_direct(&data);
        if written < data.len() && self.room_for(data.len() - written, output_limit) {
            data.drain(..written);
            self.out.push_vec(data);
        }
        written
    }

    /// Writes to the socket if nothing is queued ahead (order must hold).
    fn write_direct(&mut self, data: &[u8]) -> usize {
        if self.failed.is_some() || self.lingering || !self.out.is_empty() || data.is_empty() {
            return 0;
        }
        loop {
            match self.stream.write(data) {
                Ok(n) => return n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return 0,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(CloseReason::from_io(&e));
                    return 0;
                }
            }
        }
    }

    /// Whether `extra` more bytes may be queued; marks the connection as
    /// overflowed when not.
    fn room_for(&mut self, extra: usize, output_limit: usize) -> bool {
        // After FIN nothing more can be sent; the bytes are dropped.
        if self.failed.is_some() || self.lingering {
            return false;
        }
        if self.out.len() + extra > output_limit {
            self.fail(CloseReason::OutputOverflow);
            return false;
        }
        true
    }

    /// Writes queued output. Returns the bytes written; marks the
    /// connection failed on a socket error.
    pub(crate) fn flush(&mut self) -> usize {
        match self.out.write_to(&mut self.stream) {
            Ok(n) => n,
            Err(e) => {
                self.fail(CloseReason::from_io(&e));
                0
            }
        }
    }

    /// Starts a graceful close (the first reason wins).
    pub(crate) fn begin_close(&mut self, reason: CloseReason) {
        self.closing.get_or_insert(reason);
    }

    /// Marks the connection for closing at once (the first reason wins).
    pub(crate) fn fail(&mut self, reason: CloseReason) {
        self.failed.get_or_insert(reason);
    }
}
