//! An echo-style run: the coordinator with one echo worker per thread,
//! and the merge of their reports into the run's result.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{WorkerReport, WorkerSpec};
use crate::engine::coordinator::{coordinate, IntervalLog};
use crate::engine::histo::{self, new_histogram};
use crate::engine::limits::CpuTime;
use crate::engine::outcome::RunResult;
use crate::engine::shared::Shared;
use crate::front::config::RunConfig;
use crate::Failure;

/// Runs an echo-style load (`--mode echo`, `line`, `idle`, `stream`).
pub fn execute(
    cfg: &RunConfig,
    stop: Arc<AtomicBool>,
    mut log: Option<&mut (dyn IntervalLog + 'static)>,
) -> Result<RunResult, Failure> {
    let shared = Arc::new(Shared::new(stop, cfg.messages));
    let cfg_arc = Arc::new(cfg.clone());
    let mut run = coordinate(cfg, &shared, log.as_deref_mut(), |index, samples| {
        let spec = WorkerSpec {
            index,
            cfg: Arc::clone(&cfg_arc),
            shared: Arc::clone(&shared),
            samples,
        };
        move || super::run(spec)
    })?;
    let reports = std::mem::take(&mut run.reports);
    let mut result = merge_reports(cfg, reports, run.warm_end, run.cpu, run.cpu_wall, &shared);
    run.finish(&mut result, log);
    Ok(result)
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
