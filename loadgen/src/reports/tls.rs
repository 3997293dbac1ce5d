//! The TLS part of a report (`--tls`): what was verified and offered,
//! full, resumed and failed handshakes, and handshake times.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::engine::histo::Summary;
use crate::engine::tls::Client;

/// What the run's TLS handshakes did.
#[derive(Debug, Clone, Serialize)]
pub struct TlsReport {
    /// Whether server certificates were verified (`false`:
    /// `--tls-insecure`).
    pub verified: bool,
    /// `--tls-server-name`, `null` when each target's host was sent.
    pub server_name: Option<String>,
    /// Whether session resumption was on (`--tls-resume`).
    pub resumption: bool,
    /// ALPN protocols offered.
    pub alpn: Vec<String>,
    /// Whether a client certificate was offered.
    pub client_certificate: bool,
    /// Full handshakes completed.
    pub handshakes_full: u64,
    /// Resumed handshakes completed.
    pub handshakes_resumed: u64,
    /// Failed handshakes by reason.
    pub handshake_failures: BTreeMap<String, u64>,
    /// Handshake time (µs), from the TCP connect's completion to the
    /// handshake's end; `null` when none completed.
    pub handshake_us: Option<Summary>,
}

impl TlsReport {
    /// The report of `client`'s handshakes so far.
    pub fn of(client: &Client) -> Self {
        let counts = client.counts.snapshot();
        Self {
            verified: !client.options.insecure,
            server_name: client.options.server_name.clone(),
            resumption: client.options.resume,
            alpn: client.options.alpn.clone(),
            client_certificate: client.options.identity.is_some(),
            handshakes_full: counts.full,
            handshakes_resumed: counts.resumed,
            handshake_failures: counts.failures,
            handshake_us: (!counts.times.is_empty()).then(|| Summary::of(&counts.times)),
        }
    }

    /// The table's TLS lines.
    pub fn render(&self, out: &mut String) {
        let verified = if self.verified {
            "certificates verified"
        } else {
            "certificates NOT VERIFIED (--tls-insecure)"
        };
        let resumption = if self.resumption { "on" } else { "off" };
        let _ = writeln!(
            out,
            "tls           {verified}; resumption {resumption}; handshakes {} full, {} resumed, {} failed",
            self.handshakes_full,
            self.handshakes_resumed,
            self.handshake_failures.values().sum::<u64>()
        );
        if let Some(h) = &self.handshake_us {
            let _ = writeln!(
                out,
                "handshake     p50 {:.0} µs  p99 {:.0} µs  max {:.0} µs",
                h.p50, h.p99, h.max
            );
        }
        for (reason, n) in &self.handshake_failures {
            let _ = writeln!(out, "  failed      {n}  {reason}");
        }
    }
}
