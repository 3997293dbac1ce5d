//! What a finished handshake tells the handler: the version and cipher,
//! the ALPN protocol, whether it was resumed, and the client's verified
//! certificate identity, if it presented one.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A client's certificate, verified against the client CAs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The subject's distinguished name (`CN=device-17, O=Fleet`).
    pub subject: String,
    /// The subject's common names, in order.
    pub common_names: Vec<String>,
    /// Subject alternative names: DNS names, e-mail addresses, URIs and IP
    /// addresses, as text.
    pub alt_names: Vec<String>,
}

impl PeerIdentity {
    /// Reads the identity of a DER certificate; `None` if it cannot be
    /// parsed (rustls verified it, so that does not happen).
    pub(crate) fn of(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let common_names = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
            .collect();
        Some(Self {
            subject: cert.subject().to_string(),
            common_names,
            alt_names: alt_names(&cert),
        })
    }

    /// The name a client is known by: its first DNS or URI alternative
    /// name, else its first common name, else its subject.
    pub fn name(&self) -> &str {
        self.alt_names
            .first()
            .or(self.common_names.first())
            .map_or(self.subject.as_str(), String::as_str)
    }
}

/// The subject alternative names of `cert`, as text.
pub(crate) fn alt_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            GeneralName::RFC822Name(mail) => Some((*mail).to_owned()),
            GeneralName::IPAddress(bytes) => ip_text(bytes),
            _ => None,
        })
        .collect()
}

/// An IP address SAN as text.
fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|a| std::net::Ipv4Addr::from(a).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|a| std::net::Ipv6Addr::from(a).to_string()),
        _ => None,
    }
}

/// A finished TLS handshake, as [`Conn::tls`](crate::Conn::tls) shows it
/// in `on_connect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: &'static str,
    /// The cipher suite, as IANA names it.
    pub cipher: &'static str,
    /// The ALPN protocol agreed on, if any.
    pub alpn: Option<Vec<u8>>,
    /// The session was resumed from a ticket (no full handshake).
    pub resumed: bool,
    /// The client's verified certificate, if it presented one.
    pub peer: Option<PeerIdentity>,
}
