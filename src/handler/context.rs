//! `ShardContext`: what every callback may do to its shard.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::core::client::{IDLE_INHERITED, IDLE_OFF};
use crate::core::context::{ContextCore, Deferred, TimerTask};
use crate::core::topics::Subscribed;
use crate::core::wheel::TimerKey;
use crate::handler::conn::Conn;
use crate::hub::events::Event;
use crate::hub::fanout::Fanout;
use crate::hub::handle::ServerHandle;
use crate::hub::history::{Recovered, Unrecoverable};
use crate::hub::id::ConnId;
use crate::hub::inbox::SendError;
use crate::hub::presence::Present;

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
    /// never copied per client), after this callback, with the same
    /// slow-subscriber policy as a publish
    /// ([`Config::slow_subscribers`](crate::Config::slow_subscribers)):
    /// [`ServerHandle::broadcast`] for one shard.
    pub fn send_to_all(&mut self, data: impl Into<Bytes>) {
        self.core
            .deferred
            .push(Deferred::Fanout(Fanout::everyone(data.into())));
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
        self.insert_timer(id, after, tag, false)
    }

    /// A timer for a layer that stands between the shard and a handler
    /// (the WebSocket layer, say): as [`set_timer`](Self::set_timer), but
    /// it fires [`Handler::on_layer_timer`](crate::Handler::on_layer_timer),
    /// never `on_timer`. So the handler behind the layer keeps every `u64`
    /// for its own tags, and no bit is reserved by convention.
    pub fn set_layer_timer(&mut self, id: ConnId, after: Duration, tag: u64) -> TimerId {
        self.insert_timer(id, after, tag, true)
    }

    /// Puts a timer in the wheel.
    fn insert_timer(&mut self, id: ConnId, after: Duration, tag: u64, layer: bool) -> TimerId {
        let deadline = self.core.deadline_after(after);
        let task = TimerTask::Handler {
            owner: id,
            tag,
            layer,
        };
        TimerId(self.core.wheel.insert(deadline, task))
    }

    /// Cancels a timer; returns whether it was still pending (a timer due
    /// at the same moment as the one whose `on_timer` runs now counts as
    /// pending: it will not fire). O(1).
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.core.wheel.cancel(timer.0).is_some()
    }

    /// Gives the client `conn` an idle timeout of its own, counting from
    /// now: closed with [`CloseReason::IdleTimeout`](crate::CloseReason::IdleTimeout)
    /// once nothing arrived from it for `timeout` (and none of our output
    /// is on its way to it); `None` turns the idle timeout off for it.
    /// Overrides [`Config::idle_timeout`](crate::Config::idle_timeout) for
    /// this client; applied after this callback.
    ///
    /// # Panics
    ///
    /// If `timeout` is zero or longer than 49 days (the wheel counts in
    /// 32-bit milliseconds).
    pub fn set_idle_timeout(&mut self, conn: &Conn<'_>, timeout: Option<Duration>) {
        let idle = match timeout {
            None => IDLE_OFF,
            Some(timeout) => {
                let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
                assert!(
                    ms > 0 && ms < IDLE_OFF,
                    "an idle timeout of {timeout:?}: from 1 ms to 49 days"
                );
                ms
            }
        };
        self.core
            .deferred
            .push(Deferred::IdleTimeout(conn.id(), idle));
    }

    /// Gives the client `conn` the server's idle timeout again
    /// ([`Config::idle_timeout`](crate::Config::idle_timeout)), after
    /// [`set_idle_timeout`](Self::set_idle_timeout) gave it its own.
    pub fn reset_idle_timeout(&mut self, conn: &Conn<'_>) {
        self.core
            .deferred
            .push(Deferred::IdleTimeout(conn.id(), IDLE_INHERITED));
    }

    /// How long the client `conn` has been idle, to the millisecond of
    /// this round's clock: since its last input, or since the idle check
    /// last found our output still on its way to it (a slow reader is not
    /// idle). `None` unless an idle timeout applies to it (the server's,
    /// or its own), since only then is the time kept.
    pub fn idle_for(&self, conn: &Conn<'_>) -> Option<Duration> {
        let server = self.core.idle_timeout.is_some();
        let tracked = match conn.idle() {
            IDLE_INHERITED => server,
            IDLE_OFF => false,
            _ => true,
        };
        let quiet = (self.core.now_tick() as u32).wrapping_sub(conn.last_input());
        tracked.then(|| Duration::from_millis(u64::from(quiet)))
    }

    /// Subscribes the client `conn` to `topic` (any bytes); returns
    /// whether it was not subscribed yet. Its subscriptions end when it
    /// closes. It counts as anonymous in the topic's presence
    /// ([`presence`](Self::presence)).
    pub fn subscribe(&mut self, conn: &Conn<'_>, topic: &[u8]) -> bool {
        self.subscribe_as(conn, topic, None)
    }

    /// [`subscribe`](Self::subscribe), counted in the topic's presence as
    /// `identity` (anonymous if `None`). A client has one identity for all
    /// its subscriptions: the one it gave when it had none open.
    pub fn subscribe_as(
        &mut self,
        conn: &Conn<'_>,
        topic: &[u8],
        identity: Option<&Arc<str>>,
    ) -> bool {
        let key = ContextCore::key_of(conn.id());
        let shard = self.shard();
        let core = &mut *self.core;
        let hub = core.handle.hub();
        let identity = identity.unwrap_or_else(|| hub.presence().anonymous());
        match core.topics.subscribe(key, topic, identity) {
            Subscribed::Already => false,
            Subscribed::New { first, topic } => {
                if first {
                    hub.directory().add(&topic, shard);
                }
                hub.presence().join(&topic, identity);
                true
            }
        }
    }

    /// Subscribes `conn` to `topic` with positions (the server must keep
    /// a history: [`Config::history`](crate::Config::history)): every
    /// delivery on this subscription carries its offset
    /// ([`Handler::frame_positioned`](crate::Handler::frame_positioned)),
    /// each offset once and in order. With `since` (an offset and epoch
    /// the client had), the publishes after that offset are returned to be
    /// sent first, before any live one: no gap, no duplicate. Returns the
    /// topic's position now.
    ///
    /// # Errors
    ///
    /// [`Unrecoverable`] if the server keeps no history, or the one asked
    /// for is gone (another epoch) or no longer holds every publish after
    /// `since`; the client is then not subscribed (unless it was before).
    pub fn subscribe_positioned(
        &mut self,
        conn: &Conn<'_>,
        topic: &[u8],
        identity: Option<&Arc<str>>,
        since: Option<(u64, &[u8])>,
    ) -> Result<Recovered, Unrecoverable> {
        let now = self.now();
        if !self.core.handle.hub().histories().enabled() {
            return Err(Unrecoverable::Off);
        }
        // In the directory before the history is read: a publish given a
        // later offset is sure to reach this shard.
        let new = self.subscribe_as(conn, topic, identity);
        let histories = self.core.handle.hub().histories();
        let recovered = match since {
            None => Ok(Recovered {
                position: histories.position(topic, now),
                missed: Vec::new(),
            }),
            Some((offset, epoch)) => histories.since(topic, offset, epoch, now),
        };
        match &recovered {
            Ok(recovered) => {
                let key = ContextCore::key_of(conn.id());
                self.core
                    .topics
                    .set_position(key, topic, recovered.position.offset);
                self.core
                    .events
                    .add(Event::Recovered, recovered.missed.len() as u64);
            }
            Err(_) => {
                if since.is_some() {
                    self.core.events.count(Event::RecoveryFailed);
                }
                if new {
                    self.unsubscribe(conn, topic);
                }
            }
        }
        recovered
    }

    /// Who is subscribed to `topic` in this server: how many
    /// subscriptions, and their identities (each once), `bound` at most.
    pub fn presence(&self, topic: &[u8], bound: usize) -> Present {
        self.core.handle.hub().presence().of(topic, bound)
    }

    /// Ends the subscription of `conn` to `topic`; returns whether it had
    /// one.
    pub fn unsubscribe(&mut self, conn: &Conn<'_>, topic: &[u8]) -> bool {
        let key = ContextCore::key_of(conn.id());
        let shard = self.shard();
        let core = &mut *self.core;
        match core.topics.unsubscribe(key, topic) {
            None => false,
            Some((last, identity)) => {
                let hub = core.handle.hub();
                if last {
                    hub.directory().remove(topic, shard);
                }
                hub.presence().leave(topic, &identity);
                true
            }
        }
    }

    /// Ends every subscription of `conn` at once (as its close would): for
    /// a protocol whose client must get no more deliveries, such as a
    /// WebSocket client once the closing handshake began.
    pub fn unsubscribe_all(&mut self, conn: &Conn<'_>) {
        let key = ContextCore::key_of(conn.id());
        self.core.unsubscribe_all(key);
    }

    /// How many topics `conn` is subscribed to.
    pub fn subscriptions(&self, conn: &Conn<'_>) -> usize {
        self.core.topics.count(ContextCore::key_of(conn.id()))
    }

    /// Publishes `payload` to every subscriber of `topic` on every shard
    /// and, with a backplane, in every process sharing it. Each shard
    /// frames it once for its protocol
    /// ([`Handler::frame_delivery`](crate::Handler::frame_delivery)) and
    /// shares that one buffer with all its subscribers.
    ///
    /// This shard's subscribers get it right after this callback; each
    /// other shard with subscribers gets this round's publishes in one
    /// order, at the end of the round. The publishes of one shard to one
    /// topic reach every subscriber in the order made.
    ///
    /// Paced by [`Config::fanout_credit`](crate::Config::fanout_credit):
    /// if another shard has that many publishes in flight, the client
    /// whose input this `on_data` handles is read no further (what this
    /// callback sends still goes) until that shard is back to half of
    /// it. Publishes from other callbacks take the credit too but pace
    /// nobody.
    pub fn publish(&mut self, topic: &[u8], payload: impl Into<Bytes>) {
        let now = self.now();
        let shared = Bytes::copy_from_slice(topic);
        let Some(fanout) = self.core.handle.hub().publish(shared, payload.into(), now) else {
            // Delivered as it comes back from Redis.
            self.core.deferred.push(Deferred::Published);
            return;
        };
        let me = self.shard();
        let core = &mut *self.core;
        let outbound = &mut core.outbound;
        let queued = &mut core.outbound_queued;
        let over = &mut core.over_credit;
        let hub = core.handle.hub();
        hub.directory().for_each_shard(topic, |shard| {
            if shard != me {
                if let Some(batch) = outbound.get_mut(shard) {
                    batch.push(fanout.clone());
                    *queued = true;
                    if hub.credit().take(shard) && over.is_none() {
                        *over = Some(shard);
                    }
                }
            }
        });
        core.deferred.push(Deferred::Fanout(fanout));
    }

    /// Whether a publish of this callback found another shard past its
    /// fan-out credit ([`Config::fanout_credit`](crate::Config::fanout_credit)):
    /// the client whose input `on_data` handles will be read no further
    /// until that shard catches up. A handler that stops here, leaving the
    /// rest of its input unconsumed, is handed that rest again (from its
    /// start) when the client goes on; one that goes on through its input
    /// is paced from its next read.
    pub fn paced(&self) -> bool {
        self.core.over_credit.is_some()
    }

    /// Deliveries skipped for `conn` because it was slow (under
    /// [`SlowSubscribers::Drop`](crate::SlowSubscribers::Drop)) since last
    /// asked; the count restarts at zero. Ask in
    /// [`Handler::on_drain`](crate::Handler::on_drain) to tell the client.
    pub fn take_missed(&mut self, conn: &Conn<'_>) -> u64 {
        self.core.topics.take_missed(ContextCore::key_of(conn.id()))
    }

    /// Counts one `event` in the shard's counters (and so its metrics).
    pub fn count(&mut self, event: Event) {
        self.core.events.count(event);
    }
}
