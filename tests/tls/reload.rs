//! SIGHUP re-reads the certificate files: new handshakes get the new
//! certificate while a connection opened before keeps echoing; a reload
//! with a broken file keeps the old configuration and logs why.

use std::time::Instant;

use crate::certs::{Pair, Pki};
use crate::child::DEADLINE;
use crate::clients::{client_config, connect, echo, SClient};
use crate::tls_server;

/// Copies `from`'s files over `to`'s (a renewed certificate under the
/// same names).
fn install(from: &Pair, to: &Pair) {
    std::fs::copy(&from.cert, &to.cert).expect("copy the certificate");
    std::fs::copy(&from.key, &to.key).expect("copy the key");
}

/// The subject served to a new client.
fn served_subject(addr: std::net::SocketAddr, ca: &str) -> String {
    let mut client = SClient::start(addr, ca, &["-servername", "localhost"]);
    let subject = client.out.wait_for("subject=");
    client.echo("x");
    client.finish();
    subject
}

#[test]
fn sighup_switches_the_certificate_and_an_open_connection_keeps_echoing() {
    let pki = Pki::new("esockets test CA");
    let live = pki.server("alpha.test");
    let renewed = pki.server("beta.test");
    let (server, addr) = tls_server(&live, &["--protocol", "echo"]);
    server.wait_until_it_catches(libc::SIGHUP);
    assert_eq!(served_subject(addr, pki.ca()), "subject=CN = alpha.test");
    let mut before = connect(addr, &client_config(pki.ca()));
    echo(&mut before, b"before the reload\n");

    install(&renewed, &live);
    server.signal(libc::SIGHUP);
    let end = Instant::now() + DEADLINE;
    while served_subject(addr, pki.ca()) != "subject=CN = beta.test" {
        assert!(
            Instant::now() < end,
            "the reload never served the new certificate"
        );
    }
    echo(&mut before, b"after the reload, same connection\n");
    drop(server);
}

#[test]
fn a_reload_with_a_broken_file_keeps_the_old_certificate_and_says_why() {
    let pki = Pki::new("esockets test CA");
    let live = pki.server("alpha.test");
    let (mut server, addr) = tls_server(&live, &["--protocol", "echo"]);
    server.wait_until_it_catches(libc::SIGHUP);
    std::fs::write(&live.key, "not a key any more\n").expect("break the key");
    server.signal(libc::SIGHUP);
    // The start-up report names the key file too: wait for the reload's
    // line, which says what is wrong with it.
    let line = server.wait_for_line("no usable PEM private key");
    assert!(line.contains(live.key()), "{line}");
    assert!(line.contains("WARN") || line.contains("ERROR"), "{line}");
    assert_eq!(served_subject(addr, pki.ca()), "subject=CN = alpha.test");
    drop(server);
}
