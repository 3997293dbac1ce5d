//! The coordinator of every kind of run: checks limits, starts the
//! workers, releases them together once all connections are up, and
//! merges their per-second samples (progress line, interval log,
//! timeline).

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam::channel::{self, RecvTimeoutError};
use hdrhistogram::Histogram;

use crate::engine::histo::{self, new_histogram};
use crate::engine::limits::{check_nofile, ephemeral_ports, CpuTime};
use crate::engine::outcome::RunResult;
use crate::engine::progress::Progress;
use crate::engine::shared::{Sample, Shared};
use crate::engine::timeline::TimelinePoint;
use crate::front::config::RunConfig;
use crate::units::{fmt_rate, fmt_us};
use crate::Failure;

/// Where the coordinator writes each second's merged histograms and, at
/// the end, the run's totals (an HdrHistogram interval log, see
/// `reports::hdrlog`). Its times count from its own base time, taken
/// before connecting.
pub trait IntervalLog {
    /// How long after the base time `t` is.
    fn since_base(&self, t: Instant) -> Duration;
    /// Appends one interval starting `at` after the base time.
    fn interval(
        &mut self,
        at: Duration,
        len: Duration,
        corrected: &Histogram<u64>,
        uncorrected: &Histogram<u64>,
    ) -> io::Result<()>;
    /// Appends the run's totals.
    fn summary(&mut self, r: &RunResult) -> io::Result<()>;
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
        point.slow_messages = crate::engine::timeline::slow_messages(
            &self.corrected,
            stall_floor.as_secs_f64() * 1e6,
        );
        point
    }
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
}

impl<R> Coordinated<R> {
    /// Hands the start time and timeline to `result` and ends the
    /// interval log with its totals.
    pub fn finish(
        &mut self,
        result: &mut RunResult,
        log: Option<&mut (dyn IntervalLog + 'static)>,
    ) {
        result.started_at = self.started_at;
        result.timeline = std::mem::take(&mut self.timeline);
        if let Some(log) = log {
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
    mut log: Option<&mut (dyn IntervalLog + 'static)>,
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
                        write_interval(log.as_deref_mut(), warm_end, index, &done);
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
        write_interval(log.as_deref_mut(), warm_end, index, &partial);
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
    })
}

fn interval_line(iv: &Interval) -> String {
    let secs = iv.length.as_secs_f64().max(1e-3);
    format!(
        "{} msg/s | p99 {}",
        fmt_rate(iv.counts.0 as f64 / secs),
        fmt_us(iv.corrected.value_at_quantile(0.99) as f64 / 1000.0)
    )
}

/// Writes interval `index` of the measured window that began at
/// `warm_end`, timestamped from the log's base time (which is taken before
/// connecting, so the connect phase is accounted for).
fn write_interval(
    log: Option<&mut (dyn IntervalLog + 'static)>,
    warm_end: Instant,
    index: u64,
    iv: &Interval,
) {
    if let Some(log) = log {
        let at = log.since_base(warm_end) + Duration::from_secs(index);
        if let Err(e) = log.interval(at, iv.length, &iv.corrected, &iv.uncorrected) {
            eprintln!("loadgen: warning: interval log: {e}");
        }
    }
}
