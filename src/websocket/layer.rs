//! The adapter from a message-level [`WsHandler`] to an esockets
//! [`Handler`]: handshake, frames, assembly, pings, closing handshake.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::core::log_limit::RateLimit;
use crate::websocket::build::{encode_header, write_close, write_frame};
use crate::websocket::close::ProtocolError;
use crate::websocket::close::{CloseCode, GOING_AWAY};
use crate::websocket::config::WsConfig;
use crate::websocket::frame::{parse_frame, Frame, Opcode, Parsed, Role};
use crate::websocket::handshake::{
    accept_response, page_response, parse_request, reject_response, Handshake, Status,
};
use crate::websocket::message::{Assembler, Event, Message};
use crate::websocket::refusal::log_refused;
use crate::{Admission, CloseReason, Conn, ConnId, Handler, ShardContext, Verdict};

/// Timer tags with this bit set are the layer's own; a [`WsHandler`]'s
/// tags must leave it clear.
pub const LAYER_TIMER_BIT: u64 = 1 << 63;

/// The layer's timer: the idle check of an open client, which pings.
const CHECK: u64 = LAYER_TIMER_BIT;

/// The layer's timer: the client did not answer our close frame in time.
const CLOSE_DEADLINE: u64 = LAYER_TIMER_BIT | 1;

/// The layer's timer: the handshake did not complete in time.
const HANDSHAKE_DEADLINE: u64 = LAYER_TIMER_BIT | 2;

/// Payloads up to this size are framed into one buffer and sent in one
/// write; larger ones go as header and payload, saving a copy.
const COPY_LIMIT: usize = 4096;

/// Shared buffers grown past this by a large message are freed afterwards.
const SCRATCH_KEEP: usize = 64 * 1024;

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
    /// (`tag` must not have [`LAYER_TIMER_BIT`] set). Only while the client
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
        data_frame(Opcode::Binary, &[payload])
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

/// One unmasked (server) frame of `opcode` holding `parts`, concatenated,
/// in one buffer: a message to share between many clients.
pub fn data_frame(opcode: Opcode, parts: &[&[u8]]) -> Bytes {
    let len = parts.iter().map(|p| p.len()).sum::<usize>();
    let mut frame = Vec::with_capacity(crate::websocket::MAX_HEADER + len);
    encode_header(&mut frame, true, opcode, len, None);
    for part in parts {
        frame.extend_from_slice(part);
    }
    Bytes::from(frame)
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

/// Where a connection is in its life as a WebSocket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    /// Waiting for the upgrade request.
    #[default]
    Handshake,
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the client's.
    Closing,
    /// The closing handshake is over (or the connection failed); the TCP
    /// connection is closing.
    Closed,
}

/// The layer's record of one connection, less its message in progress.
#[derive(Debug, Default)]
pub struct Link {
    /// Where the connection is.
    phase: Phase,
    /// Something arrived since the last idle check.
    heard: bool,
    /// A ping went out at the last idle check and nothing came since.
    pinged: bool,
    /// A close frame was just sent: the close deadline is still to set.
    close_sent: bool,
    /// The close code of the closing handshake (see [`Closed::code`]).
    code: Option<CloseCode>,
    /// Index of the chosen subprotocol in [`WsConfig::protocols`].
    protocol: Option<u8>,
}

/// Per-connection state of a [`WebSocket`] service: the layer's part and
/// the [`WsHandler`]'s.
#[derive(Debug, Default)]
pub struct WsState<S> {
    /// Phase, ping bookkeeping, close code.
    link: Link,
    /// The fragmented message in progress (empty between messages).
    assembler: Assembler,
    /// The handler's own state.
    user: S,
}

impl<S> WsState<S> {
    /// The handler's state.
    pub fn user(&self) -> &S {
        &self.user
    }
}

/// One WebSocket client, as a [`WsHandler`] callback sees it: send
/// messages, ping, close.
pub struct WsConn<'c, 'a> {
    /// The TCP connection.
    conn: &'c mut Conn<'a>,
    /// The layer's record of it.
    link: &'c mut Link,
    /// The shard's buffer for framing small messages.
    out: &'c mut Vec<u8>,
    /// The layer's settings.
    config: &'c WsConfig,
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

    /// A data frame, copied into one buffer when small.
    fn send_data(&mut self, opcode: Opcode, payload: &[u8]) {
        if !self.is_open() {
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

    /// A control frame with up to 125 bytes of `payload`.
    fn control(&mut self, opcode: Opcode, payload: &[u8]) {
        self.out.clear();
        write_frame(self.out, true, opcode, &payload[..payload.len().min(125)]);
        self.conn.send(self.out);
    }

    /// Fails the connection: a close frame with the error's code, then the
    /// TCP close (no waiting for the client's close frame).
    fn fail(&mut self, code: CloseCode, reason: &str) {
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

/// Runs a [`WsHandler`] as an esockets [`Handler`]: one per shard, made in
/// the server's factory.
///
/// ```no_run
/// use esockets::websocket::{Message, WebSocket, WsConfig, WsConn, WsHandler};
/// use esockets::{Config, Server, ShardContext};
///
/// struct Shout;
///
/// impl WsHandler for Shout {
///     type State = ();
///     fn on_message(&mut self, _cx: &mut ShardContext<'_>, ws: &mut WsConn<'_, '_>,
///                   _state: &mut (), message: Message<'_>) {
///         if let Message::Text(text) = message {
///             ws.send_text(&text.to_uppercase());
///         }
///     }
/// }
///
/// let ws = WsConfig::default();
/// // A whole frame must fit in a client's input buffer.
/// let config = Config { input_limit: ws.input_limit(), ..Config::default() };
/// let server = Server::bind(config, move |_| WebSocket::new(ws.clone(), Shout))?;
/// server.run_until_signal()?;
/// # Ok::<(), esockets::Error>(())
/// ```
pub struct WebSocket<H> {
    /// The service.
    handler: H,
    /// The layer's settings.
    config: WsConfig,
    /// Where single-frame messages and control payloads are unmasked: one
    /// buffer for the whole shard.
    scratch: Vec<u8>,
    /// Where outgoing frames are built.
    out: Vec<u8>,
    /// Limits the log lines about bad clients.
    warnings: RateLimit,
    /// The shard's clients that completed the handshake: told of a
    /// shutdown with a close frame.
    open: HashSet<ConnId>,
}

impl<H> WebSocket<H> {
    /// `handler` behind the WebSocket layer configured by `config`.
    pub fn new(config: WsConfig, handler: H) -> Self {
        Self {
            handler,
            config,
            scratch: Vec::new(),
            out: Vec::new(),
            warnings: RateLimit::default(),
            open: HashSet::new(),
        }
    }

    /// The service.
    pub fn handler(&self) -> &H {
        &self.handler
    }
}

impl<H: WsHandler> WebSocket<H> {
    /// Reads the handshake at the front of `data`; returns the bytes it
    /// took, or the verdict if the connection ends here.
    fn handshake(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut WsState<H::State>,
        data: &[u8],
    ) -> Result<usize, Verdict> {
        let (consumed, path, protocol) = match parse_request(data, &self.config) {
            Handshake::Incomplete => return Err(Verdict::Consumed(0)),
            Handshake::Reject { status, reason } => {
                log_refused(&mut self.warnings, cx.now(), conn, status, reason);
                conn.send(&reject_response(status));
                return Err(Verdict::Close);
            }
            Handshake::Plain { path } => {
                let route = path.split_once('?').map_or(path, |(route, _query)| route);
                match &self.config.page {
                    Some(page) if route == "/" || route == "/index.html" => {
                        conn.send(&page_response(page));
                    }
                    _ => conn.send(&reject_response(Status::NotFound)),
                }
                return Err(Verdict::Close);
            }
            Handshake::Upgrade {
                consumed,
                path,
                accept,
                protocol,
            } => {
                let name = protocol.and_then(|i| self.config.protocols.get(i));
                conn.send(&accept_response(&accept, name.map(String::as_str)));
                (consumed, path, protocol)
            }
        };
        self.open.insert(conn.id());
        if let Some(interval) = self.config.ping_interval {
            cx.set_timer(conn.id(), interval, CHECK);
        }
        let link = &mut state.link;
        link.phase = Phase::Open;
        link.protocol = protocol.and_then(|i| u8::try_from(i).ok());
        let request = OpenRequest {
            path,
            protocol: protocol.and_then(|i| self.config.protocols.get(i).map(String::as_str)),
        };
        let mut ws = WsConn {
            conn,
            link,
            out: &mut self.out,
            config: &self.config,
        };
        self.handler.on_open(cx, &mut ws, &mut state.user, &request);
        after_callback(cx, &mut ws);
        Ok(consumed)
    }

    /// Handles one whole frame.
    fn frame(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut WsState<H::State>,
        frame: &Frame<'_>,
    ) {
        let WsState {
            link,
            assembler,
            user,
        } = state;
        let event = assembler.push(frame, self.config.max_message, &mut self.scratch);
        let mut ws = WsConn {
            conn,
            link,
            out: &mut self.out,
            config: &self.config,
        };
        match event {
            Err(err) => {
                log_failure(&mut self.warnings, cx.now(), ws.id(), &err);
                ws.fail(err.code, err.reason);
            }
            Ok(None) => {}
            Ok(Some(Event::Message(message))) => {
                if ws.link.phase == Phase::Open {
                    self.handler.on_message(cx, &mut ws, user, message);
                    after_callback(cx, &mut ws);
                }
            }
            Ok(Some(Event::Ping(payload))) => {
                if ws.link.phase == Phase::Open {
                    ws.control(Opcode::Pong, payload);
                }
            }
            Ok(Some(Event::Pong(_))) => {}
            Ok(Some(Event::Close(close))) => {
                if ws.link.phase == Phase::Open {
                    // Echo the client's code, as RFC 6455 section 5.5.1 asks.
                    ws.out.clear();
                    match close.code {
                        Some(code) => write_close(ws.out, code, ""),
                        None => write_frame(ws.out, true, Opcode::Close, &[]),
                    }
                    ws.conn.send(ws.out);
                    ws.link.code = close.code;
                }
                ws.link.phase = Phase::Closed;
                ws.conn.close();
            }
        }
    }

    /// Once a client's closing handshake began: takes it off the list of
    /// open clients (so shutdown does not send it a second close frame) and
    /// ends its subscriptions (no data frame may follow a close frame).
    fn forget_if_closing(&mut self, cx: &mut ShardContext<'_>, conn: &Conn<'_>, link: &Link) {
        if matches!(link.phase, Phase::Closing | Phase::Closed) && self.open.remove(&conn.id()) {
            cx.unsubscribe_all(conn);
        }
    }

    /// Frees the shared buffers if a large message grew them.
    fn trim_buffers(&mut self) {
        for buffer in [&mut self.scratch, &mut self.out] {
            if buffer.capacity() > SCRATCH_KEEP {
                *buffer = Vec::new();
            }
        }
    }
}

/// Logs a client failed for breaking the protocol, rate-limited.
fn log_failure(limit: &mut RateLimit, now: Instant, id: ConnId, err: &ProtocolError) {
    if let Some(suppressed) = limit.allow(now) {
        tracing::info!(%id, code = err.code, reason = err.reason, suppressed,
            "WebSocket client closed for a protocol error");
    }
}

/// What a callback left for the layer to do with the context: the close
/// deadline after a close frame went out.
fn after_callback(cx: &mut ShardContext<'_>, ws: &mut WsConn<'_, '_>) {
    if std::mem::take(&mut ws.link.close_sent) {
        cx.set_timer(ws.id(), ws.config.close_timeout, CLOSE_DEADLINE);
    }
}

impl<H: WsHandler> Handler for WebSocket<H> {
    type State = WsState<H::State>;

    fn on_start(&mut self, cx: &mut ShardContext<'_>) {
        self.handler.on_start(cx);
    }

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: std::net::SocketAddr,
    ) -> Admission<Self::State> {
        cx.set_timer(conn.id(), self.config.handshake_timeout, HANDSHAKE_DEADLINE);
        Admission::Accept(WsState::default())
    }

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
        data: &[u8],
    ) -> Verdict {
        let mut consumed = 0;
        match state.link.phase {
            Phase::Handshake => match self.handshake(cx, conn, state, data) {
                Ok(taken) => consumed = taken,
                Err(verdict) => return verdict,
            },
            Phase::Open | Phase::Closing => state.link.heard = true,
            Phase::Closed => return Verdict::Consumed(data.len()),
        }
        while matches!(state.link.phase, Phase::Open | Phase::Closing) && !conn.is_closing() {
            match parse_frame(&data[consumed..], Role::Server, self.config.max_message) {
                Parsed::Incomplete { .. } => break,
                Parsed::Error(err) => {
                    log_failure(&mut self.warnings, cx.now(), conn.id(), &err);
                    let mut ws = WsConn {
                        conn,
                        link: &mut state.link,
                        out: &mut self.out,
                        config: &self.config,
                    };
                    ws.fail(err.code, err.reason);
                }
                Parsed::Frame(frame) => {
                    consumed += frame.len;
                    self.frame(cx, conn, state, &frame);
                }
            }
        }
        self.trim_buffers();
        self.forget_if_closing(cx, conn, &state.link);
        if conn.is_closing() {
            return Verdict::Consumed(data.len());
        }
        Verdict::Consumed(consumed)
    }

    fn on_timer(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
        tag: u64,
    ) {
        let mut ws = WsConn {
            conn,
            link: &mut state.link,
            out: &mut self.out,
            config: &self.config,
        };
        if tag & LAYER_TIMER_BIT == 0 {
            if ws.is_open() {
                self.handler.on_timer(cx, &mut ws, &mut state.user, tag);
                after_callback(cx, &mut ws);
            }
            return;
        }
        match (ws.link.phase, tag) {
            (Phase::Handshake, HANDSHAKE_DEADLINE) => {
                ws.conn.send(&reject_response(Status::RequestTimeout));
                ws.conn.close();
            }
            (Phase::Open, CHECK) => idle_check(cx, &mut ws),
            (Phase::Closing, CLOSE_DEADLINE) => {
                ws.link.phase = Phase::Closed;
                ws.conn.close();
            }
            _ => {}
        }
        self.forget_if_closing(cx, conn, &state.link);
    }

    fn on_drain(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        state: &mut Self::State,
    ) {
        let mut ws = WsConn {
            conn,
            link: &mut state.link,
            out: &mut self.out,
            config: &self.config,
        };
        if ws.is_open() {
            self.handler.on_drain(cx, &mut ws, &mut state.user);
            after_callback(cx, &mut ws);
        }
    }

    fn on_close(
        &mut self,
        cx: &mut ShardContext<'_>,
        id: ConnId,
        state: Self::State,
        reason: CloseReason,
    ) {
        if state.link.phase != Phase::Handshake {
            self.open.remove(&id);
            let closed = Closed {
                code: state.link.code,
                reason,
            };
            self.handler.on_close(cx, id, state.user, closed);
        }
    }

    fn frame_delivery(&mut self, topic: &[u8], payload: &Bytes) -> Bytes {
        self.handler.frame_delivery(topic, payload)
    }

    fn on_tick(&mut self, cx: &mut ShardContext<'_>) {
        self.handler.on_tick(cx);
    }

    /// The handler says goodbye first; then every open client gets a close
    /// frame (1001), one shared buffer, before the shard flushes and closes
    /// the connections.
    fn on_shutting_down(&mut self, cx: &mut ShardContext<'_>) {
        self.handler.on_shutting_down(cx);
        let mut goodbye = Vec::new();
        write_close(&mut goodbye, GOING_AWAY, "server shutting down");
        let goodbye = Bytes::from(goodbye);
        for &id in &self.open {
            // Only clients of this shard: never an inbox to fill.
            let _ = cx.send(id, goodbye.clone());
        }
    }

    fn on_shutdown(&mut self, cx: &mut ShardContext<'_>) {
        self.handler.on_shutdown(cx);
    }
}

/// The idle check of an open client, every `ping_interval`: a client heard
/// from since the last check is fine; one that was not is pinged; one
/// still silent a `pong_timeout` after its ping is closed.
fn idle_check(cx: &mut ShardContext<'_>, ws: &mut WsConn<'_, '_>) {
    let Some(interval) = ws.config.ping_interval else {
        return;
    };
    let id = ws.id();
    let link = &mut *ws.link;
    let next: Duration = if std::mem::take(&mut link.heard) {
        link.pinged = false;
        interval
    } else if link.pinged {
        ws.fail(GOING_AWAY, "no answer to ping");
        return;
    } else {
        link.pinged = true;
        ws.control(Opcode::Ping, b"esockets");
        ws.config.pong_timeout
    };
    cx.set_timer(id, next, CHECK);
}
