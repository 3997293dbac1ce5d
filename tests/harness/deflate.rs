//! permessage-deflate in memory (RFC 7692): the offer accepted and its
//! answer, compressed messages both ways, bad input closed with the
//! right code (1002 for RSV1 where it may not be, 1007 for a broken
//! stream, 1009 for a bomb), context takeover, and a publish compressed
//! once per shard for every compressed subscriber.

use bytes::Bytes;
use esockets::protocols::pubsub::PubSubWs;
use esockets::protocols::WsEcho;
use esockets::testing::Harness;
use esockets::websocket::{
    masked_frame, parse_deflated_frame, DeflateConfig, Deflater, Inflater, Opcode, Parsed, Role,
    WebSocket, WsConfig, WsHandler,
};
use esockets::{Config, ConnId, Handler, ShardContext};

use crate::websocket::{masked, masked_text, server_text};

/// The RFC's sample upgrade request, offering `extensions`.
fn upgrade(extensions: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {extensions}\r\n\r\n"
    )
    .into_bytes()
}

/// A client that offered `extensions`; the server's 101 answer.
fn open_offering<H: Handler>(h: &mut Harness<H>, extensions: &str) -> (ConnId, String) {
    let c = h.connect().expect("accepted");
    h.send(c, &upgrade(extensions));
    let response = String::from_utf8(h.take_output(c)).expect("text");
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    (c, response)
}

/// The `Sec-WebSocket-Extensions` line of a 101 answer, if any.
fn extensions(response: &str) -> Option<&str> {
    response
        .lines()
        .find_map(|line| line.strip_prefix("Sec-WebSocket-Extensions: "))
}

/// The echo service with compression on these terms.
fn echo(deflate: DeflateConfig, max_message: usize) -> Harness<WebSocket<WsEcho>> {
    let ws = WsConfig {
        deflate: Some(deflate),
        max_message,
        ..WsConfig::default()
    };
    let config = Config {
        input_limit: ws.input_limit(),
        ..Config::default()
    };
    Harness::new(config, WebSocket::new(ws, WsEcho))
}

/// `data` compressed as a client would (a fresh context).
fn compressed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    assert!(Deflater::new(6, 15, false).deflate(data, &mut out));
    out
}

/// A masked client frame with RSV1 set (the first frame of a compressed
/// message).
fn rsv1(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut frame = masked_frame(fin, opcode, payload, [1, 2, 3, 4]);
    frame[0] |= 0x40;
    frame
}

/// The server frames in `bytes`: (RSV1, opcode, payload inflated if RSV1).
fn frames(bytes: &[u8]) -> Vec<(bool, Opcode, Vec<u8>)> {
    let mut inflater = Inflater::new(15, false);
    let mut out = Vec::new();
    let mut at = 0;
    while let Parsed::Frame(frame) = parse_deflated_frame(&bytes[at..], Role::Client, 1 << 24) {
        at += frame.len;
        let payload = if frame.compressed {
            let mut inflated = Vec::new();
            inflater
                .inflate(frame.payload, 1 << 24, &mut inflated)
                .expect("the server's deflate stream inflates");
            inflated
        } else {
            frame.payload.to_vec()
        };
        out.push((frame.compressed, frame.opcode, payload));
    }
    assert_eq!(at, bytes.len(), "whole frames only");
    out
}

/// The close code of the last frame in `bytes`, a close frame.
fn close_code(bytes: &[u8]) -> u16 {
    let (_, opcode, payload) = frames(bytes).pop().expect("a frame");
    assert_eq!(opcode, Opcode::Close);
    u16::from_be_bytes([payload[0], payload[1]])
}

/// A JSON-like text of `len` bytes that compresses well.
fn json(len: usize) -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < len {
        text.push_str(&format!(
            "{{\"id\":{i},\"user\":\"ada\",\"text\":\"hello\"}},"
        ));
        i += 1;
    }
    text.truncate(len);
    text
}

#[test]
fn an_offer_is_accepted_without_context_takeover_and_messages_go_both_ways_compressed() {
    let mut h = echo(DeflateConfig::default(), 1 << 20);
    let (c, response) = open_offering(&mut h, "permessage-deflate; client_max_window_bits");
    assert_eq!(
        extensions(&response),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    let text = json(1000);
    h.send(c, &rsv1(true, Opcode::Text, &compressed(text.as_bytes())));
    let out = h.take_output(c);
    assert!(
        out.len() < text.len() / 2,
        "sent compressed: {} B",
        out.len()
    );
    assert_eq!(
        frames(&out),
        [(true, Opcode::Text, text.clone().into_bytes())]
    );
    // Uncompressed messages are still allowed, and short replies go as
    // they are.
    h.send(c, &masked_text("hi"));
    assert_eq!(h.take_output(c), server_text("hi"));
}

#[test]
fn a_fragmented_compressed_message_is_inflated_once_whole() {
    let mut h = echo(DeflateConfig::default(), 1 << 20);
    let (c, _) = open_offering(&mut h, "permessage-deflate");
    let text = json(3000);
    let deflated = compressed(text.as_bytes());
    let (a, b) = deflated.split_at(deflated.len() / 2);
    h.send(c, &rsv1(false, Opcode::Text, a));
    h.send(c, &masked(0x9, b"ping between"));
    h.send(
        c,
        &masked_frame(true, Opcode::Continuation, b, [5, 6, 7, 8]),
    );
    let got = frames(&h.take_output(c));
    assert_eq!(got[0], (false, Opcode::Pong, b"ping between".to_vec()));
    assert_eq!(got[1], (true, Opcode::Text, text.into_bytes()));
}

#[test]
fn without_compression_configured_no_offer_is_answered_and_rsv1_is_a_protocol_error() {
    let mut h = Harness::new(
        Config::default(),
        WebSocket::new(WsConfig::default(), WsEcho),
    );
    let (c, response) = open_offering(&mut h, "permessage-deflate");
    assert_eq!(extensions(&response), None);
    h.send(
        c,
        &rsv1(true, Opcode::Text, &compressed(b"hello hello hello")),
    );
    assert_eq!(close_code(&h.take_output(c)), 1002);
    assert!(h.server_closed(c));
}

#[test]
fn a_client_that_did_not_negotiate_is_refused_rsv1_even_where_others_did() {
    let mut h = echo(DeflateConfig::default(), 1 << 20);
    let (c, response) = open_offering(&mut h, "x-webkit-deflate-frame");
    assert_eq!(
        extensions(&response),
        None,
        "an unknown extension is declined"
    );
    h.send(
        c,
        &rsv1(true, Opcode::Binary, &compressed(b"abc abc abc abc")),
    );
    assert_eq!(close_code(&h.take_output(c)), 1002);
}

#[test]
fn rsv1_on_a_control_frame_or_a_continuation_is_a_protocol_error() {
    let mut h = echo(DeflateConfig::default(), 1 << 20);
    let (ping, _) = open_offering(&mut h, "permessage-deflate");
    h.send(ping, &rsv1(true, Opcode::Ping, b"p"));
    assert_eq!(close_code(&h.take_output(ping)), 1002);

    let (cont, _) = open_offering(&mut h, "permessage-deflate");
    let deflated = compressed(json(500).as_bytes());
    let (a, b) = deflated.split_at(10);
    h.send(cont, &rsv1(false, Opcode::Text, a));
    h.send(cont, &rsv1(true, Opcode::Continuation, b));
    assert_eq!(close_code(&h.take_output(cont)), 1002);
}

#[test]
fn a_malformed_deflate_stream_is_invalid_payload() {
    let mut h = echo(DeflateConfig::default(), 1 << 20);
    let (c, _) = open_offering(&mut h, "permessage-deflate");
    // BTYPE 11 is reserved: no deflate stream starts with 0xFF.
    h.send(c, &rsv1(true, Opcode::Binary, &[0xFF, 0xFF, 0xFF, 0x00]));
    assert_eq!(close_code(&h.take_output(c)), 1007);
    assert!(h.server_closed(c));
}

#[test]
fn compressed_text_that_is_not_utf8_is_invalid_payload() {
    let mut h = echo(DeflateConfig::default(), 1 << 20);
    let (c, _) = open_offering(&mut h, "permessage-deflate");
    h.send(
        c,
        &rsv1(true, Opcode::Text, &compressed(&[0xC3, 0x28, 0x41, 0x42])),
    );
    assert_eq!(close_code(&h.take_output(c)), 1007);
}

#[test]
fn a_small_frame_that_inflates_past_the_limit_is_too_big() {
    let limit = 64 * 1024;
    let mut h = echo(DeflateConfig::default(), limit);
    let (c, _) = open_offering(&mut h, "permessage-deflate");
    // 16 MiB of zeros deflate to about 16 KiB: well under the frame
    // limit, 256 times over the message limit once inflated.
    let bomb = compressed(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < limit, "{}", bomb.len());
    h.send(c, &rsv1(true, Opcode::Binary, &bomb));
    assert_eq!(close_code(&h.take_output(c)), 1009);
    assert!(h.server_closed(c));
    // Exactly the limit is fine.
    let (ok, _) = open_offering(&mut h, "permessage-deflate");
    h.send(
        ok,
        &rsv1(true, Opcode::Binary, &compressed(&vec![7u8; limit])),
    );
    assert_eq!(frames(&h.take_output(ok))[0].2.len(), limit);
}

#[test]
fn offers_it_cannot_accept_are_declined_and_the_next_one_taken() {
    let mut h = echo(DeflateConfig::default(), 1 << 20);
    for (offer, answer) in [
        // A 256-byte server window zlib cannot make: declined.
        ("permessage-deflate; server_max_window_bits=8", None),
        // Unknown, repeated or ill-valued parameters: declined.
        ("permessage-deflate; foo", None),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
        ("permessage-deflate; client_max_window_bits=16", None),
        ("permessage-deflate; server_no_context_takeover=1", None),
        // The first acceptable offer wins, windows negotiated down.
        (
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=10",
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"),
        ),
        (
            "permessage-deflate; client_max_window_bits=\"12\"",
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=12"),
        ),
    ] {
        let (c, response) = open_offering(&mut h, offer);
        assert_eq!(extensions(&response), answer, "{offer}");
        // Declined: the connection goes on uncompressed, and RSV1 is an
        // error on it.
        if answer.is_none() {
            h.send(c, &rsv1(true, Opcode::Text, &compressed(b"abcabcabcabc")));
            assert_eq!(close_code(&h.take_output(c)), 1002, "{offer}");
        }
    }
}

#[test]
fn context_takeover_keeps_a_window_per_connection_when_asked_for() {
    let terms = DeflateConfig {
        context_takeover: true,
        ..DeflateConfig::default()
    };
    let mut h = echo(terms, 1 << 20);
    let (c, response) = open_offering(&mut h, "permessage-deflate; client_max_window_bits");
    assert_eq!(extensions(&response), Some("permessage-deflate"));
    // The client keeps its context: its second message refers back to
    // the first, which only an inflater with a memory can follow.
    let mut client = Deflater::new(6, 15, true);
    let text = json(2000);
    let mut first = Vec::new();
    let mut second = Vec::new();
    assert!(client.deflate(text.as_bytes(), &mut first));
    assert!(client.deflate(text.as_bytes(), &mut second));
    assert!(
        second.len() < first.len() / 4,
        "{} vs {}",
        second.len(),
        first.len()
    );
    h.send(c, &rsv1(true, Opcode::Text, &first));
    h.send(c, &rsv1(true, Opcode::Text, &second));
    // The server's replies share a context too: inflate them in order
    // with one inflater that keeps its window.
    let out = h.take_output(c);
    let mut inflater = Inflater::new(15, true);
    let mut at = 0;
    let mut sizes = Vec::new();
    while let Parsed::Frame(frame) = parse_deflated_frame(&out[at..], Role::Client, 1 << 20) {
        at += frame.len;
        assert!(frame.compressed);
        let mut inflated = Vec::new();
        inflater
            .inflate(frame.payload, 1 << 20, &mut inflated)
            .expect("inflates");
        assert_eq!(inflated, text.as_bytes());
        sizes.push(frame.payload.len());
    }
    assert_eq!(sizes.len(), 2);
    assert!(
        sizes[1] < sizes[0] / 2,
        "the second reply uses the first: {sizes:?}"
    );
    // An offer asking for no takeover still gets it.
    let (_, response) = open_offering(
        &mut h,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
    assert_eq!(
        extensions(&response),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
}

/// pubsub over WebSocket that counts how often a delivery is framed.
#[derive(Default)]
struct Counting {
    inner: PubSubWs,
    framed: usize,
}

impl WsHandler for Counting {
    type State = <PubSubWs as WsHandler>::State;

    fn on_open(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut esockets::websocket::WsConn<'_, '_>,
        state: &mut Self::State,
        request: &esockets::websocket::OpenRequest<'_>,
    ) {
        self.inner.on_open(cx, ws, state, request);
    }

    fn on_message(
        &mut self,
        cx: &mut ShardContext<'_>,
        ws: &mut esockets::websocket::WsConn<'_, '_>,
        state: &mut Self::State,
        message: esockets::websocket::Message<'_>,
    ) {
        self.inner.on_message(cx, ws, state, message);
    }

    fn frame_delivery(&mut self, topic: &[u8], payload: &Bytes) -> Bytes {
        self.framed += 1;
        self.inner.frame_delivery(topic, payload)
    }
}

#[test]
fn a_publish_is_compressed_once_per_shard_and_shared_by_every_compressed_subscriber() {
    let ws = WsConfig {
        deflate: Some(DeflateConfig::default()),
        ..WsConfig::default()
    };
    let mut h = Harness::new(Config::default(), WebSocket::new(ws, Counting::default()));
    let mut compressed_subscribers = Vec::new();
    for _ in 0..5 {
        let (c, _) = open_offering(&mut h, "permessage-deflate");
        compressed_subscribers.push(c);
    }
    let (plain, _) = open_offering(&mut h, "x-unknown");
    for &c in compressed_subscribers.iter().chain([&plain]) {
        h.send(c, &masked_text("SUB room"));
        assert_eq!(h.take_output(c), server_text("+OK"));
    }
    let payload = json(1024);
    h.handle()
        .publish(b"room", Bytes::from(payload.clone()))
        .expect("queued");
    h.settle();
    let expected = format!("MSG room {payload}").into_bytes();
    let first = h.take_output(compressed_subscribers[0]);
    assert_eq!(frames(&first), [(true, Opcode::Text, expected.clone())]);
    assert!(first.len() < expected.len() / 2);
    for &c in &compressed_subscribers[1..] {
        assert_eq!(h.take_output(c), first, "the same compressed frame");
    }
    assert_eq!(
        frames(&h.take_output(plain)),
        [(false, Opcode::Text, expected)]
    );
    assert_eq!(
        h.handler().handler().framed,
        2,
        "framed once compressed (for five subscribers) and once plain"
    );
}
