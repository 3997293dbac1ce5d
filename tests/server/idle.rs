//! Idle and dead clients: the idle timeout closes a silent client with
//! `CloseReason::IdleTimeout` while an active one stays; keepalive and
//! `TCP_USER_TIMEOUT` are set on every accepted socket; and the idle
//! bookkeeping never cuts a graceful close short.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam::channel::{unbounded, Receiver, Sender};
use esockets::{
    Admission, CloseReason, Config, Conn, ConnId, Handler, Keepalive, ShardContext, Verdict,
};
use socket2::SockRef;

use crate::util::{config, pattern, read_to_close, round_trip, TestServer, DEADLINE};

/// Echo that reports each client's id as it connects and its close.
struct Report {
    /// Where `(peer, id)` of new clients go.
    connects: Sender<(SocketAddr, ConnId)>,
    /// Where `(id, reason)` of closed clients go.
    closes: Sender<(ConnId, CloseReason)>,
}

impl Handler for Report {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<()> {
        let _ = self.connects.send((peer, conn.id()));
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        conn.send(data);
        Verdict::Consumed(data.len())
    }

    fn on_close(&mut self, _cx: &mut ShardContext<'_>, id: ConnId, _state: (), why: CloseReason) {
        let _ = self.closes.send((id, why));
    }
}

/// The id the server gave the client `stream`.
fn id_of(stream: &TcpStream, connected: &Receiver<(SocketAddr, ConnId)>) -> ConnId {
    let (peer, id) = connected.recv_timeout(DEADLINE).expect("connect reported");
    assert_eq!(
        peer,
        stream.local_addr().expect("addr"),
        "reports come in order"
    );
    id
}

/// The shard's clock counts whole milliseconds, read once per loop
/// round: an idle close may come up to this much before the exact
/// timeout after the last input.
const RESOLUTION: Duration = Duration::from_millis(2);

#[test]
fn the_idle_timeout_closes_a_silent_client_and_keeps_an_active_one() {
    // Long enough that the active client's pauses (a sleep of an eighth of
    // it, plus a round trip) stay far below it on a loaded machine.
    const IDLE: Duration = Duration::from_millis(400);
    let (connects, connected) = unbounded();
    let (closes, closed) = unbounded();
    let server = TestServer::start(
        Config {
            idle_timeout: Some(IDLE),
            ..config(1)
        },
        move |_| Report {
            connects: connects.clone(),
            closes: closes.clone(),
        },
    );
    let before_connect = Instant::now();
    let mut silent = server.client();
    let silent_id = id_of(&silent, &connected);
    let mut active = server.client();
    let active_id = id_of(&active, &connected);

    // The silent client waits for its close on a thread of its own; the
    // active one sends every eighth of the timeout meanwhile.
    let waiter = thread::spawn(move || {
        let got = read_to_close(&mut silent, 0);
        (got, before_connect.elapsed())
    });
    let mut exchanges = 0;
    while before_connect.elapsed() < IDLE * 5 / 2 {
        round_trip(&mut active, format!("ping {exchanges}\n").as_bytes());
        exchanges += 1;
        thread::sleep(IDLE / 8);
    }
    let (got, silent_for) = waiter.join().expect("silent client");
    assert!(
        got.is_empty(),
        "the silent client got nothing but its close"
    );
    assert!(
        silent_for >= IDLE - RESOLUTION && silent_for < IDLE + Duration::from_secs(1),
        "the silent client was closed {silent_for:?} after connecting, idle timeout {IDLE:?}"
    );
    assert_eq!(
        closed.recv_timeout(DEADLINE).expect("close reported"),
        (silent_id, CloseReason::IdleTimeout)
    );
    assert!(
        closed.try_recv().is_err(),
        "only the silent client closed, after {exchanges} exchanges of the active one"
    );
    // Its last input is read after this instant.
    let quiet_from = Instant::now();
    round_trip(&mut active, b"still served\n");
    server.wait_for_total("one idle close counted", |total| {
        total.idle_closed == 1 && total.closed == 1 && total.open == 1
    });

    // Once silent, the active client is closed the same way.
    assert!(read_to_close(&mut active, 0).is_empty());
    let quiet_for = quiet_from.elapsed();
    assert!(
        quiet_for >= IDLE - RESOLUTION,
        "closed {quiet_for:?} after its last input, idle timeout {IDLE:?}"
    );
    assert_eq!(
        closed.recv_timeout(DEADLINE).expect("close reported"),
        (active_id, CloseReason::IdleTimeout)
    );
    server.wait_for_total("two idle closes counted", |total| {
        total.idle_closed == 2 && total.open == 0
    });
}

/// Socket options read back on an accepted socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Options {
    /// `SO_KEEPALIVE`.
    keepalive: bool,
    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT` when keepalive is on.
    probes: Option<(Duration, Duration, u32)>,
    /// `TCP_USER_TIMEOUT`.
    user_timeout: Option<Duration>,
    /// `TCP_NODELAY`.
    nodelay: bool,
}

/// Reads every client's socket options in `on_connect` and reports them
/// with the shard's index.
struct ReadOptions {
    /// Where `(shard, options)` go.
    reports: Sender<(usize, Options)>,
}

impl Handler for ReadOptions {
    type State = ();

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        let fd = conn.socket().expect("a socket");
        let socket = SockRef::from(&fd);
        let keepalive = socket.keepalive().expect("SO_KEEPALIVE");
        let probes = keepalive.then(|| {
            (
                socket.keepalive_time().expect("TCP_KEEPIDLE"),
                socket.keepalive_interval().expect("TCP_KEEPINTVL"),
                socket.keepalive_retries().expect("TCP_KEEPCNT"),
            )
        });
        let options = Options {
            keepalive,
            probes,
            user_timeout: socket.tcp_user_timeout().expect("TCP_USER_TIMEOUT"),
            nodelay: socket.nodelay().expect("TCP_NODELAY"),
        };
        let _ = self.reports.send((cx.shard(), options));
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        Verdict::Consumed(data.len())
    }
}

/// Starts a two-shard server with `keepalive` and `user_timeout`, connects
/// clients until each shard has accepted one, and asserts every accepted
/// socket shows `expected`.
fn check_options(keepalive: Option<Keepalive>, user_timeout: Option<Duration>, expected: Options) {
    let (reports, reported) = unbounded();
    let server = TestServer::start(
        Config {
            keepalive,
            user_timeout,
            // The hash spreads this thread's clients over both shards
            // (steering would give them all to its CPU's shard).
            balance: esockets::Balance::ReusePort,
            ..config(2)
        },
        move |_| ReadOptions {
            reports: reports.clone(),
        },
    );
    let mut seen = [0; 2];
    let mut clients = Vec::new();
    while seen.contains(&0) {
        assert!(
            clients.len() < 100,
            "100 clients all went to one shard: {seen:?}"
        );
        clients.push(server.client());
        let (shard, options) = reported.recv_timeout(DEADLINE).expect("options reported");
        assert_eq!(
            options, expected,
            "socket options of a client of shard {shard}"
        );
        seen[shard] += 1;
    }
}

#[test]
fn keepalive_and_user_timeout_are_set_on_accepted_sockets() {
    check_options(
        Some(Keepalive {
            idle: Duration::from_secs(45),
            interval: Duration::from_secs(7),
            count: 4,
        }),
        Some(Duration::from_secs(12)),
        Options {
            keepalive: true,
            probes: Some((Duration::from_secs(45), Duration::from_secs(7), 4)),
            user_timeout: Some(Duration::from_secs(12)),
            nodelay: true,
        },
    );
}

#[test]
fn keepalive_after_probes_every_ten_seconds_six_times() {
    check_options(
        Some(Keepalive::after(Duration::from_secs(30))),
        None,
        Options {
            keepalive: true,
            probes: Some((Duration::from_secs(30), Duration::from_secs(10), 6)),
            user_timeout: None,
            nodelay: true,
        },
    );
}

#[test]
fn no_keepalive_and_no_user_timeout_by_default() {
    check_options(
        None,
        None,
        Options {
            keepalive: false,
            probes: None,
            user_timeout: None,
            nodelay: true,
        },
    );
}

/// Size of the reply `BigReply` sends before closing.
const BIG: usize = 8 * 1024 * 1024;

/// Answers a client's first byte with `BIG` bytes of `pattern(BIG, 1)`,
/// and closes it (gracefully: after the reply).
struct BigReply;

impl Handler for BigReply {
    type State = ();

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        _data: &[u8],
    ) -> Verdict {
        conn.send_bytes(pattern(BIG, 1));
        Verdict::Close
    }
}

/// A client asks for the big reply, reads it slowly and keeps sending a
/// byte every millisecond meanwhile; returns what it read before the
/// close.
fn slow_reader_that_keeps_talking(addr: SocketAddr) -> Vec<u8> {
    let mut stream = crate::util::client(addr);
    stream.write_all(b"!").expect("ask");
    let done = Arc::new(AtomicBool::new(false));
    let mut talker = stream.try_clone().expect("clone");
    let talking = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            // Errors are expected once the server has closed.
            while !done.load(Ordering::Relaxed) && talker.write_all(b".").is_ok() {
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let mut got = Vec::with_capacity(BIG);
    let mut buf = vec![0; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                eprintln!("read ended with {err} after {} bytes", got.len());
                break;
            }
        }
        // A slow reader: the reply takes about half a second to read.
        thread::sleep(Duration::from_micros(500));
    }
    done.store(true, Ordering::Relaxed);
    talking.join().expect("talker");
    got
}

#[test]
fn a_graceful_close_delivers_everything_with_the_idle_timeout_on() {
    let expected = pattern(BIG, 1);
    for idle_timeout in [None, Some(Duration::from_secs(10))] {
        let server = TestServer::start(
            Config {
                idle_timeout,
                ..config(1)
            },
            |_| BigReply,
        );
        let started = Instant::now();
        let got = slow_reader_that_keeps_talking(server.addr);
        assert_eq!(
            got.len(),
            BIG,
            "bytes of the reply delivered before the close, idle timeout {idle_timeout:?}"
        );
        assert!(
            got == expected,
            "the reply differs, idle timeout {idle_timeout:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "within the close timeout"
        );
    }
}

/// The thread writing a client's whole input.
type Writer = thread::JoinHandle<std::io::Result<()>>;

/// An echo server with a small high-water mark and a 300 ms idle timeout,
/// and a client that sends 8 MiB from another thread without reading.
fn paused_client() -> (TestServer, TcpStream, Vec<u8>, Writer) {
    let config = Config {
        idle_timeout: Some(Duration::from_millis(300)),
        output_high_water: 64 * 1024,
        output_low_water: 16 * 1024,
        ..config(1)
    };
    let server = TestServer::start(config, |_| esockets::protocols::Echo);
    // The payload is made before the client connects: in a debug build on
    // a busy machine, making 8 MiB can take longer than the idle timeout.
    let data = pattern(8 * 1024 * 1024, 11);
    let sent = data.clone();
    let stream = server.client();
    let mut writer = stream.try_clone().expect("clone");
    let sender = thread::spawn(move || writer.write_all(&sent));
    server.wait_for_total("the echo began", |total| total.bytes_out > 0);
    (server, stream, data, sender)
}

#[test]
fn a_paused_client_that_keeps_reading_is_not_idle() {
    let (server, mut stream, data, sender) = paused_client();
    // Past the high-water mark the server stops reading the client; it
    // reads its echo slowly (256 KiB every 100 ms, a third of the idle
    // timeout). Nothing new arrives for longer than the idle timeout, but
    // output is on its way to it all along: it is not idle.
    let mut echoed = Vec::with_capacity(data.len());
    let mut chunk = vec![0; 256 * 1024];
    while echoed.len() < data.len() {
        let want = chunk.len().min(data.len() - echoed.len());
        stream
            .read_exact(&mut chunk[..want])
            .expect("the slowly reading client was not closed as idle");
        echoed.extend_from_slice(&chunk[..want]);
        thread::sleep(Duration::from_millis(100)); // the pace under test
    }
    // Every byte came back: the client was not cut off while output was on
    // its way. (Once the kernel has handed the last of it to the client's
    // own buffer, the client, silent, may be closed as idle: gracefully,
    // after that data.)
    assert!(echoed == data, "echo differs");
    sender.join().expect("writer").expect("every byte sent");
    drop(server);
}
