//! What the start-up report and the summary say about TLS.

use esockets::tls::{ClientAuth, Tls};
use esockets::{Config, ShardStats};

use crate::units::format_duration;

/// The start-up lines: what the listener serves, or that it is
/// plaintext where others can reach it.
pub fn started(config: &Config) {
    let Some(tls) = &config.tls else {
        if !config.bind.ip().is_loopback() {
            tracing::info!(
                "TLS off: clients' bytes cross the network in plaintext (--tls-cert FILE \
                 --tls-key FILE to serve TLS)"
            );
        }
        return;
    };
    served(tls, "serving");
    let settings = tls.settings();
    let clients = match (&settings.client_ca, settings.client_auth) {
        (None, _) => "clients are not asked for a certificate".to_owned(),
        (Some(ca), ClientAuth::Required) => format!(
            "clients must present a certificate signed by a CA of {}",
            ca.display()
        ),
        (Some(ca), ClientAuth::Optional) => format!(
            "clients may present a certificate, verified against the CAs of {}",
            ca.display()
        ),
    };
    let alpn = if settings.alpn.is_empty() {
        "no ALPN".to_owned()
    } else {
        format!("ALPN {}", settings.alpn.join(","))
    };
    let tickets = if settings.tickets {
        "session tickets on (keys rotate every 6 h)"
    } else {
        "session tickets off"
    };
    tracing::info!(
        "TLS 1.3 and 1.2 (rustls, aws-lc-rs): {clients}; {alpn}; {tickets}; a handshaking client \
         must send each flight within {} (waiting for the server does not count), at most {} handshake steps per shard per loop round; SIGHUP \
         re-reads the certificate, key and CA files",
        format_duration(settings.handshake_timeout),
        settings.handshake_budget,
    );
}

/// One line per certificate served: its file, names and expiry.
pub fn served(tls: &Tls, what: &str) {
    for (i, cert) in tls.served().iter().enumerate() {
        let names = if cert.names.is_empty() {
            "no DNS name".to_owned()
        } else {
            cert.names.join(", ")
        };
        let default = if i == 0 { " (the default)" } else { "" };
        tracing::info!(
            "TLS: {what} {}{default} for {names}, expires {}",
            cert.chain.display(),
            cert.not_after
        );
    }
}

/// The summary line of handshakes, when there were any.
pub fn summary(total: &ShardStats) {
    let finished = total.tls_full + total.tls_resumed;
    if finished + total.tls_failed == 0 {
        return;
    }
    let mean_ms = if finished > 0 {
        total.tls_handshake_nanos as f64 / finished as f64 / 1e6
    } else {
        0.0
    };
    tracing::info!(
        full = total.tls_full,
        resumed = total.tls_resumed,
        failed = total.tls_failed,
        not_tls = total.tls_failed_not_tls,
        protocol = total.tls_failed_protocol,
        certificate = total.tls_failed_certificate,
        closed = total.tls_failed_closed,
        timed_out = total.tls_failed_timeout,
        tls13 = total.tls_v13,
        tls12 = total.tls_v12,
        mean_ms = format!("{mean_ms:.2}"),
        busy_ms = total.tls_handshake_busy_nanos / 1_000_000,
        "TLS handshakes"
    );
}
