//! TLS as loadgen's client transport (`--tls`): one [`Client`] per run
//! (the rustls configuration, each target's server name, the session
//! store and the handshake [`counts`]), and one [`Stream`] per socket,
//! which does the handshake and then reads and writes plaintext like a
//! TCP socket. Every mode runs over it unchanged; WebSocket runs on top
//! of it. The crypto provider is chosen in [`provider`] only.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

pub mod counts;
mod insecure;
pub mod provider;
mod stream;
mod tickets;

pub use stream::Stream;

/// What the command line asked of TLS.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// PEM file of the roots to trust (`--tls-ca`).
    pub ca: Option<PathBuf>,
    /// Verify nothing (`--tls-insecure`).
    pub insecure: bool,
    /// Server name to send and verify (`--tls-server-name`); `None`: each
    /// target's host.
    pub server_name: Option<String>,
    /// Resume sessions (`--tls-resume on`).
    pub resume: bool,
    /// ALPN protocols to offer, in order (`--tls-alpn`).
    pub alpn: Vec<String>,
    /// Client certificate chain and key, PEM (`--tls-cert`, `--tls-key`).
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// The TLS side of a run, shared by all its connections.
#[derive(Debug)]
pub struct Client {
    /// The rustls configuration (with its session store).
    pub config: Arc<ClientConfig>,
    /// Server name per target, in `--addr` order.
    pub names: Vec<ServerName<'static>>,
    /// What was asked (for the report).
    pub options: Options,
    /// Handshakes so far.
    pub counts: counts::Counts,
}

impl Client {
    /// Builds the configuration: `hosts` are the targets' hosts as given
    /// (the default server names), `connections` sizes the session
    /// store. Errors name the file or value at fault.
    pub fn new(options: Options, hosts: &[String], connections: u64) -> Result<Self, String> {
        let provider = provider::provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = if options.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(insecure::AcceptAny(provider)))
        } else {
            let Some(ca) = &options.ca else {
                return Err(
                    "--tls needs --tls-ca FILE (the roots to trust) or --tls-insecure".into(),
                );
            };
            builder.with_root_certificates(roots(ca)?)
        };
        let mut config = match &options.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = certificates(cert)?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?
            }
        };
        config.alpn_protocols = options.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        config.resumption = if options.resume {
            let bound = usize::try_from(connections).unwrap_or(usize::MAX).max(256);
            Resumption::store(Arc::new(tickets::Tickets::new(bound)))
        } else {
            Resumption::disabled()
        };
        let names = hosts
            .iter()
            .map(|host| {
                let name = options.server_name.as_deref().unwrap_or(host);
                ServerName::try_from(name.to_string()).map_err(|_| {
                    format!("--tls-server-name '{name}': not a DNS name or IP address")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            config: Arc::new(config),
            names,
            options,
            counts: counts::Counts::default(),
        })
    }
}

/// The certificates of PEM file `path` (at least one).
fn certificates(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, String> {
    let bad = |why: String| format!("{}: {why}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// The roots of `--tls-ca` `path`.
fn roots(path: &PathBuf) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    for cert in certificates(path).map_err(|e| format!("--tls-ca {e}"))? {
        store
            .add(cert)
            .map_err(|e| format!("--tls-ca {}: {e}", path.display()))?;
    }
    Ok(store)
}

/// Prints the first TLS handshake failure of the run with its reason;
/// later ones are only counted.
pub fn warn_once(what: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "loadgen: warning: TLS handshake failed: {what} (further failures are only counted)"
        );
    }
}
