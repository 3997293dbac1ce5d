//! `openssl s_client` against the binary: TLS 1.3 and 1.2, SNI, ALPN,
//! client certificates, and resumption from a session ticket.

use crate::certs::Pki;
use crate::clients::SClient;
use crate::{tls_server, tls_server_with_metrics, wait_for_total};

#[test]
fn tls13_echo() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr) = tls_server(&pair, &["--protocol", "echo"]);
    let mut client = SClient::start(
        addr,
        pki.ca(),
        &[
            "-tls1_3",
            "-servername",
            "localhost",
            "-verify_return_error",
        ],
    );
    let line = client.out.wait_for("Cipher is");
    assert!(line.starts_with("New, TLSv1.3"), "{line}");
    client.echo("hello over TLS 1.3");
    client.echo("and again, bytes \u{20ac} intact");
    let (status, output) = client.finish();
    assert!(status.success(), "{output}");
    assert!(output.contains("Verify return code: 0 (ok)"), "{output}");
    drop(server);
}

#[test]
fn tls12_line_echo() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr) = tls_server(&pair, &["--protocol", "line-echo"]);
    let mut client = SClient::start(
        addr,
        pki.ca(),
        &[
            "-tls1_2",
            "-servername",
            "localhost",
            "-verify_return_error",
        ],
    );
    let line = client.out.wait_for("Cipher is");
    assert!(line.starts_with("New, TLSv1.2"), "{line}");
    client.echo("a line over TLS 1.2");
    client.echo("another line over TLS 1.2");
    let (status, output) = client.finish();
    assert!(status.success(), "{output}");
    drop(server);
}

/// The subject of the certificate served for `server_name`.
fn served_subject(addr: std::net::SocketAddr, ca: &str, server_name: &str) -> String {
    let mut client = SClient::start(addr, ca, &["-servername", server_name]);
    let subject = client.out.wait_for("subject=");
    client.echo("x");
    client.finish();
    subject
}

#[test]
fn sni_picks_the_certificate_by_server_name() {
    let pki = Pki::new("esockets test CA");
    let alpha = pki.server("alpha.test");
    let beta = pki.server("beta.test");
    let (server, addr) = tls_server(
        &alpha,
        &[
            "--protocol",
            "echo",
            "--tls-cert",
            beta.cert(),
            "--tls-key",
            beta.key(),
        ],
    );
    let ca = pki.ca();
    assert_eq!(
        served_subject(addr, ca, "beta.test"),
        "subject=CN = beta.test"
    );
    assert_eq!(
        served_subject(addr, ca, "alpha.test"),
        "subject=CN = alpha.test"
    );
    // A name no certificate carries gets the first.
    assert_eq!(
        served_subject(addr, ca, "gamma.test"),
        "subject=CN = alpha.test"
    );
    drop(server);
}

#[test]
fn alpn_agrees_on_http_1_1() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr) = tls_server(&pair, &["--protocol", "echo", "--tls-alpn", "http/1.1"]);
    let mut client = SClient::start(addr, pki.ca(), &["-alpn", "h2,http/1.1"]);
    let line = client.out.wait_for("ALPN");
    assert_eq!(line, "ALPN protocol: http/1.1");
    client.echo("after ALPN");
    client.finish();
    drop(server);

    // Without --tls-alpn (and not a WebSocket protocol) none is agreed.
    let (server, addr) = tls_server(&pair, &["--protocol", "echo"]);
    let mut client = SClient::start(addr, pki.ca(), &["-alpn", "http/1.1"]);
    assert_eq!(client.out.wait_for("ALPN"), "No ALPN negotiated");
    client.echo("without ALPN");
    client.finish();
    drop(server);
}

#[test]
fn client_certificates_from_the_client_ca_are_accepted_and_others_refused() {
    let pki = Pki::new("esockets test CA");
    let fleet = Pki::new("fleet CA");
    let stranger = Pki::new("unknown CA");
    let pair = pki.server("localhost");
    let device = fleet.client("device-17");
    let impostor = stranger.client("device-18");
    let (server, addr, metrics) = tls_server_with_metrics(
        &pair,
        &["--protocol", "echo", "--tls-client-ca", fleet.ca()],
    );
    let ca = pki.ca();
    // TLS 1.3 and 1.2 both verify the fleet's certificate.
    for version in ["-tls1_3", "-tls1_2"] {
        let mut client = SClient::start(
            addr,
            ca,
            &[version, "-cert", device.cert(), "-key", device.key()],
        );
        client.echo(&format!("a device over {version}"));
        let (status, output) = client.finish();
        assert!(status.success(), "{output}");
    }
    let failures = "esockets_tls_handshake_failures_total";
    let reason = "reason=\"certificate\"";

    // A certificate from another CA: refused, never echoed.
    let mut client = SClient::start(
        addr,
        ca,
        &["-cert", impostor.cert(), "-key", impostor.key()],
    );
    client.say("let me in");
    let (_, output) = client.closed_by_server();
    assert!(!output.contains("\nlet me in"), "{output}");
    assert!(output.contains("alert"), "{output}");
    wait_for_total(metrics, failures, reason, 1.0);

    // Required (the default): no certificate at all is refused too.
    let mut client = SClient::start(addr, ca, &[]);
    client.say("no certificate");
    let (_, output) = client.closed_by_server();
    assert!(!output.contains("\nno certificate"), "{output}");
    assert!(output.contains("alert"), "{output}");
    wait_for_total(metrics, failures, reason, 2.0);
    drop(server);

    // Optional: a client without one is served.
    let (server, addr) = tls_server(
        &pair,
        &[
            "--protocol",
            "echo",
            "--tls-client-ca",
            fleet.ca(),
            "--tls-client-auth",
            "optional",
        ],
    );
    let mut client = SClient::start(addr, ca, &[]);
    client.echo("no certificate, optional");
    client.finish();
    drop(server);
}

#[test]
fn a_session_ticket_resumes() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr, metrics) = tls_server_with_metrics(&pair, &["--protocol", "echo"]);
    let session = pki.dir.join("session.pem");
    let session = session.to_str().expect("UTF-8 path");
    let mut first = SClient::start(addr, pki.ca(), &["-sess_out", session]);
    assert!(first.out.wait_for("Cipher is").starts_with("New, "));
    // The ticket comes after the handshake: an echo makes sure it came.
    first.echo("first connection");
    first.finish();
    assert!(
        std::fs::metadata(session).is_ok_and(|m| m.len() > 0),
        "no session written"
    );

    let mut second = SClient::start(addr, pki.ca(), &["-sess_in", session]);
    let line = second.out.wait_for("Cipher is");
    assert!(line.starts_with("Reused, TLSv1.3"), "{line}");
    second.echo("resumed connection");
    second.finish();
    let text = wait_for_total(
        metrics,
        "esockets_tls_handshakes_total",
        "kind=\"resumed\"",
        1.0,
    );
    assert_eq!(
        crate::total(&text, "esockets_tls_handshakes_total", "kind=\"full\""),
        1.0,
        "{text}"
    );
    drop(server);
}
