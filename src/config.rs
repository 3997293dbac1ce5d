//! Server configuration: every knob, its default, and its validation.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::ConfigError;

/// Everything a [`Server`](crate::Server) can be told.
///
/// Fields are public so a config can be built with struct-update syntax from
/// [`Config::default`]. [`Config::validate`] checks it once (the server calls
/// it in [`Server::bind`](crate::Server::bind)); a bad value is an error with
/// a clear message, never a panic.
///
/// # Examples
///
/// ```
/// let config = esockets::Config {
///     bind: "127.0.0.1:0".parse().unwrap(),
///     threads: 2,
///     ..esockets::Config::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// Address every shard listens on (IPv4 or IPv6). Port 0 picks a free
    /// port, shared by all shards. Default `127.0.0.1:1234`.
    pub bind: SocketAddr,
    /// Number of shard threads, each with its own listener and event loop.
    /// Default: the number of cores available to the process.
    pub threads: usize,
    /// Pin shard `i` to core `i mod cores`. Default on.
    pub pin_threads: bool,
    /// Listen backlog of each shard's socket (the kernel caps it at
    /// `net.core.somaxconn`). Default 1000, as the original esockets'
    /// `queue_size`.
    pub backlog: u32,
    /// Disable Nagle's algorithm on accepted sockets. Default on: echo and
    /// request/response protocols want small replies sent at once.
    pub nodelay: bool,
    /// Bytes read from one connection per wakeup before the shard turns to
    /// the others; the rest is read after the other ready clients of this
    /// round. Default 256 KiB.
    pub read_budget: usize,
    /// Connections accepted per wakeup before the shard serves its clients
    /// again. Default 256.
    pub accept_budget: usize,
    /// Size of the one read buffer each shard shares among its connections.
    /// Default 64 KiB.
    pub read_buffer: usize,
    /// When a connection's queued output exceeds this, the shard stops
    /// reading from it (backpressure). Default 1 MiB.
    pub output_high_water: usize,
    /// Reading resumes (and `on_drain` runs) once queued output falls to
    /// this. Default 256 KiB.
    pub output_low_water: usize,
    /// A connection whose queued output would exceed this is closed with
    /// [`CloseReason::OutputOverflow`](crate::CloseReason::OutputOverflow).
    /// Default 16 MiB.
    pub output_limit: usize,
    /// Unconsumed input a handler may leave in a connection's buffer (a
    /// partial line or frame); beyond it the client is closed with
    /// [`CloseReason::InputOverflow`](crate::CloseReason::InputOverflow).
    /// Default 1 MiB.
    pub input_limit: usize,
    /// How long a closing client (at shutdown, or closed by the handler) is
    /// given to take its queued output and acknowledge it, lingering after
    /// our FIN, before it is closed anyway. At most a day. Default 5 s.
    pub drain_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 1234)),
            threads: default_threads(),
            pin_threads: true,
            backlog: 1000,
            nodelay: true,
            read_budget: 256 * 1024,
            accept_budget: 256,
            read_buffer: 64 * 1024,
            output_high_water: 1024 * 1024,
            output_low_water: 256 * 1024,
            output_limit: 16 * 1024 * 1024,
            input_limit: 1024 * 1024,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// The number of cores this process may run on (at least 1).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Longest drain timeout: deadlines are `Instant`s, which cannot hold
/// arbitrary durations, and a day is far beyond any useful drain.
const MAX_DRAIN_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Most shards a server may have: ids carry the shard in 16 bits.
const MAX_THREADS: usize = u16::MAX as usize;

impl Config {
    /// Checks every value and how they relate.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first bad field and why.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, reason: String| Err(ConfigError { field, reason });
        if self.threads == 0 || self.threads > MAX_THREADS {
            return bad(
                "threads",
                format!("must be 1 to {MAX_THREADS}, got {}", self.threads),
            );
        }
        if self.backlog == 0 || self.backlog > i32::MAX as u32 {
            return bad(
                "backlog",
                format!("must be 1 to {}, got {}", i32::MAX, self.backlog),
            );
        }
        for (field, value) in [
            ("read_budget", self.read_budget),
            ("accept_budget", self.accept_budget),
            ("read_buffer", self.read_buffer),
            ("output_high_water", self.output_high_water),
            ("input_limit", self.input_limit),
        ] {
            if value == 0 {
                return bad(field, "must be at least 1, got 0".into());
            }
        }
        if self.drain_timeout > MAX_DRAIN_TIMEOUT {
            return bad(
                "drain_timeout",
                format!(
                    "must be at most {MAX_DRAIN_TIMEOUT:?} (a day), got {:?}",
                    self.drain_timeout
                ),
            );
        }
        if self.output_low_water >= self.output_high_water {
            return bad(
                "output_low_water",
                format!(
                    "must be below output_high_water ({} >= {})",
                    self.output_low_water, self.output_high_water
                ),
            );
        }
        if self.output_limit < self.output_high_water {
            return bad(
                "output_limit",
                format!(
                    "must be at least output_high_water ({} < {})",
                    self.output_limit, self.output_high_water
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn default_is_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn zero_threads_names_the_field() {
        let config = Config {
            threads: 0,
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "threads");
        assert!(err.to_string().contains("threads"), "{err}");
    }

    #[test]
    fn water_marks_must_be_ordered() {
        let config = Config {
            output_low_water: 10,
            output_high_water: 10,
            ..Config::default()
        };
        assert_eq!(config.validate().unwrap_err().field, "output_low_water");
        let config = Config {
            output_limit: 1,
            ..Config::default()
        };
        assert_eq!(config.validate().unwrap_err().field, "output_limit");
    }
}
