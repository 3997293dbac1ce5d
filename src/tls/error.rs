//! Why TLS settings could not be loaded: every message names the file.

use std::io;
use std::path::PathBuf;

/// TLS settings that cannot be used. At start-up the server does not
/// start; at a reload the running settings stay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// No certificate was given.
    #[error("TLS needs at least one certificate and key (--tls-cert FILE --tls-key FILE)")]
    NoCertificate,
    /// A file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        source: io::Error,
    },
    /// A file holds no PEM block of the kind expected, or a broken one.
    #[error("{}: {what}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// A certificate cannot be used: not parseable, expired, not valid yet.
    #[error("{}: {what}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// A key is not the key of its certificate.
    #[error("{} is not the private key of the certificate in {}", key.display(), chain.display())]
    KeyMismatch {
        /// The certificate file.
        chain: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the settings.
    #[error("TLS settings refused: {0}")]
    Rustls(#[from] rustls::Error),
}
