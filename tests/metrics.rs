//! The library's metrics endpoint (`Config::metrics`): every scrape passes
//! the real `promtool check metrics`, every metric moves when it should,
//! anything but `GET /metrics` is a 404, and the endpoint stops with the
//! server.
//!
//! Every client socket has timeouts and every wait a deadline.

mod child;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use child::scrape::{promtool_check, request, scrape, value, wait_for};
use child::DEADLINE;
use esockets::{Admission, Config, Conn, ConnId, Handler, Server, ShardContext, Verdict};

/// What a client gets after `flood`: far more than the kernel's buffers
/// take, so most of it waits in the shard's queue, past the high-water mark.
const FLOOD: usize = 8 << 20;

/// A line protocol for driving every counter: `quit` closes (the handler's
/// close), `flood` sends [`FLOOD`] bytes, anything else is echoed.
struct Scripted {
    /// Refuse the next client in `on_connect`, once.
    refuse_next: Arc<AtomicBool>,
    /// Ids of the clients accepted, in order.
    ids: Arc<Mutex<Vec<ConnId>>>,
}

impl Handler for Scripted {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        if self.refuse_next.swap(false, Ordering::Relaxed) {
            return Admission::Refuse;
        }
        self.ids.lock().expect("ids").push(conn.id());
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        let Some(end) = data.iter().position(|&b| b == b'\n') else {
            return Verdict::Consumed(0);
        };
        match &data[..end] {
            b"quit" => return Verdict::Close,
            b"flood" => conn.send(&vec![b'x'; FLOOD]),
            line => {
                conn.send(line);
                conn.send(b"\n");
            }
        }
        Verdict::Consumed(end + 1)
    }
}

/// A client with timeouts.
fn client(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    stream.set_write_timeout(Some(DEADLINE)).expect("timeout");
    stream
}

/// Writes `line` and reads back its echo.
fn echo(stream: &mut TcpStream, line: &str) {
    stream.write_all(line.as_bytes()).expect("write");
    let mut back = vec![0; line.len()];
    stream.read_exact(&mut back).expect("echo");
    assert_eq!(back, line.as_bytes());
}

/// Reads until the server closes the connection (a reset counts).
fn wait_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return
            }
            Err(err) => panic!("waiting for the close: {err}"),
        }
    }
}

/// A one-shard server with metrics on an ephemeral port, at most three
/// clients, and small water marks.
fn start() -> (Server, SocketAddr, Arc<AtomicBool>, Arc<Mutex<Vec<ConnId>>>) {
    let refuse_next = Arc::new(AtomicBool::new(false));
    let ids = Arc::new(Mutex::new(Vec::new()));
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("address"),
        threads: 1,
        max_connections: Some(3),
        output_high_water: 64 << 10,
        output_low_water: 16 << 10,
        output_limit: 64 << 20,
        metrics: Some("127.0.0.1:0".parse().expect("address")),
        ..Config::default()
    };
    let (refuse, seen) = (Arc::clone(&refuse_next), Arc::clone(&ids));
    let server = Server::bind(config, move |_| Scripted {
        refuse_next: Arc::clone(&refuse),
        ids: Arc::clone(&seen),
    })
    .expect("server binds");
    let metrics = server.metrics_addr().expect("metrics on");
    assert_ne!(metrics.port(), 0, "the real port is reported");
    (server, metrics, refuse_next, ids)
}

/// `esockets_NAME{shard="0"}`.
fn shard0(name: &str) -> String {
    format!("{name}{{shard=\"0\"}}")
}

/// `esockets_NAME{shard="0",reason="REASON"}`.
fn by_reason(name: &str, reason: &str) -> String {
    format!("{name}{{shard=\"0\",reason=\"{reason}\"}}")
}

#[test]
fn every_metric_moves_and_every_scrape_passes_promtool() {
    let (server, metrics, refuse_next, ids) = start();
    let addr = server.local_addr();
    let first = scrape(metrics);
    promtool_check(&first);
    assert_eq!(
        value(&first, &shard0("esockets_connections_open")),
        Some(0.0)
    );
    assert_eq!(value(&first, "esockets_max_connections"), Some(3.0));
    assert_eq!(value(&first, "esockets_shards"), Some(1.0));
    assert!(value(&first, "esockets_open_files_limit").is_some_and(|n| n > 0.0));
    let build = format!(
        "esockets_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&first, &build), Some(1.0));

    // Traffic: open, accepted, bytes, rounds and their durations.
    let mut talker = client(addr);
    echo(&mut talker, "hello\n");
    let text = wait_for(metrics, &shard0("esockets_sent_bytes_total"), |n| n == 6.0);
    assert_eq!(
        value(&text, &shard0("esockets_connections_open")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &shard0("esockets_connections_accepted_total")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &shard0("esockets_received_bytes_total")),
        Some(6.0)
    );
    let rounds = value(&text, &shard0("esockets_loop_rounds_total")).expect("rounds");
    assert!(rounds >= 2.0, "accept and read took rounds: {rounds}");
    let timed = value(&text, &shard0("esockets_loop_round_duration_seconds_count")).expect("count");
    assert!(
        timed >= rounds,
        "every counted round was timed: {timed} < {rounds}"
    );
    assert!(
        value(&text, &shard0("esockets_loop_round_duration_seconds_sum")).is_some_and(|s| s > 0.0)
    );
    assert_eq!(value(&text, &shard0("esockets_stalls_total")), Some(0.0));
    assert_eq!(value(&text, &shard0("esockets_inbox_depth")), Some(0.0));
    promtool_check(&text);

    // Refused by the handler.
    refuse_next.store(true, Ordering::Relaxed);
    let mut refused = client(addr);
    wait_closed(&mut refused);
    let text = wait_for(
        metrics,
        &by_reason("esockets_connections_refused_total", "handler"),
        |n| n == 1.0,
    );
    assert_eq!(
        value(&text, &shard0("esockets_connections_accepted_total")),
        Some(2.0)
    );
    assert_eq!(
        value(&text, &shard0("esockets_connections_open")),
        Some(1.0)
    );

    // Refused over max_connections (3).
    let mut quitter = client(addr);
    echo(&mut quitter, "a\n");
    let mut dropped = client(addr);
    echo(&mut dropped, "b\n");
    wait_for(metrics, &shard0("esockets_connections_open"), |n| n == 3.0);
    let mut over = client(addr);
    wait_closed(&mut over);
    let text = wait_for(
        metrics,
        &by_reason("esockets_connections_refused_total", "over_limit"),
        |n| n == 1.0,
    );
    assert_eq!(
        value(
            &text,
            &by_reason("esockets_connections_refused_total", "error")
        ),
        Some(0.0)
    );

    // Closed, by reason: the handler's close, the client's, the server's.
    quitter.write_all(b"quit\n").expect("write");
    wait_closed(&mut quitter);
    wait_for(
        metrics,
        &by_reason("esockets_connections_closed_total", "handler"),
        |n| n == 1.0,
    );
    drop(talker);
    wait_for(
        metrics,
        &by_reason("esockets_connections_closed_total", "peer_closed"),
        |n| n == 1.0,
    );
    let last = *ids.lock().expect("ids").last().expect("three accepted");
    server.handle().close(last).expect("close by id");
    wait_closed(&mut dropped);
    let text = wait_for(
        metrics,
        &by_reason("esockets_connections_closed_total", "server"),
        |n| n == 1.0,
    );
    assert_eq!(
        value(&text, &shard0("esockets_connections_open")),
        Some(0.0)
    );
    for reason in [
        "reset",
        "output_overflow",
        "input_overflow",
        "idle_timeout",
        "shutdown",
        "error",
    ] {
        let series = by_reason("esockets_connections_closed_total", reason);
        assert_eq!(value(&text, &series), Some(0.0), "{series}");
    }

    // Backpressure: a client that does not read is paused, its output
    // queued; once it reads, both go back to 0.
    let mut slow = client(addr);
    slow.write_all(b"flood\n").expect("write");
    let text = wait_for(metrics, &shard0("esockets_clients_paused"), |n| n == 1.0);
    let queued = value(&text, &shard0("esockets_output_queued_bytes")).expect("queued");
    assert!(
        queued > f64::from(64 << 10),
        "past the high-water mark: {queued}"
    );
    promtool_check(&text);
    let mut got = vec![0; FLOOD];
    slow.read_exact(&mut got).expect("the whole flood");
    let text = wait_for(metrics, &shard0("esockets_output_queued_bytes"), |n| {
        n == 0.0
    });
    assert_eq!(value(&text, &shard0("esockets_clients_paused")), Some(0.0));
    let sent = value(&text, &shard0("esockets_sent_bytes_total")).expect("sent");
    assert!(sent >= FLOOD as f64, "{sent}");

    // Shutdown closes the last client; the endpoint stops with the server.
    let handle = server.handle();
    server.shutdown();
    wait_closed(&mut slow);
    server.join().expect("clean shutdown");
    let stats = handle.stats()[0];
    assert_eq!((stats.shutdown_closed, stats.closed), (1, 4), "{stats:?}");
    // tiny_http's accept thread lets go of the socket as it ends, just
    // after the join: wait for it, with a deadline.
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&metrics, Duration::from_secs(2)).is_ok() {
        assert!(
            std::time::Instant::now() < end,
            "the endpoint stopped with the server"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn anything_but_get_metrics_is_not_found() {
    let (server, metrics, _, _) = start();
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/metric"),
        ("POST", "/metrics"),
        ("HEAD", "/metrics"),
        ("GET", "/metrics/x"),
    ] {
        let answer = request(metrics, method, path);
        assert_eq!(answer.status, 404, "{method} {path}");
    }
    let answer = request(metrics, "GET", "/metrics?name=esockets");
    assert_eq!(answer.status, 200, "a query string is ignored");
    server.shutdown();
    server.join().expect("clean shutdown");
}

#[test]
fn a_busy_metrics_address_fails_the_bind() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = holder.local_addr().expect("address");
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("address"),
        threads: 1,
        metrics: Some(taken),
        ..Config::default()
    };
    let err = Server::bind(config, |_| esockets::protocols::Echo).expect_err("address in use");
    let message = err.to_string();
    assert!(message.contains(&taken.to_string()), "{message}");
    assert!(matches!(err, esockets::Error::Metrics { .. }), "{err:?}");
}
