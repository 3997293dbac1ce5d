//! One client's session: whether (and as whom) it authenticated, when its
//! grant ends, and its publish budget; and the commands run against it.
//! The same for lines and WebSocket.

use std::time::{Instant, SystemTime};

use bytes::Bytes;

use super::auth::{Authorizer, Credential, Grant, Refusal};
use super::command::{parse, Request, RequestError};
use super::rules::{PublishRate, Rules, FLOOD_LIMIT};
use crate::{Conn, ConnId, Event, ShardContext, TimerId};

/// Timer tag: the client has not authenticated in time.
const DEADLINE: u64 = 1;
/// Timer tag: the client's grant (its token's `exp`) ended.
const EXPIRY: u64 = 2;

/// What one command gets back: a reply (without framing), and whether the
/// client is closed after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// `+OK`, `+PONG` or `-ERR reason`.
    pub text: &'static [u8],
    /// Close the client once the reply is sent.
    pub close: bool,
}

impl Reply {
    /// A reply that keeps the client.
    const fn keep(text: &'static [u8]) -> Self {
        Self { text, close: false }
    }

    /// A reply followed by a close.
    const fn close(text: &'static [u8]) -> Self {
        Self { text, close: true }
    }
}

/// What the session's timer said, for [`Session::on_timer`].
pub const AUTH_TIMED_OUT: &[u8] = b"-ERR authentication timeout";
/// Sent before a client whose grant ended is closed.
pub const GRANT_EXPIRED: &[u8] = b"-ERR token expired";

/// A token bucket's state.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Publishes allowed now.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

/// One client's pubsub session (the handlers' per-client state).
#[derive(Debug, Default)]
pub struct Session {
    /// What it was granted, once authenticated.
    grant: Option<Grant>,
    /// Its authentication deadline, then its grant's expiry.
    timer: Option<TimerId>,
    /// Its publish budget, from its first publish on.
    bucket: Option<Bucket>,
    /// Publishes refused for the rate since the last one accepted.
    refused: u32,
}

impl Session {
    /// The client `id` is ready for commands: with authentication
    /// configured, it has until the timeout to authenticate.
    pub fn open(&mut self, cx: &mut ShardContext<'_>, id: ConnId, rules: &Rules) {
        if let (Some(auth), None) = (&rules.auth, &self.grant) {
            self.timer = Some(cx.set_timer(id, auth.timeout, DEADLINE));
        }
    }

    /// What the client was granted, if it authenticated.
    pub fn grant(&self) -> Option<&Grant> {
        self.grant.as_ref()
    }

    /// Checks `credential` with the rules' authorizer and, if it is
    /// accepted, makes it the client's grant (a refresh must keep the
    /// identity). A client certificate's identity comes in this way, once
    /// the TLS layer verified it. `Err(Refusal::Unsupported)` without
    /// authentication configured.
    pub fn authenticate(
        &mut self,
        cx: &mut ShardContext<'_>,
        id: ConnId,
        rules: &Rules,
        credential: Credential<'_>,
    ) -> Result<(), Refusal> {
        let checked = match &rules.auth {
            None => Err(Refusal::Unsupported),
            Some(auth) => auth
                .authorizer
                .connect(credential, SystemTime::now())
                .and_then(|grant| match &self.grant {
                    Some(old) if old.identity.subject != grant.identity.subject => {
                        Err(Refusal::OtherIdentity)
                    }
                    _ => Ok(grant),
                }),
        };
        let grant = checked.inspect_err(|refusal| cx.count(refusal.event()))?;
        if let Some(timer) = self.timer.take() {
            cx.cancel_timer(timer);
        }
        if let Some(expires) = grant.expires {
            let left = expires
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            self.timer = Some(cx.set_timer(id, left, EXPIRY));
        }
        self.grant = Some(grant);
        Ok(())
    }

    /// A timer of the session's fired: the reply to send before closing
    /// the client (counted), or `None` if the tag is not the session's.
    pub fn on_timer(&mut self, cx: &mut ShardContext<'_>, tag: u64) -> Option<&'static [u8]> {
        let (event, reply) = match tag {
            DEADLINE => (Event::AuthTimeout, AUTH_TIMED_OUT),
            EXPIRY => (Event::GrantLapsed, GRANT_EXPIRED),
            _ => return None,
        };
        cx.count(event);
        Some(reply)
    }

    /// Whether a publish now fits the rate, updating the bucket.
    fn take_publish(&mut self, rate: PublishRate, now: Instant) -> bool {
        let burst = f64::from(rate.burst.max(1));
        let bucket = self.bucket.get_or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * rate.per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Runs one command (`line` without its line end) for `conn` in
/// `session`, under `rules`. A `PUB` publishes its payload as it is.
pub fn execute(
    cx: &mut ShardContext<'_>,
    conn: &Conn<'_>,
    session: &mut Session,
    rules: &Rules,
    line: &[u8],
) -> Reply {
    let request = match parse(line) {
        Err(err) => return Reply::keep(err.reply()),
        Ok(Request::Auth(_)) if rules.auth.is_none() => {
            return Reply::keep(RequestError::Unknown.reply())
        }
        Ok(request) => request,
    };
    match request {
        Request::Ping => Reply::keep(b"+PONG"),
        Request::Auth(token) => {
            match session.authenticate(cx, conn.id(), rules, Credential::Token(token)) {
                Ok(()) => Reply::keep(b"+OK"),
                Err(refusal) => Reply::close(refusal.reply()),
            }
        }
        Request::Sub(topic) => {
            if let Err(reply) =
                permitted(cx, rules, session, |a, grant| a.may_subscribe(grant, topic))
            {
                reply
            } else if cx.subscriptions(conn) >= rules.max_subscriptions {
                Reply::keep(b"-ERR too many subscriptions")
            } else {
                cx.subscribe(conn, topic);
                Reply::keep(b"+OK")
            }
        }
        Request::Unsub(topic) => {
            if let Err(reply) = permitted(cx, rules, session, |_, _| true) {
                reply
            } else if cx.unsubscribe(conn, topic) {
                Reply::keep(b"+OK")
            } else {
                Reply::keep(b"-ERR not subscribed")
            }
        }
        Request::Pub(topic, payload) => {
            if let Err(reply) = permitted(cx, rules, session, |a, g| a.may_publish(g, topic)) {
                return reply;
            }
            if let Some(rate) = rules.publish_rate {
                if !session.take_publish(rate, cx.now()) {
                    session.refused += 1;
                    cx.count(Event::RateLimited);
                    return if session.refused >= FLOOD_LIMIT {
                        cx.count(Event::FloodClosed);
                        Reply::close(RATE_LIMITED)
                    } else {
                        Reply::keep(RATE_LIMITED)
                    };
                }
                session.refused = 0;
            }
            cx.publish(topic, Bytes::copy_from_slice(payload));
            Reply::keep(b"+OK")
        }
    }
}

/// The reply to a publish past the rate.
pub const RATE_LIMITED: &[u8] = b"-ERR rate limited";

/// Whether the session may do what `check` asks of its grant: always
/// without authentication; `Err` with the reply if it has not
/// authenticated or is not allowed (counted).
fn permitted(
    cx: &mut ShardContext<'_>,
    rules: &Rules,
    session: &Session,
    check: impl FnOnce(&dyn Authorizer, &Grant) -> bool,
) -> Result<(), Reply> {
    match (&rules.auth, &session.grant) {
        (None, _) => Ok(()),
        (Some(_), None) => Err(Reply::keep(b"-ERR not authenticated")),
        (Some(auth), Some(grant)) if check(&*auth.authorizer, grant) => Ok(()),
        (Some(_), Some(_)) => {
            cx.count(Event::NotAllowed);
            Err(Reply::keep(b"-ERR not allowed"))
        }
    }
}
