//! Shutdown: output queued for clients that were not reading is delivered
//! before the close, `join` succeeds, a second shutdown is harmless, and
//! new clients are refused afterwards.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use esockets::{Admission, CloseReason, Config, Conn, ConnId, Handler, ShardContext, Verdict};

use crate::util::{
    client, config, expect_clean_close, pattern, round_trip, wait_until, TestServer, DEADLINE,
};

/// Clients with output pending at shutdown.
const CLIENTS: usize = 12;

/// What the server sends each client as it connects.
const BLOB: usize = 4 * 1024 * 1024;

/// What the blob handlers observed, shared by the shards.
#[derive(Default)]
struct Observed {
    /// Clients whose blob did not all fit in the kernel at once.
    queued: AtomicUsize,
    /// Clients closed with `CloseReason::Shutdown`.
    shut: AtomicUsize,
    /// Clients closed for any other reason.
    other: AtomicUsize,
    /// Shards that began shutting down (and so closed their listener).
    shutting_down: AtomicUsize,
}

/// Sends every new client a 4 MiB blob (seeded by its port) at once.
struct Blob(Arc<Observed>);

impl Handler for Blob {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<()> {
        conn.send_bytes(pattern(BLOB, u64::from(peer.port())));
        if conn.queued() > 0 {
            self.0.queued.fetch_add(1, Ordering::Relaxed);
        }
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

    fn on_close(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _id: ConnId,
        _state: (),
        reason: CloseReason,
    ) {
        let counter = if reason == CloseReason::Shutdown {
            &self.0.shut
        } else {
            &self.0.other
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn on_shutting_down(&mut self, _cx: &mut ShardContext<'_>) {
        self.0.shutting_down.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether connecting to `addr` is refused now.
fn refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(_) => false,
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
            true
        }
    }
}

#[test]
fn shutdown_delivers_queued_output_then_closes() {
    let config = Config {
        close_timeout: Duration::from_secs(20),
        ..config(2)
    };
    let close_timeout = config.close_timeout;
    let observed = Arc::new(Observed::default());
    let shared = Arc::clone(&observed);
    let server = TestServer::start(config, move |_| Blob(Arc::clone(&shared)));
    let addr = server.addr;
    let handle = server.handle.clone();
    let clients: Vec<TcpStream> = (0..CLIENTS).map(|_| client(addr)).collect();
    server.wait_for_total("every client connected", |total| {
        total.accepted == CLIENTS as u64
    });
    // A 4 MiB blob does not fit in a new connection's socket buffers.
    assert_eq!(
        observed.queued.load(Ordering::Relaxed),
        CLIENTS,
        "every blob must wait in the server's queue, beyond the socket buffers"
    );

    let server = server.take();
    let started = Instant::now();
    server.shutdown();
    handle.shutdown(); // a second one changes nothing
                       // Clients only start reading now.
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut stream| {
            thread::spawn(move || {
                let port = stream.local_addr().expect("addr").port();
                expect_clean_close(&mut stream, &pattern(BLOB, u64::from(port)));
            })
        })
        .collect();
    // Shutdown is asynchronous: a client that connected before a shard
    // took the command would be accepted (and then close, for another
    // reason than the shutdown). Probe once every shard has begun.
    wait_until(DEADLINE, "every shard shutting down", || {
        observed.shutting_down.load(Ordering::Relaxed) == 2
    });
    wait_until(DEADLINE, "new clients refused after shutdown", || {
        refused(addr)
    });
    for reader in readers {
        reader
            .join()
            .expect("client got its whole blob, then end of stream");
    }
    server.join().expect("clean join");
    assert!(
        started.elapsed() < close_timeout,
        "drained before the deadline"
    );
    assert_eq!(observed.shut.load(Ordering::Relaxed), CLIENTS);
    assert_eq!(observed.other.load(Ordering::Relaxed), 0);
    handle.shutdown(); // and one after the end is harmless too
    assert!(refused(addr), "still refused after join");
    let stats = handle.stats().into_iter().sum::<esockets::ShardStats>();
    assert_eq!(stats.bytes_out, (CLIENTS * BLOB) as u64, "{stats:?}");
    assert_eq!((stats.open, stats.closed), (0, CLIENTS as u64), "{stats:?}");
    assert_eq!(
        stats.cut_off, 0,
        "every client took all it was owed: {stats:?}"
    );
}

#[test]
fn idle_clients_see_end_of_stream_at_shutdown() {
    let server = TestServer::echo(2);
    let mut clients: Vec<TcpStream> = (0..8).map(|_| server.client()).collect();
    for stream in &mut clients {
        round_trip(stream, b"hi\n");
    }
    let addr = server.addr;
    server.stop().expect("clean join");
    for stream in &mut clients {
        expect_clean_close(stream, b"");
    }
    assert!(refused(addr));
}

#[test]
fn dropping_a_server_shuts_it_down() {
    let server = TestServer::echo(2);
    let mut stream = server.client();
    round_trip(&mut stream, b"hi\n");
    let addr = server.addr;
    let server = server.take();
    drop(server);
    expect_clean_close(&mut stream, b"");
    assert!(refused(addr));
}

#[test]
fn the_drain_deadline_closes_clients_that_never_read() {
    let config = Config {
        close_timeout: Duration::from_millis(300),
        ..config(1)
    };
    let observed = Arc::new(Observed::default());
    let shared = Arc::clone(&observed);
    let server = TestServer::start(config, move |_| Blob(Arc::clone(&shared)));
    let stream = server.client();
    server.wait_for_total("client connected", |total| total.accepted == 1);
    assert_eq!(
        observed.queued.load(Ordering::Relaxed),
        1,
        "output is queued"
    );
    let started = Instant::now();
    let handle = server.handle.clone();
    server.stop().expect("clean join");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "join after {took:?}"
    );
    assert_eq!(observed.shut.load(Ordering::Relaxed), 1);
    let stats = handle.stats().into_iter().sum::<esockets::ShardStats>();
    assert_eq!(
        stats.cut_off, 1,
        "the client owed 4 MiB was cut off: {stats:?}"
    );
    drop(stream);
}

/// Bytes each streaming client sends at most.
const STREAM: usize = 16 * 1024 * 1024;

/// A client that keeps sending (from its own thread) until `STREAM` bytes
/// or an error; returns its socket, the writer and the bytes written.
fn streaming_client(addr: SocketAddr, seed: u64) -> (TcpStream, JoinHandle<()>, Arc<AtomicUsize>) {
    let stream = client(addr);
    let mut writer = stream.try_clone().expect("clone");
    let written = Arc::new(AtomicUsize::new(0));
    let progress = Arc::clone(&written);
    let writing = thread::spawn(move || {
        let data = pattern(STREAM, seed);
        for chunk in data.chunks(64 * 1024) {
            if writer.write_all(chunk).is_err() {
                return;
            }
            progress.fetch_add(chunk.len(), Ordering::Relaxed);
        }
        // Done sending: the lingering server closes at this end of stream
        // instead of waiting for its close deadline.
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    (stream, writing, written)
}

/// Reads the echo of `streaming_client(_, seed)` until the server closes,
/// checking every byte; returns the count and the error that ended it, if
/// any.
fn read_echo(mut reader: TcpStream, seed: u64) -> (usize, Option<std::io::Error>) {
    let expected = pattern(STREAM, seed);
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (offset, None),
            Ok(n) => {
                assert!(
                    buf[..n] == expected[offset..offset + n],
                    "echo differs at {offset}"
                );
                offset += n;
            }
            Err(err) => return (offset, Some(err)),
        }
    }
}

#[test]
fn shutdown_delivers_every_echoed_byte_to_clients_still_sending() {
    // A small read budget bounds what a closing shard reads and discards;
    // the clients have far more than that in flight when the close comes.
    let config = Config {
        read_budget: 16 * 1024,
        read_buffer: 16 * 1024,
        // Time to echo 64 MiB in a debug build on a loaded machine: the
        // default 5 s deadline was passed there, and a close at the
        // deadline resets by design, which is not what this test is about.
        close_timeout: Duration::from_secs(30),
        ..config(2)
    };
    let server = TestServer::start(config, |_| esockets::protocols::Echo);
    let clients: Vec<_> = (0..4)
        .map(|seed| streaming_client(server.addr, seed))
        .collect();
    // The clients do not read yet: the echo fills every buffer on the way
    // back, the server's queues grow, and the writers stall.
    wait_until(DEADLINE, "the echo fills the buffers", || {
        clients
            .iter()
            .all(|(_, _, written)| written.load(Ordering::Relaxed) >= 4 * 1024 * 1024)
    });
    let handle = server.handle.clone();
    let server = server.take();
    server.shutdown();
    // Now the clients read everything, while their writers still send.
    let readers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(seed, (reader, writing, _))| {
            thread::spawn(move || {
                let result = read_echo(reader, seed as u64);
                writing.join().expect("writer");
                result
            })
        })
        .collect();
    server.join().expect("clean join");
    let sent: u64 = handle.stats().iter().map(|s| s.bytes_out).sum();
    let mut got = 0;
    for (seed, reader) in readers.into_iter().enumerate() {
        let (n, err) = reader.join().expect("reader");
        assert!(
            err.is_none(),
            "client {seed}: reset after {n} bytes: {err:?}"
        );
        got += n as u64;
    }
    // A close with unread input sends a reset that throws away what is
    // still in the server's socket buffer; the writer thread takes the
    // error, so the reader sees a plain end of stream, just too early.
    assert_eq!(got, sent, "every byte the server wrote arrives");
}
