//! The `esockets` binary's operations flags: `--metrics` serves a scrape
//! that the real `promtool` accepts and says where at start-up;
//! `--log-format json` writes one JSON object per line with level and
//! message; `--stall-threshold` warns about long rounds, can be turned
//! off, and a bad value names the flag.
//!
//! Every child runs under a deadline and is killed if it overstays.

mod child;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use child::scrape::{promtool_check, request, scrape, value};
use child::server::{client, Server};
use child::DEADLINE;
use serde_json::Value;

/// The address in the "metrics at http://ADDR/metrics" start-up line.
fn metrics_addr(server: &mut Server) -> SocketAddr {
    let line = server.wait_for_line("metrics at http://");
    let start = line.find("http://").expect("a URL") + "http://".len();
    let rest = &line[start..];
    let end = rest.find("/metrics").expect("the path");
    rest[..end]
        .parse()
        .unwrap_or_else(|err| panic!("{err}: {line}"))
}

#[test]
fn metrics_are_served_where_the_start_up_line_says() {
    let mut server = Server::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "2",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let addr = server.listening_addr();
    let metrics = metrics_addr(&mut server);
    let mut stream = client(addr);
    stream.write_all(b"ping\n").expect("write");
    let mut back = [0u8; 5];
    stream.read_exact(&mut back).expect("echo");
    // The echo went to one of the two shards, which publishes its
    // counters at the end of the round.
    let sent = |text: &str| -> f64 {
        (0..2)
            .filter_map(|shard| {
                value(
                    text,
                    &format!("esockets_sent_bytes_total{{shard=\"{shard}\"}}"),
                )
            })
            .sum()
    };
    let end = Instant::now() + DEADLINE;
    let text = loop {
        let text = scrape(metrics);
        if sent(&text) == 5.0 {
            break text;
        }
        assert!(Instant::now() < end, "the echo never showed:\n{text}");
        // Polling, not synchronisation: the shard's publish is what we wait for.
        thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(value(&text, "esockets_shards"), Some(2.0));
    promtool_check(&text);
    assert_eq!(request(metrics, "GET", "/").status, 404);
    let (status, total) = server.stop();
    assert!(status.success(), "{status}");
    assert!(total.contains("bytes_out=5"), "{total}");
}

#[test]
fn json_logs_are_one_object_per_line_with_level_and_message() {
    let mut server = Server::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--log-format",
        "json",
    ]);
    let line = server.wait_for_line("esockets listening");
    let event: Value = serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line}"));
    let addr: SocketAddr = event["addr"]
        .as_str()
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no addr field: {line}"));
    let mut stream = client(addr);
    stream.write_all(b"x").expect("write");
    let mut back = [0u8; 1];
    stream.read_exact(&mut back).expect("echo");
    drop(stream);
    let (status, lines) = {
        server.signal(libc::SIGTERM);
        server.finish()
    };
    assert!(status.success(), "{status}");
    assert!(lines.len() > 3, "start-up and summary lines: {lines:#?}");
    for line in lines.iter().filter(|line| !line.trim().is_empty()) {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}"));
        for field in ["timestamp", "level", "message"] {
            assert!(event[field].is_string(), "no {field} in {line}");
        }
    }
    let total = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["message"] == "total")
        .unwrap_or_else(|| panic!("no summary: {lines:#?}"));
    assert_eq!(total["level"], "INFO");
    assert_eq!(total["bytes_out"], 1, "{total}");
}

#[test]
fn a_tiny_stall_threshold_warns_naming_the_shard() {
    // Every round that does I/O takes more than a microsecond: each is a
    // "stall", which shows the flag reaches the shards and the warning's
    // shape (rate-limited to one line a second per shard).
    let mut server = Server::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--log-format",
        "json",
        "--stall-threshold",
        "1us",
    ]);
    let line = server.wait_for_line("esockets listening");
    let event: Value = serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line}"));
    let addr: SocketAddr = event["addr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("addr");
    let mut stream = client(addr);
    stream.write_all(b"x").expect("write");
    let line = server.wait_for_line("stalled");
    let warning: Value = serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line}"));
    assert_eq!(warning["level"], "WARN", "{line}");
    assert_eq!(warning["shard"], 0, "{line}");
    assert!(warning["doing"].is_string(), "{line}");
    drop(stream);
    let (status, lines) = {
        server.signal(libc::SIGTERM);
        server.finish()
    };
    assert!(status.success(), "{status}");
    assert!(
        lines
            .iter()
            .any(|line| line.contains("event-loop rounds stalled")),
        "the summary mentions the stalls: {lines:#?}"
    );
}

#[test]
fn stall_detection_can_be_turned_off_and_a_zero_threshold_names_the_flag() {
    let mut server = Server::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--stall-threshold",
        "off",
    ]);
    server.listening_addr();
    let (status, total) = server.stop();
    assert!(status.success(), "{status}: {total}");
    let (status, lines) =
        Server::spawn(&["--bind", "127.0.0.1:0", "--stall-threshold", "0"]).finish();
    assert!(!status.success());
    let error = lines
        .iter()
        .find(|line| line.contains("error"))
        .expect("an error line");
    assert!(error.contains("--stall-threshold"), "{error}");
    let (status, lines) =
        Server::spawn(&["--bind", "127.0.0.1:0", "--stall-threshold", "soon"]).finish();
    assert!(!status.success());
    assert!(
        lines.iter().any(|line| line.contains("--stall-threshold")),
        "{lines:#?}"
    );
}

#[test]
fn a_metrics_address_in_use_names_the_flag() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = holder.local_addr().expect("address").to_string();
    let (status, lines) = Server::spawn(&["--bind", "127.0.0.1:0", "--metrics", &taken]).finish();
    assert!(!status.success());
    let error = lines
        .iter()
        .find(|line| line.contains("error"))
        .expect("an error line");
    assert!(
        error.contains("--metrics") && error.contains(&taken),
        "{error}"
    );
}
