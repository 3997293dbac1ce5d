//! Building rustls's server configuration from [`TlsSettings`].

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{NoServerSessionStorage, ProducesTickets, WebPkiClientVerifier};
use rustls::version::{TLS12, TLS13};
use rustls::ServerConfig;

use super::error::TlsError;
use super::files;
use super::resolve::ByName;
use super::settings::{ClientAuth, TlsSettings};
use super::Served;

/// The crypto provider: aws-lc-rs for the handshake, *ring* for the
/// records. Measured on this machine (docs/bench/tls/provider.txt):
/// aws-lc-rs's handshakes are 4.8 times as fast and it has post-quantum
/// key exchange (X25519MLKEM768, which browsers offer; *ring* has none),
/// so key exchange, signatures, randomness and tickets are aws-lc-rs's;
/// *ring*'s AEADs seal and open 64 B records 1.1 to 1.5 times as fast,
/// so the cipher suites (record protection and the key schedule) are
/// *ring*'s: 5,054 server instructions per 64 B echo against 5,528 with
/// aws-lc-rs's suites (`benches/tls-instructions.sh`, three runs each). A
/// handshake storm is where a server runs out of CPU, and small records
/// are what an established client costs: each half goes to the faster
/// crate. With both crates compiled in rustls has no process-default
/// provider: every configuration names this one.
///
/// Its suites in the server's order of preference, which the server
/// follows over the client's: AES-128-GCM first (four fewer AES rounds
/// than AES-256 per block, smaller keys per session), then
/// ChaCha20-Poly1305, then AES-256-GCM; TLS 1.3's before TLS 1.2's.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::cipher_suite as suite;
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites = vec![
        suite::TLS13_AES_128_GCM_SHA256,
        suite::TLS13_CHACHA20_POLY1305_SHA256,
        suite::TLS13_AES_256_GCM_SHA384,
        suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ];
    Arc::new(provider)
}

/// Reads the files `settings` names and builds the configuration new
/// handshakes use; `ticketer` makes the session tickets (kept across
/// reloads, so tickets issued before one still resume).
pub(crate) fn server_config(
    settings: &TlsSettings,
    ticketer: &Arc<dyn ProducesTickets>,
) -> Result<(Arc<ServerConfig>, Vec<Served>), TlsError> {
    let provider = provider();
    let loaded = settings
        .certificates
        .iter()
        .map(|files| files::chain_and_key(files, &provider))
        .collect::<Result<Vec<_>, _>>()?;
    let served = settings
        .certificates
        .iter()
        .zip(&loaded)
        .map(|(files, loaded)| Served {
            chain: files.chain.clone(),
            names: loaded.names.clone(),
            not_after: loaded.not_after.clone(),
        })
        .collect();
    let resolver = ByName::new(loaded).ok_or(TlsError::NoCertificate)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&TLS13, &TLS12])?;
    let builder = match &settings.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let roots = Arc::new(files::roots(path)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let verifier = match settings.client_auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                ClientAuth::Required => verifier,
            };
            let verifier = verifier.build().map_err(|err| TlsError::Certificate {
                path: path.clone(),
                what: format!("cannot verify clients with these CAs: {err}"),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = settings
        .alpn
        .iter()
        .map(|protocol| protocol.as_bytes().to_vec())
        .collect();
    // Stateless resumption only: a session cache would hold memory per
    // client, tickets hold none on the server.
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.max_early_data_size = 0;
    config.ignore_client_order = true;
    if settings.tickets {
        config.ticketer = ticketer.clone();
        config.send_tls13_tickets = 1;
    } else {
        config.send_tls13_tickets = 0;
    }
    Ok((Arc::new(config), served))
}
