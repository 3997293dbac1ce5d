//! permessage-deflate's untrusted input: `esockets::websocket::Inflater`
//! on any bytes as a compressed message, and `negotiate_deflate` on any
//! text as an offer.
//!
//! Inflating, under a limit taken from the first bytes: no panic; never
//! an allocation past the limit and one byte (a bomb fails with 1009
//! before it is inflated); a success holds at most the limit, and the
//! same bytes inflate to the same output again (the stream was reset)
//! and under a larger limit; a 1009 stays a 1009 or becomes a success
//! only under a larger limit, never at or under this one; a 1007 stays a
//! 1007 under any limit. And the output, compressed again by the
//! server's deflater, inflates back to itself. Negotiating: no panic, and
//! an accepted offer's windows are within the configured ones.

use esockets::websocket::{
    negotiate_deflate, DeflateConfig, Deflater, Inflater, INVALID_PAYLOAD, MAX_WINDOW_BITS,
    MESSAGE_TOO_BIG, MIN_WINDOW_BITS,
};

use crate::alloc::largest_allocation;
use crate::Input;

/// Checks the inflater, then the offer parser, on `data`.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let limit = usize::from(input.u16());
    let bits = MIN_WINDOW_BITS + input.byte() % (MAX_WINDOW_BITS - MIN_WINDOW_BITS + 1);
    let rest = input.rest();
    check_inflate(rest, limit);
    if let Ok(text) = std::str::from_utf8(rest) {
        let config = DeflateConfig {
            max_window_bits: bits,
            context_takeover: limit & 1 != 0,
            ..DeflateConfig::default()
        };
        if let Some((agreed, response)) = negotiate_deflate(text.split('\n'), &config) {
            assert!(agreed.server_window_bits >= MIN_WINDOW_BITS);
            assert!(agreed.server_window_bits <= bits);
            assert!(agreed.client_window_bits <= MAX_WINDOW_BITS);
            assert!(response.starts_with("permessage-deflate"));
            assert!(!agreed.server_takeover || config.context_takeover);
        }
    }
}

/// The inflater's invariants on `compressed` under `limit`.
fn check_inflate(compressed: &[u8], limit: usize) {
    let mut inflater = Inflater::new(MAX_WINDOW_BITS, false);
    // zlib-rs allocates its window at the first output: made here, not
    // counted against the message.
    let mut out = Vec::new();
    inflater
        .inflate(&[0x4B, 0x04, 0x00], 16, &mut out)
        .expect("a one-byte message inflates");
    let mut out = Vec::new();
    let (result, largest) = largest_allocation(|| inflater.inflate(compressed, limit, &mut out));
    assert!(
        largest.is_none_or(|size| size <= limit + 1),
        "allocated {largest:?} for a limit of {limit}"
    );
    let mut again = Vec::new();
    let larger = inflater.inflate(compressed, limit * 2 + 1, &mut again);
    match result {
        Ok(()) => {
            assert!(out.len() <= limit);
            assert_eq!(larger, Ok(()));
            assert_eq!(again, out, "the same bytes again, after a reset");
            let mut deflater = Deflater::new(1, MAX_WINDOW_BITS, false);
            let mut recompressed = Vec::new();
            assert!(deflater.deflate(&out, &mut recompressed));
            inflater
                .inflate(&recompressed, limit, &mut again)
                .expect("our own deflate inflates");
            assert_eq!(again, out);
        }
        Err(err) if err.code == MESSAGE_TOO_BIG => match larger {
            Ok(()) => assert!(again.len() > limit, "{} bytes fit {limit}", again.len()),
            Err(err) => assert!(matches!(err.code, MESSAGE_TOO_BIG | INVALID_PAYLOAD)),
        },
        Err(err) => {
            assert_eq!(err.code, INVALID_PAYLOAD);
            assert!(larger.is_err_and(|e| e.code == INVALID_PAYLOAD));
        }
    }
}
