//! A validated run description built from [`LoadArgs`]: every argument
//! error is found here, before anything is opened.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::token::Minter;
use crate::engine::{tls, ws};
use crate::front::cli::{LoadArgs, Mode, Payload};
use crate::front::plan::Plan;
use crate::front::shape::{self, Group};
use crate::front::source::parse_sources;
use crate::Failure;

/// Bytes in flight per connection in `--mode stream`.
pub const STREAM_IN_FLIGHT: usize = 256 * 1024;

/// Smallest message of the stream mode: at most 256 messages (and stamps)
/// in flight per connection.
pub const STREAM_MIN_SIZE: usize = 1024;

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Server addresses; connection `g` goes to `targets[g % len]`.
    pub targets: Vec<SocketAddr>,
    /// WebSocket (`--ws`); `None` over plain TCP.
    pub ws: Option<Arc<ws::Settings>>,
    /// TLS (`--tls`); `None` over plain TCP.
    pub tls: Option<Arc<tls::Client>>,
    /// The program's command line, for the report.
    pub command_line: Vec<String>,
    /// Connection lifetime range (churn), if any.
    pub lifetime: Option<(Duration, Duration)>,
    /// `--churn`: connects per second asked for, if given.
    pub churn: Option<f64>,
    /// Reconnect after failures instead of ending the run.
    pub reconnect: bool,
    /// Fewest connections open at the end for the run to pass; `None`:
    /// no minimum (churn, unless `--min-open` is given).
    pub min_open: Option<u64>,
    /// Connection groups (at least one), in `--mix` order.
    pub groups: Vec<Group>,
    /// Connections asked for.
    pub connections: u64,
    /// Connects per second over all workers; 0 = unlimited.
    pub connect_rate: u64,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Source addresses (empty: let the kernel choose).
    pub sources: Vec<IpAddr>,
    /// Worker threads.
    pub threads: usize,
    /// Pin workers to cores.
    pub pin: bool,
    /// Traffic pattern.
    pub mode: Mode,
    /// Message size in bytes.
    pub size: usize,
    /// What fills a message after its header.
    pub payload: Payload,
    /// Messages in flight per connection (in stream mode: enough for
    /// `STREAM_IN_FLIGHT` bytes).
    pub pipeline: usize,
    /// Open-loop total rate (messages/s), if any.
    pub rate: Option<f64>,
    /// Measured time after warmup (an upper bound with `messages`).
    pub duration: Duration,
    /// Unmeasured time before.
    pub warmup: Duration,
    /// Stop after this many verified messages.
    pub messages: Option<u64>,
    /// Wait for in-flight messages after the run.
    pub drain_timeout: Duration,
    /// A second's slowest message must take at least this long to count
    /// as a stall.
    pub stall_floor: Duration,
    /// Show a progress line.
    pub progress: bool,
    /// `--mode pubsub`: who subscribes and publishes where.
    pub pubsub: Option<Plan>,
    /// `--mode pubsub` with a secret: mints each connection's token.
    pub auth: Option<Arc<Minter>>,
}

/// `--connections` when not given.
pub const DEFAULT_CONNECTIONS: u64 = 100;

/// Most topics a run may use (the per-topic counters are allocated up
/// front).
pub const MAX_TOPICS: u64 = 10_000_000;

fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(msg.into())
}

/// Number of cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Number of connects per second a churn setting asks for: `--churn`, or
/// the population divided by the mean lifetime.
pub fn churn_rate(connections: u64, lifetime: Option<(Duration, Duration)>) -> Option<f64> {
    let (lo, hi) = lifetime?;
    let mean = (lo.as_secs_f64() + hi.as_secs_f64()) / 2.0;
    Some(connections as f64 / mean)
}

/// Resolves `HOST:PORT` to one socket address.
pub fn resolve(addr: &str) -> Result<SocketAddr, Failure> {
    let bad = |why: String| usage(format!("--addr '{addr}': {why}"));
    let mut found = addr.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    found
        .next()
        .ok_or_else(|| bad("resolves to no address".into()))
}

/// The WebSocket settings of `args` (`None` without `--ws`).
fn ws_settings(args: &LoadArgs) -> Result<Option<Arc<ws::Settings>>, Failure> {
    if !args.ws {
        return Ok(None);
    }
    if args.mode == Mode::Pubsub && args.protocol == crate::front::cli::Protocol::Redis {
        return Err(usage(
            "--ws speaks the pubsub protocol over WebSocket; Redis has no WebSocket (drop --ws)",
        ));
    }
    let path = args.ws_path.clone().unwrap_or_else(|| "/".into());
    if !path.starts_with('/') || path.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
        return Err(usage(format!(
            "--ws-path '{path}': give a path starting with / and without spaces"
        )));
    }
    if let Some(origin) = &args.ws_origin {
        if origin.is_empty() || origin.bytes().any(|b| b < 0x20) {
            return Err(usage("--ws-origin: give one line, e.g. http://localhost"));
        }
    }
    // Masking keys need not be secret from this program's user, only
    // different per frame and per run.
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32);
    Ok(Some(Arc::new(ws::Settings {
        // The pubsub protocol is text: one command per text message.
        text: args.ws_text || args.mode == Mode::Pubsub,
        path,
        origin: args.ws_origin.clone(),
        hosts: args.addr.clone(),
        seed,
        deflate: args.ws_deflate,
    })))
}

impl RunConfig {
    /// Checks `args` and fills in defaults.
    pub fn from_args(args: &LoadArgs) -> Result<Self, Failure> {
        let pubsub = pubsub_plan(args)?;
        let connections = match (pubsub, args.connections) {
            (Some(plan), _) => plan.connections(),
            (None, Some(n)) => n,
            (None, None) => DEFAULT_CONNECTIONS,
        };
        if connections == 0 {
            return Err(usage("--connections must be at least 1"));
        }
        let targets = args
            .addr
            .iter()
            .map(|a| resolve(a))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(&addr) = targets.first() else {
            return Err(usage("--addr: give at least one address"));
        };
        if targets.iter().any(|t| t.is_ipv4() != addr.is_ipv4()) {
            return Err(usage(
                "--addr: all targets must be of one family (IPv4/IPv6)",
            ));
        }
        let sources = match &args.source {
            Some(list) => parse_sources(list).map_err(|e| usage(format!("--source: {e}")))?,
            None => Vec::new(),
        };
        if sources.iter().any(|s| s.is_ipv4() != addr.is_ipv4()) {
            return Err(usage(
                "--source addresses must be of the same family (IPv4/IPv6) as --addr",
            ));
        }
        let threads = args.threads.unwrap_or_else(cores);
        if threads == 0 {
            return Err(usage("--threads must be at least 1"));
        }
        if args.pipeline == 0 {
            return Err(usage("--pipeline must be at least 1"));
        }
        let min_size = match args.mode {
            Mode::Line => 2,
            Mode::Pubsub => 0,
            _ => 1,
        };
        if args.size < min_size {
            return Err(usage(format!(
                "--size must be at least {min_size} in {:?} mode",
                args.mode
            )));
        }
        if let Some(rate) = args.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(usage(
                    "--rate must be a positive number of messages per second",
                ));
            }
            if args.mode == Mode::Idle {
                return Err(usage("--rate makes no sense with --mode idle"));
            }
            if args.messages.is_some() {
                return Err(usage("--messages is for the closed loop; drop --rate"));
            }
            if args.mode == Mode::Stream {
                return Err(usage("--rate makes no sense with --mode stream"));
            }
        }
        let lifetime = match (&args.lifetime, args.churn) {
            (Some(text), _) => {
                Some(shape::parse_lifetime(text).map_err(|e| usage(format!("--lifetime: {e}")))?)
            }
            (None, Some(rate)) => {
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(usage(
                        "--churn must be a positive number of connects per second",
                    ));
                }
                let secs = connections as f64 / rate;
                let lifetime = Duration::try_from_secs_f64(secs).map_err(|_| {
                    usage(format!(
                        "--churn {rate} with {} connections means a lifetime of {secs:e} s: \
                         ask for at least one connect a century",
                        connections
                    ))
                })?;
                Some((lifetime, lifetime))
            }
            (None, None) => None,
        };
        if lifetime.is_some() && args.messages.is_some() {
            return Err(usage(
                "--messages cannot be combined with --churn or --lifetime",
            ));
        }
        if args.read_rate == Some(0) {
            return Err(usage("--read-rate must be at least 1 byte per second"));
        }
        let groups = shape::groups(
            connections,
            args.mix.as_deref(),
            args.idle_fraction,
            args.read_rate,
            args.mode == Mode::Idle,
        )
        .map_err(|e| usage(format!("--mix: {e}")))?;
        if args.rate.is_some()
            && groups
                .iter()
                .all(|g| g.connections == 0 || g.kind == shape::GroupKind::Idle)
        {
            return Err(usage("--rate needs at least one sending connection"));
        }
        if args.messages == Some(0) {
            return Err(usage("--messages must be at least 1"));
        }
        if args.messages.is_some() && args.mode == Mode::Idle {
            return Err(usage("--messages makes no sense with --mode idle"));
        }
        let duration = match (args.duration, args.messages) {
            (Some(d), _) => d,
            (None, Some(_)) => Duration::from_secs(600),
            (None, None) => Duration::from_secs(10),
        };
        if duration.is_zero() {
            return Err(usage("--duration must be more than 0"));
        }
        let warmup = match (args.warmup, args.messages) {
            (Some(w), _) => w,
            (None, Some(_)) => Duration::ZERO,
            (None, None) => Duration::from_secs(1),
        };
        if args.connect_timeout.is_zero() {
            return Err(usage("--connect-timeout must be more than 0"));
        }
        if let Some(n) = args.min_open.filter(|&n| n > connections) {
            return Err(usage(format!(
                "--min-open {n} is more than the {connections} connections asked for"
            )));
        }
        if args.mode == Mode::Stream && args.size < STREAM_MIN_SIZE {
            // Each message in flight keeps a stamp: 256 KiB of 1-byte
            // messages would be 262,144 stamps per connection.
            return Err(usage(format!(
                "--mode stream needs --size {STREAM_MIN_SIZE} or more (got {}): the stream keeps \
                 256 KiB in flight per connection, one stamp per message",
                args.size
            )));
        }
        let pipeline = if args.mode == Mode::Stream {
            args.pipeline
                .max(STREAM_IN_FLIGHT.div_ceil(args.size.max(1)))
        } else {
            args.pipeline
        };
        Ok(Self {
            ws: ws_settings(args)?,
            tls: args.tls.client(&args.addr, connections)?,
            targets,
            command_line: Vec::new(),
            churn: args.churn.or_else(|| churn_rate(connections, lifetime)),
            lifetime,
            reconnect: args.reconnect,
            min_open: args
                .min_open
                .or_else(|| lifetime.is_none().then_some(connections)),
            groups,
            connections,
            connect_rate: args.connect_rate,
            connect_timeout: args.connect_timeout,
            sources,
            threads,
            pin: args.pin,
            mode: args.mode,
            size: args.size,
            payload: args.payload,
            pipeline,
            rate: args.rate,
            duration,
            warmup,
            messages: args.messages,
            drain_timeout: args.drain_timeout,
            stall_floor: args.stall_floor,
            progress: !args.quiet,
            auth: match pubsub {
                Some(plan) if plan.protocol == crate::front::cli::Protocol::Pubsub => {
                    args.pubsub.minter()?
                }
                _ => None,
            },
            pubsub,
        })
    }
}

/// The pub/sub layout of `--mode pubsub` (checked), or `None` in other
/// modes, where the pub/sub options must not be given.
fn pubsub_plan(args: &LoadArgs) -> Result<Option<Plan>, Failure> {
    if args.mode != Mode::Pubsub {
        let pubsub_only = [
            (
                args.protocol != crate::front::cli::Protocol::Pubsub,
                "--protocol",
            ),
            (args.subscribers != 100, "--subscribers"),
            (args.publishers != 1, "--publishers"),
            (args.topics != 1, "--topics"),
            (args.topics_per_subscriber != 1, "--topics-per-subscriber"),
        ];
        if let Some((_, flag)) = pubsub_only.iter().find(|(given, _)| *given) {
            return Err(usage(format!("{flag} is for --mode pubsub")));
        }
        if let Some(flag) = args.pubsub.given() {
            return Err(usage(format!("{flag} is for --mode pubsub")));
        }
        return Ok(None);
    }
    let unsupported = [
        (
            args.connections.is_some(),
            "--connections (use --subscribers and --publishers)",
        ),
        (args.churn.is_some(), "--churn"),
        (args.lifetime.is_some(), "--lifetime"),
        (args.reconnect, "--reconnect"),
        (args.read_rate.is_some(), "--read-rate"),
        (args.idle_fraction.is_some(), "--idle-fraction"),
        (args.mix.is_some(), "--mix"),
        (args.messages.is_some(), "--messages"),
    ];
    if let Some((_, flag)) = unsupported.iter().find(|(given, _)| *given) {
        return Err(usage(format!("{flag} does not apply to --mode pubsub")));
    }
    if args.publishers == 0 {
        return Err(usage("--publishers must be at least 1"));
    }
    if args.subscribers == 0 {
        return Err(usage("--subscribers must be at least 1"));
    }
    if args.topics == 0 || args.topics > MAX_TOPICS {
        return Err(usage(format!(
            "--topics must be between 1 and {MAX_TOPICS}"
        )));
    }
    if args.topics_per_subscriber == 0 || args.topics_per_subscriber > args.topics {
        return Err(usage(format!(
            "--topics-per-subscriber must be between 1 and --topics ({})",
            args.topics
        )));
    }
    let recovery = args.pubsub.recovery()?;
    if recovery.is_some() && args.protocol == crate::front::cli::Protocol::Redis {
        return Err(usage(
            "--recover needs --protocol pubsub: Redis pub/sub keeps no history to recover from",
        ));
    }
    if args.protocol == crate::front::cli::Protocol::Redis
        && args.pubsub.auth_jwt_secret_file.is_some()
    {
        return Err(usage(
            "tokens (--auth-jwt-secret-file) are for --protocol pubsub",
        ));
    }
    if args.pubsub.verify_every == 0 {
        return Err(usage("--verify-every must be at least 1"));
    }
    if args.pubsub.verify_every > 1 && recovery.is_some() {
        return Err(usage(
            "--verify-every needs every subscriber checked with --recover: leave it at 1",
        ));
    }
    Ok(Some(Plan {
        protocol: args.protocol,
        verify_every: args.pubsub.verify_every,
        subscribers: args.subscribers,
        publishers: args.publishers,
        topics: args.topics,
        per_subscriber: args.topics_per_subscriber,
        recovery,
    }))
}
