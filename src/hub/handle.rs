//! `ServerHandle`: reach a running server from any thread.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::hub::fanout::Fanout;
use crate::hub::id::ConnId;
use crate::hub::inbox::SendError;
use crate::hub::nodes::NodeStats;
use crate::hub::outbox::BackplaneStats;
use crate::hub::stats::ShardStats;
use crate::hub::Hub;

/// A cheap, cloneable handle to a running server, usable from any thread:
/// send to any client by id, close it, publish, read counters, shut down.
///
/// A thin wrapper over what the server's threads share.
#[derive(Clone)]
pub struct ServerHandle {
    /// Shared by all clones, the shards and the server's other threads.
    hub: Arc<Hub>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.hub.local_addr())
            .field("shards", &self.hub.shards())
            .finish()
    }
}

impl ServerHandle {
    /// A handle over a server's hub.
    pub(crate) fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }

    /// What the server's threads share.
    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.hub.local_addr()
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.hub.shards()
    }

    /// The most clients the server serves at once (`max_connections`, or
    /// what was derived from the open-file limit).
    pub fn max_connections(&self) -> usize {
        self.hub.max_connections()
    }

    /// Queues `data` for the client `id`, on whichever shard owns it. A
    /// stale id (the client closed) is detected on the shard and the data
    /// dropped. Wakes the shard at most once per loop round, however many
    /// threads send.
    ///
    /// # Errors
    ///
    /// [`SendError::InboxFull`] if that shard is too far behind;
    /// [`SendError::Stopped`] if it has stopped.
    pub fn send(&self, id: ConnId, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.hub.send(id, data.into())
    }

    /// Closes the client `id` gracefully (after its queued output).
    ///
    /// # Errors
    ///
    /// As for [`send`](Self::send).
    pub fn close(&self, id: ConnId) -> Result<(), SendError> {
        self.hub.close(id)
    }

    /// Publishes `payload` to every subscriber of `topic`, on every shard
    /// and, with a backplane, in every process sharing it: one order per
    /// shard that has subscribers, the payload shared by all of them. Each
    /// shard frames it once for its protocol
    /// ([`Handler::frame_delivery`](crate::Handler::frame_delivery)).
    /// Publishes from one thread to one topic reach each subscriber in the
    /// order made. A shard that has stopped (the server is shutting down)
    /// drops it. Slow subscribers are treated as
    /// [`Config::slow_subscribers`](crate::Config::slow_subscribers) says,
    /// as for every fan-out.
    ///
    /// Paced like a client's publish: while a shard with subscribers has
    /// [`Config::fanout_credit`](crate::Config::fanout_credit) publishes
    /// in flight, the publish is refused at once (never waited for), and
    /// nothing is delivered or kept in the history.
    ///
    /// # Errors
    ///
    /// [`SendError::NoCredit`] if some shard with subscribers has its
    /// fan-out credit in flight (nobody got it: try again shortly);
    /// [`SendError::InboxFull`] if some shard with subscribers was too far
    /// behind to take it (the others got it).
    pub fn publish(&self, topic: &[u8], payload: impl Into<Bytes>) -> Result<(), SendError> {
        let topic = Bytes::copy_from_slice(topic);
        if !self.hub.has_credit(Some(&topic)) {
            return Err(SendError::NoCredit);
        }
        let Some(fanout) = self.hub.publish(topic, payload.into(), Instant::now()) else {
            return Ok(()); // delivered as it comes back from Redis
        };
        self.hub.forward(&fanout);
        self.hub.fan_out(fanout, || false)
    }

    /// Queues `payload` for every client of every shard (one shared buffer,
    /// byte for byte), with the same slow-subscriber policy as a publish:
    /// [`ShardContext::send_to_all`](crate::ShardContext::send_to_all)
    /// for the whole server.
    ///
    /// # Errors
    ///
    /// As for [`publish`](Self::publish).
    pub fn broadcast(&self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        if !self.hub.has_credit(None) {
            return Err(SendError::NoCredit);
        }
        self.hub.fan_out(Fanout::everyone(payload.into()), || false)
    }

    /// The Redis backplane's counters, if the server has one
    /// ([`Config::backplane`](crate::Config::backplane)).
    pub fn backplane_stats(&self) -> Option<BackplaneStats> {
        self.hub.backplane_stats()
    }

    /// The backplane's counters per node (each Redis, Redis Cluster or
    /// NATS server this process talked to, by address), in the order they
    /// were met; empty without a backplane.
    pub fn backplane_nodes(&self) -> Vec<NodeStats> {
        self.hub.backplane_nodes()
    }

    /// Starts a graceful shutdown: every shard stops accepting at once,
    /// serves its clients through `Config::shutdown_grace` (if set),
    /// flushes queued output up to the close timeout, closes its clients
    /// and ends. Returns at once, even when an inbox is full (a handler may
    /// call it on its own shard); calling it again is harmless.
    pub fn shutdown(&self) {
        self.hub.shutdown();
    }

    /// The latest counters of every shard, by index.
    pub fn stats(&self) -> Vec<ShardStats> {
        self.hub.stats()
    }
}
