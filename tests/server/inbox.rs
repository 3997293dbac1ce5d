//! The inbox: bounded, with `SendError::InboxFull` when full; and a flood
//! of a million `ServerHandle::send`s to one client keeps the shard's
//! other clients served, memory bounded, and delivers every message in
//! order.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam::channel::{bounded, unbounded, Receiver, Sender};
use esockets::{Admission, Config, Conn, ConnId, Handler, SendError, ShardContext, Verdict};

use crate::util::{
    heavy_test, read_exact, read_line, round_trip, run_child, Gate, Hold, TestServer, DEADLINE,
};

/// Echo that reports each client's id, and that blocks its shard in
/// `on_data` on the message `block` until the test releases it.
struct Blocker {
    /// Where `(peer, id)` of new clients go.
    connects: Sender<(SocketAddr, ConnId)>,
    /// Holds the shard until the test lets it go.
    hold: Hold,
}

impl Handler for Blocker {
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
        if data == b"block" {
            self.hold.here();
            conn.send(b"released\n");
        } else {
            conn.send(data);
        }
        Verdict::Consumed(data.len())
    }
}

/// Channels to a `Blocker` server: its connect reports, and the gate
/// that holds its shard.
struct BlockerControl {
    /// `(peer, id)` of new clients.
    connected: Receiver<(SocketAddr, ConnId)>,
    /// Says when the shard is held; lets it go.
    gate: Gate,
}

/// A `Blocker` server with `config`.
fn blocker(config: Config) -> (TestServer, BlockerControl) {
    let (connects, connected) = unbounded();
    let (gate, hold) = Gate::new();
    let server = TestServer::start(config, move |_| Blocker {
        connects: connects.clone(),
        hold: hold.clone(),
    });
    let control = BlockerControl { connected, gate };
    (server, control)
}

/// Connects a client and learns its id.
fn connect(server: &TestServer, connected: &Receiver<(SocketAddr, ConnId)>) -> (TcpStream, ConnId) {
    let stream = server.client();
    let (peer, id) = connected.recv_timeout(DEADLINE).expect("connect reported");
    assert_eq!(peer, stream.local_addr().expect("addr"));
    (stream, id)
}

#[test]
fn a_full_inbox_refuses_with_inbox_full() {
    const CAPACITY: usize = 4;
    let (server, control) = blocker(Config {
        inbox_capacity: CAPACITY,
        ..crate::util::config(1)
    });
    let (mut stream, id) = connect(&server, &control.connected);
    std::io::Write::write_all(&mut stream, b"block").expect("write");
    control.gate.wait_held();

    for digit in b'1'..b'1' + CAPACITY as u8 {
        assert_eq!(
            server.handle.send(id, vec![digit]),
            Ok(()),
            "room for {CAPACITY}"
        );
    }
    assert_eq!(
        server.handle.send(id, &b"x"[..]),
        Err(SendError::InboxFull),
        "a send past the capacity"
    );
    assert_eq!(
        server.handle.close(id),
        Err(SendError::InboxFull),
        "a close past the capacity"
    );
    control.gate.open();
    assert_eq!(read_line(&mut stream), "released");
    // What was queued arrives, in order; what was refused does not.
    assert_eq!(read_exact(&mut stream, CAPACITY), b"1234");
    assert_eq!(server.handle.send(id, &b"5"[..]), Ok(()), "room again");
    assert_eq!(read_exact(&mut stream, 1), b"5");
    round_trip(&mut stream, b"and not closed\n");
}

/// Messages in the flood.
const FLOOD: usize = 1_000_000;

/// Size of one flood message: a zero-padded sequence number and `\n`.
const MESSAGE: usize = 16;

/// The `i`th flood message.
fn message(i: usize) -> Bytes {
    Bytes::from(format!("{i:015}\n"))
}

/// The environment variable that makes `flood_child` act.
const FLOOD_ENV: &str = "ESOCKETS_TEST_INBOX_FLOOD";

/// This process's resident memory, in KiB (`VmRSS` in `/proc/self/status`).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Reads the flood on `stream`: every message, in order. Returns the
/// messages read.
fn read_flood(mut stream: TcpStream) -> usize {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = Vec::with_capacity(MESSAGE);
    let mut next = 0;
    while next < FLOOD {
        let n = match stream.read(&mut buf) {
            Ok(0) => panic!("closed after {next} messages of the flood"),
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => panic!("reading the flood after {next} messages: {err}"),
        };
        for &byte in &buf[..n] {
            pending.push(byte);
            if pending.len() == MESSAGE {
                assert!(
                    pending[..] == message(next)[..],
                    "message {next} of the flood is {:?}",
                    String::from_utf8_lossy(&pending)
                );
                next += 1;
                pending.clear();
            }
        }
    }
    next
}

/// Not a test on its own: the body of
/// `a_flood_of_sends_keeps_other_clients_served_and_memory_bounded`, run
/// in a child process so that no other test's memory is counted in its
/// resident size. Without its environment variable it does nothing.
#[test]
#[ignore = "run by a_flood_of_sends_keeps_other_clients_served_and_memory_bounded"]
fn flood_child() {
    if std::env::var(FLOOD_ENV).is_err() {
        return;
    }
    let (server, control) = blocker(crate::util::config(1));
    let (flooded, flooded_id) = connect(&server, &control.connected);
    let (mut other, _) = connect(&server, &control.connected);
    round_trip(&mut other, b"warm up\n");
    let baseline = rss_kib();

    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib());
                thread::sleep(Duration::from_millis(2));
            }
            peak.max(rss_kib())
        })
    };
    let reader = thread::spawn(move || read_flood(flooded));
    let (started_tx, started) = bounded(1);
    let sender = {
        let handle = server.handle.clone();
        thread::spawn(move || {
            let began = Instant::now();
            let _ = started_tx.send(());
            let mut full = 0u64;
            for i in 0..FLOOD {
                loop {
                    match handle.send(flooded_id, message(i)) {
                        Ok(()) => break,
                        Err(SendError::InboxFull) => {
                            full += 1;
                            thread::yield_now();
                        }
                        Err(err) => panic!("send {i} of the flood: {err}"),
                    }
                }
            }
            (full, began.elapsed())
        })
    };
    started.recv_timeout(DEADLINE).expect("the flood starts");

    // Round trips of the other client while the flood goes on.
    let mut latencies = Vec::new();
    while !sender.is_finished() {
        let began = Instant::now();
        round_trip(&mut other, format!("ping {}\n", latencies.len()).as_bytes());
        latencies.push(began.elapsed());
    }
    let during = latencies.len();
    let (full, sending) = sender.join().expect("sender");
    let delivered = reader.join().expect("flooded client");
    done.store(true, Ordering::Relaxed);
    let peak = watcher.join().expect("memory watcher");
    round_trip(&mut other, b"after the flood\n");
    latencies.sort();
    let max = latencies.last().copied().unwrap_or_default();
    let median = latencies.get(during / 2).copied().unwrap_or_default();
    let p90 = latencies.get(during * 9 / 10).copied().unwrap_or_default();
    println!(
        "flood: {FLOOD} sends in {sending:?}, {full} refusals (inbox full); \
         {delivered} delivered; other client: {during} round trips during it, \
         median {median:?}, 90th percentile {p90:?}, max {max:?}; \
         RSS {baseline} KiB before, peak {peak} KiB"
    );

    assert_eq!(delivered, FLOOD, "the flooded client got every message");
    assert!(
        during >= 10,
        "the other client completed only {during} round trips in {sending:?}"
    );
    // The shard runs at most 1,024 commands a round before serving its
    // clients again (a few milliseconds of writes here); draining a full
    // inbox in one round would hold a round trip for thousands of them, over
    // 100 ms (measured without the budget: median 320 ms, 5 round trips
    // in all). The maximum is printed, not asserted: on a loaded machine
    // (load 9 on 2 cores) a single round trip in a few hundred sometimes
    // took 1 to 4 s, with the median still at a few ms.
    assert!(
        median < Duration::from_millis(50) && p90 < Duration::from_millis(250),
        "round trips of the other client during the flood: median {median:?}, \
         90th percentile {p90:?}, max {max:?}"
    );
    // Bound: a full inbox (8,192 commands of 56 bytes, each with its
    // 16-byte payload in a 32-byte allocation: under 1 MiB) plus the whole
    // flood queued for the flooded client at once (16 MB), plus slack for
    // the allocator: 40 MiB (seen: 3 MiB usually, 27 MiB once on a loaded
    // machine, where the flooded client's reader fell behind). An
    // unbounded inbox holding the flood takes far more (measured: 46 MiB
    // more than here, plus 105 MiB for its preallocated queue).
    let grown = peak.saturating_sub(baseline);
    assert!(
        grown < 40 * 1024,
        "resident memory grew by {grown} KiB during the flood ({baseline} -> {peak})"
    );
}

#[test]
fn a_flood_of_sends_keeps_other_clients_served_and_memory_bounded() {
    let _heavy = heavy_test();
    let out = run_child(
        "inbox::flood_child",
        FLOOD_ENV,
        "1",
        Duration::from_secs(60),
    );
    let summary = out
        .lines()
        .find_map(|line| line.find("flood:").map(|at| &line[at..]))
        .unwrap_or_else(|| panic!("no summary from the child:\n{out}"));
    println!("{summary}");
}

/// Echo that, on `stop`, shuts the whole server down from its handler
/// (as a Redis-like `SHUTDOWN` command would), after holding its shard
/// until the test releases it.
struct StopOnCommand {
    /// Where `(peer, id)` of new clients go.
    connects: Sender<(SocketAddr, ConnId)>,
    /// Holds the shard until the test lets it go.
    hold: Hold,
}

impl Handler for StopOnCommand {
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
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        if data == b"stop" {
            self.hold.here();
            cx.server().shutdown();
            conn.send(b"stopping\n");
        }
        Verdict::Consumed(data.len())
    }
}

/// The environment variable that makes `shutdown_from_a_handler_child` act.
const STOP_ENV: &str = "ESOCKETS_TEST_INBOX_STOP";

/// Not a test on its own: the body of
/// `a_handler_shuts_down_its_own_shard_with_its_inbox_full`, in a child
/// process, because the failure it looks for is a deadlock of the shard
/// thread, which no test in this process could end.
#[test]
#[ignore = "run by a_handler_shuts_down_its_own_shard_with_its_inbox_full"]
fn shutdown_from_a_handler_child() {
    if std::env::var(STOP_ENV).is_err() {
        return;
    }
    let (connects, connected) = unbounded();
    let (gate, hold) = Gate::new();
    let server = TestServer::start(
        Config {
            inbox_capacity: 1,
            ..crate::util::config(1)
        },
        move |_| StopOnCommand {
            connects: connects.clone(),
            hold: hold.clone(),
        },
    );
    let (mut stream, id) = connect(&server, &connected);
    std::io::Write::write_all(&mut stream, b"stop").expect("write");
    gate.wait_held();
    assert_eq!(server.handle.send(id, &b"queued\n"[..]), Ok(()));
    assert_eq!(
        server.handle.send(id, &b"x"[..]),
        Err(SendError::InboxFull),
        "the shard's inbox is full"
    );
    gate.open();
    // The shutdown goes through: what was queued arrives, then the close.
    crate::util::expect_clean_close(&mut stream, b"stopping\nqueued\n");
    server.stop().expect("clean shutdown");
    println!("shut down from the handler");
}

#[test]
fn a_handler_shuts_down_its_own_shard_with_its_inbox_full() {
    let out = run_child(
        "inbox::shutdown_from_a_handler_child",
        STOP_ENV,
        "1",
        Duration::from_secs(20),
    );
    assert!(out.contains("shut down from the handler"), "{out}");
}
