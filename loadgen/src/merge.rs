//! `loadgen merge`: interval logs from several loadgen machines into one
//! report. Histograms are added (exact: HdrHistogram addition loses
//! nothing), the measured span runs from the earliest interval start to
//! the latest interval end over all logs, and the counters loadgen writes
//! in `#[loadgen-summary ...]` lines are summed.

use hdrhistogram::Histogram;

use crate::app::write_json;
use crate::cli::{MergeArgs, Mode};
use crate::errors::Errors;
use crate::hdrlog::{read_log, LogData, TAG_CORRECTED, TAG_UNCORRECTED};
use crate::histo::{self, new_histogram, ConnectSummary, Summary};
use crate::report::{Connections, Cpu, Rate, Report};
use crate::{plot, table, Failure};

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

fn meta_u64(log: &LogData, key: &str) -> u64 {
    log.meta.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Merges parsed logs.
pub fn merge_logs(logs: &[LogData]) -> Merged {
    let mut latency = new_histogram();
    let mut uncorrected: Option<Histogram<u64>> = None;
    let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
    for log in logs {
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
                first = first.min(iv.start_s);
                last = last.max(iv.start_s + iv.length_s);
            }
        }
    }
    let span_s = if last > first { last - first } else { 0.0 };
    let report = build_report(logs, &latency, uncorrected.as_ref(), span_s);
    Merged {
        latency,
        uncorrected,
        span_s,
        report,
    }
}

fn build_report(
    logs: &[LogData],
    latency: &Histogram<u64>,
    uncorrected: Option<&Histogram<u64>>,
    span_s: f64,
) -> Report {
    let sum = |key: &str| logs.iter().map(|l| meta_u64(l, key)).sum::<u64>();
    let sizes: Vec<u64> = logs.iter().map(|l| meta_u64(l, "size")).collect();
    let size = if sizes.windows(2).all(|w| w[0] == w[1]) {
        sizes.first().copied().unwrap_or(0)
    } else {
        0
    };
    let mode = logs
        .first()
        .and_then(|l| l.meta.get("mode"))
        .cloned()
        .unwrap_or_else(|| "echo".to_string());
    let mut errors = Errors::default();
    for (key, cause) in [
        ("mismatch", crate::errors::Cause::Mismatch),
        ("closed", crate::errors::Cause::Closed),
        ("reset", crate::errors::Cause::Reset),
        ("refused", crate::errors::Cause::Refused),
        ("connect_timeout", crate::errors::Cause::ConnectTimeout),
        ("lost", crate::errors::Cause::Lost),
        ("other", crate::errors::Cause::Other),
    ] {
        errors.add(cause, sum(key));
    }
    let messages = latency.len();
    let per_sec = if span_s > 0.0 {
        messages as f64 / span_s
    } else {
        0.0
    };
    let bytes = messages * size;
    let asked_rate: f64 = logs
        .iter()
        .filter_map(|l| l.meta.get("rate").and_then(|r| r.parse::<f64>().ok()))
        .sum();
    let asked = (asked_rate > 0.0).then_some(asked_rate);
    let mut report = Report {
        connections: Connections {
            asked: sum("connections"),
            established: sum("established"),
            open_at_end: sum("open_at_end"),
            connect_us: ConnectSummary::default(),
            sources: Vec::new(),
        },
        duration_s: span_s,
        messages,
        bytes,
        messages_per_sec: per_sec,
        mb_per_sec: if span_s > 0.0 {
            bytes as f64 / span_s / 1e6
        } else {
            0.0
        },
        rate: Rate {
            asked,
            achieved: per_sec,
            sustained: asked.map(|a| per_sec >= a * crate::report::SUSTAINED_SHARE),
            // Interval logs carry no count of unsent messages; their waits
            // are in the corrected histograms all the same.
            unsent: 0,
        },
        latency_us: Summary::of(latency),
        latency_uncorrected_us: uncorrected.map(Summary::of),
        errors,
        cpu: Cpu {
            user_s: 0.0,
            sys_s: 0.0,
            percent: 0.0,
        },
        size: size as usize,
        pipeline: logs.first().map_or(0, |l| meta_u64(l, "pipeline") as usize),
        threads: sum("threads") as usize,
        interrupted: false,
        problems: Vec::new(),
        notes: vec![format!("merged from {} interval logs", logs.len())],
        mode: mode.clone(),
    };
    let mode = match mode.as_str() {
        "idle" => Mode::Idle,
        "line" => Mode::Line,
        _ => Mode::Echo,
    };
    report.judge(mode, None);
    report
}

/// Runs `loadgen merge`: returns whether the merged runs passed.
pub fn run(args: &MergeArgs) -> Result<bool, Failure> {
    let logs = args
        .files
        .iter()
        .map(|p| read_log(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Usage)?;
    let merged = merge_logs(&logs);
    print!("{}", table::render(&merged.report));
    if let Some(path) = &args.json {
        write_json(path, &merged.report)?;
    }
    if let Some(path) = &args.plot {
        let mut series = vec![("merged latency", &merged.latency)];
        if let Some(unc) = &merged.uncorrected {
            series.push(("merged uncorrected", unc));
        }
        let title = format!(
            "loadgen merge of {} logs: latency by percentile",
            logs.len()
        );
        plot::latency_chart(path, &title, &series)
            .map_err(|e| Failure::Runtime(format!("cannot draw {}: {e}", path.display())))?;
    }
    Ok(merged.report.ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdrlog::LogInterval;

    fn log(values: &[u64], start: f64) -> LogData {
        let mut h = new_histogram();
        for &v in values {
            h.saturating_record(v);
        }
        let mut data = LogData::default();
        data.meta.insert("size".into(), "10".into());
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
        let merged = merge_logs(&[log(&a, 100.0), log(&b, 100.5)]);
        let mut both = new_histogram();
        for v in a.iter().chain(&b) {
            both.saturating_record(*v);
        }
        assert_eq!(merged.report.latency_us, Summary::of(&both));
        assert_eq!(merged.report.messages, both.len());
        assert!((merged.span_s - 1.5).abs() < 1e-9);
        assert_eq!(merged.report.bytes, both.len() * 10);
    }
}
