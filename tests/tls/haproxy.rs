//! HAProxy in TCP mode with `send-proxy-v2` in front of a TLS listener:
//! the PROXY header first, then the client's TLS, as HAProxy sends it.

use crate::certs::Pki;
use crate::child::haproxy::Haproxy;
use crate::clients::SClient;
use crate::{tls_server_with_metrics, wait_for_total};

#[test]
fn haproxy_send_proxy_v2_in_front_of_a_tls_listener() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr, metrics) = tls_server_with_metrics(
        &pair,
        &[
            "--protocol",
            "echo",
            "--proxy-protocol",
            "--proxy-trusted",
            "127.0.0.1/32",
        ],
    );
    let haproxy = Haproxy::start(addr, "send-proxy-v2");
    for round in 0..2 {
        let mut client = SClient::start(
            haproxy.frontend,
            pki.ca(),
            &["-servername", "localhost", "-verify_return_error"],
        );
        client.echo(&format!("through haproxy, round {round}"));
        let (status, output) = client.finish();
        assert!(status.success(), "{output}");
    }
    // Each went through a PROXY header, then a TLS handshake.
    wait_for_total(metrics, "esockets_proxy_headers_total", "shard=", 2.0);
    wait_for_total(
        metrics,
        "esockets_tls_handshakes_total",
        "kind=\"full\"",
        2.0,
    );
    drop(haproxy);
    drop(server);
}
