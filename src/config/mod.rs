//! Server configuration: every knob, its default, and its validation.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ipnet::IpNet;

use crate::error::ConfigError;
pub use crate::net::keepalive::Keepalive;
use crate::net::kernel;
use crate::tls::Tls;

mod backplane;
mod balance;
mod history;
mod slow_subscribers;
mod subscribe;

pub use backplane::BackplaneUrl;
pub use balance::{Balance, BalanceChoice, BalanceReason};
pub use history::{History, HISTORY_TOPICS};
pub use slow_subscribers::SlowSubscribers;
pub use subscribe::BackplaneSubscribe;

/// The default of [`Config::backplane_resend`]: a few seconds of a busy
/// process's publishes, a few MiB at most.
pub const BACKPLANE_RESEND: usize = 10_000;

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
    /// `net.core.somaxconn`). Default: `net.core.somaxconn` itself (4096
    /// where it cannot be read), as Go and gnet do, so a fleet that
    /// reconnects at once is not dropped at the listen queue.
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
    /// At most 4 GiB - 1 (queue lengths are kept in 32 bits). Default
    /// 16 MiB.
    pub output_limit: usize,
    /// Unconsumed input a handler may leave in a connection's buffer (a
    /// partial line or frame); beyond it the client is closed with
    /// [`CloseReason::InputOverflow`](crate::CloseReason::InputOverflow).
    /// Default 1 MiB.
    pub input_limit: usize,
    /// How long a closing client (at shutdown, or closed by the handler) is
    /// given to take its queued output and acknowledge it, lingering after
    /// our FIN, before it is closed anyway. At most a day. Default 5 s.
    pub close_timeout: Duration,
    /// How long, once the listeners are closed at shutdown, clients are
    /// still served as usual, so that exchanges in progress finish and
    /// clients leave by themselves; then
    /// [`Handler::on_shutting_down`](crate::Handler::on_shutting_down) runs
    /// and the rest are drained (`close_timeout`). A shard whose clients
    /// have all left ends it early. For restarts without a failed request
    /// (docs/operations.md), set it to the longest exchange a client may be
    /// in the middle of. At most a day. Default zero: closing begins at
    /// once.
    pub shutdown_grace: Duration,
    /// Join the `SO_REUSEPORT` group of another server already listening
    /// on `bind` (the esockets this one replaces) instead of refusing a
    /// port in use: the kernel then spreads new clients over both. Needs a
    /// fixed port, and sockets of the same user with `SO_REUSEPORT` (every
    /// esockets has it). For a restart in which the kernel moves the old
    /// server's queued clients to this one, `net.ipv4.tcp_migrate_req`
    /// must be 1. Default off: a port in use is an error, so two servers
    /// never share clients by accident.
    pub reuseport_join: bool,
    /// The most clients this server serves at once, over all its shards. At the limit
    /// a new client is accepted, sent `refuse_message` and closed at once.
    /// Default (`None`): the open-file limit minus [`RESERVED_DESCRIPTORS`]
    /// and 4 per shard, for the server's own files.
    pub max_connections: Option<usize>,
    /// Sent to a client refused at `max_connections` (or when the process
    /// is out of descriptors) before it is closed. Default none.
    pub refuse_message: Option<Bytes>,
    /// Close a client from which nothing arrived for this long while none
    /// of our output was on its way to it, with
    /// [`CloseReason::IdleTimeout`](crate::CloseReason::IdleTimeout). (A
    /// client that stopped reading is bounded by `output_limit` and dropped
    /// by `user_timeout`.) Default off; at most a day.
    pub idle_timeout: Option<Duration>,
    /// TCP keepalive on every client (set once on the listeners; accepted
    /// sockets inherit it). Default off.
    pub keepalive: Option<Keepalive>,
    /// `TCP_USER_TIMEOUT`: drop a client whose sent data stays
    /// unacknowledged this long (a peer that vanished while we were
    /// sending). Default off.
    pub user_timeout: Option<Duration>,
    /// Period of [`Handler::on_tick`](crate::Handler::on_tick) on every
    /// shard. Default off.
    pub tick: Option<Duration>,
    /// Commands each shard's inbox holds (from
    /// [`ServerHandle`](crate::ServerHandle) and other shards); a full inbox
    /// refuses more with
    /// [`SendError::InboxFull`](crate::SendError::InboxFull). The queue is
    /// allocated up front, about 56 bytes a command (plus each payload).
    /// Default 8192 (under half a MiB per shard).
    pub inbox_capacity: usize,
    /// Stall detection: an event-loop round that runs this long is a stall.
    /// A watchdog thread warns about a round still running past it
    /// (naming the shard, how long, and the handler callback it is in);
    /// a round that ends past it is counted
    /// ([`ShardStats::stalls`](crate::ShardStats::stalls)) and logged if
    /// the watchdog had not warned yet. `None` turns both off. Default
    /// 25 ms (Seastar's figure): far beyond any healthy round, which takes
    /// microseconds.
    pub stall_threshold: Option<Duration>,
    /// Serve the shards' counters in the Prometheus text format at
    /// `GET /metrics` on this address, from a thread of its own (port 0
    /// picks a free port: see
    /// [`Server::metrics_addr`](crate::Server::metrics_addr)). Default
    /// off.
    pub metrics: Option<SocketAddr>,
    /// What happens to a pub/sub subscriber whose output queue passed
    /// `output_high_water`. Default [`SlowSubscribers::Close`].
    pub slow_subscribers: SlowSubscribers,
    /// Publishes in flight to one shard, at most, before publishers are
    /// paced: sent to it by the other shards, a handle or the backplane,
    /// and not yet delivered *and written* by it. A client whose publish
    /// finds a shard past it is read no further (so it gets no more
    /// replies) until that shard is back to half of it;
    /// [`ServerHandle::publish`](crate::ServerHandle::publish) is refused
    /// with [`SendError::NoCredit`](crate::SendError::NoCredit); the
    /// backplane waits (Redis keeps what comes). Only the shards' own
    /// delivery pays it back, never a subscriber's reading: slow
    /// subscribers are `slow_subscribers`' business and pace nobody.
    /// 0 turns pacing off. Default [`FANOUT_CREDIT`].
    pub fanout_credit: usize,
    /// Share topics with other esockets processes through the Redis
    /// server at this URL (`redis://HOST:PORT`): every publish reaches
    /// subscribers in every process. Default none.
    pub backplane: Option<String>,
    /// With a Redis Cluster backplane: local publishes held, at most,
    /// while the node owning their topic is away (a failover), and sent
    /// once it is back; past it they are counted lost. Default
    /// [`BACKPLANE_RESEND`].
    pub backplane_resend: usize,
    /// With one Redis server as backplane: subscribe to every topic (a
    /// pattern) or per topic held here. Default
    /// [`BackplaneSubscribe::Auto`].
    pub backplane_subscribe: BackplaneSubscribe,
    /// What each topic keeps of its past, so that a subscriber can learn
    /// each publish's offset and recover what it missed
    /// ([`ShardContext::subscribe_positioned`](crate::ShardContext::subscribe_positioned)).
    /// Default: none kept.
    pub history: History,
    /// Expect a PROXY protocol header (version 1 or 2, as HAProxy's
    /// `send-proxy` and `send-proxy-v2` send it) at the start of every
    /// connection, read before `on_connect`, which then gets the client's
    /// real address as `peer` (and the proxy's through
    /// [`Conn::proxy`](crate::Conn::proxy)). Only peers in `proxy_trusted`
    /// may connect; see docs/operations.md. Default off.
    pub proxy_protocol: bool,
    /// With `proxy_protocol`: the proxies allowed to connect, as networks
    /// (`10.0.0.0/8`, `127.0.0.1/32`); every other peer is refused at once.
    /// Required when `proxy_protocol` is on. An IPv4 peer reached through
    /// an IPv6 listener (`::ffff:10.0.0.1`) matches its IPv4 network.
    pub proxy_trusted: Vec<IpNet>,
    /// With `proxy_protocol`: a connection whose header is not complete
    /// this long after it was accepted is closed. Default 5 s (the
    /// specification asks for at least 3, to cover a TCP retransmit).
    pub proxy_timeout: Duration,
    /// How new clients are spread over the shards: by the kernel's
    /// `SO_REUSEPORT` hash, by the CPU that received them, or by an
    /// acceptor to the least-loaded shard (see docs/tuning.md). Default
    /// [`Balance::Auto`]: by the CPU when the shards are pinned, one per
    /// CPU at most, on sockets the server binds; else by the hash.
    pub balance: Balance,
    /// TLS for every client of the listener (see [`Tls`]): each new
    /// connection's handshake runs in its shard, within
    /// [`TlsSettings::handshake_timeout`](crate::tls::TlsSettings::handshake_timeout),
    /// before `on_connect`; the handler sees plaintext. Behind a PROXY
    /// protocol proxy, the header comes first, then the handshake. Default
    /// `None`: plaintext.
    pub tls: Option<Tls>,
}

/// Descriptors kept back from the default `max_connections` for the
/// process itself: the standard streams, the signal pipe, and files a
/// handler or the process opens (logs, `/proc` reads). Each shard keeps 3
/// more (poll, waker, listener) and the server one spare; 4 per shard are
/// counted on top.
pub const RESERVED_DESCRIPTORS: usize = 64;

impl Config {
    /// The limit on clients in force: `max_connections`, or what the
    /// current open-file limit leaves once [`RESERVED_DESCRIPTORS`] and 4
    /// per shard are kept back (a quarter of the limit at most, so a tiny
    /// limit still serves clients; at least 1).
    pub fn effective_max_connections(&self) -> usize {
        if let Some(max) = self.max_connections {
            return max;
        }
        let soft = crate::net::fds::open_file_limit().map_or(1024, |(soft, _)| soft);
        let soft = usize::try_from(soft).unwrap_or(usize::MAX);
        let reserved = (RESERVED_DESCRIPTORS + 4 * self.threads).min(soft / 4);
        soft.saturating_sub(reserved).max(1)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 1234)),
            threads: default_threads(),
            pin_threads: true,
            backlog: kernel::somaxconn().unwrap_or(4096),
            nodelay: true,
            read_budget: 256 * 1024,
            accept_budget: 256,
            read_buffer: 64 * 1024,
            output_high_water: 1024 * 1024,
            output_low_water: 256 * 1024,
            output_limit: 16 * 1024 * 1024,
            input_limit: 1024 * 1024,
            close_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::ZERO,
            reuseport_join: false,
            max_connections: None,
            refuse_message: None,
            idle_timeout: None,
            keepalive: None,
            user_timeout: None,
            tick: None,
            inbox_capacity: 8192,
            stall_threshold: Some(Duration::from_millis(25)),
            metrics: None,
            slow_subscribers: SlowSubscribers::Close,
            fanout_credit: FANOUT_CREDIT,
            backplane: None,
            backplane_resend: BACKPLANE_RESEND,
            backplane_subscribe: BackplaneSubscribe::Auto,
            history: History::default(),
            proxy_protocol: false,
            proxy_trusted: Vec::new(),
            proxy_timeout: Duration::from_secs(5),
            balance: Balance::Auto,
            tls: None,
        }
    }
}

/// The default [`Config::fanout_credit`]: publishes in flight to one
/// shard before publishers are paced. Chosen by measurement
/// (docs/benchmarks.md, "Fan-out pacing: measured"): the bound counts
/// publishes, whatever each costs, so it must leave room for many
/// publishers with small rooms (1,000 rooms of 10 with 100 publishers ran
/// at 265k deliveries/s with 256, 575k with 1,024, 826k with 4,096 and
/// 941k without a bound), while a one-topic fan-out is the same with any
/// of them. 4,096 keeps a bound on a runaway publisher's backlog at
/// little cost.
pub const FANOUT_CREDIT: usize = 4096;

/// The number of cores this process may run on (at least 1).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Longest close timeout, idle timeout and tick period: a timer wheel tick is a
/// millisecond and idle activity is kept in 32 bits of them (49 days), and
/// a day is far beyond any useful value.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

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
        if let Some(url) = &self.backplane {
            match BackplaneUrl::parse(url) {
                Err(reason) => return bad("backplane", reason),
                Ok(BackplaneUrl::RedisCluster(_) | BackplaneUrl::Nats(_))
                    if self.history.enabled() =>
                {
                    return bad(
                        "backplane",
                        "only one Redis shares a history (yet): use redis://HOST:PORT with \
                         history, or no history"
                            .into(),
                    );
                }
                Ok(BackplaneUrl::RedisCluster(_) | BackplaneUrl::Nats(_))
                    if self.backplane_subscribe != BackplaneSubscribe::Auto =>
                {
                    return bad(
                        "backplane_subscribe",
                        "applies to one Redis (redis://) only: a Redis Cluster and NATS always \
                         subscribe per topic"
                            .into(),
                    );
                }
                Ok(_)
                    if self.backplane_subscribe == BackplaneSubscribe::Topics
                        && self.history.enabled() =>
                {
                    return bad(
                        "backplane_subscribe",
                        "topics cannot be used while histories are kept (each process's copy \
                         needs every topic's publishes): use pattern or auto"
                            .into(),
                    );
                }
                Ok(_) => {}
            }
        }
        if self.backplane_resend == 0 {
            return bad(
                "backplane_resend",
                "must be at least 1 (publishes held for a backplane node that is away)".into(),
            );
        }
        if self.history.enabled() && self.history.topics == 0 {
            return bad(
                "history",
                "keeps messages for no topic: topics must be at least 1".into(),
            );
        }
        if self.balance == Balance::ReceivingCpu {
            if !self.pin_threads {
                return bad(
                    "balance",
                    "cpu steers clients to the shard pinned to their CPU: pin the shards, or \
                     use another balance"
                        .into(),
                );
            }
            if self.reuseport_join {
                return bad(
                    "balance",
                    "cpu cannot be combined with reuseport_join (its program would steer the \
                     other process's clients too): join with balance reuseport or least-loaded"
                        .into(),
                );
            }
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
        for (field, value) in [
            ("close_timeout", Some(self.close_timeout)),
            ("shutdown_grace", Some(self.shutdown_grace)),
            ("idle_timeout", self.idle_timeout),
            ("tick", self.tick),
            ("user_timeout", self.user_timeout),
            ("stall_threshold", self.stall_threshold),
            ("proxy_timeout", Some(self.proxy_timeout)),
        ] {
            if let Some(value) = value.filter(|&d| d > MAX_TIMEOUT) {
                return bad(
                    field,
                    format!("must be at most 24h, got {}", describe_duration(value)),
                );
            }
        }
        for (field, value) in [("idle_timeout", self.idle_timeout), ("tick", self.tick)] {
            if value.is_some_and(|d| d < Duration::from_millis(1)) {
                return bad(
                    field,
                    "must be at least 1ms (leave it unset to turn it off)".into(),
                );
            }
        }
        if let Some(keepalive) = self.keepalive {
            // Linux counts both in whole seconds, up to 32767.
            for (field, value) in [
                ("keepalive", keepalive.idle),
                ("keepalive_interval", keepalive.interval),
            ] {
                if value.subsec_nanos() != 0 || !(1..=32767).contains(&value.as_secs()) {
                    return bad(
                        field,
                        format!(
                            "must be whole seconds from 1s to 32767s, got {}",
                            describe_duration(value)
                        ),
                    );
                }
            }
            if !(1..=127).contains(&keepalive.count) {
                return bad(
                    "keepalive_count",
                    format!("must be 1 to 127, got {}", keepalive.count),
                );
            }
        }
        if self.output_limit > u32::MAX as usize {
            return bad(
                "output_limit",
                format!(
                    "must be at most {} (4 GiB - 1), got {}",
                    u32::MAX,
                    self.output_limit
                ),
            );
        }
        if self.reuseport_join && self.bind.port() == 0 {
            return bad(
                "reuseport_join",
                "needs a fixed port in bind (port 0 picks a free port: there is nobody to join)"
                    .into(),
            );
        }
        if self.stall_threshold.is_some_and(|d| d.is_zero()) {
            return bad(
                "stall_threshold",
                "must be more than 0 (leave it unset to turn stall detection off)".into(),
            );
        }
        if self.max_connections == Some(0) {
            return bad("max_connections", "must be at least 1".into());
        }
        if self.inbox_capacity == 0 {
            return bad("inbox_capacity", "must be at least 1".into());
        }
        if self.proxy_timeout < Duration::from_millis(1) {
            return bad("proxy_timeout", "must be at least 1ms".into());
        }
        if self.proxy_protocol && self.proxy_trusted.is_empty() {
            return bad(
                "proxy_trusted",
                "is required with proxy_protocol: the networks of the proxies allowed to \
                 connect (e.g. 10.0.0.0/8); anyone could otherwise claim any address"
                    .into(),
            );
        }
        if self.tls.is_some() && self.refuse_message.is_some() {
            return bad(
                "refuse_message",
                "cannot be sent on a TLS listener: a client refused at the limit is closed \
                 before its handshake, and plaintext would reach it as garbage"
                    .into(),
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

/// A duration as a person writes it: `48h`, `90s`, `1.5s`, `250ms`.
fn describe_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() == 0 && secs >= 3600 && secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if d.subsec_nanos() == 0 {
        format!("{secs}s")
    } else if secs == 0 {
        format!("{}ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{}s", d.as_secs_f64())
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
    fn durations_in_errors_read_as_typed() {
        let config = Config {
            idle_timeout: Some(std::time::Duration::from_secs(2 * 86_400)),
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "idle_timeout");
        assert_eq!(err.reason, "must be at most 24h, got 48h");
        let config = Config {
            keepalive: Some(super::Keepalive {
                interval: std::time::Duration::from_millis(500),
                ..super::Keepalive::after(std::time::Duration::from_secs(60))
            }),
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "keepalive_interval");
        assert!(err.reason.ends_with("got 500ms"), "{}", err.reason);
    }

    #[test]
    fn proxy_protocol_needs_trusted_proxies() {
        let config = Config {
            proxy_protocol: true,
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "proxy_trusted");
        assert!(err.reason.contains("proxy_protocol"), "{}", err.reason);
        let config = Config {
            proxy_trusted: vec!["10.0.0.0/8".parse().unwrap()],
            ..config
        };
        config.validate().unwrap();
        let config = Config {
            proxy_timeout: std::time::Duration::ZERO,
            ..config
        };
        assert_eq!(config.validate().unwrap_err().field, "proxy_timeout");
    }

    #[test]
    fn joining_needs_a_fixed_port() {
        let config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            reuseport_join: true,
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "reuseport_join");
        assert!(err.reason.contains("bind"), "{}", err.reason);
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
