//! What the server tells its operator: start-up facts in plain words and
//! units, and the final counters.

use clap::ValueEnum;
use esockets::{BackplaneStats, Config, Server, ShardStats};

use crate::cli::{Cli, Protocol};
use crate::settings::{Origin, Settings};
use crate::units::{format_duration, format_size};

/// Below this open-file limit a server holds too few clients to be useful,
/// and it says so.
const LOW_FILE_LIMIT: u64 = 1024;

/// Below this `net.core.somaxconn` a connect storm overflows the listen
/// queue (the kernel default was 128 before Linux 5.4, 4096 since).
const LOW_SOMAXCONN: u32 = 1024;

/// Raises the soft open-file limit to the hard one: every client is a
/// descriptor, and the soft limit is often a tenth of what is allowed.
pub fn raise_file_limit() {
    if let Err(err) = esockets::raise_open_file_limit() {
        tracing::warn!(
            "cannot raise the open-file limit ({err}): fewer clients fit; raise `ulimit -n` \
             or systemd's LimitNOFILE= (see docs/tuning.md)"
        );
    }
}

/// One log line per fact a deployer needs (the README shows them; a test
/// keeps it in step).
///
/// (Who may subscribe and publish is said by [`access`], when the rules
/// are made.)
pub fn started(server: &Server, config: &Config, cli: &Cli, passed: usize) {
    let protocol = cli.protocol;
    let name = protocol
        .to_possible_value()
        .map_or_else(String::new, |value| value.get_name().to_owned());
    tracing::info!(addr = %server.local_addr(), protocol = %name, "esockets listening");
    if protocol == Protocol::LineEcho {
        tracing::info!(
            "longest line {}; a longer one gets \"ERROR line too long\" and a close",
            format_size(cli.max_line)
        );
    }
    if let Some(url) = &config.backplane {
        let (engine, how) = match esockets::BackplaneUrl::parse(url) {
            Ok(esockets::BackplaneUrl::RedisCluster(_)) => ("the Redis Cluster", "per topic"),
            Ok(esockets::BackplaneUrl::Nats(_)) => ("NATS", "per topic"),
            _ if config.backplane_subscribe.per_topic() => ("Redis", "per topic"),
            _ => ("Redis", "to every topic"),
        };
        tracing::info!(
            "backplane: topics shared with other esockets processes through {engine} at {url}, \
             subscribed {how}"
        );
    }
    if protocol == Protocol::Pubsub {
        let slow = match config.slow_subscribers {
            esockets::SlowSubscribers::Drop => "have deliveries skipped (and are told how many)",
            _ => "are closed at the output limit",
        };
        let commands = if cli.websocket {
            "one command per WebSocket text message".to_owned()
        } else {
            format!("lines up to {}", format_size(cli.max_line))
        };
        let pacing = match config.fanout_credit {
            0 => "publishers not paced".to_owned(),
            n => format!("publishers paced at {n} publishes in flight to a shard"),
        };
        tracing::info!(
            "pubsub: {commands}, topics up to {} B, {} subscriptions per client; \
             slow subscribers {slow}; {pacing}",
            esockets::protocols::pubsub::MAX_TOPIC,
            cli.max_subscriptions,
        );
        let history = config.history;
        if history.enabled() {
            let age = history.max_age.map_or_else(
                || "no age limit".to_owned(),
                |age| format!("none older than {}", humantime::format_duration(age)),
            );
            let epochs = if config.backplane.is_some() {
                "shared through Redis with the other processes: offsets and epochs come from \
                 Redis and survive a restart"
            } else {
                "epochs are this process's own (a restart loses them)"
            };
            tracing::info!(
                "history: the last {} publishes of each topic ({age}), {} topics at most; {epochs}",
                history.messages,
                history.topics,
            );
        } else {
            tracing::info!(
                "history: none kept (SUB topic POS and SINCE are refused; see --history)"
            );
        }
    }
    if cli.speaks_websocket() {
        websocket(cli);
    }
    if let Some(addr) = server.metrics_addr() {
        tracing::info!("metrics at http://{addr}/metrics (Prometheus text format)");
    }
    shards(config, passed);
    balance(server.balance());
    backlog(config, passed);
    migrate_req();
    timeouts(config);
    proxy_protocol(config);
    crate::report_tls::started(config);
    file_limit(
        server.handle().max_connections(),
        config.max_connections.is_some(),
    );
    if let Some(message) = &config.refuse_message {
        tracing::info!(
            "refused clients are sent {:?} before the close",
            String::from_utf8_lossy(message)
        );
    }
    tracing::info!(
        "per client: output paused above {}, resumed at {}, client closed above {}; \
         partial input up to {}",
        format_size(config.output_high_water),
        format_size(config.output_low_water),
        format_size(config.output_limit),
        format_size(config.input_limit),
    );
    tracing::info!(
        "stop with Ctrl-C or SIGTERM: clients get up to {} to take their output; \
         a second signal exits at once",
        format_duration(config.close_timeout)
    );
}

/// The balance mode running, why (the flag, or the default's rule), and
/// what it does.
fn balance(choice: &esockets::BalanceChoice) {
    let (name, what) = match choice.mode {
        esockets::Balance::LeastLoaded => (
            "least-loaded",
            format!(
                "one acceptor thread hands each new client to the shard with the fewest open \
                 clients, skipping shards stalled for {} ms or more",
                esockets::Balance::STALLED_AFTER.as_millis()
            ),
        ),
        esockets::Balance::ReceivingCpu => (
            "cpu",
            "each new client goes to the shard pinned to the CPU that received it (a BPF \
             program on the listeners)"
                .to_owned(),
        ),
        _ => (
            "reuseport",
            "the kernel's SO_REUSEPORT hash of each client's addresses picks its shard".to_owned(),
        ),
    };
    let why = match &choice.reason {
        esockets::BalanceReason::Asked => format!("--balance {name}"),
        reason if choice.mode == esockets::Balance::ReceivingCpu => {
            format!("the default: {reason}")
        }
        reason => format!("the default, not cpu: {reason}"),
    };
    tracing::info!("balance: {name} ({why}); {what}");
}

/// The WebSocket layer's limits and timeouts.
fn websocket(cli: &Cli) {
    let pings = match cli.ws_ping_interval.0 {
        None => "idle clients not pinged".to_owned(),
        Some(interval) => format!(
            "clients silent for {} pinged, closed if still silent {} later",
            format_duration(interval),
            format_duration(cli.ws_pong_timeout)
        ),
    };
    let origins = if cli.ws_allowed_origin.is_empty() {
        "any".to_owned()
    } else {
        cli.ws_allowed_origin.join(", ")
    };
    let deflate = if cli.ws_deflate {
        format!(
            "permessage-deflate accepted (level {}, window up to {} bits, from {}, {})",
            cli.ws_deflate_level,
            cli.ws_deflate_window_bits,
            format_size(cli.ws_deflate_min_size),
            if cli.ws_deflate_context_takeover {
                "context takeover"
            } else {
                "no context takeover"
            }
        )
    } else {
        "no compression".to_owned()
    };
    tracing::info!(
        "WebSocket: messages up to {} (larger: close 1009); {pings}; handshake within {}; \
         origins: {origins}; {deflate}; plain GET / serves a page",
        format_size(cli.ws_max_message),
        format_duration(cli.ws_handshake_timeout)
    );
}

/// Shards, cores and pinning; a warning when shards share cores.
fn shards(config: &Config, passed: usize) {
    let cores = esockets::default_threads();
    let pinning = if config.pin_threads {
        "pinned to cores"
    } else {
        "not pinned"
    };
    let each = if config.balance == esockets::Balance::LeastLoaded {
        "one thread and event loop each; one acceptor thread accepts for all"
    } else if passed > 0 {
        "one thread and event loop each, accepting on the passed sockets"
    } else {
        "one thread, listener and event loop each"
    };
    tracing::info!(
        "shards: {} ({each}), {pinning}; cores available: {cores}",
        config.threads
    );
    if config.threads > cores {
        tracing::warn!(
            "--threads {} is more than the cores this process may use ({cores}): shards share \
             cores, which adds context switches and rarely helps (see docs/tuning.md)",
            config.threads
        );
    }
}

/// The backlog, and whether the kernel caps it.
fn backlog(config: &Config, passed: usize) {
    if passed > 0 {
        tracing::info!(
            "listen backlog: as the passed sockets were made (Backlog= in the .socket unit)"
        );
        return;
    }
    let backlog = config.backlog;
    let whose = if config.balance == esockets::Balance::LeastLoaded {
        "on the one listener, which holds a whole connect burst"
    } else {
        "per shard"
    };
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match somaxconn {
        Some(cap) => tracing::info!(
            "listen backlog {backlog} {whose} (the kernel allows up to {cap}: net.core.somaxconn)"
        ),
        None => tracing::info!("listen backlog {backlog} {whose}"),
    }
    if let Some(cap) = somaxconn.filter(|&cap| cap < backlog) {
        tracing::warn!(
            "the kernel caps the backlog at {cap}: raise net.core.somaxconn to {backlog} \
             or more (see docs/tuning.md)"
        );
    } else if let Some(cap) = somaxconn.filter(|&cap| cap < LOW_SOMAXCONN) {
        tracing::warn!(
            "net.core.somaxconn is {cap}: clients reconnecting all at once will overflow the \
             listen queue and wait a second to retry; raise it (see docs/tuning.md)"
        );
    }
}

/// The timeouts that close idle or dead clients, on or off.
fn timeouts(config: &Config) {
    let idle = config
        .idle_timeout
        .map_or_else(|| "off".to_owned(), format_duration);
    let keepalive = config.keepalive.map_or_else(
        || "off".to_owned(),
        |k| {
            format!(
                "after {} (every {}, {} probes)",
                format_duration(k.idle),
                format_duration(k.interval),
                k.count
            )
        },
    );
    let user = config
        .user_timeout
        .map_or_else(|| "off".to_owned(), format_duration);
    tracing::info!("idle timeout {idle}; TCP keepalive {keepalive}; TCP user timeout {user}");
}

/// The PROXY protocol, only when it is on.
fn proxy_protocol(config: &Config) {
    if !config.proxy_protocol {
        return;
    }
    let trusted: Vec<String> = config
        .proxy_trusted
        .iter()
        .map(ToString::to_string)
        .collect();
    tracing::info!(
        "PROXY protocol on: every connection must start with a v1 or v2 header within {}, \
         from a trusted proxy ({}); any other peer is refused",
        format_duration(config.proxy_timeout),
        trusted.join(", ")
    );
}

/// Start-up lines for the restart features, only when one is on: sockets
/// passed by systemd, joining another server's port, a shutdown grace.
pub fn restart(config: &Config, passed: usize) {
    if passed > 0 {
        tracing::info!(
            "serving {passed} listening socket(s) passed by systemd (LISTEN_FDS), not --bind; \
             {} shards share them",
            config.threads
        );
    } else if config.reuseport_join {
        tracing::info!(
            "--reuseport-join: sharing {} with the server already listening there, if any; \
             new clients are spread over both until it stops",
            config.bind
        );
        if esockets::tcp_migrate_req() != Some(1) {
            let setting = esockets::tcp_migrate_req().map_or_else(
                || "missing (Linux before 5.14)".to_owned(),
                |n| n.to_string(),
            );
            tracing::warn!(
                "--reuseport-join with net.ipv4.tcp_migrate_req {setting}: when the other \
                 server stops, it must accept its queued clients itself, and one that connects \
                 in the instant its listeners close is reset; run `sysctl -w \
                 net.ipv4.tcp_migrate_req=1` (in this network namespace) so the kernel moves \
                 them here (see docs/operations.md)"
            );
        }
    }
    if !config.shutdown_grace.is_zero() {
        tracing::info!(
            "at shutdown, clients are served for up to {} more after the listeners close \
             (--shutdown-grace), then drained",
            format_duration(config.shutdown_grace)
        );
    }
}

/// Every option not at its default, and where its value came from (the
/// command line, a variable, a line of the configuration file), once any
/// came from a variable or the file (with only flags, the command line
/// already says it all); a warning for each `ESOCKETS_` variable that is
/// no option's.
pub fn settings(settings: &Settings) {
    let flags_only = settings
        .given
        .iter()
        .all(|setting| setting.origin == Origin::Flag);
    for setting in settings.given.iter().filter(|_| !flags_only) {
        tracing::info!(
            "option {} = {} (from {})",
            setting.key.name,
            setting.shown(),
            setting.origin
        );
    }
    for stray in &settings.strays {
        tracing::warn!("{stray} is set but names no option: ignored (see esockets --help)");
    }
}

/// What happens at shutdown to clients still in the listen queue.
fn migrate_req() {
    match esockets::tcp_migrate_req() {
        Some(1) => tracing::info!(
            "net.ipv4.tcp_migrate_req is 1: at shutdown, queued clients move to another server \
             on this port if one joined it (--reuseport-join), else are served and closed \
             gracefully"
        ),
        Some(_) => tracing::info!(
            "net.ipv4.tcp_migrate_req is 0: at shutdown, queued clients are served and closed \
             gracefully (see docs/tuning.md)"
        ),
        None => {}
    }
}

/// The open-file limit and the limit on clients it implies.
fn file_limit(max_connections: usize, asked: bool) {
    match esockets::open_file_limit() {
        Some((soft, _)) if asked && (max_connections as u64).saturating_add(16) > soft => {
            tracing::warn!(
                "--max-connections {max_connections} is above what the open-file limit ({soft}) \
             allows: clients past it are refused for lack of descriptors (raise it with \
             `ulimit -n` or systemd's LimitNOFILE=, see docs/tuning.md)"
            )
        }
        Some((soft, _)) if soft < LOW_FILE_LIMIT => tracing::warn!(
            "the open-file limit is only {soft}: at most {max_connections} clients fit \
             (raise it with `ulimit -n 65536` or systemd's LimitNOFILE=, see docs/tuning.md)"
        ),
        Some((soft, hard)) => tracing::info!(
            "open files: limit {soft} (hard limit {hard}); at most {max_connections} clients \
             at once, more are refused"
        ),
        None => tracing::warn!(
            "cannot read the open-file limit; at most {max_connections} clients at once"
        ),
    }
}

/// The final counters, per shard and in total, and the listen-queue
/// overflows while the server ran (`overflows_at_start` from
/// [`esockets::listen_overflows`]).
pub fn summary(
    shards: &[ShardStats],
    backplane: Option<BackplaneStats>,
    overflows_at_start: Option<u64>,
) {
    for (index, stats) in shards.iter().enumerate() {
        log_stats(&format!("shard {index}"), stats);
    }
    let total: ShardStats = shards.iter().copied().sum();
    log_stats("total", &total);
    if total.published + total.delivered + total.dropped_slow + total.lost_fanout > 0 {
        tracing::info!(
            published = total.published,
            delivered = total.delivered,
            dropped_slow = total.dropped_slow,
            lost_fanout = total.lost_fanout,
            "total pubsub"
        );
    }
    if let Some(backplane) = backplane {
        tracing::info!(
            sent = backplane.sent,
            received = backplane.received,
            lost = backplane.lost,
            reconnects = backplane.reconnects,
            resent = backplane.resent,
            subscriptions = backplane.subscriptions,
            "backplane"
        );
    }
    if total.cut_off > 0 {
        tracing::warn!(
            "{} clients were closed with output they had not taken: the close deadline \
             passed (raise --close-timeout if they were healthy but slow) or they left first",
            total.cut_off
        );
    }
    if total.stalls > 0 {
        tracing::warn!(
            "{} event-loop rounds stalled (ran past --stall-threshold): their clients waited; \
             the warnings above name the shard and the callback (see docs/operations.md)",
            total.stalls
        );
    }
    if total.proxy_headers + total.proxy_untrusted + total.proxy_invalid + total.proxy_timeouts > 0
    {
        tracing::info!(
            headers = total.proxy_headers,
            local = total.proxy_local,
            untrusted = total.proxy_untrusted,
            invalid = total.proxy_invalid,
            timed_out = total.proxy_timeouts,
            "PROXY protocol"
        );
    }
    crate::report_tls::summary(&total);
    if let (Some(start), Some(end)) = (overflows_at_start, esockets::listen_overflows()) {
        overflows(end.saturating_sub(start));
    }
}

/// The network namespace's listen-queue overflows while the server ran.
/// The kernel counts them for the whole namespace, every process's
/// listeners together, so the line says so: another server's drops show
/// here too.
fn overflows(count: u64) {
    match count {
        0 => tracing::info!(
            "listen-queue overflows while the server ran: none (in this network namespace, \
             all processes' listeners)"
        ),
        overflows => tracing::warn!(
            "listen-queue overflows while the server ran: {overflows} (connections dropped \
             before accept, counted for this network namespace: all processes' listeners, \
             not only this server's; if they were this server's, raise --backlog and \
             net.core.somaxconn, see docs/tuning.md)"
        ),
    }
}

/// One line of counters.
fn log_stats(what: &str, stats: &ShardStats) {
    tracing::info!(
        accepted = stats.accepted,
        refused = stats.refused,
        over_limit = stats.over_limit,
        idle_closed = stats.idle_closed,
        cut_off = stats.cut_off,
        closed = stats.closed,
        bytes_in = stats.bytes_in,
        bytes_out = stats.bytes_out,
        "{what}"
    );
}

/// Says who may subscribe and publish, and how fast.
pub fn access(rules: &esockets::protocols::pubsub::Rules) {
    match &rules.auth {
        Some(auth) => tracing::info!(
            "pubsub: clients must AUTH with a JWT connection token within {}; they may \
             subscribe and publish only to the topics its subs and pubs claims allow",
            humantime::format_duration(auth.timeout)
        ),
        None => tracing::warn!(
            "pubsub: no authentication configured: anyone who can connect may subscribe \
             and publish to any topic (see --auth-jwt-secret-file in docs/operations.md)"
        ),
    }
    if let Some(rate) = rules.publish_rate {
        tracing::info!(
            "pubsub: at most {}/s publishes per client (bursts of {}); past it \
             \"-ERR rate limited\", and {} refused in a row close the client",
            rate.per_second,
            rate.burst,
            esockets::protocols::pubsub::FLOOD_LIMIT
        );
    }
}
