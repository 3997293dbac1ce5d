//! Smoke test of the WebSocket contender: `tokio-tungstenite-echo` on a
//! free loopback port, driven by `loadgen --ws` (in process) with binary
//! and text messages; every message must come back byte for byte.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;

/// Starts the contender with `extra` arguments; returns it and its address.
fn start(extra: &[&str]) -> (common::Server, String) {
    let (server, addr) = common::start(env!("CARGO_BIN_EXE_tokio-tungstenite-echo"), extra);
    (server, addr.to_string())
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
    let cli = loadgen::front::cli::Cli::try_parse_from(&args).expect("loadgen arguments");
    let cfg = loadgen::front::config::RunConfig::from_args(&cli.load).expect("loadgen config");
    let result = loadgen::engine::run::execute(&cfg, Arc::new(AtomicBool::new(false)), None)
        .expect("loadgen run");
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
