//! What the handshake deadline times: the client's waits, one at a time
//! (from the accept to its hello, from each answer of the server to its
//! next flight), not the whole handshake. A slow client that answers
//! each flight within the deadline completes; one that waits past it
//! after the server's answer is closed, counted as a timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ClientConnection, StreamOwned};

use crate::certs::Pki;
use crate::child::server::client;
use crate::clients::{client_config, client_hello, echo, read_until_closed};
use crate::{tls_server_with_metrics, total, wait_for_total};

/// The deadline the server runs with.
const DEADLINE: Duration = Duration::from_secs(1);

/// How long the slow client waits before each of its flights: each wait
/// within the deadline, both together past it.
const WITHIN: Duration = Duration::from_millis(650);

/// Reads the server's first flight into `session` until the client has
/// its own next flight to send (its Finished).
fn read_server_flight(session: &mut ClientConnection, stream: &mut TcpStream) {
    let mut buf = [0; 16 * 1024];
    while !session.wants_write() {
        let n = stream.read(&mut buf).expect("the server's flight");
        assert!(n > 0, "the server closed during the handshake");
        let mut got = &buf[..n];
        while !got.is_empty() {
            session
                .read_tls(&mut got)
                .expect("feed the server's flight");
            session
                .process_new_packets()
                .expect("a valid server flight");
        }
    }
}

/// Connects to `addr`, waits `before_hello`, sends the ClientHello,
/// reads the server's answer, waits `before_finished`; returns the
/// session and socket with the client's Finished not yet sent.
fn slow_handshake(
    addr: SocketAddr,
    ca: &str,
    before_hello: Duration,
    before_finished: Duration,
) -> (ClientConnection, TcpStream, Instant) {
    let mut stream = client(addr);
    let accepted = Instant::now();
    let (mut session, hello) = client_hello(&client_config(ca));
    thread::sleep(before_hello); // the slow client under test, not a synchronisation
    stream.write_all(&hello).expect("write the ClientHello");
    read_server_flight(&mut session, &mut stream);
    thread::sleep(before_finished);
    (session, stream, accepted)
}

#[test]
fn a_slow_client_that_answers_each_flight_within_the_deadline_completes() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr, metrics) = tls_server_with_metrics(
        &pair,
        &["--protocol", "echo", "--tls-handshake-timeout", "1s"],
    );
    let (mut session, mut stream, accepted) = slow_handshake(addr, pki.ca(), WITHIN, WITHIN);
    session
        .write_tls(&mut stream)
        .expect("write the client's Finished");
    assert!(
        accepted.elapsed() > DEADLINE,
        "the handshake as a whole took longer than the deadline"
    );
    let mut tls = StreamOwned::new(session, stream);
    echo(&mut tls, b"slow but within each wait\n");
    let text = wait_for_total(metrics, "esockets_tls_handshakes_total", "", 1.0);
    assert_eq!(
        total(
            &text,
            "esockets_tls_handshake_failures_total",
            "reason=\"timeout\""
        ),
        0.0,
        "no timeout counted: {text}"
    );
    drop(server);
}

#[test]
fn a_client_that_waits_past_the_deadline_after_the_servers_answer_is_closed() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr, metrics) = tls_server_with_metrics(
        &pair,
        &["--protocol", "echo", "--tls-handshake-timeout", "1s"],
    );
    // Slow to say hello (within the deadline), then silent: closed a
    // deadline after the server's answer, not a deadline after the
    // accept (which would be 0.35 s after the answer).
    let (_session, mut stream, accepted) = slow_handshake(addr, pki.ca(), WITHIN, Duration::ZERO);
    let answered = Instant::now();
    let got = read_until_closed(&mut stream);
    let took = answered.elapsed();
    assert!(got.is_empty(), "nothing after the server's flight: {got:?}");
    assert!(
        took >= DEADLINE - Duration::from_millis(100) && took < Duration::from_secs(4),
        "closed {took:?} after the server's answer ({:?} after the accept), not at the 1s deadline",
        accepted.elapsed()
    );
    wait_for_total(
        metrics,
        "esockets_tls_handshake_failures_total",
        "reason=\"timeout\"",
        1.0,
    );
    drop(server);
}
