//! `WsConn`: one WebSocket client as a `WsHandler` callback sees it.

use bytes::Bytes;

use crate::websocket::build::{encode_header, write_close, write_frame};
use crate::websocket::close::CloseCode;
use crate::websocket::config::WsConfig;
use crate::websocket::deflate::ShardDeflate;
use crate::websocket::frame::Opcode;
use crate::websocket::link::{Link, Phase};
use crate::websocket::message::Message;
use crate::{Conn, ConnId};

/// RSV1 in a frame's first byte: the message is compressed (RFC 7692).
pub(crate) const RSV1: u8 = 0x40;

/// Payloads up to this size are framed into one buffer and sent in one
/// write; larger ones go as header and payload, saving a copy.
const COPY_LIMIT: usize = 4096;

/// One WebSocket client, as a [`WsHandler`] callback sees it: send
/// messages, ping, close.
pub struct WsConn<'c, 'a> {
    /// The TCP connection.
    pub(crate) conn: &'c mut Conn<'a>,
    /// The layer's record of it.
    pub(crate) link: &'c mut Link,
    /// The shard's buffer for framing small messages.
    pub(crate) out: &'c mut Vec<u8>,
    /// The layer's settings.
    pub(crate) config: &'c WsConfig,
    /// The shard's compression, where permessage-deflate is configured.
    pub(crate) deflate: Option<&'c mut ShardDeflate>,
}

impl WsConn<'_, '_> {
    /// The client's id (for `cx.send(id, frame)` from other callbacks).
    pub fn id(&self) -> ConnId {
        self.conn.id()
    }

    /// Whether messages can still be sent (the closing handshake has not
    /// begun).
    pub fn is_open(&self) -> bool {
        self.link.phase == Phase::Open && !self.conn.is_closing()
    }

    /// The subprotocol chosen at the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.link
            .protocol
            .and_then(|i| self.config.protocols.get(usize::from(i)))
            .map(String::as_str)
    }

    /// The TCP connection under the WebSocket, for library calls that take
    /// one (`cx.subscribe(ws.conn(), topic)`). Send through the `WsConn`,
    /// not around it.
    pub fn conn(&self) -> &Conn<'_> {
        self.conn
    }

    /// Bytes queued for the client that the kernel has not taken yet.
    pub fn queued(&self) -> usize {
        self.conn.queued()
    }

    /// Sends a text message in one frame.
    pub fn send_text(&mut self, text: &str) {
        self.send_data(Opcode::Text, text.as_bytes());
    }

    /// Sends a binary message in one frame.
    pub fn send_binary(&mut self, data: &[u8]) {
        self.send_data(Opcode::Binary, data);
    }

    /// Sends `message` as it is (text as text, binary as binary).
    pub fn send(&mut self, message: Message<'_>) {
        match message {
            Message::Text(text) => self.send_text(text),
            Message::Binary(data) => self.send_binary(data),
        }
    }

    /// Sends a frame built beforehand (with
    /// [`text_frame`](crate::websocket::text_frame) or
    /// [`frame`](crate::websocket::frame())), shared, never copied: the way
    /// to send one message to many clients.
    pub fn send_frame(&mut self, frame: Bytes) {
        if self.is_open() {
            self.conn.send_bytes(frame);
        }
    }

    /// Sends a ping (payload cut to 125 bytes).
    pub fn ping(&mut self, payload: &[u8]) {
        if self.is_open() {
            self.control(Opcode::Ping, payload);
        }
    }

    /// Begins the closing handshake: sends a close frame with `code` (which
    /// must be one [`is_valid_close_code`](crate::websocket::is_valid_close_code)
    /// accepts) and `reason` (cut to 123 bytes); the connection closes when
    /// the client answers, or after `close_timeout`.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        if self.link.phase != Phase::Open {
            return;
        }
        self.out.clear();
        write_close(self.out, code, reason);
        self.conn.send(self.out);
        self.link.phase = Phase::Closing;
        self.link.code = Some(code);
        self.link.close_sent = true;
    }

    /// A data frame, copied into one buffer when small; compressed where
    /// permessage-deflate was agreed and it is worth it.
    pub(crate) fn send_data(&mut self, opcode: Opcode, payload: &[u8]) {
        if !self.is_open() || self.send_compressed(opcode, payload) {
            return;
        }
        self.out.clear();
        if payload.len() <= COPY_LIMIT {
            write_frame(self.out, true, opcode, payload);
            self.conn.send(self.out);
        } else {
            encode_header(self.out, true, opcode, payload.len(), None);
            self.conn.send(self.out);
            self.conn.send(payload);
        }
    }

    /// Sends `payload` compressed, in one frame with RSV1, if the
    /// connection agreed to permessage-deflate and the shard's deflater
    /// says it is worth it; `false` if it sent nothing.
    fn send_compressed(&mut self, opcode: Opcode, payload: &[u8]) -> bool {
        let (Some(agreed), Some(shard)) = (self.link.deflate, self.deflate.as_deref_mut()) else {
            return false;
        };
        if agreed.server_takeover && self.link.contexts.is_none() {
            self.link.contexts = Some(Box::default());
        }
        let mut staging = std::mem::take(&mut shard.staging);
        let compressed = shard.deflate(
            &agreed,
            self.link.contexts.as_deref_mut(),
            payload,
            &mut staging,
        );
        if compressed {
            self.out.clear();
            encode_header(self.out, true, opcode, staging.len(), None);
            self.out[0] |= RSV1;
            self.out.extend_from_slice(&staging);
            self.conn.send(self.out);
        }
        shard.staging = staging;
        compressed
    }

    /// A control frame with up to 125 bytes of `payload`.
    pub(crate) fn control(&mut self, opcode: Opcode, payload: &[u8]) {
        self.out.clear();
        write_frame(self.out, true, opcode, &payload[..payload.len().min(125)]);
        self.conn.send(self.out);
    }

    /// Fails the connection: a close frame with the error's code, then the
    /// TCP close (no waiting for the client's close frame).
    pub(crate) fn fail(&mut self, code: CloseCode, reason: &str) {
        if matches!(self.link.phase, Phase::Open | Phase::Closing) {
            self.out.clear();
            write_close(self.out, code, reason);
            self.conn.send(self.out);
        }
        if self.link.code.is_none() {
            self.link.code = Some(code);
        }
        self.link.phase = Phase::Closed;
        self.conn.close();
    }
}
