//! `ShardContext`: what every callback may do to its shard.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::handler::conn::Conn;
use crate::handler::id::ConnId;
use crate::pubsub::topics::{Subscribed, Topics};
use crate::server::handle::ServerHandle;
use crate::server::heartbeat::{Activity, Heartbeat};
use crate::shard::inbox::SendError;
use crate::shard::slots::Key;
use crate::shard::wheel::{TimerKey, Wheel};

/// What a shard's factory is told when it makes the shard's handler.
#[derive(Clone, Debug)]
pub struct ShardInfo {
    /// Index of the shard, `0..threads`.
    pub index: usize,
    /// The core the shard is pinned to, if pinning is on and succeeded.
    pub core: Option<usize>,
    /// A handle to the whole server: send to any client by id, read
    /// counters, shut down.
    pub handle: ServerHandle,
}

/// Names one timer set with [`ShardContext::set_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(pub(crate) TimerKey);

/// A timer in a shard's wheel: whose it is and what it is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TimerTask {
    /// A handler's timer for one client.
    Handler {
        /// The client.
        owner: ConnId,
        /// The handler's tag, handed back to `on_timer`.
        tag: u64,
    },
    /// The shard's own timer for one client: idle check, drain deadline or
    /// linger check, depending on the client's phase.
    Client(ConnId),
    /// The PROXY header deadline of a connection not handed to the handler
    /// yet (its key among the shard's connections awaiting a header).
    AwaitingHeader(Key),
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
    /// Queue this payload for every client of the shard.
    SendToAll(Bytes),
    /// Deliver this payload to the shard's subscribers of this topic.
    Publish(Bytes, Bytes),
}

/// The shard's clock, timers and pending requests: the part of a shard a
/// [`ShardContext`] lends to a callback.
pub(crate) struct ContextCore {
    /// Index of the shard.
    pub(crate) shard: u16,
    /// When the shard started: tick 0 of its timer wheel.
    pub(crate) epoch: Instant,
    /// The time of this loop round: read at its start when timers need it,
    /// else on first use (`None` until then).
    now: Cell<Option<Instant>>,
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
    pub(crate) outbound: Vec<Vec<(Bytes, Bytes)>>,
    /// Something was added to `outbound` this round.
    pub(crate) outbound_queued: bool,
}

impl ContextCore {
    /// A core for shard `shard`, its clock starting now.
    pub(crate) fn new(shard: u16, handle: ServerHandle, heartbeat: Arc<Heartbeat>) -> Self {
        let now = Instant::now();
        Self {
            shard,
            epoch: now,
            now: Cell::new(Some(now)),
            wheel: Wheel::new(),
            deferred: Vec::new(),
            outbound: (0..handle.shards()).map(|_| Vec::new()).collect(),
            outbound_queued: false,
            topics: Topics::default(),
            handle,
            heartbeat,
        }
    }

    /// The slot key of a client of this shard.
    fn key_of(conn: &Conn<'_>) -> Key {
        let id = conn.id();
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
        self.now.set(eager.then(Instant::now));
    }

    /// The time of this loop round.
    pub(crate) fn now(&self) -> Instant {
        match self.now.get() {
            Some(now) => now,
            None => {
                let now = Instant::now();
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

/// The shard, as every callback sees it: its clock, timers, and the other
/// clients of the shard.
///
/// Sends and closes aimed at other clients of this shard are applied in
/// the order asked, after the callback returns and before the shard reads
/// any more input from that client: right away after `on_data`,
/// `on_connect`, `on_timer` and `on_tick`; after the batch in progress when
/// the callback ran inside one (an `on_close` or `on_drain` during
/// shutdown's sweep or an inbox batch). Those aimed at clients of other
/// shards go to that shard's inbox at once. Timers are set and cancelled at
/// once.
pub struct ShardContext<'a> {
    /// The shard's parts this context lends.
    core: &'a mut ContextCore,
}

impl<'a> ShardContext<'a> {
    /// Wraps the shard's parts for one callback.
    pub(crate) fn new(core: &'a mut ContextCore) -> Self {
        Self { core }
    }

    /// Index of this shard.
    pub fn shard(&self) -> usize {
        usize::from(self.core.shard)
    }

    /// The time at the start of this loop round: read once per round, so
    /// it costs nothing to ask.
    pub fn now(&self) -> Instant {
        self.core.now()
    }

    /// A handle to the whole server.
    pub fn server(&self) -> &ServerHandle {
        &self.core.handle
    }

    /// Sends `data` to client `id`: after this callback if the client is
    /// on this shard, through its shard's inbox otherwise. A stale id is
    /// ignored.
    ///
    /// # Errors
    ///
    /// Only for a client of another shard: that shard's inbox is full or
    /// the shard stopped.
    pub fn send(&mut self, id: ConnId, data: impl Into<Bytes>) -> Result<(), SendError> {
        let data = data.into();
        if id.shard() == self.shard() {
            self.core.deferred.push(Deferred::Send(id, data));
            Ok(())
        } else {
            self.core.handle.send(id, data)
        }
    }

    /// Queues `data` for every client of this shard (one shared buffer,
    /// never copied per client), after this callback.
    pub fn send_to_all(&mut self, data: impl Into<Bytes>) {
        self.core.deferred.push(Deferred::SendToAll(data.into()));
    }

    /// Closes client `id` gracefully (after its queued output), as
    /// [`Conn::close`](crate::Conn::close) does for the current client.
    ///
    /// # Errors
    ///
    /// As for [`send`](Self::send).
    pub fn close(&mut self, id: ConnId) -> Result<(), SendError> {
        if id.shard() == self.shard() {
            self.core.deferred.push(Deferred::Close(id));
            Ok(())
        } else {
            self.core.handle.close(id)
        }
    }

    /// Calls [`Handler::on_timer`](crate::Handler::on_timer) for client
    /// `id` with `tag` once `after` has passed (at 1 ms resolution, never
    /// early). `after` counts from this loop round's clock,
    /// [`now`](Self::now), not from the call: late in a long round the
    /// timer fires up to that round's length sooner after the call. A
    /// timer for a client that closed (or began closing) first, or for a
    /// client of another shard, never fires.
    ///
    /// Setting and cancelling cost O(1) and no system call.
    pub fn set_timer(&mut self, id: ConnId, after: Duration, tag: u64) -> TimerId {
        let deadline = self.core.deadline_after(after);
        let key = self
            .core
            .wheel
            .insert(deadline, TimerTask::Handler { owner: id, tag });
        TimerId(key)
    }

    /// Cancels a timer; returns whether it was still pending (a timer due
    /// at the same moment as the one whose `on_timer` runs now counts as
    /// pending: it will not fire). O(1).
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.core.wheel.cancel(timer.0).is_some()
    }

    /// Subscribes the client `conn` to `topic` (any bytes); returns
    /// whether it was not subscribed yet. Its subscriptions end when it
    /// closes.
    pub fn subscribe(&mut self, conn: &Conn<'_>, topic: &[u8]) -> bool {
        let key = ContextCore::key_of(conn);
        match self.core.topics.subscribe(key, topic) {
            Subscribed::Already => false,
            Subscribed::New { first } => {
                if first {
                    let shared = Bytes::copy_from_slice(topic);
                    self.core.handle.directory().add(&shared, self.shard());
                }
                true
            }
        }
    }

    /// Ends the subscription of `conn` to `topic`; returns whether it had
    /// one.
    pub fn unsubscribe(&mut self, conn: &Conn<'_>, topic: &[u8]) -> bool {
        let key = ContextCore::key_of(conn);
        match self.core.topics.unsubscribe(key, topic) {
            None => false,
            Some(last) => {
                if last {
                    self.core.handle.directory().remove(topic, self.shard());
                }
                true
            }
        }
    }

    /// Ends every subscription of `conn` at once (as its close would): for
    /// a protocol whose client must get no more deliveries, such as a
    /// WebSocket client once the closing handshake began.
    pub fn unsubscribe_all(&mut self, conn: &Conn<'_>) {
        let key = ContextCore::key_of(conn);
        let shard = self.shard();
        let core = &mut *self.core;
        let directory = core.handle.directory();
        core.topics
            .remove_client(key, |topic| directory.remove(topic, shard));
    }

    /// How many topics `conn` is subscribed to.
    pub fn subscriptions(&self, conn: &Conn<'_>) -> usize {
        self.core.topics.count(ContextCore::key_of(conn))
    }

    /// Publishes `payload` to every subscriber of `topic` on every shard.
    /// Subscribers receive `payload` byte for byte, one shared buffer for
    /// all of them (a protocol frames it once, before publishing).
    ///
    /// This shard's subscribers get it right after this callback; each
    /// other shard with subscribers gets this round's publishes in one
    /// command, at the end of the round. The publishes of one shard to one
    /// topic reach every subscriber in the order made.
    pub fn publish(&mut self, topic: &[u8], payload: impl Into<Bytes>) {
        let topic = Bytes::copy_from_slice(topic);
        let payload = payload.into();
        let me = self.shard();
        let core = &mut *self.core;
        let outbound = &mut core.outbound;
        let queued = &mut core.outbound_queued;
        core.handle.directory().for_each_shard(&topic, |shard| {
            if shard != me {
                if let Some(batch) = outbound.get_mut(shard) {
                    batch.push((topic.clone(), payload.clone()));
                    *queued = true;
                }
            }
        });
        core.deferred.push(Deferred::Publish(topic, payload));
    }

    /// Deliveries skipped for `conn` because it was slow (under
    /// [`SlowSubscribers::Drop`](crate::SlowSubscribers::Drop)) since last
    /// asked; the count restarts at zero. Ask in
    /// [`Handler::on_drain`](crate::Handler::on_drain) to tell the client.
    pub fn take_missed(&mut self, conn: &Conn<'_>) -> u64 {
        self.core.topics.take_missed(ContextCore::key_of(conn))
    }
}
