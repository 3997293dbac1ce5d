//! Compressing and inflating one message (RFC 7692 section 7.2): raw
//! deflate, flushed with a sync flush whose `00 00 FF FF` tail is left
//! off the wire and put back before inflating.
//!
//! Inflating reads untrusted input, so it is bounded: the output never
//! grows past the limit plus one byte, however small the input (a
//! "decompression bomb" fails with 1009 having allocated at most that).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::websocket::close::{ProtocolError, INVALID_PAYLOAD, MESSAGE_TOO_BIG};

/// The empty stored block a sync flush ends with: taken off each
/// compressed message by the sender, put back by the receiver.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The first room made for inflated output; it doubles from there.
const FIRST_ROOM: usize = 1024;

/// The error for a message that inflates past the limit.
const TOO_BIG: ProtocolError =
    ProtocolError::new(MESSAGE_TOO_BIG, "message inflates past the limit");

/// The error for bytes that are not a deflate stream.
const MALFORMED: ProtocolError = ProtocolError::new(INVALID_PAYLOAD, "malformed deflate data");

/// Compresses messages: one zlib-rs deflate stream, reset after every
/// message unless it keeps its context.
pub struct Deflater {
    /// The stream.
    compress: Compress,
    /// Keep the LZ77 window from one message to the next.
    keep_context: bool,
}

impl Deflater {
    /// A compressor at `level` (0 to 9) with a window of `2^window_bits`
    /// bytes (9 to 15).
    pub fn new(level: u32, window_bits: u8, keep_context: bool) -> Self {
        Self {
            compress: Compress::new_with_window_bits(Compression::new(level), false, window_bits),
            keep_context,
        }
    }

    /// Compresses `data` into `out` (cleared first), as a permessage-deflate
    /// payload (without the sync flush's tail). Returns `false` if the
    /// stream failed, which zlib only does for a misused stream; the
    /// stream is reset (an empty window, which any peer's inflater
    /// follows) and the caller sends `data` uncompressed.
    pub fn deflate(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        out.reserve(data.len() / 2 + 64);
        let start = self.compress.total_in();
        loop {
            let taken = usize::try_from(self.compress.total_in() - start).unwrap_or(data.len());
            let input = data.get(taken..).unwrap_or_default();
            if self
                .compress
                .compress_vec(input, out, FlushCompress::Sync)
                .is_err()
            {
                self.compress.reset();
                return false;
            }
            let done = self.compress.total_in() - start == data.len() as u64;
            // Room left over: the flush is complete.
            if done && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if !self.keep_context {
            self.compress.reset();
        }
        true
    }
}

/// Inflates messages: one zlib-rs inflate stream, reset after every
/// message unless it keeps its context.
pub struct Inflater {
    /// The stream.
    decompress: Decompress,
    /// Keep the LZ77 window from one message to the next.
    keep_context: bool,
}

impl Inflater {
    /// An inflater for a peer whose window is at most `2^window_bits`
    /// bytes (9 to 15).
    pub fn new(window_bits: u8, keep_context: bool) -> Self {
        Self {
            decompress: Decompress::new_with_window_bits(false, window_bits),
            keep_context,
        }
    }

    /// Inflates one message's payload (its frames' payloads joined,
    /// unmasked) into `out` (cleared first), which never grows past
    /// `limit + 1` bytes.
    ///
    /// # Errors
    ///
    /// 1009 when the message inflates past `limit` bytes, 1007 when
    /// `compressed` is not a deflate stream; the stream is reset either
    /// way.
    pub fn inflate(
        &mut self,
        compressed: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        out.clear();
        let result = self.feed(compressed, limit, out).and_then(|ended| {
            if ended {
                Ok(true)
            } else {
                self.feed(&TAIL, limit, out)
            }
        });
        match result {
            // A final block ends the stream: the next message starts a
            // new one, whatever the context.
            Ok(ended) if ended || !self.keep_context => self.decompress.reset(false),
            Ok(_) => {}
            Err(_) => self.decompress.reset(false),
        }
        result.map(|_| ())
    }

    /// Feeds all of `input` to the stream, `out` growing by doubling up to
    /// `limit + 1`; `Ok(true)` if the stream ended (a final block).
    fn feed(
        &mut self,
        input: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, ProtocolError> {
        let start = self.decompress.total_in();
        let cap = limit.saturating_add(1);
        loop {
            if out.len() == out.capacity() {
                if out.len() >= cap {
                    return Err(TOO_BIG);
                }
                let room = out.capacity().max(FIRST_ROOM).min(cap - out.len());
                out.reserve_exact(room);
            }
            let taken = usize::try_from(self.decompress.total_in() - start).unwrap_or(input.len());
            let rest = input.get(taken..).unwrap_or_default();
            let status = self
                .decompress
                .decompress_vec(rest, out, FlushDecompress::Sync)
                .map_err(|_| MALFORMED)?;
            if out.len() > limit {
                return Err(TOO_BIG);
            }
            let done = self.decompress.total_in() - start == input.len() as u64;
            match status {
                Status::StreamEnd => return Ok(true),
                // All in, and room left: nothing more is pending.
                _ if done && out.len() < out.capacity() => return Ok(false),
                // No progress with room to spare and input left: stuck.
                Status::BufError if out.len() < out.capacity() => return Err(MALFORMED),
                _ => {}
            }
        }
    }
}
