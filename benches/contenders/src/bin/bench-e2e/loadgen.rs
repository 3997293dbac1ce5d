//! Running `loadgen` and reading its JSON report.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::child::{pinned, Guard};
use crate::env::Env;

/// Named numbers taken from one run, e.g. `msgs_per_sec`.
pub type Metrics = BTreeMap<String, f64>;

/// Where each metric lives in loadgen's JSON report.
const FIELDS: [(&str, &str); 12] = [
    ("msgs_per_sec", "/messages_per_sec"),
    ("mb_per_sec", "/mb_per_sec"),
    ("messages", "/messages"),
    ("p50_us", "/latency_us/p50"),
    ("p99_us", "/latency_us/p99"),
    ("p999_us", "/latency_us/p999"),
    ("max_us", "/latency_us/max"),
    ("p99_uncorrected_us", "/latency_uncorrected_us/p99"),
    ("rate_achieved", "/rate/achieved"),
    ("established", "/connections/established"),
    ("errors", "/errors/total"),
    ("client_cpu_percent", "/cpu/percent"),
];

/// A started load generator whose report will be written to `json`.
pub struct Running {
    /// The loadgen process (killed if dropped).
    pub guard: Guard,
    /// Its report file.
    pub json: PathBuf,
}

/// Starts loadgen against `addr` with `args` (beyond --addr/--json/--quiet),
/// pinned to the client CPUs; output goes to `<tag>.loadgen.log`.
pub fn spawn(env: &Env, addr: SocketAddr, args: &[String], tag: &str) -> Result<Running, String> {
    let json = env.file(&format!("{tag}.loadgen.json"));
    // A stale report from an earlier harness run must never be read back.
    if json.exists() {
        std::fs::remove_file(&json).map_err(|e| format!("remove {}: {e}", json.display()))?;
    }
    let mut cmd = pinned(&env.client_cpus, &env.loadgen);
    cmd.arg("--addr")
        .arg(addr.to_string())
        .args(args)
        .arg("--json")
        .arg(&json)
        .arg("--quiet");
    let log = env.file(&format!("{tag}.loadgen.log"));
    let guard = Guard::spawn("loadgen", &mut cmd, &log)?;
    Ok(Running { guard, json })
}

/// Runs loadgen to completion (bounded by `timeout`); returns its report and
/// an error note when it exited unsuccessfully but still wrote a report.
pub fn run(
    env: &Env,
    addr: SocketAddr,
    args: &[String],
    tag: &str,
    timeout: Duration,
) -> Result<(Value, Option<String>), String> {
    let mut running = spawn(env, addr, args, tag)?;
    let status = running
        .guard
        .wait_for(timeout)?
        .ok_or_else(|| format!("loadgen did not finish within {timeout:?}"))?;
    let json = read_report(&running.json).map_err(|e| format!("{e} (loadgen: {status})"))?;
    let note = (!status.success()).then(|| format!("loadgen exited with {status}"));
    Ok((json, note))
}

/// Reads and parses a loadgen JSON report.
pub fn read_report(path: &Path) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))
}

/// Extracts the metrics the tables use from a report (absent ones skipped).
pub fn metrics(report: &Value) -> Metrics {
    FIELDS
        .iter()
        .filter_map(|(name, pointer)| {
            let value = report.pointer(pointer)?.as_f64()?;
            Some(((*name).to_owned(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_known_fields_and_skips_nulls() {
        let report = serde_json::json!({
            "messages_per_sec": 1000.5,
            "latency_us": {"p50": 12, "p99": 40.5},
            "latency_uncorrected_us": null,
            "errors": {"total": 0},
        });
        let m = metrics(&report);
        assert_eq!(m.get("msgs_per_sec"), Some(&1000.5));
        assert_eq!(m.get("p50_us"), Some(&12.0));
        assert_eq!(m.get("p99_us"), Some(&40.5));
        assert_eq!(m.get("errors"), Some(&0.0));
        assert!(!m.contains_key("p99_uncorrected_us"));
    }
}
