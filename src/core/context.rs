//! The shard's clock, timers and pending requests: the part of a shard
//! that a `ShardContext` lends to a callback.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::core::slots::Key;
use crate::core::topics::Topics;
use crate::core::wheel::Wheel;
use crate::hub::events::Events;
use crate::hub::fanout::Fanout;
use crate::hub::handle::ServerHandle;
use crate::hub::heartbeat::{Activity, Heartbeat};
use crate::hub::id::ConnId;

/// A timer in a shard's wheel: whose it is and what it is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TimerTask {
    /// A handler's timer for one client.
    Handler {
        /// The client.
        owner: ConnId,
        /// The tag, handed back to `on_timer` (or `on_layer_timer`).
        tag: u64,
        /// Set by a layer (`ShardContext::set_layer_timer`): it fires
        /// `on_layer_timer`, so layer and handler tags never collide.
        layer: bool,
    },
    /// The shard's own timer for one client: idle check, close deadline or
    /// linger check, depending on the client's phase.
    Client(ConnId),
    /// The PROXY header deadline of a connection not handed to the handler
    /// yet (its key among the shard's connections awaiting a header).
    AwaitingHeader(Key),
    /// The TLS handshake deadline of a connection not handed to the
    /// handler yet (its key among the shard's handshaking connections).
    Handshake(Key),
}

/// Something a callback asked for that touches another client of the
/// shard; applied as soon as the callback returns, so no callback ever
/// holds two clients at once.
#[derive(Debug)]
pub(crate) enum Deferred {
    /// Queue this payload for this client.
    Send(ConnId, Bytes),
    /// Close this client gracefully.
    Close(ConnId),
    /// Give this client its own idle timeout (ms, or `IDLE_OFF`, or
    /// `IDLE_INHERITED`).
    IdleTimeout(ConnId, u32),
    /// Deliver this to the shard's clients it is for; a publish also goes
    /// to the backplane.
    Fanout(Fanout),
    /// A publish sent to Redis first (a shared history), delivered as it
    /// comes back: only counted here.
    Published,
}

/// The shard's clock, timers and pending requests: the part of a shard a
/// `ShardContext` lends to a callback.
pub(crate) struct ContextCore {
    /// Index of the shard.
    pub(crate) shard: u16,
    /// When the shard started: tick 0 of its timer wheel.
    pub(crate) epoch: Instant,
    /// The time of this loop round: read at its start when timers need it,
    /// else on first use (`None` until then).
    now: Cell<Option<Instant>>,
    /// The server's idle timeout (`Config::idle_timeout`), for
    /// `ShardContext::idle_for`.
    pub(crate) idle_timeout: Option<Duration>,
    /// Set by the testing harness: the clock stands at this instant
    /// instead of following the system's.
    pub(crate) manual: Option<Instant>,
    /// Every timer of the shard's clients.
    pub(crate) wheel: Wheel<TimerTask>,
    /// Requests to apply once the running callback returns.
    pub(crate) deferred: Vec<Deferred>,
    /// Reaches other shards.
    pub(crate) handle: ServerHandle,
    /// The shard's heartbeat: what it is doing, for the stall watchdog.
    pub(crate) heartbeat: Arc<Heartbeat>,
    /// Subscriptions of the shard's clients.
    pub(crate) topics: Topics<Key>,
    /// Publishes for each other shard, sent once per loop round.
    pub(crate) outbound: Vec<Vec<Fanout>>,
    /// Something was added to `outbound` this round.
    pub(crate) outbound_queued: bool,
    /// A shard that a publish of the running callback found past its
    /// fan-out credit, if any: the client whose input it was is paced.
    pub(crate) over_credit: Option<usize>,
    /// What the protocol counted (`ShardContext::count`).
    pub(crate) events: Events,
}

impl ContextCore {
    /// A core for shard `shard`, its clock starting now; `idle_timeout` is
    /// the server's.
    pub(crate) fn new(
        shard: u16,
        handle: ServerHandle,
        heartbeat: Arc<Heartbeat>,
        idle_timeout: Option<Duration>,
    ) -> Self {
        let now = Instant::now();
        Self {
            shard,
            epoch: now,
            now: Cell::new(Some(now)),
            manual: None,
            idle_timeout,
            wheel: Wheel::new(),
            deferred: Vec::new(),
            outbound: (0..handle.shards()).map(|_| Vec::new()).collect(),
            outbound_queued: false,
            over_credit: None,
            events: Events::default(),
            topics: Topics::default(),
            handle,
            heartbeat,
        }
    }

    /// Drops every subscription of the client `key` (it is leaving, or
    /// asked), in the directory and the presence too.
    pub(crate) fn unsubscribe_all(&mut self, key: Key) {
        let shard = usize::from(self.shard);
        let hub = self.handle.hub();
        let (directory, presence) = (hub.directory(), hub.presence());
        self.topics.remove_client(key, |topic, identity, emptied| {
            if emptied {
                directory.remove(topic, shard);
            }
            presence.leave(topic, identity);
        });
    }

    /// The slot key of a client of this shard, from its id.
    pub(crate) fn key_of(id: ConnId) -> Key {
        Key {
            // Ids are made from keys, so the slot fits.
            index: u32::try_from(id.slot()).unwrap_or(u32::MAX),
            generation: id.generation(),
        }
    }

    /// Starts a loop round: reads the clock now if `eager`, else leaves it
    /// to the first caller of [`now`](Self::now) in this round. A shard
    /// with no timers and no idle timeout so reads no `Instant` at all
    /// (the round's own timing reads the raw monotonic clock: see
    /// `shard/round.rs`).
    pub(crate) fn begin_round(&mut self, eager: bool) {
        self.now.set(match self.manual {
            Some(now) => Some(now),
            None => eager.then(Instant::now),
        });
    }

    /// The time of this loop round.
    pub(crate) fn now(&self) -> Instant {
        match self.now.get() {
            Some(now) => now,
            None => {
                let now = self.manual.unwrap_or_else(Instant::now);
                self.now.set(Some(now));
                now
            }
        }
    }

    /// Tells the stall watchdog which handler callback the shard enters:
    /// one relaxed byte store.
    #[inline(always)]
    pub(crate) fn enter(&self, activity: Activity) {
        self.heartbeat.enter(activity);
    }

    /// The time of this loop round as a wheel tick: milliseconds since the
    /// shard started.
    pub(crate) fn now_tick(&self) -> u64 {
        ticks(self.now().saturating_duration_since(self.epoch))
    }

    /// The wheel tick at which something `after` from now is due. Rounded
    /// up and one tick later, so a timer never fires early.
    pub(crate) fn deadline_after(&self, after: Duration) -> u64 {
        self.now_tick()
            .saturating_add(ticks(after))
            .saturating_add(u64::from(after.subsec_nanos() % 1_000_000 != 0))
            .saturating_add(1)
    }

    /// The instant of wheel tick `tick`.
    pub(crate) fn instant_of(&self, tick: u64) -> Instant {
        self.epoch + Duration::from_millis(tick)
    }
}

/// Whole milliseconds in `duration`, saturating.
pub(crate) fn ticks(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
