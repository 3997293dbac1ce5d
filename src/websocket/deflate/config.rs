//! The settings of permessage-deflate (RFC 7692): whether the server
//! accepts it, how hard it compresses, which windows it takes, and
//! whether a connection keeps its deflate context between messages.

use crate::error::ConfigError;

/// The smallest LZ77 window (as a power of two) the server compresses
/// with: zlib, and so zlib-rs, cannot make raw deflate with a 256-byte
/// window (8 bits), so an offer that asks for one is declined.
pub const MIN_WINDOW_BITS: u8 = 9;

/// The largest LZ77 window, 32 KiB: deflate's own limit.
pub const MAX_WINDOW_BITS: u8 = 15;

/// How the server takes part in permessage-deflate, when it does
/// ([`WsConfig::deflate`](crate::websocket::WsConfig::deflate)).
///
/// # Examples
///
/// ```
/// use esockets::websocket::{DeflateConfig, WsConfig};
///
/// let ws = WsConfig {
///     deflate: Some(DeflateConfig { level: 6, ..DeflateConfig::default() }),
///     ..WsConfig::default()
/// };
/// assert!(ws.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// zlib's compression level, 0 (stored, no compression) to 9 (the
    /// smallest output, the most CPU). Default 1: on a 1 KiB JSON message
    /// it saves about 70 % of the bytes at a third of the CPU level 6
    /// takes (docs/tuning.md).
    pub level: u32,
    /// The largest LZ77 window, as a power of two (9 to 15): the server
    /// compresses with at most this (less if the client's offer asks for
    /// less) and asks clients that can be asked to use at most this.
    /// Default 15 (32 KiB).
    pub max_window_bits: u8,
    /// Messages shorter than this, in bytes, go uncompressed: deflate
    /// saves nothing on a few bytes and costs a reset. Default 128.
    pub min_size: usize,
    /// Keep each connection's deflate and inflate context from one
    /// message to the next (better compression of similar messages), at
    /// a cost per connection of roughly 300 KiB once it has sent and
    /// received a compressed message (docs/tuning.md). Off (the default):
    /// the server asks for `server_no_context_takeover` and
    /// `client_no_context_takeover`, and every compressor and
    /// decompressor is the shard's, borrowed for one message, so an idle
    /// connection costs only a few bytes more than without compression,
    /// and a message for many subscribers is compressed once per shard.
    pub context_takeover: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            level: 1,
            max_window_bits: MAX_WINDOW_BITS,
            min_size: 128,
            context_takeover: false,
        }
    }
}

impl DeflateConfig {
    /// Checks every value.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first bad field (`deflate_level`,
    /// `deflate_max_window_bits`) and why.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.level > 9 {
            return Err(ConfigError {
                field: "deflate_level",
                reason: format!("must be 0 to 9, got {}", self.level),
            });
        }
        if !(MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&self.max_window_bits) {
            return Err(ConfigError {
                field: "deflate_max_window_bits",
                reason: format!(
                    "must be {MIN_WINDOW_BITS} to {MAX_WINDOW_BITS}, got {}",
                    self.max_window_bits
                ),
            });
        }
        Ok(())
    }
}
