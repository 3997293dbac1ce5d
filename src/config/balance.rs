//! How new clients are spread over the shards, and why a server runs the
//! mode it runs.

use std::fmt;
use std::time::Duration;

/// How new clients are spread over the shards
/// ([`Config::balance`](crate::Config::balance)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Balance {
    /// The default: decided when the server starts, by one rule.
    /// [`Balance::ReceivingCpu`] when the shards are pinned
    /// ([`Config::pin_threads`](crate::Config::pin_threads)), there are no
    /// more shards than CPUs this process may use, the server binds its
    /// own sockets ([`Server::bind`](crate::Server::bind), not
    /// [`from_listeners`](crate::Server::from_listeners)), does not join
    /// another server's group
    /// ([`Config::reuseport_join`](crate::Config::reuseport_join)) and the
    /// kernel takes the steering program; otherwise
    /// [`Balance::ReusePort`]. [`Server::balance`](crate::Server::balance)
    /// says which mode runs and why. Asking for a mode by name instead
    /// turns each of those fallbacks into an error.
    #[default]
    Auto,
    /// One listening socket per shard in one `SO_REUSEPORT` group: the
    /// kernel hashes each client's addresses and ports to a shard. No
    /// thread in between, no cross-thread traffic; fair on average, blind
    /// to load.
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

/// The mode a server runs and why ([`Server::balance`](crate::Server::balance)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BalanceChoice {
    /// The mode running: never [`Balance::Auto`].
    pub mode: Balance,
    /// Why it runs.
    pub reason: BalanceReason,
}

/// Why a server runs the [`Balance`] it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BalanceReason {
    /// The config named the mode.
    Asked,
    /// [`Balance::Auto`] chose steering: the shards are pinned, one per
    /// CPU at most, on sockets this server bound.
    Steerable {
        /// Shards.
        shards: usize,
        /// CPUs this process may use.
        cpus: usize,
    },
    /// [`Balance::Auto`] fell back: the shards are not pinned.
    NotPinned,
    /// [`Balance::Auto`] fell back: more shards than CPUs.
    MoreShardsThanCpus {
        /// Shards.
        shards: usize,
        /// CPUs this process may use.
        cpus: usize,
    },
    /// [`Balance::Auto`] fell back: the system did not list the CPUs this
    /// process may use.
    NoCpuList,
    /// [`Balance::Auto`] fell back: the server joins another server's
    /// `SO_REUSEPORT` group, whose clients a program would steer too.
    Joining,
    /// [`Balance::Auto`] fell back: the listening sockets were passed in,
    /// in an order in their group that is not known.
    Passed,
    /// [`Balance::Auto`] fell back: the kernel refused the steering
    /// program (the error, in words).
    SteeringRefused(String),
}

impl BalanceReason {
    /// Whether the mode was chosen by the rule of [`Balance::Auto`].
    pub fn by_default(&self) -> bool {
        *self != Self::Asked
    }
}

impl fmt::Display for BalanceReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Asked => f.write_str("asked for"),
            Self::Steerable { shards, cpus } => write!(
                f,
                "the shards are pinned, no more of them ({shards}) than CPUs this process may \
                 use ({cpus}), on sockets it bound"
            ),
            Self::NotPinned => f.write_str("the shards are not pinned"),
            Self::MoreShardsThanCpus { shards, cpus } => write!(
                f,
                "more shards ({shards}) than CPUs this process may use ({cpus}); steering \
                 needs a CPU per shard"
            ),
            Self::NoCpuList => f.write_str("the system did not list the CPUs this process may use"),
            Self::Joining => f.write_str(
                "it joins another server's SO_REUSEPORT group (a program would steer that \
                 server's clients too)",
            ),
            Self::Passed => f.write_str(
                "the listening sockets were passed in (their order in the group is not known)",
            ),
            Self::SteeringRefused(err) => {
                write!(f, "the kernel refused the steering program: {err}")
            }
        }
    }
}
