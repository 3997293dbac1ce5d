//! permessage-deflate (RFC 7692): negotiated at the handshake
//! ([`negotiate_deflate`]), then each data message may be compressed
//! (RSV1 set on its first frame).
//!
//! By default neither side keeps a deflate context between messages, so
//! a connection holds none: the shard's compressors and inflater
//! ([`ShardDeflate`]) are lent to one message at a time, and a message
//! for many subscribers is compressed once per shard. Context takeover
//! ([`DeflateConfig::context_takeover`]) gives each connection its own
//! ([`Contexts`]), for better compression at a cost in memory.

mod codec;
mod config;
mod offer;
mod shard;

pub use codec::{Deflater, Inflater};
pub use config::{DeflateConfig, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
pub use offer::{negotiate_deflate, Agreed};
pub use shard::{Contexts, Lent, ShardDeflate};
