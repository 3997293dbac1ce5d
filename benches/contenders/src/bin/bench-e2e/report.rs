//! Results: one record per run, markdown tables of medians, the JSON file.

use std::path::Path;

use serde_json::{json, Value};

use crate::contender::Contender;
use crate::env::Env;
use crate::loadgen::Metrics;
use crate::measure::Measured;
use crate::workload::Workload;

/// The outcome of one run of one workload against one contender.
pub struct Record {
    /// Workload name.
    pub workload: &'static str,
    /// Contender name.
    pub contender: &'static str,
    /// Run number, from 0.
    pub run: usize,
    /// Numbers for the tables (empty when the run failed).
    pub metrics: Metrics,
    /// Raw data (loadgen report and the like).
    pub raw: Value,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

impl Record {
    /// Records a measurement or its failure.
    pub fn new(
        workload: &Workload,
        contender: &Contender,
        run: usize,
        outcome: Result<Measured, String>,
    ) -> Self {
        let (metrics, raw, error) = match outcome {
            Ok(m) => (m.metrics, m.raw, m.note),
            Err(e) => (Metrics::new(), Value::Null, Some(e)),
        };
        Self {
            workload: workload.name,
            contender: contender.name,
            run,
            metrics,
            raw,
            error,
        }
    }

    /// The record as JSON.
    fn to_json(&self) -> Value {
        json!({
            "workload": self.workload,
            "contender": self.contender,
            "run": self.run,
            "metrics": self.metrics,
            "error": self.error,
            "raw": self.raw,
        })
    }
}

/// Median of the values, `None` when there are none.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// Median of `metric` over the runs of `contender` in `workload`.
fn median_of(records: &[Record], workload: &str, contender: &str, metric: &str) -> Option<f64> {
    let values = records
        .iter()
        .filter(|r| r.workload == workload && r.contender == contender)
        .filter_map(|r| r.metrics.get(metric).copied())
        .collect();
    median(values)
}

/// Formats a number with as many decimals as its size deserves.
fn fmt_number(value: f64) -> String {
    match value.abs() {
        v if v >= 1000.0 || value.fract() == 0.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

/// A markdown table of medians for one workload.
pub fn table(workload: &Workload, contenders: &[Contender], records: &[Record]) -> String {
    let columns = workload.columns();
    let ratio_metric = workload.ratio_metric();
    let mut out = format!("\n### {}\n\n| contender | runs ok |", workload.name);
    for (_, header) in columns {
        out.push_str(&format!(" {header} |"));
    }
    let ratio_header = columns
        .iter()
        .find(|(metric, _)| *metric == ratio_metric)
        .map_or(ratio_metric, |(_, header)| header);
    let baseline_name = workload.baseline();
    out.push_str(&format!(" {ratio_header} vs {baseline_name} |\n|---|---|"));
    out.push_str(&"---|".repeat(columns.len() + 1));
    let baseline = median_of(records, workload.name, baseline_name, ratio_metric);
    for contender in contenders {
        let runs: Vec<_> = records
            .iter()
            .filter(|r| r.workload == workload.name && r.contender == contender.name)
            .collect();
        let ok = runs.iter().filter(|r| r.error.is_none()).count();
        out.push_str(&format!("\n| {} | {ok}/{} |", contender.name, runs.len()));
        for (metric, _) in columns {
            let cell = median_of(records, workload.name, contender.name, metric)
                .map_or("-".to_owned(), fmt_number);
            out.push_str(&format!(" {cell} |"));
        }
        let mine = median_of(records, workload.name, contender.name, ratio_metric);
        let ratio = match (mine, baseline) {
            (Some(m), Some(b)) if b != 0.0 => format!("{:.2}x", m / b),
            _ => "-".to_owned(),
        };
        out.push_str(&format!(" {ratio} |"));
    }
    out.push('\n');
    out
}

/// Writes the configuration and every record to `path`.
pub fn write_json(path: &Path, env: &Env, records: &[Record]) -> Result<(), String> {
    let cli = &env.cli;
    let doc = json!({
        "config": {
            "contenders": cli.contenders,
            "workloads": cli.workloads,
            "runs": cli.runs,
            "duration_s": cli.duration.as_secs_f64(),
            "warmup_s": cli.warmup.as_secs_f64(),
            "threads": cli.threads,
            "client_threads": cli.client_threads,
            "server_cpus": env.server_cpus,
            "client_cpus": env.client_cpus,
            "rate": cli.rate,
            "work_dir": env.work_dir,
        },
        "results": records.iter().map(Record::to_json).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|e| format!("encode results: {e}"))?;
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn numbers_are_rounded_by_size() {
        assert_eq!(fmt_number(123456.7), "123457");
        assert_eq!(fmt_number(42.25), "42.2");
        assert_eq!(fmt_number(1.234), "1.23");
        assert_eq!(fmt_number(0.0), "0");
    }
}
