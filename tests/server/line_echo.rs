//! Line echo over loopback: an over-long line gets an error and a close
//! without disturbing other clients, even one still sending. The framing
//! itself is tested in memory (`tests/harness/line_echo.rs`).

use std::io::Write;

use esockets::protocols::{LineEcho, LINE_TOO_LONG};

use crate::util::{config, expect_clean_close, round_trip, TestServer};

/// Longest line the test server accepts.
const MAX_LINE: usize = 64;

/// A line-echo server with `MAX_LINE` and an input limit above it.
fn line_server() -> TestServer {
    let config = esockets::Config {
        input_limit: 4 * MAX_LINE,
        ..config(2)
    };
    TestServer::start(config, |_| LineEcho::new(MAX_LINE))
}

#[test]
fn an_over_long_line_gets_an_error_and_a_close_while_others_go_on() {
    let server = line_server();
    let mut other = server.client();
    round_trip(&mut other, b"before\n");

    let mut stream = server.client();
    let mut data = b"fine\n".to_vec();
    data.extend(vec![b'x'; MAX_LINE + 1]);
    data.extend(b"\nnever echoed\n");
    stream.write_all(&data).expect("write");
    expect_clean_close(&mut stream, b"fine\nERROR line too long\n");

    round_trip(&mut other, b"after\n");
    let mut third = server.client();
    round_trip(&mut third, b"new clients too\n");
}

#[test]
fn a_client_still_sending_a_huge_line_gets_the_error_before_the_close() {
    let server = line_server();
    let mut stream = server.client();
    let mut writer = stream.try_clone().expect("clone");
    // Keeps sending after the server gave up on the line; the writes fail
    // once the server closes.
    let writing = std::thread::spawn(move || {
        let chunk = [b'x'; 64 * 1024];
        for _ in 0..64 {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match std::io::Read::read(&mut stream, &mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) => panic!("after {got:?}: {err}"),
        }
        assert!(got.len() <= LINE_TOO_LONG.len(), "{got:?}");
    }
    assert_eq!(got, LINE_TOO_LONG);
    // Fails if the server already reset the connection; either way the
    // writer wakes up.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    writing.join().expect("writer");
}
