//! How new clients are spread over the shards.

use std::time::Duration;

/// How new clients are spread over the shards
/// ([`Config::balance`](crate::Config::balance)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Balance {
    /// One listening socket per shard in one `SO_REUSEPORT` group: the
    /// kernel hashes each client's addresses and ports to a shard. No
    /// thread in between, no cross-thread traffic; fair on average, blind
    /// to load.
    #[default]
    ReusePort,
    /// As [`Balance::ReusePort`], with a classic BPF program on the group
    /// (`SO_ATTACH_REUSEPORT_CBPF`) that gives each client to the shard
    /// pinned to the CPU that received it (its SYN), so the shard's work
    /// for it stays on the CPU the network card's receive queue (RSS)
    /// steered it to. Needs pinned shards, at most one per core, and
    /// sockets this server binds itself (see docs/tuning.md).
    ReceivingCpu,
    /// One listening socket and an acceptor thread: each client goes to
    /// the shard with the fewest open clients, skipping shards whose loop
    /// round has been running for longer than a few milliseconds (a
    /// blocked callback), through that shard's inbox.
    LeastLoaded,
}

impl Balance {
    /// Under [`Balance::LeastLoaded`], a shard whose current loop round
    /// has been running this long gets no new clients while another shard
    /// is free: it is blocked in a callback or swamped, and a client given
    /// to it would wait for its first reply.
    pub const STALLED_AFTER: Duration = Duration::from_millis(5);
}
