//! Pub/sub: topics across shards, ordering, slow subscribers, and the
//! built-in `pubsub` protocol over TCP.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use esockets::protocols::PubSub;
use esockets::{Config, SlowSubscribers};

use crate::util::{client, config, heavy_test, wait_until, TestServer, DEADLINE};

/// A pubsub client speaking lines.
struct Client {
    /// Reads whole lines.
    reader: BufReader<TcpStream>,
    /// Writes commands.
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let stream = client(addr);
        Self {
            writer: stream.try_clone().expect("clone the socket"),
            reader: BufReader::new(stream),
        }
    }

    /// Sends raw bytes.
    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// The next line, without its newline.
    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read a line");
        assert!(n > 0, "the server closed the connection");
        assert!(line.ends_with('\n'), "a whole line: {line:?}");
        line.pop();
        line
    }

    /// Sends `command` and returns the reply line.
    fn command(&mut self, command: &str) -> String {
        self.send(format!("{command}\n").as_bytes());
        self.line()
    }

    /// Subscribes to `topic`, checking the reply.
    fn sub(&mut self, topic: &str) {
        assert_eq!(self.command(&format!("SUB {topic}")), "+OK");
    }

    /// Whether the server closed the connection (after any lines left),
    /// gracefully or not; `false` if it stayed open for the read timeout.
    fn closed(&mut self) -> bool {
        let mut rest = vec![0; 64 * 1024];
        loop {
            match std::io::Read::read(&mut self.reader, &mut rest) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => {
                    return !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    )
                }
            }
        }
    }
}

/// A pubsub server with `threads` shards.
fn server(config: Config) -> TestServer {
    TestServer::start(config, |_| PubSub::new(1024).with_max_subscriptions(3))
}

#[test]
fn one_publish_reaches_every_subscriber_on_every_shard_once() {
    let _heavy = heavy_test();
    let server = server(config(4));
    // 5,000 subscribers and 50 bystanders: 10,100 descriptors in this
    // process with the server's.
    let mut subscribers: Vec<Client> = (0..5000).map(|_| Client::connect(server.addr)).collect();
    for subscriber in &mut subscribers {
        subscriber.sub("scores");
    }
    let mut bystanders: Vec<Client> = (0..50).map(|_| Client::connect(server.addr)).collect();
    for bystander in &mut bystanders {
        bystander.sub("weather");
    }
    // Counters are published at the end of a round, at most 10 ms late.
    server.wait_for_total("every client counted open", |total| total.open == 5050);
    wait_until(DEADLINE, "the clients spread over every shard", || {
        server.handle.stats().iter().all(|s| s.open > 0)
    });
    let mut publisher = Client::connect(server.addr);
    for n in 0..3 {
        assert_eq!(publisher.command(&format!("PUB scores goal {n}")), "+OK");
    }
    assert_eq!(publisher.command("PUB weather rain"), "+OK");
    for subscriber in &mut subscribers {
        for n in 0..3 {
            assert_eq!(subscriber.line(), format!("MSG scores goal {n}"));
        }
    }
    // Anything from "scores" would have come before this.
    for bystander in &mut bystanders {
        assert_eq!(bystander.line(), "MSG weather rain");
    }
    server.wait_for_total("deliveries counted", |t| {
        t.published == 4 && t.delivered == 3 * 5000 + 50
    });
}

#[test]
fn unsubscribing_and_closing_stop_deliveries() {
    let server = server(config(2));
    let mut listener = Client::connect(server.addr);
    listener.sub("a");
    listener.sub("b");
    assert_eq!(listener.command("UNSUB a"), "+OK");
    assert_eq!(listener.command("UNSUB a"), "-ERR not subscribed");
    let mut leaver = Client::connect(server.addr);
    leaver.sub("a");
    drop(leaver);
    server.wait_for_total("the leaver closed", |t| t.closed == 1);
    let mut publisher = Client::connect(server.addr);
    assert_eq!(publisher.command("PUB a nobody"), "+OK");
    assert_eq!(publisher.command("PUB b somebody"), "+OK");
    assert_eq!(listener.line(), "MSG b somebody");
    server.wait_for_total("one delivery", |t| t.published == 2 && t.delivered == 1);
}

#[test]
fn each_publisher_order_holds_under_load() {
    let _heavy = heavy_test();
    let server = server(config(4));
    let mut subscribers: Vec<Client> = (0..40).map(|_| Client::connect(server.addr)).collect();
    for subscriber in &mut subscribers {
        subscriber.sub("feed");
    }
    const PUBLISHERS: usize = 4;
    const MESSAGES: usize = 3000;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let addr = server.addr;
            thread::spawn(move || {
                let mut publisher = Client::connect(addr);
                // Pipelined: all commands at once, then all replies.
                let mut batch = Vec::new();
                for n in 0..MESSAGES {
                    batch.extend_from_slice(format!("PUB feed {p} {n}\n").as_bytes());
                }
                publisher.send(&batch);
                for _ in 0..MESSAGES {
                    assert_eq!(publisher.line(), "+OK");
                }
            })
        })
        .collect();
    // Meanwhile, from another thread, the handle publishes too.
    let handle = server.handle.clone();
    let from_handle = thread::spawn(move || {
        for n in 0..MESSAGES {
            // The payload as published: the protocol frames it.
            let message = format!("{PUBLISHERS} {n}");
            // A full inbox is refused, never blocks: try again.
            while handle.publish(b"feed", message.clone()).is_err() {
                thread::yield_now();
            }
        }
    });
    for subscriber in &mut subscribers {
        let mut next = HashMap::new();
        for _ in 0..(PUBLISHERS + 1) * MESSAGES {
            let line = subscriber.line();
            let mut parts = line.split(' ').skip(2);
            let publisher: usize = parts
                .next()
                .and_then(|p| p.parse().ok())
                .expect("publisher");
            let n: usize = parts.next().and_then(|n| n.parse().ok()).expect("number");
            let expected = next.entry(publisher).or_insert(0);
            assert_eq!(
                n, *expected,
                "publisher {publisher}'s messages in order: {line}"
            );
            *expected += 1;
        }
    }
    for publisher in publishers {
        publisher.join().expect("publisher");
    }
    from_handle.join().expect("handle publisher");
}

#[test]
fn broadcast_reaches_every_client() {
    let server = server(config(2));
    let mut clients: Vec<Client> = (0..20).map(|_| Client::connect(server.addr)).collect();
    server.wait_for_total("every client accepted", |t| t.open == 20);
    server
        .handle
        .broadcast(&b"NOTICE maintenance\n"[..])
        .expect("broadcast");
    for client in &mut clients {
        assert_eq!(client.line(), "NOTICE maintenance");
    }
}

/// Publishes `count` messages of 1 KiB to `topic`, pipelined, and checks
/// every reply.
fn publish_many(addr: SocketAddr, topic: &str, count: usize) {
    let mut publisher = Client::connect(addr);
    let pad = "x".repeat(1000);
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let mut batch = Vec::new();
        for n in chunk {
            batch.extend_from_slice(format!("PUB {topic} {n} {pad}\n").as_bytes());
        }
        publisher.send(&batch);
        for _ in chunk {
            assert_eq!(publisher.line(), "+OK");
        }
    }
}

/// A subscriber whose receive buffer is small and who never reads: it
/// falls behind at once.
fn sleeper(addr: SocketAddr, topic: &str) -> Client {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut client = Client {
        writer: stream.try_clone().expect("clone"),
        reader: BufReader::new(stream),
    };
    client.sub(topic);
    client
}

/// A subscriber that reads everything on its own thread and checks the
/// order; returns how many it got.
fn reader(addr: SocketAddr, topic: &'static str, count: usize) -> thread::JoinHandle<usize> {
    let mut client = Client::connect(addr);
    client.sub(topic);
    thread::spawn(move || {
        for n in 0..count {
            let line = client.line();
            let got: usize = line
                .split(' ')
                .nth(2)
                .and_then(|n| n.parse().ok())
                .expect("n");
            assert_eq!(got, n, "in order, nothing lost");
        }
        count
    })
}

/// Messages of 1 KiB published in the slow-subscriber tests: 10 MB,
/// more than the kernel's send buffer (4 MiB at most) can hide.
const SLOW_TOTAL: usize = 10_000;

/// Small queues, so that a slow subscriber is slow after a few messages.
fn small_queues(policy: SlowSubscribers) -> Config {
    Config {
        output_high_water: 64 * 1024,
        output_low_water: 16 * 1024,
        output_limit: 256 * 1024,
        slow_subscribers: policy,
        ..config(2)
    }
}

#[test]
fn a_slow_subscriber_has_deliveries_skipped_and_is_told_how_many() {
    let server = server(small_queues(SlowSubscribers::Drop));
    let mut slow = sleeper(server.addr, "t");
    let readers: Vec<_> = (0..4)
        .map(|_| reader(server.addr, "t", SLOW_TOTAL))
        .collect();
    publish_many(server.addr, "t", SLOW_TOTAL);
    for reader in readers {
        assert_eq!(reader.join().expect("reader"), SLOW_TOTAL);
    }
    server.wait_for_total("the slow subscriber had deliveries skipped", |total| {
        total.dropped_slow > 0
    });
    // Once it reads, it catches up and learns how many it missed (in one
    // notice or several: the kernel's buffer can grow while it sleeps,
    // letting it catch up part way).
    let (mut received, mut missed) = (0, 0);
    while received + missed < SLOW_TOTAL as u64 {
        let line = slow.line();
        if let Some(n) = line.strip_prefix("MISSED ") {
            missed += n.parse::<u64>().expect("a count");
        } else {
            assert!(line.starts_with("MSG t "), "{line}");
            received += 1;
        }
    }
    // Counters are published at the end of a round, at most 10 ms late.
    server.wait_for_total("every skipped delivery was announced", |total| {
        total.dropped_slow == missed
    });
    // Bounded: it never had more than the high-water mark queued, so it
    // was never closed.
    assert_eq!(slow.command("PING"), "+PONG");
}

#[test]
fn a_slow_subscriber_is_closed_and_the_others_get_everything() {
    let server = server(small_queues(SlowSubscribers::Close));
    let mut slow = sleeper(server.addr, "t");
    let readers: Vec<_> = (0..4)
        .map(|_| reader(server.addr, "t", SLOW_TOTAL))
        .collect();
    publish_many(server.addr, "t", SLOW_TOTAL);
    for reader in readers {
        assert_eq!(reader.join().expect("reader"), SLOW_TOTAL);
    }
    assert!(slow.closed(), "the server closed it");
    assert_eq!(server.total().dropped_slow, 0);
}

#[test]
fn every_command_and_every_error() {
    let server = server(config(1));
    let mut c = Client::connect(server.addr);
    assert_eq!(c.command("PING"), "+PONG");
    assert_eq!(
        c.command("PING\r"),
        "+PONG",
        "a \\r before the \\n is ignored"
    );
    assert_eq!(c.command("HELLO"), "-ERR unknown command");
    assert_eq!(c.command("SUBSCRIBE x"), "-ERR unknown command");
    assert_eq!(
        c.command("ping"),
        "+PONG",
        "commands in any case, as Redis's"
    );
    assert_eq!(c.command("SUB"), "-ERR missing topic");
    assert_eq!(c.command("PUB"), "-ERR missing topic");
    assert_eq!(
        c.command("SUB a b"),
        "-ERR unexpected bytes after the command"
    );
    assert_eq!(
        c.command(&format!("SUB {}", "t".repeat(257))),
        "-ERR topic too long"
    );
    c.sub("one");
    c.sub("one"); // again: still one subscription
    c.sub("two");
    c.sub("three");
    assert_eq!(c.command("SUB four"), "-ERR too many subscriptions");
    assert_eq!(c.command("UNSUB nope"), "-ERR not subscribed");
    // The publisher gets its own message when subscribed; the payload is
    // the rest of the line, spaces included, and may be empty.
    assert_eq!(c.command("PUB one  two  spaces "), "+OK");
    assert_eq!(c.line(), "MSG one  two  spaces ");
    assert_eq!(c.command("PUB two"), "+OK");
    assert_eq!(c.line(), "MSG two ");
}

#[test]
fn partial_lines_and_odd_topics() {
    let server = server(config(2));
    let mut subscriber = Client::connect(server.addr);
    let topic = b"\x00\xff\xc3(\t";
    // Byte by byte.
    for byte in [&b"SUB "[..], topic, b"\n"].concat() {
        subscriber.send(&[byte]);
    }
    assert_eq!(subscriber.line(), "+OK");
    let mut publisher = Client::connect(server.addr);
    publisher.send(&[&b"PUB "[..], topic, b" bin\xfe\n"].concat());
    assert_eq!(publisher.line(), "+OK");
    let mut delivery = Vec::new();
    subscriber
        .reader
        .read_until(b'\n', &mut delivery)
        .expect("delivery");
    assert_eq!(delivery, [&b"MSG "[..], topic, b" bin\xfe\n"].concat());
}

#[test]
fn an_over_long_line_is_refused_and_closes_the_client() {
    let server = server(config(1));
    let mut c = Client::connect(server.addr);
    c.send(format!("PING\nPUB t {}", "x".repeat(2000)).as_bytes());
    assert_eq!(c.line(), "+PONG", "the commands before it still run");
    assert_eq!(c.line(), "-ERR line too long");
    assert!(c.closed());
    // Everyone else is served.
    let mut other = Client::connect(server.addr);
    assert_eq!(other.command("PING"), "+PONG");
    let _ = Duration::ZERO;
}
