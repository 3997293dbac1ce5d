//! The keys tokens are checked with, read from a file or the environment
//! (never the command line), and re-read on demand: [`Keys::reload`] swaps
//! in the new key only if it loads, so a bad edit keeps the old one.

use std::path::PathBuf;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::RwLock;

/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: a key as long
/// as the hash).
pub const MIN_SECRET: usize = 32;

/// What the key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A shared secret: tokens signed HS256.
    Secret,
    /// A PEM public key: RSA (tokens signed RS256) or EC P-256 (ES256).
    PublicKey,
}

/// Where the key is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A file's contents (a secret's trailing line end is not part of it).
    File(PathBuf),
    /// An environment variable's value.
    Env(String),
}

/// A key's kind and where to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySource {
    /// What it is.
    pub kind: KeyKind,
    /// Where it is.
    pub place: Place,
}

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The environment variable is not set (or not UTF-8).
    #[error("environment variable {0} is not set")]
    Env(String),
    /// The secret is shorter than [`MIN_SECRET`].
    #[error("the secret is {0} bytes; at least {MIN_SECRET} are needed for HS256")]
    ShortSecret(usize),
    /// Not a PEM RSA or EC public key.
    #[error("not a PEM RSA or EC (P-256) public key")]
    NotAPublicKey,
}

/// A loaded key and the one algorithm tokens must be signed with.
#[derive(Clone)]
pub struct Loaded {
    /// The key.
    pub key: DecodingKey,
    /// The algorithm it checks.
    pub algorithm: Algorithm,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key itself stays out of logs.
        f.debug_struct("Loaded")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The current key, shared by every shard, reloadable.
#[derive(Debug)]
pub struct Keys {
    /// Where it comes from.
    source: KeySource,
    /// What was last loaded.
    current: RwLock<Arc<Loaded>>,
}

impl Keys {
    /// Loads the key from `source`.
    pub fn load(source: KeySource) -> Result<Self, KeyError> {
        let loaded = read(&source)?;
        Ok(Self {
            source,
            current: RwLock::new(Arc::new(loaded)),
        })
    }

    /// Re-reads the key from its source and uses it from now on; on an
    /// error the key in use stays, and the error says why.
    pub fn reload(&self) -> Result<(), KeyError> {
        let loaded = read(&self.source)?;
        *self.current.write() = Arc::new(loaded);
        Ok(())
    }

    /// The key in use.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.read().clone()
    }

    /// Where it comes from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }
}

/// Reads and parses the key `source` names.
fn read(source: &KeySource) -> Result<Loaded, KeyError> {
    let bytes = match &source.place {
        Place::File(path) => std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.clone(),
            source,
        })?,
        Place::Env(name) => std::env::var(name)
            .map_err(|_| KeyError::Env(name.clone()))?
            .into_bytes(),
    };
    match source.kind {
        KeyKind::Secret => {
            let secret = trim_line_end(&bytes);
            if secret.len() < MIN_SECRET {
                return Err(KeyError::ShortSecret(secret.len()));
            }
            Ok(Loaded {
                key: DecodingKey::from_secret(secret),
                algorithm: Algorithm::HS256,
            })
        }
        KeyKind::PublicKey => {
            if let Ok(key) = DecodingKey::from_rsa_pem(&bytes) {
                Ok(Loaded {
                    key,
                    algorithm: Algorithm::RS256,
                })
            } else if let Ok(key) = DecodingKey::from_ec_pem(&bytes) {
                Ok(Loaded {
                    key,
                    algorithm: Algorithm::ES256,
                })
            } else {
                Err(KeyError::NotAPublicKey)
            }
        }
    }
}

/// `bytes` without one trailing `\n` or `\r\n` (what `echo` adds).
fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::{trim_line_end, KeyError, KeyKind, KeySource, Keys, Place};

    #[test]
    fn a_secret_loses_its_line_end_and_a_short_one_is_refused() {
        assert_eq!(trim_line_end(b"abc\r\n"), b"abc");
        assert_eq!(trim_line_end(b"abc\n\n"), b"abc\n");
        let var = "ESOCKETS_TEST_SHORT_SECRET";
        std::env::set_var(var, "short\n");
        let err = Keys::load(KeySource {
            kind: KeyKind::Secret,
            place: Place::Env(var.into()),
        })
        .expect_err("short");
        assert!(matches!(err, KeyError::ShortSecret(5)), "{err}");
    }

    #[test]
    fn reload_keeps_the_old_key_when_the_new_one_is_bad() {
        let var = "ESOCKETS_TEST_RELOAD_SECRET";
        std::env::set_var(var, "k".repeat(40));
        let keys = Keys::load(KeySource {
            kind: KeyKind::Secret,
            place: Place::Env(var.into()),
        })
        .expect("loads");
        let before = keys.current();
        std::env::set_var(var, "bad");
        assert!(keys.reload().is_err());
        assert!(std::sync::Arc::ptr_eq(&before, &keys.current()), "old kept");
        std::env::set_var(var, "n".repeat(40));
        keys.reload().expect("reloads");
        assert!(!std::sync::Arc::ptr_eq(&before, &keys.current()), "swapped");
    }
}
