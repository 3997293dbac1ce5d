//! Argument errors give one line and exit 2; connections spread over
//! `--source` addresses; `merge` of two logs equals one histogram of both.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use common::{json, loadgen, temp_dir, Behaviour, TestServer};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

const LIMIT: Duration = Duration::from_secs(30);

fn one_line_error(args: &[&str], needle: &str) {
    let out = loadgen(args, LIMIT);
    assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: {}", out.stderr);
    assert!(lines[0].starts_with("loadgen: error:"), "{}", lines[0]);
    assert!(lines[0].contains(needle), "{args:?}: {}", lines[0]);
    assert!(out.stdout.is_empty());
}

#[test]
fn argument_errors_are_one_line_and_exit_2() {
    one_line_error(&["--connections", "0"], "--connections must be at least 1");
    one_line_error(&["--addr", "no-such-host-.invalid:99"], "--addr");
    one_line_error(&["--addr", "127.0.0.1"], "--addr");
    one_line_error(&["--connections", "1000000"], "RLIMIT_NOFILE");
    one_line_error(&["--source", "127.0.0.9-127.0.0.1"], "--source");
    one_line_error(&["--connections", "lots"], "--connections");
    one_line_error(&["--duration", "forever"], "--duration");
    one_line_error(&["--mode", "idle", "--rate", "10"], "--rate");
}

#[test]
fn fd_limit_error_says_how_to_raise_it() {
    let out = loadgen(&["--connections", "1000000"], LIMIT);
    assert!(out.stderr.contains("1000000"), "{}", out.stderr);
    assert!(out.stderr.contains("ulimit"), "{}", out.stderr);
}

#[test]
fn connections_spread_over_source_addresses() {
    let server = TestServer::start(Behaviour::Echo);
    let dir = temp_dir("sources");
    let report = dir.join("r.json");
    let addr = server.addr_arg();
    let out = loadgen(
        &[
            "--addr",
            &addr,
            "--connections",
            "30",
            "--source",
            "127.0.0.1,127.0.0.2-127.0.0.3",
            "--duration",
            "300ms",
            "--warmup",
            "0s",
            "--quiet",
            "--json",
            report.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    for peer in server.peers.lock().unwrap().iter() {
        *seen.entry(peer.ip()).or_default() += 1;
    }
    for ip in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        assert_eq!(seen.get(&ip.parse().unwrap()), Some(&10), "{seen:?}");
    }
    let v = json(&report);
    let sources = v["connections"]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 3);
    assert!(sources.iter().all(|s| s["established"] == 10), "{v}");
}

fn untagged(path: &std::path::Path) -> Vec<Histogram<u64>> {
    let text = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    for entry in IntervalLogIterator::new(&text) {
        if let LogEntry::Interval(iv) = entry.unwrap() {
            if iv.tag().is_none() {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(iv.encoded_histogram())
                    .unwrap();
                out.push(
                    Deserializer::new()
                        .deserialize(&mut bytes.as_slice())
                        .unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn merge_of_two_logs_equals_one_histogram_of_both() {
    let server = TestServer::start(Behaviour::SlowEvery {
        every: 7,
        delay: Duration::from_millis(2),
    });
    let dir = temp_dir("merge");
    let addr = server.addr_arg();
    let mut logs = Vec::new();
    // Sends that fell due but were never sent (the slow server) are in
    // the corrected histograms of the log, not in the message count.
    let mut unsent = 0;
    for (name, rate) in [("a", "1500"), ("b", "700")] {
        let log = dir.join(format!("{name}.hlog"));
        let report = dir.join(format!("{name}.json"));
        let out = loadgen(
            &[
                "--addr",
                &addr,
                "--connections",
                "5",
                "--rate",
                rate,
                "--duration",
                "1500ms",
                "--warmup",
                "0s",
                "--quiet",
                "--hdr-log",
                log.to_str().unwrap(),
                "--json",
                report.to_str().unwrap(),
            ],
            LIMIT,
        );
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        unsent += json(&report)["rate"]["unsent"].as_u64().unwrap();
        logs.push(log);
    }
    let mut both: Histogram<u64> = Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
    let mut intervals = 0;
    for log in &logs {
        for h in untagged(log) {
            both.add(&h).unwrap();
            intervals += 1;
        }
    }
    assert!(intervals >= 4, "one interval per second per log");
    let merged = dir.join("merged.json");
    let svg = dir.join("merged.svg");
    let out = loadgen(
        &[
            "merge",
            logs[0].to_str().unwrap(),
            logs[1].to_str().unwrap(),
            "--json",
            merged.to_str().unwrap(),
            "--plot",
            svg.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let v = json(&merged);
    assert_eq!(v["messages"].as_u64().unwrap() + unsent, both.len());
    for (key, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
        let want = both.value_at_quantile(q) as f64 / 1000.0;
        assert_eq!(v["latency_us"][key].as_f64().unwrap(), want, "{key}: {v}");
    }
    assert_eq!(
        v["latency_us"]["max"].as_f64().unwrap(),
        both.max() as f64 / 1000.0
    );
    assert!(v["latency_uncorrected_us"].is_object());
    assert_eq!(v["connections"]["established"], 10);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
}

#[test]
fn merge_counts_only_messages_that_were_answered() {
    // One connection, one message in flight, a server that stalls 2 ms
    // every 7th read, asked for 20,000 msg/s: most messages fall due and
    // are never sent. Their waits go into the corrected histogram; merge
    // must not count them as answered messages.
    let server = TestServer::start(Behaviour::SlowEvery {
        every: 7,
        delay: Duration::from_millis(2),
    });
    let dir = temp_dir("merge-unsent");
    let addr = server.addr_arg();
    let log = dir.join("overloaded.hlog");
    let report = dir.join("overloaded.json");
    loadgen(
        &[
            "--addr",
            &addr,
            "--connections",
            "1",
            "--rate",
            "20000",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--quiet",
            "--hdr-log",
            log.to_str().unwrap(),
            "--json",
            report.to_str().unwrap(),
        ],
        LIMIT,
    );
    let run = json(&report);
    assert!(
        run["rate"]["unsent"].as_u64().unwrap() > 0,
        "the run must fall behind: {run}"
    );
    let merged = dir.join("merged.json");
    let out = loadgen(
        &[
            "merge",
            log.to_str().unwrap(),
            "--json",
            merged.to_str().unwrap(),
        ],
        LIMIT,
    );
    let v = json(&merged);
    assert_eq!(v["messages"], run["messages"], "{}\n{v}", out.stderr);
    assert_eq!(v["rate"]["sustained"], false, "{v}");
}
