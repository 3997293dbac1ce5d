//! Shutdown with clients queued in the accept backlog: the shard accepts
//! every client the kernel queued before it closes its listener, greets
//! them, says goodbye (`on_shutting_down`), and closes them gracefully. None of them sees a reset. And
//! clients that keep arriving do not keep the shard accepting for ever.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam::channel::{unbounded, Sender};
use esockets::{Admission, CloseReason, Config, Conn, ConnId, Handler, ShardContext, Verdict};

use crate::util::{
    client, config, expect_clean_close, heavy_test, Gate, Hold, TestServer, DEADLINE,
};

/// Clients that wait in the backlog while the shard is busy.
const QUEUED: usize = 1_000;

/// Greets each client with `hello`; on `block`, holds its shard in
/// `on_data` until the test releases it, then answers `released`. Says
/// `bye` to every client when shutdown begins. Reports every close.
struct Greeter {
    /// Holds the shard until the test lets it go.
    hold: Hold,
    /// Where `(id, reason)` of closed clients go.
    closes: Sender<(ConnId, CloseReason)>,
}

impl Handler for Greeter {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        conn.send(b"hello\n");
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        if data == b"block" {
            self.hold.here();
            conn.send(b"released\n");
        }
        Verdict::Consumed(data.len())
    }

    fn on_shutting_down(&mut self, cx: &mut ShardContext<'_>) {
        cx.send_to_all(&b"bye\n"[..]);
    }

    fn on_close(&mut self, _cx: &mut ShardContext<'_>, id: ConnId, _state: (), why: CloseReason) {
        let _ = self.closes.send((id, why));
    }
}

#[test]
fn shutdown_resets_none_of_the_clients_queued_in_the_backlog() {
    let somaxconn = esockets::somaxconn();
    assert!(
        somaxconn.is_some_and(|max| max as usize >= QUEUED),
        "net.core.somaxconn is {somaxconn:?}: this test queues {QUEUED} clients in one \
         listener's backlog, which the kernel caps at somaxconn (+1); raise it \
         (sysctl -w net.core.somaxconn=4096)"
    );
    let _fds = heavy_test();
    let (gate, hold) = Gate::new();
    let (closes, closed) = unbounded();
    let server = TestServer::start(
        Config {
            backlog: 4096,
            ..config(1)
        },
        move |_| Greeter {
            hold: hold.clone(),
            closes: closes.clone(),
        },
    );
    let mut first = server.client();
    expect_line(&mut first, b"hello\n");
    first.write_all(b"block").expect("write");
    gate.wait_held();

    // The kernel completes these connections while the shard is held.
    let mut queued: Vec<TcpStream> = (0..QUEUED).map(|_| client(server.addr)).collect();
    assert_eq!(
        server.total().accepted,
        1,
        "the shard is held: the others wait in its backlog"
    );
    server.handle.shutdown();
    gate.open();

    // Each was accepted before the listener closed, so it is greeted, and
    // told goodbye by `on_shutting_down`. `expect_clean_close` fails on a
    // reset.
    for stream in &mut queued {
        expect_clean_close(stream, b"hello\nbye\n");
    }
    expect_clean_close(&mut first, b"released\nbye\n");
    let handle = server.handle.clone();
    server.stop().expect("clean shutdown");
    let total: esockets::ShardStats = handle.stats().into_iter().sum();
    assert_eq!(total.accepted, QUEUED as u64 + 1, "{total:?}");
    assert_eq!(total.closed, QUEUED as u64 + 1, "{total:?}");
    let reasons: Vec<CloseReason> = closed.try_iter().map(|(_, why)| why).collect();
    assert_eq!(reasons.len(), QUEUED + 1);
    assert!(
        reasons.iter().all(|&why| why == CloseReason::Shutdown),
        "every client closed by the shutdown: {:?}",
        reasons.iter().find(|&&why| why != CloseReason::Shutdown)
    );
}

/// Reads exactly `line`.
fn expect_line(stream: &mut TcpStream, line: &[u8]) {
    assert_eq!(crate::util::read_exact(stream, line.len()), line);
}

/// Greets each client; once `slow` is set, after a slow `on_connect` (5 ms
/// of work), slower than clients arrive in
/// `shutdown_ends_while_clients_keep_arriving`. On `block`, holds its
/// shard until the test releases it.
struct SlowGreeter {
    /// Whether `on_connect` is slow.
    slow: Arc<AtomicBool>,
    /// Holds the shard until the test lets it go.
    hold: Hold,
}

impl Handler for SlowGreeter {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        if self.slow.load(Ordering::Relaxed) {
            // Stands for real work (a handshake, a lookup), not waiting.
            thread::sleep(Duration::from_millis(5));
        }
        conn.send(b"hello\n");
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        if data == b"block" {
            self.hold.here();
        }
        Verdict::Consumed(data.len())
    }
}

#[test]
fn shutdown_ends_while_clients_keep_arriving() {
    const STREAM_FOR: Duration = Duration::from_secs(3);
    let slow = Arc::new(AtomicBool::new(false));
    let (gate, hold) = Gate::new();
    let server = {
        let slow = Arc::clone(&slow);
        // One accept per loop round: the shard takes the shutdown command
        // after one accept at most, not after a whole budget of them.
        let config = Config {
            accept_budget: 1,
            ..config(1)
        };
        TestServer::start(config, move |_| SlowGreeter {
            slow: Arc::clone(&slow),
            hold: hold.clone(),
        })
    };
    let addr = server.addr;
    let mut first = server.client();
    assert_eq!(crate::util::read_line(&mut first), "hello");
    first.write_all(b"block").expect("write");
    gate.wait_held();

    // Clients arrive every millisecond or so (each connects and leaves)
    // until the listener is gone; the first ones queue while the shard is
    // held.
    let connected = Arc::new(AtomicU64::new(0));
    let arrivals = {
        let connected = Arc::clone(&connected);
        thread::spawn(move || {
            let end = Instant::now() + STREAM_FOR;
            while Instant::now() < end {
                match TcpStream::connect(addr) {
                    Ok(_) => connected.fetch_add(1, Ordering::Relaxed),
                    Err(err) if err.kind() == ErrorKind::ConnectionRefused => {
                        return Some(Instant::now());
                    }
                    Err(err) => panic!("a client: {err}"),
                };
                // Paces the stream, so the backlog does not overflow.
                thread::sleep(Duration::from_millis(1));
            }
            None
        })
    };
    // A few: each takes the shard 5 ms (and, on a loaded machine, a wait
    // for a core) to accept at shutdown.
    crate::util::wait_until(DEADLINE, "5 clients queued", || {
        connected.load(Ordering::Relaxed) >= 5
    });
    // From now on the shard takes clients more slowly than they arrive:
    // the queue never empties.
    slow.store(true, Ordering::Relaxed);
    let server = server.take();
    let began = Instant::now();
    server.shutdown();
    gate.open();
    let refused_at = arrivals.join().expect("arrivals").unwrap_or_else(|| {
        panic!(
            "the listener was still open {STREAM_FOR:?} after shutdown began, \
             {} clients later; accepted so far: {}",
            connected.load(Ordering::Relaxed),
            server.stats()[0].accepted
        )
    });
    let closed_after = refused_at - began;
    assert!(
        closed_after < Duration::from_secs(2),
        "the listener closed {closed_after:?} after shutdown began"
    );
    server.join().expect("clean shutdown");
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "the shutdown took {:?}",
        began.elapsed()
    );
}
