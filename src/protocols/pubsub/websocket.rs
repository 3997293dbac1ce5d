//! `pubsub` over WebSocket: one command per text message, one reply or
//! delivery per text message (no `\n`). Deliveries are framed once per
//! shard, as a WebSocket text frame shared by every subscriber.

use bytes::Bytes;

use super::auth::{Credential, Refusal};
use super::{delivery, execute, positioned_delivery, Framing, Rules, Session};
use crate::websocket::{
    frame_of_parts, Message, Opcode, OpenRequest, WsConn, WsHandler, POLICY_VIOLATION,
};
use crate::ShardContext;

/// The built-in chat page served for a plain `GET /` by
/// `esockets --protocol pubsub --websocket`: joins a room (a topic),
/// publishes what is typed, shows deliveries. No external scripts or fonts.
pub const CHAT_PAGE: &str = include_str!("chat.html");

/// The reply to a binary message: commands are text.
const BINARY_REFUSED: &str = "-ERR commands are text messages";

/// Messages as unmasked WebSocket text frames (a server's).
#[derive(Clone, Copy, Debug, Default)]
pub struct WsText;

impl Framing for WsText {
    fn frame(&self, parts: &[&[u8]]) -> Bytes {
        frame_of_parts(Opcode::Text, parts)
    }
}

/// Messages as unmasked WebSocket binary frames, for deliveries that are
/// not UTF-8.
#[derive(Clone, Copy, Debug, Default)]
struct Binary;

impl Framing for Binary {
    fn frame(&self, parts: &[&[u8]]) -> Bytes {
        frame_of_parts(Opcode::Binary, parts)
    }
}

/// The `pubsub` protocol as a [`WsHandler`]: run it behind
/// [`WebSocket`](crate::websocket::WebSocket). Replies come in the order
/// of the commands; deliveries may come between them. A binary message
/// gets `-ERR commands are text messages`; an over-long message is closed
/// with 1009 by the layer.
///
/// With [`Rules::auth`], the token comes in the first message (`AUTH
/// token`), or in the URL's query (`/?token=...`, checked when the
/// WebSocket opens; an invalid one is answered and closed at once). A
/// client that has not authenticated within the timeout is closed (1008).
#[derive(Debug)]
pub struct PubSubWs {
    /// What it enforces.
    rules: Rules,
}

impl PubSubWs {
    /// The protocol with [`MAX_SUBSCRIPTIONS`](super::MAX_SUBSCRIPTIONS)
    /// topics per client.
    pub fn new() -> Self {
        Self {
            rules: Rules::default(),
        }
    }

    /// The same, with at most `max` topics per client.
    pub fn with_max_subscriptions(mut self, max: usize) -> Self {
        self.rules.max_subscriptions = max;
        self
    }

    /// The same, enforcing `rules`.
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }
}

/// The value of `token=` in a request path's query, if any.
fn query_token(path: &str) -> Option<&str> {
    let (_, query) = path.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

/// Sends `reply` as a text message (replies are ASCII).
fn send_reply(ws: &mut WsConn<'_, '_>, reply: &[u8]) {
    match std::str::from_utf8(reply) {
        Ok(reply) => ws.send_text(reply),
        Err(_) => ws.send_binary(reply),
    }
}

/// Sends `reply`, then closes with 1008 (policy violation) naming it.
fn refuse(ws: &mut WsConn<'_, '_>, reply: &[u8]) {
    send_reply(ws, reply);
    let reason = std::str::from_utf8(reply).unwrap_or_default();
    ws.close(POLICY_VIOLATION, reason.trim_start_matches("-ERR "));
}

impl Default for PubSubWs {
    fn default() -> Self {
        Self::new()
    }
}

impl WsHandler for PubSubWs {
    type State = Session;

    fn on_open(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        session: &mut Session,
        request: &OpenRequest<'_>,
    ) {
        let id = ws.id();
        if let (Some(_), Some(token)) = (&self.rules.auth, query_token(request.path)) {
            match session.authenticate(cx, id, &self.rules, Credential::Token(token.as_bytes())) {
                Ok(()) => ws.send_text("+OK"),
                Err(refusal) => return refuse(ws, Refusal::reply(refusal)),
            }
        }
        session.open(cx, id, &self.rules);
    }

    fn on_message(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        session: &mut Session,
        message: Message<'_>,
    ) {
        let Message::Text(command) = message else {
            ws.send_text(BINARY_REFUSED);
            return;
        };
        let reply = execute(cx, ws.conn(), session, &self.rules, command.as_bytes());
        if reply.close {
            return refuse(ws, &reply.text);
        }
        send_reply(ws, &reply.text);
        if let Some(replay) = &reply.replay {
            for (offset, payload) in &replay.missed {
                let offset = offset.to_string();
                let parts = [
                    &b"MSG "[..],
                    &replay.topic,
                    b" ",
                    offset.as_bytes(),
                    b" ",
                    payload,
                ];
                send_reply(ws, &parts.concat());
            }
        }
    }

    fn on_timer(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        session: &mut Session,
        tag: u64,
    ) {
        if let Some(reply) = session.on_timer(cx, tag) {
            refuse(ws, reply);
        }
    }

    /// A text message `MSG topic payload`, or a binary one where the
    /// payload (published by a line client, say) is not UTF-8.
    fn frame_delivery(&mut self, topic: &[u8], payload: &Bytes) -> Bytes {
        if std::str::from_utf8(topic).is_ok() && std::str::from_utf8(payload).is_ok() {
            delivery(&WsText, topic, payload)
        } else {
            delivery(&Binary, topic, payload)
        }
    }

    /// As [`frame_delivery`](Self::frame_delivery)'s, `MSG topic offset
    /// payload`.
    fn frame_positioned(&mut self, topic: &[u8], offset: u64, payload: &Bytes) -> Bytes {
        if std::str::from_utf8(topic).is_ok() && std::str::from_utf8(payload).is_ok() {
            positioned_delivery(&WsText, topic, offset, payload)
        } else {
            positioned_delivery(&Binary, topic, offset, payload)
        }
    }

    fn on_drain(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        _state: &mut Session,
    ) {
        let missed = cx.take_missed(ws.conn());
        if missed > 0 {
            ws.send_text(&format!("MISSED {missed}"));
        }
    }
}
