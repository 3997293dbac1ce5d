//! What the server tells its operator: start-up facts, signals, summary.

use std::io::{self, IsTerminal};
use std::thread;

use clap::ValueEnum;
use esockets::{Config, Server, ShardStats};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::cli::Protocol;

/// Logs to stderr, at `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
}

/// Raises the soft open-file limit to the hard one: every client is a
/// descriptor, and the soft limit is often a tenth of what is allowed.
pub fn raise_file_limit() {
    if let Err(err) = esockets::raise_open_file_limit() {
        tracing::warn!(%err, "cannot raise the open-file limit");
    }
}

/// One log line per fact a deployer needs.
pub fn started(server: &Server, config: &Config, protocol: Protocol) {
    let protocol = protocol
        .to_possible_value()
        .map_or_else(String::new, |value| value.get_name().to_owned());
    tracing::info!(addr = %server.local_addr(), %protocol, "esockets listening");
    tracing::info!(
        shards = config.threads,
        pinned = config.pin_threads,
        cores = esockets::default_threads(),
        "one thread, listener and event loop per shard"
    );
    match esockets::somaxconn() {
        Some(cap) if cap < config.backlog => tracing::warn!(
            backlog = config.backlog,
            somaxconn = cap,
            "the kernel caps the listen backlog at net.core.somaxconn; raise it (see docs/tuning.md)"
        ),
        Some(cap) if cap < LOW_SOMAXCONN => tracing::warn!(
            backlog = config.backlog,
            somaxconn = cap,
            "net.core.somaxconn is low: a fleet reconnecting at once will overflow the listen queue (see docs/tuning.md)"
        ),
        _ => tracing::info!(backlog = config.backlog, "listen backlog per shard"),
    }
    match esockets::tcp_migrate_req() {
        Some(1) => tracing::info!(
            "net.ipv4.tcp_migrate_req=1: clients queued on a closing listener move to another process on this port"
        ),
        Some(_) => tracing::info!(
            "net.ipv4.tcp_migrate_req=0: at shutdown queued clients are accepted and closed gracefully (see docs/tuning.md)"
        ),
        None => {}
    }
    let max_connections = server.handle().max_connections();
    match esockets::open_file_limit() {
        Some((soft, _)) if max_connections as u64 + 16 > soft => tracing::warn!(
            soft,
            max_connections,
            "max_connections is above what the open-file limit allows: clients past it are refused as out of descriptors (raise the limit, see docs/tuning.md)"
        ),
        Some((soft, hard)) => tracing::info!(
            soft,
            hard,
            max_connections,
            "open-file limit (one descriptor per client); clients beyond max_connections are refused"
        ),
        None => tracing::warn!(max_connections, "cannot read the open-file limit"),
    }
}

/// Below this `net.core.somaxconn` a connect storm overflows the listen
/// queue (the kernel default was 128 before Linux 5.4, 4096 since).
const LOW_SOMAXCONN: u32 = 1024;

/// Starts catching SIGINT and SIGTERM (they are held until
/// [`on_signals`] handles them).
pub fn catch_signals() -> io::Result<Signals> {
    Signals::new([SIGINT, SIGTERM])
}

/// Runs `stop` on the first caught signal; a second one exits at once.
pub fn on_signals(mut signals: Signals, stop: impl Fn() + Send + 'static) {
    let spawned = thread::Builder::new()
        .name("esockets-signals".into())
        .spawn(move || {
            let mut stopping = false;
            for signal in signals.forever() {
                if stopping {
                    tracing::warn!(signal, "second signal: exiting without draining");
                    std::process::exit(130);
                }
                stopping = true;
                tracing::info!(signal, "shutting down: no new clients, draining output");
                stop();
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start the signal thread; stop the server with SIGKILL");
    }
}

/// The final counters, per shard and in total, and the listen-queue
/// overflows seen while the server ran (`overflows_at_start` from
/// [`esockets::listen_overflows`]).
pub fn summary(shards: &[ShardStats], overflows_at_start: Option<u64>) {
    for (index, stats) in shards.iter().enumerate() {
        log_stats(&format!("shard {index}"), stats);
    }
    let total: ShardStats = shards.iter().copied().sum();
    log_stats("total", &total);
    if let (Some(start), Some(end)) = (overflows_at_start, esockets::listen_overflows()) {
        let overflows = end.saturating_sub(start);
        if overflows > 0 {
            tracing::warn!(
                overflows,
                "listen-queue overflows in this network namespace while the server ran: clients were dropped before accept (raise --backlog and net.core.somaxconn)"
            );
        } else {
            tracing::info!(overflows, "listen-queue overflows while the server ran");
        }
    }
}

/// One line of counters.
fn log_stats(what: &str, stats: &ShardStats) {
    tracing::info!(
        accepted = stats.accepted,
        refused = stats.refused,
        over_limit = stats.over_limit,
        idle_closed = stats.idle_closed,
        closed = stats.closed,
        bytes_in = stats.bytes_in,
        bytes_out = stats.bytes_out,
        "{what}"
    );
}
