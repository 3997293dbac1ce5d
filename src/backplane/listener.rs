//! The backplane thread that listens to Redis and delivers what other
//! processes published to this process's subscribers: to every topic
//! (`PSUBSCRIBE esockets:*`), or per topic this process's clients hold
//! (`SUBSCRIBE esockets:<topic>`, `../interest.rs` saying which), made
//! between two reads.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::health::Health;
use super::interest::Interest;
use super::link::{self, back_off, count, parse_message, topic_of, FIRST_BACKOFF};
use super::shared::{self, parse_positioned, POSITIONED_PREFIX};
use super::{CHANNEL_PREFIX, STOP_CHECK};
use crate::hub::fanout::{Audience, Fanout};
use crate::hub::nodes::Node;
use crate::hub::outbox::Counters;
use crate::hub::Hub;

/// Subscribing per topic, how long a read waits before the listener
/// looks again whether the process took a topic: it bounds the join gap
/// (a topic's first subscriber here misses what other processes publish
/// until the `SUBSCRIBE` is made) at this plus a round trip, for 100
/// wake-ups a second while idle.
const JOIN_CHECK: Duration = Duration::from_millis(10);

/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Listens to `esockets:*` on Redis, reconnecting when it breaks.
pub(super) struct Listener {
    /// The Redis server.
    pub(super) client: redis::Client,
    /// Delivers to this process's shards.
    pub(super) hub: Arc<Hub>,
    /// Shared counters and stop flag.
    pub(super) counters: Arc<Counters>,
    /// This process's id: its own publishes are delivered already.
    pub(super) origin: u64,
    /// The Redis server's own counters.
    pub(super) node: Arc<Node>,
    /// Subscribing per topic: the topics held, against those wanted
    /// (`None`: a pattern, every topic).
    pub(super) interest: Option<Interest>,
}

impl Listener {
    /// Runs until the server stops.
    pub(super) fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        let mut was_up = false;
        let mut health = Health::new("listening", &self.client);
        while !self.counters.stop.load(Ordering::Relaxed) {
            match self.listen(&mut was_up, &mut backoff, &mut health) {
                Ok(()) => return,
                Err(err) => {
                    health.down(
                        Instant::now(),
                        &err,
                        "other processes' publishes are missed",
                    );
                }
            }
            self.counters.listener_up.store(false, Ordering::Relaxed);
            if self.interest.is_some() {
                self.counters.subscriptions.store(0, Ordering::Relaxed);
                self.node.subscriptions.store(0, Ordering::Relaxed);
            }
            if back_off(&self.counters, &mut backoff) {
                return;
            }
        }
    }

    /// Connects, subscribes and delivers until the connection breaks
    /// (`Err`) or the server stops (`Ok`); tells `health` when it is up.
    fn listen(
        &mut self,
        was_up: &mut bool,
        backoff: &mut Duration,
        health: &mut Health,
    ) -> redis::RedisResult<()> {
        let mut connection = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        // The history's copy is loaded once this listens: on a connection
        // of its own, before the first message is read.
        let mut loader = if self.hub.shares_history() {
            Some(self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?)
        } else {
            None
        };
        let mut pubsub = connection.as_pubsub();
        if let Some(interest) = self.interest.as_mut() {
            // A new connection holds nothing yet.
            interest.forget();
        } else {
            pubsub.psubscribe([CHANNEL_PREFIX, b"*"].concat())?;
            pubsub.psubscribe([POSITIONED_PREFIX, b"*"].concat())?;
        }
        if let Some(loader) = loader.as_mut() {
            let topics = shared::load(loader, &self.hub)?;
            tracing::debug!(topics, "backplane: shared history copied from Redis");
        }
        drop(loader);
        pubsub.set_read_timeout(Some(self.read_timeout()))?;
        if *was_up {
            count(&self.counters.reconnects, &self.node.reconnects, 1);
        }
        *was_up = true;
        *backoff = FIRST_BACKOFF;
        self.counters.listener_up.store(true, Ordering::Relaxed);
        health.up(Instant::now());
        loop {
            self.hold(&mut pubsub)?;
            let message = match pubsub.get_message() {
                Ok(message) => message,
                Err(err) if err.is_timeout() => {
                    if self.counters.stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    continue;
                }
                Err(err) => return Err(err),
            };
            let channel: Vec<u8> = message.get_channel()?;
            let Some((origin, message)) = parse_message(message.get_payload_bytes()) else {
                continue;
            };
            let fanout = if let Some(topic) = channel.strip_prefix(POSITIONED_PREFIX) {
                let Some(fanout) = self.positioned(topic, message) else {
                    continue;
                };
                // Its own too: delivered here only as it comes back.
                if origin != self.origin {
                    count(&self.counters.received, &self.node.received, 1);
                }
                fanout
            } else if let Some(topic) = topic_of(&channel) {
                if origin == self.origin {
                    continue; // ours: delivered locally when published
                }
                count(&self.counters.received, &self.node.received, 1);
                // From a process with no history: no offset.
                let topic = Bytes::copy_from_slice(topic);
                Fanout::topic(topic, Bytes::copy_from_slice(message))
            } else {
                continue;
            };
            // A shard without fan-out credit, or whose inbox is full, is
            // waited for: Redis keeps what comes meanwhile (up to its
            // pub/sub output buffer limit).
            let running = || !self.counters.stop.load(Ordering::Relaxed);
            if let Audience::Topic(topic) = &fanout.audience {
                if !self.hub.wait_for_credit(topic, running) {
                    return Ok(()); // the server stops
                }
            }
            // Only given up when the server stops: nothing left to say.
            let _ = self.hub.fan_out(fanout, running);
        }
    }

    /// How long a read waits: [`JOIN_CHECK`] subscribing per topic, else
    /// [`STOP_CHECK`].
    fn read_timeout(&self) -> Duration {
        if self.interest.is_some() {
            JOIN_CHECK
        } else {
            STOP_CHECK
        }
    }

    /// Subscribing per topic: subscribes to the topics the process took
    /// since the last look and unsubscribes from those it left, each in
    /// one command (what arrives meanwhile is kept for the next reads).
    ///
    /// # Errors
    ///
    /// The connection broke.
    fn hold(&mut self, pubsub: &mut redis::PubSub<'_>) -> redis::RedisResult<()> {
        let Some(interest) = self.interest.as_mut() else {
            return Ok(());
        };
        let plan = interest.plan(self.hub.directory());
        if plan.subscribe.is_empty() && plan.unsubscribe.is_empty() {
            return Ok(());
        }
        let channels = |topics: &[Bytes]| -> Vec<Vec<u8>> {
            topics.iter().map(|topic| link::channel(topic)).collect()
        };
        // The answer may take longer than a read between two looks at
        // the stop flag; it is waited for as for a connection.
        pubsub.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        let subscribed = if plan.subscribe.is_empty() {
            Ok(())
        } else {
            pubsub.subscribe(channels(&plan.subscribe))
        };
        let unsubscribed = if plan.unsubscribe.is_empty() {
            Ok(())
        } else {
            pubsub.unsubscribe(channels(&plan.unsubscribe))
        };
        pubsub.set_read_timeout(Some(JOIN_CHECK))?;
        let (sub_ok, unsub_ok) = (subscribed.is_ok(), unsubscribed.is_ok());
        for topic in plan.subscribe {
            interest.settle(topic, true, sub_ok);
        }
        for topic in plan.unsubscribe {
            interest.settle(topic, false, unsub_ok);
        }
        let held = interest.count() as u64;
        self.counters.subscriptions.store(held, Ordering::Relaxed);
        self.node.subscriptions.store(held, Ordering::Relaxed);
        subscribed.and(unsubscribed)
    }

    /// A publish with the offset Redis gave it: kept in the history's
    /// copy (a process with a history), then delivered at that offset.
    /// `None` if the message is not one.
    fn positioned(&self, topic: &[u8], message: &[u8]) -> Option<Fanout> {
        let (offset, epoch, payload) = parse_positioned(message)?;
        let topic = Bytes::copy_from_slice(topic);
        let payload = Bytes::copy_from_slice(payload);
        if !self.hub.shares_history() {
            return Some(Fanout::topic(topic, payload));
        }
        // Kept before the directory is read (in `fan_out`): a subscriber
        // that recovered up to the offset before is in it already.
        let histories = self.hub.histories();
        let mut reset = false;
        histories.insert(&topic, epoch, offset, &payload, Instant::now(), &mut reset);
        let fanout = Fanout::topic(topic, payload).at(offset);
        Some(if reset { fanout.after_reset() } else { fanout })
    }
}
