//! The state every worker keeps whatever its mode, and what it does with
//! it the same way: its poll and read buffer, what it measures (latency,
//! connect times, errors, per-target counts), its connections' counts,
//! and the per-second sample it hands the coordinator.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::Sender;
use hdrhistogram::Histogram;
use mio::{Events, Poll};

use crate::engine::errors::{Cause, Errors};
use crate::engine::histo::new_histogram;
use crate::engine::outcome::Tally;
use crate::engine::recorder::Recorder;
use crate::engine::shared::{Sample, Shared};
use crate::front::config::RunConfig;

/// Size of a worker's read buffer.
const READ_BUFFER: usize = 64 * 1024;

/// One worker's common state.
#[derive(Debug)]
pub struct Core {
    /// The run.
    pub cfg: Arc<RunConfig>,
    /// Flags and counters shared with the coordinator.
    pub shared: Arc<Shared>,
    /// Worker number.
    pub index: usize,
    /// Its poll: connections are registered with their index as token.
    pub poll: Poll,
    /// Events of the last poll.
    pub events: Events,
    /// Where sockets are read into.
    pub buf: Vec<u8>,
    /// Latency histograms and message count.
    pub rec: Recorder,
    /// Connect times of the connect phase (ns).
    pub connect: Histogram<u64>,
    /// Errors by cause.
    pub errors: Errors,
    /// Connections established at least once.
    pub established: u64,
    /// Established connections per source address index.
    pub per_source: Vec<u64>,
    /// Counts per target server.
    pub per_target: Vec<Tally>,
    /// Connects in progress.
    pub connecting: usize,
    /// Connections established and not failed.
    pub live: usize,
    /// `errors.total` at the last per-second sample.
    pub errors_mark: u64,
    /// Longest time a poll of this interval overran its timeout: this
    /// thread was not scheduled (or was busy) that long.
    pub pause: Duration,
}

impl Core {
    /// The state of worker `index` (pinned when `--pin` asks), recording
    /// into `rec`, with `per_target` counting its connections.
    pub fn new(
        index: usize,
        cfg: Arc<RunConfig>,
        shared: Arc<Shared>,
        rec: Recorder,
        per_target: Vec<Tally>,
    ) -> std::io::Result<Self> {
        super::pin(&cfg, index);
        Ok(Self {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            buf: vec![0; READ_BUFFER],
            rec,
            connect: new_histogram(),
            errors: Errors::default(),
            established: 0,
            per_source: vec![0; cfg.sources.len()],
            per_target,
            connecting: 0,
            live: 0,
            errors_mark: 0,
            pause: Duration::ZERO,
            shared,
            index,
            cfg,
        })
    }

    /// Counts `n` errors of `cause` on a connection to target `target`.
    pub fn count(&mut self, target: usize, cause: Cause, n: u64) {
        if n > 0 {
            self.errors.add(cause, n);
            self.shared.count_errors(n);
            self.per_target[target].errors += n;
        }
    }

    /// Waits up to `wait` for events; returns them (to be handed back
    /// with [`Core::restore`] once handled), or `None` when the poll
    /// failed (counted, unless it was interrupted).
    pub fn wait(&mut self, wait: Duration) -> Option<Events> {
        if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                self.errors.add(Cause::Other, 1);
                self.shared.count_errors(1);
            }
            return None;
        }
        // Moved out while handlers borrow the worker; an empty
        // replacement does not allocate.
        Some(std::mem::replace(
            &mut self.events,
            Events::with_capacity(0),
        ))
    }

    /// Hands back the events [`Core::wait`] returned, for the next poll.
    pub fn restore(&mut self, events: Events) {
        self.events = events;
    }

    /// Starts measuring at the end of the warmup.
    pub fn measure_from(&mut self, now: Instant, warm_end: Instant) {
        if !self.rec.measuring && now >= warm_end {
            self.rec.measuring = true;
            self.errors_mark = self.errors.total;
        }
    }

    /// A connection is up: one more live, counted as established the
    /// first time (`first`), with its `source` address index and
    /// `target`.
    pub fn came_up(&mut self, first: bool, source: Option<usize>, target: usize) {
        if first {
            self.established += 1;
            if let Some(s) = source {
                self.per_source[s] += 1;
            }
            self.per_target[target].established += 1;
            self.shared.established.fetch_add(1, Ordering::Relaxed);
        }
        self.live += 1;
        self.shared.open.fetch_add(1, Ordering::Relaxed);
    }

    /// An open connection is gone: one fewer live.
    pub fn went_down(&mut self) {
        self.live -= 1;
        self.shared.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Hands the coordinator this interval's sample: `messages` replaces
    /// the count of completed messages when given; `connects` made in it.
    pub fn send_sample(
        &mut self,
        samples: &Sender<Sample>,
        index: u64,
        length: Duration,
        messages: Option<u64>,
        connects: u64,
    ) {
        let (corrected, uncorrected, completed) = self.rec.take_interval();
        let errors = self.errors.total - self.errors_mark;
        self.errors_mark = self.errors.total;
        // The coordinator outlives the workers; a closed channel only
        // means nobody wants the sample.
        let _ = samples.send(Sample {
            index,
            length,
            corrected,
            uncorrected,
            messages: messages.unwrap_or(completed),
            errors,
            open: self.live as u64,
            connects,
            pause: std::mem::take(&mut self.pause),
        });
    }
}
