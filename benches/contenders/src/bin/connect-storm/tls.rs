//! The TLS storm: every client of the burst connects, completes a TLS
//! handshake and has one byte echoed; all are held open until the last is
//! served. With `--tls-resume`, each client keeps its own session store
//! (one ticket cache per client: a shared one keeps only a few tickets per
//! server name), the first storm (full handshakes) fills them, every
//! client closes, and a second storm of the same clients resumes.
//!
//! The handshakes run on a tokio runtime of `--threads` workers with
//! tokio-rustls (rustls with the aws-lc-rs provider, the fastest at
//! handshakes on this machine; see docs/bench/tls/provider.txt), so the
//! client's share of the two cores is as small as rustls makes it.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::{ClientSessionMemoryCache, Resumption};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, HandshakeKind, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::sockets::{bound_sockets, listen_overflows, retransmits};
use crate::{overflows_since, Cli};

/// How long one client may take to be served before the storm fails.
const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

/// Tickets each client keeps (TLS 1.3 servers send one or two).
const TICKETS_PER_CLIENT: usize = 4;

/// One client served: its stream (held open until the storm ends), how
/// long after the burst started it was served, and its handshake.
struct Served {
    /// Held so the server carries every client at once.
    _stream: TlsStream<tokio::net::TcpStream>,
    /// From the burst's start to its echo.
    after: Duration,
    /// Full or resumed.
    resumed: bool,
    /// Segments the kernel retransmitted for it.
    retransmits: u32,
}

/// Runs the storm of full handshakes and, with `--tls-resume`, the storm
/// of resumed ones; prints a JSON line for each.
pub fn storms(cli: &Cli, ca: &Path) -> Result<(), String> {
    let base = base_config(ca)?;
    let configs: Vec<Arc<ClientConfig>> = (0..cli.connections)
        .map(|_| {
            let mut config = base.clone();
            config.resumption = if cli.tls_resume {
                Resumption::store(Arc::new(ClientSessionMemoryCache::new(TICKETS_PER_CLIENT)))
            } else {
                Resumption::disabled()
            };
            Arc::new(config)
        })
        .collect();
    let name = ServerName::try_from(cli.tls_server_name.clone())
        .map_err(|e| format!("--tls-server-name {}: {e}", cli.tls_server_name))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let phases: &[&str] = if cli.tls_resume {
        &["full", "resumed"]
    } else {
        &["full"]
    };
    for phase in phases {
        runtime.block_on(storm(cli, phase, &configs, &name))?;
    }
    Ok(())
}

/// The client configuration every client starts from: TLS 1.3 and 1.2,
/// the CA certificates of `ca` trusted.
fn base_config(ca: &Path) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(ca).map_err(|e| format!("--tls-ca {}: {e}", ca.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("--tls-ca {}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("--tls-ca {}: {e}", ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// One storm: binds the sockets (not timed), then starts every client at
/// once and waits until all are served; prints its JSON line.
async fn storm(
    cli: &Cli,
    phase: &str,
    configs: &[Arc<ClientConfig>],
    name: &ServerName<'static>,
) -> Result<(), String> {
    let sockets = bound_sockets(cli.connections, cli.sources)?;
    let before = listen_overflows();
    let start = Instant::now();
    let clients: Vec<_> = sockets
        .into_iter()
        .zip(configs)
        .map(|(socket, config)| {
            let connector = TlsConnector::from(Arc::clone(config));
            let name = name.clone();
            let addr = cli.addr;
            tokio::spawn(async move {
                tokio::time::timeout(
                    CLIENT_DEADLINE,
                    client(socket, addr, connector, name, start),
                )
                .await
                .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "deadline")))
            })
        })
        .collect();
    let mut served = Vec::with_capacity(clients.len());
    let mut failures = Vec::new();
    for client in clients {
        match client.await {
            Ok(Ok(one)) => served.push(one),
            Ok(Err(e)) => failures.push(e.to_string()),
            Err(e) => failures.push(format!("task: {e}")),
        }
    }
    let elapsed = start.elapsed();
    let overflows = overflows_since(before);
    let mut afters: Vec<Duration> = served.iter().map(|s| s.after).collect();
    afters.sort_unstable();
    let at = |q: f64| {
        afters
            .get(((afters.len() as f64 * q) as usize).min(afters.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{{\"connections\": {}, \"tls\": \"{phase}\", \"served_ms\": {:.1}, \"p50_ms\": {:.1}, \
         \"p99_ms\": {:.1}, \"resumed\": {}, \"failed\": {}, \"retransmitted\": {}, \
         \"listen_overflows\": {overflows}}}",
        cli.connections,
        elapsed.as_secs_f64() * 1e3,
        at(0.5),
        at(0.99),
        served.iter().filter(|s| s.resumed).count(),
        failures.len(),
        served.iter().filter(|s| s.retransmits > 0).count(),
    );
    if let Some(first) = failures.first() {
        return Err(format!(
            "{} of {} clients failed, the first: {first}",
            failures.len(),
            cli.connections
        ));
    }
    Ok(())
}

/// One client: connect, handshake, one byte out and back.
async fn client(
    socket: std::net::TcpStream,
    addr: SocketAddr,
    connector: TlsConnector,
    name: ServerName<'static>,
    start: Instant,
) -> io::Result<Served> {
    let tcp = TcpSocket::from_std_stream(socket).connect(addr).await?;
    let mut stream = connector.connect(name, tcp).await?;
    stream.write_all(b"x").await?;
    stream.flush().await?;
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).await?;
    let after = start.elapsed();
    let (tcp, session) = stream.get_ref();
    let resumed = session.handshake_kind() == Some(HandshakeKind::Resumed);
    let retransmits = retransmits(tcp.as_raw_fd());
    Ok(Served {
        _stream: stream,
        after,
        resumed,
        retransmits,
    })
}
