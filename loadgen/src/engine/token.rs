//! Connection tokens for a pub/sub server that asks for them
//! (`--auth-jwt-secret-file`): one HS256 JWT minted for each connection
//! as it connects (and again when it reconnects), with the claims
//! esockets reads: `sub` (the connection's identity), `exp`, and the
//! topic patterns `subs` and `pubs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

/// Every topic loadgen uses (`lg.0`, `lg.1`, ...), as one pattern.
pub const ALL_TOPICS: &str = "lg.*";

/// What a connection does, for the permissions its token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A subscriber: by default it may subscribe to [`ALL_TOPICS`].
    Subscriber,
    /// A publisher: by default it may publish to [`ALL_TOPICS`].
    Publisher,
}

/// Mints the tokens of a run.
pub struct Minter {
    /// The shared secret, as a signing key.
    key: EncodingKey,
    /// How long a token is valid from its minting (its `exp`).
    pub ttl: Duration,
    /// `subs` of every token, when given; else by [`Holder`].
    subs: Option<Vec<String>>,
    /// `pubs` of every token, when given; else by [`Holder`].
    pubs: Option<Vec<String>>,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs and reports.
        f.debug_struct("Minter")
            .field("ttl", &self.ttl)
            .field("subs", &self.subs)
            .field("pubs", &self.pubs)
            .finish_non_exhaustive()
    }
}

/// The claims of one token.
#[derive(Serialize)]
struct Claims<'a> {
    /// The identity.
    sub: &'a str,
    /// Expiry, seconds since 1970.
    exp: u64,
    /// Issued at, seconds since 1970.
    iat: u64,
    /// Patterns of the topics it may subscribe to.
    subs: &'a [String],
    /// Patterns of the topics it may publish to.
    pubs: &'a [String],
}

impl Minter {
    /// Signs with `secret`; tokens live `ttl`; `subs` and `pubs`, when
    /// given, replace the permissions of every token.
    pub fn new(
        secret: &[u8],
        ttl: Duration,
        subs: Option<Vec<String>>,
        pubs: Option<Vec<String>>,
    ) -> Self {
        Self {
            key: EncodingKey::from_secret(secret),
            ttl,
            subs,
            pubs,
        }
    }

    /// A token for `identity`, a `holder`, minted at `now`.
    ///
    /// # Errors
    ///
    /// When the claims cannot be signed (not with an HMAC key in
    /// practice), the signing library's error.
    pub fn mint(
        &self,
        identity: &str,
        holder: Holder,
        now: SystemTime,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let all = [ALL_TOPICS.to_string()];
        let (default_subs, default_pubs): (&[String], &[String]) = match holder {
            Holder::Subscriber => (&all, &[]),
            Holder::Publisher => (&[], &all),
        };
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = Claims {
            sub: identity,
            exp: iat.saturating_add(self.ttl.as_secs().max(1)),
            iat,
            subs: self.subs.as_deref().unwrap_or(default_subs),
            pubs: self.pubs.as_deref().unwrap_or(default_pubs),
        };
        jsonwebtoken::encode(&Header::default(), &claims, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(token: &str) -> serde_json::Value {
        use base64::Engine;
        let body = token.split('.').nth(1).unwrap_or_default();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .unwrap_or_default();
        serde_json::from_slice(&json).unwrap_or_default()
    }

    #[test]
    fn tokens_carry_identity_expiry_and_permissions_by_role() {
        let minter = Minter::new(&[7; 32], Duration::from_secs(60), None, None);
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let sub = minter.mint("lg-1", Holder::Subscriber, now);
        let c = claims(sub.as_deref().unwrap_or_default());
        assert_eq!(c["sub"], "lg-1");
        assert_eq!(c["exp"], 1_060);
        assert_eq!(c["subs"], serde_json::json!(["lg.*"]));
        assert_eq!(c["pubs"], serde_json::json!([]));
        let publisher = minter.mint("lg-2", Holder::Publisher, now);
        let c = claims(publisher.as_deref().unwrap_or_default());
        assert_eq!(c["pubs"], serde_json::json!(["lg.*"]));
        let narrow = Minter::new(
            &[7; 32],
            Duration::from_secs(1),
            Some(vec!["x".into()]),
            None,
        );
        let c = claims(&narrow.mint("a", Holder::Publisher, now).unwrap_or_default());
        assert_eq!(c["subs"], serde_json::json!(["x"]));
    }
}
