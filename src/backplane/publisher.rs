//! The backplane thread that publishes this process's publishes to Redis.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam::channel::{Receiver, RecvTimeoutError};

use super::health::{Health, LostReport};
use super::link::{channel, count, message, FIRST_BACKOFF};
use super::shared::{meta_key, positioned_channel, script_args, stream_key, PUBLISH_SCRIPT};
use super::{MAX_BACKOFF, STOP_CHECK};
use crate::hub::nodes::Node;
use crate::hub::outbox::Counters;
use crate::hub::Hub;

/// Publishes sent to Redis in one pipelined round trip, at most.
const BATCH: usize = 1024;

/// How long connecting to Redis, or one round trip, may take.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// How often an idle publishing connection is checked.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// What a broken publishing connection costs, for the log.
const LOST_WHILE_DOWN: &str = "local publishes are counted lost";

/// Sends local publishes to Redis, pipelined, reconnecting when it breaks.
pub(super) struct Publisher {
    /// The Redis server.
    pub(super) client: redis::Client,
    /// Local publishes, from the shards and handles.
    pub(super) outbox: Receiver<(Bytes, Bytes)>,
    /// Shared counters and stop flag.
    pub(super) counters: Arc<Counters>,
    /// This process's id, sent with each publish.
    pub(super) origin: u64,
    /// The server: whether its history is shared, and its copy.
    pub(super) hub: Arc<Hub>,
    /// The Redis server's own counters.
    pub(super) node: Arc<Node>,
}

impl Publisher {
    /// Runs until the server stops; what is still queued then (Redis was
    /// down, or broke during the last batch) is counted lost.
    pub(super) fn run(self) {
        self.publish_until_stopped();
        let left = self.outbox.try_iter().count() as u64;
        if left > 0 {
            count(&self.counters.lost, &self.node.lost, left);
        }
    }

    /// Publishes and reconnects until the server stops.
    fn publish_until_stopped(&self) {
        let mut backoff = FIRST_BACKOFF;
        let mut was_up = false;
        let mut health = Health::new("publishing", &self.client);
        let mut lost = LostReport::default();
        while !self.stopping() {
            match self.connect() {
                Ok(mut connection) => {
                    if was_up {
                        count(&self.counters.reconnects, &self.node.reconnects, 1);
                    }
                    health.up(Instant::now());
                    was_up = true;
                    backoff = FIRST_BACKOFF;
                    self.counters.publisher_up.store(true, Ordering::Relaxed);
                    let broke = self.serve(&mut connection, &mut lost);
                    self.counters.publisher_up.store(false, Ordering::Relaxed);
                    match broke {
                        Some(err) => {
                            health.down(Instant::now(), &err, LOST_WHILE_DOWN);
                        }
                        None => return,
                    }
                }
                Err(err) => {
                    health.down(Instant::now(), &err, LOST_WHILE_DOWN);
                }
            }
            self.lose_for(backoff, &mut lost);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Whether the server is stopping.
    fn stopping(&self) -> bool {
        self.counters.stop.load(Ordering::Relaxed)
    }

    /// A connection with timeouts.
    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let connection = self.client.get_connection_with_timeout(REDIS_TIMEOUT)?;
        connection.set_read_timeout(Some(REDIS_TIMEOUT))?;
        connection.set_write_timeout(Some(REDIS_TIMEOUT))?;
        Ok(connection)
    }

    /// Logs the publishes lost since the last such line, if one is due.
    fn report_lost(&self, lost: &mut LostReport) {
        lost.note(Instant::now(), self.counters.lost.load(Ordering::Relaxed));
    }

    /// Publishes what arrives until the connection breaks (`Some`) or the
    /// server stops (`None`); `lost` logs publishes lost meanwhile (to a
    /// full outbox).
    fn serve(
        &self,
        connection: &mut redis::Connection,
        lost: &mut LostReport,
    ) -> Option<redis::RedisError> {
        let mut pipe = redis::pipe();
        let mut last_checked = Instant::now();
        // With a shared history, each publish is the script (loaded once
        // per connection: a restarted Redis forgets it, and the
        // connection broke with it).
        let script: Option<String> = if self.hub.shares_history() {
            match redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(PUBLISH_SCRIPT)
                .query(connection)
            {
                Ok(sha) => Some(sha),
                Err(err) => return Some(err),
            }
        } else {
            None
        };
        loop {
            let first = match self.outbox.recv_timeout(STOP_CHECK) {
                Ok(first) => first,
                Err(RecvTimeoutError::Timeout) if !self.stopping() => {
                    self.report_lost(lost);
                    // Idle: make sure the connection is still there, so the
                    // next publish does not find out the hard way. At once
                    // when the listening thread lost Redis, else each second.
                    let listener_down = !self.counters.listener_up.load(Ordering::Relaxed);
                    if listener_down || last_checked.elapsed() >= IDLE_CHECK {
                        last_checked = Instant::now();
                        if let Err(err) = redis::cmd("PING").query::<()>(connection) {
                            return Some(err);
                        }
                    }
                    continue;
                }
                Err(_) => return None,
            };
            pipe.clear();
            let mut batch = 0;
            for (topic, payload) in std::iter::once(first).chain(self.outbox.try_iter().take(BATCH))
            {
                match &script {
                    Some(sha) => {
                        let args = script_args(&self.hub, &topic);
                        pipe.cmd("EVALSHA")
                            .arg(sha)
                            .arg(2)
                            .arg(meta_key(&topic))
                            .arg(stream_key(&topic))
                            .arg(&args.epoch[..])
                            .arg(args.messages)
                            .arg(&self.origin.to_be_bytes()[..])
                            .arg(&payload[..])
                            .arg(positioned_channel(&topic))
                            .arg(args.age)
                            .arg(args.known)
                            .ignore();
                    }
                    None => {
                        pipe.cmd("PUBLISH")
                            .arg(channel(&topic))
                            .arg(message(self.origin, &payload))
                            .ignore();
                    }
                }
                batch += 1;
            }
            match pipe.query::<()>(connection) {
                Ok(()) => {
                    count(&self.counters.sent, &self.node.sent, batch);
                    self.report_lost(lost);
                }
                Err(err) => {
                    count(&self.counters.lost, &self.node.lost, batch);
                    self.report_lost(lost);
                    return Some(err);
                }
            }
        }
    }

    /// While Redis is down, for `wait`: what is published is lost (not
    /// delivered late, out of order with what came after), counted, and
    /// logged through `lost`.
    fn lose_for(&self, wait: Duration, lost: &mut LostReport) {
        let end = Instant::now() + wait;
        while !self.stopping() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            if self.outbox.recv_timeout(left.min(STOP_CHECK)).is_ok() {
                count(&self.counters.lost, &self.node.lost, 1);
            }
            self.report_lost(lost);
        }
    }
}
