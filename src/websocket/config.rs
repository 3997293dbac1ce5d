//! The WebSocket layer's settings, their defaults and their validation.

use std::time::Duration;

use bytes::Bytes;

use crate::error::ConfigError;
use crate::websocket::deflate::DeflateConfig;
use crate::websocket::frame::MAX_HEADER;

/// The built-in page served for a plain `GET /`: talks to `ws-echo` over
/// WebSocket from the same origin; no external scripts or fonts.
pub const ECHO_PAGE: &str = include_str!("page.html");

/// Longest timeout or interval: the shard's timer wheel counts
/// milliseconds, and a day is far beyond any useful value.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Everything the WebSocket layer can be told.
///
/// # Examples
///
/// ```
/// let ws = esockets::websocket::WsConfig {
///     max_message: 64 * 1024,
///     allowed_origins: vec!["https://example.com".into()],
///     ..Default::default()
/// };
/// assert!(ws.validate().is_ok());
/// // The server must let a whole frame wait in a client's input buffer.
/// assert!(ws.input_limit() > 64 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// Largest message, and so largest frame, in bytes; a bigger one closes
    /// the client with code 1009 as soon as its header says so. The
    /// server's `Config::input_limit` must be at least
    /// [`input_limit`](Self::input_limit). Default 1 MiB.
    pub max_message: usize,
    /// Longest handshake request (its head), in bytes; a longer one gets
    /// `431` and a close. Default 8 KiB.
    pub max_request: usize,
    /// A client that has not finished its handshake this long after it
    /// connected gets `408` and a close. Default 10 s.
    pub handshake_timeout: Duration,
    /// A client from which nothing arrived for this long is pinged. `None`:
    /// never ping. Default 30 s.
    pub ping_interval: Option<Duration>,
    /// A pinged client from which nothing (no pong, no other frame) arrives
    /// within this is closed (close code 1001, then the connection).
    /// Default 10 s.
    pub pong_timeout: Duration,
    /// After the server sends a close frame, how long it waits for the
    /// client's before closing the connection anyway. Default 5 s.
    pub close_timeout: Duration,
    /// `Origin` values (scheme, host and port, as a browser sends them:
    /// `https://example.com`) allowed to open a WebSocket; compared without
    /// regard to ASCII case. Empty: any origin. A request without `Origin`
    /// (not from a browser) is always allowed, and so is one from the
    /// server's own origin (`http://` or `https://` and the request's
    /// `Host`: the built-in [`page`](Self::page)). Default empty.
    pub allowed_origins: Vec<String>,
    /// Subprotocols the server speaks, most preferred first; the first one
    /// the client offers in `Sec-WebSocket-Protocol` is chosen. Empty (the
    /// default): none is ever chosen.
    pub protocols: Vec<String>,
    /// The HTML page a plain `GET /` (or `/index.html`) returns; other plain
    /// requests get 404. `None`: 404 for every plain request. Default: the
    /// built-in echo page, [`ECHO_PAGE`].
    pub page: Option<Bytes>,
    /// permessage-deflate (RFC 7692): `None` (the default) never
    /// negotiates it; `Some` accepts a client's offer on these terms
    /// (docs/protocols.md). Inflated messages are held to
    /// [`max_message`](Self::max_message) too.
    pub deflate: Option<DeflateConfig>,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_message: 1024 * 1024,
            max_request: 8 * 1024,
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            allowed_origins: Vec::new(),
            protocols: Vec::new(),
            page: Some(Bytes::from_static(ECHO_PAGE.as_bytes())),
            deflate: None,
        }
    }
}

impl WsConfig {
    /// The smallest `Config::input_limit` that lets the largest frame (and
    /// the handshake request) wait whole in a client's input buffer.
    pub fn input_limit(&self) -> usize {
        self.max_message
            .saturating_add(MAX_HEADER)
            .max(self.max_request)
    }

    /// Whether a browser page from `origin` may connect.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty()
            || self
                .allowed_origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }

    /// Checks every value.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first bad field (as named in this
    /// struct) and why.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, reason: String| Err(ConfigError { field, reason });
        if self.max_message == 0 {
            return bad("max_message", "must be at least 1 byte, got 0".into());
        }
        if self.max_request < 256 {
            return bad(
                "max_request",
                format!("must be at least 256 bytes, got {}", self.max_request),
            );
        }
        for (field, value) in [
            ("handshake_timeout", Some(self.handshake_timeout)),
            ("ping_interval", self.ping_interval),
            ("pong_timeout", Some(self.pong_timeout)),
            ("close_timeout", Some(self.close_timeout)),
        ] {
            match value {
                Some(d) if d.is_zero() => return bad(field, "must be more than 0".into()),
                Some(d) if d > MAX_TIMEOUT => {
                    return bad(field, format!("must be at most 24h, got {d:?}"))
                }
                _ => {}
            }
        }
        if let Some(deflate) = &self.deflate {
            deflate.validate()?;
        }
        if let Some(protocol) = self
            .protocols
            .iter()
            .find(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic() && b != b','))
        {
            return bad(
                "protocols",
                format!("{protocol:?} is not a subprotocol name (printable ASCII, no commas)"),
            );
        }
        Ok(())
    }
}
