//! What a pubsub server allows each client: how many subscriptions, who
//! may connect, subscribe and publish (an [`Authorizer`]), how fast it may
//! publish. One value, cloned into every shard's handler.

use std::sync::Arc;
use std::time::Duration;

use super::auth::Authorizer;
use super::MAX_SUBSCRIPTIONS;

/// How long a client has to authenticate, by default.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes refused for the rate in a row (none accepted between) after
/// which a client is closed: it is flooding, not bursting.
pub const FLOOD_LIMIT: u32 = 100;

/// Authentication: who checks credentials, and how long a client has to
/// present one.
#[derive(Clone, Debug)]
pub struct Auth {
    /// Checks credentials and permissions.
    pub authorizer: Arc<dyn Authorizer>,
    /// A client that has not authenticated this long after it connected
    /// (or, over WebSocket, opened) is closed.
    pub timeout: Duration,
}

/// A per-client publish rate: a token bucket of `burst` tokens, refilled
/// at `per_second`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PublishRate {
    /// Publishes per second, sustained.
    pub per_second: f64,
    /// Publishes allowed at once after a quiet spell (at least 1).
    pub burst: u32,
}

/// Everything a pubsub handler enforces.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Most topics per client.
    pub max_subscriptions: usize,
    /// Authentication; `None`: anyone may subscribe and publish anywhere.
    pub auth: Option<Auth>,
    /// The publish rate per client; `None`: unlimited.
    pub publish_rate: Option<PublishRate>,
}

impl Default for Rules {
    /// [`MAX_SUBSCRIPTIONS`], no authentication, no rate limit.
    fn default() -> Self {
        Self {
            max_subscriptions: MAX_SUBSCRIPTIONS,
            auth: None,
            publish_rate: None,
        }
    }
}
