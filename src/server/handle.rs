//! `ServerHandle`: reach a running server from any thread.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::handler::id::ConnId;
use crate::net::fds::Spare;
use crate::pubsub::backplane::{BackplaneStats, Outbox};
use crate::pubsub::directory::Directory;
use crate::server::acceptor::Control;
use crate::server::heartbeat::Heartbeat;
use crate::server::stats::{PublishedStats, ShardStats};
use crate::shard::inbox::{Command, InboxSender, SendError};

/// How other threads reach one shard.
pub(crate) struct Remote {
    /// The shard's inbox.
    pub(crate) inbox: InboxSender,
    /// The shard's published counters.
    pub(crate) stats: PublishedStats,
    /// The shard's heartbeat and round durations (also lent to the shard's
    /// context, which writes them).
    pub(crate) heartbeat: Arc<Heartbeat>,
}

/// What every handle clone shares.
struct Shared {
    /// One entry per shard, by index.
    shards: Vec<Remote>,
    /// The address the server listens on (the real port if 0 was asked).
    local_addr: SocketAddr,
    /// Clients open in this server (all shards), counted on accept and close
    /// only, against `max_connections`.
    open: AtomicUsize,
    /// The most clients served at once.
    max_connections: usize,
    /// Which shards have subscribers of which topic.
    directory: Directory,
    /// Where local publishes go to reach other processes, if anywhere.
    backplane: Option<Outbox>,
    /// The acceptor, under least-loaded balancing.
    acceptor: OnceLock<Arc<Control>>,
    /// The descriptor kept for refusing clients at `EMFILE`, one for every
    /// thread that accepts.
    spare: Spare,
}

/// A cheap, cloneable handle to a running server, usable from any thread:
/// send to any client by id, close it, read counters, shut down.
#[derive(Clone)]
pub struct ServerHandle {
    /// Shared by all clones.
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.shared.local_addr)
            .field("shards", &self.shared.shards.len())
            .finish()
    }
}

impl ServerHandle {
    /// A handle over the shards' remotes.
    pub(crate) fn new(
        shards: Vec<Remote>,
        local_addr: SocketAddr,
        max_connections: usize,
        backplane: Option<Outbox>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                shards,
                local_addr,
                open: AtomicUsize::new(0),
                max_connections,
                directory: Directory::default(),
                backplane,
                acceptor: OnceLock::new(),
                spare: Spare::new(),
            }),
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.shared.shards.len()
    }

    /// The most clients the server serves at once (`max_connections`, or
    /// what was derived from the open-file limit).
    pub fn max_connections(&self) -> usize {
        self.shared.max_connections
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
        self.command(id.shard(), Command::Send(id, data.into()))
    }

    /// Closes the client `id` gracefully (after its queued output).
    ///
    /// # Errors
    ///
    /// As for [`send`](Self::send).
    pub fn close(&self, id: ConnId) -> Result<(), SendError> {
        self.command(id.shard(), Command::Close(id))
    }

    /// Publishes `payload` to every subscriber of `topic`, on every shard:
    /// one command per shard that has subscribers, the payload shared by
    /// all of them. Each subscriber receives `payload` byte for byte (a
    /// protocol frames it before publishing). Publishes from one thread to
    /// one topic reach each subscriber in the order made. A shard that has
    /// stopped (the server is shutting down) drops it.
    ///
    /// # Errors
    ///
    /// [`SendError::InboxFull`] if some shard with subscribers was too far
    /// behind to take it (the others got it).
    pub fn publish(&self, topic: &[u8], payload: impl Into<Bytes>) -> Result<(), SendError> {
        let topic = Bytes::copy_from_slice(topic);
        let payload = payload.into();
        self.forward(&topic, &payload);
        self.publish_local(&topic, &payload, || false)
    }

    /// Publishes to this process's subscribers only. While a shard's inbox
    /// is full, waits (yielding) as long as `keep_waiting` says so, else
    /// gives that shard up and says [`SendError::InboxFull`]: the backplane
    /// waits (reading no more from Redis meanwhile), a caller of
    /// [`publish`](Self::publish) does not.
    pub(crate) fn publish_local(
        &self,
        topic: &Bytes,
        payload: &Bytes,
        keep_waiting: impl Fn() -> bool,
    ) -> Result<(), SendError> {
        let mut result = Ok(());
        self.shared.directory.for_each_shard(topic, |shard| {
            let mut command = Command::Publish(vec![(topic.clone(), payload.clone())]);
            while let Err(refused) = self.offer(shard, command) {
                if !keep_waiting() {
                    result = Err(SendError::InboxFull);
                    return;
                }
                std::thread::yield_now();
                command = refused;
            }
        });
        result
    }

    /// Hands a local publish to the backplane, if there is one.
    pub(crate) fn forward(&self, topic: &Bytes, payload: &Bytes) {
        if let Some(backplane) = &self.shared.backplane {
            backplane.forward(topic, payload);
        }
    }

    /// The Redis backplane's counters, if the server has one
    /// ([`Config::backplane`](crate::Config::backplane)).
    pub fn backplane_stats(&self) -> Option<BackplaneStats> {
        self.shared.backplane.as_ref().map(Outbox::stats)
    }

    /// Queues `payload` for every client of the server (one shared buffer).
    ///
    /// # Errors
    ///
    /// As for [`publish`](Self::publish).
    pub fn broadcast(&self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        let payload = payload.into();
        let mut result = Ok(());
        for shard in 0..self.shards() {
            if let Err(err) = self.command(shard, Command::Broadcast(payload.clone())) {
                result = Err(err);
            }
        }
        result
    }

    /// Starts a graceful shutdown: every shard stops accepting at once,
    /// serves its clients through `Config::shutdown_grace` (if set),
    /// flushes queued output up to the drain timeout, closes its clients and
    /// ends. Returns at once, even when an inbox is full (a handler may
    /// call it on its own shard); calling it again is harmless.
    pub fn shutdown(&self) {
        // Under least-loaded balancing the acceptor hands over the clients
        // queued now, then tells the shards.
        if let Some(acceptor) = self.shared.acceptor.get() {
            if acceptor.stop() {
                return;
            }
        }
        self.shutdown_shards();
    }

    /// Asks every shard to shut down.
    pub(crate) fn shutdown_shards(&self) {
        for remote in &self.shared.shards {
            // A stopped shard needs no shutdown.
            let _ = remote.inbox.request_shutdown();
        }
    }

    /// The latest counters of every shard, by index.
    pub fn stats(&self) -> Vec<ShardStats> {
        let mut stats: Vec<ShardStats> = self
            .shared
            .shards
            .iter()
            .map(|remote| remote.stats.snapshot())
            .collect();
        if let (Some(acceptor), Some(first)) = (self.shared.acceptor.get(), stats.first_mut()) {
            acceptor.add_counters(first);
        }
        stats
    }

    /// Lets `shutdown` and `stats` reach the acceptor (once, at bind).
    pub(crate) fn set_acceptor(&self, control: Arc<Control>) {
        let _ = self.shared.acceptor.set(control);
    }

    /// One shard's inbox.
    pub(crate) fn inbox(&self, shard: usize) -> Option<&InboxSender> {
        self.shared.shards.get(shard).map(|remote| &remote.inbox)
    }

    /// The published counters of one shard (for that shard to update).
    pub(crate) fn published(&self, shard: usize) -> Option<&PublishedStats> {
        self.shared.shards.get(shard).map(|remote| &remote.stats)
    }

    /// The heartbeat of one shard (for the watchdog and the metrics).
    pub(crate) fn heartbeat(&self, shard: usize) -> Option<&Arc<Heartbeat>> {
        self.shared
            .shards
            .get(shard)
            .map(|remote| &remote.heartbeat)
    }

    /// Commands waiting in one shard's inbox now.
    pub(crate) fn inbox_depth(&self, shard: usize) -> usize {
        self.shared
            .shards
            .get(shard)
            .map_or(0, |remote| remote.inbox.len())
    }

    /// Which shards have subscribers of which topic.
    pub(crate) fn directory(&self) -> &Directory {
        &self.shared.directory
    }

    /// Offers `command` to shard `shard`; hands it back if that inbox is
    /// full.
    pub(crate) fn offer(&self, shard: usize, command: Command) -> Result<(), Command> {
        match self.shared.shards.get(shard) {
            Some(remote) => remote.inbox.offer(command),
            None => Ok(()),
        }
    }

    /// Takes a place for a new client; `false` at `max_connections`.
    pub(crate) fn reserve_connection(&self) -> bool {
        let max = self.shared.max_connections;
        // Compare-and-swap, not add-then-undo: an undo in flight on another
        // shard must not make this one refuse below the limit.
        self.shared
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                (open < max).then_some(open + 1)
            })
            .is_ok()
    }

    /// The server's spare descriptor, for refusing clients at `EMFILE`.
    pub(crate) fn spare(&self) -> &Spare {
        &self.shared.spare
    }

    /// Gives back the place of a client that closed.
    pub(crate) fn release_connection(&self) {
        self.shared.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Delivers a command to a shard.
    fn command(&self, shard: usize, command: Command) -> Result<(), SendError> {
        let remote = self.shared.shards.get(shard).ok_or(SendError::Stopped)?;
        remote.inbox.send(command)
    }
}
