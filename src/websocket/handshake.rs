//! The opening handshake (RFC 6455 section 4): an HTTP/1.1 `GET` with
//! `Upgrade: websocket`, read with `httparse` under a size limit, answered
//! with `101 Switching Protocols` and the `Sec-WebSocket-Accept` key; a
//! plain `GET` (no upgrade) gets the built-in page or a 404.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::websocket::config::WsConfig;
use crate::websocket::deflate::{negotiate_deflate, Agreed};

/// The GUID RFC 6455 appends to the client's key before hashing.
const KEY_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Most header lines a handshake request may have.
const MAX_HEADERS: usize = 32;

/// An HTTP status the handshake answers with when it does not upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 400: not a valid HTTP request or WebSocket handshake.
    BadRequest,
    /// 403: the `Origin` is not on the allow-list.
    Forbidden,
    /// 404: a plain request for anything but the page.
    NotFound,
    /// 405: a method other than `GET`.
    MethodNotAllowed,
    /// 408: the request did not arrive within the handshake timeout.
    RequestTimeout,
    /// 426: a WebSocket version other than 13 (the answer names 13).
    UpgradeRequired,
    /// 431: the request is longer than the limit, or has too many headers.
    TooLarge,
}

impl Status {
    /// The status line's code and phrase.
    pub fn line(self) -> &'static str {
        match self {
            Self::BadRequest => "400 Bad Request",
            Self::Forbidden => "403 Forbidden",
            Self::NotFound => "404 Not Found",
            Self::MethodNotAllowed => "405 Method Not Allowed",
            Self::RequestTimeout => "408 Request Timeout",
            Self::UpgradeRequired => "426 Upgrade Required",
            Self::TooLarge => "431 Request Header Fields Too Large",
        }
    }
}

/// What the bytes at the front of a new connection amount to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handshake<'a> {
    /// The request's head has not all arrived yet (and is within the limit).
    Incomplete,
    /// A valid upgrade: answer with [`accept_response`].
    Upgrade {
        /// Bytes of the request (frames may follow right after it).
        consumed: usize,
        /// The request's path.
        path: &'a str,
        /// The `Sec-WebSocket-Accept` value for the client's key.
        accept: String,
        /// Index in [`WsConfig::protocols`] of the subprotocol chosen.
        protocol: Option<usize>,
        /// permessage-deflate, if offered and accepted: what was agreed
        /// and the `Sec-WebSocket-Extensions` value that says so.
        deflate: Option<(Agreed, String)>,
    },
    /// A plain `GET` without an upgrade.
    Plain {
        /// The request's path.
        path: &'a str,
    },
    /// Refused with this status; `reason` is for the log.
    Reject {
        /// The status to answer with.
        status: Status,
        /// What was wrong, in a few words.
        reason: &'static str,
    },
}

/// Reads the request at the front of `data` under `config`'s limits and
/// rules (size, `Origin` allow-list, subprotocols).
pub fn parse_request<'a>(data: &'a [u8], config: &WsConfig) -> Handshake<'a> {
    let reject = |status, reason| Handshake::Reject { status, reason };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let consumed = match request.parse(data) {
        Ok(httparse::Status::Complete(consumed)) if consumed <= config.max_request => consumed,
        Ok(httparse::Status::Complete(_)) => return reject(Status::TooLarge, "request too long"),
        Ok(httparse::Status::Partial) if data.len() > config.max_request => {
            return reject(Status::TooLarge, "request too long")
        }
        Ok(httparse::Status::Partial) => return Handshake::Incomplete,
        Err(httparse::Error::TooManyHeaders) => {
            return reject(Status::TooLarge, "too many header lines")
        }
        Err(_) => return reject(Status::BadRequest, "not an HTTP request"),
    };
    let (Some(method), Some(path)) = (request.method, request.path) else {
        return reject(Status::BadRequest, "not an HTTP request");
    };
    if method != "GET" {
        return reject(Status::MethodNotAllowed, "method other than GET");
    }
    let headers: &[httparse::Header<'_>] = request.headers;
    let header = |name: &'static str| values(headers, name);
    let has_token = |name: &'static str, token: &str| {
        header(name).any(|value| {
            value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    };
    if !has_token("upgrade", "websocket") {
        return Handshake::Plain { path };
    }
    if request.version != Some(1) {
        return reject(Status::BadRequest, "upgrade needs HTTP/1.1");
    }
    if !has_token("connection", "upgrade") {
        return reject(Status::BadRequest, "Connection header without upgrade");
    }
    if header("host").next().is_none() {
        return reject(Status::BadRequest, "no Host header");
    }
    if header("sec-websocket-version").next().map(str::trim) != Some("13") {
        return reject(Status::UpgradeRequired, "WebSocket version other than 13");
    }
    let key = match header("sec-websocket-key").next().map(str::trim) {
        Some(key) if BASE64.decode(key).is_ok_and(|raw| raw.len() == 16) => key,
        _ => return reject(Status::BadRequest, "missing or malformed Sec-WebSocket-Key"),
    };
    if let Some(origin) = header("origin").next() {
        let own = header("host")
            .next()
            .is_some_and(|host| same_origin(origin.trim(), host.trim()));
        if !own && !config.origin_allowed(origin.trim()) {
            return reject(Status::Forbidden, "Origin not allowed");
        }
    }
    let protocol = config.protocols.iter().position(|supported| {
        header("sec-websocket-protocol")
            .flat_map(|value| value.split(','))
            .any(|offered| offered.trim() == supported)
    });
    let deflate = config
        .deflate
        .as_ref()
        .and_then(|terms| negotiate_deflate(header("sec-websocket-extensions"), terms));
    Handshake::Upgrade {
        consumed,
        path,
        accept: accept_key(key),
        protocol,
        deflate,
    }
}

/// Whether `origin` is the server's own: `http://` or `https://` and the
/// `host` the request was sent to, as from a page the server served
/// itself (its built-in page). Compared without regard to ASCII case.
pub(crate) fn same_origin(origin: &str, host: &str) -> bool {
    let origin = origin.as_bytes();
    !host.is_empty()
        && ["http://", "https://"].iter().any(|scheme| {
            origin.len() == scheme.len() + host.len()
                && origin[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
                && origin[scheme.len()..].eq_ignore_ascii_case(host.as_bytes())
        })
}

/// The values of every header line named `name` (any case) that are text.
fn values<'h>(
    headers: &'h [httparse::Header<'h>],
    name: &'static str,
) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
/// base64 of the SHA-1 of the key and the RFC's GUID.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(KEY_GUID);
    BASE64.encode(sha.finalize())
}

/// The `101 Switching Protocols` answer, naming the chosen subprotocol
/// and the extensions agreed (a `Sec-WebSocket-Extensions` value).
pub fn accept_response(accept: &str, protocol: Option<&str>, extensions: Option<&str>) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n"
    );
    if let Some(protocol) = protocol {
        response.push_str("Sec-WebSocket-Protocol: ");
        response.push_str(protocol);
        response.push_str("\r\n");
    }
    if let Some(extensions) = extensions {
        response.push_str("Sec-WebSocket-Extensions: ");
        response.push_str(extensions);
        response.push_str("\r\n");
    }
    response.push_str("\r\n");
    response.into_bytes()
}

/// A refusal with `status` and a one-line plain-text body; the connection
/// is closed after it.
pub fn reject_response(status: Status) -> Vec<u8> {
    let body = format!("{}\n", status.line());
    let extra = if status == Status::UpgradeRequired {
        "Sec-WebSocket-Version: 13\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {}\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        status.line(),
        body.len()
    )
    .into_bytes()
}

/// A `200 OK` with an HTML page; the connection is closed after it.
pub fn page_response(html: &[u8]) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        html.len()
    )
    .into_bytes();
    response.extend_from_slice(html);
    response
}
