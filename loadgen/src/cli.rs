//! Command-line options (clap derive). Names here are a contract: other
//! people's scripts use them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `loadgen [OPTIONS]` runs a load; `loadgen merge` and `loadgen sweep` are
/// subcommands.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator for TCP echo-style servers: many connections, honest latency",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Optional subcommand; without one, a load run.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of a load run.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Merge HdrHistogram interval logs (from several loadgen machines)
    /// into one report.
    Merge(MergeArgs),
    /// Run the same load against a server started with each thread count.
    Sweep(Box<SweepArgs>),
}

/// Traffic pattern.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Send `--size` bytes, wait for the whole echo, verify, repeat.
    Echo,
    /// Like echo, each message ending in `\n` (for line-echo servers).
    Line,
    /// Open and hold the connections, checking they stay open.
    Idle,
}

/// Options of one load run.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:1234", value_name = "HOST:PORT")]
    pub addr: String,
    /// Connections to open and hold.
    #[arg(long, short = 'c', default_value_t = 100, value_name = "N")]
    pub connections: u64,
    /// Connections opened per second (ramp); 0 = as fast as possible.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub connect_rate: u64,
    /// Give up on a connect after this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration, value_name = "DUR")]
    pub connect_timeout: Duration,
    /// Local source addresses, e.g. `127.0.0.1,127.0.0.2-127.0.0.9`;
    /// connections are spread over them round-robin.
    #[arg(long, value_name = "LIST")]
    pub source: Option<String>,
    /// Worker threads, each with its own poll (default: cores).
    #[arg(long, short = 't', value_name = "N")]
    pub threads: Option<usize>,
    /// Pin worker i to core i mod cores.
    #[arg(long)]
    pub pin: bool,
    /// Traffic pattern.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    pub mode: Mode,
    /// Message size in bytes (line mode: including the newline).
    #[arg(long, default_value_t = 64, value_name = "BYTES")]
    pub size: usize,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub pipeline: usize,
    /// Open loop: total messages per second, spread evenly over the
    /// connections; latency counts from the intended send time.
    #[arg(long, value_name = "MSGS_PER_SEC")]
    pub rate: Option<f64>,
    /// Measured time (after warmup) [default: 10s; with --messages a 10m cap].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DUR")]
    pub duration: Option<Duration>,
    /// Traffic before measuring starts, excluded from statistics
    /// [default: 1s; 0 with --messages].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DUR")]
    pub warmup: Option<Duration>,
    /// Stop after this many verified messages in total (closed loop).
    #[arg(long, value_name = "N")]
    pub messages: Option<u64>,
    /// After the run, how long to wait for messages still in flight
    /// before counting them as lost.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration, value_name = "DUR")]
    pub drain_timeout: Duration,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write an HdrHistogram interval log (one interval per second).
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// Draw latency by percentile as an SVG chart.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Options of `loadgen merge`.
#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Interval logs written with `--hdr-log`.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Write the merged report as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw the merged latency by percentile as an SVG chart.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// Options of `loadgen sweep`.
#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// Server command; `{threads}` and `{addr}` are substituted, then it is
    /// split like a shell would (no shell runs).
    #[arg(long, value_name = "CMD")]
    pub server_cmd: String,
    /// Server thread counts to try, e.g. `1,2,4`.
    #[arg(long, value_name = "LIST", value_delimiter = ',', required = true)]
    pub threads_list: Vec<usize>,
    /// Prefix the server with `taskset -c CPULIST`.
    #[arg(long, value_name = "CPULIST")]
    pub taskset: Option<String>,
    /// How long to wait for the server to accept connections.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DUR")]
    pub ready_timeout: Duration,
    /// The load to run against each server (`--json`/`--plot` describe the
    /// sweep).
    #[command(flatten)]
    pub load: LoadArgs,
}
