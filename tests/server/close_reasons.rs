//! Close reasons: `on_close` tells why each client went (its own close, a
//! reset, the handler, the server, shutdown, output or input overflow), and
//! a handler's close delivers the output queued before it.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam::channel::{unbounded, Receiver, Sender};
use esockets::{Admission, CloseReason, Config, Conn, ConnId, Handler, ShardContext, Verdict};

use crate::util::{
    config, expect_clean_close, pattern, read_to_close, round_trip, TestServer, DEADLINE,
};

/// Size of the blob sent before a handler's close.
const BLOB: usize = 8 * 1024 * 1024;

/// A handler driven by the first byte of each input:
/// `c` says bye and returns `Verdict::Close`; `k` says bye and calls
/// `Conn::close`; `b` sends an 8 MiB blob and returns `Verdict::Close`;
/// `f` floods past the output limit; `h` holds all input unconsumed;
/// anything else is echoed.
struct Probe {
    /// Where `(peer, id)` of new clients go.
    connects: Sender<(SocketAddr, ConnId)>,
    /// Where `(id, reason)` of closed clients go.
    closes: Sender<(ConnId, CloseReason)>,
    /// Bytes of the blob still queued right after it was sent.
    blob_queued: Arc<AtomicUsize>,
}

impl Handler for Probe {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<()> {
        self.connects.send((peer, conn.id())).expect("test listens");
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        match data[0] {
            b'c' => {
                conn.send(b"bye\n");
                Verdict::Close
            }
            b'k' => {
                conn.send(b"bye\n");
                conn.close();
                assert!(conn.is_closing());
                Verdict::Consumed(data.len())
            }
            b'b' => {
                conn.send_bytes(pattern(BLOB, 8));
                self.blob_queued.store(conn.queued(), Ordering::Relaxed);
                Verdict::Close
            }
            b'f' => {
                let chunk = vec![b'f'; 1024 * 1024];
                for _ in 0..48 {
                    conn.send(&chunk);
                }
                assert!(conn.is_closing(), "over the limit, the client is failed");
                Verdict::Consumed(data.len())
            }
            b'h' => Verdict::Consumed(0),
            _ => {
                conn.send(data);
                Verdict::Consumed(data.len())
            }
        }
    }

    fn on_close(
        &mut self,
        _cx: &mut ShardContext<'_>,
        id: ConnId,
        _state: (),
        reason: CloseReason,
    ) {
        let _ = self.closes.send((id, reason));
    }
}

/// A probe server, the reports it makes, and the blob's queued bytes.
struct Probed {
    /// The server.
    server: TestServer,
    /// `(peer, id)` of each new client.
    connected: Receiver<(SocketAddr, ConnId)>,
    /// `(id, reason)` of each closed client.
    closed: Receiver<(ConnId, CloseReason)>,
    /// What the `b` command saw queued.
    blob_queued: Arc<AtomicUsize>,
}

impl Probed {
    /// Starts a probe server with a 16 MiB output limit and a 64 KiB input
    /// limit.
    fn start() -> Self {
        let config = Config {
            output_high_water: 1024 * 1024,
            output_low_water: 256 * 1024,
            output_limit: 16 * 1024 * 1024,
            input_limit: 64 * 1024,
            ..config(2)
        };
        let (connects, connected) = unbounded();
        let (closes, closed) = unbounded();
        let blob_queued = Arc::new(AtomicUsize::new(0));
        let shared = Arc::clone(&blob_queued);
        let server = TestServer::start(config, move |_| Probe {
            connects: connects.clone(),
            closes: closes.clone(),
            blob_queued: Arc::clone(&shared),
        });
        Self {
            server,
            connected,
            closed,
            blob_queued,
        }
    }

    /// A new client and its id.
    fn connect(&self) -> (TcpStream, ConnId) {
        let stream = self.server.client();
        let (peer, id) = self
            .connected
            .recv_timeout(DEADLINE)
            .expect("connect reported");
        assert_eq!(peer, stream.local_addr().expect("addr"));
        (stream, id)
    }

    /// Waits for the close of `id` and returns its reason.
    fn reason(&self, id: ConnId) -> CloseReason {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let (closed, reason) = self
                .closed
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no close reported for {id}"));
            if closed == id {
                return reason;
            }
        }
    }
}

#[test]
fn peer_closed_when_the_client_closes() {
    let probe = Probed::start();
    let (mut stream, id) = probe.connect();
    round_trip(&mut stream, b"echo me\n");
    drop(stream);
    assert_eq!(probe.reason(id), CloseReason::PeerClosed);
}

#[test]
fn reset_when_the_client_resets() {
    let probe = Probed::start();
    let (mut stream, id) = probe.connect();
    round_trip(&mut stream, b"echo me\n");
    // Linger 0: closing sends RST instead of FIN.
    socket2::SockRef::from(&stream)
        .set_linger(Some(std::time::Duration::ZERO))
        .expect("linger");
    drop(stream);
    assert_eq!(probe.reason(id), CloseReason::Reset);
}

#[test]
fn verdict_close_delivers_queued_output_first() {
    let probe = Probed::start();
    let (mut stream, id) = probe.connect();
    stream.write_all(b"b").expect("write");
    expect_clean_close(&mut stream, &pattern(BLOB, 8));
    assert_eq!(probe.reason(id), CloseReason::Handler);
    let queued = probe.blob_queued.load(Ordering::Relaxed);
    assert!(
        queued > 0,
        "the blob must have waited in the queue at the close"
    );
}

#[test]
fn shutdown_when_the_server_stops() {
    let probe = Probed::start();
    let (mut stream, id) = probe.connect();
    round_trip(&mut stream, b"echo me\n");
    let Probed { server, closed, .. } = probe;
    server.stop().expect("clean join");
    let reasons: Vec<_> = closed.try_iter().collect();
    assert_eq!(reasons, [(id, CloseReason::Shutdown)]);
    expect_clean_close(&mut stream, b"");
}

#[test]
fn output_overflow_when_a_handler_floods_a_client_that_does_not_read() {
    let probe = Probed::start();
    let (mut stream, id) = probe.connect();
    stream.write_all(b"f").expect("write");
    assert_eq!(probe.reason(id), CloseReason::OutputOverflow);
    let got = read_to_close(&mut stream, 48 * 1024 * 1024);
    assert!(got.len() < 48 * 1024 * 1024, "the flood was cut short");
    assert!(got.iter().all(|&b| b == b'f'));
}
