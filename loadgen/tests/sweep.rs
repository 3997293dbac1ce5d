//! `loadgen sweep` starts a server per thread count, loads it, stops it,
//! and recommends a thread count.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{json, loadgen, temp_dir};

/// The `echo_server` example, built by `cargo test` next to the binary.
fn echo_server() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_loadgen"));
    bin.parent().unwrap().join("examples").join("echo_server")
}

#[test]
fn sweep_runs_each_thread_count_and_recommends() {
    let server = echo_server();
    assert!(server.exists(), "{} not built", server.display());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let dir = temp_dir("sweep");
    let report = dir.join("sweep.json");
    let svg = dir.join("sweep.svg");
    let cmd = format!(
        "'{}' --threads {{threads}} --bind {{addr}}",
        server.display()
    );
    let out = loadgen(
        &[
            "sweep",
            "--server-cmd",
            &cmd,
            "--threads-list",
            "1,2",
            "--addr",
            &addr,
            "--connections",
            "4",
            "--duration",
            "500ms",
            "--warmup",
            "0s",
            "--quiet",
            "--json",
            report.to_str().unwrap(),
            "--plot",
            svg.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let v = json(&report);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["threads"], 1);
    assert_eq!(runs[1]["threads"], 2);
    assert!(runs
        .iter()
        .all(|r| r["report"]["messages"].as_u64().unwrap() > 0));
    assert!(v["recommendation"]["threads"].is_u64(), "{v}");
    assert!(out.stdout.contains("recommendation:"), "{}", out.stdout);
    assert!(std::fs::read_to_string(&svg)
        .unwrap()
        .contains("server threads"));
    // The server was stopped: the port accepts no more.
    assert!(std::net::TcpStream::connect(&addr).is_err());
}
