//! The seam between a client and what carries its bytes.
//!
//! A shard's per-client core (`core/client.rs`) never names a socket: it
//! reads, writes and half-closes through [`Stream`]. In a running server
//! that is the kernel socket, called directly (the hot path pays one
//! well-predicted branch for the seam). Anything else that carries bytes,
//! an in-memory pipe in [`esockets::testing`](crate::testing), a TLS
//! session or a compressor over another transport, is a [`Transport`] and
//! travels boxed, so the client record stays as small as it was.

use std::io::{self, IoSlice, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use mio::event::Source;
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::stream;

/// A carrier of one client's bytes, as the shard uses it: non-blocking,
/// so every call either makes progress or says
/// [`WouldBlock`](io::ErrorKind::WouldBlock).
///
/// Layers that transform bytes (TLS, compression) implement it over an
/// inner transport; [`esockets::testing`](crate::testing) implements it in
/// memory.
pub(crate) trait Transport {
    /// Reads what has arrived into `buf`: `Ok(0)` at the end of stream.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing has arrived; any other error breaks the
    /// connection.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes what it can of `data`, returning how much.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing can be taken now; any other error breaks
    /// the connection.
    fn write(&mut self, data: &[u8]) -> io::Result<usize>;

    /// Writes what it can of `bufs`, in order, returning how much. By
    /// default the first non-empty buffer only.
    ///
    /// # Errors
    ///
    /// As for [`write`](Self::write).
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => self.write(buf),
            None => Ok(0),
        }
    }

    /// Ends the writing side (a TCP FIN): the peer reads its end of stream
    /// once everything written before has arrived.
    ///
    /// # Errors
    ///
    /// The connection is already broken.
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Writes what the transport holds of what it already took (a TLS
    /// record the socket took only part of).
    ///
    /// # Errors
    ///
    /// `WouldBlock` while some is left; any other error breaks the
    /// connection.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Whether the transport holds output it took and has not passed on:
    /// the shard then waits for the socket to be writable, as it does for
    /// its own queue.
    fn pending(&self) -> bool {
        false
    }

    /// Bytes written that the peer has not acknowledged yet (`SIOCOUTQ`
    /// for a socket): a lingering close waits for 0.
    ///
    /// # Errors
    ///
    /// The connection is broken.
    fn unacknowledged(&self) -> io::Result<usize>;

    /// The socket underneath, if there is one: what the shard registers
    /// with its poll, and what [`Conn::socket`](crate::Conn::socket)
    /// lends for socket options. `None` in memory.
    fn socket(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

/// What carries one client's bytes: the kernel socket itself, or a
/// [`Transport`] of another kind.
pub(crate) enum Stream {
    /// A TCP socket, called directly.
    Socket(TcpStream),
    /// Any other transport.
    Layered(Box<dyn Transport>),
}

impl Stream {
    /// Reads what has arrived, with `read(2)` for a socket.
    #[inline(always)]
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Socket(socket) => stream::read(socket, buf),
            Self::Layered(transport) => transport.read(buf),
        }
    }

    /// Ends the writing side.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Self::Socket(socket) => socket.shutdown(Shutdown::Write),
            Self::Layered(transport) => transport.shutdown_write(),
        }
    }

    /// Whether a read that filled less than its buffer has emptied what
    /// carries the bytes, so the next byte raises a new poll edge: yes
    /// for a socket; no for a layered transport, which hands out a TLS
    /// record's plaintext at a time and may hold more, or have left more
    /// in its socket, with no edge to come.
    #[inline(always)]
    pub(crate) fn short_read_empties(&self) -> bool {
        matches!(self, Self::Socket(_))
    }

    /// Whether the transport holds output it took and has not passed on
    /// (never, for a socket).
    #[inline(always)]
    pub(crate) fn pending(&self) -> bool {
        match self {
            Self::Socket(_) => false,
            Self::Layered(transport) => transport.pending(),
        }
    }

    /// Bytes written and not acknowledged yet.
    pub(crate) fn unacknowledged(&self) -> io::Result<usize> {
        match self {
            Self::Socket(socket) => stream::unacknowledged(socket),
            Self::Layered(transport) => transport.unacknowledged(),
        }
    }

    /// The socket underneath, if any.
    pub(crate) fn socket(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Self::Socket(socket) => Some(socket.as_fd()),
            Self::Layered(transport) => transport.socket(),
        }
    }

    /// Registers the socket underneath, if any, with the poll (a
    /// transport in memory has nothing to register).
    pub(crate) fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.with_source(|source| registry.register(source, token, interest))
    }

    /// Changes the poll interest of the socket underneath, if any.
    pub(crate) fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.with_source(|source| registry.reregister(source, token, interest))
    }

    /// Runs `f` on what the poll watches for this stream: the socket, or
    /// the one under a layered transport; nothing for one in memory.
    fn with_source(&mut self, f: impl FnOnce(&mut dyn Source) -> io::Result<()>) -> io::Result<()> {
        match self {
            Self::Socket(socket) => f(socket),
            Self::Layered(transport) => match transport.socket() {
                Some(fd) => f(&mut SourceFd(&fd.as_raw_fd())),
                None => Ok(()),
            },
        }
    }
}

impl Write for Stream {
    #[inline(always)]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Self::Socket(socket) => stream::send(socket, data),
            Self::Layered(transport) => transport.write(data),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Socket(socket) => stream::send_vectored(socket, bufs),
            Self::Layered(transport) => transport.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Socket(_) => Ok(()),
            Self::Layered(transport) => transport.flush(),
        }
    }
}

/// A `Stream` is a transport too, so a layer (TLS, say) can be written
/// over whatever carries the bytes underneath: `Tls<Stream>` over a socket
/// in production, over a testing pipe in memory.
impl Transport for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Stream::read(self, buf)
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        Write::write(self, data)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Write::write_vectored(self, bufs)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        Stream::shutdown_write(self)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(self)
    }

    fn pending(&self) -> bool {
        Stream::pending(self)
    }

    fn unacknowledged(&self) -> io::Result<usize> {
        Stream::unacknowledged(self)
    }

    fn socket(&self) -> Option<BorrowedFd<'_>> {
        Stream::socket(self)
    }
}
