//! The adapter from a message-level [`WsHandler`] to an esockets
//! [`Handler`]: handshake, frames, assembly, pings, closing handshake.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::core::log_limit::RateLimit;
use crate::websocket::build::{encode_header, write_close, write_frame};
use crate::websocket::close::ProtocolError;
use crate::websocket::close::GOING_AWAY;
use crate::websocket::config::WsConfig;
use crate::websocket::conn::{WsConn, RSV1};
use crate::websocket::deflate::{Lent, ShardDeflate};
use crate::websocket::frame::{parse_deflated_frame, parse_frame, Frame, Opcode, Parsed, Role};
use crate::websocket::handshake::{
    accept_response, page_response, parse_request, reject_response, Handshake, Status,
};
use crate::websocket::link::{Link, Phase, WsState};
use crate::websocket::message::Event;
use crate::websocket::refusal::log_refused;
use crate::websocket::service::{Closed, OpenRequest, WsHandler};
use crate::{Admission, CloseReason, Conn, ConnId, Handler, ShardContext, Verdict};
/// The layer's timer (a layer timer: its tags never meet the handler's):
/// the idle check of an open client, which pings.
const CHECK: u64 = 0;

/// The layer's timer: the client did not answer our close frame in time.
const CLOSE_DEADLINE: u64 = 1;

/// The layer's timer: the handshake did not complete in time.
const HANDSHAKE_DEADLINE: u64 = 2;

/// Shared buffers grown past this by a large message are freed afterwards.
const SCRATCH_KEEP: usize = 64 * 1024;

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
    /// The shard's compressors and inflater, lent to one message at a
    /// time, where permessage-deflate is configured.
    deflate: Option<ShardDeflate>,
}

impl<H> WebSocket<H> {
    /// `handler` behind the WebSocket layer configured by `config`.
    pub fn new(config: WsConfig, handler: H) -> Self {
        Self {
            handler,
            scratch: Vec::new(),
            out: Vec::new(),
            warnings: RateLimit::default(),
            open: HashSet::new(),
            deflate: config.deflate.map(ShardDeflate::new),
            config,
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
        let (consumed, path, protocol, deflate) = match parse_request(data, &self.config) {
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
                deflate,
            } => {
                let name = protocol.and_then(|i| self.config.protocols.get(i));
                let extensions = deflate.as_ref().map(|(_, response)| response.as_str());
                conn.send(&accept_response(
                    &accept,
                    name.map(String::as_str),
                    extensions,
                ));
                (consumed, path, protocol, deflate.map(|(agreed, _)| agreed))
            }
        };
        self.open.insert(conn.id());
        if let Some(interval) = self.config.ping_interval {
            cx.set_layer_timer(conn.id(), interval, CHECK);
        }
        let link = &mut state.link;
        link.phase = Phase::Open;
        link.protocol = protocol.and_then(|i| u8::try_from(i).ok());
        link.deflate = deflate;
        let request = OpenRequest {
            path,
            protocol: protocol.and_then(|i| self.config.protocols.get(i).map(String::as_str)),
        };
        let mut ws = WsConn {
            conn,
            link,
            out: &mut self.out,
            config: &self.config,
            deflate: self.deflate.as_mut(),
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
        let max = self.config.max_message;
        let event = match (link.deflate, self.deflate.as_mut()) {
            (Some(agreed), Some(shard)) => {
                if agreed.client_takeover && link.contexts.is_none() {
                    link.contexts = Some(Box::default());
                }
                let mut lent = Lent {
                    shard,
                    agreed,
                    contexts: link.contexts.as_deref_mut(),
                };
                assembler.push_deflated(frame, max, &mut self.scratch, &mut lent)
            }
            _ => assembler.push(frame, max, &mut self.scratch),
        };
        let mut ws = WsConn {
            conn,
            link,
            out: &mut self.out,
            config: &self.config,
            deflate: self.deflate.as_mut(),
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
        let staging = self.deflate.as_mut().map(|shard| &mut shard.staging);
        for buffer in [Some(&mut self.scratch), Some(&mut self.out), staging]
            .into_iter()
            .flatten()
        {
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
        cx.set_layer_timer(ws.id(), ws.config.close_timeout, CLOSE_DEADLINE);
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
        cx.set_layer_timer(conn.id(), self.config.handshake_timeout, HANDSHAKE_DEADLINE);
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
            let parse = if state.link.deflate.is_some() {
                parse_deflated_frame
            } else {
                parse_frame
            };
            match parse(&data[consumed..], Role::Server, self.config.max_message) {
                Parsed::Incomplete { .. } => break,
                Parsed::Error(err) => {
                    log_failure(&mut self.warnings, cx.now(), conn.id(), &err);
                    let mut ws = WsConn {
                        conn,
                        link: &mut state.link,
                        out: &mut self.out,
                        config: &self.config,
                        deflate: self.deflate.as_mut(),
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
            deflate: self.deflate.as_mut(),
        };
        if ws.is_open() {
            self.handler.on_timer(cx, &mut ws, &mut state.user, tag);
            after_callback(cx, &mut ws);
        }
    }

    fn on_layer_timer(
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
            deflate: self.deflate.as_mut(),
        };
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
            deflate: self.deflate.as_mut(),
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

    /// A subscriber that agreed to permessage-deflate without server
    /// context takeover gets deliveries compressed with its window (the
    /// variant is the window's bits); one whose deflater keeps a context
    /// gets them uncompressed (its window must follow its own messages),
    /// as does everyone else (0).
    fn delivery_variant(&self, state: &Self::State) -> u8 {
        match state.link.deflate {
            Some(agreed) if !agreed.server_takeover => agreed.server_window_bits,
            _ => 0,
        }
    }

    /// The handler's frame, compressed once for every subscriber of this
    /// window (see [`delivery_variant`](Self::delivery_variant)).
    fn frame_variant(&mut self, topic: &[u8], payload: &Bytes, variant: u8) -> Bytes {
        let framed = self.handler.frame_delivery(topic, payload);
        match self.deflate.as_mut() {
            Some(shard) if variant != 0 => compress_frame(shard, variant, framed, &mut self.out),
            _ => framed,
        }
    }

    /// The handler's positioned frame, compressed as
    /// [`frame_variant`](Self::frame_variant)'s.
    fn frame_positioned(
        &mut self,
        topic: &[u8],
        offset: u64,
        payload: &Bytes,
        variant: u8,
    ) -> Bytes {
        let framed = self.handler.frame_positioned(topic, offset, payload);
        match self.deflate.as_mut() {
            Some(shard) if variant != 0 => compress_frame(shard, variant, framed, &mut self.out),
            _ => framed,
        }
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
    cx.set_layer_timer(id, next, CHECK);
}

/// `framed`, one whole unmasked frame, as a compressed frame with a
/// window of `window_bits`, built in `out`; as it is if it is not one
/// final data frame or compressing does not pay.
fn compress_frame(
    shard: &mut ShardDeflate,
    window_bits: u8,
    framed: Bytes,
    out: &mut Vec<u8>,
) -> Bytes {
    let Parsed::Frame(frame) = parse_frame(&framed, Role::Client, usize::MAX) else {
        return framed;
    };
    if !frame.fin || frame.opcode.is_control() || frame.len != framed.len() {
        return framed;
    }
    let mut staging = std::mem::take(&mut shard.staging);
    let compressed = if shard.deflate_shared(window_bits, frame.payload, &mut staging) {
        out.clear();
        encode_header(out, true, frame.opcode, staging.len(), None);
        out[0] |= RSV1;
        out.extend_from_slice(&staging);
        Bytes::copy_from_slice(out)
    } else {
        framed.clone()
    };
    shard.staging = staging;
    compressed
}
