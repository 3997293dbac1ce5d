//! Command-line options of the `esockets` server and their mapping onto
//! [`esockets::Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use esockets::IpNet;

use crate::bind::{parse_bind, parse_metrics};
use crate::flags;
use crate::networks::parse_network;
use crate::tls::TlsFlags;
use crate::units::{parse_duration, parse_duration_or_off, parse_size, OrOff};

/// What `--help` says after the options.
const AFTER_HELP: &str = "\
Sizes are bytes (65536) or take a unit: 64KiB, 16MiB, 1GiB (powers of 1024; \
also K, M, G) or 64KB, 16MB, 1GB (powers of 1000); 1.5MiB works too.
Durations are seconds (5, 0.5) or take a unit: 500ms, 30s, 2m. Those that can be \
turned off (--idle-timeout, --keepalive, --user-timeout, --ws-ping-interval, \
--stall-threshold) take off, their only spelling: 0 is refused there.
Secret material (TLS keys) is always named by a file path: keep such paths in \
the --config file or the environment rather than on the command line.";

/// A sharded, thread-per-core TCP server for very many concurrent clients.
///
/// Serves one built-in protocol on one address, with one pinned thread and
/// one SO_REUSEPORT listener per shard. Stop it with Ctrl-C or SIGTERM: it
/// stops accepting, flushes queued output (up to --close-timeout), and
/// prints a summary; a second signal exits at once. Started by systemd
/// socket activation (LISTEN_FDS), it serves the sockets passed instead of
/// --bind. Set RUST_LOG (e.g. RUST_LOG=debug) for more logs.
#[derive(Debug, Parser)]
#[command(name = "esockets", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Read options from this TOML file (or the file ESOCKETS_CONFIG
    /// names): one key per option, named as its flag without the dashes
    /// (max-connections = 5000). Every option may also come from the
    /// environment as ESOCKETS_<OPTION> (ESOCKETS_MAX_CONNECTIONS=5000). A
    /// flag wins over the environment, which wins over the file. SIGHUP
    /// re-reads them (see docs/operations.md).
    #[arg(long = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Protocol to serve.
    #[arg(long, short, value_enum, default_value_t = Protocol::Echo)]
    pub protocol: Protocol,

    /// Address to listen on: IPv4 (127.0.0.1:1234, 0.0.0.0:1234 for every
    /// interface), IPv6 ([::1]:1234) or a host name (localhost:1234, which
    /// listens on its first IPv4 address); port 0 picks a free port.
    #[arg(long, short, default_value = "127.0.0.1:1234", value_name = "ADDR:PORT", value_parser = parse_bind)]
    pub bind: SocketAddr,

    /// Shard threads, each with its own listener and event loop [default:
    /// the number of cores this process may use; more is allowed, with a
    /// warning, except with --balance cpu].
    #[arg(long, short)]
    pub threads: Option<usize>,

    /// Do not pin shard i to core i mod cores.
    #[arg(long)]
    pub no_pin: bool,

    /// Listen backlog per shard (under --balance least-loaded, of the one
    /// listener) [default: net.core.somaxconn, which also caps it].
    #[arg(long)]
    pub backlog: Option<u32>,

    /// Most clients served at once by the whole server; more are accepted,
    /// sent --refuse-message and closed at once [default: the open-file
    /// limit minus a reserve for the server's own files].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Text sent to a client refused at --max-connections before it is
    /// closed, as given: no newline is added (in bash, --refuse-message
    /// $'busy\n' sends one).
    #[arg(long, value_name = "TEXT")]
    pub refuse_message: Option<String>,

    /// Close a client from which nothing arrived for this long (e.g. 5m,
    /// 30s), or off.
    #[arg(long, default_value = "off", value_name = "DURATION|off", value_parser = parse_duration_or_off)]
    pub idle_timeout: OrOff,

    /// TCP keepalive: probe a client silent for this long, so peers that
    /// vanished are found (whole seconds, e.g. 60s), or off.
    #[arg(long, default_value = "off", value_name = "DURATION|off", value_parser = parse_duration_or_off)]
    pub keepalive: OrOff,

    /// With --keepalive: time between probes (whole seconds).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub keepalive_interval: Duration,

    /// With --keepalive: unanswered probes before the client is dropped.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub keepalive_count: u32,

    /// TCP_USER_TIMEOUT: drop a client whose data stays unacknowledged
    /// this long (e.g. 30s), or off.
    #[arg(long, default_value = "off", value_name = "DURATION|off", value_parser = parse_duration_or_off)]
    pub user_timeout: OrOff,

    /// Leave Nagle's algorithm on (TCP_NODELAY off).
    #[arg(long)]
    pub no_nodelay: bool,

    /// Bytes read from one client per wakeup before serving the others.
    #[arg(long, default_value = "256KiB", value_name = "SIZE", value_parser = parse_size)]
    pub read_budget: usize,

    /// Size of the read buffer each shard shares among its clients.
    #[arg(long, default_value = "64KiB", value_name = "SIZE", value_parser = parse_size)]
    pub read_buffer: usize,

    /// Stop reading from a client whose queued output exceeds this.
    #[arg(long, default_value = "1MiB", value_name = "SIZE", value_parser = parse_size)]
    pub high_water: usize,

    /// Resume reading once its queued output falls to this.
    #[arg(long, default_value = "256KiB", value_name = "SIZE", value_parser = parse_size)]
    pub low_water: usize,

    /// Close a client whose queued output would exceed this.
    #[arg(long, default_value = "16MiB", value_name = "SIZE", value_parser = parse_size)]
    pub output_limit: usize,

    /// Close a client whose unconsumed input (a partial line) exceeds this
    /// (raised to --max-line + 1 for line-echo and pubsub if lower).
    #[arg(long, default_value = "1MiB", value_name = "SIZE", value_parser = parse_size)]
    pub input_limit: usize,

    /// line-echo and pubsub: longest line, without its newline (at least 1
    /// byte); a longer one gets "ERROR line too long" ("-ERR line too long"
    /// in pubsub) and the client is closed.
    #[arg(long, default_value = "64KiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_line: usize,

    /// pubsub: speak WebSocket instead of lines (one command, reply or
    /// delivery per text message); a plain GET / serves a chat page.
    #[arg(long)]
    pub websocket: bool,

    /// WebSocket (ws-echo, pubsub --websocket): largest WebSocket message (and frame); a larger one closes
    /// the client with code 1009 (raises --input-limit to fit a whole frame).
    #[arg(long, default_value = "1MiB", value_name = "SIZE", value_parser = parse_size)]
    pub ws_max_message: usize,

    /// WebSocket (ws-echo, pubsub --websocket): ping a client silent for this long (checked at this
    /// interval); off turns pings off.
    #[arg(long, default_value = "30s", value_name = "DURATION|off", value_parser = parse_duration_or_off)]
    pub ws_ping_interval: OrOff,

    /// WebSocket (ws-echo, pubsub --websocket): close a pinged client (code 1001) from which nothing arrived
    /// within this.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub ws_pong_timeout: Duration,

    /// WebSocket (ws-echo, pubsub --websocket): close a client that has not completed the WebSocket
    /// handshake this long after connecting (with 408).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub ws_handshake_timeout: Duration,

    /// WebSocket (ws-echo, pubsub --websocket): a browser Origin allowed to connect (https://example.com);
    /// repeat for more [default: any origin]. Others get 403.
    #[arg(long, value_name = "ORIGIN")]
    pub ws_allowed_origin: Vec<String>,

    /// WebSocket (ws-echo, pubsub --websocket): accept permessage-deflate
    /// (RFC 7692) when a client offers it; by default without context
    /// takeover, so an idle connection costs a few bytes more (see
    /// docs/tuning.md).
    #[arg(long)]
    pub ws_deflate: bool,

    /// With --ws-deflate: zlib's compression level, 0 to 9.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub ws_deflate_level: u32,

    /// With --ws-deflate: the largest LZ77 window, as a power of two (9 to
    /// 15), that the server compresses with and asks clients to use.
    #[arg(long, default_value_t = 15, value_name = "BITS")]
    pub ws_deflate_window_bits: u8,

    /// With --ws-deflate: messages shorter than this go uncompressed.
    #[arg(long, default_value = "128", value_name = "SIZE", value_parser = parse_size)]
    pub ws_deflate_min_size: usize,

    /// With --ws-deflate: keep each connection's deflate contexts between
    /// messages (smaller messages, about 300 KiB per busy connection).
    #[arg(long)]
    pub ws_deflate_context_takeover: bool,

    /// pubsub: most topics one client may subscribe to.
    #[arg(long, default_value_t = esockets::protocols::pubsub::MAX_SUBSCRIPTIONS, value_name = "N")]
    pub max_subscriptions: usize,

    /// pubsub: require a JWT connection token signed HS256 with the
    /// secret in this file (at least 32 bytes; a trailing newline is not
    /// part of it). Or set ESOCKETS_AUTH_JWT_SECRET. See docs/operations.md.
    #[arg(long, value_name = "FILE", conflicts_with = "auth_jwt_public_key")]
    pub auth_jwt_secret_file: Option<std::path::PathBuf>,

    /// pubsub: require a JWT connection token signed RS256 or ES256, checked
    /// with the PEM public key in this file (RSA or EC P-256). Or set
    /// ESOCKETS_AUTH_JWT_PUBLIC_KEY to the PEM text.
    #[arg(long, value_name = "FILE")]
    pub auth_jwt_public_key: Option<std::path::PathBuf>,

    /// pubsub with a token required: close a client that has not sent an
    /// accepted AUTH this long after connecting.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub auth_timeout: Duration,

    /// pubsub: most publishes per second per client, sustained (100 or
    /// 100/s); past it "-ERR rate limited" and the publish is not
    /// delivered [default: unlimited].
    #[arg(long, value_name = "N/s", value_parser = crate::rules::parse_rate)]
    pub publish_rate: Option<f64>,

    /// pubsub with --publish-rate: publishes allowed at once after a quiet
    /// spell [default: one second's worth].
    #[arg(long, value_name = "N", requires = "publish_rate")]
    pub publish_burst: Option<u32>,

    /// How new clients are spread over the shards: reuseport (the
    /// kernel's hash, one listener per shard), cpu (the same listeners,
    /// each client to the shard pinned to the CPU that received it, for
    /// NICs with a receive queue per core; needs pinned shards and a core
    /// for each), or least-loaded (one acceptor hands each client to the
    /// shard with the fewest clients, skipping stalled shards). Default:
    /// cpu when the shards are pinned, one per CPU at most, on sockets it
    /// binds itself (not --reuseport-join, not systemd's), else reuseport;
    /// the start-up line says which and why. See docs/tuning.md.
    #[arg(long, value_enum, value_name = "MODE")]
    pub balance: Option<Balance>,

    /// pubsub: a subscriber whose queued output passed --high-water is
    /// closed (at --output-limit) or has deliveries skipped and counted.
    #[arg(long, value_enum, default_value_t = SlowSubscribers::Close)]
    pub slow_subscribers: SlowSubscribers,

    /// pubsub: publishes in flight to one shard (sent to it, not yet
    /// delivered and written by it) before publishers are paced: a
    /// publisher whose publish finds a shard past it is read no further
    /// until that shard is back to half of it; the backplane waits the
    /// same way. Slow subscribers pace nobody (see --slow-subscribers);
    /// 0 turns pacing off. See docs/tuning.md.
    #[arg(long, default_value_t = esockets::FANOUT_CREDIT, value_name = "N")]
    pub fanout_credit: usize,

    /// pubsub: share topics with other esockets processes through the
    /// Redis server at this URL (redis://HOST:PORT), or a Redis Cluster
    /// found from its seed nodes (redis-cluster://HOST:PORT[,HOST:PORT…]).
    #[arg(long, value_name = "URL")]
    pub backplane: Option<String>,

    /// pubsub with a Redis Cluster backplane: local publishes held, at
    /// most, while the node owning their topic is away (a failover), and
    /// sent once it is back; past it they are counted lost.
    #[arg(long, default_value_t = esockets::BACKPLANE_RESEND, value_name = "N", requires = "backplane")]
    pub backplane_resend: usize,

    /// pubsub with one Redis as backplane (redis://): subscribe to every
    /// topic at once (pattern), or only to the topics this process's
    /// clients hold (topics; not with --history); auto is pattern. See
    /// docs/tuning.md.
    #[arg(long, value_enum, default_value_t = BackplaneSubscribe::Auto, requires = "backplane")]
    pub backplane_subscribe: BackplaneSubscribe,

    /// pubsub: keep each topic's last N publishes, with an offset per
    /// publish and an epoch per topic, so a client can subscribe with
    /// positions (SUB topic POS) and recover what it missed (SUB topic
    /// SINCE offset epoch); 0 keeps none. See docs/protocols.md.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub history: usize,

    /// pubsub with --history: drop kept publishes older than this
    /// [default: kept until pushed out by newer ones].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "history")]
    pub history_max_age: Option<Duration>,

    /// pubsub with --history: topics with a history at most; past it, the
    /// topic published to least recently is forgotten (its clients cannot
    /// recover).
    #[arg(long, default_value_t = esockets::HISTORY_TOPICS, value_name = "N")]
    pub history_topics: usize,

    /// How long a graceful close (and so shutdown) waits for a client's
    /// queued output to reach it: seconds (5, 0.5) or with a unit (500ms,
    /// 30s, 2m); at most a day. Formerly --drain-timeout, still accepted.
    #[arg(long, alias = "drain-timeout", default_value = "5s", value_name = "DURATION", value_parser = parse_duration)]
    pub close_timeout: Duration,

    /// Expect a PROXY protocol header (version 1 or 2, as HAProxy's
    /// send-proxy and send-proxy-v2 send it) at the start of every
    /// connection, so the protocol sees the client's real address; needs
    /// --proxy-trusted (see docs/operations.md).
    #[arg(long)]
    pub proxy_protocol: bool,

    /// With --proxy-protocol: the proxies allowed to connect, as networks
    /// or single addresses, comma-separated (10.0.0.0/8,192.168.1.5); any
    /// other peer is refused at once.
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',', value_parser = parse_network, requires = "proxy_protocol")]
    pub proxy_trusted: Vec<IpNet>,

    /// With --proxy-protocol: close a connection whose header is not
    /// complete this long after it was accepted.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse_duration)]
    pub proxy_timeout: Duration,

    /// At shutdown, once the listeners are closed, go on serving clients
    /// this long so that exchanges in progress finish (ends early when
    /// every client has left); then closing all begins. For restarts
    /// without a failed request, see docs/operations.md.
    #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Join the SO_REUSEPORT group of a server already listening on
    /// --bind (the esockets this one replaces) instead of refusing a port
    /// in use; the kernel spreads new clients over both until the old one
    /// stops. Needs net.ipv4.tcp_migrate_req=1 for a restart in which no
    /// client is reset (see docs/operations.md).
    #[arg(long)]
    pub reuseport_join: bool,
    /// Serve metrics in the Prometheus text format at http://ADDR/metrics
    /// (e.g. 127.0.0.1:9100; port 0 picks one) [default: off].
    #[arg(long, value_name = "ADDR:PORT", value_parser = parse_metrics)]
    pub metrics: Option<SocketAddr>,

    /// Warn when a shard's event-loop round runs longer than this (a
    /// handler blocking or doing too much at once), naming the shard and
    /// the callback; "off" turns stall detection off.
    #[arg(long, default_value = "25ms", value_name = "DURATION|off", value_parser = parse_duration_or_off)]
    pub stall_threshold: OrOff,

    /// Log lines as text (for people) or JSON (one object per line, for
    /// Loki, Elasticsearch and the like).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// TLS on the listener.
    #[command(flatten)]
    pub tls: TlsFlags,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

impl From<LogFormat> for esockets::logging::LogFormat {
    fn from(format: LogFormat) -> Self {
        match format {
            LogFormat::Text => Self::Text,
            LogFormat::Json => Self::Json,
        }
    }
}

/// The built-in protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// RFC 862: every byte is sent back.
    Echo,
    /// Complete \n-terminated lines are sent back; partial lines wait.
    LineEcho,
    /// RFC 863: everything is read and thrown away.
    Discard,
    /// WebSocket (RFC 6455): every message is sent back as it came; a plain
    /// GET / gets a page that talks to it.
    WsEcho,
    /// Topics: SUB, UNSUB, PUB, PING lines; deliveries as MSG lines
    /// (docs/protocols.md).
    Pubsub,
}

/// What happens to a pubsub subscriber that does not keep up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SlowSubscribers {
    /// Close it once its queue passes --output-limit.
    Close,
    /// Skip its deliveries while its queue is above --high-water; it gets
    /// "MISSED n" once it catches up.
    Drop,
}

/// How a backplane on one Redis subscribes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackplaneSubscribe {
    /// Pattern (a Redis Cluster and NATS: per topic, always).
    Auto,
    /// PSUBSCRIBE esockets:*: every process receives every publish.
    Pattern,
    /// SUBSCRIBE per topic held here: a process receives only what it
    /// delivers.
    Topics,
}

/// How new clients are spread over the shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Balance {
    /// The kernel's SO_REUSEPORT hash: one listener per shard.
    Reuseport,
    /// The same listeners, each client to the shard pinned to the CPU that
    /// received it (a BPF program on the group).
    Cpu,
    /// One acceptor thread: each client to the least-loaded shard.
    LeastLoaded,
}

impl Cli {
    /// The server config these options describe, checked.
    ///
    /// # Errors
    ///
    /// A message naming the flag at fault and the values it accepts.
    pub fn config(&self) -> Result<esockets::Config, String> {
        if self.max_line == 0 {
            return Err("--max-line must be at least 1 byte, got 0".into());
        }
        let mut input_limit = self.input_limit;
        if matches!(self.protocol, Protocol::LineEcho | Protocol::Pubsub) {
            input_limit = input_limit.max(self.max_line.saturating_add(1));
        }
        if self.speaks_websocket() {
            input_limit = input_limit.max(self.ws_config()?.input_limit());
        }
        let defaults = esockets::Config::default();
        let config = esockets::Config {
            bind: self.bind,
            threads: self.threads.unwrap_or_else(esockets::default_threads),
            pin_threads: !self.no_pin,
            backlog: self.backlog.unwrap_or(defaults.backlog),
            max_connections: self.max_connections,
            refuse_message: self.refuse_message.clone().map(Into::into),
            idle_timeout: self.idle_timeout.0,
            keepalive: self.keepalive.0.map(|idle| esockets::Keepalive {
                idle,
                interval: self.keepalive_interval,
                count: self.keepalive_count,
            }),
            user_timeout: self.user_timeout.0,
            nodelay: !self.no_nodelay,
            read_budget: self.read_budget,
            read_buffer: self.read_buffer,
            output_high_water: self.high_water,
            output_low_water: self.low_water,
            output_limit: self.output_limit,
            input_limit,
            close_timeout: self.close_timeout,
            shutdown_grace: self.shutdown_grace,
            reuseport_join: self.reuseport_join,
            stall_threshold: self.stall_threshold.0,
            metrics: self.metrics,
            slow_subscribers: match self.slow_subscribers {
                SlowSubscribers::Close => esockets::SlowSubscribers::Close,
                SlowSubscribers::Drop => esockets::SlowSubscribers::Drop,
            },
            fanout_credit: self.fanout_credit,
            backplane: self.backplane.clone(),
            backplane_resend: self.backplane_resend,
            backplane_subscribe: match self.backplane_subscribe {
                BackplaneSubscribe::Auto => esockets::BackplaneSubscribe::Auto,
                BackplaneSubscribe::Pattern => esockets::BackplaneSubscribe::Pattern,
                BackplaneSubscribe::Topics => esockets::BackplaneSubscribe::Topics,
            },
            history: esockets::History {
                messages: self.history,
                max_age: self.history_max_age,
                topics: self.history_topics,
            },
            proxy_protocol: self.proxy_protocol,
            proxy_trusted: self.proxy_trusted.clone(),
            proxy_timeout: self.proxy_timeout,
            balance: match self.balance {
                None => esockets::Balance::Auto,
                Some(Balance::Reuseport) => esockets::Balance::ReusePort,
                Some(Balance::Cpu) => esockets::Balance::ReceivingCpu,
                Some(Balance::LeastLoaded) => esockets::Balance::LeastLoaded,
            },
            tls: self.tls.load(self.speaks_websocket())?,
            ..defaults
        };
        config.validate().map_err(|err| flags::describe(&err))?;
        Ok(config)
    }

    /// Whether the protocol runs over WebSocket.
    pub fn speaks_websocket(&self) -> bool {
        self.protocol == Protocol::WsEcho || (self.protocol == Protocol::Pubsub && self.websocket)
    }

    /// The WebSocket layer's settings these options describe, checked.
    ///
    /// # Errors
    ///
    /// A message naming the flag at fault.
    pub fn ws_config(&self) -> Result<esockets::websocket::WsConfig, String> {
        let ws = esockets::websocket::WsConfig {
            max_message: self.ws_max_message,
            ping_interval: self.ws_ping_interval.0,
            pong_timeout: self.ws_pong_timeout,
            handshake_timeout: self.ws_handshake_timeout,
            allowed_origins: self.ws_allowed_origin.clone(),
            deflate: self
                .ws_deflate
                .then_some(esockets::websocket::DeflateConfig {
                    level: self.ws_deflate_level,
                    max_window_bits: self.ws_deflate_window_bits,
                    min_size: self.ws_deflate_min_size,
                    context_takeover: self.ws_deflate_context_takeover,
                }),
            page: Some(bytes::Bytes::from_static(
                if self.protocol == Protocol::Pubsub {
                    esockets::protocols::pubsub::CHAT_PAGE.as_bytes()
                } else {
                    esockets::websocket::ECHO_PAGE.as_bytes()
                },
            )),
            ..Default::default()
        };
        ws.validate().map_err(|err| flags::describe(&err))?;
        Ok(ws)
    }
}
