//! loadgen `--tls`: echo, WebSocket and pub/sub over TLS verify every
//! byte against esockets behind a rustls terminator made by the test;
//! handshakes are counted full or resumed as `--tls-resume` asks; a
//! certificate from the wrong CA fails clearly; `--tls-insecure` is
//! reported.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::tls::{certs, Certs, Terminator};
use common::{assert_valid_report, loadgen, loadgen_json, temp_dir};
use esockets::protocols::pubsub::PubSubWs;
use esockets::protocols::{Echo, PubSub, WsEcho};
use esockets::websocket::{WebSocket, WsConfig};
use esockets::{Config, Server};

const LIMIT: Duration = Duration::from_secs(60);

fn config() -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
        pin_threads: false,
        ..Config::default()
    }
}

fn setup(name: &str) -> Certs {
    certs(&temp_dir(&format!("{name}-certs")))
}

/// Runs loadgen over TLS (trusting `ca`) at `addr`, one second.
fn run(name: &str, addr: &str, ca: &str, extra: &[&str]) -> (common::Outcome, serde_json::Value) {
    let mut args = vec![
        "--addr",
        addr,
        "--tls",
        "--tls-ca",
        ca,
        "--warmup",
        "200ms",
        "--threads",
        "2",
        "--quiet",
    ];
    if !extra.contains(&"--duration") {
        args.extend(["--duration", "1s"]);
    }
    args.extend_from_slice(extra);
    let (out, v) = loadgen_json(name, &args, LIMIT);
    assert_valid_report(&v);
    (out, v)
}

fn assert_verified(out: &common::Outcome, v: &serde_json::Value, connections: u64) {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(v["connections"]["established"], connections, "{v}");
    assert_eq!(v["errors"]["total"], 0, "{v}");
    assert!(v["messages"].as_u64().unwrap() > 10, "{v}");
    let tls = &v["tls"];
    assert_eq!(tls["verified"], true, "{tls}");
    // Later connections may resume with the tickets of earlier ones.
    let (full, resumed) = (
        tls["handshakes_full"].as_u64().unwrap(),
        tls["handshakes_resumed"].as_u64().unwrap(),
    );
    assert_eq!(full + resumed, connections, "{tls}");
    assert!(full > 0, "{tls}");
    assert!(tls["handshake_us"]["p99"].as_f64().unwrap() > 0.0, "{tls}");
    assert!(
        out.stdout.contains("certificates verified"),
        "{}",
        out.stdout
    );
}

#[test]
fn echo_over_tls_verifies_every_byte() {
    let certs = setup("tls-echo");
    let server = Server::bind(config(), |_| Echo).unwrap();
    let tls = Terminator::start(&certs, server.local_addr());
    // By name: the certificate is for localhost.
    let addr = format!("localhost:{}", tls.addr.port());
    let (out, v) = run(
        "tls-echo",
        &addr,
        certs.ca.to_str().unwrap(),
        &["-c", "20", "--size", "100"],
    );
    assert_verified(&out, &v, 20);
    assert_eq!(
        v["bytes"].as_u64().unwrap(),
        v["messages"].as_u64().unwrap() * 100
    );
    assert!(
        out.stdout.contains("every echoed byte verified"),
        "{}",
        out.stdout
    );
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn websocket_over_tls_verifies_every_byte() {
    let certs = setup("tls-ws");
    let server = Server::bind(config(), |_| WebSocket::new(WsConfig::default(), WsEcho)).unwrap();
    let tls = Terminator::start(&certs, server.local_addr());
    let addr = tls.addr.to_string();
    let (out, v) = run(
        "tls-ws",
        &addr,
        certs.ca.to_str().unwrap(),
        &["--ws", "-c", "10", "--size", "64", "--tls-alpn", "http/1.1"],
    );
    assert_verified(&out, &v, 10);
    assert_eq!(v["shape"]["websocket"], "binary");
    assert_eq!(v["tls"]["alpn"][0], "http/1.1");
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn pubsub_over_tls_delivers_everything() {
    let certs = setup("tls-pubsub");
    for ws in [false, true] {
        let server = if ws {
            Server::bind(config(), |_| {
                WebSocket::new(WsConfig::default(), PubSubWs::new())
            })
            .unwrap()
        } else {
            Server::bind(config(), |_| PubSub::new(4096)).unwrap()
        };
        let tls = Terminator::start(&certs, server.local_addr());
        let addr = tls.addr.to_string();
        let mut extra = vec!["--mode", "pubsub", "--subscribers", "6", "--topics", "2"];
        extra.extend(["--publishers", "2", "--rate", "200"]);
        if ws {
            extra.push("--ws");
        }
        let (out, v) = run("tls-pubsub", &addr, certs.ca.to_str().unwrap(), &extra);
        assert_eq!(out.code, 0, "ws {ws}: {}\n{}", out.stdout, out.stderr);
        let p = &v["pubsub"];
        assert_eq!(p["lost"], 0, "{p}");
        assert_eq!(p["duplicated"], 0, "{p}");
        assert_eq!(p["delivered"], p["expected_deliveries"], "{p}");
        assert!(p["delivered"].as_u64().unwrap() > 0, "{p}");
        let t = &v["tls"];
        let done =
            t["handshakes_full"].as_u64().unwrap() + t["handshakes_resumed"].as_u64().unwrap();
        assert_eq!(done, 8, "{t}");
        server.shutdown();
        server.join().unwrap();
    }
}

#[test]
fn resumption_is_counted_on_and_off() {
    let certs = setup("tls-resume");
    let server = Server::bind(config(), |_| Echo).unwrap();
    let tls = Terminator::start(&certs, server.local_addr());
    let addr = tls.addr.to_string();
    let ca = certs.ca.to_str().unwrap();
    // Each connection lives 100-200 ms: the later ones reconnect with
    // the tickets of the earlier ones.
    let churn = ["-c", "5", "--lifetime", "100ms..200ms", "--duration", "2s"];
    for (resume, resumed) in [("on", true), ("off", false)] {
        let mut extra = churn.to_vec();
        extra.extend(["--tls-resume", resume]);
        let (out, v) = run("tls-resume", &addr, ca, &extra);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let t = &v["tls"];
        assert_eq!(t["resumption"], resumed, "{t}");
        let (full, again) = (
            t["handshakes_full"].as_u64().unwrap(),
            t["handshakes_resumed"].as_u64().unwrap(),
        );
        if resumed {
            // The first handshake has no ticket; later first connections
            // may already find one (the session cache is shared).
            assert!(full >= 1, "{t}");
            assert!(again > 0, "churned connections resume: {t}");
        } else {
            assert!(full >= 5, "every connection's first handshake: {t}");
            assert_eq!(again, 0, "{t}");
        }
    }
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn a_wrong_ca_fails_clearly_and_insecure_is_reported() {
    let certs = setup("tls-wrong-ca");
    let other = certs_elsewhere();
    let server = Server::bind(config(), |_| Echo).unwrap();
    let tls = Terminator::start(&certs, server.local_addr());
    let addr = tls.addr.to_string();
    let (out, v) = loadgen_json(
        "tls-wrong-ca",
        &[
            "--addr",
            &addr,
            "--tls",
            "--tls-ca",
            other.ca.to_str().unwrap(),
            "-c",
            "3",
            "--duration",
            "500ms",
            "--quiet",
        ],
        LIMIT,
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("TLS handshake failed")
            && out.stderr.contains("invalid peer certificate"),
        "{}",
        out.stderr
    );
    let failures = &v["tls"]["handshake_failures"];
    assert_eq!(
        failures
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        3,
        "{failures}"
    );
    assert_eq!(v["tls"]["handshakes_full"], 0);

    let (out, v) = loadgen_json(
        "tls-insecure",
        &[
            "--addr",
            &addr,
            "--tls",
            "--tls-insecure",
            "-c",
            "2",
            "--duration",
            "500ms",
            "--warmup",
            "0s",
            "--quiet",
        ],
        LIMIT,
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(v["tls"]["verified"], false);
    assert!(out.stdout.contains("NOT VERIFIED"), "{}", out.stdout);
    assert!(out.stderr.contains("NOT verified"), "{}", out.stderr);
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn tls_needs_a_ca_or_insecure_and_a_readable_ca() {
    let out = loadgen(&["--tls", "-c", "1"], LIMIT);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--tls-ca"), "{}", out.stderr);
    let out = loadgen(
        &["--tls", "--tls-ca", "/nonexistent/ca.pem", "-c", "1"],
        LIMIT,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("/nonexistent/ca.pem"), "{}", out.stderr);
}

/// Certificates of another CA.
fn certs_elsewhere() -> Certs {
    certs(&temp_dir("tls-other-ca"))
}
