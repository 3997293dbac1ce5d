//! What the server tells its operator: start-up facts, signals, summary.

use clap::ValueEnum;
use esockets::{Config, Server, ShardStats};

use crate::cli::Protocol;

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
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match somaxconn {
        Some(cap) if cap < config.backlog => tracing::warn!(
            backlog = config.backlog,
            somaxconn = cap,
            "the kernel caps the backlog at net.core.somaxconn; raise it (see docs/tuning.md)"
        ),
        _ => tracing::info!(
            backlog = config.backlog,
            ?somaxconn,
            "listen backlog per shard"
        ),
    }
    match esockets::open_file_limit() {
        Some((soft, hard)) => tracing::info!(
            soft,
            hard,
            max_clients = soft.saturating_sub(16),
            "open-file limit (one descriptor per client)"
        ),
        None => tracing::warn!("cannot read the open-file limit"),
    }
}

/// The final counters, per shard and in total.
pub fn summary(shards: &[ShardStats]) {
    for (index, stats) in shards.iter().enumerate() {
        log_stats(&format!("shard {index}"), stats);
    }
    let total: ShardStats = shards.iter().copied().sum();
    log_stats("total", &total);
}

/// One line of counters.
fn log_stats(what: &str, stats: &ShardStats) {
    tracing::info!(
        accepted = stats.accepted,
        refused = stats.refused,
        closed = stats.closed,
        bytes_in = stats.bytes_in,
        bytes_out = stats.bytes_out,
        "{what}"
    );
}
