//! Issue 9: two esockets processes share topics through a real
//! redis-server; Redis killed and restarted mid-run. Issue 19: what the
//! server logs when Redis is unreachable at start, lost, and back.

mod child;
#[path = "websocket/raw_client.rs"]
mod raw_client;

use std::time::{Duration, Instant};

use child::components::{free_port, Redis};
use child::line_client::LineClient;
use child::pubsub::{deliveries, publish, subscriber, summary};
use child::server::{counter, Server};

/// An esockets pubsub server using `redis` as its backplane, once both of
/// its Redis connections are up.
fn instance(redis: &Redis) -> (Server, std::net::SocketAddr) {
    instance_with(redis, &[])
}

/// The same, with `extra` options (`--websocket`, say).
fn instance_with(redis: &Redis, extra: &[&str]) -> (Server, std::net::SocketAddr) {
    let url = redis.url();
    let mut args = vec![
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "2",
        "--backplane",
        &url,
    ];
    args.extend_from_slice(extra);
    let mut server = Server::spawn(&args);
    let lines = server.wait_for_lines(&[
        "esockets listening",
        "backplane: publishing to Redis",
        "backplane: listening to Redis",
    ]);
    (server, child::address_in(&lines[0]))
}

#[test]
fn two_instances_share_topics_and_survive_a_redis_restart() {
    let mut redis = Redis::start();
    let (mut a, addr_a) = instance(&redis);
    let (mut b, addr_b) = instance(&redis);
    let mut sub_a = subscriber(addr_a, "room");
    let mut sub_b = subscriber(addr_b, "room");
    let mut pub_a = LineClient::connect(addr_a);
    let mut pub_b = LineClient::connect(addr_b);

    // Publishes on each instance reach the subscribers of both, exactly
    // once, in each publisher's order.
    publish(&mut pub_a, "room", "a", 0..200);
    publish(&mut pub_b, "room", "b", 0..200);
    let all: Vec<u32> = (0..200).collect();
    for subscriber in [&mut sub_a, &mut sub_b] {
        let seen = deliveries(subscriber, 400);
        assert_eq!(seen["a"], all, "a's messages, once each, in order");
        assert_eq!(seen["b"], all, "b's messages, once each, in order");
    }

    // Redis dies: each instance still serves its own subscribers, and
    // counts what could not cross.
    redis.kill();
    a.wait_for_line("(listening); other processes' publishes are missed");
    b.wait_for_line("(listening); other processes' publishes are missed");
    publish(&mut pub_a, "room", "a", 200..210);
    let seen = deliveries(&mut sub_a, 10);
    assert_eq!(
        seen["a"],
        (200..210).collect::<Vec<_>>(),
        "local delivery goes on"
    );

    // Redis is back: both reconnect, and publishes cross again.
    redis.restart();
    for server in [&mut a, &mut b] {
        server.wait_for_lines(&[
            "backplane: listening to Redis",
            "backplane: publishing to Redis",
        ]);
    }
    publish(&mut pub_a, "room", "a", 210..220);
    publish(&mut pub_b, "room", "b", 200..210);
    // b's subscriber never gets a's 200..210 (lost while Redis was down):
    // its next deliveries are a's 210.. and b's 200...
    let seen = deliveries(&mut sub_b, 20);
    assert_eq!(seen["a"], (210..220).collect::<Vec<_>>());
    assert_eq!(seen["b"], (200..210).collect::<Vec<_>>());
    let seen = deliveries(&mut sub_a, 20);
    assert_eq!(seen["a"], (210..220).collect::<Vec<_>>());
    assert_eq!(seen["b"], (200..210).collect::<Vec<_>>());

    drop((sub_a, sub_b, pub_a, pub_b));
    let a = summary(a);
    assert_eq!(counter(&a, "sent"), 210, "{a}");
    assert_eq!(
        counter(&a, "lost"),
        10,
        "published while Redis was down: {a}"
    );
    assert_eq!(counter(&a, "received"), 210, "{a}");
    let b = summary(b);
    assert_eq!(counter(&b, "sent"), 210, "{b}");
    assert_eq!(
        counter(&b, "received"),
        210,
        "a's 200 before, 10 after: {b}"
    );
    assert_eq!(counter(&b, "lost"), 0, "{b}");
    assert!(
        counter(&b, "reconnects") >= 2,
        "both connections came back: {b}"
    );
}

/// How soon after start-up an unreachable Redis must be reported.
const AT_ONCE: Duration = Duration::from_secs(5);

#[test]
fn an_unreachable_redis_is_said_at_once_and_publishes_lost_are_logged() {
    // Nothing listens there: every connection attempt is refused.
    let addr = format!("127.0.0.1:{}", free_port());
    let url = format!("redis://{addr}");
    let mut server = Server::spawn(&[
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--backplane",
        &url,
    ]);
    // In any order: the backplane's threads may speak before the
    // listening line.
    let started = Instant::now();
    let mut lines = server.wait_for_lines(&[
        "esockets listening",
        &format!("backplane: cannot reach Redis at {addr} (publishing)"),
        &format!("backplane: cannot reach Redis at {addr} (listening)"),
    ]);
    let listening = child::address_in(&lines.remove(0));
    assert!(
        started.elapsed() < AT_ONCE,
        "said {:?} after start-up: {lines:#?}",
        started.elapsed()
    );
    for line in &lines {
        assert!(line.contains(" WARN "), "{line}");
    }
    // A publish is delivered here and lost for the others: logged.
    let mut subscriber = subscriber(listening, "t");
    let mut publisher = LineClient::connect(listening);
    publish(&mut publisher, "t", "p", 0..1);
    assert_eq!(subscriber.line(), "MSG t p 0");
    let lost = server.wait_for_line("backplane: local publishes lost");
    assert!(lost.contains(" WARN "), "{lost}");
    assert_eq!(counter(&lost, "lost"), 1, "{lost}");
    drop((subscriber, publisher));
    let line = summary(server);
    assert_eq!(counter(&line, "lost"), 1, "{line}");
}

#[test]
fn losing_redis_is_one_warning_and_its_return_one_info_line() {
    let mut redis = Redis::start();
    let mut command = child::esockets(&[
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--backplane",
        &redis.url(),
    ]);
    // The retries show at debug: the test waits for a few of them.
    command.env("RUST_LOG", "info,esockets::backplane=debug");
    let mut server = Server::start(&mut command);
    // In any order: the backplane's threads may speak before the
    // listening line.
    let lines = server.wait_for_lines(&[
        "esockets listening",
        "backplane: publishing to Redis",
        "backplane: listening to Redis",
    ]);
    let addr = child::address_in(&lines[0]);
    redis.kill();
    server.wait_for_lines(&[
        "(listening); other processes' publishes are missed",
        "(publishing); local publishes are counted lost",
    ]);
    // Several attempts fail while Redis is down...
    for _ in 0..3 {
        server.wait_for_line("backplane: Redis still unreachable (listening), retrying");
    }
    redis.restart();
    let back = server.wait_for_lines(&[
        "backplane: listening to Redis at",
        "backplane: publishing to Redis at",
    ]);
    for line in &back {
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains("again: reconnected after"), "{line}");
        assert!(!line.contains("lost"), "reads like an error: {line}");
    }
    // ...but each connection said it was lost once.
    let warnings: Vec<&String> = server
        .seen()
        .iter()
        .filter(|line| line.contains(" WARN ") && line.contains("backplane"))
        .collect();
    assert_eq!(warnings.len(), 2, "one per connection: {warnings:#?}");
    // And it works again.
    let mut subscriber = subscriber(addr, "t");
    let mut publisher = LineClient::connect(addr);
    publish(&mut publisher, "t", "p", 0..1);
    assert_eq!(subscriber.line(), "MSG t p 0");
    drop((subscriber, publisher));
    let line = summary(server);
    assert!(counter(&line, "reconnects") >= 2, "{line}");
}

/// Issue 19, item 1: the backplane carries the topic and the payload,
/// never one front end's framing. A line subscriber and a WebSocket
/// subscriber of one topic, on two processes sharing one Redis, each get
/// every message in their own framing, whoever published it (before, the
/// line client got a raw WebSocket frame and the WebSocket client a line,
/// and was closed with 1002).
#[test]
fn line_and_websocket_front_ends_share_topics_each_with_its_own_framing() {
    let redis = Redis::start();
    let (lines_server, lines_addr) = instance(&redis);
    let (ws_server, ws_addr) = instance_with(&redis, &["--websocket"]);
    let mut line_subscriber = subscriber(lines_addr, "news");
    let mut ws_subscriber = raw_client::RawClient::open(ws_addr);
    ws_subscriber.send_text("SUB news");
    assert_eq!(ws_subscriber.text(), "+OK");

    let mut line_publisher = LineClient::connect(lines_addr);
    assert_eq!(line_publisher.command("PUB news from-lines"), "+OK");
    assert_eq!(line_subscriber.line(), "MSG news from-lines");
    assert_eq!(ws_subscriber.text(), "MSG news from-lines");

    let mut ws_publisher = raw_client::RawClient::open(ws_addr);
    ws_publisher.send_text("PUB news from-websocket");
    assert_eq!(ws_publisher.text(), "+OK");
    assert_eq!(ws_subscriber.text(), "MSG news from-websocket");
    assert_eq!(line_subscriber.line(), "MSG news from-websocket");

    // Nothing else arrived in either framing, and both are still served.
    assert_eq!(line_subscriber.command("PING"), "+PONG");
    ws_subscriber.send_text("PING");
    assert_eq!(ws_subscriber.text(), "+PONG");
    let lines_summary = summary(lines_server);
    let ws_summary = summary(ws_server);
    assert!(lines_summary.contains(" received=1"), "{lines_summary}");
    assert!(ws_summary.contains(" received=1"), "{ws_summary}");
}

/// `pubsub` lines in this process, holding its shard on the line `STALL`
/// until the test sends on `release`.
struct Stalling {
    /// The protocol.
    inner: esockets::protocols::PubSub,
    /// Told when the shard is held.
    held: crossbeam::channel::Sender<()>,
    /// One message lets the shard go.
    release: crossbeam::channel::Receiver<()>,
}

impl esockets::Handler for Stalling {
    type State = <esockets::protocols::PubSub as esockets::Handler>::State;

    fn on_data(
        &mut self,
        cx: &mut esockets::ShardContext<'_>,
        conn: &mut esockets::Conn<'_>,
        state: &mut Self::State,
        data: &[u8],
    ) -> esockets::Verdict {
        if data == b"STALL\n" {
            let _ = self.held.send(());
            let _ = self.release.recv_timeout(child::DEADLINE);
            return esockets::Verdict::Consumed(data.len());
        }
        self.inner.on_data(cx, conn, state, data)
    }

    fn frame_delivery(&mut self, topic: &[u8], payload: &bytes::Bytes) -> bytes::Bytes {
        self.inner.frame_delivery(topic, payload)
    }
}

/// Waits (up to the deadline) for `condition`.
fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let end = Instant::now() + child::DEADLINE;
    while !condition() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn backplane_deliveries_wait_for_the_shards_fanout_credit() {
    const CREDIT: u64 = 4;
    let redis = Redis::start();
    let (_a, addr_a) = instance(&redis);
    let (held_tx, held) = crossbeam::channel::unbounded();
    let (release, release_rx) = crossbeam::channel::unbounded();
    let b = esockets::Server::bind(
        esockets::Config {
            bind: "127.0.0.1:0".parse().expect("address"),
            threads: 1,
            backplane: Some(redis.url()),
            fanout_credit: CREDIT as usize,
            ..esockets::Config::default()
        },
        move |_| Stalling {
            inner: esockets::protocols::PubSub::new(1024),
            held: held_tx.clone(),
            release: release_rx.clone(),
        },
    )
    .expect("b binds");
    let handle = b.handle();
    wait_for("b's backplane up", || {
        handle.backplane_stats().is_some_and(|s| s.connected)
    });
    let mut sub_b = subscriber(b.local_addr(), "feed");
    let mut staller = LineClient::connect(b.local_addr());
    staller.send("STALL");
    held.recv_timeout(child::DEADLINE).expect("b's shard held");

    // A's publishes come in from Redis while B's only shard delivers
    // nothing: the listener takes the credit, then waits (reading no
    // more: Redis keeps the rest).
    let mut pub_a = LineClient::connect(addr_a);
    publish(&mut pub_a, "feed", "a", 0..20);
    wait_for("the listener waiting for credit", || {
        let received = handle.backplane_stats().map_or(0, |s| s.received);
        received > CREDIT && handle.stats()[0].fanout_in_flight == CREDIT
    });
    assert!(handle.backplane_stats().is_some_and(|s| s.received < 20));
    assert_eq!(handle.stats()[0].fanout_in_flight, CREDIT, "never past it");

    release.send(()).expect("release");
    let seen = deliveries(&mut sub_b, 20);
    assert_eq!(seen["a"], (0..20).collect::<Vec<_>>(), "all, in order");
    wait_for("credit paid back", || {
        handle.stats()[0].fanout_in_flight == 0
    });
    assert_eq!(handle.backplane_stats().map(|s| s.lost), Some(0));
    b.shutdown();
    b.join().expect("b stops");
}
