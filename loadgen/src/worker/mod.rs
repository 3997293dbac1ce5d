//! One worker thread: its own `mio::Poll` and share of the connections.
//! It connects them (ramped, bounded concurrency, timeouts), waits for the
//! common start, drives traffic until the end (or Ctrl-C or `--messages`),
//! drains what is in flight, checks which connections are still open and
//! closes them all with a reset.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::Sender;
use hdrhistogram::Histogram;
use mio::{Events, Poll};

use crate::cli::Mode;
use crate::config::RunConfig;
use crate::conn::{Conn, Fault, Pace, State, Traffic};
use crate::errors::{classify, Cause, Errors};
use crate::histo::new_histogram;
use crate::net;
use crate::pattern::Pattern;
use crate::recorder::Recorder;
use crate::shared::{Sample, Shared};

mod connect;

/// Connects in progress at once per worker (keeps SYNs under the server's
/// listen backlog).
const MAX_CONNECTING: usize = 256;
/// Longest poll wait, so Ctrl-C is noticed promptly.
const MAX_WAIT: Duration = Duration::from_millis(50);
const INTERVAL: Duration = Duration::from_secs(1);

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
    /// Connect times (ns).
    pub connect: Histogram<u64>,
    /// Errors by cause.
    pub errors: Errors,
    /// Connections established.
    pub established: u64,
    /// Connections still open at the end.
    pub open_at_end: u64,
    /// Established connections per source address index.
    pub per_source: Vec<u64>,
    /// When it stopped sending (end of its measured window; the drain of
    /// messages still in flight comes after).
    pub window_end: Instant,
}

/// Increments `connect_done` when dropped, so the coordinator never waits
/// for a worker that failed early.
struct ConnectDone<'a>(&'a Shared, bool);

impl ConnectDone<'_> {
    fn signal(&mut self) {
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

struct Worker {
    cfg: Arc<RunConfig>,
    shared: Arc<Shared>,
    index: usize,
    poll: Poll,
    events: Events,
    conns: Vec<Conn>,
    buf: Vec<u8>,
    pattern: Pattern,
    rec: Recorder,
    connect: Histogram<u64>,
    errors: Errors,
    established: u64,
    per_source: Vec<u64>,
    /// Connects in progress.
    connecting: usize,
    /// Connections established and not failed.
    live: usize,
}

impl Worker {
    fn new(spec: &WorkerSpec) -> std::io::Result<Self> {
        let cfg = Arc::clone(&spec.cfg);
        if cfg.pin {
            if let Some(ids) = core_affinity::get_core_ids() {
                if !ids.is_empty() {
                    core_affinity::set_for_current(ids[spec.index % ids.len()]);
                }
            }
        }
        let sources = cfg.sources.len();
        let conns = (spec.index as u64..cfg.connections)
            .step_by(cfg.threads)
            .map(|g| {
                let source = (sources > 0).then(|| (g % sources as u64) as usize);
                Conn::new(g as u32, source, cfg.size, cfg.pipeline)
            })
            .collect::<Vec<_>>();
        Ok(Self {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            buf: vec![0; 64 * 1024],
            pattern: Pattern::new(cfg.size, cfg.mode == Mode::Line),
            rec: Recorder::new(),
            connect: new_histogram(),
            errors: Errors::default(),
            established: 0,
            per_source: vec![0; sources],
            connecting: 0,
            live: 0,
            shared: Arc::clone(&spec.shared),
            index: spec.index,
            conns,
            cfg,
        })
    }

    fn count(&mut self, cause: Cause, n: u64) {
        if n > 0 {
            self.errors.add(cause, n);
            self.shared.count_errors(n);
        }
    }

    /// Services events until the coordinator publishes the start time.
    fn wait_for_start(&mut self) -> Instant {
        loop {
            if let Some(start) = self.shared.start.get() {
                return *start;
            }
            if self.shared.stopped() {
                return Instant::now();
            }
            self.poll_once(Duration::from_millis(5), None);
        }
    }

    fn pace(&self, start: Instant) -> Pace {
        match self.cfg.rate {
            None => Pace::Closed,
            Some(rate) => {
                let count = self.conns.len().max(1) as u64;
                let worker_rate = rate * count as f64 / self.cfg.connections as f64;
                let step_ns = 1e9 / worker_rate;
                let offset = step_ns * self.index as f64 / self.cfg.threads as f64;
                Pace::Open {
                    start: start + Duration::from_nanos(offset as u64),
                    step_ns,
                    count,
                }
            }
        }
    }

    /// Drives traffic from `start` to the end of the measured window, then
    /// drains; returns when sending stopped.
    fn load_phase(&mut self, start: Instant, samples: &Sender<Sample>) -> Instant {
        let cfg = Arc::clone(&self.cfg);
        let shared = Arc::clone(&self.shared);
        let pattern = self.pattern.clone();
        let warm_end = start + cfg.warmup;
        let end = warm_end + cfg.duration;
        let traffic = Traffic {
            pattern: &pattern,
            pipeline: cfg.pipeline,
            pace: self.pace(start),
            tickets: shared.tickets.as_ref(),
        };
        let sending = cfg.mode != Mode::Idle;
        let mut next_tick = warm_end + INTERVAL;
        let mut tick = 0u64;
        let mut fired = 0u64;
        self.rec.measuring = cfg.warmup.is_zero();
        if sending {
            for i in 0..self.conns.len() {
                self.service(i, Some(&traffic), false);
            }
        }
        loop {
            let now = Instant::now();
            if !self.rec.measuring && now >= warm_end {
                self.rec.measuring = true;
            }
            // All of this worker's connections failed: nothing left to do.
            let dead = self.live == 0;
            if now >= end || shared.stopped() || dead || self.out_of_tickets(&traffic) {
                break;
            }
            if self.rec.measuring && now >= next_tick {
                self.send_sample(samples, tick, INTERVAL);
                tick += 1;
                next_tick += INTERVAL;
            }
            let mut wait = MAX_WAIT.min(end - now);
            if self.rec.measuring {
                wait = wait.min(next_tick.saturating_duration_since(now));
            } else {
                wait = wait.min(warm_end - now);
            }
            let n = self.conns.len() as u64;
            if let (true, true, Pace::Open { start, step_ns, .. }) = (sending, n > 0, traffic.pace)
            {
                loop {
                    let due = start + Duration::from_nanos((fired as f64 * step_ns) as u64);
                    if due > now {
                        wait = wait.min(due - now);
                        break;
                    }
                    let i = (fired % n) as usize;
                    self.conns[i].owed += 1;
                    self.service(i, Some(&traffic), false);
                    fired += 1;
                }
            }
            self.poll_once(wait, sending.then_some(&traffic));
        }
        let window_end = Instant::now();
        if let Pace::Open {
            start,
            step_ns,
            count,
        } = traffic.pace
        {
            self.record_unsent(start, step_ns, count, warm_end, window_end);
        }
        self.drain();
        if self.rec.measuring {
            let length = Instant::now().saturating_duration_since(next_tick - INTERVAL);
            self.send_sample(samples, tick, length);
        }
        window_end
    }

    /// Records every measured message that fell due on the open-loop
    /// schedule but was never sent (see `Recorder::record_unsent`).
    fn record_unsent(
        &mut self,
        start: Instant,
        step_ns: f64,
        count: u64,
        warm_end: Instant,
        window_end: Instant,
    ) {
        for (i, conn) in self.conns.iter().enumerate() {
            for seq in conn.unsent() {
                let slot = (seq * count + i as u64) as f64 * step_ns;
                let intended = start + Duration::from_nanos(slot as u64);
                if intended >= warm_end && intended < window_end {
                    self.rec.record_unsent(intended, window_end);
                }
            }
        }
    }

    fn out_of_tickets(&self, traffic: &Traffic<'_>) -> bool {
        match traffic.tickets {
            Some(t) if t.load(Ordering::Relaxed) == 0 => {
                self.conns.iter().all(|c| c.in_flight() == 0)
            }
            _ => false,
        }
    }

    fn send_sample(&mut self, samples: &Sender<Sample>, index: u64, length: Duration) {
        let (corrected, uncorrected) = self.rec.take_interval();
        // The coordinator outlives the workers; a closed channel only
        // means nobody wants the sample.
        let _ = samples.send(Sample {
            index,
            length,
            corrected,
            uncorrected,
        });
    }

    /// Waits (bounded) for the echoes of messages still in flight.
    fn drain(&mut self) {
        let deadline = Instant::now() + self.cfg.drain_timeout;
        loop {
            let now = Instant::now();
            if now >= deadline || self.conns.iter().all(|c| c.in_flight() == 0) {
                return;
            }
            self.poll_once(MAX_WAIT.min(deadline - now), None);
        }
    }

    /// Counts what never came back, checks which connections are still
    /// open, closes everything with a reset.
    fn finish(mut self, window_end: Instant) -> WorkerReport {
        let mut open_at_end = 0;
        for i in 0..self.conns.len() {
            if self.conns[i].state != State::Open {
                continue;
            }
            let alive = self.conns[i].stream.as_ref().is_some_and(net::still_open);
            if alive {
                open_at_end += 1;
            } else {
                self.count(Cause::Closed, 1);
            }
            let lost = self.conns[i].kill();
            self.count(Cause::Lost, lost);
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
        }
        WorkerReport {
            recorder: self.rec,
            connect: self.connect,
            errors: self.errors,
            established: self.established,
            open_at_end,
            per_source: self.per_source,
            window_end,
        }
    }

    /// Waits up to `wait` for events and handles them.
    fn poll_once(&mut self, wait: Duration, traffic: Option<&Traffic<'_>>) {
        if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                self.count(Cause::Other, 1);
            }
            return;
        }
        // Events is moved out while handlers borrow `self`; an empty
        // replacement does not allocate.
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        for event in events.iter() {
            let i = event.token().0;
            if i < self.conns.len() {
                self.service(i, traffic, event.is_readable() || event.is_read_closed());
            }
        }
        self.events = events;
    }

    /// Advances connection `i`: finishes its connect, reads and checks
    /// echoes, queues and writes messages.
    fn service(&mut self, i: usize, traffic: Option<&Traffic<'_>>, readable: bool) {
        match self.conns[i].state {
            State::Connecting(since) => {
                let Some(stream) = self.conns[i].stream.as_ref() else {
                    return;
                };
                match net::connect_result(stream) {
                    Ok(true) => {
                        self.connecting -= 1;
                        self.established(i, since);
                        // Traffic may already be flowing (late connect).
                        self.service(i, traffic, readable);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        self.connecting -= 1;
                        self.count(classify(&e), 1);
                        self.conns[i].kill();
                    }
                }
            }
            State::Open => {
                let conn = &mut self.conns[i];
                let mut result = Ok(());
                if readable {
                    result = conn.read(&mut self.buf, &self.pattern, &mut self.rec);
                }
                if result.is_ok() {
                    if let Some(t) = traffic {
                        conn.fill(t, i as u64, Instant::now(), self.rec.measuring);
                    }
                    result = conn.flush();
                }
                if let Err(fault) = result {
                    self.fail(i, fault);
                }
            }
            State::Waiting | State::Dead => {}
        }
    }

    fn established(&mut self, i: usize, since: Instant) {
        let took = since.elapsed().as_nanos() as u64;
        self.connect.saturating_record(took.max(1));
        self.conns[i].state = State::Open;
        self.established += 1;
        if let Some(s) = self.conns[i].source {
            self.per_source[s] += 1;
        }
        self.live += 1;
        self.shared.open.fetch_add(1, Ordering::Relaxed);
        self.shared.established.fetch_add(1, Ordering::Relaxed);
    }

    fn fail(&mut self, i: usize, fault: Fault) {
        let cause = match fault {
            Fault::Closed => Cause::Closed,
            Fault::Mismatch => Cause::Mismatch,
            Fault::Io(e) => match classify(&e) {
                Cause::ConnectTimeout => Cause::Other,
                c => c,
            },
        };
        self.count(cause, 1);
        let lost = self.conns[i].kill();
        self.count(Cause::Lost, lost);
        self.live -= 1;
        self.shared.open.fetch_sub(1, Ordering::Relaxed);
    }
}
