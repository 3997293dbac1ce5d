//! What a TLS port does with clients that do not speak TLS properly: a
//! plaintext client, garbage after a ClientHello, a client that never
//! finishes its handshake. Each is closed (with an alert where the
//! protocol says so), counted, and the server goes on serving.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::certs::Pki;
use crate::child::server::client;
use crate::clients::{
    alert_in, client_config, client_hello, connect, echo, has_alert, read_until_closed,
};
use crate::{tls_server_with_metrics, wait_for_total};

/// The failures counter.
const FAILURES: &str = "esockets_tls_handshake_failures_total";

/// A TLS client still gets its echo.
fn still_serves(addr: SocketAddr, ca: &str) {
    let mut tls = connect(addr, &client_config(ca));
    echo(&mut tls, b"still served\n");
}

#[test]
fn a_plaintext_client_is_closed_with_an_alert_and_counted() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr, metrics) = tls_server_with_metrics(&pair, &["--protocol", "echo"]);
    let mut plain = client(addr);
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write plaintext");
    let got = read_until_closed(&mut plain);
    assert!(has_alert(&got), "no TLS alert before the close: {got:?}");
    wait_for_total(metrics, FAILURES, "reason=\"not_tls\"", 1.0);
    still_serves(addr, pki.ca());
    drop(server);
}

#[test]
fn garbage_after_the_client_hello_is_closed_with_an_alert_and_counted() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr, metrics) = tls_server_with_metrics(&pair, &["--protocol", "echo"]);
    let config = client_config(pki.ca());
    let (session, mut hello) = client_hello(&config);
    // A handshake record whose body is no handshake message.
    hello.extend_from_slice(&[22, 3, 3, 0, 16]);
    hello.extend_from_slice(&[0xEE; 16]);
    let mut raw = client(addr);
    raw.write_all(&hello)
        .expect("write the ClientHello and garbage");
    let got = read_until_closed(&mut raw);
    let alert = alert_in(session, &got);
    assert!(alert.is_some(), "no TLS alert before the close: {got:?}");
    wait_for_total(metrics, FAILURES, "reason=\"protocol\"", 1.0);

    // Garbage that is not even a record, after the ClientHello.
    let (session, mut hello) = client_hello(&config);
    hello.extend_from_slice(&[0xEE; 64]);
    let mut raw = client(addr);
    raw.write_all(&hello)
        .expect("write the ClientHello and garbage");
    let got = read_until_closed(&mut raw);
    let alert = alert_in(session, &got);
    assert!(alert.is_some(), "no TLS alert before the close: {got:?}");
    let text = wait_for_total(metrics, FAILURES, "reason=", 2.0);
    assert_eq!(
        crate::total(&text, "esockets_tls_handshakes_total", "kind="),
        0.0,
        "{text}"
    );
    still_serves(addr, pki.ca());
    drop(server);
}

#[test]
fn a_handshake_never_finished_is_closed_at_the_deadline() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr, metrics) = tls_server_with_metrics(
        &pair,
        &["--protocol", "echo", "--tls-handshake-timeout", "1s"],
    );
    let config = client_config(pki.ca());
    // One says nothing, one sends half a ClientHello.
    let started = Instant::now();
    let mut silent = client(addr);
    let mut half = client(addr);
    let (_, hello) = client_hello(&config);
    half.write_all(&hello[..hello.len() / 2])
        .expect("write half a ClientHello");
    for stream in [&mut silent, &mut half] {
        let got = read_until_closed(stream);
        let took = started.elapsed();
        assert!(got.is_empty(), "{got:?}");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(4),
            "closed after {took:?}, not at the 1s deadline"
        );
    }
    wait_for_total(metrics, FAILURES, "reason=\"timeout\"", 2.0);
    still_serves(addr, pki.ca());
    drop(server);
}
