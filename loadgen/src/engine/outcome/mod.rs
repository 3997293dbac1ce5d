//! What a run measured, merged over its workers: the [`RunResult`] every
//! mode hands to the reports, and the per-target and per-group counts
//! ([`Tally`]) it is made of.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use crate::engine::errors::Errors;
use crate::engine::histo::new_histogram;
use crate::engine::lifecycle::Lifecycle;
use crate::engine::limits::CpuTime;
use crate::engine::timeline::TimelinePoint;
use crate::front::config::RunConfig;

pub mod pubsub;

/// Counts of one target server or one connection group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Connections asked for.
    pub connections: u64,
    /// Connections established at least once.
    pub established: u64,
    /// Connections open at the end.
    pub open_at_end: u64,
    /// Measured messages verified.
    pub messages: u64,
    /// Errors (all causes) on its connections.
    pub errors: u64,
}

impl Tally {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Tally) {
        self.connections += other.connections;
        self.established += other.established;
        self.open_at_end += other.open_at_end;
        self.messages += other.messages;
        self.errors += other.errors;
    }
}

/// Everything measured in one run, merged over workers.
#[derive(Debug)]
pub struct RunResult {
    /// The run's configuration.
    pub cfg: RunConfig,
    /// Wall-clock time the run started (before connecting).
    pub started_at: SystemTime,
    /// Counts per target server, in `--addr` order.
    pub per_target: Vec<Tally>,
    /// Counts per connection group, in `--mix` order.
    pub per_group: Vec<Tally>,
    /// Latency per group (ns, from intended send); empty with one group.
    pub group_latency: Vec<Histogram<u64>>,
    /// Churn and reconnects.
    pub life: Lifecycle,
    /// Open loop: lateness of sends against the schedule (ns).
    pub pacing: Histogram<u64>,
    /// One point per second of the measured window.
    pub timeline: Vec<TimelinePoint>,
    /// Connections established.
    pub established: u64,
    /// Connections still open at the end.
    pub open_at_end: u64,
    /// Connect times (ns).
    pub connect: Histogram<u64>,
    /// Latency from intended send (ns); plain latency in the closed loop.
    pub corrected: Histogram<u64>,
    /// Latency from actual send (ns).
    pub uncorrected: Histogram<u64>,
    /// Errors by cause.
    pub errors: Errors,
    /// Messages verified in the measured window.
    pub messages: u64,
    /// Open loop: measured messages due on the schedule but never sent.
    pub unsent: u64,
    /// Measured window: from the end of warmup until sending stopped
    /// (messages sent in it and echoed during the drain count too).
    pub duration: Duration,
    /// CPU time of this process during the window.
    pub cpu: CpuTime,
    /// Wall time over which `cpu` was taken.
    pub cpu_wall: Duration,
    /// Established connections per source address.
    pub per_source: Vec<(IpAddr, u64)>,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
    /// `--mode pubsub`: subscriptions, publishes and deliveries checked.
    pub pubsub: Option<pubsub::PubsubOutcome>,
}

impl RunResult {
    /// A result with nothing measured yet.
    pub fn empty(cfg: &RunConfig, cpu: CpuTime, cpu_wall: Duration, interrupted: bool) -> Self {
        RunResult {
            cfg: cfg.clone(),
            started_at: SystemTime::now(),
            per_target: vec![Tally::default(); cfg.targets.len()],
            per_group: vec![Tally::default(); cfg.groups.len()],
            group_latency: Vec::new(),
            life: Lifecycle::default(),
            pacing: new_histogram(),
            timeline: Vec::new(),
            established: 0,
            open_at_end: 0,
            connect: new_histogram(),
            corrected: new_histogram(),
            uncorrected: new_histogram(),
            errors: Errors::default(),
            messages: 0,
            unsent: 0,
            duration: Duration::ZERO,
            cpu,
            cpu_wall,
            per_source: cfg.sources.iter().map(|ip| (*ip, 0)).collect(),
            interrupted,
            pubsub: None,
        }
    }
}
