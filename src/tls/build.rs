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

/// The crypto provider: aws-lc-rs, rustls's default. Measured on this
/// machine against *ring* (docs/bench/tls/provider.txt): handshakes 4.8
/// times as fast, post-quantum key exchange (X25519MLKEM768, which
/// browsers offer; *ring* has none), records 0.7 to 0.9 times as fast;
/// its build takes about two minutes more. A handshake storm is where a
/// server runs out of CPU, so the handshakes decide.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
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
    if settings.tickets {
        config.ticketer = ticketer.clone();
        config.send_tls13_tickets = 1;
    } else {
        config.send_tls13_tickets = 0;
    }
    Ok((Arc::new(config), served))
}
