//! The opening handshake: RFC 6455's key example, the checks, the answers.

use crate::websocket::handshake::same_origin;
use crate::websocket::{accept_key, parse_request, Handshake, Status, WsConfig};

/// A valid upgrade request with `extra` header lines.
fn request(extra: &str) -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// The status a request is refused with.
fn refused(data: &str, config: &WsConfig) -> Status {
    match parse_request(data.as_bytes(), config) {
        Handshake::Reject { status, .. } => status,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn rfc_key_example() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn valid_upgrade_with_frames_after_it() {
    let mut data = request("Origin: http://example.com\r\n").into_bytes();
    let head = data.len();
    data.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
    match parse_request(&data, &WsConfig::default()) {
        Handshake::Upgrade {
            consumed,
            path,
            accept,
            protocol,
            deflate,
        } => {
            assert_eq!(consumed, head);
            assert_eq!(path, "/chat");
            assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
            assert_eq!(protocol, None);
            assert_eq!(deflate, None, "compression is off by default");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tokens_and_names_in_any_case() {
    let data = "GET / HTTP/1.1\r\nhost: x\r\nUPGRADE: WebSocket\r\n\
                connection: keep-alive, upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                SEC-WEBSOCKET-VERSION: 13\r\n\r\n";
    assert!(matches!(
        parse_request(data.as_bytes(), &WsConfig::default()),
        Handshake::Upgrade { .. }
    ));
}

#[test]
fn every_prefix_is_incomplete() {
    let data = request("");
    for cut in 0..data.len() {
        assert_eq!(
            parse_request(&data.as_bytes()[..cut], &WsConfig::default()),
            Handshake::Incomplete,
            "cut at {cut}"
        );
    }
}

#[test]
fn wrong_version_gets_426() {
    let data = request("").replace("Version: 13", "Version: 8");
    assert_eq!(
        refused(&data, &WsConfig::default()),
        Status::UpgradeRequired
    );
}

#[test]
fn bad_or_missing_key_gets_400() {
    let config = WsConfig::default();
    let data = request("").replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=");
    assert_eq!(refused(&data, &config), Status::BadRequest);
    let data = request("").replace("Sec-WebSocket-Key", "X-Key");
    assert_eq!(refused(&data, &config), Status::BadRequest);
    let data = request("").replace("Connection: Upgrade", "Connection: close");
    assert_eq!(refused(&data, &config), Status::BadRequest);
    let data = request("").replace("Host: server.example.com\r\n", "");
    assert_eq!(refused(&data, &config), Status::BadRequest);
    assert_eq!(
        refused("\x16\x03\x01 TLS hello\r\n\r\n", &config),
        Status::BadRequest
    );
}

#[test]
fn other_methods_get_405() {
    let data = request("").replace("GET", "POST");
    assert_eq!(
        refused(&data, &WsConfig::default()),
        Status::MethodNotAllowed
    );
}

#[test]
fn origins_off_the_allow_list_get_403() {
    let config = WsConfig {
        allowed_origins: vec!["https://good.example".into()],
        ..WsConfig::default()
    };
    let data = request("Origin: https://evil.example\r\n");
    assert_eq!(refused(&data, &config), Status::Forbidden);
    let data = request("Origin: HTTPS://GOOD.example\r\n");
    assert!(matches!(
        parse_request(data.as_bytes(), &config),
        Handshake::Upgrade { .. }
    ));
    // No Origin: not a browser, allowed.
    assert!(matches!(
        parse_request(request("").as_bytes(), &config),
        Handshake::Upgrade { .. }
    ));
}

#[test]
fn subprotocol_is_the_servers_first_choice_the_client_offers() {
    let config = WsConfig {
        protocols: vec!["v2.chat".into(), "v1.chat".into()],
        ..WsConfig::default()
    };
    let pick = |extra: &str| match parse_request(request(extra).as_bytes(), &config) {
        Handshake::Upgrade { protocol, .. } => protocol,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        pick("Sec-WebSocket-Protocol: v1.chat, v2.chat\r\n"),
        Some(0)
    );
    assert_eq!(
        pick("Sec-WebSocket-Protocol: x\r\nSec-WebSocket-Protocol: v1.chat\r\n"),
        Some(1)
    );
    assert_eq!(pick("Sec-WebSocket-Protocol: mqtt\r\n"), None);
    assert_eq!(pick(""), None);
}

#[test]
fn too_long_requests_get_431_before_they_end() {
    let config = WsConfig {
        max_request: 512,
        ..WsConfig::default()
    };
    let long = format!("GET / HTTP/1.1\r\nX-Pad: {}", "a".repeat(600));
    assert_eq!(refused(&long, &config), Status::TooLarge);
    let many: String = (0..40).map(|i| format!("X-{i}: y\r\n")).collect();
    assert_eq!(
        refused(&request(&many), &WsConfig::default()),
        Status::TooLarge
    );
}

#[test]
fn plain_get_is_not_an_upgrade() {
    let data = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        parse_request(data.as_bytes(), &WsConfig::default()),
        Handshake::Plain {
            path: "/index.html"
        }
    );
}

#[test]
fn the_servers_own_origin_passes_the_allow_list() {
    let config = WsConfig {
        allowed_origins: vec!["https://good.example".into()],
        ..Default::default()
    };
    // The built-in page, served by this server: its Origin is the Host it
    // was fetched from.
    for origin in [
        "http://server.example.com",
        "https://server.example.com",
        "HTTP://Server.Example.com",
    ] {
        let data = request(&format!("Origin: {origin}\r\n"));
        assert!(
            matches!(
                parse_request(data.as_bytes(), &config),
                Handshake::Upgrade { .. }
            ),
            "{origin}"
        );
    }
    for origin in [
        "http://server.example.com:8080",
        "http://evil.example",
        "ws://server.example.com",
        "http://server.example.com.evil.example",
    ] {
        let data = request(&format!("Origin: {origin}\r\n"));
        assert_eq!(refused(&data, &config), Status::Forbidden, "{origin}");
    }
    assert!(same_origin("http://127.0.0.1:1234", "127.0.0.1:1234"));
    assert!(!same_origin("http://", ""));
    assert!(!same_origin("http://127.0.0.1:1234", "127.0.0.1:12345"));
}
