//! Where a connection's compression happens: with the shard's
//! compressors, borrowed for one message (no context takeover, the
//! default), or with the connection's own (context takeover, made at its
//! first compressed message).

use crate::websocket::build::unmask_into;
use crate::websocket::close::ProtocolError;
use crate::websocket::deflate::codec::{Deflater, Inflater};
use crate::websocket::deflate::config::{DeflateConfig, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
use crate::websocket::deflate::offer::Agreed;
use crate::websocket::message::Inflate;

/// The windows a shard may compress with: 9 to 15 bits.
const WINDOWS: usize = (MAX_WINDOW_BITS - MIN_WINDOW_BITS + 1) as usize;

/// One shard's compressors and inflater, lent to one message at a time,
/// each made the first time it is needed (so a server that never
/// compresses pays nothing).
pub struct ShardDeflate {
    /// The settings.
    config: DeflateConfig,
    /// One compressor per window size, index `bits - 9`.
    deflaters: [Option<Deflater>; WINDOWS],
    /// Inflates every connection's messages (a 32 KiB window takes any).
    inflater: Option<Inflater>,
    /// Where a compressed message waits between its two steps.
    pub(crate) staging: Vec<u8>,
}

/// A connection's own contexts, under context takeover: each made at its
/// first message in that direction.
#[derive(Default)]
pub struct Contexts {
    /// Compresses what the server sends.
    deflater: Option<Deflater>,
    /// Inflates what the client sends.
    inflater: Option<Inflater>,
}

impl std::fmt::Debug for Contexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contexts")
            .field("deflater", &self.deflater.is_some())
            .field("inflater", &self.inflater.is_some())
            .finish()
    }
}

impl ShardDeflate {
    /// A shard's compression under `config`, nothing allocated yet.
    pub fn new(config: DeflateConfig) -> Self {
        Self {
            config,
            deflaters: Default::default(),
            inflater: None,
            staging: Vec::new(),
        }
    }

    /// Compresses `data` into `out` for a connection with `agreed` (and
    /// its `contexts` under server context takeover). `false`: send it
    /// uncompressed (shorter than `min_size`). A message that does not
    /// shrink is sent compressed all the same (a few bytes more): every
    /// message from `min_size` on is compressed, which some clients
    /// count on (kosoku, the Autobahn runner, fails on uncompressed
    /// messages where it negotiated compression).
    pub fn deflate(
        &mut self,
        agreed: &Agreed,
        contexts: Option<&mut Contexts>,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        if data.len() < self.config.min_size {
            return false;
        }
        let level = self.config.level;
        let bits = agreed.server_window_bits;
        match contexts {
            Some(own) if agreed.server_takeover => own
                .deflater
                .get_or_insert_with(|| Deflater::new(level, bits, true))
                .deflate(data, out),
            _ => self.shared(bits).deflate(data, out),
        }
    }

    /// Compresses `data` for every subscriber whose window is
    /// `window_bits`, with the shard's compressor for it; `false` as for
    /// [`deflate`](Self::deflate).
    pub fn deflate_shared(&mut self, window_bits: u8, data: &[u8], out: &mut Vec<u8>) -> bool {
        data.len() >= self.config.min_size && self.shared(window_bits).deflate(data, out)
    }

    /// Inflates one message from a connection with `agreed` (and its
    /// `contexts` under client context takeover) into `out`, at most
    /// `limit` bytes.
    ///
    /// # Errors
    ///
    /// As [`Inflater::inflate`]: 1009 past `limit`, 1007 for bad data.
    pub fn inflate(
        &mut self,
        agreed: &Agreed,
        contexts: Option<&mut Contexts>,
        compressed: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        match contexts {
            Some(own) if agreed.client_takeover => {
                let bits = agreed.client_window_bits.max(MIN_WINDOW_BITS);
                own.inflater
                    .get_or_insert_with(|| Inflater::new(bits, true))
                    .inflate(compressed, limit, out)
            }
            _ => self
                .inflater
                .get_or_insert_with(|| Inflater::new(MAX_WINDOW_BITS, false))
                .inflate(compressed, limit, out),
        }
    }

    /// The shard's compressor for `window_bits` (clamped to 9 to 15).
    fn shared(&mut self, window_bits: u8) -> &mut Deflater {
        let bits = window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        let level = self.config.level;
        self.deflaters[usize::from(bits - MIN_WINDOW_BITS)]
            .get_or_insert_with(|| Deflater::new(level, bits, false))
    }
}

/// The shard's compression lent to one connection for one message: the
/// [`Inflate`] its assembler calls.
pub struct Lent<'a> {
    /// The shard's compression.
    pub shard: &'a mut ShardDeflate,
    /// What the connection agreed.
    pub agreed: Agreed,
    /// The connection's own contexts, under context takeover.
    pub contexts: Option<&'a mut Contexts>,
}

impl Inflate for Lent<'_> {
    fn inflate(
        &mut self,
        compressed: &[u8],
        mask: Option<[u8; 4]>,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        let mut staging = std::mem::take(&mut self.shard.staging);
        let input = match mask {
            Some(_) => {
                staging.clear();
                unmask_into(&mut staging, compressed, mask);
                &staging[..]
            }
            None => compressed,
        };
        let contexts = self.contexts.as_deref_mut();
        let result = self
            .shard
            .inflate(&self.agreed, contexts, input, limit, out);
        self.shard.staging = staging;
        result
    }
}
