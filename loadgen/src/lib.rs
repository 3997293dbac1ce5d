//! # loadgen
//!
//! A load generator for TCP echo-style servers (any RFC 862 echo, or a
//! line echo): tens of thousands of connections spread over several source
//! addresses, closed-loop or open-loop (constant rate, with
//! coordinated-omission correction) traffic, every echoed byte verified,
//! and results as a table, JSON, an HdrHistogram interval log and an SVG
//! chart. Over plain TCP or, with `--ws`, WebSocket ([`ws`]).
//!
//! ```text
//!   main ─ cli ─ config ─┬─ run (coordinator: start, progress, hdr-log)
//!                        │     └─ worker × N (own mio::Poll, own connections,
//!                        │                    own histograms)
//!                        ├─ report (table, JSON, plot)
//!                        ├─ merge (interval logs → one report)
//!                        ├─ plot (interval logs → one chart)
//!                        └─ sweep (server thread counts → table, plot)
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
