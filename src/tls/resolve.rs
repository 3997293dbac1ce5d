//! Choosing the certificate by the client's server name (SNI).

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::files::Loaded;

/// Certificates by server name: an exact name first, then a wildcard
/// (`*.example.com` serves `a.example.com`, not `a.b.example.com`), then
/// the first certificate, which is also served to clients that send no
/// server name.
#[derive(Debug)]
pub(crate) struct ByName {
    /// (name, key), in the order given.
    names: Vec<(String, Arc<CertifiedKey>)>,
    /// The first certificate.
    default: Arc<CertifiedKey>,
}

impl ByName {
    /// From loaded certificates, the first being the default; `None` if
    /// there is none.
    pub(crate) fn new(loaded: Vec<Loaded>) -> Option<Self> {
        let default = loaded.first()?.key.clone();
        let names = loaded
            .into_iter()
            .flat_map(|l| l.names.into_iter().map(move |n| (n, l.key.clone())))
            .collect();
        Some(Self { names, default })
    }

    /// The certificate for `name` (lower case expected, compared without
    /// case).
    pub(crate) fn pick(&self, name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = name else {
            return self.default.clone();
        };
        let exact = self
            .names
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        let wildcard = || {
            let (_, parent) = name.split_once('.')?;
            self.names.iter().find(|(n, _)| {
                n.strip_prefix("*.")
                    .is_some_and(|p| p.eq_ignore_ascii_case(parent))
            })
        };
        exact
            .or_else(wildcard)
            .map_or_else(|| self.default.clone(), |(_, key)| key.clone())
    }
}

impl ResolvesServerCert for ByName {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(hello.server_name()))
    }
}
