//! One shard: a thread with its own poll, listener, clients and handler.
//!
//! Only this module calls `Poll::poll`. The shard owns everything it
//! touches, so the hot path takes no lock and shares no cache line with
//! other shards; other threads reach it only through its inbox.

mod accept;
mod close;
mod deferred;
mod driven;
mod fanout;
mod handoff;
pub(crate) mod io;
mod limits;
mod pacing;
mod proxy;
pub(crate) mod round;
mod settle;
mod shutdown;
mod timers;
mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::net::TcpListener;
use mio::{Events, Poll, Token};

use crate::config::Config;
use crate::core::client::Client;
use crate::core::context::ContextCore;
use crate::core::log_limit::Warnings;
use crate::core::slots::{Key, Slots};
use crate::core::topics::Due;
use crate::handler::context::ShardContext;
use crate::handler::Handler;
use crate::hub::close_reason::CloseReason;
use crate::hub::handle::ServerHandle;
use crate::hub::id::ConnId;
use crate::hub::inbox::{InboxReceiver, Order};
use crate::hub::load::ShardLoad;
use crate::hub::stats::ShardStats;
use crate::net::group::Group;
use handoff::Balancing;
pub(crate) use limits::{classify, AcceptError, ACCEPT_BACKOFF};
use round::{Rounds, EXPORT_EVERY};
use timers::Deadlines;

/// Token of the shard's listening socket. Client tokens pack a slot index
/// and generation (see `Key::to_token`) and never reach these values.
pub(crate) const LISTENER: Token = Token(usize::MAX);
/// Token of the shard's waker (its inbox has commands).
pub(crate) const WAKER: Token = Token(usize::MAX - 1);

/// Events taken from the kernel per `epoll_wait`.
const EVENT_CAPACITY: usize = 1024;

/// Inbox commands run per loop round at most, so a flood of sends from
/// other threads cannot starve the shard's own clients; the rest wait for
/// the next round (which then does not sleep).
const INBOX_BUDGET: usize = 1024;

/// How soon publishes refused by a full inbox are offered again.
const OUTBOUND_RETRY: Duration = Duration::from_millis(1);

/// The parts of a shard made on the caller's thread by `Server::bind`, so
/// that setup errors come back synchronously.
pub(crate) struct ShardParts {
    /// The shard's own poll, with the listener and waker registered.
    pub(crate) poll: Poll,
    /// The shard's own member of the `SO_REUSEPORT` group; `None` when an
    /// acceptor hands clients over instead (least-loaded balancing).
    pub(crate) listener: Option<TcpListener>,
    /// Commands from other threads.
    pub(crate) inbox: InboxReceiver,
    /// Where the shard publishes its load for the acceptor, if there is one.
    pub(crate) load: Option<Arc<ShardLoad>>,
    /// The server's listening sockets, as seen at shutdown.
    pub(crate) group: Arc<Group>,
}

/// A running shard. Dropping it (at the end of `run`, or when a handler
/// panicked) gives back its clients' places in the server-wide count.
pub(crate) struct Shard<H: Handler> {
    /// Index of this shard.
    index: u16,
    /// The event loop.
    poll: Poll,
    /// The listener; `None` once shutdown began.
    listener: Option<TcpListener>,
    /// Commands from other threads.
    inbox: InboxReceiver,
    /// The server's listening sockets, as seen at shutdown.
    group: Arc<Group>,
    /// The service.
    handler: H,
    /// The server's settings.
    config: Config,
    /// `config.idle_timeout` in wheel ticks, if set.
    idle_ticks: Option<u32>,
    /// This shard's clients.
    clients: Slots<Client<H::State>>,
    /// Connections awaiting their PROXY header (PROXY protocol on only).
    awaiting: Slots<proxy::Awaiting>,
    /// Connections in their TLS handshake (TLS on only).
    handshakes: Slots<tls::Handshaking>,
    /// Handshakes with input the budget left for the next round.
    handshakes_ready: Vec<Key>,
    /// Handshake steps left in this round.
    handshake_budget_left: usize,
    /// Handshake steps per round (`TlsSettings::handshake_budget`).
    handshake_budget: usize,
    /// How long a handshake may take (`TlsSettings::handshake_timeout`).
    handshake_timeout: Duration,
    /// The one read buffer all clients of the shard share.
    buf: Vec<u8>,
    /// Counters, published at most once per 10 ms (see `round.rs`).
    stats: ShardStats,
    /// Clients with input left after their read budget, or whose reading
    /// just resumed: read them again after the current events.
    ready: Vec<Key>,
    /// Clock, client timers and deferred requests, lent to callbacks.
    cx: ContextCore,
    /// The shard's own deadlines: accept back-off, tick, shutdown.
    deadlines: Deadlines,
    /// Accepting is due: the listener was ready this round (accepted
    /// after the other events), or the accept budget ran out with clients
    /// possibly still waiting.
    accept_pending: bool,
    /// The inbox budget ran out with commands possibly still waiting.
    inbox_pending: bool,
    /// Shutdown is closing clients in batches; the next slot to visit.
    sweep: Option<usize>,
    /// Rate limits of the shard's warnings.
    warnings: Warnings,
    /// Commands taken from the inbox this round (memory reused).
    commands: Vec<Order>,
    /// Timing of the loop's rounds: heartbeat, durations, stalls.
    rounds: Rounds,
    /// Subscribers of the topic being delivered (memory reused).
    subscribers: Vec<Key>,
    /// The positioned subscribers of the publish being delivered
    /// (memory reused).
    due: Vec<Due<Key>>,
    /// The framings of the publish being delivered, one per variant
    /// (`Handler::delivery_variant`; memory reused).
    framings: Vec<(u8, Bytes)>,
    /// Publishes for another shard wait for room in its inbox.
    outbound_pending: bool,
    /// Clients with deliveries queued but not yet written this round.
    held: Vec<Key>,
    /// Clients paced for fan-out credit, each with the shard it waits
    /// for (`pacing.rs`).
    paced: Vec<(Key, usize)>,
    /// Publishes from the inbox delivered since credit was last paid back.
    credit_owed: usize,
    /// The load published for least-loaded balancing.
    balancing: Balancing,
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
        // `Config::validate` caps the thread count at `u16::MAX`.
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        let stall_nanos = config.stall_threshold.map_or(u64::MAX, |threshold| {
            u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX)
        });
        let heartbeat = handle
            .hub()
            .heartbeat(usize::from(index))
            .cloned()
            .unwrap_or_default();
        let idle_timeout = config.idle_timeout;
        let tls = config.tls.as_ref().map(crate::tls::Tls::settings);
        let handshake_budget = tls.as_ref().map_or(0, |tls| tls.handshake_budget.max(1));
        let handshake_timeout = tls.map_or(Duration::ZERO, |tls| tls.handshake_timeout);
        Self {
            index,
            poll: parts.poll,
            listener: parts.listener,
            inbox: parts.inbox,
            group: parts.group,
            handler,
            idle_ticks: config
                .idle_timeout
                .map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
            buf: vec![0; config.read_buffer],
            config,
            clients: Slots::new(),
            awaiting: Slots::new(),
            handshakes: Slots::new(),
            handshakes_ready: Vec::new(),
            handshake_budget_left: handshake_budget,
            handshake_budget,
            handshake_timeout,
            stats: ShardStats::default(),
            ready: Vec::new(),
            cx: ContextCore::new(index, handle, heartbeat, idle_timeout),
            deadlines: Deadlines::default(),
            accept_pending: false,
            inbox_pending: false,
            sweep: None,
            warnings: Warnings::default(),
            commands: Vec::new(),
            rounds: Rounds::new(stall_nanos),
            subscribers: Vec::new(),
            due: Vec::new(),
            framings: Vec::new(),
            outbound_pending: false,
            held: Vec::new(),
            paced: Vec::new(),
            credit_owed: 0,
            balancing: Balancing::new(parts.load),
        }
    }

    /// Runs the event loop until shutdown has closed every client.
    pub(crate) fn run(mut self) {
        self.begin();
        let mut events = Events::with_capacity(EVENT_CAPACITY);
        while !self.finished_shutdown() {
            let timeout = self.poll_timeout();
            if let Err(err) = self.poll.poll(&mut events, timeout) {
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(shard = self.index, %err, "poll failed; closing the shard");
                self.close_all(CloseReason::Error(err.kind()));
                break;
            }
            self.begin_round();
            self.cx.begin_round(self.needs_clock());
            self.handshake_budget_left = self.handshake_budget;
            for event in events.iter() {
                match event.token() {
                    // After the other events: a shutdown that arrived in
                    // the same round closes the listener first, leaving
                    // its queue to another server where one takes it.
                    LISTENER => self.accept_pending = true,
                    WAKER => self.read_inbox(),
                    token => self.client_ready(Key::from_token(token.0), event),
                }
            }
            self.resume_paced();
            self.read_ready();
            if !self.handshakes_ready.is_empty() {
                self.run_deferred_handshakes();
            }
            if self.accept_pending {
                self.accept();
            }
            if self.inbox_pending {
                self.read_inbox();
            }
            if self.sweep.is_some() {
                self.sweep_step();
            }
            self.fire_timers();
            if !self.held.is_empty() {
                self.flush_held(fanout::FLUSH_BUDGET);
            }
            self.pay_back_credit();
            self.send_outbound();
            self.end_handler_round();
            self.end_round();
            self.export_load();
        }
        self.finish();
    }

    /// Before the first client: `on_start`, and the first tick's time.
    pub(crate) fn begin(&mut self) {
        self.handler.on_start(&mut ShardContext::new(&mut self.cx));
        self.apply_deferred();
        if let Some(period) = self.config.tick {
            self.deadlines.tick = Some(self.cx.now() + period);
        }
    }

    /// After the last client closed at shutdown: `on_shutdown`, and what
    /// it asked for.
    pub(crate) fn finish(&mut self) {
        self.close_handoffs_left();
        self.handler
            .on_shutdown(&mut ShardContext::new(&mut self.cx));
        self.apply_deferred();
        while !self.held.is_empty() {
            self.flush_held(usize::MAX);
        }
        self.pay_back_credit();
        self.send_outbound();
        self.export();
    }

    /// Whether shutdown has closed every client: the loop ends.
    fn finished_shutdown(&self) -> bool {
        self.deadlines.shutting_down()
            && self.deadlines.grace.is_none()
            && self.clients.is_empty()
            && self.sweep.is_none()
    }

    /// Whether this round's clock must be read up front: something is
    /// timed. Otherwise a round reads no `Instant` unless a callback asks.
    fn needs_clock(&self) -> bool {
        self.idle_ticks.is_some() || !self.cx.wheel.is_empty() || !self.deadlines.is_empty()
    }

    /// How long the poll may sleep: not at all while work is left over,
    /// else until the next timer or deadline, else until an event; and no
    /// longer than it takes for unexported counters to be due.
    fn poll_timeout(&self) -> Option<Duration> {
        if !self.ready.is_empty()
            || !self.handshakes_ready.is_empty()
            || self.accept_pending
            || self.inbox_pending
            || self.sweep.is_some()
            || !self.held.is_empty()
            || self.paced_may_resume()
        {
            return Some(Duration::ZERO);
        }
        let wheel = self.cx.wheel.next_deadline().map(|t| self.cx.instant_of(t));
        let next = match (wheel, self.deadlines.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut wait = next.map(|next| next.saturating_duration_since(Instant::now()));
        if self.outbound_pending {
            // Another shard's inbox was full: offer again soon, without
            // spinning on the core that shard may need.
            wait = Some(wait.map_or(OUTBOUND_RETRY, |wait| wait.min(OUTBOUND_RETRY)));
        }
        if self.rounds.unexported {
            wait = Some(wait.map_or(EXPORT_EVERY, |t| t.min(EXPORT_EVERY)));
        }
        wait
    }

    /// The id handlers and other threads know a client by.
    fn id(&self, key: Key) -> ConnId {
        ConnId::new(self.index, key.index, key.generation)
    }

    /// The slot key an id names, if the id is of this shard.
    fn key(&self, id: ConnId) -> Option<Key> {
        (id.shard() == usize::from(self.index)).then(|| Key {
            // Ids are made from keys by `Shard::id`, so the slot fits.
            index: u32::try_from(id.slot()).unwrap_or(u32::MAX),
            generation: id.generation(),
        })
    }

    /// Runs commands other threads sent, up to the per-round budget.
    fn read_inbox(&mut self) {
        let mut commands = std::mem::take(&mut self.commands);
        self.inbox_pending = self.inbox.take(INBOX_BUDGET, |c| commands.push(c));
        for command in commands.drain(..) {
            match command {
                Order::Send(id, data) => {
                    let Some(key) = self.key(id) else { continue };
                    let limit = self.config.output_limit;
                    if let Some(client) = self.clients.get_mut(key) {
                        client.io.send_bytes(data, limit, &mut self.stats);
                        self.settle(key);
                    }
                }
                Order::Close(id) => {
                    let Some(key) = self.key(id) else { continue };
                    if let Some(client) = self.clients.get_mut(key) {
                        client.io.begin_close(CloseReason::Server);
                        self.settle(key);
                    }
                }
                Order::Fanout(batch) => {
                    for fanout in &batch {
                        self.fan_out(fanout);
                    }
                    // Paid back once the round has written them.
                    self.credit_owed += batch.len();
                }
                Order::Shutdown => self.begin_shutdown(),
                Order::Handoff(handoff) => self.take_handoff(handoff),
            }
        }
        self.commands = commands;
        self.apply_deferred();
        // Asked while the inbox was full: once what was queued before it
        // is applied (the budget may leave some for the next round).
        if self.inbox.stop_requested() && !self.inbox_pending {
            self.begin_shutdown();
        }
    }
}

impl<H: Handler> Drop for Shard<H> {
    fn drop(&mut self) {
        // Empty after a normal shutdown; after a handler's panic, the
        // clients dropped with the shard must not keep their places, or
        // the other shards would refuse clients at a limit never reached.
        for _ in 0..self.clients.len() + self.awaiting_len() + self.handshakes_len() {
            self.cx.handle.hub().release_connection();
        }
        // After a panic, clients handed over must not wait in the inbox.
        self.close_handoffs_left();
    }
}
