//! The thread that holds this process's subscriptions on the cluster and
//! delivers what other processes published to its subscribers.
//!
//! One loop: pushes from the cluster (`smessage`: a delivery; a
//! `sunsubscribe` the server sent by itself; a lost node), changes of the
//! topics the process holds, and the answers to the subscribe and
//! unsubscribe requests it sent (each its own task, so that a node that
//! is away delays only its own topics).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use super::super::health::Health;
use super::super::interest::Interest;
use super::super::link::{back_off, parse_message, topic_of, FIRST_BACKOFF};
use super::topology::{Topology, REFRESH};
use super::{client, explain, runtime, seed_list};
use crate::hub::fanout::Fanout;
use crate::hub::nodes::Node;
use crate::hub::outbox::Counters;
use crate::hub::Hub;

/// How often the loop looks whether the server stopped, and retries the
/// subscriptions that failed.
const TICK: Duration = Duration::from_millis(100);

/// What a lost connection costs, for the log.
const MISSED_WHILE_DOWN: &str = "other processes' publishes are missed";

/// An answer to a subscribe (`true`) or unsubscribe of a topic: done or
/// not.
type Settled = (Bytes, bool, redis::RedisResult<()>);

/// Holds the subscriptions and delivers, reconnecting when it must.
pub(super) struct Listener {
    /// `redis://HOST:PORT` of each seed node.
    pub(super) seeds: Vec<String>,
    /// Delivers to this process's shards; its directory says what to hold.
    pub(super) hub: Arc<Hub>,
    /// Shared counters and stop flag.
    pub(super) counters: Arc<Counters>,
    /// This process's id: its own publishes are delivered already.
    pub(super) origin: u64,
    /// The topics held, against those wanted.
    pub(super) interest: Interest,
    /// Which node owns each slot (the publisher keeps it up to date).
    pub(super) topology: Arc<Topology>,
}

impl Listener {
    /// Runs until the server stops.
    pub(super) fn run(self) {
        let runtime = match runtime() {
            Ok(runtime) => runtime,
            Err(err) => {
                tracing::error!(%err, "backplane: cannot start the cluster listener");
                return;
            }
        };
        runtime.block_on(self.serve());
    }

    /// Whether the server is stopping.
    fn stopping(&self) -> bool {
        self.counters.stop.load(Ordering::Relaxed)
    }

    /// Connects and listens until the server stops.
    async fn serve(mut self) {
        let mut health = Health::to("Redis", "listening", seed_list(&self.seeds));
        let mut backoff = FIRST_BACKOFF;
        let mut was_up = false;
        let mut explained = false;
        while !self.stopping() {
            let (pushes, received) = mpsc::unbounded_channel();
            let made = match client(&self.seeds, Some(pushes)) {
                Ok(client) => client.get_async_connection().await,
                Err(err) => Err(err),
            };
            match made {
                Ok(connection) => {
                    if was_up {
                        self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                        for node in self.topology.masters() {
                            Node::add(&node.reconnects, 1);
                        }
                    }
                    was_up = true;
                    backoff = FIRST_BACKOFF;
                    health.up(Instant::now());
                    self.counters.listener_up.store(true, Ordering::Relaxed);
                    self.interest.forget();
                    let broke = self.listen(connection, received).await;
                    self.counters.listener_up.store(false, Ordering::Relaxed);
                    self.counters.subscriptions.store(0, Ordering::Relaxed);
                    self.count_per_node();
                    match broke {
                        Some(err) => {
                            health.down(Instant::now(), &err, MISSED_WHILE_DOWN);
                        }
                        None => return,
                    }
                }
                Err(err) => {
                    explain(&err, &self.seeds, &mut explained);
                    health.down(Instant::now(), &err, MISSED_WHILE_DOWN);
                }
            }
            if back_off(&self.counters, &mut backoff) {
                return;
            }
        }
    }

    /// Delivers and holds the subscriptions until the connection ends
    /// (`Some`) or the server stops (`None`).
    async fn listen(
        &mut self,
        connection: redis::cluster_async::ClusterConnection,
        mut pushes: UnboundedReceiver<PushInfo>,
    ) -> Option<redis::RedisError> {
        let (settle, mut settled) = mpsc::unbounded_channel::<Settled>();
        let wake = Arc::clone(&self.interest.wake);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut counted = Instant::now();
        loop {
            tokio::select! {
                push = pushes.recv() => match push {
                    Some(push) => self.on_push(push),
                    None => return Some(closed()),
                },
                answer = settled.recv() => {
                    if let Some((topic, subscribe, result)) = answer {
                        if let Err(err) = &result {
                            tracing::debug!(%err, "backplane: (un)subscribing failed; retried");
                        }
                        self.interest.settle(topic, subscribe, result.is_ok());
                    }
                }
                () = wake.notified() => {}
                _ = tick.tick() => {}
            }
            if self.stopping() {
                return None;
            }
            self.request(&connection, &settle);
            if counted.elapsed() >= REFRESH {
                counted = Instant::now();
                self.count_per_node();
            }
        }
    }

    /// Tells each node how many of the topics held live there (as the
    /// slot map says now).
    fn count_per_node(&self) {
        let mut held: Vec<(Arc<Node>, u64)> = self
            .counters
            .nodes
            .all()
            .into_iter()
            .map(|node| (node, 0))
            .collect();
        for topic in self.interest.held() {
            let Some(node) = self
                .topology
                .node_of_channel(&super::super::link::channel(topic))
            else {
                continue;
            };
            if let Some((_, n)) = held.iter_mut().find(|(known, _)| Arc::ptr_eq(known, &node)) {
                *n += 1;
            }
        }
        for (node, n) in held {
            node.subscriptions.store(n, Ordering::Relaxed);
        }
    }

    /// Sends the subscribes and unsubscribes the process needs now, each
    /// a task of its own whose answer comes back on `settle`.
    fn request(
        &mut self,
        connection: &redis::cluster_async::ClusterConnection,
        settle: &UnboundedSender<Settled>,
    ) {
        let plan = self.interest.plan(self.hub.directory());
        let each = plan
            .subscribe
            .into_iter()
            .map(|topic| (topic, true))
            .chain(plan.unsubscribe.into_iter().map(|topic| (topic, false)));
        for (topic, subscribe) in each {
            let (mut connection, settle) = (connection.clone(), settle.clone());
            tokio::spawn(async move {
                let channel = super::super::link::channel(&topic);
                let result = if subscribe {
                    connection.ssubscribe(channel).await
                } else {
                    connection.sunsubscribe(channel).await
                };
                // The loop ended: nothing to tell.
                let _ = settle.send((topic, subscribe, result));
            });
        }
        let count = self.interest.count() as u64;
        self.counters.subscriptions.store(count, Ordering::Relaxed);
    }

    /// One push from the cluster.
    fn on_push(&mut self, push: PushInfo) {
        match push.kind {
            PushKind::SMessage => {
                let (Some(Value::BulkString(channel)), Some(Value::BulkString(message))) =
                    (push.data.first(), push.data.get(1))
                else {
                    return;
                };
                self.deliver(channel, message);
            }
            PushKind::SUnsubscribe => {
                // Ours, or the server's own when a slot moved away from
                // the node: then subscribed again, where it lives now.
                if let Some(Value::BulkString(channel)) = push.data.first() {
                    if let Some(topic) = topic_of(channel) {
                        if self.interest.dropped(topic) {
                            tracing::debug!("backplane: a node dropped a subscription; again");
                        }
                    }
                }
            }
            PushKind::Disconnection => {
                // A node is gone: its topics are subscribed again wherever
                // they live next (the client follows the new master).
                tracing::debug!("backplane: a cluster node went away; resubscribing");
                self.interest.forget();
            }
            _ => {}
        }
    }

    /// Delivers another process's publish to this process's subscribers.
    fn deliver(&self, channel: &[u8], message: &[u8]) {
        let (Some(topic), Some((origin, payload))) = (topic_of(channel), parse_message(message))
        else {
            return;
        };
        if origin == self.origin {
            return; // ours: delivered locally when published
        }
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        if let Some(node) = self.topology.node_of_channel(channel) {
            Node::add(&node.received, 1);
        }
        let fanout = Fanout::topic(
            Bytes::copy_from_slice(topic),
            Bytes::copy_from_slice(payload),
        );
        // A shard whose inbox is full is waited for: the cluster keeps
        // what comes meanwhile (up to its output buffer limit).
        let running = || !self.counters.stop.load(Ordering::Relaxed);
        // Only given up when the server stops: nothing left to say.
        let _ = self.hub.fan_out(fanout, running);
    }
}

/// The error of a connection whose pushes ended.
fn closed() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
}
