//! Command line of `bench-e2e`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// End-to-end benchmark: runs each contender server under `loadgen` and
/// compares them.
///
/// Servers and the load generator are started with `taskset -c` on the CPUs
/// given. On a 2-core machine both sides share both cores, so the numbers
/// measure the whole system (server plus client) and are only comparable
/// between contenders run the same way, never as absolute server capacity.
#[derive(Debug, Parser)]
#[command(name = "bench-e2e")]
pub struct Cli {
    /// Contenders to compare, in the order they alternate.
    #[arg(long, value_delimiter = ',', default_value = "esockets,tokio,epoll")]
    pub contenders: Vec<String>,

    /// Workloads to run (or `all`): pingpong64-100, pingpong64-1000,
    /// pingpong64-10000, msg4k-1000, msg64k-10, openloop, idle-memory,
    /// capacity, callgrind. WebSocket workloads (not in `all`; `ws` runs
    /// them all, for --contenders esockets-ws,tokio-tungstenite):
    /// ws-echo64-1000, ws-echo64-10000, ws-idle-memory.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub workloads: Vec<String>,

    /// Runs per contender and workload; contenders alternate run by run.
    /// (callgrind always runs once: it counts instructions, not time.)
    #[arg(long, default_value_t = 3)]
    pub runs: usize,

    /// Measured time per run, e.g. 10s or 500ms.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Warm-up time per run, not measured.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Server threads (shards / workers).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,

    /// Load generator threads.
    #[arg(long, default_value_t = 2)]
    pub client_threads: usize,

    /// CPUs for the server (`taskset -c` list) [default: all].
    #[arg(long)]
    pub server_cpus: Option<String>,

    /// CPUs for the load generator (`taskset -c` list) [default: all].
    #[arg(long)]
    pub client_cpus: Option<String>,

    /// Loopback host the servers listen on; each contender has its own port.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Message rate of the open-loop workload (messages per second).
    #[arg(long, default_value_t = 50_000)]
    pub rate: u64,

    /// Connections held open by the idle-memory workload.
    #[arg(long, default_value_t = 15_000)]
    pub idle_connections: usize,

    /// Connections of the capacity workload (esockets only).
    #[arg(long, default_value_t = 19_500)]
    pub capacity_connections: usize,

    /// Source addresses of the capacity workload (loadgen --source).
    #[arg(long, default_value = "127.0.0.1-127.0.0.4")]
    pub capacity_source: String,

    /// Messages of the long callgrind run.
    #[arg(long, default_value_t = 100_000)]
    pub callgrind_messages: u64,

    /// Messages of the short callgrind run subtracted as fixed cost.
    #[arg(long, default_value_t = 10_000)]
    pub callgrind_base_messages: u64,

    /// Directory holding esockets, tokio-echo and epoll-echo [default: the
    /// directory of this executable].
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,

    /// The load generator [default: `loadgen` in --bin-dir].
    #[arg(long)]
    pub loadgen: Option<PathBuf>,

    /// Where logs, loadgen JSON and callgrind files go [default: a fresh
    /// directory under the system temp dir].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,

    /// Raw results of every run, as JSON.
    #[arg(long, default_value = "bench-e2e.json")]
    pub out: PathBuf,
}

/// Parses `10s`, `500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("bad duration {text:?}: expected e.g. 10s or 500ms"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(value)),
        "ms" => Ok(Duration::from_millis(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("bad duration unit {unit:?} in {text:?}")),
    }
}

/// Formats a duration the way `loadgen` accepts it (`10s` or `1500ms`).
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3h").is_err());
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
