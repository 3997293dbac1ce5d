//! `Conn`: what a handler sees of one client during a callback.

use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

use bytes::Bytes;

use crate::core::client::ClientIo;
use crate::hub::close_reason::CloseReason;
use crate::hub::id::ConnId;
use crate::hub::stats::ShardStats;
use crate::net::stream;
use crate::proxy::ProxyInfo;
use crate::tls::TlsInfo;

/// One client, as a handler callback sees it: its id, and ways to reply or
/// close.
///
/// Replies are written straight to the socket; only what the kernel does not
/// take is queued, and the shard flushes it when the socket becomes writable.
/// A `Conn` lives only for one callback; keep the [`ConnId`] to reach the
/// client later (through [`ShardContext`](crate::ShardContext) on its shard,
/// or [`ServerHandle`](crate::ServerHandle) from any thread).
pub struct Conn<'a> {
    /// The client's id.
    id: ConnId,
    /// The shard's record of the client's socket and buffers.
    io: &'a mut ClientIo,
    /// `Config::output_limit`.
    output_limit: usize,
    /// The shard's counters: bytes written and queued.
    stats: &'a mut ShardStats,
    /// Bytes at the front of the current `on_data` input that earlier calls
    /// left unconsumed.
    carried: usize,
    /// In `on_connect`, for a connection that came with a PROXY header.
    proxy: Option<&'a ProxyInfo>,
    /// In `on_connect`, for a TLS client: what its handshake agreed on.
    tls: Option<&'a TlsInfo>,
}

impl<'a> Conn<'a> {
    /// Wraps a client for one callback.
    pub(crate) fn new(
        id: ConnId,
        io: &'a mut ClientIo,
        output_limit: usize,
        stats: &'a mut ShardStats,
        carried: usize,
    ) -> Self {
        Self {
            id,
            io,
            output_limit,
            stats,
            carried,
            proxy: None,
            tls: None,
        }
    }

    /// The same, for `on_connect` of a connection that came with a PROXY
    /// header.
    pub(crate) fn with_proxy(self, proxy: Option<&'a ProxyInfo>) -> Self {
        Self { proxy, ..self }
    }

    /// The same, for `on_connect` of a TLS client.
    pub(crate) fn with_tls(self, tls: Option<&'a TlsInfo>) -> Self {
        Self { tls, ..self }
    }

    /// In `on_connect`, for a client of a TLS listener
    /// ([`Config::tls`](crate::Config::tls)): the TLS version and cipher,
    /// the ALPN protocol, whether the session was resumed, and the
    /// client's verified certificate identity, if it presented one. Keep
    /// what you need in the client's state: later callbacks see `None`
    /// (an idle client keeps no copy).
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls
    }

    /// The client's id, valid from any thread until the client closes.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// In `on_data`: how many bytes at the front of `data` were already
    /// presented by an earlier call and left unconsumed. New bytes start at
    /// this offset, so a framer need only scan from here.
    pub fn carried(&self) -> usize {
        self.carried
    }

    /// In `on_connect`, with [`Config::proxy_protocol`](crate::Config::proxy_protocol)
    /// on: how the client came through its proxy, that is the proxy's own
    /// address and the header it sent (whose source address is the `peer`
    /// `on_connect` was given). `None` in every other callback, and for
    /// servers without the PROXY protocol: a handler that needs it later
    /// keeps what it needs in its state.
    pub fn proxy(&self) -> Option<&ProxyInfo> {
        self.proxy
    }

    /// Bytes queued for this client that the kernel has not taken yet.
    pub fn queued(&self) -> usize {
        self.io.out.len()
    }

    /// Sends a copy of `data`.
    ///
    /// A socket error, or queued output passing `output_limit`, closes the
    /// client after the callback returns (`on_close` says why); sends after
    /// that are dropped.
    #[inline(always)] // the echo path: see `ClientIo::send`
    pub fn send(&mut self, data: &[u8]) {
        self.io.send(data, self.output_limit, self.stats);
    }

    /// Sends a shared buffer: what the kernel does not take at once is
    /// queued by reference, so one payload sent to many clients is never
    /// copied per client. A `Vec<u8>` or `String` converts without a copy.
    #[inline]
    pub fn send_bytes(&mut self, data: impl Into<Bytes>) {
        self.io
            .send_bytes(data.into(), self.output_limit, self.stats);
    }

    /// Closes the client once what was sent so far is delivered, as
    /// [`Verdict::Close`](crate::Verdict::Close) does; no more input is handed
    /// to the handler (what arrives is read and dropped).
    pub fn close(&mut self) {
        self.io.begin_close(CloseReason::Handler);
    }

    /// The client's socket, for reading or setting socket options (with
    /// `socket2::SockRef`, say); `None` for a client whose bytes do not
    /// travel on a socket (in [`esockets::testing`](crate::testing)).
    /// Reading, writing or closing it behind the shard's back breaks the
    /// connection.
    pub fn socket(&self) -> Option<BorrowedFd<'_>> {
        self.io.socket()
    }

    /// The client's address as its socket says (one system call: for
    /// logs of rare events, not per message); `None` without a socket.
    /// Behind a proxy this is the proxy's; `on_connect` is given the
    /// client's.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.io.socket().and_then(stream::peer_of)
    }

    /// The client's own idle timeout setting (`core::client::IDLE_*`).
    pub(crate) fn idle(&self) -> u32 {
        self.io.idle
    }

    /// The wheel tick of the client's last input (while tracked).
    pub(crate) fn last_input(&self) -> u32 {
        self.io.clock
    }

    /// Whether the client is on its way out (closing or failed).
    pub fn is_closing(&self) -> bool {
        !self.io.is_open()
    }
}
