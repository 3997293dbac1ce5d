//! Why a client was closed.

use std::io;

/// Why a connection was closed, as told to
/// [`Handler::on_close`](crate::Handler::on_close).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed its side (end of stream); its output was flushed
    /// (or the close deadline passed first).
    PeerClosed,
    /// The client reset the connection, or it broke (`ECONNRESET`, `EPIPE`).
    Reset,
    /// The handler asked for it ([`Verdict::Close`],
    /// [`Conn::close`](crate::Conn::close) or
    /// [`ShardContext::close`](crate::ShardContext::close)).
    Handler,
    /// Another thread closed it via
    /// [`ServerHandle::close`](crate::ServerHandle::close).
    Server,
    /// Queued output would have passed `output_limit`.
    OutputOverflow,
    /// Unconsumed input passed `input_limit`.
    InputOverflow,
    /// Nothing arrived from the client for `idle_timeout`.
    IdleTimeout,
    /// The server shut down.
    Shutdown,
    /// Any other socket error.
    Error(io::ErrorKind),
}

impl CloseReason {
    /// Sorts a socket error: resets and broken pipes are the client's doing,
    /// anything else is an error worth a look.
    pub(crate) fn from_io(err: &io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Self::Reset,
            kind => Self::Error(kind),
        }
    }
}
