//! loadgen against the project's own server (esockets, in this process):
//! echo and line modes verify every byte, pipelining works, an idle run
//! holds its connections, `--messages` stops at exactly N.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::loadgen_json;
use esockets::protocols::{Echo, LineEcho};
use esockets::{Config, Server};

const LIMIT: Duration = Duration::from_secs(30);

fn config() -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
        pin_threads: false,
        ..Config::default()
    }
}

fn run(server: &Server, name: &str, extra: &[&str]) -> (common::Outcome, serde_json::Value) {
    let addr = server.local_addr().to_string();
    let mut args = vec!["--addr", &addr];
    if !extra.contains(&"--duration") {
        args.extend_from_slice(&["--duration", "1s"]);
    }
    args.extend_from_slice(&["--warmup", "200ms", "--threads", "2", "--quiet"]);
    args.extend_from_slice(extra);
    loadgen_json(name, &args, LIMIT)
}

fn assert_clean(out: &common::Outcome, v: &serde_json::Value, connections: u64) {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(v["connections"]["established"], connections);
    assert_eq!(v["errors"]["total"], 0, "{v}");
    assert!(
        out.stdout.contains("every echoed byte verified"),
        "{}",
        out.stdout
    );
}

#[test]
fn echo_mode_verifies_every_byte() {
    let server = Server::bind(config(), |_| Echo).unwrap();
    let (out, v) = run(&server, "echo", &["--connections", "50", "--size", "100"]);
    assert_clean(&out, &v, 50);
    let messages = v["messages"].as_u64().unwrap();
    assert!(messages > 100, "{v}");
    assert_eq!(v["bytes"].as_u64().unwrap(), messages * 100);
    assert!(v["latency_us"]["p50"].as_f64().unwrap() > 0.0);
    assert!(v["latency_uncorrected_us"].is_null(), "closed loop");
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn line_mode_and_pipeline_verify_every_byte() {
    let server = Server::bind(config(), |_| LineEcho::new(4096)).unwrap();
    let (out, v) = run(
        &server,
        "line",
        &[
            "--mode",
            "line",
            "--size",
            "300",
            "--pipeline",
            "8",
            "--connections",
            "20",
        ],
    );
    assert_clean(&out, &v, 20);
    assert!(v["messages"].as_u64().unwrap() > 100, "{v}");
    assert_eq!(v["pipeline"], 8);
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn idle_run_holds_its_connections() {
    let server = Server::bind(config(), |_| Echo).unwrap();
    let (out, v) = run(&server, "idle", &["--mode", "idle", "--connections", "300"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(v["connections"]["established"], 300);
    assert_eq!(v["connections"]["open_at_end"], 300);
    assert_eq!(v["errors"]["total"], 0);
    assert_eq!(v["messages"], 0);
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn messages_stops_after_exactly_n() {
    let server = Server::bind(config(), |_| Echo).unwrap();
    let (out, v) = run(
        &server,
        "messages",
        &[
            "--messages",
            "5000",
            "--connections",
            "10",
            "--pipeline",
            "4",
            "--duration",
            "20s",
        ],
    );
    assert_clean(&out, &v, 10);
    assert_eq!(v["messages"], 5000, "{v}");
    server.shutdown();
    server.join().unwrap();
}
