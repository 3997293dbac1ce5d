//! Command-line options (clap derive). Names here are a contract: other
//! people's scripts use them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Examples printed at the end of `--help`.
const EXAMPLES: &str = "\
Examples:
  loadgen --addr 127.0.0.1:1234 -c 1000 --duration 10s --json run.json --plot run.svg
  loadgen -c 1000 --rate 50000                      # open loop, 50k msg/s in total
  loadgen -c 2000 --churn 500                       # 500 reconnects/s, population kept
  loadgen -c 2000 --lifetime 1s..5s                 # each connection lives 1-5 s
  loadgen -c 100 --reconnect --duration 30s         # survive a server restart
  loadgen -c 100 --read-rate 10000 --pipeline 8     # slow readers: 10 kB/s each
  loadgen -c 1000 --idle-fraction 0.9               # 900 only hold, 100 send
  loadgen -c 1000 --mix idle:90,slow:9,heavy:1 --read-rate 2000
  loadgen --addr 10.0.0.1:7,10.0.0.2:7 -c 2000      # two targets, half each
  loadgen -c 10 --mode stream --size 16384          # bandwidth, echo stream verified
  loadgen --mode pubsub --subscribers 1000 --topics 10 --publishers 4 --rate 2000
  loadgen --mode pubsub --protocol redis --addr 127.0.0.1:6379 --subscribers 100
  loadgen --mode pubsub --auth-jwt-secret-file secret --recover since --rate 1000
  loadgen plot a.hlog b.hlog --out both.svg         # one chart, one scale
  loadgen --ws -c 1000 --addr 127.0.0.1:8080        # WebSocket echo, masked frames
  loadgen --tls --tls-ca ca.pem -c 1000 --addr localhost:1234   # echo over TLS
  loadgen sweep --server-cmd 'esockets --threads {threads} --bind {addr}' \\
      --threads-list 1,2,4 --repeat 3 -c 1000 --duration 5s";

/// `loadgen [OPTIONS]` runs a load; `loadgen merge` and `loadgen sweep` are
/// subcommands.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator for TCP echo-style servers: many connections, honest latency",
    args_conflicts_with_subcommands = true,
    after_help = EXAMPLES
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
    /// Draw the latency spectra of several interval logs in one chart, on
    /// one scale (e.g. `loadgen plot esockets.hlog tokio.hlog --out c.svg`).
    Plot(PlotArgs),
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
    /// Send continuously (up to 256 KiB in flight per connection) and
    /// verify the echo stream: a bandwidth figure, as tcpkali's.
    Stream,
    /// Publish/subscribe: `--subscribers` connections subscribe to
    /// `--topics` topics, `--publishers` connections publish to them;
    /// every delivery is verified (lost, duplicated, out of order) and
    /// timed from its publish.
    Pubsub,
}

/// What fills a message after its self-identifying header (`--payload`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Payload {
    /// Letters in a pseudo-random sequence (echo modes; a repeating
    /// alphabet in pub/sub): cheap to make and check.
    #[default]
    Letters,
    /// Windows into chat-like JSON text (engine/corpus.rs): compresses
    /// as real JSON does, for `--ws-deflate` figures; still verified
    /// byte for byte.
    Json,
}

/// Wire protocol of `--mode pubsub`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// esockets' text protocol: `SUB t`, `PUB t payload`, `MSG t payload`.
    Pubsub,
    /// Redis RESP: `SUBSCRIBE`, `PUBLISH`, `message` pushes.
    Redis,
}

/// Options of one load run.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Server address; repeat it (or give a comma list) to spread the
    /// connections over several servers, e.g. `--addr a:7 --addr b:7`.
    #[arg(
        long,
        default_value = "127.0.0.1:1234",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub addr: Vec<String>,
    /// Connections to open and hold [default: 100] (`--mode pubsub`:
    /// use `--subscribers` and `--publishers` instead).
    #[arg(long, short = 'c', value_name = "N")]
    pub connections: Option<u64>,
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
    /// `--mode pubsub`: the protocol spoken to the server.
    #[arg(long, value_enum, default_value_t = Protocol::Pubsub)]
    pub protocol: Protocol,
    /// `--mode pubsub`: subscriber connections.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub subscribers: u64,
    /// `--mode pubsub`: publisher connections.
    #[arg(long, default_value_t = 1, value_name = "M")]
    pub publishers: u64,
    /// `--mode pubsub`: topics; subscriber i subscribes to topic i mod T
    /// (and the next ones with `--topics-per-subscriber`), publisher p
    /// publishes in turn to topics p, p+M, p+2M, ... mod T.
    #[arg(long, default_value_t = 1, value_name = "T")]
    pub topics: u64,
    /// `--mode pubsub`: topics each subscriber subscribes to (i, i+1, ...
    /// mod T).
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub topics_per_subscriber: u64,
    /// Message size in bytes (line mode: including the newline; pubsub:
    /// the payload, at least its header of publisher, topic, sequence
    /// number and send times).
    #[arg(long, default_value_t = 64, value_name = "BYTES")]
    pub size: usize,
    /// What fills each message after its header: `letters`, or `json`
    /// (chat-like JSON text, which compresses as real JSON does: use it
    /// for `--ws-deflate` figures). Verified byte for byte either way.
    #[arg(long, value_enum, default_value_t = Payload::Letters)]
    pub payload: Payload,
    /// Messages in flight per connection (`--mode pubsub`: publishes not
    /// yet acknowledged per publisher, closed loop).
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub pipeline: usize,
    /// Open loop: total messages per second, spread evenly over the
    /// connections (pubsub: over the publishers); latency counts from the
    /// intended send time.
    #[arg(long, value_name = "MSGS_PER_SEC")]
    pub rate: Option<f64>,
    /// Churn: close this many connections per second in total and open
    /// new ones at once, keeping the population (e.g. `--churn 500`).
    #[arg(long, value_name = "PER_SEC", conflicts_with = "lifetime")]
    pub churn: Option<f64>,
    /// Churn: each connection lives this long (or a uniformly random time
    /// in a range) before it is closed and replaced, e.g. `2s` or `1s..5s`.
    #[arg(long, value_name = "DUR[..DUR]")]
    pub lifetime: Option<String>,
    /// When the server closes or resets a connection, or a connect fails,
    /// reconnect with backoff (10 ms doubling to 1 s) instead of ending
    /// the run; downtime is reported.
    #[arg(long)]
    pub reconnect: bool,
    /// The run fails when fewer connections than this are open at its
    /// end [default: all of them; with churn, no minimum]. Lower it when
    /// losing connections is expected (e.g. a server that sheds load).
    #[arg(long, value_name = "N")]
    pub min_open: Option<u64>,
    /// Slow readers: each connection reads at most this many bytes per
    /// second (e.g. `--read-rate 10000`).
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub read_rate: Option<u64>,
    /// Share of connections that only hold their connection (idle), the
    /// rest send; both groups are reported (e.g. `--idle-fraction 0.9`).
    #[arg(long, value_name = "F", conflicts_with = "mix")]
    pub idle_fraction: Option<f64>,
    /// Connection groups as NAME:PERCENT, e.g. `idle:90,slow:9,heavy:1`:
    /// `idle` holds, `slow` reads at `--read-rate` (default 1000 B/s), any
    /// other name sends normally; each group is reported.
    #[arg(long, value_name = "SPEC")]
    pub mix: Option<String>,
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
    /// Closed loop: a second counts as a stall when its slowest messages
    /// (on several connections at once) took 10x the run's p99 and at
    /// least this long; raise it on a busy machine (e.g. `500ms`).
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration, value_name = "DUR")]
    pub stall_floor: Duration,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write an HdrHistogram interval log (one interval per second).
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// Draw an SVG chart: latency by percentile on the left, the run
    /// second by second on the right (messages/s, p50/p99/max of each
    /// second).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Speak WebSocket (RFC 6455): upgrade every connection, send each
    /// message as one masked frame (binary; see --ws-text), answer pings,
    /// and check each message the server sends back byte for byte.
    #[arg(long)]
    pub ws: bool,
    /// With --ws: send text messages instead of binary ones.
    #[arg(long, requires = "ws")]
    pub ws_text: bool,
    /// With --ws: request path of the upgrade [default: /].
    #[arg(long, requires = "ws", value_name = "PATH")]
    pub ws_path: Option<String>,
    /// With --ws: send this Origin header (e.g. `http://localhost`).
    #[arg(long, requires = "ws", value_name = "ORIGIN")]
    pub ws_origin: Option<String>,
    /// With --ws: offer permessage-deflate (RFC 7692, no context
    /// takeover); where the server accepts, every message is sent
    /// compressed and every message received is inflated before it is
    /// checked. A server that declines is used uncompressed.
    #[arg(long, requires = "ws")]
    pub ws_deflate: bool,

    /// TLS (`--tls` and its options).
    #[command(flatten)]
    pub tls: crate::front::tls_args::TlsArgs,

    /// Pub/sub tokens and the recovery shape.
    #[command(flatten)]
    pub pubsub: crate::front::pubsub_args::PubsubArgs,
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
    /// Draw an SVG chart: the merged latency by percentile, and the merged
    /// logs second by second.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// Options of `loadgen sweep`.
#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// Server command; `{threads}`, `{addr}` and `{balance}` are
    /// substituted, then it is split like a shell would (no shell runs).
    #[arg(long, value_name = "CMD")]
    pub server_cmd: String,
    /// Server thread counts to try, e.g. `1,2,4`.
    #[arg(long, value_name = "LIST", value_delimiter = ',', required = true)]
    pub threads_list: Vec<usize>,
    /// Balance modes to try at each thread count, e.g.
    /// `reuseport,cpu,least-loaded` (esockets' `--balance`; the command
    /// must say where, with `{balance}`); the recommendation then names
    /// the mode too, with its measured ratio to the others.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub balance_list: Vec<String>,
    /// Prefix the server with `taskset -c CPULIST`.
    #[arg(long, value_name = "CPULIST")]
    pub taskset: Option<String>,
    /// Run each thread count this many times (in alternation) and report
    /// the median with its range.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,
    /// How long to wait for the server to accept connections.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DUR")]
    pub ready_timeout: Duration,
    /// The load to run against each server (`--json`/`--plot` describe the
    /// sweep).
    #[command(flatten)]
    pub load: LoadArgs,
}

/// Options of `loadgen plot`.
#[derive(Args, Debug, Clone)]
pub struct PlotArgs {
    /// Interval logs written with `--hdr-log`; each becomes one line,
    /// named after its file (`esockets.hlog` → `esockets`).
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// The SVG file to write.
    #[arg(long, short = 'o', value_name = "FILE.svg")]
    pub out: PathBuf,
    /// Chart title.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

/// The lowercase name of a mode, as in `--mode`.
pub fn mode_name(mode: Mode) -> String {
    format!("{mode:?}").to_lowercase()
}
