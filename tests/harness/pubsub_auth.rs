//! Authentication and the publish rate of the pubsub protocol, in memory:
//! JWT tokens refused for each reason (and the client closed), topic
//! permissions, the authentication deadline, expiry and refresh, the rate
//! limit and the flood bound, and a WebSocket client's token in its URL.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use esockets::protocols::pubsub::auth::{
    Authorizer, Credential, Grant, Identity, JwtAuthorizer, KeyKind, KeySource, Keys, Origin,
    Permissions, Place, Refusal,
};
use esockets::protocols::pubsub::{Auth, PubSubWs, PublishRate, Rules, FLOOD_LIMIT};
use esockets::protocols::PubSub;
use esockets::testing::Harness;
use esockets::websocket::{WebSocket, WsConfig};
use esockets::{Config, ConnId};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

use crate::websocket::{masked_text, server_text};

/// The secret the server checks with.
const SECRET: &str = "a secret of at least thirty-two bytes";
/// How long a client has to authenticate.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Seconds since 1970, `by` seconds from now.
fn at(by: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    now + by
}

/// A token with `claims`, signed HS256 with `secret`.
fn token_with(secret: &str, claims: serde_json::Value) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

/// A token for `sub`, valid for a minute, allowed to subscribe to `room.*`
/// and publish to `room.1`.
fn token(sub: &str) -> String {
    token_with(
        SECRET,
        json!({"sub": sub, "exp": at(60), "subs": ["room.*"], "pubs": ["room.1"]}),
    )
}

/// Rules checking tokens signed with [`SECRET`].
fn rules() -> Rules {
    // One variable per test process is enough: all use the same secret.
    let var = "ESOCKETS_TEST_HARNESS_SECRET";
    std::env::set_var(var, SECRET);
    let keys = Keys::load(KeySource {
        kind: KeyKind::Secret,
        place: Place::Env(var.into()),
    })
    .expect("loads");
    Rules {
        auth: Some(Auth {
            authorizer: Arc::new(JwtAuthorizer::new(Arc::new(keys))),
            timeout: TIMEOUT,
        }),
        ..Rules::default()
    }
}

/// A line server with `rules` and lines up to 70,000 bytes.
fn server(rules: Rules) -> Harness<PubSub> {
    Harness::new(Config::default(), PubSub::new(70_000).with_rules(rules))
}

/// Sends `line` and returns the reply text.
fn ask(h: &mut Harness<PubSub>, c: ConnId, line: &str) -> String {
    h.send(c, format!("{line}\n").as_bytes());
    String::from_utf8(h.take_output(c)).expect("text")
}

#[test]
fn before_auth_only_ping_is_answered_then_permissions_decide() {
    let mut h = server(rules());
    let c = h.connect().expect("accepted");
    assert_eq!(ask(&mut h, c, "SUB room.1"), "-ERR not authenticated\n");
    assert_eq!(ask(&mut h, c, "PUB room.1 x"), "-ERR not authenticated\n");
    assert_eq!(ask(&mut h, c, "PING"), "+PONG\n");
    assert_eq!(ask(&mut h, c, &format!("AUTH {}", token("ann"))), "+OK\n");
    assert_eq!(ask(&mut h, c, "SUB room.2"), "+OK\n");
    assert_eq!(ask(&mut h, c, "SUB lobby"), "-ERR not allowed\n");
    assert_eq!(ask(&mut h, c, "PUB room.2 x"), "-ERR not allowed\n");
    assert_eq!(ask(&mut h, c, "PUB room.1 hi"), "+OK\n");
    assert_eq!(h.stats().published, 1, "the refused publish was not sent");
    assert_eq!(h.stats().not_allowed, 2, "counted");
    assert!(h.is_connected(c));
}

#[test]
fn every_bad_token_is_named_and_closes_the_client() {
    let expired = token_with(SECRET, json!({"sub": "a", "exp": at(-1)}));
    let early = token_with(SECRET, json!({"sub": "a", "exp": at(60), "nbf": at(30)}));
    let wrong_key = token_with(
        "another secret, also thirty-two bytes",
        json!({"sub": "a", "exp": at(60)}),
    );
    let no_sub = token_with(SECRET, json!({"exp": at(60)}));
    let endless = token_with(SECRET, json!({"sub": "a", "exp": u64::MAX}));
    // alg none: a header and claims, no signature.
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&format!(r#"{{"sub":"a","exp":{}}}"#, at(60)))
    );
    let huge = "x".repeat(64 * 1024);
    let cases = [
        ("garbage", "-ERR invalid token: malformed"),
        ("a.b.c", "-ERR invalid token: malformed"),
        (&expired, "-ERR invalid token: expired"),
        (&early, "-ERR invalid token: not valid yet (nbf)"),
        (&wrong_key, "-ERR invalid token: bad signature"),
        (&no_sub, "-ERR invalid token: missing or bad claims"),
        (&endless, "-ERR invalid token: missing or bad claims"),
        (&none, "-ERR invalid token: algorithm not accepted"),
        (&huge, "-ERR invalid token: too long"),
    ];
    let mut h = server(rules());
    for (token, reply) in cases {
        let c = h.connect().expect("accepted");
        // The lines after a refused AUTH are not run.
        h.send(c, format!("AUTH {token}\nSUB room.1\n").as_bytes());
        let got = String::from_utf8(h.take_output(c)).expect("text");
        assert_eq!(got, format!("{reply}\n"), "for {:.40}", token);
        assert!(!h.is_connected(c), "closed after {reply}");
    }
    let stats = h.stats();
    let by_reason = [
        stats.auth_malformed,
        stats.auth_expired,
        stats.auth_not_yet_valid,
        stats.auth_bad_signature,
        stats.auth_claims,
        stats.auth_algorithm,
        stats.auth_too_long,
    ];
    assert_eq!(by_reason, [2, 1, 1, 1, 2, 1, 1], "each counted by reason");
}

#[test]
fn an_auth_flood_ends_with_the_first_refusal() {
    let mut h = server(rules());
    let c = h.connect().expect("accepted");
    h.send(c, "AUTH garbage\n".repeat(10_000).as_bytes());
    assert_eq!(h.take_output(c), b"-ERR invalid token: malformed\n");
    assert!(!h.is_connected(c));
}

#[test]
fn refreshes_past_their_bound_close_the_client_before_any_check() {
    let mut h = server(rules());
    let long = token_with(SECRET, json!({"sub": "ann", "exp": at(600), "subs": ["*"]}));
    let c = h.connect().expect("accepted");
    assert_eq!(ask(&mut h, c, &format!("AUTH {long}")), "+OK\n");
    // Ten refreshes at once are fine, and one more a minute later.
    h.send(c, format!("AUTH {long}\n").repeat(10).as_bytes());
    assert_eq!(h.take_output(c), "+OK\n".repeat(10).as_bytes());
    h.advance(Duration::from_secs(61));
    assert_eq!(ask(&mut h, c, &format!("AUTH {long}")), "+OK\n");
    // Past it, a flood: closed at the first one over, even a garbage one.
    h.send(c, format!("AUTH {long}\nAUTH garbage\nSUB x\n").as_bytes());
    assert_eq!(h.take_output(c), b"-ERR too many AUTH\n");
    assert!(!h.is_connected(c));
    let stats = h.stats();
    assert_eq!(
        (stats.flood_closed, stats.auth_malformed),
        (1, 0),
        "no check ran"
    );
    let other = h.connect().expect("accepted");
    assert_eq!(
        ask(&mut h, other, &format!("AUTH {long}")),
        "+OK\n",
        "others go on"
    );
}

#[test]
fn a_client_that_never_authenticates_is_closed_at_the_deadline() {
    let mut h = server(rules());
    let silent = h.connect().expect("accepted");
    let talker = h.connect().expect("accepted");
    let authed = h.connect().expect("accepted");
    assert_eq!(
        ask(&mut h, authed, &format!("AUTH {}", token("bo"))),
        "+OK\n"
    );
    h.advance(TIMEOUT - Duration::from_millis(10));
    assert_eq!(ask(&mut h, talker, "PING"), "+PONG\n");
    assert!(h.is_connected(silent));
    h.advance(Duration::from_millis(20));
    assert_eq!(h.take_output(silent), b"-ERR authentication timeout\n");
    assert_eq!(h.take_output(talker), b"-ERR authentication timeout\n");
    assert!(!h.is_connected(silent) && !h.is_connected(talker));
    assert!(h.is_connected(authed), "an authenticated client stays");
    assert_eq!(h.stats().auth_timeouts, 2);
}

#[test]
fn a_token_ends_at_exp_unless_refreshed_for_the_same_identity() {
    let mut h = server(rules());
    let short = || token_with(SECRET, json!({"sub": "cy", "exp": at(5), "subs": ["*"]}));
    let kept = h.connect().expect("accepted");
    let lapsed = h.connect().expect("accepted");
    for c in [kept, lapsed] {
        assert_eq!(ask(&mut h, c, &format!("AUTH {}", short())), "+OK\n");
    }
    h.advance(Duration::from_secs(3));
    let fresh = token_with(SECRET, json!({"sub": "cy", "exp": at(60), "subs": ["*"]}));
    assert_eq!(ask(&mut h, kept, &format!("AUTH {fresh}")), "+OK\n");
    h.advance(Duration::from_secs(3));
    assert_eq!(h.take_output(lapsed), b"-ERR token expired\n");
    assert!(!h.is_connected(lapsed));
    assert!(h.is_connected(kept), "refreshed before exp");
    assert_eq!(ask(&mut h, kept, "SUB anything"), "+OK\n");
    let other = token_with(SECRET, json!({"sub": "dee", "exp": at(60)}));
    assert_eq!(
        ask(&mut h, kept, &format!("AUTH {other}")),
        "-ERR invalid token: another identity\n"
    );
    assert!(!h.is_connected(kept));
    assert_eq!((h.stats().grants_lapsed, h.stats().auth_other), (1, 1));
}

#[test]
fn without_auth_configured_auth_is_an_unknown_command_as_before() {
    let mut h = server(Rules::default());
    let c = h.connect().expect("accepted");
    assert_eq!(ask(&mut h, c, "AUTH x"), "-ERR unknown command\n");
    assert_eq!(ask(&mut h, c, "SUB anything"), "+OK\n");
    h.advance(TIMEOUT * 2);
    assert!(h.is_connected(c), "no deadline");
}

#[test]
fn past_the_rate_publishes_are_refused_and_a_flood_is_closed() {
    let rate = PublishRate {
        per_second: 10.0,
        burst: 3,
    };
    let mut h = server(Rules {
        publish_rate: Some(rate),
        ..Rules::default()
    });
    let sub = h.connect().expect("accepted");
    let calm = h.connect().expect("accepted");
    let flood = h.connect().expect("accepted");
    assert_eq!(ask(&mut h, sub, "SUB t"), "+OK\n");
    h.send(calm, b"PUB t 1\nPUB t 2\nPUB t 3\nPUB t 4\n");
    assert_eq!(h.take_output(calm), b"+OK\n+OK\n+OK\n-ERR rate limited\n");
    assert_eq!(h.take_output(sub), b"MSG t 1\nMSG t 2\nMSG t 3\n");
    h.advance(Duration::from_millis(100));
    assert_eq!(ask(&mut h, calm, "PUB t 5"), "+OK\n", "one token back");
    h.send(flood, "PUB t f\n".repeat(1000).as_bytes());
    let replies = String::from_utf8(h.take_output(flood)).expect("text");
    let limited = replies.matches("-ERR rate limited\n").count();
    assert_eq!(replies.matches("+OK\n").count(), 3, "its burst");
    assert_eq!(limited, FLOOD_LIMIT as usize, "then closed");
    assert!(!h.is_connected(flood));
    assert!(h.is_connected(calm));
    let delivered = String::from_utf8(h.take_output(sub)).expect("text");
    assert_eq!(delivered, "MSG t 5\nMSG t f\nMSG t f\nMSG t f\n");
    let stats = h.stats();
    assert_eq!(stats.rate_limited, 1 + u64::from(FLOOD_LIMIT));
    assert_eq!(stats.flood_closed, 1);
}

/// An upgrade request for `path`.
fn upgrade(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// The output after the 101 response's blank line.
fn after_handshake(output: &[u8]) -> &[u8] {
    let end = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response");
    &output[end + 4..]
}

#[test]
fn a_websocket_token_in_the_url_authenticates_or_closes() {
    let ws = |rules| WebSocket::new(WsConfig::default(), PubSubWs::new().with_rules(rules));
    let mut h = Harness::new(Config::default(), ws(rules()));
    let good = h.connect().expect("accepted");
    h.send(good, &upgrade(&format!("/?room=1&token={}", token("eve"))));
    assert_eq!(after_handshake(&h.take_output(good)), server_text("+OK"));
    h.send(good, &masked_text("SUB room.9"));
    assert_eq!(h.take_output(good), server_text("+OK"));
    h.advance(TIMEOUT * 2);
    assert!(h.is_connected(good), "no deadline once authenticated");

    let bad = h.connect().expect("accepted");
    h.send(bad, &upgrade("/?token=garbage"));
    let output = h.take_output(bad);
    let frames = after_handshake(&output);
    let reply = server_text("-ERR invalid token: malformed");
    assert!(frames.starts_with(&reply), "{frames:?}");
    assert_eq!(frames[reply.len()], 0x88, "then a close frame");
    assert_eq!(
        &frames[reply.len() + 2..reply.len() + 4],
        &1008u16.to_be_bytes()
    );

    let late = h.connect().expect("accepted");
    h.send(late, &upgrade("/"));
    h.take_output(late);
    h.send(late, &masked_text("SUB room.1"));
    assert_eq!(h.take_output(late), server_text("-ERR not authenticated"));
    h.advance(TIMEOUT + Duration::from_millis(1));
    let output = h.take_output(late);
    assert!(
        output.starts_with(&server_text("-ERR authentication timeout")),
        "{output:?}"
    );
}

/// An embedding service's own authorizer: the credential is the user's
/// name, who may read everything and write only to `user.<name>`.
#[derive(Debug)]
struct ByName;

impl Authorizer for ByName {
    fn connect(&self, credential: Credential<'_>, _now: SystemTime) -> Result<Grant, Refusal> {
        let Credential::Token(name) = credential else {
            return Err(Refusal::Unsupported);
        };
        let name = std::str::from_utf8(name).map_err(|_| Refusal::Malformed)?;
        Ok(Grant {
            identity: Identity {
                subject: name.into(),
                origin: Origin::Token,
            },
            permissions: Permissions::everything(),
            expires: None,
        })
    }

    fn may_publish(&self, grant: &Grant, topic: &[u8]) -> bool {
        topic.strip_prefix(b"user.") == Some(grant.identity.subject.as_bytes())
    }
}

#[test]
fn an_embedding_services_authorizer_decides_instead_of_jwt() {
    let mut h = server(Rules {
        auth: Some(Auth {
            authorizer: Arc::new(ByName),
            timeout: TIMEOUT,
        }),
        ..Rules::default()
    });
    let c = h.connect().expect("accepted");
    assert_eq!(ask(&mut h, c, "AUTH fay"), "+OK\n");
    assert_eq!(ask(&mut h, c, "SUB user.gus"), "+OK\n");
    assert_eq!(ask(&mut h, c, "PUB user.gus hi"), "-ERR not allowed\n");
    assert_eq!(ask(&mut h, c, "PUB user.fay hi"), "+OK\n");
    h.advance(TIMEOUT * 100);
    assert!(h.is_connected(c), "a grant without expiry stays");
}
