//! `loadgen --ws` against independent WebSocket servers built on Python's
//! `websockets` package (installed by scripts/components.sh), started by
//! each test on its own ephemeral port and killed by its PID when the
//! test ends: an echo server that pings, corrupts or closes on request,
//! and a server of the pubsub protocol over WebSocket.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{assert_valid_report, loadgen_json, temp_dir, Behaviour, TestServer};

const LIMIT: Duration = Duration::from_secs(60);
/// How long the Python server may take to start.
const START: Duration = Duration::from_secs(20);

/// A running `websocket/echo_server.py`, killed on drop.
struct PythonServer {
    child: Child,
    port: u16,
}

impl PythonServer {
    /// Starts the echo server with `args` (see the script's docstring).
    fn start(name: &str, args: &[&str]) -> Self {
        Self::start_script(name, "echo_server.py", include_str!("echo_server.py"), args)
    }

    /// Starts the pubsub server with `args` (see the script's docstring).
    fn start_pubsub(name: &str, args: &[&str]) -> Self {
        let script = include_str!("pubsub_server.py");
        Self::start_script(name, "pubsub_server.py", script, args)
    }

    fn start_script(name: &str, file: &str, text: &str, args: &[&str]) -> Self {
        let check = Command::new("python3")
            .args(["-c", "import websockets"])
            .stderr(Stdio::null())
            .status();
        assert!(
            check.is_ok_and(|s| s.success()),
            "python3 with the websockets package is not installed: run \
             scripts/components.sh (as root), or the README's test command"
        );
        let script = temp_dir(name).join(file);
        std::fs::write(&script, text).unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Self { child, port: 0 };
        let line = rx.recv_timeout(START).unwrap_or_default();
        server.port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the Python server printed {line:?}, not its port"));
        server
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        // By its own PID, never by name.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `loadgen --ws` against `addr` for 1 s with `extra` arguments.
fn run(
    addr: &str,
    name: &str,
    connections: &str,
    extra: &[&str],
) -> (common::Outcome, serde_json::Value) {
    let mut args = vec![
        "--ws",
        "--addr",
        addr,
        "--connections",
        connections,
        "--threads",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    loadgen_json(name, &args, LIMIT)
}

fn assert_clean(out: &common::Outcome, v: &serde_json::Value, connections: u64) {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(v["errors"]["total"], 0, "{v}");
    assert!(v["messages"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["connections"]["established"], connections, "{v}");
    assert_valid_report(v);
}

#[test]
fn echo_of_50_connections_verifies_every_message_and_answers_pings() {
    // The server pings every 50 ms and closes a client that does not
    // answer within 250 ms: a run without errors means loadgen ponged.
    let server = PythonServer::start("ws-echo", &["--ping", "0.05"]);
    let (out, v) = run(&server.addr(), "ws-echo", "50", &[]);
    assert_clean(&out, &v, 50);
    assert_eq!(v["connections"]["open_at_end"], 50, "{v}");
    assert_eq!(v["shape"]["websocket"], "binary");
    assert!(
        out.stdout.contains("echo mode over WebSocket (binary)"),
        "{}",
        out.stdout
    );
}

#[test]
fn ws_deflate_compresses_and_verifies_every_message_inflated() {
    // The server closes (1008) a client that did not negotiate
    // compression: a clean run means every message went compressed both
    // ways and was inflated before it was checked.
    let server = PythonServer::start("ws-deflate", &["--deflate"]);
    for (name, extra) in [
        ("ws-deflate", &["--ws-deflate", "--size", "1024"][..]),
        (
            "ws-deflate-text",
            &["--ws-deflate", "--ws-text", "--size", "70000"],
        ),
        (
            "ws-deflate-json",
            &[
                "--ws-deflate",
                "--ws-text",
                "--size",
                "1024",
                "--payload",
                "json",
            ],
        ),
    ] {
        let (out, v) = run(&server.addr(), name, "10", extra);
        assert_clean(&out, &v, 10);
    }
    // A corrupted byte inside a compressed message is still found.
    let corrupt = PythonServer::start("ws-deflate-corrupt", &["--deflate", "--corrupt-every", "5"]);
    let (out, v) = run(
        &corrupt.addr(),
        "ws-deflate-corrupt",
        "2",
        &["--ws-deflate"],
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(v["errors"]["total"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn text_messages_pipelined_and_line_mode() {
    let server = PythonServer::start("ws-text", &[]);
    let (out, v) = run(
        &server.addr(),
        "ws-text",
        "10",
        &["--ws-text", "--pipeline", "4"],
    );
    assert_clean(&out, &v, 10);
    assert_eq!(v["shape"]["websocket"], "text");
    // The interval log says so too, and a merge of it reports it.
    let dir = temp_dir("ws-text-merge");
    let log = dir.join("run.hlog");
    let merged = dir.join("merged.json");
    let (out, _) = run(
        &server.addr(),
        "ws-text-log",
        "2",
        &["--ws-text", "--hdr-log", log.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = common::loadgen(
        &[
            "merge",
            log.to_str().unwrap(),
            "--json",
            merged.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(common::json(&merged)["shape"]["websocket"], "text");
    let (out, v) = run(
        &server.addr(),
        "ws-line",
        "10",
        &["--ws-text", "--mode", "line"],
    );
    assert_clean(&out, &v, 10);
}

#[test]
fn large_messages_and_the_stream_mode() {
    // 100 kB messages take the 64-bit length form; the stream mode keeps
    // 256 KiB of 16 KiB messages in flight per connection.
    let server = PythonServer::start("ws-large", &[]);
    let (out, v) = run(&server.addr(), "ws-large", "4", &["--size", "100000"]);
    assert_clean(&out, &v, 4);
    let (out, v) = run(
        &server.addr(),
        "ws-stream",
        "4",
        &["--mode", "stream", "--size", "16384"],
    );
    assert_clean(&out, &v, 4);
}

#[test]
fn churn_upgrades_every_new_connection() {
    let server = PythonServer::start("ws-churn", &[]);
    let (out, v) = run(&server.addr(), "ws-churn", "20", &["--churn", "100"]);
    assert_clean(&out, &v, 20);
    assert!(v["churn"]["connects"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn a_corrupted_byte_is_a_verification_error() {
    let server = PythonServer::start("ws-corrupt", &["--corrupt-every", "20"]);
    let (out, v) = run(
        &server.addr(),
        "ws-corrupt",
        "4",
        &["--drain-timeout", "500ms"],
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert_eq!(v["errors"]["mismatch"], 4, "one per connection: {v}");
    assert!(out.stdout.contains("FAILED"), "{}", out.stdout);
}

#[test]
fn a_close_from_the_server_is_reported() {
    let server = PythonServer::start("ws-close", &["--close-after", "5"]);
    let (out, v) = run(
        &server.addr(),
        "ws-close",
        "4",
        &["--drain-timeout", "500ms"],
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert_eq!(v["errors"]["closed"], 4, "{v}");
    assert_eq!(v["messages"], 20, "5 echoed on each: {v}");
}

#[test]
fn a_server_that_does_not_upgrade_is_a_handshake_error() {
    // A plain TCP echo server sends the upgrade request back: not HTTP.
    let server = TestServer::start(Behaviour::Echo);
    let (out, v) = run(&server.addr_arg(), "ws-no-upgrade", "3", &[]);
    assert_ne!(out.code, 0);
    assert_eq!(v["errors"]["handshake"], 3, "{v}");
    assert_eq!(v["connections"]["established"], 0, "{v}");
    assert!(
        out.stderr
            .contains("WebSocket: handshake response is not HTTP"),
        "{}",
        out.stderr
    );
}

#[test]
fn ws_options_are_checked() {
    let out = common::loadgen(&["--ws-text"], LIMIT);
    assert_eq!(out.code, 2, "--ws-text needs --ws: {}", out.stderr);
    let out = common::loadgen(&["--ws", "--ws-path", "no-slash"], LIMIT);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--ws-path"), "{}", out.stderr);
}

/// Runs `loadgen --ws --mode pubsub` against `addr` for 1 s.
fn pubsub(addr: &str, name: &str, extra: &[&str]) -> (common::Outcome, serde_json::Value) {
    let mut args = vec![
        "--ws",
        "--mode",
        "pubsub",
        "--addr",
        addr,
        "--subscribers",
        "20",
        "--publishers",
        "2",
        "--topics",
        "4",
        "--threads",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    loadgen_json(name, &args, LIMIT)
}

#[test]
fn pubsub_over_websocket_verifies_every_delivery() {
    let server = PythonServer::start_pubsub("ws-pubsub", &[]);
    for (name, extra) in [
        ("ws-pubsub", &[][..]),
        ("ws-pubsub-open", &["--rate", "500"]),
    ] {
        let (out, v) = pubsub(&server.addr(), name, extra);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let p = &v["pubsub"];
        assert_eq!(v["errors"]["total"], 0, "{v}");
        assert_eq!(p["lost"], 0, "{p}");
        assert_eq!(p["delivered"], p["expected_deliveries"], "{p}");
        assert_eq!(p["subscriptions"], 20, "{p}");
        assert!(p["deliveries_in_window"].as_u64().unwrap() > 0, "{p}");
        assert_eq!(v["shape"]["websocket"], "text", "commands are text");
        assert_valid_report(&v);
    }
}

#[test]
fn pubsub_over_websocket_with_deflate_verifies_every_delivery() {
    let server = PythonServer::start_pubsub("ws-pubsub-deflate", &["--deflate"]);
    for (name, payload) in [
        ("ws-pubsub-deflate", "letters"),
        ("ws-pubsub-deflate-json", "json"),
    ] {
        let (out, v) = pubsub(
            &server.addr(),
            name,
            &["--ws-deflate", "--size", "1024", "--payload", payload],
        );
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let p = &v["pubsub"];
        assert_eq!(v["errors"]["total"], 0, "{v}");
        assert_eq!(p["delivered"], p["expected_deliveries"], "{p}");
        assert!(p["deliveries_in_window"].as_u64().unwrap() > 0, "{p}");
    }
}

#[test]
fn pubsub_over_websocket_finds_a_lost_delivery() {
    let server = PythonServer::start_pubsub("ws-pubsub-lossy", &["--drop-every", "50"]);
    let (out, v) = pubsub(&server.addr(), "ws-pubsub-lossy", &[]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(v["pubsub"]["lost"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn pubsub_over_websocket_is_not_for_redis() {
    let out = common::loadgen(&["--ws", "--mode", "pubsub", "--protocol", "redis"], LIMIT);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("Redis has no WebSocket"),
        "{}",
        out.stderr
    );
}
