//! `connect-storm`: a fleet reconnecting at once. Makes N sockets bound to
//! several loopback source addresses (not timed), then starts their
//! non-blocking connects in one burst from several threads, sends one byte
//! on each and waits for every echo. Prints how long that took, how
//! many clients had to retransmit (a SYN or handshake ACK dropped at a full
//! listen queue costs the client a 1 s retransmit), and the change in the
//! namespace's `ListenOverflows` counter.
//!
//! With `--tls-ca FILE` every client also completes a TLS handshake (rustls,
//! the aws-lc-rs provider, verifying the server's certificate against that
//! CA) before its byte: the storm then times handshakes, full ones, and
//! with `--tls-resume` a second storm of the same clients resuming with
//! the tickets the first one got (see [`tls`]).
//!
//! Usage: `connect-storm --addr 127.0.0.1:1234 [--connections 15000]
//! [--sources 4] [--tls-ca ca.pem [--tls-resume]]`. Keep `--connections`
//! under the open-file limit.

mod sockets;
mod tls;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;

use sockets::{bound_sockets, connect, listen_overflows, raise_file_limit, retransmits};

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "connect-storm")]
pub struct Cli {
    /// The echo server.
    #[arg(long)]
    addr: SocketAddr,
    /// Clients connecting at once.
    #[arg(long, default_value_t = 15_000)]
    connections: usize,
    /// Loopback source addresses used round-robin: 127.0.0.2 and up.
    #[arg(long, default_value_t = 4)]
    sources: u8,
    /// Threads starting the connects (the burst is as fast as they are);
    /// with --tls-ca, the threads running the handshakes.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Speak TLS, trusting the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// The server name the TLS clients send (SNI) and verify.
    #[arg(long, default_value = "localhost", requires = "tls_ca")]
    tls_server_name: String,
    /// After the storm of full handshakes, close every client and storm
    /// again with the same clients resuming their sessions.
    #[arg(long, requires = "tls_ca")]
    tls_resume: bool,
}

fn main() -> Result<(), String> {
    let cli = Cli::parse();
    raise_file_limit();
    match &cli.tls_ca {
        Some(ca) => tls::storms(&cli, ca),
        None => plain(&cli),
    }
}

/// The plaintext storm: connects in a burst, then one byte echoed each.
fn plain(cli: &Cli) -> Result<(), String> {
    let sockets = bound_sockets(cli.connections, cli.sources)?;
    let before = listen_overflows();
    let start = Instant::now();
    let share = sockets.len().div_ceil(cli.threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let burst: Vec<_> = sockets
            .chunks(share)
            .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(|s| connect(s, cli.addr))))
            .collect();
        burst.into_iter().try_for_each(|thread| {
            thread
                .join()
                .map_err(|_| "a connect thread panicked".to_owned())?
        })
    })?;
    let timeout = Some(Duration::from_secs(30));
    for socket in &sockets {
        socket.set_nonblocking(false).map_err(|e| e.to_string())?;
        socket
            .set_write_timeout(timeout)
            .map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(timeout)
            .map_err(|e| e.to_string())?;
        (&*socket)
            .write_all(b"x")
            .map_err(|e| format!("write: {e}"))?;
    }
    for socket in &sockets {
        let mut byte = [0u8; 1];
        (&*socket)
            .read_exact(&mut byte)
            .map_err(|e| format!("echo: {e}"))?;
    }
    let served = start.elapsed();
    let retransmitted = sockets
        .iter()
        .filter(|s| retransmits(s.as_raw_fd()) > 0)
        .count();
    println!(
        "{{\"connections\": {}, \"served_ms\": {:.1}, \"retransmitted\": {}, \"listen_overflows\": {}}}",
        cli.connections,
        served.as_secs_f64() * 1e3,
        retransmitted,
        overflows_since(before)
    );
    Ok(())
}

/// The change in `ListenOverflows` since `before`, as JSON (`null` where
/// the kernel does not say).
fn overflows_since(before: Option<u64>) -> String {
    listen_overflows()
        .zip(before)
        .map_or("null".to_owned(), |(after, before)| {
            after.saturating_sub(before).to_string()
        })
}
