//! What a TLS listener is made of: certificate files, client CAs, ALPN,
//! tickets and the handshake limits. Paths only: the files are read when
//! the settings are loaded (and again at each reload), so no secret ever
//! travels in the settings themselves.

use std::path::PathBuf;
use std::time::Duration;

/// One certificate chain and its private key, as PEM files. A listener
/// may hold several: the client's server name (SNI) picks one by the
/// names its certificate carries; the first is served when none matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateFiles {
    /// PEM file with the certificate chain, leaf first.
    pub chain: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Whether clients must present a certificate signed by the client CAs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client may present a certificate; one that does is verified
    /// (and refused when it is not signed by the client CAs).
    #[default]
    Optional,
    /// Every client must present a valid certificate.
    Required,
}

/// The TLS side of a listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// Certificate chains and keys; the first is the default.
    pub certificates: Vec<CertificateFiles>,
    /// PEM file of the CAs client certificates must chain to; `None`:
    /// clients are not asked for certificates.
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: optional or required.
    pub client_auth: ClientAuth,
    /// ALPN protocols offered, in order of preference (`http/1.1` for a
    /// WebSocket upgrade). Empty: ALPN is not negotiated.
    pub alpn: Vec<String>,
    /// Session tickets (TLS 1.3 and 1.2), so a client reconnecting pays
    /// a resumed handshake instead of a full one. Their keys rotate every
    /// six hours and survive reloads.
    pub tickets: bool,
    /// How long a handshaking client may keep the server waiting for its
    /// next flight (from the accept, then from each answer of the server)
    /// before it is closed; time it waits for a busy shard does not count.
    pub handshake_timeout: Duration,
    /// Handshake steps a shard runs per loop round at most, so a storm of
    /// new clients cannot starve the established ones; the rest wait for
    /// the next round.
    pub handshake_budget: usize,
}

impl TlsSettings {
    /// One certificate chain and key, with the defaults for the rest.
    pub fn new(chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            certificates: vec![CertificateFiles {
                chain: chain.into(),
                key: key.into(),
            }],
            client_ca: None,
            client_auth: ClientAuth::Optional,
            alpn: Vec::new(),
            tickets: true,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            handshake_budget: DEFAULT_HANDSHAKE_BUDGET,
        }
    }
}

/// Default [`TlsSettings::handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Default [`TlsSettings::handshake_budget`]: a full handshake costs a
/// signature, about 50 µs on one core, so 64 of them keep a round near
/// 3 ms.
pub const DEFAULT_HANDSHAKE_BUDGET: usize = 64;
