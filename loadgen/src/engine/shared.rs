//! State shared between the coordinator and the workers. Nothing here is
//! touched per message except the `--messages` ticket counter.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Flags and counters all threads see.
#[derive(Debug)]
pub struct Shared {
    /// Set by Ctrl-C: stop sending, drain, report.
    pub stop: Arc<AtomicBool>,
    /// Workers done with their connect phase.
    pub connect_done: AtomicUsize,
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections established so far.
    pub established: AtomicU64,
    /// Errors so far (all causes).
    pub errors: AtomicU64,
    /// When traffic starts (warmup begins); set once by the coordinator.
    pub start: OnceLock<Instant>,
    /// Messages left to send with `--messages`.
    pub tickets: Option<AtomicU64>,
}

impl Shared {
    /// Fresh state; `messages` is the `--messages` budget.
    pub fn new(stop: Arc<AtomicBool>, messages: Option<u64>) -> Self {
        Self {
            stop,
            connect_done: AtomicUsize::new(0),
            open: AtomicU64::new(0),
            established: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            start: OnceLock::new(),
            tickets: messages.map(AtomicU64::new),
        }
    }

    /// Whether Ctrl-C was pressed.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Counts `n` errors for the progress line.
    pub fn count_errors(&self, n: u64) {
        if n > 0 {
            self.errors.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// One worker's histograms for one interval of the measured window.
#[derive(Debug)]
pub struct Sample {
    /// Interval number: second `index` after warmup.
    pub index: u64,
    /// Length of the interval (1 s, less for the last one).
    pub length: Duration,
    /// Latency from intended send time (ns).
    pub corrected: Histogram<u64>,
    /// Latency from actual send time (ns).
    pub uncorrected: Histogram<u64>,
    /// Messages verified in the interval (for the last one: before the
    /// window closed, the drain not included).
    pub messages: u64,
    /// Errors counted in the interval (all causes).
    pub errors: u64,
    /// Connections of this worker open at the end of the interval.
    pub open: u64,
    /// Connects completed in the interval (churn, reconnect).
    pub connects: u64,
    /// Longest time the worker's poll overran its timeout in the interval.
    pub pause: Duration,
}

/// Increments `connect_done` when dropped, so the coordinator never waits
/// for a worker that failed early.
pub struct ConnectDone<'a>(pub &'a Shared, pub bool);

impl ConnectDone<'_> {
    /// Counts this worker as done connecting (once).
    pub fn signal(&mut self) {
        if !self.1 {
            self.1 = true;
            self.0.connect_done.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for ConnectDone<'_> {
    fn drop(&mut self) {
        self.signal();
    }
}
