//! `loadgen merge`: interval logs from several loadgen machines into one
//! report. Histograms are added (exact: HdrHistogram addition loses
//! nothing), the measured span runs from the earliest interval start to
//! the latest interval end over all logs, and the counters loadgen writes
//! in `#[loadgen-summary ...]` lines are summed. What the logs do not say
//! (CPU, connect times, unsent messages) is `null` in JSON and `n/a` in the
//! table. Open- and closed-loop logs are not merged: their latencies mean
//! different things. Logs whose runs did not all overlap in time (taken
//! one after the other) are merged, with a note that the rate over the
//! span is not the rate of any moment.

use hdrhistogram::Histogram;

use crate::engine::errors::{Cause, Errors};
use crate::engine::histo::{self, new_histogram};
use crate::engine::timeline::TimelinePoint;
use crate::front::cli::MergeArgs;
use crate::front::shape::{Group, GroupKind};
use crate::reports::hdrlog::{read_log, LogData, TAG_CORRECTED, TAG_UNCORRECTED};
use crate::reports::json::write_json;
use crate::reports::report::{summary, Connections, Rate, Report, Shape};
use crate::reports::{plot, table};
use crate::units::per_sec;
use crate::Failure;

/// The sum of several logs.
#[derive(Debug)]
pub struct Merged {
    /// Primary latency (untagged intervals, or `corrected` ones).
    pub latency: Histogram<u64>,
    /// `uncorrected` intervals, when the logs have them.
    pub uncorrected: Option<Histogram<u64>>,
    /// Seconds from the first interval start to the last interval end.
    pub span_s: f64,
    /// The report.
    pub report: Report,
}

fn meta_u64(log: &LogData, key: &str) -> Option<u64> {
    log.meta.get(key).and_then(|v| v.parse().ok())
}

/// The value all logs agree on, or `None`.
fn common<T: PartialEq + Copy>(values: impl IntoIterator<Item = Option<T>>) -> Option<T> {
    let mut it = values.into_iter();
    let first = it.next()??;
    it.all(|v| v == Some(first)).then_some(first)
}

/// Whether a log is of an open-loop run (`None`: the log does not say).
pub fn open_loop(log: &LogData) -> Option<bool> {
    log.meta
        .get("rate")
        .map(|r| r != "none" && r.parse::<f64>().is_ok())
}

/// Fails when the logs mix open- and closed-loop runs.
pub fn check_same_loop(logs: &[LogData], names: &[String]) -> Result<(), Failure> {
    let kinds: Vec<Option<bool>> = logs.iter().map(open_loop).collect();
    let open: Vec<&str> = names
        .iter()
        .zip(&kinds)
        .filter(|(_, k)| **k == Some(true))
        .map(|(n, _)| n.as_str())
        .collect();
    let closed: Vec<&str> = names
        .iter()
        .zip(&kinds)
        .filter(|(_, k)| **k == Some(false))
        .map(|(n, _)| n.as_str())
        .collect();
    if !open.is_empty() && !closed.is_empty() {
        return Err(Failure::Usage(format!(
            "cannot merge open-loop logs ({}) with closed-loop logs ({}): their latencies \
             are measured differently (from the intended send vs from the send); merge each \
             kind on its own",
            open.join(", "),
            closed.join(", ")
        )));
    }
    Ok(())
}

/// Merges parsed logs.
pub fn merge_logs(logs: &[LogData]) -> Merged {
    let mut latency = new_histogram();
    let mut uncorrected: Option<Histogram<u64>> = None;
    let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut ranges = Vec::new();
    for log in logs {
        let (mut log_first, mut log_last) = (f64::INFINITY, f64::NEG_INFINITY);
        let untagged = log.intervals.iter().any(|iv| iv.tag.is_none());
        for iv in &log.intervals {
            let primary = match iv.tag.as_deref() {
                None => true,
                Some(TAG_CORRECTED) => !untagged,
                Some(TAG_UNCORRECTED) => {
                    histo::add(uncorrected.get_or_insert_with(new_histogram), &iv.histogram);
                    false
                }
                Some(_) => false,
            };
            if primary {
                histo::add(&mut latency, &iv.histogram);
                log_first = log_first.min(iv.start_s);
                log_last = log_last.max(iv.start_s + iv.length_s);
            }
        }
        if log_last >= log_first {
            ranges.push((log_first, log_last));
        }
        first = first.min(log_first);
        last = last.max(log_last);
    }
    let span_s = if last > first { last - first } else { 0.0 };
    let mut report = build_report(logs, &latency, uncorrected.as_ref(), span_s);
    if let Some(note) = not_concurrent_note(&ranges, span_s) {
        report.notes.push(note);
    }
    Merged {
        latency,
        uncorrected,
        span_s,
        report,
    }
}

/// A note when the logs' time ranges (`(start, end)` in seconds, one per
/// log with intervals) have no moment in common: the runs were taken one
/// after the other (or partly so), and messages/s over the whole span,
/// gaps included, is not the rate of any moment.
fn not_concurrent_note(ranges: &[(f64, f64)], span_s: f64) -> Option<String> {
    if ranges.len() < 2 {
        return None;
    }
    let latest_start = ranges.iter().map(|r| r.0).fold(f64::NEG_INFINITY, f64::max);
    let earliest_end = ranges.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    if latest_start < earliest_end {
        return None;
    }
    let covered: f64 = ranges.iter().map(|r| r.1 - r.0).sum();
    Some(format!(
        "the logs' time ranges do not overlap (the runs were not all running at once; \
         {covered:.1} s of logs over a {span_s:.1} s span): messages/s is over the span from \
         the first start to the last end, gaps included, not the rate of any moment; merge \
         only logs of runs that ran together"
    ))
}

fn build_report(
    logs: &[LogData],
    latency: &Histogram<u64>,
    uncorrected: Option<&Histogram<u64>>,
    span_s: f64,
) -> Report {
    let sum = |key: &str| logs.iter().filter_map(|l| meta_u64(l, key)).sum::<u64>();
    let size = common(logs.iter().map(|l| meta_u64(l, "size")));
    let pipeline = common(logs.iter().map(|l| meta_u64(l, "pipeline")));
    let mode = common(logs.iter().map(|l| l.meta.get("mode").map(String::as_str)))
        .unwrap_or("mixed")
        .to_string();
    let mut errors = Errors::default();
    for cause in Cause::ALL {
        errors.add(cause, sum(cause.key()));
    }
    // The count each run wrote in its summary: the corrected histogram
    // also holds the waits of open-loop messages that were never sent, so
    // its length would count them as answered. Logs without a summary (a
    // run that was killed) fall back on the uncorrected histogram.
    let summarised = logs.iter().all(|l| meta_u64(l, "messages").is_some());
    let messages = if summarised {
        sum("messages")
    } else {
        uncorrected.map_or(latency.len(), Histogram::len)
    };
    let rate = per_sec(messages as f64, span_s);
    let bytes = size.map(|s| messages * s);
    let asked_rate: f64 = logs
        .iter()
        .filter_map(|l| l.meta.get("rate").and_then(|r| r.parse::<f64>().ok()))
        .sum();
    let asked = (asked_rate > 0.0).then_some(asked_rate);
    let started = logs
        .iter()
        .filter_map(|l| l.base_s)
        .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.min(b))));
    // Connections asked for, by the logs whose runs ended with a summary
    // (the ones whose established and error counts are known).
    let connections: u64 = logs
        .iter()
        .filter(|l| meta_u64(l, "messages").is_some())
        .filter_map(|l| meta_u64(l, "connections"))
        .sum();
    let unsummarised = logs
        .iter()
        .filter(|l| meta_u64(l, "messages").is_none())
        .count();
    let targets: Vec<String> = logs
        .iter()
        .filter_map(|l| l.meta.get("targets").cloned())
        .collect();
    let mut report = Report {
        loadgen_version: env!("CARGO_PKG_VERSION").to_string(),
        command_line: std::env::args().collect(),
        started_at: started.map(|s| {
            crate::reports::report::rfc3339(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(s),
            )
        }),
        targets: Vec::new(),
        shape: Shape {
            mode: mode.clone(),
            websocket: common(
                logs.iter()
                    .map(|l| l.meta.get("websocket").map(String::as_str)),
            )
            .filter(|kind| *kind != "none")
            .map(str::to_string),
            size: size.map(|s| s as usize),
            pipeline: pipeline.map(|p| p as usize),
            connections,
            rate: asked,
            lifetime_s: None,
            churn_per_sec: None,
            reconnect: None,
            groups: vec![Group {
                name: "all".into(),
                connections,
                kind: if mode == "idle" {
                    GroupKind::Idle
                } else {
                    GroupKind::Active
                },
                read_rate: None,
            }],
        },
        connections: Connections {
            asked: connections,
            established: sum("established"),
            open_at_end: sum("open_at_end"),
            connect_us: None,
            sources: Vec::new(),
        },
        duration_s: span_s,
        messages,
        bytes,
        messages_per_sec: rate,
        mb_per_sec: bytes.map(|b| per_sec(b as f64, span_s) / 1e6),
        rate: Rate {
            asked,
            achieved: rate,
            sustained: asked.map(|a| rate >= a * crate::reports::report::SUSTAINED_SHARE),
            // Interval logs carry no count of unsent messages; their waits
            // are in the corrected histograms all the same.
            unsent: None,
        },
        latency_us: summary(latency),
        latency_uncorrected_us: uncorrected.and_then(summary),
        pacing: None,
        errors,
        churn: None,
        reconnect: None,
        groups: Vec::new(),
        timeline: merged_timeline(logs),
        stalls: Vec::new(),
        cpu: None,
        mode,
        size: size.map(|s| s as usize),
        pipeline: pipeline.map(|p| p as usize),
        threads: sum("threads") as usize,
        interrupted: false,
        problems: Vec::new(),
        notes: vec![format!(
            "merged from {} interval logs{}",
            logs.len(),
            if targets.is_empty() {
                String::new()
            } else {
                format!(" (targets {})", targets.join(" "))
            }
        )],
        pubsub: None,
        tls: None,
    };
    report.judge(None, None);
    if unsummarised > 0 {
        report.problems.push(format!(
            "{unsummarised} of {} logs end without a summary (a killed run?): their messages \
             come from the histograms, their errors and connections are unknown and left out",
            logs.len()
        ));
    }
    report
}

/// Per-second points of the merged logs, by whole second since the
/// earliest interval.
fn merged_timeline(logs: &[LogData]) -> Vec<TimelinePoint> {
    let primary: Vec<_> = logs
        .iter()
        .flat_map(|l| {
            let untagged = l.intervals.iter().any(|iv| iv.tag.is_none());
            l.intervals
                .iter()
                .filter(move |iv| match iv.tag.as_deref() {
                    None => true,
                    Some(TAG_CORRECTED) => !untagged,
                    _ => false,
                })
        })
        .collect();
    let Some(t0) = primary.iter().map(|iv| iv.start_s).reduce(f64::min) else {
        return Vec::new();
    };
    let mut seconds: std::collections::BTreeMap<u64, (f64, Histogram<u64>)> =
        std::collections::BTreeMap::new();
    for iv in primary {
        let k = (iv.start_s - t0).round().max(0.0) as u64;
        let slot = seconds.entry(k).or_insert_with(|| (0.0, new_histogram()));
        slot.0 = slot.0.max(iv.length_s);
        histo::add(&mut slot.1, &iv.histogram);
    }
    seconds
        .into_iter()
        .map(|(k, (len, h))| TimelinePoint::latency_only(k as f64, len, h.len(), &h))
        .collect()
}

/// Runs `loadgen merge`: returns whether the merged runs passed.
pub fn run(args: &MergeArgs) -> Result<bool, Failure> {
    let logs = args
        .files
        .iter()
        .map(|p| read_log(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Usage)?;
    let names: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
    check_same_loop(&logs, &names)?;
    let merged = merge_logs(&logs);
    print!("{}", table::render(&merged.report));
    if let Some(path) = &args.json {
        write_json(path, &merged.report)?;
    }
    if let Some(path) = &args.plot {
        let mut series = vec![("merged latency".to_string(), &merged.latency)];
        if let Some(unc) = &merged.uncorrected {
            series.push(("merged uncorrected".to_string(), unc));
        }
        let title = format!(
            "loadgen merge of {} logs: latency by percentile",
            logs.len()
        );
        plot::latency_chart(path, &title, &series, &merged.report.timeline)
            .map_err(|e| Failure::Runtime(format!("cannot draw {}: {e}", path.display())))?;
    }
    Ok(merged.report.ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::histo::Summary;
    use crate::reports::hdrlog::LogInterval;

    fn log(values: &[u64], start: f64, rate: &str) -> LogData {
        let mut h = new_histogram();
        for &v in values {
            h.saturating_record(v);
        }
        let mut data = LogData::default();
        data.meta.insert("size".into(), "10".into());
        data.meta.insert("rate".into(), rate.into());
        data.intervals.push(LogInterval {
            tag: None,
            start_s: start,
            length_s: 1.0,
            histogram: h,
        });
        data
    }

    #[test]
    fn merge_equals_one_histogram_of_both() {
        let a: Vec<u64> = (1..5000).map(|v| v * 1000).collect();
        let b: Vec<u64> = (1..300).map(|v| v * 900_000).collect();
        let merged = merge_logs(&[log(&a, 100.0, "none"), log(&b, 100.5, "none")]);
        let mut both = new_histogram();
        for v in a.iter().chain(&b) {
            both.saturating_record(*v);
        }
        assert_eq!(merged.report.latency_us, Some(Summary::of(&both)));
        assert_eq!(merged.report.messages, both.len());
        assert!((merged.span_s - 1.5).abs() < 1e-9);
        assert_eq!(merged.report.bytes, Some(both.len() * 10));
        assert!(merged.report.cpu.is_none(), "unknown, not 0");
        assert!(merged.report.connections.connect_us.is_none());
    }

    #[test]
    fn open_and_closed_loop_logs_are_not_merged() {
        let logs = [log(&[1000], 0.0, "none"), log(&[1000], 0.0, "5000")];
        let names = vec!["closed.hlog".to_string(), "open.hlog".to_string()];
        let err = check_same_loop(&logs, &names).unwrap_err();
        assert!(err.message().contains("open.hlog"), "{}", err.message());
        assert!(check_same_loop(&logs[..1], &names[..1]).is_ok());
    }

    #[test]
    fn logs_taken_one_after_the_other_get_a_note() {
        let note = "do not overlap";
        let after = merge_logs(&[log(&[1000], 100.0, "none"), log(&[1000], 200.0, "none")]);
        assert!(
            after.report.notes.iter().any(|n| n.contains(note)),
            "{:?}",
            after.report.notes
        );
        // Back to back: one ends when the other starts.
        let touching = merge_logs(&[log(&[1000], 100.0, "none"), log(&[1000], 101.0, "none")]);
        assert!(touching.report.notes.iter().any(|n| n.contains(note)));
        let together = merge_logs(&[log(&[1000], 100.0, "none"), log(&[1000], 100.5, "none")]);
        assert!(
            !together.report.notes.iter().any(|n| n.contains(note)),
            "{:?}",
            together.report.notes
        );
        let one = merge_logs(&[log(&[1000], 100.0, "none")]);
        assert!(!one.report.notes.iter().any(|n| n.contains(note)));
    }

    #[test]
    fn sizes_that_differ_are_unknown() {
        let mut b = log(&[1000], 0.0, "none");
        b.meta.insert("size".into(), "20".into());
        let merged = merge_logs(&[log(&[1000], 0.0, "none"), b]);
        assert_eq!(merged.report.size, None);
        assert_eq!(merged.report.bytes, None);
    }
}
