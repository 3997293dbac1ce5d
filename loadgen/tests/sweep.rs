//! `loadgen sweep` starts a server per thread count, loads it, stops it,
//! and recommends a thread count; it never measures a server it did not
//! start, and shows the output of one that fails.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use common::{assert_valid_report, json, loadgen, temp_dir};

const LIMIT: Duration = Duration::from_secs(60);

/// The `echo_server` example, built by `cargo test` next to the binary.
fn echo_server() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_loadgen"));
    bin.parent().unwrap().join("examples").join("echo_server")
}

/// A port nothing listens on now: bound to learn it, then released.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn sweep(cmd: &str, addr: &str, extra: &[&str]) -> common::Outcome {
    let mut args = vec![
        "sweep",
        "--server-cmd",
        cmd,
        "--addr",
        addr,
        "--connections",
        "4",
        "--duration",
        "300ms",
        "--warmup",
        "0s",
        "--ready-timeout",
        "5s",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    loadgen(&args, LIMIT)
}

#[test]
fn sweep_runs_each_thread_count_and_recommends() {
    let server = echo_server();
    assert!(server.exists(), "{} not built", server.display());
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = temp_dir("sweep");
    let report = dir.join("sweep.json");
    let svg = dir.join("sweep.svg");
    let cmd = format!(
        "'{}' --threads {{threads}} --bind {{addr}}",
        server.display()
    );
    let out = sweep(
        &cmd,
        &addr,
        &[
            "--threads-list",
            "1,2",
            "--repeat",
            "2",
            "--json",
            report.to_str().unwrap(),
            "--plot",
            svg.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let v = json(&report);
    assert_eq!(v["repeat"], 2);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["threads"], 1);
    assert_eq!(runs[1]["threads"], 2);
    for run in runs {
        let reports = run["reports"].as_array().unwrap();
        assert_eq!(reports.len(), 2, "two repeats each");
        for r in reports {
            assert!(r["messages"].as_u64().unwrap() > 0);
            assert_valid_report(r);
        }
        let m = &run["messages_per_sec"];
        let (lo, mid, hi) = (
            m["min"].as_f64().unwrap(),
            m["median"].as_f64().unwrap(),
            m["max"].as_f64().unwrap(),
        );
        assert!(lo <= mid && mid <= hi && lo > 0.0, "{m}");
    }
    assert!(v["recommendation"]["threads"].is_u64(), "{v}");
    assert!(out.stdout.contains("recommendation:"), "{}", out.stdout);
    assert!(out.stdout.contains("medians of 2 runs"), "{}", out.stdout);
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.contains("server threads"));
    assert!(
        !chart.contains("1.5\n"),
        "whole thread counts on the x axis"
    );
    // The server was stopped: the port accepts no more.
    assert!(std::net::TcpStream::connect(&addr).is_err());
}

#[test]
fn sweep_recommends_a_balance_mode_with_its_measured_ratio() {
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = temp_dir("sweep-balance");
    let report = dir.join("sweep.json");
    let cmd = format!(
        "'{}' --threads {{threads}} --balance {{balance}} --bind {{addr}}",
        echo_server().display()
    );
    let out = sweep(
        &cmd,
        &addr,
        &[
            "--threads-list",
            "1",
            "--balance-list",
            "reuseport,cpu",
            "--json",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let v = json(&report);
    let modes: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["balance"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["reuseport", "cpu"], "each mode ran");
    let rec = &v["recommendation"];
    let pick = rec["balance"].as_str().unwrap();
    let other = if pick == "cpu" { "reuseport" } else { "cpu" };
    let ratios = rec["balance_ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 1, "{rec}");
    assert_eq!(ratios[0]["against"], other, "{rec}");
    let ratio = ratios[0]["ratio"].as_f64().unwrap();
    assert!(ratio >= 1.0, "the faster mode is picked: {rec}");
    let shown = format!("--balance {pick}: {ratio:.2}x {other}");
    assert!(out.stdout.contains(&shown), "{shown} in\n{}", out.stdout);
    assert!(out.stdout.contains("balance"), "a balance column");
    // A list without the placeholder is refused before anything starts.
    let plain = format!("'{}' --bind {{addr}}", echo_server().display());
    let out = sweep(
        &plain,
        &addr,
        &["--threads-list", "1", "--balance-list", "cpu"],
    );
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("{balance}"), "{}", out.stderr);
}

#[test]
fn sweep_refuses_a_port_another_process_holds() {
    // This test process holds the port; the sweep must not measure it.
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = squatter.local_addr().unwrap().to_string();
    let cmd = format!("'{}' --bind {{addr}}", echo_server().display());
    let out = sweep(&cmd, &addr, &["--threads-list", "1"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("already in use"), "{}", out.stderr);
    assert!(
        !out.stdout.contains("msg/s"),
        "nothing measured: {}",
        out.stdout
    );
}

#[test]
fn sweep_shows_the_output_of_a_server_that_fails() {
    let addr = format!("127.0.0.1:{}", free_port());
    let out = sweep(
        "sh -c 'echo cannot-start-for-a-reason >&2; exit 3'",
        &addr,
        &["--threads-list", "1"],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("exited early"), "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot-start-for-a-reason"),
        "{}",
        out.stderr
    );
}

#[test]
fn sweep_stops_when_another_process_answers() {
    // The server command starts the real listener detached (its parent
    // shell exits, so it is nobody's child here) and then only sleeps:
    // the port answers, but not from the process the sweep started.
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = temp_dir("sweep-foreign");
    let pid_file = dir.join("orphan.pid");
    let cmd = format!(
        "sh -c \"(setsid '{}' --bind {{addr}} & echo \\$! > '{}'); exec sleep 30\"",
        echo_server().display(),
        pid_file.display()
    );
    let out = sweep(&cmd, &addr, &["--threads-list", "1"]);
    if let Ok(pid) = std::fs::read_to_string(&pid_file) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("belongs to another process"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stdout.contains("msg/s"),
        "nothing measured: {}",
        out.stdout
    );
}
