//! `--mode pubsub`: against a real redis-server, against esockets'
//! `pubsub` protocol (in this process, on several shards) and against two
//! esockets sharing topics through a Redis backplane, every delivery
//! arrives once and in order and the report adds up; against a fake
//! server that drops, duplicates or reorders one delivery, loadgen says so
//! and fails.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/fake_pubsub.rs"]
mod fake_pubsub;

use std::time::Duration;

use common::redis::Redis;
use common::{assert_valid_report, loadgen, loadgen_json};
use esockets::protocols::PubSub;
use esockets::{Config, Server, SlowSubscribers};
use fake_pubsub::{FakePubsub, Fault};

const LIMIT: Duration = Duration::from_secs(60);

fn pubsub(name: &str, addr: &str, extra: &[&str]) -> (common::Outcome, serde_json::Value) {
    let mut args = vec![
        "--mode",
        "pubsub",
        "--addr",
        addr,
        "--threads",
        "2",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let (out, v) = loadgen_json(name, &args, LIMIT);
    assert_valid_report(&v);
    (out, v)
}

/// Every expected delivery arrived once, in order, and the totals agree.
fn assert_all_delivered(out: &common::Outcome, v: &serde_json::Value) {
    let p = &v["pubsub"];
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p["lost"], 0, "{p}");
    assert_eq!(p["duplicated"], 0, "{p}");
    assert_eq!(p["out_of_order"], 0, "{p}");
    assert_eq!(p["server_errors"], 0, "{p}");
    assert_eq!(v["errors"]["total"], 0, "{v}");
    assert_eq!(p["delivered"], p["expected_deliveries"], "{p}");
    assert_eq!(p["subscriptions"], p["subscriptions_asked"], "{p}");
    assert_eq!(p["acknowledged"], p["published"], "{p}");
    assert!(p["deliveries_in_window"].as_u64().unwrap() > 0, "{p}");
    assert_eq!(v["messages"], p["deliveries_in_window"]);
    assert!(v["latency_us"]["p99"].as_f64().unwrap() > 0.0, "{v}");
    assert!(
        out.stdout.contains("every delivery verified"),
        "{}",
        out.stdout
    );
}

#[test]
fn redis_fan_out_delivers_everything_once_in_order() {
    let redis = Redis::start();
    let addr = redis.addr.to_string();
    let (out, v) = pubsub(
        "redis-closed",
        &addr,
        &[
            "--protocol",
            "redis",
            "--subscribers",
            "200",
            "--topics",
            "4",
            "--publishers",
            "4",
            "--pipeline",
            "4",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
        ],
    );
    assert_all_delivered(&out, &v);
    let p = &v["pubsub"];
    // 50 subscribers per topic: each publish is expected 50 times, and
    // Redis's own PUBLISH replies count the same receivers.
    let published = p["published"].as_u64().unwrap();
    assert_eq!(p["expected_deliveries"].as_u64().unwrap(), 50 * published);
    assert_eq!(p["redis_receivers"], p["expected_deliveries"], "{p}");
    assert_eq!(v["connections"]["established"], 204);
}

#[test]
fn redis_open_loop_with_overlapping_subscriptions() {
    let redis = Redis::start();
    let addr = redis.addr.to_string();
    let (out, v) = pubsub(
        "redis-open",
        &addr,
        &[
            "--protocol",
            "redis",
            "--subscribers",
            "30",
            "--topics",
            "5",
            "--topics-per-subscriber",
            "2",
            "--publishers",
            "3",
            "--rate",
            "500",
            "--duration",
            "1s",
            "--warmup",
            "0s",
        ],
    );
    assert_all_delivered(&out, &v);
    let p = &v["pubsub"];
    assert_eq!(p["subscriptions"], 60);
    assert_eq!(v["rate"]["asked"], 500.0);
    assert!(!v["latency_uncorrected_us"].is_null(), "open loop: {v}");
    // Each topic has 12 subscribers: 6 subscribers (s ≡ t) and 6 (s ≡ t-1).
    let published = p["published"].as_u64().unwrap();
    assert_eq!(p["expected_deliveries"].as_u64().unwrap(), 12 * published);
}

/// esockets serving the `pubsub` protocol on `shards` shards, as
/// `esockets --protocol pubsub` does.
fn esockets_pubsub(shards: usize, slow: SlowSubscribers) -> Server {
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        threads: shards,
        pin_threads: false,
        slow_subscribers: slow,
        ..Config::default()
    };
    Server::bind(config, |_| PubSub::new(4096)).unwrap()
}

#[test]
fn esockets_fan_out_across_shards_delivers_everything_once_in_order() {
    let server = esockets_pubsub(3, SlowSubscribers::Close);
    let addr = server.local_addr().to_string();
    let (out, v) = pubsub(
        "esockets-closed",
        &addr,
        &[
            "--subscribers",
            "200",
            "--topics",
            "4",
            "--publishers",
            "4",
            "--pipeline",
            "4",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
        ],
    );
    assert_all_delivered(&out, &v);
    let p = &v["pubsub"];
    let published = p["published"].as_u64().unwrap();
    assert_eq!(p["expected_deliveries"].as_u64().unwrap(), 50 * published);
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn esockets_fan_out_with_a_sample_verified_counts_everyone() {
    let server = esockets_pubsub(2, SlowSubscribers::Close);
    let addr = server.local_addr().to_string();
    let (out, v) = pubsub(
        "esockets-sampled",
        &addr,
        &[
            "--subscribers",
            "100",
            "--verify-every",
            "10",
            "--publishers",
            "2",
            "--pipeline",
            "4",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
        ],
    );
    let p = &v["pubsub"];
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        (p["lost"].as_u64(), p["duplicated"].as_u64()),
        (Some(0), Some(0)),
        "{p}"
    );
    assert_eq!(p["verified_subscribers"], 10, "{p}");
    let published = p["published"].as_u64().unwrap();
    assert!(published > 0, "{p}");
    assert_eq!(p["expected_deliveries"].as_u64().unwrap(), 100 * published);
    assert_eq!(p["delivered"], p["expected_deliveries"], "{p}");
    // Every delivery in the window is counted, timed or not.
    let in_window = p["deliveries_in_window"].as_u64().unwrap();
    assert_eq!(v["messages"].as_u64(), Some(in_window));
    assert!(
        in_window >= 100 * p["published_in_window"].as_u64().unwrap() / 2,
        "{p}"
    );
    assert!(
        out.stdout.contains("1 subscriber in 10 (10 of 100"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("every other one counted: none lost"),
        "{}",
        out.stdout
    );
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn esockets_open_loop_many_rooms() {
    let server = esockets_pubsub(2, SlowSubscribers::Drop);
    let addr = server.local_addr().to_string();
    let (out, v) = pubsub(
        "esockets-open",
        &addr,
        &[
            "--subscribers",
            "100",
            "--topics",
            "20",
            "--topics-per-subscriber",
            "2",
            "--publishers",
            "10",
            "--rate",
            "1000",
            "--size",
            "200",
            "--duration",
            "1s",
            "--warmup",
            "0s",
        ],
    );
    assert_all_delivered(&out, &v);
    assert_eq!(v["pubsub"]["missed_reported"], 0);
    // 20 topics, 10 publishers: publisher p cycles over topics p and p+10.
    let published = v["pubsub"]["published"].as_u64().unwrap();
    assert_eq!(
        v["pubsub"]["expected_deliveries"].as_u64().unwrap(),
        10 * published
    );
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn two_esockets_sharing_topics_through_a_redis_backplane() {
    let redis = Redis::start();
    let url = format!("redis://{}", redis.addr);
    let servers: Vec<Server> = (0..2)
        .map(|_| {
            let config = Config {
                bind: "127.0.0.1:0".parse().unwrap(),
                threads: 2,
                pin_threads: false,
                backplane: Some(url.clone()),
                ..Config::default()
            };
            Server::bind(config, |_| PubSub::new(4096)).unwrap()
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for server in &servers {
        while !server
            .handle()
            .backplane_stats()
            .is_some_and(|stats| stats.connected)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "backplane not connected"
            );
            // Polling a condition with a deadline: the backplane connects
            // in its own thread and says so only in its counters.
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // Connection g goes to server g mod 2: subscribers of every topic on
    // both, publisher 0 on the first and publisher 1 on the second.
    let addrs = format!("{},{}", servers[0].local_addr(), servers[1].local_addr());
    let (out, v) = pubsub(
        "backplane",
        &addrs,
        &[
            "--subscribers",
            "40",
            "--topics",
            "2",
            "--publishers",
            "2",
            "--rate",
            "200",
            "--duration",
            "1s",
            "--warmup",
            "0s",
        ],
    );
    assert_all_delivered(&out, &v);
    let published = v["pubsub"]["published"].as_u64().unwrap();
    assert_eq!(
        v["pubsub"]["expected_deliveries"].as_u64().unwrap(),
        20 * published
    );
    for t in v["targets"].as_array().unwrap() {
        assert!(t["messages"].as_u64().unwrap() > 0, "{t}");
    }
    for server in servers {
        server.shutdown();
        server.join().unwrap();
    }
}

#[test]
fn text_protocol_against_a_correct_server() {
    let server = FakePubsub::start(Fault::None);
    let (out, v) = pubsub(
        "fake-ok",
        &server.addr.to_string(),
        &["--subscribers", "6", "--topics", "2", "--publishers", "2"],
    );
    assert_all_delivered(&out, &v);
    assert!(v["pubsub"]["redis_receivers"].is_null());
}

/// Runs 2 subscribers of one topic and one publisher against a server
/// with `fault`.
fn faulty(name: &str, fault: Fault) -> (common::Outcome, serde_json::Value) {
    faulty_with(name, fault, &[])
}

/// [`faulty`] with more loadgen arguments.
fn faulty_with(name: &str, fault: Fault, extra: &[&str]) -> (common::Outcome, serde_json::Value) {
    let server = FakePubsub::start(fault);
    let mut args = vec![
        "--subscribers",
        "2",
        "--duration",
        "500ms",
        "--warmup",
        "0s",
        "--drain-timeout",
        "300ms",
    ];
    args.extend_from_slice(extra);
    let (out, v) = pubsub(name, &server.addr.to_string(), &args);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("FAILED"), "{}", out.stdout);
    (out, v)
}

#[test]
fn a_dropped_delivery_is_lost() {
    let (out, v) = faulty("drop", Fault::Drop(10));
    let p = &v["pubsub"];
    assert_eq!(p["lost"], 1, "{p}");
    assert_eq!(
        (p["duplicated"].as_u64(), p["out_of_order"].as_u64()),
        (Some(0), Some(0))
    );
    let expected = p["expected_deliveries"].as_u64().unwrap();
    assert_eq!(p["delivered"].as_u64().unwrap(), expected - 1);
    assert!(out.stdout.contains("lost 1"), "{}", out.stdout);
}

#[test]
fn a_dropped_delivery_is_lost_when_only_some_subscribers_are_verified() {
    // Subscriber 0 is verified, subscriber 1 only counted: whichever of
    // them the drop hits, the delivery is lost.
    let (out, v) = faulty_with("drop-sampled", Fault::Drop(10), &["--verify-every", "2"]);
    let p = &v["pubsub"];
    assert_eq!(p["lost"], 1, "{p}");
    assert_eq!(
        (
            p["verify_every"].as_u64(),
            p["verified_subscribers"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let expected = p["expected_deliveries"].as_u64().unwrap();
    assert_eq!(p["delivered"].as_u64().unwrap(), expected - 1);
    assert!(
        out.stdout.contains("1 subscriber in 2 (1 of 2"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_reported_drop_is_lost_and_reported() {
    let (_, v) = faulty("missed", Fault::DropReported(10));
    let p = &v["pubsub"];
    assert_eq!(
        (p["lost"].as_u64(), p["missed_reported"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(p["missed_notices"], 1);
    let problems = v["problems"].to_string();
    assert!(problems.contains("reported by the server"), "{problems}");
}

#[test]
fn a_duplicate_is_counted() {
    let (_, v) = faulty("dup", Fault::Duplicate(10));
    let p = &v["pubsub"];
    assert_eq!(
        (p["duplicated"].as_u64(), p["lost"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(p["delivered"], p["expected_deliveries"]);
}

#[test]
fn a_reordered_delivery_is_counted() {
    let (_, v) = faulty("reorder", Fault::Reorder(10));
    let p = &v["pubsub"];
    assert_eq!(
        (p["out_of_order"].as_u64(), p["lost"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(p["duplicated"], 0);
}

#[test]
fn pubsub_options_are_checked() {
    for (args, says) in [
        (vec!["--mode", "pubsub", "-c", "10"], "--connections"),
        (
            vec![
                "--mode",
                "pubsub",
                "--topics",
                "2",
                "--topics-per-subscriber",
                "3",
            ],
            "--topics-per-subscriber",
        ),
        (
            vec!["--mode", "pubsub", "--publishers", "0"],
            "--publishers",
        ),
        (vec!["--mode", "pubsub", "--reconnect"], "--reconnect"),
        (
            vec!["--mode", "pubsub", "--verify-every", "0"],
            "--verify-every must be at least 1",
        ),
        (
            vec![
                "--mode",
                "pubsub",
                "--verify-every",
                "5",
                "--recover",
                "plain",
            ],
            "--verify-every needs every subscriber checked with --recover",
        ),
        (vec!["--verify-every", "5"], "--verify-every"),
        (
            vec!["--subscribers", "5"],
            "--subscribers is for --mode pubsub",
        ),
    ] {
        let out = loadgen(&args, LIMIT);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}
