//! `pubsub`: a small text protocol over the library's topics, usable with
//! `nc`. Grammar and examples: docs/protocols.md.
//!
//! The commands run the same over any transport: [`execute`] takes one
//! command and publishes payloads as they are; each front end frames a
//! delivery its own way in [`Handler::frame_delivery`] (a line here, a
//! WebSocket text frame there), once per shard, shared by every
//! subscriber. So lines and WebSocket clients of one topic, in one process
//! or across a backplane, each get their own framing.

pub mod auth;
mod command;
mod rules;
mod session;
mod websocket;

use bytes::{BufMut, Bytes, BytesMut};

pub use command::{parse, Request, RequestError, MAX_EPOCH, MAX_TOPIC};
pub use rules::{Auth, PublishRate, Rules, AUTH_TIMEOUT, FLOOD_LIMIT};
pub use session::{
    execute, Replay, Reply, Session, AUTH_FLOOD, AUTH_TIMED_OUT, CANNOT_RECOVER, GRANT_EXPIRED,
    HISTORY_OFF, PRESENCE_LIST, RATE_LIMITED, REFRESH_RATE,
};
pub use websocket::{PubSubWs, WsText, CHAT_PAGE};

use std::net::SocketAddr;

use crate::lines::Lines;
use crate::{Admission, Conn, Handler, ShardContext, Verdict};
use auth::Credential;

/// Most topics one client may subscribe to at once, by default.
pub const MAX_SUBSCRIPTIONS: usize = 1024;

/// How a transport wraps one message (a reply or a delivery).
pub trait Framing {
    /// One framed message holding `parts`, concatenated, in one buffer.
    fn frame(&self, parts: &[&[u8]]) -> Bytes;
}

/// Messages as `\n`-terminated lines.
#[derive(Clone, Copy, Debug, Default)]
pub struct LineFraming;

impl Framing for LineFraming {
    fn frame(&self, parts: &[&[u8]]) -> Bytes {
        let len = parts.iter().map(|p| p.len()).sum::<usize>() + 1;
        let mut message = BytesMut::with_capacity(len);
        for part in parts {
            message.put_slice(part);
        }
        message.put_u8(b'\n');
        message.freeze()
    }
}

/// The delivery of a publish to `topic`, `MSG topic payload`, framed by
/// `framing`: what every front end's [`Handler::frame_delivery`] sends.
pub fn delivery(framing: &impl Framing, topic: &[u8], payload: &[u8]) -> Bytes {
    framing.frame(&[b"MSG ", topic, b" ", payload])
}

/// The delivery of a publish at `offset` in its topic's history, `MSG
/// topic offset payload`, for positioned subscribers.
pub fn positioned_delivery(
    framing: &impl Framing,
    topic: &[u8],
    offset: u64,
    payload: &[u8],
) -> Bytes {
    let offset = offset.to_string();
    framing.frame(&[b"MSG ", topic, b" ", offset.as_bytes(), b" ", payload])
}

/// What a client gets before it is closed for an over-long line.
pub const LINE_TOO_LONG: &[u8] = b"-ERR line too long\n";

/// The `pubsub` protocol over `\n`-terminated lines.
///
/// Replies come in the order of the commands; deliveries may come between
/// them. A line longer than `max_line` gets [`LINE_TOO_LONG`] and the
/// client is closed (the commands before it still run). A slow
/// subscriber whose deliveries were skipped (under
/// [`SlowSubscribers::Drop`](crate::SlowSubscribers::Drop)) gets
/// `MISSED count` once it has caught up. With [`Rules::auth`], a client
/// that has not sent an accepted `AUTH` within the timeout is sent
/// [`AUTH_TIMED_OUT`] and closed.
#[derive(Debug)]
pub struct PubSub {
    /// Longest command line, without its newline.
    max_line: usize,
    /// What it enforces.
    rules: Rules,
    /// Replies to one read's commands, sent in one write (memory reused).
    replies: Vec<u8>,
}

impl PubSub {
    /// The protocol with lines of up to `max_line` bytes and
    /// [`MAX_SUBSCRIPTIONS`] topics per client.
    pub fn new(max_line: usize) -> Self {
        Self {
            max_line,
            rules: Rules::default(),
            replies: Vec::new(),
        }
    }

    /// The same, with at most `max` topics per client.
    pub fn with_max_subscriptions(mut self, max: usize) -> Self {
        self.rules.max_subscriptions = max;
        self
    }

    /// The same, enforcing `rules` (authentication, publish rate, and
    /// their subscription limit).
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }
}

impl Handler for PubSub {
    type State = Session;

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<Session> {
        let mut session = Session::default();
        let certified = conn.tls().and_then(|tls| tls.peer.as_ref());
        if let (Some(peer), Some(auth)) = (certified, &self.rules.auth) {
            if auth.authorizer.accepts_certificates() {
                // Refused, it must send a token like any other client.
                let credential = Credential::Certificate(peer.name());
                let _ = session.authenticate(cx, conn.id(), &self.rules, credential);
            }
        }
        session.open(cx, conn.id(), &self.rules);
        Admission::Accept(session)
    }

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        session: &mut Session,
        data: &[u8],
    ) -> Verdict {
        let mut lines = Lines::new(data, conn.carried(), self.max_line);
        self.replies.clear();
        let mut close = false;
        let mut paced = false;
        for line in &mut lines {
            let reply = execute(cx, conn, session, &self.rules, line);
            self.replies.extend_from_slice(&reply.text);
            self.replies.push(b'\n');
            for (offset, payload) in reply.replay.iter().flat_map(|r| &r.missed) {
                let topic = reply.replay.as_ref().map_or(&b""[..], |r| &r.topic);
                let line = positioned_delivery(&LineFraming, topic, *offset, payload);
                self.replies.extend_from_slice(&line);
            }
            if reply.close {
                // The lines after it are not run.
                close = true;
                break;
            }
            if cx.paced() {
                // A shard is past its fan-out credit: the lines after it
                // wait, and are handed back once it catches up.
                paced = true;
                break;
            }
        }
        conn.send(&self.replies);
        if close {
            return Verdict::Close;
        }
        if paced {
            return Verdict::Consumed(lines.handled());
        }
        if lines.too_long() {
            conn.send(LINE_TOO_LONG);
            return Verdict::Close;
        }
        Verdict::Consumed(lines.consumed())
    }

    fn frame_delivery(&mut self, topic: &[u8], payload: &Bytes) -> Bytes {
        delivery(&LineFraming, topic, payload)
    }

    fn frame_positioned(&mut self, topic: &[u8], offset: u64, payload: &Bytes, _: u8) -> Bytes {
        positioned_delivery(&LineFraming, topic, offset, payload)
    }

    fn on_timer(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        session: &mut Session,
        tag: u64,
    ) {
        if let Some(reply) = session.on_timer(cx, tag) {
            conn.send(&LineFraming.frame(&[reply]));
            conn.close();
        }
    }

    fn on_drain(&mut self, cx: &mut ShardContext<'_>, conn: &mut Conn<'_>, _state: &mut Session) {
        let missed = cx.take_missed(conn);
        if missed > 0 {
            conn.send(format!("MISSED {missed}\n").as_bytes());
        }
    }
}
