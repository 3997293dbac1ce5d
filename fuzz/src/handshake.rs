//! The WebSocket opening handshake, `esockets::websocket::parse_request`,
//! and the answers built for it.
//!
//! On any bytes, under a configuration taken from the first bytes (an
//! `Origin` allow-list or none, subprotocols or none, a request limit): no
//! panic; an upgrade's `consumed` is within the input and the limit, the
//! request alone parses the same, every shorter prefix is `Incomplete`,
//! its accept key is 28 characters of base64 and its subprotocol one the
//! server has; `Incomplete` is within the limit and its prefixes are
//! `Incomplete`; every refusal's answer is a well-formed HTTP response
//! with that status and a right `Content-Length`. And a request built from
//! the bytes (key, path, header names' case, extra headers, `Origin`,
//! offered subprotocols) is accepted with the RFC's accept key for its
//! key, and refused with the right status when its key is missing or of
//! the wrong size, its version is not 13, its method is not `GET`, or its
//! `Origin` is not allowed; the 101 answer parses as HTTP.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use esockets::websocket::{
    accept_key, accept_response, parse_request, reject_response, Handshake, Status, WsConfig,
};

use crate::{cuts, Input};

/// The origin the allow-list has, when it has one.
const GOOD_ORIGIN: &str = "https://good.example";

/// Checks the parser on `data` as it is, then a request built from it.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let choice = input.byte();
    let config = WsConfig {
        allowed_origins: if choice & 1 != 0 {
            vec![GOOD_ORIGIN.into()]
        } else {
            Vec::new()
        },
        protocols: if choice & 2 != 0 {
            vec!["chat".into(), "v2.chat".into()]
        } else {
            Vec::new()
        },
        max_request: 256 + usize::from(input.byte()) * 32,
        ..WsConfig::default()
    };
    let rest = input.rest();
    check_any(rest, &config);
    check_built(Input::new(rest), &config);
}

/// The invariants that hold whatever `data` is.
pub fn check_any(data: &[u8], config: &WsConfig) {
    let parsed = parse_request(data, config);
    match &parsed {
        Handshake::Upgrade {
            consumed,
            path,
            accept,
            protocol,
            ..
        } => {
            let consumed = *consumed;
            assert!(consumed <= data.len() && consumed <= config.max_request);
            assert!(data[..consumed].ends_with(b"\n\n") || data[..consumed].ends_with(b"\n\r\n"));
            assert_eq!(parse_request(&data[..consumed], config), parsed);
            for k in cuts(consumed) {
                let prefix = parse_request(&data[..k], config);
                assert_eq!(prefix, Handshake::Incomplete, "prefix of {k} bytes");
            }
            assert!(within(path, &data[..consumed]), "path not in the request");
            assert!(accept.len() == 28 && BASE64.decode(accept).is_ok_and(|raw| raw.len() == 20));
            assert!(protocol.is_none_or(|i| i < config.protocols.len()));
        }
        Handshake::Plain { path } => assert!(within(path, data), "path not in the request"),
        Handshake::Incomplete => {
            assert!(data.len() <= config.max_request, "{} bytes", data.len());
            for k in cuts(data.len()) {
                let prefix = parse_request(&data[..k], config);
                assert_eq!(prefix, Handshake::Incomplete, "prefix of {k} bytes");
            }
        }
        Handshake::Reject { status, .. } => check_refusal(*status),
    }
}

/// Whether `part` is a slice of `whole`'s memory.
fn within(part: &str, whole: &[u8]) -> bool {
    let range = whole.as_ptr_range();
    let start = part.as_ptr();
    range.start <= start && start.wrapping_add(part.len()) <= range.end
}

/// The answer to a refusal: `status`, a body, its length.
fn check_refusal(status: Status) {
    let response = reject_response(status);
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head)) = parsed.parse(&response) else {
        panic!("refusal {status:?} is not an HTTP response");
    };
    let code = parsed.code.map(|c| c.to_string());
    assert_eq!(code.as_deref(), status.line().split(' ').next());
    let length = parsed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok());
    assert_eq!(length, Some(response.len() - head), "Content-Length");
}

/// A valid request built from `input`, then the same with each thing a
/// server must refuse.
fn check_built(mut input: Input<'_>, config: &WsConfig) {
    let choice = input.byte();
    let raw_key = input.array::<16>();
    let key = BASE64.encode(raw_key);
    let path_len = usize::from(input.byte() % 40);
    let path: String = std::iter::once('/')
        .chain(input.take(path_len).iter().map(|&b| {
            // Bytes a request target may have, and nothing else.
            let allowed = b"abcXYZ019-._~!$&'()*+,;=:@/?%";
            char::from(allowed[usize::from(b) % allowed.len()])
        }))
        .collect();
    let name = |name: &str, bits: u8| -> String {
        match bits % 3 {
            0 => name.to_owned(),
            1 => name.to_ascii_lowercase(),
            _ => name.to_ascii_uppercase(),
        }
    };
    let offered = match choice >> 6 {
        0 => None,
        1 => Some(("v2.chat", Some(1))),
        2 => Some(("mqtt, chat", Some(0))),
        _ => Some(("mqtt", None)),
    };
    let build = |method: &str, version: &str, key: Option<&str>, origin: Option<&str>| {
        let mut request = format!("{method} {path} HTTP/1.1\r\n");
        let mut line = |header: &str, value: &str, bits: u8| {
            request.push_str(&format!("{}: {value}\r\n", name(header, bits)));
        };
        line("Host", "server.example", choice);
        line("Upgrade", "websocket", choice >> 1);
        line("Connection", "keep-alive, Upgrade", choice >> 2);
        if let Some(key) = key {
            line("Sec-WebSocket-Key", key, choice >> 3);
        }
        line("Sec-WebSocket-Version", version, choice >> 4);
        if let Some(origin) = origin {
            line("Origin", origin, choice >> 5);
        }
        if let Some((offer, _)) = offered {
            line("Sec-WebSocket-Protocol", offer, choice);
        }
        request.push_str("\r\n");
        request.into_bytes()
    };
    let origin = (choice & 0x20 != 0).then_some(GOOD_ORIGIN);
    let request = build("GET", "13", Some(&key), origin);
    if request.len() > config.max_request {
        return;
    }
    let expected_protocol = if config.protocols.is_empty() {
        None
    } else {
        offered.and_then(|(_, index)| index)
    };
    let mut with_frames = request.clone();
    with_frames.extend_from_slice(input.rest());
    match parse_request(&with_frames, config) {
        Handshake::Upgrade {
            consumed,
            path: got_path,
            accept,
            protocol,
            ..
        } => {
            assert_eq!(consumed, request.len());
            assert_eq!(got_path, path);
            assert_eq!(accept, accept_key(&key));
            assert_eq!(protocol, expected_protocol);
            check_accept_response(&accept, protocol.map(|i| config.protocols[i].as_str()));
        }
        other => panic!("built request {request:?} refused: {other:?}"),
    }

    let short_key = BASE64.encode(&raw_key[..15]);
    for (refused, status) in [
        (build("GET", "13", None, origin), Status::BadRequest),
        (
            build("GET", "13", Some(&short_key), origin),
            Status::BadRequest,
        ),
        (
            build("GET", "8", Some(&key), origin),
            Status::UpgradeRequired,
        ),
        (
            build("POST", "13", Some(&key), origin),
            Status::MethodNotAllowed,
        ),
    ] {
        if refused.len() > config.max_request {
            continue; // refused for its size first
        }
        let got = parse_request(&refused, config);
        assert!(
            matches!(got, Handshake::Reject { status: s, .. } if s == status),
            "{refused:?}: {got:?}, not {status:?}"
        );
    }
    if !config.allowed_origins.is_empty() {
        let evil = build("GET", "13", Some(&key), Some("https://evil.example"));
        if evil.len() > config.max_request {
            return;
        }
        let got = parse_request(&evil, config);
        let forbidden = Handshake::Reject {
            status: Status::Forbidden,
            reason: "Origin not allowed",
        };
        assert_eq!(got, forbidden);
    }
}

/// The 101 answer: an HTTP response with the upgrade headers.
fn check_accept_response(accept: &str, protocol: Option<&str>) {
    let response = accept_response(accept, protocol, None);
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    assert_eq!(
        parsed.parse(&response),
        Ok(httparse::Status::Complete(response.len()))
    );
    assert_eq!(parsed.code, Some(101));
    let value = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    assert_eq!(value("sec-websocket-accept"), Some(accept.as_bytes()));
    assert_eq!(value("sec-websocket-protocol"), protocol.map(str::as_bytes));
    assert_eq!(value("upgrade"), Some(&b"websocket"[..]));
}
