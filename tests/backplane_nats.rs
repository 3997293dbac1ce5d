//! Issue 23: esockets processes share topics through a real 3-server
//! NATS cluster, each process connected to a server of its own; a server
//! killed, the process that used it reconnects to another and its
//! subscribers keep receiving (never closed). A topic that is no valid
//! subject travels too.

mod child;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use child::line_client::LineClient;
use child::nats::NatsCluster;
use child::pubsub::{deliveries_by_topic, publish, subscriber, summary};
use child::scrape::{metrics_addr_in, promtool_check, scrape, value, wait_for};
use child::server::{counter, Server};

/// A readable topic, and one that is no NATS subject (mapped to hex).
const TOPICS: [&str; 2] = ["room.1", "a*b"];

/// An esockets pubsub server on NATS at `url`, once connected.
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
    let lines = server.wait_for_lines(&["esockets listening", "backplane: listening to NATS"]);
    (server, child::address_in(&lines[0]))
}

/// The same with its metrics endpoint on: the server, its address and
/// its endpoint's.
fn instance_with_metrics(url: &str) -> (Server, SocketAddr, SocketAddr) {
    let mut server = Server::spawn(&[
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
    ]);
    let lines = server.wait_for_lines(&[
        "esockets listening",
        "metrics at http://",
        "backplane: listening to NATS",
    ]);
    let (addr, metrics) = (child::address_in(&lines[0]), metrics_addr_in(&lines[1]));
    (server, addr, metrics)
}

/// Publishes `PUB topic probe n` from `publisher` until each of
/// `subscribers` got one (their subscriptions reached every server), then
/// reads away the probes still coming, up to the marker publish.
fn until_subscribed(publisher: &mut LineClient, topic: &str, subscribers: &mut [&mut LineClient]) {
    let end = Instant::now() + child::DEADLINE;
    let mut got = vec![false; subscribers.len()];
    for subscriber in subscribers.iter_mut() {
        subscriber.set_read_timeout(Duration::from_millis(20));
    }
    let mut n = 0;
    while got.iter().any(|got| !got) {
        assert!(
            Instant::now() < end,
            "{topic}: subscriptions never reached the cluster"
        );
        publish(publisher, topic, "probe", n..n + 1);
        n += 1;
        for (subscriber, got) in subscribers.iter_mut().zip(&mut got) {
            while subscriber.try_line().is_some() {
                *got = true;
            }
        }
    }
    publish(publisher, topic, "marker", 0..1);
    for subscriber in subscribers.iter_mut() {
        subscriber.set_read_timeout(child::server::IO_TIMEOUT);
        while !subscriber.line().contains(" marker ") {}
    }
}

#[test]
fn processes_share_topics_through_nats_and_survive_a_server_dying() {
    let mut nats = NatsCluster::start(3);
    let (a, addr_a, metrics_a) = instance_with_metrics(&nats.url(0));
    let (b, addr_b) = instance(&nats.url(1));
    let (c, addr_c) = instance(&nats.url(2));
    let mut subs_a: Vec<LineClient> = TOPICS.iter().map(|t| subscriber(addr_a, t)).collect();
    let mut subs_b: Vec<LineClient> = TOPICS.iter().map(|t| subscriber(addr_b, t)).collect();
    let mut pub_c = LineClient::connect(addr_c);
    for (index, topic) in TOPICS.iter().enumerate() {
        until_subscribed(
            &mut pub_c,
            topic,
            &mut [&mut subs_a[index], &mut subs_b[index]],
        );
    }

    // c's and a's publishes reach a's and b's subscribers once each, in
    // each publisher's order.
    let mut pub_a = LineClient::connect(addr_a);
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

    // a's server dies: a reconnects to another server of the cluster and
    // its subscribers, never closed, receive again.
    nats.kill(0);
    let mut a = a;
    a.wait_for_line("backplane: listening to NATS at");
    until_subscribed(&mut pub_c, TOPICS[0], &mut [&mut subs_a[0]]);
    publish(&mut pub_c, TOPICS[0], "c", 100..110);
    let seen = deliveries_by_topic(&mut subs_a[0], 10);
    assert_eq!(
        seen[&(TOPICS[0].into(), "c".into())],
        (100..110).collect::<Vec<_>>()
    );
    assert_eq!(subs_a[1].command("PING"), "+PONG");

    // a's counters per server: the dead one kept what it carried and
    // holds nothing now; the one a reconnected to holds both topics.
    let series =
        |name: &str, url: &str| format!("{name}{{node=\"{}\"}}", url.trim_start_matches("nats://"));
    let dead = nats.url(0);
    let text = wait_for(
        metrics_a,
        &series("esockets_backplane_node_subscriptions", &dead),
        |v| v == 0.0,
    );
    promtool_check(&text);
    let received = value(
        &text,
        &series("esockets_backplane_node_received_total", &dead),
    );
    assert!(received.is_some_and(|n| n >= 200.0), "{text}");
    let end = Instant::now() + child::DEADLINE;
    let (now, text) = loop {
        let text = scrape(metrics_a);
        let now = [nats.url(1), nats.url(2)].into_iter().find(|url| {
            value(&text, &series("esockets_backplane_node_subscriptions", url)) == Some(2.0)
        });
        if let Some(now) = now {
            break (now, text);
        }
        assert!(Instant::now() < end, "no server holds a's topics:\n{text}");
        // Polling, not synchronisation: the listener looks each tick.
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        value(
            &text,
            &series("esockets_backplane_node_reconnects_total", &now)
        ),
        Some(1.0),
        "{text}"
    );
    // Publishes carried from now on are the new server's (deliveries just
    // after the reconnect may still be counted for the old one: the
    // listener learns its server from the client's INFO each tick).
    publish(&mut pub_c, TOPICS[0], "c", 110..120);
    let seen = deliveries_by_topic(&mut subs_a[0], 10);
    assert_eq!(
        seen[&(TOPICS[0].into(), "c".into())],
        (110..120).collect::<Vec<_>>()
    );
    wait_for(
        metrics_a,
        &series("esockets_backplane_node_received_total", &now),
        |n| n >= 10.0,
    );

    drop((subs_a, subs_b, pub_a, pub_c));
    let a = summary(a);
    let b = summary(b);
    let c = summary(c);
    assert!(counter(&a, "reconnects") >= 1, "{a}");
    assert_eq!(counter(&c, "received"), 0, "c holds no topic: {c}");
    assert_eq!(counter(&c, "lost"), 0, "{c}");
    assert!(counter(&b, "received") >= 400, "{b}");
}

#[test]
fn with_no_server_up_the_server_serves_local_topics_and_says_so() {
    let url = format!("nats://127.0.0.1:{}", child::components::free_port());
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
    let lines = server.wait_for_lines(&["esockets listening", "backplane: cannot reach NATS at"]);
    assert!(lines[1].contains(" WARN "), "{}", lines[1]);
    let addr = child::address_in(&lines[0]);
    let mut sub = subscriber(addr, "t");
    let mut publisher = LineClient::connect(addr);
    publish(&mut publisher, "t", "p", 0..1);
    assert_eq!(sub.line(), "MSG t p 0");
    drop((sub, publisher));
    let line = summary(server);
    assert_eq!(counter(&line, "received"), 0, "{line}");
}
