//! permessage-deflate (RFC 7692) for `--ws-deflate`: the offer, the
//! server's answer read, and each message compressed or inflated (raw
//! deflate, the sync flush's `00 00 FF FF` tail off the wire). loadgen
//! offers no context takeover either way, as the esockets server asks by
//! default; a server that keeps its context is followed.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The offer sent with the upgrade request.
pub const OFFER: &str =
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

/// The tail a sync flush ends with.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// What the server's `Sec-WebSocket-Extensions` answer agreed: whether
/// the server keeps its context (so the inflater must keep one too).
/// `Err` for an answer that is not permessage-deflate or has a parameter
/// loadgen did not offer or cannot follow.
pub fn read_answer(value: &str) -> Result<bool, String> {
    let mut parts = value.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|name| name.eq_ignore_ascii_case("permessage-deflate"))
    {
        return Err(format!("server chose an extension not offered: {value}"));
    }
    let mut server_keeps = true;
    for param in parts {
        let (name, _) = param.split_once('=').unwrap_or((param, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => server_keeps = false,
            // Honoured already: loadgen resets after every message, and a
            // 32 KiB inflater takes any smaller window.
            "client_no_context_takeover" | "server_max_window_bits" => {}
            _ => return Err(format!("permessage-deflate parameter not offered: {param}")),
        }
    }
    Ok(server_keeps)
}

/// One connection's compressor and inflater.
pub struct Codec {
    compress: Compress,
    decompress: Decompress,
    /// The server keeps its context: so does the inflater.
    server_keeps: bool,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Codec {{ server_keeps: {} }}", self.server_keeps)
    }
}

impl Codec {
    /// A codec for a server that keeps its context or not.
    pub fn new(server_keeps: bool) -> Self {
        Self {
            compress: Compress::new(Compression::fast(), false),
            decompress: Decompress::new(false),
            server_keeps,
        }
    }

    /// Appends `data` compressed to `out` (a fresh context each time).
    pub fn deflate(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let start = self.compress.total_in();
        out.reserve(data.len() / 2 + 64);
        loop {
            let taken = (self.compress.total_in() - start) as usize;
            self.compress
                .compress_vec(&data[taken..], out, FlushCompress::Sync)
                .map_err(|e| format!("deflate: {e}"))?;
            if self.compress.total_in() - start == data.len() as u64 && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        self.compress.reset();
        Ok(())
    }

    /// Inflates a whole compressed message into `out` (cleared first), at
    /// most `limit` bytes.
    pub fn inflate(&mut self, data: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        let result = self.feed(data, limit, out).and_then(|ended| {
            if ended {
                Ok(true)
            } else {
                self.feed(&TAIL, limit, out)
            }
        });
        if !self.server_keeps || !matches!(result, Ok(false)) {
            self.decompress.reset(false);
        }
        result.map(drop)
    }

    /// Feeds `input` to the inflater; `Ok(true)` at the stream's end.
    fn feed(&mut self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<bool, String> {
        let start = self.decompress.total_in();
        loop {
            if out.len() == out.capacity() {
                if out.len() > limit {
                    return Err(format!("message inflates past {limit} bytes"));
                }
                out.reserve(out.capacity().max(1024));
            }
            let taken = (self.decompress.total_in() - start) as usize;
            let status = self
                .decompress
                .decompress_vec(&input[taken..], out, FlushDecompress::Sync)
                .map_err(|e| format!("bad deflate data from the server: {e}"))?;
            if out.len() > limit {
                return Err(format!("message inflates past {limit} bytes"));
            }
            let done = self.decompress.total_in() - start == input.len() as u64;
            match status {
                Status::StreamEnd => return Ok(true),
                _ if done && out.len() < out.capacity() => return Ok(false),
                Status::BufError if out.len() < out.capacity() => {
                    return Err("bad deflate data from the server: stuck".into())
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_and_answers_are_read() {
        let mut codec = Codec::new(false);
        let data = b"{\"hello\":\"world\"} ".repeat(50);
        let mut compressed = Vec::new();
        codec.deflate(&data, &mut compressed).unwrap();
        assert!(compressed.len() < data.len() / 4);
        let mut out = Vec::new();
        codec.inflate(&compressed, data.len(), &mut out).unwrap();
        assert_eq!(out, data);
        assert!(codec
            .inflate(&compressed, data.len() - 1, &mut out)
            .is_err());
        assert_eq!(
            read_answer(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
            ),
            Ok(false)
        );
        assert_eq!(read_answer("permessage-deflate"), Ok(true));
        assert!(read_answer("permessage-deflate; client_max_window_bits=10").is_err());
        assert!(read_answer("x-other").is_err());
    }
}
