//! The JWT connection-token checker: HS256 with a shared secret, RS256 or
//! ES256 with a public key. Claims: `sub` (the identity), `exp`, optional
//! `nbf` (both seconds since 1970, checked without leeway), and the topic
//! patterns `subs` and `pubs` (absent: none).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

use super::keys::Keys;
use super::pattern::{Pattern, Permissions};
use super::{Authorizer, Credential, Grant, Identity, Origin, Refusal};

/// Longest token accepted, in bytes; a longer one is refused unread.
pub const MAX_TOKEN: usize = 8 * 1024;

/// Checks JWT connection tokens with the [`Keys`] it shares (reload them
/// to change the key for every later check).
#[derive(Clone, Debug)]
pub struct JwtAuthorizer {
    /// The key in use.
    keys: Arc<Keys>,
}

/// The claims read from a token.
#[derive(serde::Deserialize)]
struct Claims {
    /// The identity.
    sub: String,
    /// Expiry, seconds since 1970.
    exp: u64,
    /// Not before, seconds since 1970.
    #[serde(default)]
    nbf: Option<u64>,
    /// Patterns of the topics it may subscribe to.
    #[serde(default)]
    subs: Vec<String>,
    /// Patterns of the topics it may publish to.
    #[serde(default)]
    pubs: Vec<String>,
}

/// The part of a token's header read before its signature is checked.
#[derive(serde::Deserialize)]
struct Header {
    /// The algorithm it says it is signed with.
    alg: String,
}

impl JwtAuthorizer {
    /// A checker of tokens signed with `keys`' key.
    pub fn new(keys: Arc<Keys>) -> Self {
        Self { keys }
    }

    /// The keys it checks with (for [`Keys::reload`]).
    pub fn keys(&self) -> &Arc<Keys> {
        &self.keys
    }

    /// Checks `token` at `now`.
    fn check(&self, token: &[u8], now: SystemTime) -> Result<Grant, Refusal> {
        if token.len() > MAX_TOKEN {
            return Err(Refusal::TooLong);
        }
        let token = std::str::from_utf8(token).map_err(|_| Refusal::Malformed)?;
        let loaded = self.keys.current();
        if header_algorithm(token)? != algorithm_name(loaded.algorithm) {
            return Err(Refusal::Algorithm);
        }
        let mut validation = Validation::new(loaded.algorithm);
        // Times are checked below against `now`, without leeway.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(token, &loaded.key, &validation)
            .map_err(|err| refusal(err.kind()))?
            .claims;
        let seconds = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        if seconds >= claims.exp {
            return Err(Refusal::Expired);
        }
        if claims.nbf.is_some_and(|nbf| seconds < nbf) {
            return Err(Refusal::NotYetValid);
        }
        // An `exp` past what the clock can hold is no expiry we can keep.
        let expires = UNIX_EPOCH
            .checked_add(Duration::from_secs(claims.exp))
            .ok_or(Refusal::Claims)?;
        if claims.sub.is_empty() {
            return Err(Refusal::Claims);
        }
        let patterns = |list: &[String]| list.iter().map(|p| Pattern::new(p)).collect();
        Ok(Grant {
            identity: Identity {
                subject: claims.sub.into(),
                origin: Origin::Token,
            },
            permissions: Permissions {
                subscribe: patterns(&claims.subs),
                publish: patterns(&claims.pubs),
            },
            expires: Some(expires),
        })
    }
}

impl Authorizer for JwtAuthorizer {
    fn connect(&self, credential: Credential<'_>, now: SystemTime) -> Result<Grant, Refusal> {
        match credential {
            Credential::Token(token) => self.check(token, now),
            Credential::Certificate(_) => Err(Refusal::Unsupported),
        }
    }
}

/// The `alg` a token's header names (read before anything is trusted, to
/// refuse `none` and algorithms other than the key's).
fn header_algorithm(token: &str) -> Result<String, Refusal> {
    let header = token.split('.').next().unwrap_or_default();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| Refusal::Malformed)?;
    let header: Header = serde_json::from_slice(&json).map_err(|_| Refusal::Malformed)?;
    Ok(header.alg)
}

/// The name a header gives `algorithm`.
fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HS256 => "HS256",
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        // Keys load as one of the three above only.
        _ => "",
    }
}

/// The refusal for a decoding error.
fn refusal(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::InvalidSignature => Refusal::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Refusal::Algorithm,
        ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => Refusal::Claims,
        _ => Refusal::Malformed,
    }
}
