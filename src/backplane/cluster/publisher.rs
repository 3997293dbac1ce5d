//! The thread that publishes this process's publishes to the cluster:
//! `SPUBLISH` to the node owning each topic's slot, a batch at a time.
//! What a node could not take (it died, its slot is moving) is held, in
//! order, up to the option's bound, and sent again before anything newer
//! once the cluster answers: a failover delays publishes rather than
//! losing them; past the bound they are counted lost.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam::channel::{Receiver, RecvTimeoutError};
use futures_util::future::join_all;
use redis::cluster_routing::Slot;

use super::super::health::{Health, LostReport};
use super::super::link::{channel, message, FIRST_BACKOFF};
use super::super::{MAX_BACKOFF, STOP_CHECK};
use super::topology::{Topology, REFRESH};
use super::{client, explain, runtime, seed_list};
use crate::hub::nodes::Node;
use crate::hub::outbox::Counters;

/// Publishes sent at once, at most.
const BATCH: usize = 1024;

/// What a node that is away costs, for the log.
const HELD_WHILE_DOWN: &str = "local publishes are held for it (up to --backplane-resend), \
                               then counted lost";

/// Sends local publishes to the cluster, holding what could not cross.
pub(super) struct Publisher {
    /// `redis://HOST:PORT` of each seed node.
    pub(super) seeds: Vec<String>,
    /// Local publishes, from the shards and handles.
    pub(super) outbox: Receiver<(Bytes, Bytes)>,
    /// Shared counters and stop flag.
    pub(super) counters: Arc<Counters>,
    /// This process's id, sent with each publish.
    pub(super) origin: u64,
    /// Publishes held at most.
    pub(super) resend: usize,
    /// Which node owns each slot, refreshed here.
    pub(super) topology: Arc<Topology>,
}

/// One slot's part of a batch, sent: how many crossed, which did not
/// (indices in the batch), and the error that stopped it.
type SlotSent = (u64, Vec<usize>, Option<redis::RedisError>);

/// Publishes that could not cross yet (or were made while they could
/// not), oldest first.
struct Held {
    /// The publishes.
    queue: VecDeque<(Bytes, Bytes)>,
    /// Their bound.
    bound: usize,
}

impl Held {
    /// Keeps `publish` if there is room; else gives it back (it is lost).
    fn keep(&mut self, publish: (Bytes, Bytes)) -> Option<(Bytes, Bytes)> {
        if self.queue.len() >= self.bound {
            return Some(publish);
        }
        self.queue.push_back(publish);
        None
    }
}

/// Whether `err` says the connection to a node broke or could not be
/// made (not an error reply such as `CLUSTERDOWN`, from a node that is
/// there).
fn lost_connection(err: &redis::RedisError) -> bool {
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
}

impl Publisher {
    /// Runs until the server stops.
    pub(super) fn run(self) {
        let runtime = match runtime() {
            Ok(runtime) => runtime,
            Err(err) => {
                tracing::error!(%err, "backplane: cannot start the cluster publisher");
                return;
            }
        };
        runtime.block_on(self.serve());
    }

    /// Whether the server is stopping.
    fn stopping(&self) -> bool {
        self.counters.stop.load(Ordering::Relaxed)
    }

    /// Connects, publishes, holds and resends, until the server stops.
    async fn serve(self) {
        let mut health = Health::to("Redis", "publishing", seed_list(&self.seeds));
        let mut lost = LostReport::default();
        let mut held = Held {
            queue: VecDeque::new(),
            bound: self.resend,
        };
        let mut backoff = FIRST_BACKOFF;
        let mut connection = None;
        let mut was_up = false;
        let mut explained = false;
        // A send failed, and none has succeeded since.
        let mut failing = false;
        // Nodes a send failed to, and none has succeeded to since.
        let mut away: HashSet<String> = HashSet::new();
        // When the slot map was last asked for (`None`: due now).
        let mut refreshed: Option<Instant> = None;
        while !self.stopping() {
            let Some(link) = connection.as_mut() else {
                match self.connect().await {
                    Ok(made) => {
                        connection = Some(made);
                        refreshed = None;
                        if was_up {
                            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                            for node in self.topology.masters() {
                                Node::add(&node.reconnects, 1);
                            }
                        }
                        was_up = true;
                        health.up(Instant::now());
                        self.counters.publisher_up.store(true, Ordering::Relaxed);
                        backoff = FIRST_BACKOFF;
                    }
                    Err(err) => {
                        explain(&err, &self.seeds, &mut explained);
                        health.down(Instant::now(), &err, HELD_WHILE_DOWN);
                        self.hold_for(backoff, &mut held, &mut lost);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
                continue;
            };
            if refreshed.is_none_or(|at| at.elapsed() >= REFRESH) {
                refreshed = Some(Instant::now());
                self.refresh(link).await;
            }
            let resending = !held.queue.is_empty();
            let batch: Vec<(Bytes, Bytes)> = if resending {
                let n = held.queue.len().min(BATCH);
                held.queue.drain(..n).collect()
            } else {
                match self.outbox.recv_timeout(STOP_CHECK) {
                    Ok(first) => std::iter::once(first)
                        .chain(self.outbox.try_iter().take(BATCH - 1))
                        .collect(),
                    Err(RecvTimeoutError::Timeout) => {
                        lost.note(Instant::now(), self.counters.lost.load(Ordering::Relaxed));
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            let failed = self.send(link, batch, resending, &mut away).await;
            lost.note(Instant::now(), self.counters.lost.load(Ordering::Relaxed));
            let Some((err, failed)) = failed else {
                if failing {
                    failing = false;
                    self.counters.publisher_up.store(true, Ordering::Relaxed);
                    health.up(Instant::now());
                }
                backoff = FIRST_BACKOFF;
                continue;
            };
            failing = true;
            refreshed = None;
            // Oldest first, before what was held after them.
            for publish in failed.into_iter().rev() {
                if held.queue.len() >= held.bound {
                    if let Some(dropped) = held.queue.pop_back() {
                        self.lose(&dropped);
                    }
                }
                held.queue.push_front(publish);
            }
            self.counters.publisher_up.store(false, Ordering::Relaxed);
            health.down(Instant::now(), &err, HELD_WHILE_DOWN);
            self.hold_for(backoff, &mut held, &mut lost);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        // Stopping with publishes still held: they never crossed.
        for publish in &held.queue {
            self.lose(publish);
        }
        for publish in self.outbox.try_iter() {
            self.lose(&publish);
        }
    }

    /// Counts `publish` lost, for the process and for the node that owns
    /// its topic (as last known).
    fn lose(&self, publish: &(Bytes, Bytes)) {
        self.counters.lost.fetch_add(1, Ordering::Relaxed);
        if let Some(node) = self.topology.node_of_channel(&channel(&publish.0)) {
            Node::add(&node.lost, 1);
        }
    }

    /// Asks the cluster which node owns each slot (a node that does not
    /// answer leaves the map as it was).
    async fn refresh(&self, link: &mut redis::cluster_async::ClusterConnection) {
        let reply = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async::<redis::Value>(link)
            .await;
        match reply {
            Ok(reply) => self.topology.learn(&reply, &self.counters.nodes),
            Err(err) => tracing::debug!(%err, "backplane: CLUSTER SLOTS failed; asked again"),
        }
    }

    /// A connection to the cluster.
    async fn connect(&self) -> redis::RedisResult<redis::cluster_async::ClusterConnection> {
        client(&self.seeds, None)?.get_async_connection().await
    }

    /// Sends `batch`: each slot's publishes one after the other (so each
    /// topic's stay in order: sent concurrently through the client they
    /// do not), all slots at once, counting what crossed, for the process
    /// and per node (`away`: the nodes whose connection broke; one that
    /// takes a publish again counts a reconnection); returns the last error and
    /// what did not cross, in the batch's order, if anything did not.
    async fn send(
        &self,
        link: &redis::cluster_async::ClusterConnection,
        batch: Vec<(Bytes, Bytes)>,
        resending: bool,
        away: &mut HashSet<String>,
    ) -> Option<(redis::RedisError, Vec<(Bytes, Bytes)>)> {
        let mut slots: HashMap<Slot, Vec<usize>> = HashMap::new();
        let channels: Vec<Vec<u8>> = batch.iter().map(|(topic, _)| channel(topic)).collect();
        for (index, channel) in channels.iter().enumerate() {
            slots.entry(Slot::for_key(channel)).or_default().push(index);
        }
        let owners: Vec<Option<Arc<Node>>> = slots
            .keys()
            .map(|&slot| self.topology.node_of(slot))
            .collect();
        let replies: Vec<SlotSent> = join_all(slots.into_values().map(|indices| {
            let mut link = link.clone();
            let channels = &channels;
            let batch = &batch;
            async move {
                // One slot's publishes one after the other; after a
                // failure the rest wait with it (in order).
                let mut failed = Vec::new();
                let mut last = None;
                let mut crossed = 0;
                for index in indices {
                    if last.is_some() {
                        failed.push(index);
                        continue;
                    }
                    let sent = redis::cmd("SPUBLISH")
                        .arg(&channels[index])
                        .arg(message(self.origin, &batch[index].1))
                        .query_async::<()>(&mut link)
                        .await;
                    match sent {
                        Ok(()) => crossed += 1,
                        Err(err) => {
                            failed.push(index);
                            last = Some(err);
                        }
                    }
                }
                (crossed, failed, last)
            }
        }))
        .await;
        let mut failed: Vec<usize> = Vec::new();
        let mut last = None;
        for ((sent, missed, err), owner) in replies.into_iter().zip(owners) {
            self.counters.sent.fetch_add(sent, Ordering::Relaxed);
            if resending {
                self.counters.resent.fetch_add(sent, Ordering::Relaxed);
            }
            if let Some(node) = owner.as_deref() {
                Node::add(&node.sent, sent);
                if resending {
                    Node::add(&node.resent, sent);
                }
                if err.as_ref().is_some_and(lost_connection) {
                    away.insert(node.addr().to_owned());
                } else if err.is_none() && sent > 0 && away.remove(node.addr()) {
                    Node::add(&node.reconnects, 1);
                }
            }
            failed.extend(missed);
            if err.is_some() {
                last = err;
            }
        }
        let err = last?;
        failed.sort_unstable();
        let mut batch: Vec<Option<(Bytes, Bytes)>> = batch.into_iter().map(Some).collect();
        let failed = failed
            .into_iter()
            .filter_map(|index| batch[index].take())
            .collect();
        Some((err, failed))
    }

    /// For `wait` (a back-off): what is published meanwhile is held, or
    /// counted lost once the bound is reached.
    fn hold_for(&self, wait: Duration, held: &mut Held, lost: &mut LostReport) {
        let end = Instant::now() + wait;
        while !self.stopping() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            if let Ok(publish) = self.outbox.recv_timeout(left.min(STOP_CHECK)) {
                let publish = held.keep(publish);
                if let Some(publish) = publish {
                    self.lose(&publish);
                }
            }
            lost.note(Instant::now(), self.counters.lost.load(Ordering::Relaxed));
        }
    }
}
