//! Publishers paced by what the other shards can deliver
//! (`Config::fanout_credit`): a publisher's input is read no further
//! while another shard is past its credit, and goes on once that shard
//! has delivered; `ServerHandle::publish` is refused meanwhile, never
//! blocked; the bound holds under a flood; slow subscribers pace nobody.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use crossbeam::channel::{unbounded, Receiver, Sender};
use esockets::protocols::PubSub;
use esockets::{
    Admission, Balance, Config, Conn, ConnId, Handler, SendError, ShardContext, SlowSubscribers,
    Verdict,
};

use crate::util::{
    assert_silent, client, config, heavy_test, read_line, wait_until, Gate, Hold, TestServer,
    DEADLINE,
};

/// `pubsub` lines, reporting each client's id, and holding its shard on
/// the line `STALL` until the test lets it go.
struct Stalling {
    /// The protocol.
    inner: PubSub,
    /// Where `(peer, id)` of new clients go.
    connects: Sender<(SocketAddr, ConnId)>,
    /// Holds the shard.
    hold: Hold,
}

impl Handler for Stalling {
    type State = <PubSub as Handler>::State;

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<Self::State> {
        let _ = self.connects.send((peer, conn.id()));
        self.inner.on_connect(cx, conn, peer)
    }

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
        data: &[u8],
    ) -> Verdict {
        if data == b"STALL\n" {
            self.hold.here();
            return Verdict::Consumed(data.len());
        }
        self.inner.on_data(cx, conn, state, data)
    }

    fn frame_delivery(&mut self, topic: &[u8], payload: &Bytes) -> Bytes {
        self.inner.frame_delivery(topic, payload)
    }

    fn on_drain(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
    ) {
        self.inner.on_drain(cx, conn, state);
    }
}

/// A `Stalling` server, its connect reports and its gate.
struct Paced {
    /// The server.
    server: TestServer,
    /// `(peer, id)` of new clients.
    connected: Receiver<(SocketAddr, ConnId)>,
    /// Peers reported before the client that asked for them.
    seen: HashMap<SocketAddr, ConnId>,
    /// Holds a shard on `STALL`.
    gate: Gate,
}

impl Paced {
    /// Two shards with `config`'s settings.
    fn start(config: Config) -> Self {
        let (connects, connected) = unbounded();
        let (gate, hold) = Gate::new();
        let server = TestServer::start(config, move |_| Stalling {
            inner: PubSub::new(4096),
            connects: connects.clone(),
            hold: hold.clone(),
        });
        Self {
            server,
            connected,
            seen: HashMap::new(),
            gate,
        }
    }

    /// A client on shard `shard` (others made on the way are dropped).
    fn client_on(&mut self, shard: usize) -> TcpStream {
        for _ in 0..200 {
            let stream = client(self.server.addr);
            let me = stream.local_addr().expect("addr");
            while !self.seen.contains_key(&me) {
                let (peer, id) = self
                    .connected
                    .recv_timeout(DEADLINE)
                    .expect("connect reported");
                self.seen.insert(peer, id);
            }
            if self.seen[&me].shard() == shard {
                return stream;
            }
        }
        panic!("no client landed on shard {shard} in 200 tries");
    }

    /// Publishes to shard `shard` in flight now.
    fn in_flight(&self, shard: usize) -> u64 {
        self.server.handle.stats()[shard].fanout_in_flight
    }
}

/// Two shards, clients spread by the kernel's hash (steering by CPU
/// would put every client of this test's thread on one shard), with
/// `credit`.
fn two_shard_config(credit: usize) -> Config {
    Config {
        fanout_credit: credit,
        balance: Balance::ReusePort,
        ..config(2)
    }
}

/// Sends `command` and checks the reply.
fn command(stream: &mut TcpStream, command: &str, reply: &str) {
    stream
        .write_all(format!("{command}\n").as_bytes())
        .expect("send");
    assert_eq!(read_line(stream), reply, "the reply to {command}");
}

/// Two shards, a small credit, and the clients every test here needs: a
/// subscriber of `feed` and a staller on shard 1, a publisher on shard 0.
fn two_shards(credit: usize) -> (Paced, TcpStream, TcpStream, TcpStream) {
    let mut paced = Paced::start(two_shard_config(credit));
    let mut subscriber = paced.client_on(1);
    command(&mut subscriber, "SUB feed", "+OK");
    let staller = paced.client_on(1);
    let publisher = paced.client_on(0);
    (paced, subscriber, staller, publisher)
}

#[test]
fn a_publisher_is_read_no_further_while_another_shard_is_past_its_credit() {
    let (mut paced, mut subscriber, mut staller, mut publisher) = two_shards(4);
    let mut witness = paced.client_on(0);
    staller.write_all(b"STALL\n").expect("stall");
    paced.gate.wait_held();

    // Four publishes fit the credit; the fifth passes it: answered (the
    // reply to a command already run goes), and its publisher paced.
    for n in 1..=5 {
        command(&mut publisher, &format!("PUB feed {n}"), "+OK");
    }
    paced
        .server
        .wait_for_total("the publisher paced", |t| t.paced == 1);
    assert_eq!(paced.in_flight(1), 5, "shard 1 delivered nothing yet");

    // The next command waits unread: no reply, while the publisher's
    // shard goes on serving others (two round trips: rounds went by
    // after the command arrived).
    publisher.write_all(b"PUB feed 6\nPING\n").expect("send");
    command(&mut witness, "PING", "+PONG");
    command(&mut witness, "PING", "+PONG");
    assert_silent(&mut publisher, Duration::from_millis(100));
    assert_eq!(paced.in_flight(1), 5, "the sixth was not published");

    // Shard 1 delivers and pays back: the publisher goes on.
    paced.gate.open();
    assert_eq!(read_line(&mut publisher), "+OK");
    assert_eq!(read_line(&mut publisher), "+PONG");
    for n in 1..=6 {
        assert_eq!(read_line(&mut subscriber), format!("MSG feed {n}"));
    }
    wait_until(DEADLINE, "every credit paid back", || {
        paced.in_flight(1) == 0
    });
}

#[test]
fn the_handle_is_refused_not_blocked_while_a_shard_is_past_its_credit() {
    let (paced, mut subscriber, mut staller, _publisher) = two_shards(4);
    staller.write_all(b"STALL\n").expect("stall");
    paced.gate.wait_held();
    let handle = &paced.server.handle;
    for n in 1..=4 {
        assert_eq!(handle.publish(b"feed", format!("{n}")), Ok(()));
    }
    assert_eq!(
        handle.publish(b"feed", &b"refused"[..]),
        Err(SendError::NoCredit),
        "past the credit: refused at once"
    );
    paced.gate.open();
    wait_until(DEADLINE, "credit back for the handle", || {
        handle.publish(b"feed", &b"5"[..]).is_ok()
    });
    for n in 1..=5 {
        assert_eq!(read_line(&mut subscriber), format!("MSG feed {n}"));
    }
}

#[test]
fn a_flooding_publisher_never_has_more_than_the_credit_in_flight() {
    let _heavy = heavy_test();
    const CREDIT: usize = 16;
    const SUBSCRIBERS: usize = 1000;
    const MESSAGES: usize = 300;
    let server = TestServer::start(two_shard_config(CREDIT), |_| PubSub::new(1024));
    let mut subscribers: Vec<TcpStream> = (0..SUBSCRIBERS).map(|_| server.client()).collect();
    for subscriber in &mut subscribers {
        command(subscriber, "SUB feed", "+OK");
    }
    wait_until(DEADLINE, "subscribers on both shards", || {
        server.handle.stats().iter().all(|s| s.open > 100)
    });
    // Watch the credit of both shards while the flood goes on.
    let done = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (handle, done, most) = (server.handle.clone(), done.clone(), most.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                for stats in handle.stats() {
                    most.fetch_max(stats.fanout_in_flight, Ordering::Relaxed);
                }
                thread::yield_now();
            }
        })
    };
    let mut publisher = server.client();
    let mut flood = Vec::new();
    for n in 0..MESSAGES {
        flood.extend_from_slice(format!("PUB feed {n}\n").as_bytes());
    }
    // All at once: far more than the credit in one read.
    publisher.write_all(&flood).expect("flood");
    for n in 0..MESSAGES {
        assert_eq!(read_line(&mut publisher), "+OK", "reply {n}");
    }
    for (i, subscriber) in subscribers.iter_mut().enumerate() {
        let lines = read_lines(subscriber, MESSAGES);
        for (n, line) in lines.iter().enumerate() {
            assert_eq!(line, &format!("MSG feed {n}"), "subscriber {i}, in order");
        }
    }
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let most = most.load(Ordering::Relaxed) as usize;
    // One publisher stops at the publish that passed the credit.
    assert!(
        most <= CREDIT + 1,
        "{most} publishes in flight to one shard"
    );
    server.wait_for_total("the publisher was paced", |t| t.paced > 0);
}

/// Reads `count` lines at once (buffered).
fn read_lines(stream: &mut TcpStream, count: usize) -> Vec<String> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(stream);
    (0..count)
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).expect("a line");
            assert!(line.ends_with('\n'), "a whole line: {line:?}");
            line.pop();
            line
        })
        .collect()
}

/// A subscriber on shard 1 that never reads (a small receive buffer),
/// beside one that does: the publisher on shard 0 gets every reply and
/// the reader every message, and shard 1's credit is paid back while the
/// sleeper's output is still queued.
fn slow_subscriber_paces_nobody(policy: SlowSubscribers) {
    // 8.75 MB for each subscriber: more than the kernel's buffers take
    // (`tcp_wmem`'s largest send buffer is 4 MiB by default).
    const MESSAGES: usize = 2500;
    let mut paced = Paced::start(Config {
        slow_subscribers: policy,
        output_high_water: 16 * 1024,
        output_low_water: 8 * 1024,
        output_limit: 64 * 1024,
        ..two_shard_config(8)
    });
    let mut sleeper = loop {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket.set_recv_buffer_size(4096).expect("small buffer");
        socket.connect(&paced.server.addr.into()).expect("connect");
        let stream: TcpStream = socket.into();
        let me = stream.local_addr().expect("addr");
        while !paced.seen.contains_key(&me) {
            let (peer, id) = paced.connected.recv_timeout(DEADLINE).expect("reported");
            paced.seen.insert(peer, id);
        }
        if paced.seen[&me].shard() == 1 {
            break stream;
        }
    };
    sleeper.set_read_timeout(Some(DEADLINE)).expect("timeout");
    command(&mut sleeper, "SUB feed", "+OK");
    let mut reader = paced.client_on(1);
    command(&mut reader, "SUB feed", "+OK");
    let mut publisher = paced.client_on(0);
    let pad = "x".repeat(3500);
    let reading = thread::spawn(move || read_lines(&mut reader, MESSAGES));
    for chunk in (0..MESSAGES).collect::<Vec<_>>().chunks(100) {
        let mut batch = Vec::new();
        for n in chunk {
            batch.extend_from_slice(format!("PUB feed {n} {pad}\n").as_bytes());
        }
        publisher.write_all(&batch).expect("publish");
        for _ in chunk {
            assert_eq!(read_line(&mut publisher), "+OK");
        }
    }
    let lines = reading.join().expect("reader");
    for (n, line) in lines.iter().enumerate() {
        assert_eq!(line, &format!("MSG feed {n} {pad}"), "in order, none lost");
    }
    // Paid back as shard 1 wrote, not as the sleeper read: under `drop`
    // its output is still queued, under `close` it was closed for it.
    let handle = &paced.server.handle;
    let what = format!("shard 1's credit paid back, the sleeper behind ({policy:?})");
    wait_until(DEADLINE, &what, || {
        let shard = handle.stats()[1];
        shard.fanout_in_flight == 0
            && match policy {
                SlowSubscribers::Drop => shard.dropped_slow > 0 && shard.queued_out > 0,
                _ => shard.output_overflow_closed == 1,
            }
    });
    drop(sleeper);
}

#[test]
fn a_slow_subscriber_under_drop_paces_nobody() {
    slow_subscriber_paces_nobody(SlowSubscribers::Drop);
}

#[test]
fn a_slow_subscriber_under_close_paces_nobody() {
    slow_subscriber_paces_nobody(SlowSubscribers::Close);
}
