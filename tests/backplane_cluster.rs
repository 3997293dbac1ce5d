//! Issue 23: esockets processes share topics through a real Redis Cluster
//! (3 masters, 1 replica each) with sharded pub/sub: each process
//! subscribes on the owning node to the topics its clients hold, and
//! only those; a master killed mid-run, its replica promoted, delivery
//! goes on with nothing lost uncounted. And the faults: a seed that is
//! no cluster, no node reachable at start-up.

mod child;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use child::cluster::RedisCluster;
use child::components::{free_port, Redis};
use child::line_client::LineClient;
use child::pubsub::{deliveries, deliveries_by_topic, publish, subscriber, summary};
use child::scrape::{metrics_addr_in, promtool_check, scrape, value, wait_for};
use child::server::{counter, Server};

/// Topics whose channels (`esockets:<topic>`) fall on each of the three
/// masters `redis-cli --cluster create` makes (slots 0-5460, 5461-10922,
/// 10923-16383): 1439, 5566 and 13820.
const TOPICS: [&str; 3] = ["t3", "t2", "t0"];

/// An esockets pubsub server on `url`'s backplane, once both of its
/// cluster connections are up.
fn instance(url: &str) -> (Server, SocketAddr) {
    let mut server = Server::spawn(&[
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--backplane",
        url,
    ]);
    let lines = server.wait_for_lines(&[
        "esockets listening",
        "backplane: publishing to Redis",
        "backplane: listening to Redis",
    ]);
    (server, child::address_in(&lines[0]))
}

/// The same with `extra` options and the metrics endpoint on: the
/// server, its address and its endpoint's.
fn instance_with_metrics(url: &str, extra: &[&str]) -> (Server, SocketAddr, SocketAddr) {
    let mut args = vec![
        "--protocol",
        "pubsub",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--metrics",
        "127.0.0.1:0",
        "--backplane",
        url,
    ];
    args.extend_from_slice(extra);
    let mut server = Server::spawn(&args);
    let lines = server.wait_for_lines(&[
        "esockets listening",
        "metrics at http://",
        "backplane: publishing to Redis",
        "backplane: listening to Redis",
    ]);
    let (addr, metrics) = (child::address_in(&lines[0]), metrics_addr_in(&lines[1]));
    (server, addr, metrics)
}

/// The series `name{node="127.0.0.1:PORT"}`.
fn node_series(name: &str, port: u16) -> String {
    format!("{name}{{node=\"127.0.0.1:{port}\"}}")
}

/// The shard channel of `topic`.
fn channel(topic: &str) -> String {
    format!("esockets:{topic}")
}

#[test]
fn processes_share_topics_through_a_cluster_and_survive_a_failover() {
    let mut cluster = RedisCluster::start(3, 1);
    let masters: Vec<u16> = TOPICS
        .iter()
        .map(|t| cluster.master_of(&channel(t)))
        .collect();
    let mut distinct = masters.clone();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        3,
        "the topics spread over the masters: {masters:?}"
    );

    let url = cluster.url();
    let (a, addr_a) = instance(&url);
    let (b, addr_b) = instance(&url);
    let (c, addr_c) = instance(&url);
    // a and b hold every topic; c none (it only publishes).
    let mut subs_a: Vec<LineClient> = TOPICS.iter().map(|t| subscriber(addr_a, t)).collect();
    let mut subs_b: Vec<LineClient> = TOPICS.iter().map(|t| subscriber(addr_b, t)).collect();
    for topic in TOPICS {
        cluster.wait_until(&format!("a and b subscribed to {topic}"), || {
            cluster.shard_subscribers(&channel(topic)) == 2
        });
    }

    // Publishes on a and c reach the subscribers of a and b, once each,
    // in each publisher's order.
    let mut pub_a = LineClient::connect(addr_a);
    let mut pub_c = LineClient::connect(addr_c);
    for topic in TOPICS {
        publish(&mut pub_a, topic, "a", 0..100);
        publish(&mut pub_c, topic, "c", 0..100);
    }
    let all: Vec<u32> = (0..100).collect();
    for (topic, (sub_a, sub_b)) in TOPICS.iter().zip(subs_a.iter_mut().zip(&mut subs_b)) {
        for subscriber in [sub_a, sub_b] {
            let seen = deliveries_by_topic(subscriber, 200);
            for who in ["a", "c"] {
                assert_eq!(
                    seen[&(topic.to_string(), who.into())],
                    all,
                    "{who} on {topic}"
                );
            }
        }
    }

    // The last subscriber of a topic on b leaves: b unsubscribes there.
    drop(subs_b.remove(0));
    cluster.wait_until("b unsubscribed from t3", || {
        cluster.shard_subscribers(&channel("t3")) == 1
    });

    // The master of t3 dies; its replica takes over. c keeps publishing
    // to t3 throughout; a's subscriber gets every publish, in order, or
    // c counts it lost: none disappears uncounted.
    let killed = masters[0];
    cluster.kill(killed);
    let killed_at = Instant::now();
    let mut published = 0u32;
    let mut received = Vec::new();
    let mut gap = Duration::ZERO;
    let mut last = Instant::now();
    subs_a[0].set_read_timeout(Duration::from_millis(5));
    let promoted = loop {
        publish(&mut pub_c, "t3", "c", published..published + 1);
        published += 1;
        while let Some(line) = subs_a[0].try_line() {
            received.push(line);
            gap = gap.max(last.elapsed());
            last = Instant::now();
        }
        let master = cluster.try_master_of(&channel("t3"));
        let caught_up = received.len() as u32 >= published.saturating_sub(1);
        if let (Some(master), true) = (master.filter(|&port| port != killed), caught_up) {
            break master;
        }
        assert!(
            killed_at.elapsed() < child::DEADLINE,
            "no replica took over, or deliveries did not resume: {} of {published}",
            received.len()
        );
    };
    let failover = killed_at.elapsed();
    publish(&mut pub_c, "t3", "c", published..published + 10);
    published += 10;
    subs_a[0].set_read_timeout(child::server::IO_TIMEOUT);
    while (received.len() as u32) < published {
        let Some(line) = subs_a[0].try_line() else {
            break;
        };
        received.push(line);
    }
    let numbers: Vec<u32> = received
        .iter()
        .map(|line| {
            line.rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("n")
        })
        .collect();
    let mut sorted = numbers.clone();
    sorted.dedup();
    assert_eq!(numbers, sorted, "in order, once each");
    eprintln!(
        "failover: master {killed} killed, {promoted} took over and deliveries resumed after \
         {failover:?}; longest wait between two deliveries {gap:?}; {} of {published} received",
        numbers.len()
    );

    // Every process is still there; b and a's subscribers were never
    // closed.
    assert_eq!(subs_a[1].command("PING"), "+PONG");
    drop((subs_a, subs_b, pub_a, pub_c));
    let a = summary(a);
    let b = summary(b);
    let c = summary(c);
    assert_eq!(counter(&c, "received"), 0, "c holds no topic: {c}");
    let delivered = numbers.len() as u64;
    let c_sent = counter(&c, "sent");
    assert_eq!(
        c_sent + counter(&c, "lost"),
        300 + u64::from(published),
        "each of c's publishes sent or counted lost: {c}"
    );
    assert!(
        delivered + counter(&c, "lost") >= u64::from(published),
        "a got {delivered} of {published} c published to t3 after b left; c: {c}"
    );
    assert_eq!(counter(&a, "received"), 300 + delivered, "{a}");
    assert_eq!(counter(&b, "received"), 600, "a's and c's: {b}");
}

#[test]
fn a_seed_that_is_no_cluster_is_said_clearly() {
    let redis = Redis::start();
    let url = format!("redis-cluster://127.0.0.1:{}", redis.port);
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
    let line = server.wait_for_line("is not a Redis Cluster node");
    assert!(line.contains(" ERROR "), "{line}");
    assert!(line.contains("--backplane redis://HOST:PORT"), "{line}");
    drop(summary(server));
}

#[test]
fn with_no_node_up_the_server_serves_local_topics_and_says_so() {
    let url = format!("redis-cluster://127.0.0.1:{}", free_port());
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
    let lines = server.wait_for_lines(&["esockets listening", "backplane: cannot reach Redis at"]);
    assert!(lines[1].contains(" WARN "), "{}", lines[1]);
    let addr = child::address_in(&lines[0]);
    let mut sub = subscriber(addr, "t");
    let mut publisher = LineClient::connect(addr);
    publish(&mut publisher, "t", "p", 0..1);
    assert_eq!(sub.line(), "MSG t p 0");
    drop((sub, publisher));
    let line = summary(server);
    assert_eq!(counter(&line, "sent"), 0, "{line}");
}

#[test]
fn publishes_made_while_the_cluster_is_down_are_resent_once_in_order_or_counted_lost() {
    // No replicas, and shard channels refused while the cluster is down:
    // killing one master stops every publish (CLUSTERDOWN) while the
    // other masters, and the subscriptions they hold, stay up.
    let mut cluster =
        RedisCluster::start_with(3, 0, &["--cluster-allow-pubsubshard-when-down", "no"]);
    let (topic, other) = ("t3", "t2");
    let home = cluster.master_of(&channel(topic));
    let killed = cluster.master_of(&channel(other));
    assert_ne!(home, killed);
    let url = cluster.url();
    let (a, addr_a, metrics_a) = instance_with_metrics(&url, &[]);
    let (c, addr_c, metrics_c) = instance_with_metrics(&url, &["--backplane-resend", "20"]);
    let mut sub = subscriber(addr_a, topic);
    cluster.wait_until("a subscribed", || {
        cluster.shard_subscribers(&channel(topic)) == 1
    });
    let mut publisher = LineClient::connect(addr_c);
    publish(&mut publisher, topic, "c", 0..5);
    assert_eq!(deliveries(&mut sub, 5)["c"], (0..5).collect::<Vec<_>>());
    // c knows which node took them.
    wait_for(
        metrics_c,
        &node_series("esockets_backplane_node_sent_total", home),
        |v| v == 5.0,
    );

    // Another master dies: the cluster is down, SPUBLISH refused
    // everywhere. 30 publishes: the oldest 20 are held, the 10 newest
    // counted lost, for the process and for the topic's node.
    cluster.kill(killed);
    cluster.wait_until("the cluster is down", || cluster.state_is(home, "fail"));
    publish(&mut publisher, topic, "c", 5..35);
    let lost = node_series("esockets_backplane_node_lost_total", home);
    wait_for(metrics_c, &lost, |v| v == 10.0);

    // Back: the 20 held arrive once each, in order, before anything
    // newer; the lost never do.
    cluster.restart(killed);
    assert_eq!(deliveries(&mut sub, 20)["c"], (5..25).collect::<Vec<_>>());
    publish(&mut publisher, topic, "after", 0..1);
    assert_eq!(sub.line(), format!("MSG {topic} after 0"));

    let text = wait_for(
        metrics_c,
        &node_series("esockets_backplane_node_resent_total", home),
        |v| v == 20.0,
    );
    promtool_check(&text);
    let of = |name: &str| value(&text, &node_series(name, home));
    assert_eq!(
        of("esockets_backplane_node_sent_total"),
        Some(26.0),
        "{text}"
    );
    assert_eq!(
        of("esockets_backplane_node_lost_total"),
        Some(10.0),
        "{text}"
    );
    assert_eq!(value(&text, "esockets_backplane_lost_total"), Some(10.0));
    assert_eq!(value(&text, "esockets_backplane_resent_total"), Some(20.0));
    // Refused (CLUSTERDOWN) by a node that stayed up: no reconnection.
    assert_eq!(
        of("esockets_backplane_node_reconnects_total"),
        Some(0.0),
        "{text}"
    );
    let text = scrape(metrics_a);
    promtool_check(&text);
    let of = |name: &str| value(&text, &node_series(name, home));
    assert_eq!(
        of("esockets_backplane_node_received_total"),
        Some(26.0),
        "{text}"
    );
    assert_eq!(
        of("esockets_backplane_node_subscriptions"),
        Some(1.0),
        "{text}"
    );

    drop((sub, publisher));
    let a = summary(a);
    let c = summary(c);
    assert_eq!(counter(&a, "received"), 26, "{a}");
    assert_eq!(
        (
            counter(&c, "sent"),
            counter(&c, "resent"),
            counter(&c, "lost")
        ),
        (26, 20, 10),
        "{c}"
    );
}
