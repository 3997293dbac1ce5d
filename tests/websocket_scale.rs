//! 10,000 WebSocket clients held at once by `esockets --protocol ws-echo`
//! (a child process, so each side has its own open-file limit): every one
//! is pinged and answers, none is dropped, all still echo at the end, and
//! the server's memory per client stays bounded.

mod child;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use child::server::{client, counter, raise_file_limit, Server};
use esockets::websocket::{accept_key, masked_frame, parse_frame, Opcode, Parsed, Role};

/// Clients held at once.
const CLIENTS: usize = 10_000;

/// Pings each client must have answered before the end.
const PINGS: usize = 2;

/// How long the whole exchange may take.
const LIMIT: Duration = Duration::from_secs(60);

/// Most server memory per client allowed (resident, user space: its slot,
/// state, timers; kernel socket buffers are not counted).
const MAX_BYTES_PER_CLIENT: u64 = 1024;

/// The handshake every client sends (the RFC's sample key).
const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// One client: its socket, unparsed input, pings answered, echo seen.
struct Peer {
    stream: TcpStream,
    input: Vec<u8>,
    pings: usize,
    echoed: bool,
}

impl Peer {
    /// Reads what is there and answers every ping; false if the server
    /// closed the connection.
    fn serve(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => panic!("client read: {err}"),
            }
        }
        loop {
            let (opcode, payload, len) = match parse_frame(&self.input, Role::Client, 1024) {
                Parsed::Frame(frame) => (frame.opcode, frame.payload.to_vec(), frame.len),
                Parsed::Incomplete { .. } => return true,
                Parsed::Error(err) => panic!("bad frame from the server: {err}"),
            };
            self.input.drain(..len);
            match opcode {
                Opcode::Ping => {
                    self.pings += 1;
                    let pong = masked_frame(true, Opcode::Pong, &payload, [7, 7, 7, 7]);
                    self.stream.write_all(&pong).expect("send pong");
                }
                Opcode::Text => {
                    assert_eq!(payload, b"still here");
                    self.echoed = true;
                }
                other => panic!("unexpected {other:?} from the server"),
            }
        }
    }
}

/// Waits until any of `peers` is readable (or `timeout` passes).
fn poll_readable(peers: &[Peer], timeout: Duration) {
    let mut fds: Vec<libc::pollfd> = peers
        .iter()
        .map(|peer| libc::pollfd {
            fd: peer.stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    let count = libc::nfds_t::try_from(fds.len()).expect("count fits");
    // SAFETY: the array is ours and `count` long.
    unsafe { libc::poll(fds.as_mut_ptr(), count, millis) };
}

/// Serves every peer until `done` holds for all of them.
fn serve_until(peers: &mut [Peer], end: Instant, what: &str, done: impl Fn(&Peer) -> bool) {
    loop {
        for (i, peer) in peers.iter_mut().enumerate() {
            assert!(peer.serve(), "client {i} was closed while {what}");
        }
        let left = peers.iter().filter(|p| !done(p)).count();
        if left == 0 {
            return;
        }
        assert!(
            Instant::now() < end,
            "{left} clients still not done {what} after {LIMIT:?}"
        );
        poll_readable(peers, Duration::from_millis(500));
    }
}

#[test]
fn ten_thousand_clients_pinged_and_held_with_bounded_memory() {
    raise_file_limit();
    let mut server = Server::spawn(&[
        "--protocol",
        "ws-echo",
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "2",
        "--ws-handshake-timeout",
        "1s",
        "--ws-ping-interval",
        "1s",
        "--ws-pong-timeout",
        "5s",
    ]);
    let addr = server.listening_addr();
    // Threads log in any order: shard 1 may have said so before the
    // listening line the wait above read past.
    if !server
        .seen()
        .iter()
        .any(|line| line.contains("shard started shard=1"))
    {
        server.wait_for_line("shard started shard=1");
    }
    let rss_before = server.rss_bytes();
    let end = Instant::now() + LIMIT;

    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key("dGhlIHNhbXBsZSBub25jZQ==")
    );
    let mut peers = Vec::with_capacity(CLIENTS);
    for batch in 0..CLIENTS / 500 {
        let start = peers.len();
        for _ in 0..500 {
            let mut stream = client(addr);
            stream.write_all(UPGRADE).expect("send upgrade");
            peers.push(Peer {
                stream,
                input: Vec::new(),
                pings: 0,
                echoed: false,
            });
        }
        for peer in &mut peers[start..] {
            let mut head = vec![0u8; response.len()];
            peer.stream
                .read_exact(&mut head)
                .expect("read the 101 response");
            assert_eq!(String::from_utf8_lossy(&head), response, "batch {batch}");
            peer.stream.set_nonblocking(true).expect("non-blocking");
        }
        assert!(Instant::now() < end, "connecting took over {LIMIT:?}");
    }

    serve_until(&mut peers, end, "answering pings", |p| p.pings >= PINGS);
    let rss_held = server.rss_bytes();

    for peer in &mut peers {
        let frame = masked_frame(true, Opcode::Text, b"still here", [1, 2, 3, 4]);
        peer.stream.write_all(&frame).expect("send text");
    }
    serve_until(&mut peers, end, "echoing", |p| p.echoed);

    let per_client = rss_held.saturating_sub(rss_before) / CLIENTS as u64;
    eprintln!(
        "server RSS: {} KiB before, {} KiB with {CLIENTS} WebSocket clients: {per_client} B per client",
        rss_before / 1024,
        rss_held / 1024
    );
    assert!(
        per_client <= MAX_BYTES_PER_CLIENT,
        "{per_client} B of server memory per client (limit {MAX_BYTES_PER_CLIENT})"
    );

    drop(peers);
    let (status, total) = server.stop();
    assert!(status.success(), "{status}");
    assert_eq!(counter(&total, "accepted"), CLIENTS as u64, "{total}");
}
