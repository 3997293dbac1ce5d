//! One client's session: whether (and as whom) it authenticated, when its
//! grant ends, and its publish budget; and the commands run against it.
//! The same for lines and WebSocket.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;

use super::auth::{Authorizer, Credential, Grant, Refusal};
use super::command::{parse, Request, RequestError};
use super::rules::{PublishRate, Rules, FLOOD_LIMIT};
use crate::{Conn, ConnId, Event, Recovered, ShardContext, TimerId, Unrecoverable};

/// Timer tag: the client has not authenticated in time.
const DEADLINE: u64 = 1;
/// Timer tag: the client's grant (its token's `exp`) ended.
const EXPIRY: u64 = 2;

/// What one command gets back: a reply (without framing), whether the
/// client is closed after it, and the publishes a recovery sends right
/// after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// `+OK`, `+OK …`, `+PONG` or `-ERR reason`.
    pub text: Cow<'static, [u8]>,
    /// Close the client once the reply is sent.
    pub close: bool,
    /// What `SUB topic SINCE …` recovered, to send after the reply.
    pub replay: Option<Replay>,
}

/// The publishes a recovery sends before any live one: each is a delivery
/// with its offset (`MSG topic offset payload`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// The topic recovered.
    pub topic: Bytes,
    /// Its publishes after the offset asked for, with their offsets, in
    /// order.
    pub missed: Vec<(u64, Bytes)>,
}

impl Reply {
    /// A reply that keeps the client.
    const fn keep(text: &'static [u8]) -> Self {
        Self {
            text: Cow::Borrowed(text),
            close: false,
            replay: None,
        }
    }

    /// A reply made for this command, keeping the client.
    fn owned(text: Vec<u8>) -> Self {
        Self {
            text: Cow::Owned(text),
            close: false,
            replay: None,
        }
    }

    /// A reply followed by a close.
    const fn close(text: &'static [u8]) -> Self {
        Self {
            text: Cow::Borrowed(text),
            close: true,
            replay: None,
        }
    }
}

/// Identities a `PRESENCE` reply lists at most.
pub const PRESENCE_LIST: usize = 100;

/// The reply to `SUB … POS` or `SINCE` without a history.
pub const HISTORY_OFF: &[u8] = b"-ERR history is off";
/// The reply to a recovery refused: the client must reload its state.
pub const CANNOT_RECOVER: &[u8] = b"-ERR cannot recover";

/// What the session's timer said, for [`Session::on_timer`].
pub const AUTH_TIMED_OUT: &[u8] = b"-ERR authentication timeout";
/// Sent before a client whose grant ended is closed.
pub const GRANT_EXPIRED: &[u8] = b"-ERR token expired";
/// Sent before a client that refreshed past [`REFRESH_RATE`] is closed.
pub const AUTH_FLOOD: &[u8] = b"-ERR too many AUTH";

/// How often an authenticated client may send `AUTH` again (a refresh):
/// 10 at once, then one a minute. A client refreshes once per token
/// lifetime; past this it is flooding the server with signature checks,
/// and is closed before its token is even read.
pub const REFRESH_RATE: PublishRate = PublishRate {
    per_second: 1.0 / 60.0,
    burst: 10,
};

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
    /// Its refresh budget ([`REFRESH_RATE`]), from its first refresh on.
    refreshes: Option<Bucket>,
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
        take(&mut self.bucket, rate, now)
    }

    /// Whether an `AUTH` now is within [`REFRESH_RATE`]: always the first
    /// one, then a refresh takes from its bucket.
    fn take_auth(&mut self, now: Instant) -> bool {
        self.grant.is_none() || take(&mut self.refreshes, REFRESH_RATE, now)
    }
}

/// Whether one more fits `rate` at `now` in `bucket` (full the first
/// time), updating it.
fn take(bucket: &mut Option<Bucket>, rate: PublishRate, now: Instant) -> bool {
    let burst = f64::from(rate.burst.max(1));
    let bucket = bucket.get_or_insert(Bucket {
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
        Request::Auth(_) if !session.take_auth(cx.now()) => {
            cx.count(Event::FloodClosed);
            Reply::close(AUTH_FLOOD)
        }
        Request::Auth(token) => {
            match session.authenticate(cx, conn.id(), rules, Credential::Token(token)) {
                Ok(()) => Reply::keep(b"+OK"),
                Err(refusal) => Reply::close(refusal.reply()),
            }
        }
        Request::Sub(topic) => subscribe(cx, conn, session, rules, topic, None),
        Request::SubPositioned(topic) => subscribe(cx, conn, session, rules, topic, Some(None)),
        Request::SubSince(topic, offset, epoch) => {
            subscribe(cx, conn, session, rules, topic, Some(Some((offset, epoch))))
        }
        Request::Presence(topic) => {
            if let Err(reply) =
                permitted(cx, rules, session, |a, grant| a.may_subscribe(grant, topic))
            {
                return reply;
            }
            let present = cx.presence(topic, PRESENCE_LIST);
            let mut text = format!("+OK {}", present.count).into_bytes();
            for identity in &present.identities {
                text.push(b' ');
                escape_identity(identity.as_bytes(), &mut text);
            }
            Reply::owned(text)
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

/// `SUB topic`, with positions (`Some`), recovering from an offset and
/// epoch (`Some(Some)`).
fn subscribe(
    cx: &mut ShardContext<'_>,
    conn: &Conn<'_>,
    session: &Session,
    rules: &Rules,
    topic: &[u8],
    positioned: Option<Option<(u64, &[u8])>>,
) -> Reply {
    if let Err(reply) = permitted(cx, rules, session, |a, grant| a.may_subscribe(grant, topic)) {
        return reply;
    }
    if cx.subscriptions(conn) >= rules.max_subscriptions {
        return Reply::keep(b"-ERR too many subscriptions");
    }
    let identity: Option<&Arc<str>> = session.grant.as_ref().map(|g| &g.identity.subject);
    let Some(since) = positioned else {
        cx.subscribe_as(conn, topic, identity);
        return Reply::keep(b"+OK");
    };
    match cx.subscribe_positioned(conn, topic, identity, since) {
        Ok(Recovered { position, missed }) => {
            let mut text = format!("+OK {} ", position.offset).into_bytes();
            text.extend_from_slice(&position.epoch);
            let mut reply = Reply::owned(text);
            if !missed.is_empty() {
                let topic = Bytes::copy_from_slice(topic);
                reply.replay = Some(Replay { topic, missed });
            }
            reply
        }
        Err(Unrecoverable::Off) => Reply::keep(HISTORY_OFF),
        Err(_) => Reply::keep(CANNOT_RECOVER),
    }
}

/// Appends `identity` to a `PRESENCE` reply: bytes above space but `%`
/// as they are, the others as `%XX` (so an identity is one word).
fn escape_identity(identity: &[u8], out: &mut Vec<u8>) {
    for &b in identity {
        if b <= b' ' || b == b'%' || b == 0x7f {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
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
