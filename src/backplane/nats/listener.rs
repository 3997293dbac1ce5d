//! The thread that owns the NATS connection: it holds a subscription per
//! topic this process's clients hold and delivers what other processes
//! published to them; and it says what becomes of the connection.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam::channel::Sender;
use futures_util::StreamExt;
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::task::JoinHandle;

use super::super::health::Health;
use super::super::interest::Interest;
use super::{runtime, subject, Current};
use crate::hub::fanout::Fanout;
use crate::hub::nodes::Node;
use crate::hub::outbox::Counters;
use crate::hub::Hub;

/// How often the loop looks whether the server stopped.
const TICK: Duration = Duration::from_millis(100);

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Deliveries read from the subscriptions and not yet handed to the
/// shards, at most: past it the subscriptions wait (and NATS keeps what
/// comes, up to its slow-consumer limit).
const DELIVERIES: usize = 1024;

/// How long after start-up no connection means no server answers (the
/// client retries in the background and says nothing of it).
const UNREACHABLE_AFTER: Duration = Duration::from_secs(1);

/// What a lost connection costs, for the log.
const LOST_WHILE_DOWN: &str = "other processes' publishes are missed, local publishes are \
                               queued in the client (then counted lost)";

/// Holds the subscriptions and delivers.
pub(super) struct Listener {
    /// `nats://HOST:PORT` of each server given.
    pub(super) servers: Vec<String>,
    /// The topics held, against those wanted.
    pub(super) interest: Interest,
    /// Delivers to this process's shards; its directory says what to hold.
    pub(super) hub: Arc<Hub>,
    /// Shared counters and stop flag.
    pub(super) counters: Arc<Counters>,
    /// Where the publisher gets the client.
    pub(super) give: Sender<async_nats::Client>,
    /// The server connected to now, followed here.
    pub(super) current: Current,
}

impl Listener {
    /// Runs until the server stops.
    pub(super) fn run(self) {
        let runtime = match runtime() {
            Ok(runtime) => runtime,
            Err(err) => {
                tracing::error!(%err, "backplane: cannot start the NATS listener");
                return;
            }
        };
        runtime.block_on(self.serve());
    }

    /// Whether the server is stopping.
    fn stopping(&self) -> bool {
        self.counters.stop.load(Ordering::Relaxed)
    }

    /// Connects (retrying in the background until a server answers) and
    /// listens until the server stops.
    async fn serve(mut self) {
        let servers: Vec<async_nats::ServerAddr> = self
            .servers
            .iter()
            .filter_map(|server| server.parse().ok())
            .collect();
        let (tell, mut events) = mpsc::unbounded_channel();
        let connecting = async_nats::ConnectOptions::new()
            .no_echo()
            .retry_on_initial_connect()
            .connection_timeout(CONNECT_TIMEOUT)
            .name("esockets")
            .event_callback(move |event| {
                let tell = tell.clone();
                async move {
                    // The loop ended: nothing to tell.
                    let _ = tell.send(event);
                }
            })
            .connect(servers)
            .await;
        let client = match connecting {
            Ok(client) => client,
            Err(err) => {
                tracing::error!(%err, "backplane: cannot use NATS at {}", self.servers.join(","));
                return;
            }
        };
        // The publisher waits for it (and ends with the server).
        let _ = self.give.send(client.clone());
        let mut health = [
            Health::to("NATS", "listening", self.servers.join(",")),
            Health::to("NATS", "publishing", self.servers.join(",")),
        ];
        let mut was_up = false;
        // A reconnection not yet told to the server it reached.
        let mut reconnected = false;
        let started = Instant::now();
        // When the server the client is on was last looked at.
        let mut looked = started;
        let (deliver, mut deliveries) = mpsc::channel::<async_nats::Message>(DELIVERIES);
        let mut held: HashMap<Bytes, JoinHandle<()>> = HashMap::new();
        let wake = Arc::clone(&self.interest.wake);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = events.recv() => {
                    if let Some(event) = event {
                        reconnected |= self.on_event(&event, &mut was_up, &mut health);
                    }
                }
                message = deliveries.recv() => {
                    if let Some(message) = message {
                        self.deliver(&message);
                    }
                }
                () = wake.notified() => {}
                _ = tick.tick() => {}
            }
            if self.stopping() {
                break;
            }
            if !was_up && started.elapsed() >= UNREACHABLE_AFTER {
                let now = Instant::now();
                let state = format!("connection {:?}", client.connection_state());
                for side in &mut health {
                    side.down(now, &state, LOST_WHILE_DOWN);
                }
            }
            self.hold(&client, &deliver, &mut held).await;
            // Each tick, not each delivery: the INFO is copied.
            if was_up && looked.elapsed() >= TICK {
                looked = Instant::now();
                self.follow(&client, &mut reconnected);
            }
        }
        for (_, task) in held.drain() {
            task.abort();
        }
        drain_events(&mut events);
    }

    /// Subscribes to the topics the process took since the last look and
    /// drops those it left: a task per subscription hands its messages to
    /// `deliver`.
    async fn hold(
        &mut self,
        client: &async_nats::Client,
        deliver: &mpsc::Sender<async_nats::Message>,
        held: &mut HashMap<Bytes, JoinHandle<()>>,
    ) {
        let plan = self.interest.plan(self.hub.directory());
        for topic in plan.unsubscribe {
            if let Some(task) = held.remove(&topic) {
                // Dropping its subscription unsubscribes.
                task.abort();
            }
            self.interest.settle(topic, false, true);
        }
        for topic in plan.subscribe {
            let made = client.subscribe(subject::subject(&topic)).await;
            let done = match made {
                Ok(mut subscription) => {
                    let deliver = deliver.clone();
                    let task = tokio::spawn(async move {
                        while let Some(message) = subscription.next().await {
                            if deliver.send(message).await.is_err() {
                                return;
                            }
                        }
                    });
                    if let Some(old) = held.insert(topic.clone(), task) {
                        old.abort();
                    }
                    true
                }
                Err(err) => {
                    tracing::debug!(%err, "backplane: subscribing on NATS failed; retried");
                    false
                }
            };
            self.interest.settle(topic, true, done);
        }
        let count = self.interest.count() as u64;
        self.counters.subscriptions.store(count, Ordering::Relaxed);
        if let Some(node) = self.current.lock().as_deref() {
            node.subscriptions.store(count, Ordering::Relaxed);
        }
    }

    /// Follows the server the client is on (its `INFO`): the counters go
    /// to it from now on, its subscriptions with them; a reconnection
    /// (`reconnected`) is told to it.
    fn follow(&self, client: &async_nats::Client, reconnected: &mut bool) {
        let info = client.server_info();
        let addr = format!("{}:{}", info.host, info.port);
        let mut current = self.current.lock();
        if current.as_ref().is_some_and(|node| node.addr() == addr) {
            if std::mem::take(reconnected) {
                if let Some(node) = current.as_deref() {
                    Node::add(&node.reconnects, 1);
                }
            }
            return;
        }
        let node = self.counters.nodes.node(&addr);
        if let Some(old) = current.replace(Arc::clone(&node)) {
            old.subscriptions.store(0, Ordering::Relaxed);
        }
        let count = self.interest.count() as u64;
        node.subscriptions.store(count, Ordering::Relaxed);
        if std::mem::take(reconnected) {
            Node::add(&node.reconnects, 1);
        }
    }

    /// Says what became of the connection (the client reconnects by
    /// itself, across the cluster's servers); returns whether it was a
    /// reconnection.
    fn on_event(
        &self,
        event: &async_nats::Event,
        was_up: &mut bool,
        health: &mut [Health; 2],
    ) -> bool {
        let now = Instant::now();
        let mut reconnected = false;
        match event {
            async_nats::Event::Connected => {
                if *was_up {
                    self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    reconnected = true;
                }
                *was_up = true;
                for side in health.iter_mut() {
                    side.up(now);
                }
                self.counters.listener_up.store(true, Ordering::Relaxed);
                self.counters.publisher_up.store(true, Ordering::Relaxed);
            }
            async_nats::Event::Disconnected => {
                self.counters.listener_up.store(false, Ordering::Relaxed);
                self.counters.publisher_up.store(false, Ordering::Relaxed);
                health[0].down(now, event, LOST_WHILE_DOWN);
                health[1].down(now, event, LOST_WHILE_DOWN);
            }
            other => tracing::info!("backplane: NATS: {other}"),
        }
        reconnected
    }

    /// Delivers another process's publish to this process's subscribers.
    fn deliver(&self, message: &async_nats::Message) {
        let Some(topic) = subject::topic(message.subject.as_str()) else {
            return;
        };
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        if let Some(node) = self.current.lock().as_deref() {
            Node::add(&node.received, 1);
        }
        let fanout = Fanout::topic(Bytes::from(topic), message.payload.clone());
        // A shard whose inbox is full is waited for.
        let running = || !self.counters.stop.load(Ordering::Relaxed);
        // Only given up when the server stops: nothing left to say.
        let _ = self.hub.fan_out(fanout, running);
    }
}

/// Empties `events` (the server stops: no one to tell).
fn drain_events(events: &mut UnboundedReceiver<async_nats::Event>) {
    while events.try_recv().is_ok() {}
}
