//! End-to-end checks of the contender echo servers: each binary is started on
//! a free loopback port and must echo 1 B, 64 KiB and 4 MiB payloads
//! byte-exactly, also with several clients at once.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

/// Sends `len` patterned bytes and checks they come back unchanged.
fn roundtrip(addr: SocketAddr, len: usize) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let sent: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut writer = stream.try_clone().expect("clone");
    let data = sent.clone();
    // Write from another thread: a large payload does not fit in the socket
    // buffers, so the server pushes back until we read.
    let feeder = thread::spawn(move || writer.write_all(&data).expect("write"));
    let mut got = vec![0u8; len];
    (&stream).read_exact(&mut got).expect("read echo");
    feeder.join().expect("feeder");
    assert!(got == sent, "echo of {len} bytes differs");
}

/// Runs every payload size, then several clients in parallel.
fn check(exe: &str) {
    let (_server, addr) = common::start(exe, &[]);
    for len in [1, 64, 4096, 65536, 4 << 20] {
        roundtrip(addr, len);
    }
    let clients: Vec<_> = (0..8)
        .map(|_| thread::spawn(move || roundtrip(addr, 1 << 20)))
        .collect();
    for client in clients {
        client.join().expect("client");
    }
}

#[test]
fn epoll_echo_echoes_exactly() {
    check(env!("CARGO_BIN_EXE_epoll-echo"));
}

#[test]
fn tokio_echo_echoes_exactly() {
    check(env!("CARGO_BIN_EXE_tokio-echo"));
}
