//! `WsHandler`: the callbacks of a service that speaks WebSocket messages,
//! and what they are told at the open and the close.

use bytes::Bytes;

use crate::websocket::build::frame_of_parts;
use crate::websocket::close::CloseCode;
use crate::websocket::conn::WsConn;
use crate::websocket::frame::Opcode;
use crate::websocket::message::Message;
use crate::{CloseReason, ConnId, ShardContext};

/// A service that speaks in WebSocket messages; [`WebSocket`] runs it as
/// an esockets [`Handler`].
///
/// One instance per shard, like a `Handler`; every callback runs on the
/// shard's thread and must not block. Only
/// [`on_message`](Self::on_message) is required.
///
/// Once a client's closing handshake begins (either side sent a close
/// frame, or the layer failed it), its topic subscriptions end, so no
/// delivery follows the close frame. Bytes sent around the layer
/// (`cx.send(id, frame)`, `cx.send_to_all`, `ServerHandle::broadcast`)
/// reach the client as they are, whatever its phase: send those only to
/// clients known to be open (after [`on_open`](Self::on_open), before
/// [`on_close`](Self::on_close)), and never to all clients of a shard,
/// since some may still be in their HTTP handshake.
pub trait WsHandler {
    /// Per-connection state, from the handshake on (`Default` until
    /// [`on_open`](Self::on_open)).
    type State: Default;

    /// Runs once on the shard thread before the first client.
    fn on_start(&mut self, cx: &mut ShardContext<'_>) {
        let _ = cx;
    }

    /// The handshake completed: the client is a WebSocket now.
    fn on_open(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        state: &mut Self::State,
        request: &OpenRequest<'_>,
    ) {
        let _ = (cx, ws, state, request);
    }

    /// A whole message arrived (text already checked as UTF-8).
    fn on_message(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        state: &mut Self::State,
        message: Message<'_>,
    );

    /// A timer set with [`ShardContext::set_timer`] for this client fired
    /// (any tag: the layer's own timers never reach it). Only while the client
    /// is open.
    fn on_timer(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        state: &mut Self::State,
        tag: u64,
    ) {
        let _ = (cx, ws, state, tag);
    }

    /// The client's queued output fell to the low-water mark after passing
    /// the high-water mark; reading from it has resumed. Only while open.
    fn on_drain(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        state: &mut Self::State,
    ) {
        let _ = (cx, ws, state);
    }

    /// A client that completed the handshake is gone.
    fn on_close(
        &mut self,
        cx: &mut ShardContext<'_>,
        id: ConnId,
        state: Self::State,
        closed: Closed,
    ) {
        let _ = (cx, id, state, closed);
    }

    /// Runs every `Config::tick` (off by default), on each shard.
    fn on_tick(&mut self, cx: &mut ShardContext<'_>) {
        let _ = cx;
    }

    /// The WebSocket message a publish to `topic` becomes for this shard's
    /// subscribers, as a whole frame (see [`Handler::frame_delivery`]):
    /// made once per shard, shared by every subscriber. By default the
    /// payload as one binary message.
    fn frame_delivery(&mut self, topic: &[u8], payload: &Bytes) -> Bytes {
        let _ = topic;
        frame_of_parts(Opcode::Binary, &[payload])
    }

    /// The WebSocket message a publish at `offset` in its topic's history
    /// becomes for positioned subscribers (see
    /// [`Handler::frame_positioned`]). By default
    /// [`frame_delivery`](Self::frame_delivery)'s.
    fn frame_positioned(&mut self, topic: &[u8], offset: u64, payload: &Bytes) -> Bytes {
        let _ = offset;
        self.frame_delivery(topic, payload)
    }

    /// Shutdown began (see [`Handler::on_shutting_down`]).
    fn on_shutting_down(&mut self, cx: &mut ShardContext<'_>) {
        let _ = cx;
    }

    /// Runs once on the shard thread after its last client closed at
    /// shutdown.
    fn on_shutdown(&mut self, cx: &mut ShardContext<'_>) {
        let _ = cx;
    }
}

/// What [`WsHandler::on_open`] is told about the upgrade request.
#[derive(Clone, Copy, Debug)]
pub struct OpenRequest<'a> {
    /// The request's path (`/`, `/chat?room=1`).
    pub path: &'a str,
    /// The subprotocol chosen, if any.
    pub protocol: Option<&'a str>,
}

/// How a WebSocket client ended, as told to [`WsHandler::on_close`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed {
    /// The close code of the closing handshake: the one the client sent,
    /// or the one the server sent first; `None` if the connection ended
    /// without one (or the client's close frame had no code).
    pub code: Option<CloseCode>,
    /// Why the TCP connection closed.
    pub reason: CloseReason,
}
