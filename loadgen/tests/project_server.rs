//! loadgen against the project's own server (esockets, in this process):
//! echo and line modes verify every byte, pipelining works, an idle run
//! holds its connections, `--messages` stops at exactly N, `--reconnect`
//! brings every connection back across a graceful restart.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::loadgen_json;
use esockets::protocols::{Echo, LineEcho};
use esockets::{Config, Server, ShardStats};

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

/// The counters of all of `server`'s shards together.
fn totals(server: &Server) -> ShardStats {
    server
        .stats()
        .into_iter()
        .fold(ShardStats::default(), |a, b| a + b)
}

/// An echo server on `addr`, retrying for a bounded time (the stopped
/// one's port may still be held for a moment).
fn echo_on(addr: SocketAddr) -> Server {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let config = Config {
            bind: addr,
            ..config()
        };
        match Server::bind(config, |_| Echo) {
            Ok(server) => return server,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot bind {addr}: {e}");
                std::thread::yield_now();
            }
        }
    }
}

/// A graceful restart (the old server echoes what it read, sends FIN and
/// lingers; nothing listens for a while; a new server takes the port):
/// every connection comes back to the new server, and the per-second
/// `open` of the JSON shows the outage and ends where the summary does.
/// The FIN of a graceful close often comes with the last echo, in the
/// same read; loadgen used to take that short read for "drained", never
/// saw the FIN, and kept those connections as open for good.
#[test]
fn reconnect_brings_every_connection_back_after_a_graceful_restart() {
    const CONNECTIONS: u64 = 200;
    /// How long nothing listens: longer than a second, so that at least
    /// one per-second sample falls inside it.
    const OUTAGE: Duration = Duration::from_millis(1500);
    let first = Server::bind(config(), |_| Echo).unwrap();
    let addr = first.local_addr();
    let (tx, rx) = mpsc::channel();
    let arg = addr.to_string();
    let runner = std::thread::spawn(move || {
        let count = CONNECTIONS.to_string();
        let args = [
            "--addr",
            &arg,
            "--connections",
            &count,
            "--reconnect",
            "--duration",
            "5s",
            "--warmup",
            "0s",
            "--drain-timeout",
            "1s",
            "--threads",
            "2",
            "--quiet",
        ];
        let result = loadgen_json("graceful-restart", &args, LIMIT);
        let _ = tx.send(());
        result
    });
    // Restart once every connection is up and echoes flow.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = totals(&first);
        if t.accepted >= CONNECTIONS && t.bytes_out >= CONNECTIONS * 64 * 20 {
            break;
        }
        assert!(Instant::now() < deadline, "loadgen never got going: {t:?}");
        assert!(rx.try_recv().is_err(), "loadgen ended early");
        std::thread::sleep(Duration::from_millis(1)); // polling, not synchronisation
    }
    first.shutdown();
    first.join().unwrap();
    // The outage itself (what is simulated), not a wait for anything.
    std::thread::sleep(OUTAGE);
    let second = echo_on(addr);
    let (out, v) = runner.join().unwrap();
    let accepted = totals(&second).accepted;
    second.shutdown();
    second.join().unwrap();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        accepted, CONNECTIONS,
        "the new server accepted each connection once: {}",
        out.stdout
    );
    let connections = &v["connections"];
    assert_eq!(connections["open_at_end"], CONNECTIONS, "{connections}");
    let rc = &v["reconnect"];
    assert_eq!(rc["disconnects"], CONNECTIONS, "{rc}");
    assert_eq!(rc["reconnects"], CONNECTIONS, "{rc}");
    let open: Vec<u64> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["open"].as_u64().unwrap())
        .collect();
    assert!(
        open.iter().any(|&n| n < CONNECTIONS / 2),
        "the outage shows in the per-second open: {open:?}"
    );
    assert_eq!(
        open.last().copied(),
        connections["open_at_end"].as_u64(),
        "the last second's open is the summary's: {open:?}"
    );
}
