//! TLS 1.3 and 1.2 with rustls, as a transport layer under every
//! protocol: the handler sees plaintext.
//!
//! A listener with [`Config::tls`](crate::Config::tls) set runs each new
//! connection's handshake in its shard (apart from the clients, with a
//! deadline and a per-round budget), then hands the client core a
//! [`TlsSession`](session::TlsSession) as its transport. The session
//! uses rustls's unbuffered API with buffers borrowed from the shard
//! thread, so an idle TLS client holds rustls's state and nothing else.
//!
//! Kernel TLS would go here too: a session whose records the kernel
//! encrypts would hand the core its socket back after the handshake.
//! This kernel has no `tls` module, so it is not built.

mod build;
mod error;
mod files;
mod handle;
mod identity;
mod resolve;
mod scratch;
pub(crate) mod session;
mod settings;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use error::TlsError;
pub use handle::Tls;
pub use identity::{PeerIdentity, TlsInfo};
pub use settings::{
    CertificateFiles, ClientAuth, TlsSettings, DEFAULT_HANDSHAKE_BUDGET, DEFAULT_HANDSHAKE_TIMEOUT,
};

/// A certificate a listener serves, as read at start-up or at the last
/// reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// Its chain's file.
    pub chain: PathBuf,
    /// The DNS names it serves (SNI), lower case.
    pub names: Vec<String>,
    /// When it expires.
    pub not_after: String,
}
