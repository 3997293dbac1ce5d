//! Traffic shapes against real sockets: churn keeps the population at the
//! asked connect rate, reconnects ride out a server restart, slow readers
//! read at their rate, a mix reports each group, two targets share the
//! connections.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{assert_valid_report, loadgen_json, Behaviour, TestServer};

const LIMIT: Duration = Duration::from_secs(30);

fn base<'a>(addr: &'a str, connections: &'a str, duration: &'a str) -> Vec<&'a str> {
    vec![
        "--addr",
        addr,
        "--connections",
        connections,
        "--duration",
        duration,
        "--warmup",
        "0s",
        "--drain-timeout",
        "1s",
        "--quiet",
    ]
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn churn_keeps_the_population_at_the_asked_rate() {
    let server = TestServer::start(Behaviour::Echo);
    let addr = server.addr_arg();
    let mut args = base(&addr, "50", "2s");
    args.extend(["--churn", "100"]);
    let (out, v) = loadgen_json("churn", &args, LIMIT);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_valid_report(&v);
    let churn = &v["churn"];
    let rate = f(&churn["connects_per_sec"]);
    assert!(
        (90.0..=110.0).contains(&rate),
        "asked 100/s, got {rate}: {churn}"
    );
    assert!(churn["connect_us"]["p99"].is_number(), "{churn}");
    assert_eq!(churn["failed"]["total"], 0);
    // The population stays: at the end of each second all are open but
    // those between a close and their replacement (a few at 100/s).
    let open: Vec<u64> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["open"].as_u64().unwrap())
        .collect();
    assert!(!open.is_empty());
    assert!(open.iter().all(|&n| (35..=50).contains(&n)), "{open:?}");
    let mean = open.iter().sum::<u64>() as f64 / open.len() as f64;
    assert!(mean >= 42.0, "{open:?}");
    assert!(v["messages"].as_u64().unwrap() > 0);
    assert!(out.stdout.contains("churn"), "{}", out.stdout);
    // The server saw the original 50 connections plus the replacements.
    let accepted = server.peers.lock().unwrap().len();
    assert!(accepted >= 50 + 180, "accepted {accepted}");
}

#[test]
fn reconnect_rides_out_a_server_restart() {
    let first = TestServer::start(Behaviour::Echo);
    let addr = first.addr_arg();
    let (tx, rx) = mpsc::channel();
    let run_addr = addr.clone();
    let runner = std::thread::spawn(move || {
        let mut args = base(&run_addr, "10", "4s");
        args.push("--reconnect");
        let result = loadgen_json("reconnect", &args, LIMIT);
        let _ = tx.send(());
        result
    });
    // Stop the server once all ten are connected and traffic flows (the
    // load phase has begun), then start another on the same port.
    let deadline = Instant::now() + Duration::from_secs(10);
    while first.peers.lock().unwrap().len() < 10
        || first.reads.load(std::sync::atomic::Ordering::Relaxed) < 1000
    {
        assert!(Instant::now() < deadline, "loadgen never got going");
        assert!(rx.try_recv().is_err(), "loadgen ended early");
        // Polling, not synchronisation; a millisecond leaves the two cores
        // to loadgen and the server.
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(first);
    let second = TestServer::start_on(&addr, Behaviour::Echo);
    let (out, v) = runner.join().unwrap();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_valid_report(&v);
    let rc = &v["reconnect"];
    assert_eq!(rc["disconnects"], 10, "{rc}");
    assert_eq!(rc["reconnects"], 10, "{rc}");
    assert!(f(&rc["longest_outage_s"]) > 0.0, "{rc}");
    assert!(f(&rc["downtime_s"]) >= f(&rc["longest_outage_s"]), "{rc}");
    assert_eq!(v["connections"]["open_at_end"], 10);
    assert!(second.peers.lock().unwrap().len() >= 10);
    let errors: u64 = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["errors"].as_u64().unwrap())
        .sum();
    assert!(errors > 0, "the gap shows in the timeline");
    assert!(out.stdout.contains("reconnect"), "{}", out.stdout);
}

#[test]
fn slow_readers_read_at_the_asked_rate() {
    let server = TestServer::start(Behaviour::Echo);
    let addr = server.addr_arg();
    let mut args = base(&addr, "4", "2s");
    args.extend(["--read-rate", "6400", "--pipeline", "4"]);
    let (out, v) = loadgen_json("slow", &args, LIMIT);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let got = f(&v["groups"][0]["bytes_per_sec_per_connection"]);
    assert!(
        (5760.0..=7040.0).contains(&got),
        "asked 6400 B/s, got {got}"
    );
}

#[test]
fn a_mix_reports_each_group() {
    let server = TestServer::start(Behaviour::Echo);
    let addr = server.addr_arg();
    let mut args = base(&addr, "8", "1s");
    args.extend(["--mix", "idle:50,slow:25,heavy:25", "--read-rate", "3200"]);
    let (out, v) = loadgen_json("mix", &args, LIMIT);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_valid_report(&v);
    let groups = v["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["idle", "slow", "heavy"]);
    let counts: Vec<u64> = groups
        .iter()
        .map(|g| g["connections"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [4, 2, 2]);
    assert_eq!(groups[0]["messages"], 0, "idle sends nothing");
    assert_eq!(groups[0]["open_at_end"], 4, "idle stays open");
    assert!(groups[0]["latency_us"].is_null());
    let slow = f(&groups[1]["messages_per_sec"]);
    let heavy = f(&groups[2]["messages_per_sec"]);
    assert!(
        slow > 0.0 && heavy > 10.0 * slow,
        "slow {slow} heavy {heavy}"
    );
    assert!(out.stdout.contains("group slow"), "{}", out.stdout);
}

#[test]
fn two_targets_each_get_their_share() {
    let a = TestServer::start(Behaviour::Echo);
    let b = TestServer::start(Behaviour::Echo);
    let (aa, ba) = (a.addr_arg(), b.addr_arg());
    let args = [
        "--addr",
        &aa,
        "--addr",
        &ba,
        "--connections",
        "10",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--quiet",
    ];
    let (out, v) = loadgen_json("targets", &args, LIMIT);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    for (t, server) in targets.iter().zip([&a, &b]) {
        assert_eq!(t["established"], 5, "{t}");
        assert!(t["messages"].as_u64().unwrap() > 0, "{t}");
        assert_eq!(server.peers.lock().unwrap().len(), 5);
    }
    let sum: u64 = targets
        .iter()
        .map(|t| t["messages"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, v["messages"].as_u64().unwrap());
}

#[test]
fn stream_mode_verifies_a_continuous_echo() {
    let server = TestServer::start(Behaviour::Echo);
    let addr = server.addr_arg();
    let mut args = base(&addr, "2", "1s");
    args.extend(["--mode", "stream", "--size", "4096"]);
    let (out, v) = loadgen_json("stream", &args, LIMIT);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(v["pipeline"].as_u64().unwrap() >= 64, "{v}");
    assert!(f(&v["mb_per_sec"]) > 1.0, "{v}");
    assert_eq!(v["errors"]["total"], 0);
}
