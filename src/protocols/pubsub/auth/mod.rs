//! Who may subscribe and publish: an [`Authorizer`] checks a client's
//! credential once, when it connects (or refreshes), and the [`Grant`] it
//! returns is what the protocol checks each `SUB` and `PUB` against. The
//! JWT checker ([`JwtAuthorizer`]) is one authorizer; an embedding service
//! may write its own.

mod jwt;
mod keys;
mod pattern;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::Event;

pub use jwt::{JwtAuthorizer, MAX_TOKEN};
pub use keys::{KeyError, KeyKind, KeySource, Keys, Place, MIN_SECRET};
pub use pattern::{Pattern, Permissions};

/// Where a client's identity came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A connection token (`AUTH <token>`, or a WebSocket URL's `token`).
    Token,
    /// A TLS client certificate the server verified.
    Certificate,
}

/// Who a client is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Its name: a token's `sub`, a certificate's subject.
    pub subject: Arc<str>,
    /// How it was learnt.
    pub origin: Origin,
}

/// What a client presents to be let in.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    /// A connection token, as sent.
    Token(&'a [u8]),
    /// The subject of a client certificate the TLS layer already verified.
    Certificate(&'a str),
}

/// What an authorizer granted a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Who it is.
    pub identity: Identity,
    /// What it may subscribe and publish to.
    pub permissions: Permissions,
    /// When the grant ends (a token's `exp`); `None` for never.
    pub expires: Option<SystemTime>,
}

/// Why a credential was refused; each has the text its `-ERR` reply names
/// and a label for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Not a token at all (not three base64url parts of JSON).
    Malformed,
    /// Longer than [`MAX_TOKEN`].
    TooLong,
    /// Signed with another key (or altered).
    BadSignature,
    /// Signed with an algorithm the server does not accept (`none`
    /// included).
    Algorithm,
    /// Past its `exp`.
    Expired,
    /// Before its `nbf`.
    NotYetValid,
    /// A claim the server needs (`sub`, `exp`) is missing or of the wrong
    /// type.
    Claims,
    /// A refresh for another identity than the client's.
    OtherIdentity,
    /// This kind of credential is not accepted here.
    Unsupported,
}

impl Refusal {
    /// Every reason, for metrics that list them all.
    pub const ALL: [Self; 9] = [
        Self::Malformed,
        Self::TooLong,
        Self::BadSignature,
        Self::Algorithm,
        Self::Expired,
        Self::NotYetValid,
        Self::Claims,
        Self::OtherIdentity,
        Self::Unsupported,
    ];

    /// The reply sent before the client is closed, without its newline.
    pub fn reply(self) -> &'static [u8] {
        match self {
            Self::Malformed => b"-ERR invalid token: malformed",
            Self::TooLong => b"-ERR invalid token: too long",
            Self::BadSignature => b"-ERR invalid token: bad signature",
            Self::Algorithm => b"-ERR invalid token: algorithm not accepted",
            Self::Expired => b"-ERR invalid token: expired",
            Self::NotYetValid => b"-ERR invalid token: not valid yet (nbf)",
            Self::Claims => b"-ERR invalid token: missing or bad claims",
            Self::OtherIdentity => b"-ERR invalid token: another identity",
            Self::Unsupported => b"-ERR credential not accepted",
        }
    }

    /// The event it is counted as.
    pub fn event(self) -> Event {
        match self {
            Self::Malformed => Event::AuthMalformed,
            Self::TooLong => Event::AuthTooLong,
            Self::BadSignature => Event::AuthBadSignature,
            Self::Algorithm => Event::AuthAlgorithm,
            Self::Expired => Event::AuthExpired,
            Self::NotYetValid => Event::AuthNotYetValid,
            Self::Claims => Event::AuthClaims,
            Self::OtherIdentity | Self::Unsupported => Event::AuthOther,
        }
    }

    /// A short label (`expired`), for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLong => "too_long",
            Self::BadSignature => "bad_signature",
            Self::Algorithm => "algorithm",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Claims => "claims",
            Self::OtherIdentity => "other_identity",
            Self::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Decides who may connect, subscribe and publish. Shared by every shard
/// (so `Send + Sync`); [`connect`](Self::connect) runs once per client
/// (and per refresh), the two checks once per `SUB` and `PUB`, on the
/// shard's thread: none of them may block.
pub trait Authorizer: Send + Sync + fmt::Debug {
    /// Checks `credential`, presented at `now`: who the client is and what
    /// it may do, or why it is refused.
    fn connect(&self, credential: Credential<'_>, now: SystemTime) -> Result<Grant, Refusal>;

    /// Whether a client certificate the TLS layer verified is a
    /// credential for it ([`Credential::Certificate`], offered when a
    /// line client connects). By default no: clients send a token.
    fn accepts_certificates(&self) -> bool {
        false
    }

    /// Whether the client holding `grant` may subscribe to `topic`. By
    /// default, what its permissions say.
    fn may_subscribe(&self, grant: &Grant, topic: &[u8]) -> bool {
        grant.permissions.may_subscribe(topic)
    }

    /// Whether the client holding `grant` may publish to `topic`. By
    /// default, what its permissions say.
    fn may_publish(&self, grant: &Grant, topic: &[u8]) -> bool {
        grant.permissions.may_publish(topic)
    }
}
