//! What the server tells its operator: start-up facts in plain words and
//! units, and the final counters.

use clap::ValueEnum;
use esockets::{Config, Server, ShardStats};

use crate::cli::Protocol;
use crate::units::{format_duration, format_size};

/// Descriptors the process uses besides its clients: stdio, the listeners,
/// epoll and waker descriptors, a few spare.
const OWN_DESCRIPTORS: u64 = 16;

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
pub fn started(server: &Server, config: &Config, protocol: Protocol, max_line: usize) {
    let name = protocol
        .to_possible_value()
        .map_or_else(String::new, |value| value.get_name().to_owned());
    tracing::info!(addr = %server.local_addr(), protocol = %name, "esockets listening");
    if protocol == Protocol::LineEcho {
        tracing::info!(
            "longest line {}; a longer one gets \"ERROR line too long\" and a close",
            format_size(max_line)
        );
    }
    shards(config);
    backlog(config.backlog);
    file_limit();
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
        format_duration(config.drain_timeout)
    );
}

/// Shards, cores and pinning; a warning when shards share cores.
fn shards(config: &Config) {
    let cores = esockets::default_threads();
    let pinning = if config.pin_threads {
        "pinned to cores"
    } else {
        "not pinned"
    };
    tracing::info!(
        "shards: {} (one thread, listener and event loop each), {pinning}; cores available: {cores}",
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
fn backlog(backlog: u32) {
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match somaxconn {
        Some(cap) => tracing::info!(
            "listen backlog {backlog} per shard (the kernel allows up to {cap}: net.core.somaxconn)"
        ),
        None => tracing::info!("listen backlog {backlog} per shard"),
    }
    if let Some(cap) = somaxconn.filter(|&cap| cap < backlog) {
        tracing::warn!(
            "the kernel caps the backlog at {cap}: raise net.core.somaxconn to {backlog} \
             or more (see docs/tuning.md)"
        );
    }
}

/// The open-file limit, as the number of clients it allows.
fn file_limit() {
    match esockets::open_file_limit() {
        Some((soft, hard)) => tracing::info!(
            "open files: limit {soft} (hard limit {hard}), room for about {} clients",
            soft.saturating_sub(OWN_DESCRIPTORS)
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
