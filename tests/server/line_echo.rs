//! Line echo: complete lines come back byte-exact however they are split
//! into packets, partial lines wait, and an over-long line gets an error
//! and a close without disturbing other clients.

use std::io::Write;
use std::time::Duration;

use esockets::protocols::{LineEcho, LINE_TOO_LONG};

use crate::util::{assert_silent, config, expect_clean_close, read_exact, round_trip, TestServer};

/// Longest line the test server accepts.
const MAX_LINE: usize = 64;

/// How long a read must stay empty to show that nothing was echoed.
const QUIET: Duration = Duration::from_millis(200);

/// A line-echo server with `MAX_LINE` and an input limit above it.
fn line_server() -> TestServer {
    let config = esockets::Config {
        input_limit: 4 * MAX_LINE,
        ..config(2)
    };
    TestServer::start(config, |_| LineEcho::new(MAX_LINE))
}

#[test]
fn several_lines_in_one_packet_all_come_back() {
    let server = line_server();
    let mut stream = server.client();
    round_trip(&mut stream, b"one\ntwo\n\nthree and more\n");
}

#[test]
fn a_line_sent_byte_by_byte_comes_back_only_at_its_newline() {
    let server = line_server();
    let mut stream = server.client();
    let line = b"split into many packets\r\n";
    let (body, newline) = line.split_at(line.len() - 1);
    for byte in body {
        stream.write_all(&[*byte]).expect("write one byte");
    }
    assert_silent(&mut stream, QUIET);
    stream.write_all(newline).expect("write newline");
    assert_eq!(read_exact(&mut stream, line.len()), line, "\\r\\n kept");
}

#[test]
fn a_partial_line_after_complete_ones_waits() {
    let server = line_server();
    let mut stream = server.client();
    stream.write_all(b"done\nnot yet").expect("write");
    assert_eq!(read_exact(&mut stream, 5), b"done\n");
    assert_silent(&mut stream, QUIET);
    stream.write_all(b", now\r\n").expect("write");
    assert_eq!(read_exact(&mut stream, 14), b"not yet, now\r\n");
}

#[test]
fn a_line_of_exactly_max_line_bytes_is_accepted() {
    let server = line_server();
    let mut stream = server.client();
    let mut line = vec![b'y'; MAX_LINE];
    line.push(b'\n');
    round_trip(&mut stream, &line);
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
fn an_over_long_partial_line_is_refused_before_its_newline() {
    let server = line_server();
    let mut stream = server.client();
    stream.write_all(&[b'z'; MAX_LINE + 1]).expect("write");
    expect_clean_close(&mut stream, esockets::protocols::LINE_TOO_LONG);
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
