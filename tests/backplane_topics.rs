//! Issue 23, item 2: one Redis subscribed per topic
//! (`--backplane-subscribe topics`): a process subscribes to the channels
//! of the topics its clients hold, and only those, so it receives
//! nothing of the others; it unsubscribes when the last subscriber
//! leaves. Item 7: the per-node counters on `/metrics`, checked by
//! promtool. And the bad combinations, refused clearly.

mod child;

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use child::components::Redis;
use child::line_client::LineClient;
use child::pubsub::{deliveries, publish, subscriber, summary};
use child::scrape::{metrics_addr_in, promtool_check, value, wait_for};
use child::server::{counter, Server};

/// An esockets pubsub server on `redis`, subscribing per topic, with its
/// metrics endpoint: the server, its address and its endpoint's.
fn instance(redis: &Redis) -> (Server, SocketAddr, SocketAddr) {
    let url = redis.url();
    let mut server = Server::spawn(&[
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "2",
        "--metrics",
        "127.0.0.1:0",
        "--backplane",
        &url,
        "--backplane-subscribe",
        "topics",
    ]);
    let lines = server.wait_for_lines(&[
        "esockets listening",
        "metrics at http://",
        "backplane: publishing to Redis",
        "backplane: listening to Redis",
        "subscribed per topic",
    ]);
    let (addr, metrics) = (child::address_in(&lines[0]), metrics_addr_in(&lines[1]));
    (server, addr, metrics)
}

/// Subscribers of `channel` on `redis` (`PUBSUB NUMSUB`).
fn subscribers(redis: &Redis, channel: &str) -> u64 {
    let client = redis::Client::open(redis.url()).expect("a URL");
    let mut connection = client
        .get_connection_with_timeout(Duration::from_secs(1))
        .expect("connect to redis");
    let (_, count): (String, u64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query(&mut connection)
        .expect("PUBSUB NUMSUB");
    count
}

/// Waits (up to the deadline) until `channel` has `count` subscribers.
fn wait_for_subscribers(redis: &Redis, channel: &str, count: u64) {
    let end = Instant::now() + child::DEADLINE;
    while subscribers(redis, channel) != count {
        assert!(
            Instant::now() < end,
            "{channel} never had {count} subscribers"
        );
        // Polling, not synchronisation: Redis says nothing on its own.
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_process_receives_only_the_topics_it_holds() {
    let redis = Redis::start();
    let node = format!("node=\"127.0.0.1:{}\"", redis.port);
    let (a, addr_a, metrics_a) = instance(&redis);
    let (b, addr_b, metrics_b) = instance(&redis);
    let mut sub = subscriber(addr_a, "held");
    wait_for_subscribers(&redis, "esockets:held", 1);
    assert_eq!(subscribers(&redis, "esockets:other"), 0);

    // b publishes to a topic a holds and to one nobody holds: a receives
    // the first only.
    let mut publisher = LineClient::connect(addr_b);
    publish(&mut publisher, "other", "b", 0..10);
    publish(&mut publisher, "held", "b", 0..10);
    assert_eq!(deliveries(&mut sub, 10)["b"], (0..10).collect::<Vec<_>>());
    let text = wait_for(
        metrics_a,
        &format!("esockets_backplane_node_received_total{{{node}}}"),
        |v| v == 10.0,
    );
    promtool_check(&text);
    let series = |name: &str| format!("{name}{{{node}}}");
    assert_eq!(
        value(&text, "esockets_backplane_received_total"),
        Some(10.0)
    );
    assert_eq!(
        value(&text, &series("esockets_backplane_node_subscriptions")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, "esockets_backplane_subscriptions"), Some(1.0));
    let text = wait_for(
        metrics_b,
        &series("esockets_backplane_node_sent_total"),
        |v| v == 20.0,
    );
    promtool_check(&text);
    assert_eq!(
        value(&text, &series("esockets_backplane_node_lost_total")),
        Some(0.0)
    );
    assert_eq!(
        value(&text, &series("esockets_backplane_node_subscriptions")),
        Some(0.0),
        "b holds no topic: {text}"
    );

    // The last subscriber leaves: a unsubscribes.
    drop(sub);
    wait_for_subscribers(&redis, "esockets:held", 0);
    wait_for(
        metrics_a,
        &series("esockets_backplane_node_subscriptions"),
        |v| v == 0.0,
    );

    drop(publisher);
    let a = summary(a);
    let b = summary(b);
    assert_eq!(counter(&a, "received"), 10, "{a}");
    assert_eq!(counter(&b, "sent"), 20, "{b}");
}

#[test]
fn subscribing_per_topic_is_refused_where_it_cannot_be() {
    let redis = Redis::start();
    let url = redis.url();
    for (args, needle) in [
        (
            vec!["--backplane", url.as_str(), "--history", "10"],
            "topics cannot be used while histories are kept",
        ),
        (
            vec!["--backplane", "nats://127.0.0.1:4222"],
            "applies to one Redis (redis://) only",
        ),
    ] {
        let mut all = vec!["--protocol", "pubsub", "--bind", "127.0.0.1:0"];
        all.extend(args);
        all.extend(["--backplane-subscribe", "topics"]);
        let (status, lines) = Server::spawn(&all).finish();
        assert!(!status.success(), "{all:?}");
        assert!(
            lines.iter().any(|line| line.contains(needle)),
            "{all:?}: {lines:#?}"
        );
    }
}
