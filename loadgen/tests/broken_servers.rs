//! loadgen against echo servers that are wrong on purpose: the fault is
//! reported by cause and the exit code is non-zero; slowness shows in the
//! tail.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{loadgen_json, Behaviour, TestServer};

const LIMIT: Duration = Duration::from_secs(30);

fn run(
    server: &TestServer,
    name: &str,
    connections: &str,
    extra: &[&str],
) -> (common::Outcome, serde_json::Value) {
    let addr = server.addr_arg();
    let mut args = vec![
        "--addr",
        &addr,
        "--connections",
        connections,
        "--threads",
        "1",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--drain-timeout",
        "500ms",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    loadgen_json(name, &args, LIMIT)
}

#[test]
fn dropped_byte_is_a_mismatch() {
    let server = TestServer::start(Behaviour::DropByteAt(1000));
    let (out, v) = run(&server, "drop", "4", &[]);
    assert_ne!(out.code, 0);
    assert_eq!(
        v["errors"]["mismatch"], 4,
        "every connection loses a byte: {v}"
    );
    assert!(out.stdout.contains("mismatch=4"), "{}", out.stdout);
    assert!(out.stdout.contains("FAILED"), "{}", out.stdout);
}

#[test]
fn early_close_is_reported() {
    let server = TestServer::start(Behaviour::CloseAfter(640));
    let (out, v) = run(&server, "close", "4", &[]);
    assert_ne!(out.code, 0);
    // Each connection ends early: as a clean close, or as a reset when the
    // next message was already on its way as the server closed.
    let ended = v["errors"]["closed"].as_u64().unwrap() + v["errors"]["reset"].as_u64().unwrap();
    assert_eq!(ended, 4, "{v}");
    assert_eq!(v["connections"]["open_at_end"], 0);
}

#[test]
fn hung_answers_are_unanswered() {
    // Every 50th read waits 3 s: longer than run plus drain timeout, on a
    // connection the server keeps open.
    let server = TestServer::start(Behaviour::SlowEvery {
        every: 50,
        delay: Duration::from_secs(3),
    });
    let (out, v) = run(&server, "hung", "4", &[]);
    assert_ne!(out.code, 0);
    assert_eq!(
        v["errors"]["unanswered"], 4,
        "one message per connection hangs: {v}"
    );
    assert_eq!(v["errors"]["lost"], 0, "{v}");
}

#[test]
fn unanswered_messages_fail_a_run_even_with_reconnect() {
    let server = TestServer::start(Behaviour::SlowEvery {
        every: 50,
        delay: Duration::from_secs(3),
    });
    let (out, v) = run(&server, "hung-reconnect", "4", &["--reconnect"]);
    assert_ne!(out.code, 0, "swallowed messages are not ridden out: {v}");
    assert_eq!(v["errors"]["unanswered"], 4, "{v}");
}

#[test]
fn slow_answers_show_in_the_tail() {
    // Every 20th read waits 100 ms: 5% of messages, so p99 >= 100 ms
    // while the median stays fast; no error, exit 0.
    let server = TestServer::start(Behaviour::SlowEvery {
        every: 20,
        delay: Duration::from_millis(100),
    });
    let (out, v) = run(&server, "slow", "4", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let p99 = v["latency_us"]["p99"].as_f64().unwrap();
    let p50 = v["latency_us"]["p50"].as_f64().unwrap();
    assert!(p99 >= 95_000.0, "p99 {p99} us: {v}");
    assert!(p50 < 50_000.0, "p50 {p50} us: {v}");
}

#[test]
fn open_loop_latency_includes_a_stall() {
    // 10 connections x 200 msg/s; after ~1000 reads (~0.5 s) the server
    // stalls 400 ms. Messages scheduled during the stall wait for it, so
    // the corrected tail shows ~400 ms; only one message per connection
    // sees it from its actual send, so the uncorrected p99 stays low.
    let server = TestServer::start(Behaviour::StallOnce {
        after: 1000,
        stall: Duration::from_millis(400),
    });
    let (out, v) = run(&server, "stall", "10", &["--rate", "2000"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let corrected = &v["latency_us"];
    let uncorrected = &v["latency_uncorrected_us"];
    assert!(corrected["p999"].as_f64().unwrap() >= 300_000.0, "{v}");
    assert!(corrected["p99"].as_f64().unwrap() >= 300_000.0, "{v}");
    assert!(uncorrected["p99"].as_f64().unwrap() < 100_000.0, "{v}");
    assert!(uncorrected["max"].as_f64().unwrap() >= 300_000.0, "{v}");
    assert_eq!(v["rate"]["asked"], 2000.0);
    assert!(out.stdout.contains("corrected") && out.stdout.contains("uncorrected"));
}

#[test]
fn unsustainable_rate_is_stated() {
    // Every read waits 10 ms: 4 connections manage < 400 msg/s.
    let server = TestServer::start(Behaviour::SlowEvery {
        every: 1,
        delay: Duration::from_millis(10),
    });
    let (out, v) = run(&server, "rate", "4", &["--rate", "2000"]);
    assert_eq!(v["rate"]["sustained"], false, "{v}");
    assert!(v["rate"]["achieved"].as_f64().unwrap() < 1000.0);
    assert!(out.stdout.contains("NOT sustained"), "{}", out.stdout);
}
