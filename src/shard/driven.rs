//! Driving a shard without a poll or a listener: the side of
//! [`esockets::testing`](crate::testing) that reaches into the loop. The
//! harness plays the kernel (in-memory transports, readiness) and the
//! clock; everything else is the shard's own code, unchanged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mio::{Poll, Waker};

use super::io::Readiness;
use super::{Shard, ShardParts, WAKER};
use crate::config::Config;
use crate::handler::context::ShardContext;
use crate::handler::Handler;
use crate::hub::handle::ServerHandle;
use crate::hub::heartbeat::Heartbeat;
use crate::hub::id::ConnId;
use crate::hub::inbox;
use crate::hub::stats::{ExportedStats, ShardStats};
use crate::hub::{Hub, Remote};
use crate::net::group::Group;
use crate::net::transport::{Stream, Transport};

impl<H: Handler> Shard<H> {
    /// A one-shard server of its own, with no listener, whose clock stands
    /// still until [`set_clock`](Self::set_clock) moves it. Runs
    /// `on_start`.
    ///
    /// # Errors
    ///
    /// The poll (an epoll instance, never waited on) cannot be made.
    pub(crate) fn driven(
        config: Config,
        handler: H,
        addr: SocketAddr,
    ) -> std::io::Result<(Self, ServerHandle)> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let (sender, receiver) = inbox::inbox(config.inbox_capacity, waker);
        let remote = Remote {
            inbox: sender,
            stats: ExportedStats::default(),
            heartbeat: Arc::new(Heartbeat::default()),
        };
        let max = config.max_connections.unwrap_or(usize::MAX);
        let handle = ServerHandle::new(Hub::new(
            vec![remote],
            addr,
            max,
            None,
            config.history,
            config.fanout_credit,
        ));
        let parts = ShardParts {
            poll,
            listener: None,
            inbox: receiver,
            load: None,
            group: Arc::new(Group::new(addr, &[], false)),
        };
        let mut shard = Shard::new(0, parts, handle.clone(), handler, config);
        let now = shard.cx.epoch;
        shard.cx.manual = Some(now);
        shard.cx.begin_round(true);
        shard.begin();
        Ok((shard, handle))
    }

    /// Sets the shard's clock, then runs what is due.
    pub(crate) fn set_clock(&mut self, now: Instant) {
        self.cx.manual = Some(now);
        self.turn();
    }

    /// The shard's clock.
    pub(crate) fn clock(&self) -> Instant {
        self.cx.manual.unwrap_or(self.cx.epoch)
    }

    /// Admits a client carried by `transport`, as if accepted from `peer`:
    /// counted, `on_connect`, the idle timer. Its id, if accepted.
    pub(crate) fn admit_driven(
        &mut self,
        transport: Box<dyn Transport>,
        peer: SocketAddr,
    ) -> Option<ConnId> {
        if !self.cx.handle.hub().reserve_connection() {
            self.stats.refused += 1;
            self.stats.over_limit += 1;
            return None;
        }
        self.cx.begin_round(true);
        let key = self.start(Stream::Layered(transport), peer, None, None);
        self.turn();
        key.map(|key| self.id(key))
    }

    /// Tells the shard that client `id`'s transport is ready, then runs
    /// the rest of a loop round.
    pub(crate) fn ready_driven(&mut self, id: ConnId, ready: Readiness) {
        self.cx.begin_round(true);
        if let Some(key) = self.key(id) {
            self.client_ready(key, &ready);
        }
        self.turn();
    }

    /// Whether client `id` is still in the shard's table (open, or closing).
    pub(crate) fn holds(&self, id: ConnId) -> bool {
        self.key(id)
            .is_some_and(|key| self.clients.get(key).is_some())
    }

    /// Starts shutdown; [`turn`](Self::turn) then closes the clients.
    pub(crate) fn shutdown_driven(&mut self) {
        self.cx.begin_round(true);
        self.begin_shutdown();
        self.turn();
    }

    /// Whether a shutdown has closed every client.
    pub(crate) fn finished(&self) -> bool {
        self.finished_shutdown()
    }

    /// The shard's counters now.
    pub(crate) fn counters(&self) -> ShardStats {
        self.stats.with_events(&self.cx.events)
    }

    /// The handler.
    pub(crate) fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Runs `f` with the handler and a context, as a callback would be
    /// (deferred requests applied after).
    pub(crate) fn with_context<R>(
        &mut self,
        f: impl FnOnce(&mut H, &mut ShardContext<'_>) -> R,
    ) -> R {
        self.cx.begin_round(true);
        let result = f(&mut self.handler, &mut ShardContext::new(&mut self.cx));
        self.apply_deferred();
        self.turn();
        result
    }

    /// Loop rounds without polling (ready lists, the inbox, shutdown's
    /// sweep, timers, held deliveries, other shards) until nothing is left
    /// to do at this clock: input past a read budget and orders past the
    /// inbox budget are taken too, as the next rounds would.
    ///
    /// # Panics
    ///
    /// If the shard still has work after a million rounds: a handler that
    /// keeps making work for itself at a standing clock.
    pub(crate) fn turn(&mut self) {
        for _ in 0..ROUNDS_AT_ONE_CLOCK {
            self.cx.begin_round(true);
            self.begin_round();
            self.resume_paced();
            self.read_ready();
            // As the loop does: on the waker's event, or orders left over.
            if self.inbox.woken() || self.inbox_pending || self.inbox.stop_requested() {
                self.read_inbox();
            }
            if self.sweep.is_some() {
                self.sweep_step();
            }
            self.fire_timers();
            self.flush_held(super::fanout::FLUSH_BUDGET);
            self.pay_back_credit();
            self.send_outbound();
            self.end_handler_round();
            self.end_round();
            if self.ready.is_empty()
                && !self.inbox_pending
                && self.sweep.is_none()
                && self.held.is_empty()
            {
                return;
            }
        }
        panic!("esockets::testing: the shard still has work after {ROUNDS_AT_ONE_CLOCK} rounds at one clock");
    }

    /// When the next timer or deadline is due, if any.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let wheel = self.cx.wheel.next_deadline().map(|t| self.cx.instant_of(t));
        match (wheel, self.deadlines.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Rounds a driven shard may take at one clock before it is called stuck.
const ROUNDS_AT_ONE_CLOCK: usize = 1_000_000;
