//! # loadgen
//!
//! A load generator for TCP echo-style servers (any RFC 862 echo, or a
//! line echo) and pub/sub servers: tens of thousands of connections
//! spread over several source addresses, closed-loop or open-loop
//! (constant rate, with coordinated-omission correction) traffic, every
//! echoed byte and every delivery verified, and results as a table, JSON,
//! an HdrHistogram interval log and an SVG chart. Over plain TCP or, with
//! `--ws`, WebSocket ([`engine::ws`]).
//!
//! Three layers, each a folder. Imports point down the page (and to
//! [`units`] and [`Failure`], which every layer uses), except that the
//! engine and the reports read the run's description (`front::config`,
//! `plan`, `shape` and `cli`'s enums); no two modules import each other,
//! directly or around a loop (`tests/layers.rs` checks it):
//!
//! ```text
//!   main
//!    └─ front          the command line and what each command does
//!        ├─ app          dispatch: a load run, merge, plot, sweep; exit codes
//!        ├─ sweep/       server per setting (threads × balance) → table,
//!        │               recommend, chart (server, owner: start/check/stop)
//!        ├─ cli          options (clap)
//!        ├─ pubsub_args  tokens and --recover, checked
//!        └─ config       checked RunConfig ── shape (lifetimes, groups),
//!                        source (addresses), plan (who subscribes where,
//!                        who leaves when)
//!   engine             one run: reads front::config and cli's enums only
//!        ├─ run          execute: the mode's workers under the coordinator
//!        ├─ coordinator  threads, start, per-second samples, progress,
//!        │               IntervalLog (implemented by reports::hdrlog)
//!        ├─ echo/        echo, line, idle, stream: Worker (connect, load,
//!        │               events, life: churn and reconnects, timers), conn
//!        ├─ pubsub/      subscribers and publishers: worker, client, wire,
//!        │               frames, recovery, payload, verify, counts
//!        ├─ token        HS256 connection tokens for pub/sub servers
//!        ├─ worker/      what both workers share: Core (poll, buffer,
//!        │               measurements, counts, samples), Ramp + Connector,
//!        │               connect_step (TCP, then the upgrade),
//!        │               Ready, await_start, Window (warmup, samples,
//!        │               end), OpenLoop (+ pacer: timerfd), and the load
//!        │               loop (drive) with each mode's traffic behind Load
//!        ├─ ws/          WebSocket: handshake, frames, one link's state
//!        ├─ fault        why a connection died (one Fault, all modes)
//!        ├─ outcome/     RunResult, Tally; pubsub: PubsubOutcome, Counts
//!        └─ net, pattern, throttle, recorder, histo, errors, lifecycle,
//!           timeline, shared, limits, progress
//!   reports            a RunResult (or interval logs) for people and tools
//!        ├─ report       Report (+ verdict: problems, notes; pubsub part)
//!        ├─ table, json  text table, JSON file
//!        ├─ hdrlog       interval log: write (IntervalLog), read
//!        ├─ merge        interval logs of several machines → one report
//!        ├─ plot/        SVG: spectrum, timeline, sweep
//!        └─ spread       median and range of repeats
//! ```
//!
//! Workers share nothing on the per-message path: each owns its
//! connections, read buffer and histograms; the coordinator merges the
//! histograms each second (progress, interval log) and at the end (report).

pub mod engine;
pub mod front;
pub mod reports;
pub mod units;

/// A failure that ends the program, with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or an impossible request: one line, exit code 2.
    Usage(String),
    /// A run could not be carried out (I/O, server did not start): exit 1.
    Runtime(String),
}

impl Failure {
    /// Exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runtime(_) => 1,
        }
    }

    /// The message, without the `loadgen: error:` prefix.
    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) => m,
        }
    }
}
