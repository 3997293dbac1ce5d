//! Smoke test of the WebSocket contender: `tokio-tungstenite-echo` on a
//! free loopback port, driven by `loadgen --ws` (in process) with binary
//! and text messages; every message must come back byte for byte.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;

/// Kills the server when the test ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the contender on an ephemeral port with `extra` arguments;
/// returns it and its address.
fn start(extra: &[&str]) -> (Server, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_tokio-tungstenite-echo"))
        .args(["--threads", "2", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read banner");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("banner")
        .to_owned();
    (server, addr)
}

/// Runs loadgen against `addr` for 1 s with `extra` arguments; returns
/// (errors, messages verified, connections established).
fn load(addr: &str, extra: &[&str]) -> (u64, u64, u64) {
    let mut args = vec![
        "loadgen",
        "--ws",
        "--addr",
        addr,
        "--connections",
        "20",
        "--threads",
        "1",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let cli = loadgen::cli::Cli::try_parse_from(&args).expect("loadgen arguments");
    let cfg = loadgen::config::RunConfig::from_args(&cli.load).expect("loadgen config");
    let result =
        loadgen::run::execute(&cfg, Arc::new(AtomicBool::new(false)), None).expect("loadgen run");
    (result.errors.total, result.messages, result.established)
}

fn check(addr: &str, runs: &[&[&str]]) {
    for extra in runs {
        let (errors, messages, established) = load(addr, extra);
        assert_eq!(errors, 0, "{extra:?}");
        assert_eq!(established, 20, "{extra:?}");
        assert!(messages > 0, "{extra:?}");
    }
}

#[test]
fn tokio_tungstenite_echoes_binary_and_text_messages() {
    let (_server, addr) = start(&[]);
    check(&addr, &[&[], &["--ws-text"], &["--size", "70000"]]);
}

#[test]
fn tokio_tungstenite_with_a_small_read_buffer_echoes_large_messages() {
    let (_server, addr) = start(&["--read-buffer-size", "4096"]);
    check(&addr, &[&[], &["--size", "70000"]]);
}
