//! One shard: a thread with its own poll, listener, clients and handler.
//!
//! Only this module calls `Poll::poll`. The shard owns everything it
//! touches, so the hot path takes no lock and shares no cache line with
//! other shards; other threads reach it only through its inbox.

mod accept;
mod close;
mod io;
mod timers;

use std::time::Instant;

use crossbeam::channel::Receiver;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use crate::command::Command;
use crate::config::Config;
use crate::connection::Connection;
use crate::handle::ServerHandle;
use crate::handler::{CloseReason, Handler};
use crate::id::ConnId;
use crate::slots::{Key, Slots};
use crate::stats::ShardStats;

/// Token of the shard's listening socket. Connection tokens pack a slot
/// index and generation (see `Key::to_token`) and never reach these values.
pub(crate) const LISTENER: Token = Token(usize::MAX);
/// Token of the shard's waker (its inbox has commands).
pub(crate) const WAKER: Token = Token(usize::MAX - 1);

/// Events taken from the kernel per `epoll_wait`.
const EVENT_CAPACITY: usize = 1024;

/// The parts of a shard made on the caller's thread by `Server::bind`, so
/// that setup errors come back synchronously.
pub(crate) struct ShardParts {
    /// The shard's own poll, with the listener and waker registered.
    pub(crate) poll: Poll,
    /// The shard's own member of the `SO_REUSEPORT` group.
    pub(crate) listener: TcpListener,
    /// Commands from other threads.
    pub(crate) inbox: Receiver<Command>,
}

/// A running shard.
pub(crate) struct Shard<H> {
    /// Index of this shard.
    index: u16,
    /// The event loop.
    poll: Poll,
    /// The listener; `None` once shutdown began.
    listener: Option<TcpListener>,
    /// Commands from other threads.
    inbox: Receiver<Command>,
    /// Where the counters are published.
    handle: ServerHandle,
    /// The service.
    handler: H,
    /// The server's settings.
    config: Config,
    /// This shard's clients.
    conns: Slots<Connection>,
    /// The one read buffer all clients of the shard share.
    buf: Vec<u8>,
    /// Counters, published once per loop round.
    stats: ShardStats,
    /// Clients with input left after their read budget, or whose reading
    /// just resumed: read them again after the current events.
    ready: Vec<Key>,
    /// Timers: drain deadlines, accept back-off, shutdown.
    timers: timers::Timers,
    /// The accept budget ran out with clients possibly still waiting.
    accept_pending: bool,
    /// Clients in a lingering close whose output is not yet acknowledged.
    lingering: Vec<Key>,
}

impl<H: Handler> Shard<H> {
    /// A shard over its parts.
    pub(crate) fn new(
        index: usize,
        parts: ShardParts,
        handle: ServerHandle,
        handler: H,
        config: Config,
    ) -> Self {
        Self {
            // `Config::validate` caps the thread count at `u16::MAX`.
            index: u16::try_from(index).unwrap_or(u16::MAX),
            poll: parts.poll,
            listener: Some(parts.listener),
            inbox: parts.inbox,
            handle,
            handler,
            buf: vec![0; config.read_buffer],
            config,
            conns: Slots::new(),
            stats: ShardStats::default(),
            ready: Vec::new(),
            timers: timers::Timers::default(),
            accept_pending: false,
            lingering: Vec::new(),
        }
    }

    /// Runs the event loop until shutdown has closed every client.
    pub(crate) fn run(mut self) {
        self.handler.on_start();
        let mut events = Events::with_capacity(EVENT_CAPACITY);
        while !(self.timers.shutting_down() && self.conns.is_empty()) {
            let timeout = if !self.ready.is_empty() || self.accept_pending {
                Some(std::time::Duration::ZERO)
            } else if self.timers.is_empty() {
                None
            } else {
                self.timers.timeout(Instant::now())
            };
            if let Err(err) = self.poll.poll(&mut events, timeout) {
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(shard = self.index, %err, "poll failed; closing the shard");
                self.close_all(CloseReason::Error(err.kind()));
                break;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => self.drain_inbox(),
                    token => self.conn_event(Key::from_token(token.0), event),
                }
            }
            self.read_ready();
            if self.accept_pending {
                self.accept();
            }
            self.fire_timers();
            if let Some(published) = self.handle.published(usize::from(self.index)) {
                published.publish(&self.stats);
            }
        }
        self.handler.on_shutdown();
    }

    /// The id handlers and other threads know a client by.
    fn id(&self, key: Key) -> ConnId {
        ConnId::new(self.index, key.index, key.generation)
    }

    /// The slot key an id names.
    fn key(id: ConnId) -> Key {
        Key {
            // Ids are made from keys by `Shard::id`, so the slot fits.
            index: u32::try_from(id.slot()).unwrap_or(u32::MAX),
            generation: id.generation(),
        }
    }

    /// Runs the commands other threads sent.
    fn drain_inbox(&mut self) {
        while let Ok(command) = self.inbox.try_recv() {
            match command {
                Command::Send(id, data) => {
                    let key = Self::key(id);
                    let limit = self.config.output_limit;
                    if let Some(conn) = self.conns.get_mut(key) {
                        self.stats.bytes_out += conn.send_vec(data, limit) as u64;
                        self.settle(key);
                    }
                }
                Command::Close(id) => {
                    let key = Self::key(id);
                    if let Some(conn) = self.conns.get_mut(key) {
                        conn.begin_close(CloseReason::Server);
                        self.settle(key);
                    }
                }
                Command::Shutdown => self.begin_shutdown(),
            }
        }
    }

    /// Brings a client's registration, backpressure and closing in line
    /// with its state. Runs after anything touched the client.
    fn settle(&mut self, key: Key) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if let Some(reason) = conn.failed {
            return self.close_now(key, reason);
        }
        if conn.lingering {
            return; // only its end of stream or deadline matters now
        }
        let queued = conn.out.len();
        if !conn.paused && queued > self.config.output_high_water {
            conn.paused = true;
        } else if conn.paused && queued <= self.config.output_low_water {
            conn.paused = false;
            self.ready.push(key);
            self.drained(key);
            return self.settle(key);
        }
        if conn.closing.is_some() {
            if queued == 0 {
                return self.close_gracefully(key);
            }
            self.schedule_drain(key);
        }
        self.update_interest(key);
    }

    /// Registers WRITABLE interest exactly while output is queued: one
    /// `epoll_ctl` per transition, none per message.
    pub(super) fn update_interest(&mut self, key: Key) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let want_writable = !conn.out.is_empty();
        if want_writable == conn.writable_interest {
            return;
        }
        let interest = if want_writable {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let token = Token(key.to_token());
        match self
            .poll
            .registry()
            .reregister(&mut conn.stream, token, interest)
        {
            Ok(()) => conn.writable_interest = want_writable,
            Err(err) => self.close_now(key, CloseReason::from_io(&err)),
        }
    }

    /// Starts the drain deadline of a closing client, once.
    fn schedule_drain(&mut self, key: Key) {
        if let Some(conn) = self.conns.get_mut(key) {
            if !conn.drain_scheduled {
                conn.drain_scheduled = true;
                let deadline = Instant::now() + self.config.drain_timeout;
                self.timers.drain_by(deadline, key);
            }
        }
    }
}
