//! The TLS series of `--metrics` after real handshakes: they pass
//! `promtool check metrics`, and the handshake-duration histogram is a
//! histogram (cumulative buckets, the last equal to the count).

use crate::certs::Pki;
use crate::child::scrape::{promtool_check, value};
use crate::clients::SClient;
use crate::{tls_server_with_metrics, wait_for_total};

#[test]
fn the_handshake_duration_histogram_counts_each_handshake_once() {
    let pki = Pki::new("esockets test CA");
    let pair = pki.server("localhost");
    let (server, addr, metrics) = tls_server_with_metrics(&pair, &["--protocol", "echo"]);
    for round in 0..2 {
        let mut client = SClient::start(addr, pki.ca(), &[]);
        client.echo(&format!("handshake {round}"));
        client.finish();
    }
    let text = wait_for_total(metrics, "esockets_tls_handshakes_total", "kind=", 2.0);
    promtool_check(&text);
    let series = "esockets_tls_handshake_duration_seconds";
    let count = value(&text, &format!("{series}_count{{shard=\"0\"}}"));
    assert_eq!(count, Some(2.0), "{text}");
    let mut below = 0.0;
    for bound in ["0.001", "0.01", "0.1", "1", "+Inf"] {
        let bucket = value(
            &text,
            &format!("{series}_bucket{{shard=\"0\",le=\"{bound}\"}}"),
        )
        .unwrap_or_else(|| panic!("no bucket le={bound}: {text}"));
        assert!(
            bucket >= below && bucket <= 2.0,
            "bucket le={bound} holds {bucket} (the one below {below}, the count 2): {text}"
        );
        below = bucket;
    }
    assert_eq!(below, 2.0, "the +Inf bucket is the count: {text}");
    drop(server);
}
