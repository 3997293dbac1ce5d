//! The WebSocket layer in memory: the handshake, an echo, a ping answered,
//! the closing handshake, and the handshake deadline on the harness clock.

use std::time::Duration;

use esockets::protocols::WsEcho;
use esockets::testing::Harness;
use esockets::websocket::{WebSocket, WsConfig};
use esockets::{ConnId, Handler};

/// The RFC's sample upgrade request.
const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// A client frame (masked, as clients must) with `opcode` and `payload`
/// under 126 bytes.
pub fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A masked client text frame.
pub fn masked_text(text: &str) -> Vec<u8> {
    masked(0x1, text.as_bytes())
}

/// A server text frame (unmasked) of a short text.
pub fn server_text(text: &str) -> Vec<u8> {
    let mut frame = vec![0x81, text.len() as u8];
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// A client that completed the handshake with `h`.
pub fn open<H: Handler>(h: &mut Harness<H>) -> ConnId {
    let c = h.connect().expect("accepted");
    h.send(c, UPGRADE);
    let response = String::from_utf8(h.take_output(c)).expect("text");
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    assert!(
        response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{response}"
    );
    c
}

/// An echo server behind the layer.
fn echo() -> Harness<WebSocket<WsEcho>> {
    Harness::new(
        esockets::Config::default(),
        WebSocket::new(WsConfig::default(), WsEcho),
    )
}

#[test]
fn a_message_split_anywhere_comes_back_whole() {
    let mut h = echo();
    let c = open(&mut h);
    let frame = masked_text("hello, frames");
    let (a, b) = frame.split_at(5);
    h.send(c, a);
    assert!(h.take_output(c).is_empty());
    h.send(c, b);
    assert_eq!(h.take_output(c), server_text("hello, frames"));
}

#[test]
fn a_ping_gets_its_pong_and_a_close_its_close() {
    let mut h = echo();
    let c = open(&mut h);
    h.send(c, &masked(0x9, b"are you there"));
    let mut pong = vec![0x8A, 13];
    pong.extend_from_slice(b"are you there");
    assert_eq!(h.take_output(c), pong);
    h.send(c, &masked(0x8, &1000u16.to_be_bytes()));
    assert_eq!(h.take_output(c), [0x88, 2, 0x03, 0xE8]);
    assert!(h.server_closed(c));
}

#[test]
fn an_unmasked_client_frame_is_a_protocol_error() {
    let mut h = echo();
    let c = open(&mut h);
    h.send(c, &server_text("not masked"));
    let out = h.take_output(c);
    assert_eq!(&out[..4], [0x88, out[1], 0x03, 0xEA], "close 1002: {out:?}");
}

#[test]
fn a_client_that_never_finishes_the_handshake_is_closed_at_the_deadline() {
    let config = WsConfig {
        handshake_timeout: Duration::from_secs(2),
        ..WsConfig::default()
    };
    let mut h = Harness::new(esockets::Config::default(), WebSocket::new(config, WsEcho));
    let c = h.connect().expect("accepted");
    h.send(c, b"GET / HTTP/1.1\r\nHost: x\r\n");
    h.advance(Duration::from_millis(1_990));
    assert!(h.is_connected(c));
    h.advance(Duration::from_millis(20));
    assert!(!h.is_connected(c), "closed at its handshake deadline");
}
