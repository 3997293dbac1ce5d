//! One worker thread of the echo-style modes (echo, line, idle, stream;
//! over TCP or WebSocket), on the shared worker core
//! (`engine::worker`): its own `mio::Poll` and share of the connections.
//! It connects them (ramped, bounded concurrency, timeouts), waits for the
//! common start, drives traffic until the end (or Ctrl-C or `--messages`),
//! replacing connections whose lifetime is over and reconnecting failed
//! ones when asked, drains what is in flight, checks which connections are
//! still open and closes them all with a reset.

use std::sync::Arc;
use std::time::Instant;

use crossbeam::channel::Sender;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::engine::echo::conn::{Conn, Role};
use crate::engine::errors::{Cause, Errors};
use crate::engine::lifecycle::Lifecycle;
use crate::engine::outcome::Tally;
use crate::engine::pattern::Pattern;
use crate::engine::recorder::Recorder;
use crate::engine::shared::{ConnectDone, Sample, Shared};
use crate::engine::worker::Core;
use crate::engine::ws::Link;
use crate::front::cli::Mode;
use crate::front::config::RunConfig;
use crate::front::shape::GroupKind;

pub mod conn;
mod connect;
mod events;
mod life;
mod load;
mod run;
mod timers;

pub use run::execute;
use timers::Timers;

/// What a worker needs to start.
#[derive(Debug)]
pub struct WorkerSpec {
    /// Worker number.
    pub index: usize,
    /// The run.
    pub cfg: Arc<RunConfig>,
    /// Shared flags and counters.
    pub shared: Arc<Shared>,
    /// Where per-second samples go.
    pub samples: Sender<Sample>,
}

/// What a worker measured.
#[derive(Debug)]
pub struct WorkerReport {
    /// Latency histograms and message count.
    pub recorder: Recorder,
    /// Connect times of the connect phase (ns).
    pub connect: Histogram<u64>,
    /// Errors by cause.
    pub errors: Errors,
    /// Connections established at least once.
    pub established: u64,
    /// Connections still open at the end.
    pub open_at_end: u64,
    /// Established connections per source address index.
    pub per_source: Vec<u64>,
    /// Counts per target server.
    pub per_target: Vec<Tally>,
    /// Counts per connection group.
    pub per_group: Vec<Tally>,
    /// Churn and reconnects.
    pub life: Lifecycle,
    /// When it stopped sending (end of its measured window; the drain of
    /// messages still in flight comes after).
    pub window_end: Instant,
}

/// Runs a worker to completion.
pub fn run(spec: WorkerSpec) -> std::io::Result<WorkerReport> {
    let shared = Arc::clone(&spec.shared);
    let mut done = ConnectDone(&shared, false);
    let mut w = Worker::new(&spec)?;
    w.connect_phase();
    done.signal();
    let start = w.wait_for_start();
    let window_end = w.load_phase(start, &spec.samples);
    Ok(w.finish(window_end))
}

/// The group of global connection `g`: groups take consecutive ranges of
/// connection numbers, so every worker gets its share of each.
fn group_of(cfg: &RunConfig, g: u64) -> usize {
    let mut end = 0;
    for (i, group) in cfg.groups.iter().enumerate() {
        end += group.connections;
        if g < end {
            return i;
        }
    }
    cfg.groups.len().saturating_sub(1)
}

struct Worker {
    /// Poll, buffer, measurements and counts, as every worker has them.
    core: Core,
    conns: Vec<Conn>,
    pattern: Pattern,
    per_group: Vec<Tally>,
    /// Timers of connections.
    timers: Timers,
    /// Random lifetimes.
    rng: SmallRng,
    /// Churn and reconnect counters.
    life: Lifecycle,
    /// The load phase has begun: connects from now on are churn or
    /// reconnects.
    loading: bool,
    /// Sending connections of this worker (open-loop schedule).
    senders: Vec<usize>,
    /// `life.connects` at the last per-second sample.
    connects_mark: u64,
}

impl Worker {
    fn new(spec: &WorkerSpec) -> std::io::Result<Self> {
        let cfg = Arc::clone(&spec.cfg);
        let sources = cfg.sources.len();
        let targets = cfg.targets.len();
        let mut per_target = vec![Tally::default(); targets];
        let mut per_group = vec![Tally::default(); cfg.groups.len()];
        let mut slot = 0u64;
        let conns = (spec.index as u64..cfg.connections)
            .step_by(cfg.threads)
            .map(|g| {
                let group = group_of(&cfg, g);
                let spec_group = &cfg.groups[group];
                let sends = spec_group.kind == GroupKind::Active;
                let role = Role {
                    id: g as u32,
                    source: (sources > 0).then(|| (g % sources as u64) as usize),
                    target: (g % targets as u64) as usize,
                    group,
                    sends,
                    read_rate: spec_group.read_rate,
                    slot,
                };
                if sends {
                    slot += 1;
                }
                per_target[role.target].connections += 1;
                per_group[group].connections += 1;
                let mut conn = Conn::new(role, cfg.size, cfg.pipeline);
                conn.ws = cfg
                    .ws
                    .as_ref()
                    .map(|ws| Box::new(Link::new(Arc::clone(ws), g)));
                conn
            })
            .collect::<Vec<_>>();
        let senders = (0..conns.len()).filter(|&i| conns[i].role.sends).collect();
        let rec = Recorder::new(cfg.groups.len(), cfg.rate.is_some());
        let pattern = Pattern::new(cfg.size, cfg.mode == Mode::Line, cfg.payload);
        Ok(Self {
            core: Core::new(spec.index, cfg, Arc::clone(&spec.shared), rec, per_target)?,
            pattern,
            per_group,
            timers: Timers::default(),
            rng: SmallRng::seed_from_u64(0x5EED ^ spec.index as u64),
            life: Lifecycle::default(),
            loading: false,
            senders,
            connects_mark: 0,
            conns,
        })
    }

    /// Counts `n` errors of `cause` on connection `i`.
    fn count(&mut self, i: usize, cause: Cause, n: u64) {
        if n > 0 {
            let role = self.conns[i].role;
            self.core.count(role.target, cause, n);
            self.per_group[role.group].errors += n;
        }
    }

    /// Services events until the coordinator publishes the start time.
    fn wait_for_start(&mut self) -> Instant {
        let shared = Arc::clone(&self.core.shared);
        crate::engine::worker::await_start(&shared, |wait| self.poll_once(wait, None))
    }
}
