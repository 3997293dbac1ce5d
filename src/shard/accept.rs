//! Accepting clients and their first steps: socket options, the poll,
//! `on_connect`. The limits on accepting are in `limits.rs`.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::limits::{classify, AcceptError, Refusal, Spared, SPARE_RETRIES};
use super::Shard;
use crate::core::client::Client;
use crate::core::slots::Key;
use crate::handler::context::ShardContext;
use crate::handler::outcome::Admission;
use crate::handler::{Conn, Handler};
use crate::hub::heartbeat::Activity;
use crate::net::transport::Stream;
use crate::net::{listener, stream};
use crate::proxy::ProxyInfo;
use crate::tls::TlsInfo;

impl<H: Handler> Shard<H> {
    /// Accepts waiting clients, up to the accept budget.
    pub(super) fn accept(&mut self) {
        self.accept_pending = !self.accept_some(self.config.accept_budget);
    }

    /// Accepts the clients waiting in the listener's queue now, however
    /// many: run before the listener closes at shutdown, so no client
    /// queued in it is reset.
    ///
    /// Only those: accepting until the queue is empty never ended while
    /// clients kept arriving faster than the handler took them (the shard
    /// accepted, and allocated, for ever). A client that arrives meanwhile
    /// is left, as it would be had it come just after the close. Where the
    /// queue length cannot be read, at most a backlog's worth (what the
    /// queue can hold).
    pub(super) fn accept_all(&mut self) {
        let queued = self
            .listener
            .as_ref()
            .and_then(|listener| listener::queued(listener).ok());
        let most = queued.unwrap_or_else(|| {
            usize::try_from(self.config.backlog)
                .unwrap_or(usize::MAX)
                .saturating_add(1)
        });
        // Out of descriptors, accepting pauses and the rest cannot be taken.
        self.accept_some(most);
    }

    /// Accepts up to `budget` clients; returns whether the queue was
    /// emptied (or accepting cannot go on now).
    fn accept_some(&mut self, budget: usize) -> bool {
        if self.deadlines.accept_paused(self.cx.now()) {
            return true;
        }
        let mut retries = 0;
        for _ in 0..budget {
            let Some(listener) = &self.listener else {
                return true;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    if self.cx.handle.hub().spare().is_missing() {
                        // Another thread lent the spare (or lost it) and
                        // this client took its number: refused, so the
                        // number becomes the spare again.
                        self.refuse(stream, peer, Refusal::OutOfDescriptors);
                        self.cx.handle.hub().spare().restore();
                    } else if self.cx.handle.hub().reserve_connection() {
                        if self.set_up(&stream, peer) {
                            self.admit(stream, peer);
                        }
                    } else {
                        self.refuse(stream, peer, Refusal::AtLimit);
                    }
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return true,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => match classify(&err) {
                    AcceptError::Client => {
                        tracing::debug!(shard = self.index, %err, "accept failed for one client");
                    }
                    AcceptError::OutOfDescriptors => match self.refuse_with_spare() {
                        Spared::Refused => retries = 0,
                        Spared::Raced if retries < SPARE_RETRIES => retries += 1,
                        // `accept` reports EMFILE before it looks at the
                        // queue: nobody was waiting after all. Edge-triggered
                        // polling wakes us for the next client; no pause.
                        Spared::QueueEmpty => return true,
                        Spared::Raced | Spared::Failed => {
                            self.pause_accept(&err);
                            return true;
                        }
                    },
                    AcceptError::Resources => {
                        self.pause_accept(&err);
                        return true;
                    }
                },
            }
        }
        false
    }

    /// Sets a new client's socket options; if that fails, drops it and
    /// gives back its place. Returns whether the client can be admitted.
    fn set_up(&mut self, stream: &TcpStream, peer: SocketAddr) -> bool {
        match stream::set_up(stream, self.config.nodelay) {
            Ok(()) => true,
            Err(err) => {
                tracing::debug!(shard = self.index, %peer, %err, "cannot set TCP_NODELAY; dropping client");
                self.cx.handle.hub().release_connection();
                false
            }
        }
    }

    /// Admits a new client (its socket options set): asks the handler
    /// about it; with the PROXY protocol on, first awaits its header.
    pub(super) fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        if self.config.proxy_protocol {
            return self.await_header(stream, peer);
        }
        if self.config.tls.is_some() {
            return self.begin_handshake(stream, peer, None, Vec::new());
        }
        self.open(stream, peer, None);
    }

    /// Registers a client with the poll, counts it and runs `on_connect`
    /// with `peer`. `proxy`: the connection came with a PROXY header and
    /// is already registered (awaiting it), under another token. Returns
    /// the client's key if the handler accepted it.
    pub(super) fn open(
        &mut self,
        mut stream: TcpStream,
        peer: SocketAddr,
        proxy: Option<&ProxyInfo>,
    ) -> Option<Key> {
        let key = self.clients.next_key();
        let token = Token(key.to_token());
        let registry = self.poll.registry();
        let registered = if proxy.is_some() {
            registry.reregister(&mut stream, token, Interest::READABLE)
        } else {
            registry.register(&mut stream, token, Interest::READABLE)
        };
        if let Err(err) = registered {
            self.registration_failed(peer, &err);
            return None;
        }
        self.start(Stream::Socket(stream), peer, proxy, None)
    }

    /// Counts a client whose stream is ready (registered, if it is a
    /// socket) and runs `on_connect` with `peer` (and `tls`, for a client
    /// whose handshake just finished). Returns the client's key if the
    /// handler accepted it.
    pub(crate) fn start(
        &mut self,
        mut stream: Stream,
        peer: SocketAddr,
        proxy: Option<&ProxyInfo>,
        tls: Option<&TlsInfo>,
    ) -> Option<Key> {
        if let Stream::Layered(_) = stream {
            // A layer over a socket registers the socket under it (a TLS
            // session's socket moves from its handshake token); a plain
            // socket was registered by `open`; a transport in memory has
            // nothing to register.
            let token = Token(self.clients.next_key().to_token());
            let registry = self.poll.registry();
            let registered = if tls.is_some() {
                stream.reregister(registry, token, Interest::READABLE)
            } else {
                stream.register(registry, token, Interest::READABLE)
            };
            if let Err(err) = registered {
                self.registration_failed(peer, &err);
                return None;
            }
        }
        let now_tick = self.cx.now_tick() as u32;
        let key = self
            .clients
            .insert(Client::new(stream, H::State::default(), now_tick));
        // Counted once set up: a client dropped above never took service.
        self.stats.accepted += 1;
        self.stats.open += 1;
        let id = self.id(key);
        let limit = self.config.output_limit;
        let client = self.clients.get_mut(key)?;
        let mut conn = Conn::new(id, &mut client.io, limit, &mut self.stats, 0)
            .with_proxy(proxy)
            .with_tls(tls);
        self.cx.enter(Activity::OnConnect);
        let mut cx = ShardContext::new(&mut self.cx);
        let accepted = match self.handler.on_connect(&mut cx, &mut conn, peer) {
            Admission::Accept(state) => {
                client.state = state;
                if let Some(idle) = self.idle_ticks {
                    let at = self.cx.now_tick() + u64::from(idle);
                    self.arm(key, at);
                }
                self.settle(key);
                Some(key)
            }
            Admission::Refuse => {
                // Removing bumps the slot's generation: an id the handler
                // kept from this call can never reach the next client.
                if let Some(client) = self.clients.remove(key) {
                    client.io.forget(&mut self.stats);
                }
                self.unsubscribe_all(key);
                self.cx.handle.hub().release_connection();
                self.stats.open -= 1;
                self.stats.refused += 1;
                self.stats.handler_refused += 1;
                tracing::debug!(shard = self.index, %peer, "client refused by the handler");
                None
            }
        };
        self.apply_deferred();
        accepted
    }

    /// A new connection could not be registered with the poll: dropped,
    /// counted as refused, said once a second at most.
    pub(super) fn registration_failed(&mut self, peer: SocketAddr, err: &io::Error) {
        let now = self.cx.now();
        if let Some(suppressed) = self.warnings.client_failed.allow(now) {
            tracing::warn!(
                shard = self.index,
                %peer,
                %err,
                suppressed,
                "cannot register client with epoll (fs.epoll.max_user_watches?); dropping it"
            );
        }
        self.stats.refused += 1;
        self.cx.handle.hub().release_connection();
    }
}
