//! `ServerHandle`: reach a running server from any thread.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::handler::id::ConnId;
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
    pub(crate) fn new(shards: Vec<Remote>, local_addr: SocketAddr, max_connections: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                shards,
                local_addr,
                open: AtomicUsize::new(0),
                max_connections,
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

    /// Starts a graceful shutdown: every shard stops accepting at once,
    /// flushes queued output up to the drain timeout, closes its clients and
    /// ends. Returns at once, even when an inbox is full (a handler may
    /// call it on its own shard); calling it again is harmless.
    pub fn shutdown(&self) {
        for remote in &self.shared.shards {
            // A stopped shard needs no shutdown.
            let _ = remote.inbox.request_shutdown();
        }
    }

    /// The latest counters of every shard, by index.
    pub fn stats(&self) -> Vec<ShardStats> {
        self.shared
            .shards
            .iter()
            .map(|remote| remote.stats.snapshot())
            .collect()
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
