//! `pubsub` over WebSocket: one command per text message, one reply or
//! delivery per text message (no `\n`). Deliveries are framed once per
//! shard, as a WebSocket text frame shared by every subscriber.

use bytes::Bytes;

use super::{delivery, execute, Framing, MAX_SUBSCRIPTIONS};
use crate::websocket::{frame_of_parts, Message, Opcode, WsConn, WsHandler};
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

/// The `pubsub` protocol as a [`WsHandler`]: run it behind
/// [`WebSocket`](crate::websocket::WebSocket). Replies come in the order
/// of the commands; deliveries may come between them. A binary message
/// gets `-ERR commands are text messages`; an over-long message is closed
/// with 1009 by the layer.
#[derive(Debug)]
pub struct PubSubWs {
    /// Most topics per client.
    max_subscriptions: usize,
}

impl PubSubWs {
    /// The protocol with [`MAX_SUBSCRIPTIONS`] topics per client.
    pub fn new() -> Self {
        Self {
            max_subscriptions: MAX_SUBSCRIPTIONS,
        }
    }

    /// The same, with at most `max` topics per client.
    pub fn with_max_subscriptions(mut self, max: usize) -> Self {
        self.max_subscriptions = max;
        self
    }
}

impl Default for PubSubWs {
    fn default() -> Self {
        Self::new()
    }
}

impl WsHandler for PubSubWs {
    type State = ();

    fn on_message(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        _state: &mut (),
        message: Message<'_>,
    ) {
        let Message::Text(command) = message else {
            ws.send_text(BINARY_REFUSED);
            return;
        };
        let reply = execute(cx, ws.conn(), command.as_bytes(), self.max_subscriptions);
        // Replies are ASCII.
        match std::str::from_utf8(reply) {
            Ok(reply) => ws.send_text(reply),
            Err(_) => ws.send_binary(reply),
        }
    }

    /// A text message `MSG topic payload`, or a binary one where the
    /// payload (published by a line client, say) is not UTF-8.
    fn frame_delivery(&mut self, topic: &[u8], payload: &Bytes) -> Bytes {
        if std::str::from_utf8(topic).is_ok() && std::str::from_utf8(payload).is_ok() {
            delivery(&WsText, topic, payload)
        } else {
            frame_of_parts(Opcode::Binary, &[b"MSG ", topic, b" ", payload])
        }
    }

    fn on_drain(&mut self, cx: &mut ShardContext<'_>, ws: &mut WsConn<'_, '_>, _state: &mut ()) {
        let missed = cx.take_missed(ws.conn());
        if missed > 0 {
            ws.send_text(&format!("MISSED {missed}"));
        }
    }
}
