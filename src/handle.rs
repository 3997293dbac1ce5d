//! `ServerHandle`: reach a running server from any thread.

use std::net::SocketAddr;
use std::sync::Arc;

use crossbeam::channel::Sender;
use mio::Waker;

use crate::command::Command;
use crate::id::ConnId;
use crate::stats::{PublishedStats, ShardStats};

/// How other threads reach one shard.
pub(crate) struct Remote {
    /// The shard's inbox.
    pub(crate) inbox: Sender<Command>,
    /// Wakes the shard's poll after something was put in the inbox.
    pub(crate) waker: Waker,
    /// The shard's published counters.
    pub(crate) stats: PublishedStats,
}

/// What every handle clone shares.
struct Shared {
    /// One entry per shard, by index.
    shards: Vec<Remote>,
    /// The address the server listens on (the real port if 0 was asked).
    local_addr: SocketAddr,
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
    pub(crate) fn new(shards: Vec<Remote>, local_addr: SocketAddr) -> Self {
        Self {
            shared: Arc::new(Shared { shards, local_addr }),
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

    /// Queues `data` for the client `id`, on whichever shard owns it.
    /// Returns `false` if that shard has stopped. A stale id (the client
    /// closed) is detected on the shard and the data dropped.
    pub fn send(&self, id: ConnId, data: Vec<u8>) -> bool {
        self.command(id.shard(), Command::Send(id, data))
    }

    /// Closes the client `id` gracefully (after its queued output).
    /// Returns `false` if that shard has stopped.
    pub fn close(&self, id: ConnId) -> bool {
        self.command(id.shard(), Command::Close(id))
    }

    /// Starts a graceful shutdown: every shard stops accepting at once,
    /// flushes queued output up to the drain timeout, closes its clients and
    /// ends. Returns at once; calling it again is harmless.
    pub fn shutdown(&self) {
        for shard in 0..self.shards() {
            self.command(shard, Command::Shutdown);
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

    /// Delivers a command to a shard and wakes it.
    fn command(&self, shard: usize, command: Command) -> bool {
        let Some(remote) = self.shared.shards.get(shard) else {
            return false;
        };
        if remote.inbox.send(command).is_err() {
            return false;
        }
        // A failed wake means the shard's poll is gone: it has stopped.
        remote.waker.wake().is_ok()
    }
}
