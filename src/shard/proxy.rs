//! The PROXY protocol on the shard: a connection from a trusted proxy
//! waits here, unknown to the handler, until its header is complete; then
//! it becomes a client whose `peer` is the real client's address.
//!
//! Only reached when `Config::proxy_protocol` is on: accepting tests that
//! flag once, and a connection awaiting its header has a token no client
//! has (bit 31 of the slot index set), so its events take the path of a
//! stale client token and cost the clients' hot path nothing.

use std::io::ErrorKind;
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::Shard;
use crate::core::context::TimerTask;
use crate::core::slots::Key;
use crate::core::wheel::TimerKey;
use crate::handler::Handler;
use crate::net::stream;
use crate::proxy::{parse, Command, Header, Invalid, Parse, ProxyInfo};

/// Set in the slot index of a token that names a connection awaiting its
/// header: client slot indices never reach it (two billion clients).
const AWAITING_BIT: u32 = 1 << 31;

/// A connection from a trusted proxy whose PROXY header is not complete.
pub(super) struct Awaiting {
    /// The socket, registered under the awaiting token.
    stream: TcpStream,
    /// The proxy's address (the TCP peer).
    peer: SocketAddr,
    /// The header's bytes so far, when one read did not bring it whole.
    partial: Vec<u8>,
    /// The header deadline in the shard's wheel.
    timer: TimerKey,
}

/// Why a connection is closed before the handler saw it.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// The peer is not in `proxy_trusted`.
    Untrusted,
    /// Not a valid PROXY header.
    Invalid(Invalid),
    /// No complete header within `proxy_timeout`.
    TimedOut {
        /// Header bytes that had arrived.
        received: usize,
    },
}

/// The poll token of the awaiting connection `key`.
fn token(key: Key) -> Token {
    Token(
        Key {
            index: key.index | AWAITING_BIT,
            generation: key.generation,
        }
        .to_token(),
    )
}

impl<H: Handler> Shard<H> {
    /// A new connection while the PROXY protocol is on: refused at once if
    /// its peer is not trusted, else registered to await its header, for
    /// `proxy_timeout` at most.
    // Out of line: `admit` stays as small as it was without the feature.
    #[cold]
    #[inline(never)]
    pub(super) fn await_header(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        let ip = peer.ip().to_canonical();
        if !self
            .config
            .proxy_trusted
            .iter()
            .any(|net| net.contains(&ip))
        {
            return self.refuse_proxied(stream, peer, Refusal::Untrusted);
        }
        let key = self.awaiting.next_key();
        if let Err(err) = self
            .poll
            .registry()
            .register(&mut stream, token(key), Interest::READABLE)
        {
            return self.registration_failed(peer, &err);
        }
        let deadline = self.cx.deadline_after(self.config.proxy_timeout);
        let timer = self
            .cx
            .wheel
            .insert(deadline, TimerTask::AwaitingHeader(key));
        self.awaiting.insert(Awaiting {
            stream,
            peer,
            partial: Vec::new(),
            timer,
        });
    }

    /// A readiness event whose token names no client: a client closed
    /// earlier in this round, or a connection awaiting its header, whose
    /// input is read and parsed. `read_closed`: the event reported the
    /// peer's end of stream or an error.
    // Out of line and cold: `client_event`, on the echo path, only calls it
    // when a token misses the client table.
    #[cold]
    #[inline(never)]
    pub(super) fn awaiting_event(&mut self, token: Key, read_closed: bool) {
        if token.index & AWAITING_BIT == 0 {
            return; // a client closed earlier in this round
        }
        let key = Key {
            index: token.index & !AWAITING_BIT,
            generation: token.generation,
        };
        loop {
            let Some(waiting) = self.awaiting.get_mut(key) else {
                return;
            };
            let n = match stream::read(&waiting.stream, &mut self.buf) {
                Ok(0) => {
                    return self.drop_awaiting(key, "closed before its PROXY header was complete")
                }
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    return self.drop_awaiting(key, "failed before its PROXY header was complete")
                }
            };
            self.stats.bytes_in += n as u64;
            let fresh = &self.buf[..n];
            let parsed = if waiting.partial.is_empty() {
                parse(fresh) // the usual case: the header came in one read
            } else {
                waiting.partial.extend_from_slice(fresh);
                parse(&waiting.partial)
            };
            match parsed {
                Parse::Incomplete => {
                    if waiting.partial.is_empty() {
                        waiting.partial.extend_from_slice(fresh);
                    }
                    // Bounded: a header is at most 16 + 65535 bytes, and
                    // the parser says `Invalid` past its limit.
                    if n < self.buf.len() && !read_closed {
                        return; // drained: the next byte raises an edge
                    }
                }
                Parse::Done { header, consumed } => {
                    let first = if waiting.partial.is_empty() {
                        fresh[consumed..].to_vec() // empty: no allocation
                    } else {
                        waiting.partial.drain(..consumed);
                        std::mem::take(&mut waiting.partial)
                    };
                    return self.header_complete(key, header, first, read_closed);
                }
                Parse::Invalid(why) => {
                    let Some(waiting) = self.remove_awaiting(key) else {
                        return;
                    };
                    return self.refuse_proxied(
                        waiting.stream,
                        waiting.peer,
                        Refusal::Invalid(why),
                    );
                }
            }
        }
    }

    /// The header is complete: the connection becomes a client, the
    /// handler's `on_connect` sees the real client, and `first` (the bytes
    /// after the header) goes to `on_data`.
    fn header_complete(&mut self, key: Key, header: Header, first: Vec<u8>, read_closed: bool) {
        let Some(waiting) = self.remove_awaiting(key) else {
            return;
        };
        self.stats.proxy_headers += 1;
        if header.command == Command::Local {
            self.stats.proxy_local += 1;
        }
        let info = ProxyInfo {
            proxy: waiting.peer,
            header,
        };
        if self.config.tls.is_some() {
            // The header first, then the handshake: `first` is the start
            // of the ClientHello.
            let client = info.client();
            return self.begin_handshake(waiting.stream, client, Some(info), first);
        }
        let Some(client) = self.open(waiting.stream, info.client(), Some(&info)) else {
            return;
        };
        if !first.is_empty() {
            self.hand_first_input(client, &first);
        }
        if let Some(open) = self.clients.get_mut(client) {
            if read_closed {
                open.io.mark_read_closed();
            }
            // The read that completed the header may have left more in the
            // socket (or its end), and no new edge will say so.
            self.ready.push(client);
        }
    }

    /// The header deadline of an awaiting connection passed.
    pub(super) fn header_timed_out(&mut self, key: Key, timer: TimerKey) {
        let Some(waiting) = self.awaiting.get_mut(key) else {
            return;
        };
        if waiting.timer != timer {
            return;
        }
        waiting.timer = TimerKey::NONE; // fired: nothing to cancel
        if let Some(waiting) = self.remove_awaiting(key) {
            let received = waiting.partial.len();
            self.refuse_proxied(waiting.stream, waiting.peer, Refusal::TimedOut { received });
        }
    }

    /// Closes every connection still awaiting its header (at shutdown:
    /// the handler never knew them, and owes them nothing).
    pub(super) fn drop_all_awaiting(&mut self) {
        for key in self.awaiting.keys() {
            self.drop_awaiting(
                key,
                "closed at shutdown before its PROXY header was complete",
            );
        }
    }

    /// Number of connections awaiting their header.
    pub(super) fn awaiting_len(&self) -> usize {
        self.awaiting.len()
    }

    /// Takes an awaiting connection out, its deadline cancelled.
    fn remove_awaiting(&mut self, key: Key) -> Option<Awaiting> {
        let waiting = self.awaiting.remove(key)?;
        if !waiting.timer.is_none() {
            self.cx.wheel.cancel(waiting.timer);
        }
        Some(waiting)
    }

    /// Closes an awaiting connection that went away or broke by itself:
    /// the proxy's doing, not counted as a refusal.
    fn drop_awaiting(&mut self, key: Key, what: &str) {
        if let Some(waiting) = self.remove_awaiting(key) {
            self.cx.handle.hub().release_connection();
            tracing::debug!(shard = self.index, peer = %waiting.peer, "connection {what}");
        }
    }

    /// Closes a connection the handler never saw, counts it, and says why
    /// (one line per kind per second at most).
    fn refuse_proxied(&mut self, stream: TcpStream, peer: SocketAddr, why: Refusal) {
        drop(stream);
        self.cx.handle.hub().release_connection();
        self.stats.refused += 1;
        let now = self.cx.now();
        match why {
            Refusal::Untrusted => {
                self.stats.proxy_untrusted += 1;
                if let Some(suppressed) = self.warnings.proxy_untrusted.allow(now) {
                    tracing::warn!(
                        shard = self.index,
                        %peer,
                        suppressed,
                        "refusing a connection from a peer that is not a trusted proxy \
                         (--proxy-trusted): with the PROXY protocol on, only proxies may connect"
                    );
                }
            }
            Refusal::Invalid(invalid) => {
                self.stats.proxy_invalid += 1;
                if let Some(suppressed) = self.warnings.proxy_invalid.allow(now) {
                    tracing::warn!(
                        shard = self.index,
                        %peer,
                        suppressed,
                        "closing a connection from a proxy: invalid PROXY header: {invalid}"
                    );
                }
            }
            Refusal::TimedOut { received } => {
                self.stats.proxy_timeouts += 1;
                if let Some(suppressed) = self.warnings.proxy_timeout.allow(now) {
                    tracing::warn!(
                        shard = self.index,
                        %peer,
                        received,
                        suppressed,
                        "closing a connection from a proxy: no complete PROXY header within {:?} \
                         (--proxy-timeout)",
                        self.config.proxy_timeout
                    );
                }
            }
        }
    }
}
