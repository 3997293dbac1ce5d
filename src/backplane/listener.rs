//! The backplane thread that listens to Redis and delivers what other
//! processes published to this process's subscribers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::health::Health;
use super::link::{back_off, parse_message, topic_of, FIRST_BACKOFF};
use super::{CHANNEL_PREFIX, STOP_CHECK};
use crate::hub::outbox::Counters;
use crate::hub::Hub;

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
}

impl Listener {
    /// Runs until the server stops.
    pub(super) fn run(self) {
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
            if back_off(&self.counters, &mut backoff) {
                return;
            }
        }
    }

    /// Connects, subscribes and delivers until the connection breaks
    /// (`Err`) or the server stops (`Ok`); tells `health` when it is up.
    fn listen(
        &self,
        was_up: &mut bool,
        backoff: &mut Duration,
        health: &mut Health,
    ) -> redis::RedisResult<()> {
        let mut connection = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        let mut pubsub = connection.as_pubsub();
        pubsub.psubscribe([CHANNEL_PREFIX, b"*"].concat())?;
        pubsub.set_read_timeout(Some(STOP_CHECK))?;
        if *was_up {
            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        *was_up = true;
        *backoff = FIRST_BACKOFF;
        self.counters.listener_up.store(true, Ordering::Relaxed);
        health.up(Instant::now());
        loop {
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
            let Some(topic) = topic_of(&channel) else {
                continue;
            };
            let Some((origin, payload)) = parse_message(message.get_payload_bytes()) else {
                continue;
            };
            if origin == self.origin {
                continue; // ours: delivered locally when published
            }
            self.counters.received.fetch_add(1, Ordering::Relaxed);
            // A shard whose inbox is full is waited for: Redis keeps what
            // comes meanwhile (up to its pub/sub output buffer limit).
            let running = || !self.counters.stop.load(Ordering::Relaxed);
            let topic = Bytes::copy_from_slice(topic);
            // Only given up when the server stops: nothing left to say.
            let fanout = self
                .hub
                .stamp(topic, Bytes::copy_from_slice(payload), Instant::now());
            let _ = self.hub.fan_out(fanout, running);
        }
    }
}
