//! The coordinator of one load run: checks limits, starts the workers,
//! releases them together once all connections are up, merges their
//! per-second samples (progress line, interval log) and, at the end, their
//! histograms and counters.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam::channel::{self, RecvTimeoutError};
use hdrhistogram::Histogram;

use crate::cli::Mode;
use crate::config::RunConfig;
use crate::errors::Errors;
use crate::hdrlog::HdrLogWriter;
use crate::histo::{self, new_histogram};
use crate::lifecycle::Lifecycle;
use crate::limits::{check_nofile, ephemeral_ports, CpuTime};
use crate::progress::Progress;
use crate::shared::{Sample, Shared};
use crate::timeline::TimelinePoint;
use crate::worker::{self, Tally, WorkerReport, WorkerSpec};
use crate::Failure;

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
    pub pubsub: Option<crate::pubsub::PubsubOutcome>,
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

/// Sum of the workers' samples for one interval.
struct Interval {
    workers: usize,
    length: Duration,
    corrected: Histogram<u64>,
    uncorrected: Histogram<u64>,
    /// Messages, errors, open connections, connects.
    counts: (u64, u64, u64, u64),
    /// Longest pause of any worker.
    pause: Duration,
}

impl Interval {
    fn point(&self, index: u64, stall_floor: Duration) -> TimelinePoint {
        let mut point = TimelinePoint::new(
            index as f64,
            self.length.as_secs_f64(),
            self.counts,
            &self.corrected,
        );
        point.loadgen_pause_ms = Some(self.pause.as_secs_f64() * 1e3);
        point.slow_messages =
            crate::timeline::slow_messages(&self.corrected, stall_floor.as_secs_f64() * 1e6);
        point
    }
}

/// Runs `cfg` to completion; Ctrl-C sets `stop`. Writes an interval log to
/// `hdr_log` when given.
pub fn execute(
    cfg: &RunConfig,
    stop: Arc<AtomicBool>,
    hdr_log: Option<&Path>,
) -> Result<RunResult, Failure> {
    if cfg.mode == Mode::Pubsub {
        return crate::pubsub::execute(cfg, stop, hdr_log);
    }
    let shared = Arc::new(Shared::new(stop, cfg.messages));
    let cfg_arc = Arc::new(cfg.clone());
    let mut run = coordinate(cfg, &shared, hdr_log, |index, samples| {
        let spec = WorkerSpec {
            index,
            cfg: Arc::clone(&cfg_arc),
            shared: Arc::clone(&shared),
            samples,
        };
        move || worker::run(spec)
    })?;
    let reports = std::mem::take(&mut run.reports);
    let mut result = merge_reports(cfg, reports, run.warm_end, run.cpu, run.cpu_wall, &shared);
    run.finish(&mut result);
    Ok(result)
}

/// What the coordinator of a run gathered besides the workers' own
/// reports.
#[derive(Debug)]
pub struct Coordinated<R> {
    /// Each worker's report, in worker order.
    pub reports: Vec<R>,
    /// One point per second of the measured window.
    pub timeline: Vec<TimelinePoint>,
    /// Wall-clock time the run started.
    pub started_at: SystemTime,
    /// End of the warmup.
    pub warm_end: Instant,
    /// CPU time of this process during the window.
    pub cpu: CpuTime,
    /// Wall time over which `cpu` was taken.
    pub cpu_wall: Duration,
    log: Option<HdrLogWriter>,
}

impl<R> Coordinated<R> {
    /// Hands the start time and timeline to `result` and ends the
    /// interval log with its totals.
    pub fn finish(&mut self, result: &mut RunResult) {
        result.started_at = self.started_at;
        result.timeline = std::mem::take(&mut self.timeline);
        if let Some(log) = self.log.as_mut() {
            if let Err(e) = log.summary(result) {
                eprintln!("loadgen: warning: interval log: {e}");
            }
        }
    }
}

/// The coordinator of every kind of run: checks limits, starts
/// `cfg.threads` workers (`make(index, samples)` gives each its body),
/// releases them together once all are ready (`Shared::connect_done`),
/// merges their per-second samples (progress line, interval log,
/// timeline) and collects their reports.
pub fn coordinate<R, W>(
    cfg: &RunConfig,
    shared: &Arc<Shared>,
    hdr_log: Option<&Path>,
    mut make: impl FnMut(usize, channel::Sender<Sample>) -> W,
) -> Result<Coordinated<R>, Failure>
where
    R: Send + 'static,
    W: FnOnce() -> std::io::Result<R> + Send + 'static,
{
    let started_at = SystemTime::now();
    check_nofile(cfg.connections)?;
    if let Some(ports) = ephemeral_ports() {
        let sources = cfg.sources.len().max(1) as u64;
        if cfg.connections > ports * sources {
            eprintln!(
                "loadgen: warning: {} connections to one server port need more than the {ports} \
                 ephemeral ports of {sources} source address(es); add addresses with --source",
                cfg.connections
            );
        }
    }
    let mut log = match hdr_log {
        Some(path) => Some(
            HdrLogWriter::create(path, cfg)
                .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let (tx, rx) = channel::unbounded::<Sample>();
    let mut handles = Vec::with_capacity(cfg.threads);
    for index in 0..cfg.threads {
        let body = make(index, tx.clone());
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-{index}"))
            .spawn(body)
            .map_err(|e| Failure::Runtime(format!("cannot start worker thread: {e}")))?;
        handles.push(handle);
    }
    drop(tx);

    let progress = Progress::new(cfg.progress);
    let started = Instant::now();
    while shared.connect_done.load(Ordering::SeqCst) < cfg.threads && !shared.stopped() {
        progress.set(format!(
            "connecting: {}/{} established, {} errors, {:.0?}",
            shared.established.load(Ordering::Relaxed),
            cfg.connections,
            shared.errors.load(Ordering::Relaxed),
            started.elapsed()
        ));
        // Nothing is sent on this channel before the start; this is a
        // bounded wait between progress updates.
        let _ = rx.recv_timeout(Duration::from_millis(100));
    }
    let start = Instant::now();
    // Only this thread sets it, once.
    let _ = shared.start.set(start);
    let warm_end = start + cfg.warmup;
    let mut cpu_start: Option<(CpuTime, Instant)> = None;
    let mut pending: BTreeMap<u64, Interval> = BTreeMap::new();
    let mut last_line = String::from("warming up");
    let mut timeline: Vec<TimelinePoint> = Vec::new();
    loop {
        let received = rx.recv_timeout(Duration::from_millis(100));
        if cpu_start.is_none() && Instant::now() >= warm_end {
            cpu_start = Some((CpuTime::now(), Instant::now()));
        }
        match received {
            Ok(sample) => {
                let index = sample.index;
                let entry = pending.entry(index).or_insert_with(|| Interval {
                    workers: 0,
                    length: Duration::ZERO,
                    corrected: new_histogram(),
                    uncorrected: new_histogram(),
                    counts: (0, 0, 0, 0),
                    pause: Duration::ZERO,
                });
                entry.workers += 1;
                entry.length = entry.length.max(sample.length);
                histo::add(&mut entry.corrected, &sample.corrected);
                histo::add(&mut entry.uncorrected, &sample.uncorrected);
                entry.counts.0 += sample.messages;
                entry.counts.1 += sample.errors;
                entry.counts.2 += sample.open;
                entry.counts.3 += sample.connects;
                entry.pause = entry.pause.max(sample.pause);
                if entry.workers == cfg.threads {
                    if let Some(done) = pending.remove(&index) {
                        last_line = interval_line(&done);
                        write_interval(log.as_mut(), warm_end, index, &done);
                        timeline.push(done.point(index, cfg.stall_floor));
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        progress.set(format!(
            "open {} | {} | errors {} | {:.0}s",
            shared.open.load(Ordering::Relaxed),
            last_line,
            shared.errors.load(Ordering::Relaxed),
            start.elapsed().as_secs_f64()
        ));
    }
    for (index, partial) in std::mem::take(&mut pending) {
        write_interval(log.as_mut(), warm_end, index, &partial);
        timeline.push(partial.point(index, cfg.stall_floor));
    }
    timeline.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    progress.finish();

    let mut reports = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.join() {
            Ok(Ok(report)) => reports.push(report),
            Ok(Err(e)) => return Err(Failure::Runtime(format!("worker failed: {e}"))),
            Err(_) => return Err(Failure::Runtime("a worker thread panicked".into())),
        }
    }
    let (cpu0, t0) = cpu_start.unwrap_or((CpuTime::default(), started));
    Ok(Coordinated {
        reports,
        timeline,
        started_at,
        warm_end,
        cpu: CpuTime::now().since(&cpu0),
        cpu_wall: t0.elapsed(),
        log,
    })
}

fn interval_line(iv: &Interval) -> String {
    let secs = iv.length.as_secs_f64().max(1e-3);
    format!(
        "{} msg/s | p99 {}",
        crate::table::fmt_rate(iv.counts.0 as f64 / secs),
        crate::table::fmt_us(iv.corrected.value_at_quantile(0.99) as f64 / 1000.0)
    )
}

/// Writes interval `index` of the measured window that began at
/// `warm_end`, timestamped from the log's base time (which is taken before
/// connecting, so the connect phase is accounted for).
fn write_interval(log: Option<&mut HdrLogWriter>, warm_end: Instant, index: u64, iv: &Interval) {
    if let Some(log) = log {
        let at = log.since_base(warm_end) + Duration::from_secs(index);
        if let Err(e) = log.interval(at, iv.length, &iv.corrected, &iv.uncorrected) {
            eprintln!("loadgen: warning: interval log: {e}");
        }
    }
}

fn merge_reports(
    cfg: &RunConfig,
    reports: Vec<WorkerReport>,
    warm_end: Instant,
    cpu: CpuTime,
    cpu_wall: Duration,
    shared: &Shared,
) -> RunResult {
    let mut r = RunResult::empty(cfg, cpu, cpu_wall, shared.stopped());
    for w in reports {
        r.established += w.established;
        r.open_at_end += w.open_at_end;
        histo::add(&mut r.connect, &w.connect);
        histo::add(&mut r.corrected, &w.recorder.corrected);
        histo::add(&mut r.uncorrected, &w.recorder.uncorrected);
        r.errors.merge(&w.errors);
        r.messages += w.recorder.messages;
        r.unsent += w.recorder.unsent;
        r.duration = r
            .duration
            .max(w.window_end.saturating_duration_since(warm_end));
        for (slot, n) in r.per_source.iter_mut().zip(w.per_source) {
            slot.1 += n;
        }
        for (slot, t) in r.per_target.iter_mut().zip(&w.per_target) {
            slot.merge(t);
        }
        for (slot, t) in r.per_group.iter_mut().zip(&w.per_group) {
            slot.merge(t);
        }
        if r.group_latency.is_empty() {
            r.group_latency = w.recorder.groups.iter().map(|_| new_histogram()).collect();
        }
        for (into, from) in r.group_latency.iter_mut().zip(&w.recorder.groups) {
            histo::add(into, from);
        }
        histo::add(&mut r.pacing, &w.recorder.pacing);
        r.life.merge(&w.life);
    }
    r
}
