//! The one place the crypto provider is chosen: ring (builds quickly with
//! only a C compiler, and is what the server side uses). Switching
//! provider is a change to this file and to the `rustls` features in
//! `loadgen/Cargo.toml`.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The crypto provider of every TLS connection loadgen makes.
pub fn provider() -> Arc<CryptoProvider> {
    // rustls 0.23.48 deprecates ring's provider for lacking post-quantum
    // key exchange; ring is the project's choice (the lead's, for now).
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}
