//! Writing to a client, and its backpressure: replies go straight to the
//! transport while nothing is queued; only what it does not take is
//! queued (a shared buffer by reference), up to the output limit; fan-out
//! deliveries are held and flushed once per round. The water marks that
//! pause and resume reading are applied by the shard (`shard/settle.rs`).

use std::io::{self, Write};

use bytes::Bytes;

use super::client::{flag, ClientIo, Phase};
use crate::hub::close_reason::CloseReason;
use crate::hub::stats::ShardStats;

impl ClientIo {
    /// Sends `data`: straight to the socket while nothing is queued, and
    /// queues a copy of what the kernel did not take. Counts the bytes
    /// written in `stats.bytes_out` and those queued in
    /// `stats.queued_out`. Fails the client on a socket error or when the
    /// queue would pass `output_limit`.
    // Every reply goes through here: inlined into the handler's `on_data`
    // (and so into the read loop); the socket write stays out of line.
    #[inline(always)]
    pub(crate) fn send(&mut self, data: &[u8], output_limit: usize, stats: &mut ShardStats) {
        let written = self.write_direct(data);
        stats.bytes_out += written as u64;
        let rest = &data[written..];
        if !rest.is_empty() && self.room_for(rest.len(), output_limit) {
            self.out.push_slice(rest);
            stats.queued_out += rest.len() as u64;
        }
    }

    /// Like [`send`](Self::send), but queues a slice of the shared buffer
    /// instead of a copy.
    pub(crate) fn send_bytes(
        &mut self,
        mut data: Bytes,
        output_limit: usize,
        stats: &mut ShardStats,
    ) {
        let written = self.write_direct(&data);
        stats.bytes_out += written as u64;
        if written < data.len() && self.room_for(data.len() - written, output_limit) {
            let _ = data.split_to(written);
            stats.queued_out += data.len() as u64;
            self.out.push_bytes(data);
        }
    }

    /// Queues a slice of the shared buffer without writing it: deliveries
    /// to many clients are flushed once per client at the end of the
    /// round, however many arrived. Returns whether the client was not
    /// held yet (the caller lists it for that flush).
    pub(crate) fn hold_bytes(
        &mut self,
        data: Bytes,
        output_limit: usize,
        stats: &mut ShardStats,
    ) -> bool {
        if data.is_empty() || !self.room_for(data.len(), output_limit) {
            return false;
        }
        stats.queued_out += data.len() as u64;
        self.out.push_bytes(data);
        let newly = !self.has(flag::HELD);
        self.set(flag::HELD, true);
        newly
    }

    /// Whether the client is on the shard's list of clients to flush.
    pub(crate) fn held(&self) -> bool {
        self.has(flag::HELD)
    }

    /// Puts the client on that list (the caller lists it).
    pub(crate) fn mark_held(&mut self) {
        self.set(flag::HELD, true);
    }

    /// Ends the hold: the caller flushes now.
    pub(crate) fn release(&mut self) {
        self.set(flag::HELD, false);
    }

    /// Writes to the socket if nothing is queued ahead (order must hold).
    fn write_direct(&mut self, data: &[u8]) -> usize {
        if !self.can_send() || !self.out.is_empty() || data.is_empty() {
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

    /// Whether output may still be sent: not after FIN, not once failed.
    #[inline]
    fn can_send(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Closing(_))
    }

    /// Whether `extra` more bytes may be queued; fails the client as
    /// overflowed when not.
    fn room_for(&mut self, extra: usize, output_limit: usize) -> bool {
        if !self.can_send() {
            return false; // dropped: nothing more can be sent
        }
        if self.out.len() + extra > output_limit {
            self.fail(CloseReason::OutputOverflow);
            return false;
        }
        true
    }

    /// Whether output is still on its way to the client: queued here, or
    /// in the kernel's send buffer, not yet acknowledged (`SIOCOUTQ`).
    pub(crate) fn output_in_flight(&self) -> bool {
        self.output_queued() || self.stream.unacknowledged().is_ok_and(|n| n > 0)
    }

    /// Writes queued output, counting it in `stats` (written, and no
    /// longer queued); fails the client on a socket error.
    pub(crate) fn flush(&mut self, stats: &mut ShardStats) {
        if self.stream.pending() {
            // The transport's own first: it holds what it took before.
            match self.stream.flush() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => return self.fail(CloseReason::from_io(&e)),
            }
        }
        match self
            .out
            .write_counted(&mut self.stream, &mut stats.output_writes)
        {
            Ok(n) => {
                stats.bytes_out += n as u64;
                stats.queued_out -= n as u64;
            }
            Err(e) => self.fail(CloseReason::from_io(&e)),
        }
    }
}
