//! The one error type for setting up, running and joining a server.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// A config value that cannot work, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The field at fault, as named in [`Config`](crate::Config).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config: {} {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Why a server could not start, or did not end cleanly.
///
/// Per-connection failures never show up here: they close that one client
/// and reach the handler as a [`CloseReason`](crate::CloseReason).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config did not validate.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Another socket (not in this server's group) already holds the address.
    #[error("cannot listen on {addr}: address already in use (is another server running there?)")]
    AddrInUse {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Joining the listeners already on the address was asked for
    /// ([`Config::reuseport_join`](crate::Config::reuseport_join)), but
    /// one of them does not allow it.
    #[error("cannot join the listeners on {addr}: a socket there does not allow it (joining needs every listener on the port to have SO_REUSEPORT and to belong to the same user, as another esockets of this user does)")]
    JoinRefused {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The listening sockets passed by systemd (`LISTEN_FDS`) cannot be
    /// used.
    #[error("sockets passed by systemd (LISTEN_FDS): {reason}")]
    Passed {
        /// What is wrong with them.
        reason: String,
    },
    /// The address is not one of this machine's.
    #[error("cannot listen on {addr}: address not available on this machine (use one of its own addresses, 127.0.0.1 for this machine only, or 0.0.0.0 for all of them)")]
    AddrNotAvailable {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Any other failure to create, bind or listen on a socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// `--balance cpu`: the steering program could not be attached to the
    /// listening group (a kernel before 4.5, say).
    #[error("cannot steer clients by CPU on {addr} (SO_ATTACH_REUSEPORT_CBPF): {source}; use --balance reuseport (Balance::ReusePort)")]
    Steer {
        /// The address listened on.
        addr: SocketAddr,
        /// What the kernel said.
        source: io::Error,
    },
    /// Creating a shard's event loop or thread failed.
    #[error("cannot start shard {shard}: {source}")]
    Shard {
        /// Index of the shard.
        shard: usize,
        /// What the operating system said.
        source: io::Error,
    },
    /// A shard thread panicked (its clients were dropped); the others ran on.
    #[error("shard {shard} panicked: {message}")]
    ShardPanicked {
        /// Index of the shard.
        shard: usize,
        /// The panic message, when it was a string.
        message: String,
    },
    /// The metrics endpoint could not listen on its address, or its
    /// thread could not start.
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The stall watchdog's thread could not start.
    #[error("cannot start the stall watchdog: {source}")]
    Watchdog {
        /// What the operating system said.
        source: io::Error,
    },
    /// SIGINT and SIGTERM could not be caught, or the thread that acts on
    /// them could not be started.
    #[error("cannot catch SIGINT/SIGTERM: {source}")]
    Signals {
        /// What the operating system said.
        source: io::Error,
    },
}

impl Error {
    /// Sorts a bind or listen failure into the variant a user can act on.
    pub(crate) fn listen(addr: SocketAddr, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::AddrInUse => Self::AddrInUse { addr },
            io::ErrorKind::AddrNotAvailable => Self::AddrNotAvailable { addr },
            _ => Self::Listen { addr, source },
        }
    }
}
