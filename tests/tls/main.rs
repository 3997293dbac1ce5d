//! TLS end to end against the real `esockets` binary (issue 20): real
//! clients (`openssl s_client`, Python's `ssl` and `websockets`, headless
//! Chromium, HAProxy with `send-proxy-v2` in front), the bad input a TLS
//! port must survive, start-up errors naming the file, and reload.
//!
//! Each test makes its own certificates (`certs`) and starts its own
//! server on a free loopback port; every child runs under a deadline and
//! is stopped by its PID; every socket has timeouts.

#[path = "../child/mod.rs"]
mod child;

mod bad_input;
mod browser;
mod certs;
mod clients;
mod deadline;
mod haproxy;
mod metrics;
mod openssl_client;
mod python;
mod reload;
mod start_up;
mod storm;

use std::net::SocketAddr;

use certs::Pair;
use child::server::Server;

/// Starts `esockets --bind 127.0.0.1:0 --threads 1` serving TLS with
/// `pair`, plus `extra` flags; returns it with its address.
pub fn tls_server(pair: &Pair, extra: &[&str]) -> (Server, SocketAddr) {
    let mut args = vec![
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--tls-cert",
        pair.cert(),
        "--tls-key",
        pair.key(),
    ];
    args.extend_from_slice(extra);
    let mut server = Server::spawn(&args);
    let addr = server.listening_addr();
    (server, addr)
}

/// As [`tls_server`] with `--metrics 127.0.0.1:0`; also returns the
/// metrics endpoint's address.
pub fn tls_server_with_metrics(pair: &Pair, extra: &[&str]) -> (Server, SocketAddr, SocketAddr) {
    let mut flags = vec!["--metrics", "127.0.0.1:0"];
    flags.extend_from_slice(extra);
    let (mut server, addr) = tls_server(pair, &flags);
    let line = server.wait_for_line("metrics at http://");
    let metrics = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no metrics address in {line:?}"));
    (server, addr, metrics)
}

/// The sum over shards of `name{...,label}` in a scrape, e.g.
/// `total(text, "esockets_tls_handshake_failures_total", "reason=\"timeout\"")`.
pub fn total(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) && line.contains(label))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Scrapes `metrics` until `name{label}` summed over shards reaches
/// `at_least`, within the deadline; returns the scrape.
pub fn wait_for_total(metrics: SocketAddr, name: &str, label: &str, at_least: f64) -> String {
    let end = std::time::Instant::now() + child::DEADLINE;
    loop {
        let text = child::scrape::scrape(metrics);
        if total(&text, name, label) >= at_least {
            return text;
        }
        assert!(
            std::time::Instant::now() < end,
            "{name}{{{label}}} never reached {at_least}; last scrape:\n{text}"
        );
        // Polling, not synchronisation: shards publish every few ms.
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
