//! The server's end of the backplane: where local publishes go to reach
//! other processes, and the backplane's counters.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam::channel::Sender;

use super::nodes::{NodeStats, Nodes};

/// The backplane's counters, process-wide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackplaneStats {
    /// Local publishes sent to Redis.
    pub sent: u64,
    /// Publishes of other processes received from Redis and delivered to
    /// this process's subscribers.
    pub received: u64,
    /// Local publishes that never reached Redis: it was unreachable, or
    /// the outbox was full.
    pub lost: u64,
    /// Times a connection to Redis was made again after it broke.
    pub reconnects: u64,
    /// Both connections (publishing and listening) are up now.
    pub connected: bool,
    /// Local publishes held while the node owning their topic was away
    /// and sent once it was back (a Redis Cluster backplane; also in
    /// `sent`).
    pub resent: u64,
    /// Topics this process is subscribed to on the backplane now (a Redis
    /// Cluster backplane subscribes per topic held here; one Redis, to
    /// everything: 0).
    pub subscriptions: u64,
}

/// What the backplane's threads and the server share.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// See [`BackplaneStats::sent`].
    pub(crate) sent: AtomicU64,
    /// See [`BackplaneStats::received`].
    pub(crate) received: AtomicU64,
    /// See [`BackplaneStats::lost`].
    pub(crate) lost: AtomicU64,
    /// See [`BackplaneStats::reconnects`].
    pub(crate) reconnects: AtomicU64,
    /// See [`BackplaneStats::resent`].
    pub(crate) resent: AtomicU64,
    /// See [`BackplaneStats::subscriptions`].
    pub(crate) subscriptions: AtomicU64,
    /// The publishing connection is up.
    pub(crate) publisher_up: AtomicBool,
    /// The listening connection is up.
    pub(crate) listener_up: AtomicBool,
    /// The server is stopping: the threads end.
    pub(crate) stop: AtomicBool,
    /// The same, per node.
    pub(crate) nodes: Nodes,
}

/// The server's end of the backplane: where local publishes go.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// Local publishes for the publishing thread.
    queue: Sender<(Bytes, Bytes)>,
    /// Shared with the threads.
    counters: Arc<Counters>,
}

impl Outbox {
    /// An outbox sending to `queue`, counting in `counters`.
    pub(crate) fn new(queue: Sender<(Bytes, Bytes)>, counters: Arc<Counters>) -> Self {
        Self { queue, counters }
    }

    /// Hands a local publish to the backplane; counts it lost if the
    /// outbox is full. Never blocks.
    pub(crate) fn forward(&self, topic: &Bytes, payload: &Bytes) {
        if self
            .queue
            .try_send((topic.clone(), payload.clone()))
            .is_err()
        {
            self.counters.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether both connections to Redis are up now.
    pub(crate) fn up(&self) -> bool {
        self.counters.publisher_up.load(Ordering::Relaxed)
            && self.counters.listener_up.load(Ordering::Relaxed)
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> BackplaneStats {
        let c = &self.counters;
        BackplaneStats {
            sent: c.sent.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            connected: c.publisher_up.load(Ordering::Relaxed)
                && c.listener_up.load(Ordering::Relaxed),
            resent: c.resent.load(Ordering::Relaxed),
            subscriptions: c.subscriptions.load(Ordering::Relaxed),
        }
    }

    /// The counters per node now.
    pub(crate) fn nodes(&self) -> Vec<NodeStats> {
        self.counters.nodes.stats()
    }
}
