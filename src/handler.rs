//! The callbacks a service implements, and what they return.

use std::io;
use std::net::SocketAddr;

use crate::conn::Conn;
use crate::handle::ServerHandle;
use crate::id::ConnId;

/// What a shard's factory is told when it makes the shard's handler.
#[derive(Clone, Debug)]
pub struct ShardContext {
    /// Index of the shard, `0..threads`.
    pub index: usize,
    /// The core the shard is pinned to, if pinning is on and succeeded.
    pub core: Option<usize>,
    /// A handle to the whole server: send to any client by id, read
    /// counters, shut down.
    pub handle: ServerHandle,
}

/// `on_connect`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Serve the client.
    Accept,
    /// Close the client at once; `on_close` is not called for it.
    Refuse,
}

/// `on_data`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep the connection. The number is how many bytes from the front of
    /// the data were consumed; the rest stays in the connection's buffer and
    /// is presented again, with the next bytes appended, on the next call.
    Keep(usize),
    /// Close the connection once the output queued so far is delivered (or
    /// the drain timeout passes). No more input is read.
    Close,
}

/// Why a connection was closed, as told to [`Handler::on_close`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed its side (end of stream) and its output was flushed.
    PeerClosed,
    /// The client reset the connection, or it broke (`ECONNRESET`, `EPIPE`).
    Reset,
    /// The handler asked for it ([`Verdict::Close`] or [`Conn::close`]).
    Handler,
    /// The server closed it via [`ServerHandle::close`].
    Server,
    /// Queued output would have passed `output_limit`.
    OutputOverflow,
    /// Unconsumed input passed `input_limit`.
    InputOverflow,
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

/// A service: the callbacks one shard runs for its clients.
///
/// One handler instance exists per shard, made on the shard's own thread by
/// the factory given to [`Server::bind`](crate::Server::bind), so a handler
/// needs neither `Send` nor locks. Every callback runs on that thread and
/// must not block: it holds up every client of the shard.
///
/// Only [`on_data`](Handler::on_data) is required.
///
/// # Examples
///
/// ```
/// use esockets::{Conn, Handler, Verdict};
///
/// /// Replies to every chunk of input with its length.
/// struct Count;
///
/// impl Handler for Count {
///     fn on_data(&mut self, conn: &mut Conn<'_>, data: &[u8]) -> Verdict {
///         conn.send(format!("{}\n", data.len()).as_bytes());
///         Verdict::Keep(data.len())
///     }
/// }
/// ```
pub trait Handler {
    /// Runs once on the shard thread before the first client.
    fn on_start(&mut self) {}

    /// A client connected from `peer`. The handler may greet it through
    /// `conn`, or refuse it.
    fn on_connect(&mut self, conn: &mut Conn<'_>, peer: SocketAddr) -> Decision {
        let _ = (conn, peer);
        Decision::Accept
    }

    /// Input arrived. `data` holds every byte not consumed yet: what earlier
    /// calls left ([`Conn::carried`] says how much), then the new bytes.
    fn on_data(&mut self, conn: &mut Conn<'_>, data: &[u8]) -> Verdict;

    /// The connection's queued output fell to the low-water mark after
    /// passing the high-water mark; reading from it has resumed.
    fn on_drain(&mut self, conn: &mut Conn<'_>) {
        let _ = conn;
    }

    /// The connection is gone; `id` will never be used again.
    fn on_close(&mut self, id: ConnId, reason: CloseReason) {
        let _ = (id, reason);
    }

    /// Runs once on the shard thread after its last client is closed at
    /// shutdown.
    fn on_shutdown(&mut self) {}
}
