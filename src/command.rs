//! Messages from other threads to a shard.

use crate::id::ConnId;

/// Something another thread asks a shard to do; delivered through the
/// shard's channel and its `mio::Waker`.
pub(crate) enum Command {
    /// Send these bytes to this client (dropped if the id is stale).
    Send(ConnId, Vec<u8>),
    /// Close this client gracefully (ignored if the id is stale).
    Close(ConnId),
    /// Stop accepting, drain, close everyone, and end the shard thread.
    Shutdown,
}
