//! Accepting clients, refusing them politely at the limits, and backing
//! off when the process runs out of files.

use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Interest, Token};

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

/// How long accepting pauses after the process ran out of descriptors or
/// memory and no client could be refused instead: long enough not to spin
/// on a full accept queue, short enough that clients barely notice once
/// descriptors free up.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What to do about an `accept` error.
pub(crate) enum AcceptError {
    /// The one client failed (it reset before we took it, say): go on.
    Client,
    /// The process is out of descriptors: refuse a client with the spare.
    OutOfDescriptors,
    /// The system is out of a resource: pause accepting.
    Resources,
}

/// Sorts an `accept` error, as actix-server does, into one that concerns
/// only the client and one that concerns the whole process.
///
/// `EPERM`/`EACCES` (a security module's accept hook) come before the
/// client is taken off the queue, so they would repeat for ever: they
/// pause accepting like a resource error instead of spinning.
pub(crate) fn classify(err: &io::Error) -> AcceptError {
    match err.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => AcceptError::OutOfDescriptors,
        Some(libc::ENOBUFS | libc::ENOMEM) => AcceptError::Resources,
        _ if matches!(
            err.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
        ) =>
        {
            AcceptError::Client
        }
        Some(libc::EPROTO | libc::ENETDOWN | libc::ENOPROTOOPT | libc::EHOSTDOWN) => {
            AcceptError::Client
        }
        _ => AcceptError::Resources,
    }
}

/// What lending the spare descriptor achieved.
enum Spared {
    /// A waiting client was accepted into the spare's number and refused.
    Refused,
    /// Nobody was waiting.
    QueueEmpty,
    /// Another thread took the lent number first, or holds it in a refusal
    /// of its own: try again (a few times).
    Raced,
    /// Accepting failed otherwise, or the spare cannot be had: pause.
    Failed,
}

/// How many times in a row a shard tries again when another thread took
/// the lent spare's number, before it pauses accepting: enough to ride out
/// a refusal in flight on another shard, few enough not to spin when the
/// number went to something else (a file the handler opened).
const SPARE_RETRIES: usize = 2;

/// Why a client is refused before the handler sees it.
#[derive(Clone, Copy)]
pub(super) enum Refusal {
    /// `max_connections` clients are open.
    AtLimit,
    /// The process has no descriptor left.
    OutOfDescriptors,
}

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

    /// At `EMFILE`: lends the server's spare descriptor to accept one
    /// waiting client into its number and refuse it at once, then takes
    /// the spare back into the number the client freed. Says what came of
    /// it.
    ///
    /// With several shards another shard may take the lent number first:
    /// then this accept fails again (`Raced`), while that shard refuses the
    /// client it got and takes the spare back into its number (see
    /// [`Spare`](crate::net::fds::Spare)).
    fn refuse_with_spare(&mut self) -> Spared {
        let Some(listener) = &self.listener else {
            return Spared::Failed;
        };
        let Some(accepted) = self.cx.handle.hub().spare().lend(|| listener.accept()) else {
            // Not held, and no number free to take it: another shard's
            // refusal may hold one for a moment.
            return Spared::Raced;
        };
        let outcome = match accepted {
            Ok((stream, peer)) => {
                self.refuse(stream, peer, Refusal::OutOfDescriptors);
                Spared::Refused
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => Spared::QueueEmpty,
            Err(err) if matches!(classify(&err), AcceptError::OutOfDescriptors) => Spared::Raced,
            Err(_) => Spared::Failed,
        };
        // The refused client is closed: its number becomes the spare again.
        self.cx.handle.hub().spare().restore();
        outcome
    }

    /// Stops accepting for a while: the process or system is out of a
    /// resource and no client could be refused instead.
    fn pause_accept(&mut self, err: &io::Error) {
        self.stats.accept_pauses += 1;
        let now = self.cx.now();
        if let Some(suppressed) = self.warnings.out_of_resources.allow(now) {
            tracing::warn!(
                shard = self.index,
                %err,
                open = self.clients.len(),
                suppressed,
                "cannot accept more clients now; pausing accept for {} ms",
                ACCEPT_BACKOFF.as_millis()
            );
        }
        self.deadlines.pause_accept(now + ACCEPT_BACKOFF);
    }

    /// Resumes accepting after a pause: takes the spare back first.
    pub(super) fn resume_accept(&mut self) {
        self.cx.handle.hub().spare().restore();
        self.accept();
    }

    /// Closes a client the server cannot take, after the refuse message.
    pub(super) fn refuse(&mut self, mut stream: TcpStream, peer: SocketAddr, why: Refusal) {
        self.stats.refused += 1;
        self.stats.over_limit += 1;
        if let Some(message) = &self.config.refuse_message {
            // Best effort: a new socket's send buffer takes a short message
            // whole; if not, the client just sees the close.
            let _ = stream.write(message);
        }
        drop(stream);
        let now = self.cx.now();
        if let Some(suppressed) = self.warnings.refused.allow(now) {
            let max = self.cx.handle.max_connections();
            match why {
                Refusal::AtLimit => tracing::warn!(
                    shard = self.index,
                    %peer,
                    max_connections = max,
                    suppressed,
                    "refusing clients: the connection limit is reached"
                ),
                Refusal::OutOfDescriptors => tracing::warn!(
                    shard = self.index,
                    %peer,
                    suppressed,
                    "refusing clients: the process is out of file descriptors (raise the open-file limit, or lower --max-connections)"
                ),
            }
        }
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
        self.start(Stream::Socket(stream), peer, proxy)
    }

    /// Counts a client whose stream is ready (registered, if it is a
    /// socket) and runs `on_connect` with `peer`. Returns the client's key
    /// if the handler accepted it.
    pub(crate) fn start(
        &mut self,
        stream: Stream,
        peer: SocketAddr,
        proxy: Option<&ProxyInfo>,
    ) -> Option<Key> {
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
        let mut conn = Conn::new(id, &mut client.io, limit, &mut self.stats, 0).with_proxy(proxy);
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
