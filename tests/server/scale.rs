//! Scale: thousands of concurrent connections in one process, each echoing,
//! all verified, from a handful of client threads.

use std::io::Write;
use std::net::TcpStream;
use std::thread;

use esockets::Config;

use crate::util::{client, config, heavy_test, read_exact, TestServer};

/// Concurrent connections (two descriptors each in this process).
const CONNECTIONS: usize = 4_000;

/// Client threads, each holding `CONNECTIONS / THREADS` sockets.
const THREADS: usize = 4;

/// The message client `i` sends: unique, so a reply crossing connections
/// shows up.
fn message(i: usize) -> Vec<u8> {
    format!("client {i:05}\n").into_bytes()
}

#[test]
fn four_thousand_concurrent_connections_all_echo() {
    let _fds = heavy_test();
    let config = Config {
        backlog: 4096,
        ..config(2)
    };
    let server = TestServer::start(config, |_| esockets::protocols::Echo);
    let addr = server.addr;
    let per_thread = CONNECTIONS / THREADS;
    // Each thread connects all its sockets, then hands them back open so
    // every connection is held at once.
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || {
                let first = t * per_thread;
                let mut streams: Vec<TcpStream> = (0..per_thread).map(|_| client(addr)).collect();
                for (i, stream) in streams.iter_mut().enumerate() {
                    stream.write_all(&message(first + i)).expect("send");
                }
                for (i, stream) in streams.iter_mut().enumerate() {
                    let expected = message(first + i);
                    let got = read_exact(stream, expected.len());
                    assert_eq!(got, expected, "connection {}", first + i);
                }
                streams
            })
        })
        .collect();
    let streams: Vec<TcpStream> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("client thread"))
        .collect();
    assert_eq!(streams.len(), CONNECTIONS);
    let bytes: u64 = (0..CONNECTIONS).map(|i| message(i).len() as u64).sum();
    server.wait_for_total(
        "all connections open at once, every byte counted",
        |total| {
            total.accepted == CONNECTIONS as u64
                && total.open == CONNECTIONS as u64
                && total.bytes_in == bytes
                && total.bytes_out == bytes
        },
    );
    drop(streams);
    server.wait_for_total("all connections closed", |total| {
        total.closed == CONNECTIONS as u64 && total.open == 0
    });
}
