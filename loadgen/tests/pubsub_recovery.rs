//! `--mode pubsub` with tokens and the reconnect-with-recovery shape,
//! against the project's `esockets` binary (a child process): tokens
//! minted from a secret file are accepted (and a wrong secret or a
//! permission the token lacks fails the run); subscribers that leave and
//! come back with `SUB t SINCE` get every message published while they
//! were away, once, in order, then live ones, over lines and WebSocket;
//! a history too short to recover from, and a server that drops or
//! repeats one replayed message, fail the run.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/esockets.rs"]
mod esockets;
#[path = "common/fake_pubsub.rs"]
mod fake_pubsub;

use std::path::PathBuf;
use std::time::Duration;

use common::{assert_valid_report, loadgen, loadgen_json, temp_dir};
use esockets::Esockets;
use fake_pubsub::{FakePubsub, Fault};

const LIMIT: Duration = Duration::from_secs(60);

/// The secret the server and loadgen share.
const SECRET: &str = "thirty-two bytes or more of secret";

/// A file holding `secret` (with the line end `echo` adds).
fn secret_file(name: &str, secret: &str) -> PathBuf {
    // Its own directory: each run's report directory is emptied first.
    let path = temp_dir(&format!("{name}-key")).join("secret");
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path
}

/// Runs loadgen's pub/sub mode against `addr` with `extra`.
fn run(name: &str, addr: &str, extra: &[&str]) -> (common::Outcome, serde_json::Value) {
    let mut args = vec![
        "--mode",
        "pubsub",
        "--addr",
        addr,
        "--threads",
        "2",
        "--quiet",
        "--warmup",
        "0s",
    ];
    args.extend_from_slice(extra);
    let (out, v) = loadgen_json(name, &args, LIMIT);
    assert_valid_report(&v);
    (out, v)
}

/// Every expected delivery arrived once, in order.
fn assert_clean(out: &common::Outcome, v: &serde_json::Value) {
    let p = &v["pubsub"];
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        (p["lost"].as_u64(), p["duplicated"].as_u64()),
        (Some(0), Some(0)),
        "{p}"
    );
    assert_eq!(p["out_of_order"], 0, "{p}");
    assert_eq!(p["server_errors"], 0, "{p}");
    assert_eq!(v["errors"]["total"], 0, "{v}");
}

/// Subscribers left and came back, and each got everything it missed.
fn assert_recovered(v: &serde_json::Value) -> u64 {
    let r = &v["pubsub"]["recovery"];
    let leaves = r["leaves"].as_u64().unwrap();
    assert!(leaves > 0, "{r}");
    assert_eq!(r["recoveries"], leaves, "every return caught up: {r}");
    assert_eq!(r["unrecovered"], 0, "{r}");
    assert_eq!(
        (r["offset_gaps"].as_u64(), r["offset_repeats"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert!(r["recovery_us"]["max"].as_f64().unwrap() > 0.0, "{r}");
    let recovered = r["recovered_messages"].as_u64().unwrap();
    assert!(recovered > 0, "messages were published while away: {r}");
    let p = &v["pubsub"];
    // Those published in the window and not replayed (a few arrive in
    // the drain, after it).
    assert!(
        p["deliveries_in_window"].as_u64().unwrap() + recovered <= p["delivered"].as_u64().unwrap(),
        "replays are not timed as deliveries: {p}"
    );
    recovered
}

#[test]
fn tokens_from_a_secret_file_are_accepted_and_a_wrong_one_fails_the_run() {
    let secret = secret_file("tokens", SECRET);
    let secret = secret.to_str().unwrap();
    let server = Esockets::start(&["--protocol", "pubsub", "--auth-jwt-secret-file", secret]);
    let addr = server.addr_arg();
    let shape = [
        "--subscribers",
        "20",
        "--topics",
        "2",
        "--publishers",
        "2",
        "--rate",
        "200",
        "--duration",
        "1s",
    ];
    let mut args = shape.to_vec();
    args.extend(["--auth-jwt-secret-file", secret]);
    let (out, v) = run("tokens-ok", &addr, &args);
    assert_clean(&out, &v);
    let p = &v["pubsub"];
    assert_eq!(p["auth"]["accepted"], 22, "{p}");
    assert_eq!(p["delivered"], p["expected_deliveries"], "{p}");
    assert!(p["delivered"].as_u64().unwrap() > 0, "{p}");
    assert!(
        out.stdout.contains("HS256 tokens: 22 accepted"),
        "{}",
        out.stdout
    );

    // Publishers whose tokens allow only other topics.
    args.extend(["--token-pubs", "room.*"]);
    let (out, v) = run("tokens-narrow", &addr, &args);
    assert_ne!(out.code, 0, "{}", out.stdout);
    let first = v["pubsub"]["first_server_error"].as_str().unwrap();
    assert_eq!(first, "-ERR not allowed", "{}", out.stdout);

    let wrong = secret_file("tokens-wrong", "another secret, also thirty-two bytes");
    let mut args = shape.to_vec();
    args.extend(["--auth-jwt-secret-file", wrong.to_str().unwrap()]);
    let (out, v) = run("tokens-wrong", &addr, &args);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert_eq!(v["pubsub"]["auth"]["refused"], 22, "{}", out.stdout);
    assert!(out.stdout.contains("tokens refused"), "{}", out.stdout);
    assert!(
        out.stdout.contains("-ERR invalid token: bad signature"),
        "{}",
        out.stdout
    );
}

#[test]
fn subscribers_that_leave_get_every_message_they_missed_once_in_order() {
    let secret = secret_file("recover", SECRET);
    let secret = secret.to_str().unwrap();
    let server = Esockets::start(&[
        "--protocol",
        "pubsub",
        "--history",
        "1000",
        "--auth-jwt-secret-file",
        secret,
    ]);
    let (out, v) = run(
        "recover",
        &server.addr_arg(),
        &[
            "--subscribers",
            "40",
            "--topics",
            "4",
            "--topics-per-subscriber",
            "2",
            "--publishers",
            "2",
            "--rate",
            "400",
            "--duration",
            "2s",
            "--recover",
            "since",
            "--recover-every",
            "700ms",
            "--recover-away",
            "200ms",
            "--auth-jwt-secret-file",
            secret,
        ],
    );
    assert_clean(&out, &v);
    assert_recovered(&v);
    let p = &v["pubsub"];
    assert_eq!(p["delivered"], p["expected_deliveries"], "{p}");
    let r = &p["recovery"];
    assert!(
        p["auth"]["accepted"].as_u64().unwrap() >= 42 + r["leaves"].as_u64().unwrap(),
        "a token for every connect, returns too: {p}"
    );
    assert!(
        out.stdout.contains("recovery      since:"),
        "{}",
        out.stdout
    );
}

#[test]
fn websocket_subscribers_recover_together() {
    let server = Esockets::start(&["--protocol", "pubsub", "--websocket", "--history", "500"]);
    let (out, v) = run(
        "recover-ws",
        &server.addr_arg(),
        &[
            "--ws",
            "--subscribers",
            "30",
            "--publishers",
            "1",
            "--rate",
            "300",
            "--duration",
            "1500ms",
            "--recover",
            "since",
            "--recover-together",
            "--recover-every",
            "600ms",
            "--recover-away",
            "200ms",
        ],
    );
    assert_clean(&out, &v);
    let recovered = assert_recovered(&v);
    let r = &v["pubsub"]["recovery"];
    assert_eq!(r["leaves"], 60, "all 30, twice: {r}");
    assert!(recovered >= 60 * 30, "about 60 missed each time: {r}");
}

#[test]
fn a_history_too_short_to_recover_from_fails_the_run() {
    let server = Esockets::start(&["--protocol", "pubsub", "--history", "5"]);
    let (out, v) = run(
        "recover-short",
        &server.addr_arg(),
        &[
            "--subscribers",
            "10",
            "--rate",
            "400",
            "--duration",
            "1s",
            "--recover",
            "since",
            "--recover-every",
            "600ms",
            "--recover-away",
            "200ms",
            "--drain-timeout",
            "300ms",
        ],
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    let p = &v["pubsub"];
    assert_eq!(p["first_server_error"], "-ERR cannot recover", "{p}");
    assert_eq!(p["recovery"]["unrecovered"], 10, "{p}");
    assert!(p["lost"].as_u64().unwrap() > 0, "{p}");
    assert!(out.stdout.contains("never caught up"), "{}", out.stdout);
}

#[test]
fn plain_resubscribing_skips_what_was_published_while_away() {
    let server = Esockets::start(&["--protocol", "pubsub"]);
    let (out, v) = run(
        "recover-plain",
        &server.addr_arg(),
        &[
            "--subscribers",
            "20",
            "--rate",
            "300",
            "--duration",
            "1s",
            "--recover",
            "plain",
            "--recover-every",
            "500ms",
            "--recover-away",
            "150ms",
            "--drain-timeout",
            "500ms",
        ],
    );
    assert_clean(&out, &v);
    let r = &v["pubsub"]["recovery"];
    assert!(r["leaves"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["recoveries"], r["leaves"], "{r}");
    assert!(r["skipped_while_away"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["recovered_messages"], 0, "{r}");
}

/// Two subscribers that leave and recover from a fake server with
/// `fault`: the run fails.
fn faulty(name: &str, fault: Fault) -> serde_json::Value {
    let server = FakePubsub::start(fault);
    let (out, v) = run(
        name,
        &server.addr.to_string(),
        &[
            "--subscribers",
            "2",
            "--rate",
            "200",
            "--duration",
            "800ms",
            "--recover",
            "since",
            "--recover-every",
            "400ms",
            "--recover-away",
            "100ms",
            "--drain-timeout",
            "300ms",
        ],
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("FAILED"), "{}", out.stdout);
    v
}

#[test]
fn a_replayed_message_dropped_or_repeated_fails_the_run() {
    let v = faulty("replay-drop", Fault::ReplayDrop);
    let p = &v["pubsub"];
    assert_eq!(p["recovery"]["offset_gaps"], 1, "{p}");
    assert_eq!(p["lost"], 1, "{p}");
    let v = faulty("replay-dup", Fault::ReplayDuplicate);
    let p = &v["pubsub"];
    assert_eq!(p["recovery"]["offset_repeats"], 1, "{p}");
    assert_eq!(
        (p["duplicated"].as_u64(), p["lost"].as_u64()),
        (Some(1), Some(0)),
        "{p}"
    );
}

#[test]
fn token_and_recovery_options_are_checked() {
    for (args, says) in [
        (
            vec![
                "--mode",
                "pubsub",
                "--protocol",
                "redis",
                "--recover",
                "since",
            ],
            "--recover needs --protocol pubsub",
        ),
        (
            vec![
                "--mode",
                "pubsub",
                "--recover",
                "since",
                "--recover-every",
                "1s",
                "--recover-away",
                "1s",
            ],
            "shorter than --recover-every",
        ),
        (
            vec!["--mode", "pubsub", "--token-ttl", "1m"],
            "needs a secret",
        ),
        (vec!["--recover", "plain"], "--recover is for --mode pubsub"),
        (
            vec![
                "--mode",
                "pubsub",
                "--auth-jwt-secret-file",
                "/nonexistent/secret",
            ],
            "cannot read /nonexistent/secret",
        ),
    ] {
        let out = loadgen(&args, LIMIT);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}
