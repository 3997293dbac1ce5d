//! Pub/sub clients and checks the backplane tests share: subscribe,
//! publish numbered messages, read deliveries checking each publisher's
//! order, and a stopped server's backplane summary.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::line_client::LineClient;
use super::server::Server;

/// A subscriber of `topic`.
pub fn subscriber(addr: SocketAddr, topic: &str) -> LineClient {
    let mut client = LineClient::connect(addr);
    assert_eq!(client.command(&format!("SUB {topic}")), "+OK");
    client
}

/// Publishes `PUB topic who n` for each n, checking the replies.
pub fn publish(publisher: &mut LineClient, topic: &str, who: &str, range: std::ops::Range<u32>) {
    for n in range {
        assert_eq!(publisher.command(&format!("PUB {topic} {who} {n}")), "+OK");
    }
}

/// Reads `count` deliveries: returns them per topic and publisher, in
/// the order they came.
pub fn deliveries_by_topic(
    subscriber: &mut LineClient,
    count: usize,
) -> BTreeMap<(String, String), Vec<u32>> {
    let mut seen = BTreeMap::<(String, String), Vec<u32>>::new();
    for _ in 0..count {
        let line = subscriber.line();
        let mut parts = line.split(' ');
        assert_eq!(parts.next(), Some("MSG"), "{line}");
        let topic = parts.next().expect("topic").to_owned();
        let who = parts.next().expect("publisher").to_owned();
        let n: u32 = parts.next().and_then(|n| n.parse().ok()).expect("number");
        seen.entry((topic, who)).or_default().push(n);
    }
    seen
}

/// Reads `count` deliveries: returns them per publisher, in the order
/// they came.
pub fn deliveries(subscriber: &mut LineClient, count: usize) -> BTreeMap<String, Vec<u32>> {
    let mut seen = BTreeMap::<String, Vec<u32>>::new();
    for ((_, who), numbers) in deliveries_by_topic(subscriber, count) {
        seen.entry(who).or_default().extend(numbers);
    }
    seen
}

/// Stops `server` and returns its backplane summary line.
pub fn summary(server: Server) -> String {
    server.signal(libc::SIGTERM);
    let (status, lines) = server.finish();
    assert!(status.success(), "{status}");
    lines
        .into_iter()
        .find(|l| l.contains(" backplane sent="))
        .expect("a backplane summary line")
}
