//! The client's opening handshake (RFC 6455 §4.1): the upgrade request
//! with a random `Sec-WebSocket-Key`, and the checks of the server's
//! answer (101, `Upgrade: websocket`, `Connection: Upgrade`, the right
//! `Sec-WebSocket-Accept`, no extension or subprotocol we did not ask for).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID every server appends to the key (§1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Longest response header loadgen reads before giving up.
pub const MAX_RESPONSE: usize = 8 * 1024;

/// Most header lines in a response.
const MAX_HEADERS: usize = 32;

/// `Sec-WebSocket-Key` for 16 random bytes: their base64.
pub fn key_for(nonce: [u8; 16]) -> String {
    STANDARD.encode(nonce)
}

/// The `Sec-WebSocket-Accept` a server must answer to `key`.
pub fn accept_for(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// Appends the upgrade request for `path` on `host` to `out`, offering
/// permessage-deflate if `deflate`.
pub fn write_request(
    out: &mut Vec<u8>,
    host: &str,
    path: &str,
    origin: Option<&str>,
    key: &str,
    deflate: bool,
) {
    let mut origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    if deflate {
        origin.push_str(&format!(
            "Sec-WebSocket-Extensions: {}\r\n",
            super::deflate::OFFER
        ));
    }
    out.extend_from_slice(
        format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
             Sec-WebSocket-Version: 13\r\n{origin}\r\n"
        )
        .as_bytes(),
    );
}

/// Checks the response received so far against the request sent with
/// `key` (offering permessage-deflate if `deflate`): `Ok(None)` while it
/// is incomplete, `Ok(Some((n, agreed)))` when its header took the first
/// `n` bytes (frames may follow), with `agreed` what the server's
/// permessage-deflate answer said (`Some(server keeps its context)`),
/// `Err` saying what is wrong otherwise.
pub fn check_response(
    received: &[u8],
    key: &str,
    deflate: bool,
) -> Result<Option<(usize, Option<bool>)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(received) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if received.len() >= MAX_RESPONSE => {
            return Err(format!(
                "handshake response header over {MAX_RESPONSE} bytes"
            ))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("handshake response is not HTTP: {e}")),
    };
    let code = response.code.unwrap_or(0);
    if code != 101 {
        return Err(format!(
            "server answered the upgrade with {code} {}",
            response.reason.unwrap_or("")
        ));
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let upgrade = header("Upgrade").unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(format!(
            "101 without 'Upgrade: websocket' (got {upgrade:?})"
        ));
    }
    let connection = header("Connection").unwrap_or_default();
    if !connection
        .split(',')
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
    {
        return Err(format!(
            "101 without 'Connection: Upgrade' (got {connection:?})"
        ));
    }
    let expected = accept_for(key);
    match header("Sec-WebSocket-Accept") {
        Some(accept) if accept == expected => {}
        Some(accept) => {
            return Err(format!(
                "wrong Sec-WebSocket-Accept {accept:?} (expected {expected:?})"
            ))
        }
        None => return Err("101 without Sec-WebSocket-Accept".into()),
    }
    let extensions = header("Sec-WebSocket-Extensions").filter(|v| !v.is_empty());
    let agreed = match extensions {
        Some(value) if deflate => Some(super::deflate::read_answer(&value)?),
        _ => None,
    };
    let unasked = ["Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol"];
    for unasked in &unasked[usize::from(deflate)..] {
        if let Some(value) = header(unasked).filter(|v| !v.is_empty()) {
            return Err(format!(
                "server chose {unasked}: {value} (none was offered)"
            ));
        }
    }
    Ok(Some((length, agreed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC's example key (§1.3).
    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn response(extra: &str) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\n{extra}\r\n"
        )
    }

    #[test]
    fn rfc_accept_value() {
        assert_eq!(accept_for(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(key_for(*b"the sample nonce"), KEY);
    }

    #[test]
    fn request_has_the_required_headers() {
        let mut out = Vec::new();
        write_request(
            &mut out,
            "127.0.0.1:80",
            "/chat",
            Some("http://a"),
            KEY,
            false,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /chat HTTP/1.1\r\nHost: 127.0.0.1:80\r\n"));
        for line in [
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Version: 13",
            "Origin: http://a",
        ] {
            assert!(text.contains(&format!("{line}\r\n")), "{line}");
        }
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn good_response_and_what_follows() {
        let good = response("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
        let mut bytes = good.clone().into_bytes();
        assert_eq!(check_response(&bytes[..10], KEY, false), Ok(None));
        bytes.extend([0x89, 0x00]);
        assert_eq!(
            check_response(&bytes, KEY, false),
            Ok(Some((good.len(), None)))
        );
        let deflate = response(
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
        );
        assert_eq!(
            check_response(deflate.as_bytes(), KEY, true),
            Ok(Some((deflate.len(), Some(false))))
        );
        assert!(
            check_response(deflate.as_bytes(), KEY, false).is_err(),
            "not offered"
        );
    }

    #[test]
    fn bad_responses() {
        let accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
        let cases = [
            "HTTP/1.1 404 Not Found\r\n\r\n".to_string(),
            response("Sec-WebSocket-Accept: AAAA\r\n"),
            response(""),
            response(&format!(
                "{accept}Sec-WebSocket-Extensions: permessage-deflate\r\n"
            )),
            format!("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n{accept}\r\n"),
            "NOT HTTP\r\n\r\n".to_string(),
        ];
        for case in cases {
            assert!(
                check_response(case.as_bytes(), KEY, false).is_err(),
                "{case}"
            );
        }
        let endless = format!("HTTP/1.1 101 OK\r\nX: {}", "a".repeat(MAX_RESPONSE));
        assert!(check_response(endless.as_bytes(), KEY, false).is_err());
    }
}
