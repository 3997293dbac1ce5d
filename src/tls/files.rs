//! Reading certificate chains, keys and CAs from PEM files, with the
//! checks a server owes its operator at start-up and at each reload: a
//! chain that parses and is valid today, a key that is the chain's own.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::error::TlsError;
use super::identity::alt_names;
use super::settings::CertificateFiles;

/// A certificate chain with its signing key, and the names its leaf
/// answers to (for SNI).
pub(crate) struct Loaded {
    /// What rustls serves.
    pub(crate) key: Arc<CertifiedKey>,
    /// DNS names of the leaf (its alternative names, else its common
    /// names), lower case; `*.example.com` for a wildcard.
    pub(crate) names: Vec<String>,
    /// When the leaf expires, as the certificate says it.
    pub(crate) not_after: String,
}

/// Reads a file, naming it in the error.
fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The certificates of a PEM file, in order; at least one.
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::Pem {
            path: path.to_owned(),
            what: format!("broken PEM certificate: {err}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".into(),
        });
    }
    Ok(certs)
}

/// Loads one chain and its key, checking that the leaf is valid now and
/// that the key is its own.
pub(crate) fn chain_and_key(
    files: &CertificateFiles,
    provider: &CryptoProvider,
) -> Result<Loaded, TlsError> {
    let chain = certificates(&files.chain)?;
    let (names, not_after) = check_leaf(&files.chain, &chain[0])?;
    let pem = read(&files.key)?;
    let der = PrivateKeyDer::from_pem_slice(&pem).map_err(|err| TlsError::Pem {
        path: files.key.clone(),
        what: format!("no usable PEM private key: {err}"),
    })?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|err| TlsError::Pem {
            path: files.key.clone(),
            what: format!("unsupported private key: {err}"),
        })?;
    let key = CertifiedKey::new(chain, signing);
    key.keys_match().map_err(|_| TlsError::KeyMismatch {
        chain: files.chain.clone(),
        key: files.key.clone(),
    })?;
    Ok(Loaded {
        key: Arc::new(key),
        names,
        not_after,
    })
}

/// Checks a leaf certificate: it parses, and today is within its
/// validity. Returns its DNS names and its expiry.
fn check_leaf(path: &Path, leaf: &CertificateDer<'_>) -> Result<(Vec<String>, String), TlsError> {
    let bad = |what: String| TlsError::Certificate {
        path: path.to_owned(),
        what,
    };
    let (_, cert) = X509Certificate::from_der(leaf)
        .map_err(|err| bad(format!("the first certificate cannot be parsed: {err}")))?;
    let validity = cert.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now > validity.not_after {
        return Err(bad(format!(
            "the certificate expired on {}",
            validity.not_after
        )));
    }
    if now < validity.not_before {
        return Err(bad(format!(
            "the certificate is not valid before {}",
            validity.not_before
        )));
    }
    let mut names: Vec<String> = alt_names(&cert)
        .into_iter()
        .filter(|name| !name.contains(['/', '@', ':']) && name.parse::<std::net::IpAddr>().is_err())
        .map(|name| name.to_ascii_lowercase())
        .collect();
    if names.is_empty() {
        names = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok().map(str::to_ascii_lowercase))
            .collect();
    }
    Ok((names, validity.not_after.to_string()))
}

/// The CAs of a PEM file, for verifying client certificates.
pub(crate) fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(path)? {
        store.add(cert).map_err(|err| TlsError::Certificate {
            path: path.to_owned(),
            what: format!("not a usable CA certificate: {err}"),
        })?;
    }
    Ok(store)
}
