//! What the run's TLS handshakes did: full and resumed handshakes,
//! failures by reason, and the handshake times. Touched once per
//! handshake, never per message.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::engine::histo;

/// Handshake counts and times of a run, shared by all workers.
#[derive(Debug)]
pub struct Counts {
    full: AtomicU64,
    resumed: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
    times: Mutex<Histogram<u64>>,
}

/// A copy of [`Counts`] for the report.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Full handshakes completed.
    pub full: u64,
    /// Resumed handshakes completed (a session ticket or id accepted).
    pub resumed: u64,
    /// Failed handshakes by reason.
    pub failures: BTreeMap<String, u64>,
    /// Handshake times (ns), from the TCP connect's completion to the
    /// handshake's end.
    pub times: Histogram<u64>,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            full: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            failures: Mutex::new(BTreeMap::new()),
            times: Mutex::new(histo::new_histogram()),
        }
    }
}

impl Counts {
    /// Counts a completed handshake that took `took`.
    pub fn done(&self, resumed: bool, took: Duration) {
        let counter = if resumed { &self.resumed } else { &self.full };
        counter.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let mut times = self.times.lock().unwrap_or_else(|p| p.into_inner());
        times.saturating_record(ns.min(histo::MAX_NS));
    }

    /// Counts a failed handshake.
    pub fn failed(&self, reason: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        *failures.entry(reason.to_string()).or_insert(0) += 1;
    }

    /// Everything counted so far.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            full: self.full.load(Ordering::Relaxed),
            resumed: self.resumed.load(Ordering::Relaxed),
            failures: self
                .failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            times: self.times.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}
