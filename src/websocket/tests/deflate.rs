//! permessage-deflate's pure parts: the offer read and answered, RSV1 in
//! the parser, and inflating within a limit.

use crate::websocket::{
    masked_frame, negotiate_deflate, parse_deflated_frame, parse_frame, DeflateConfig, Deflater,
    Inflater, Opcode, Parsed, Role, INVALID_PAYLOAD, MESSAGE_TOO_BIG, PROTOCOL_ERROR,
};

fn answer(offer: &str, config: &DeflateConfig) -> Option<String> {
    negotiate_deflate(std::iter::once(offer), config).map(|(_, response)| response)
}

#[test]
fn chromiums_offer_is_answered_with_no_context_takeover_both_ways() {
    let (agreed, response) = negotiate_deflate(
        ["permessage-deflate; client_max_window_bits"].into_iter(),
        &DeflateConfig::default(),
    )
    .expect("accepted");
    assert_eq!(
        response,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    assert_eq!(
        (agreed.server_window_bits, agreed.client_window_bits),
        (15, 15)
    );
    assert!(!agreed.server_takeover && !agreed.client_takeover);
}

#[test]
fn windows_are_negotiated_down_to_the_configured_one() {
    let small = DeflateConfig {
        max_window_bits: 10,
        ..DeflateConfig::default()
    };
    assert_eq!(
        answer("permessage-deflate; server_max_window_bits=12; client_max_window_bits", &small)
            .as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10")
    );
    // Not offered: never answered (the client could not take it).
    assert_eq!(
        answer("permessage-deflate", &small).as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
}

#[test]
fn bad_offers_are_declined_and_several_lines_and_elements_read_in_order() {
    let config = DeflateConfig::default();
    for bad in [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate; client_max_window_bits=1a",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; mystery=1",
        "deflate-frame",
    ] {
        assert_eq!(answer(bad, &config), None, "{bad}");
    }
    let lines = [
        "x-other, permessage-deflate; bogus",
        "PERMESSAGE-DEFLATE; SERVER_MAX_WINDOW_BITS=9",
    ];
    let (agreed, _) = negotiate_deflate(lines.into_iter(), &config).expect("the last offer");
    assert_eq!(agreed.server_window_bits, 9);
}

#[test]
fn context_takeover_is_granted_only_where_configured_and_not_refused() {
    let takeover = DeflateConfig {
        context_takeover: true,
        ..DeflateConfig::default()
    };
    let (agreed, response) = negotiate_deflate(
        ["permessage-deflate; server_no_context_takeover"].into_iter(),
        &takeover,
    )
    .expect("accepted");
    assert_eq!(response, "permessage-deflate; server_no_context_takeover");
    assert!(!agreed.server_takeover && agreed.client_takeover);
}

#[test]
fn rsv1_is_allowed_only_where_negotiated_and_only_on_a_first_data_frame() {
    let mut text = masked_frame(false, Opcode::Text, b"abc", [1, 2, 3, 4]);
    text[0] |= 0x40;
    assert!(
        matches!(parse_frame(&text, Role::Server, 100), Parsed::Error(e) if e.code == PROTOCOL_ERROR)
    );
    assert!(
        matches!(parse_deflated_frame(&text, Role::Server, 100), Parsed::Frame(f) if f.compressed)
    );
    for opcode in [Opcode::Continuation, Opcode::Ping, Opcode::Close] {
        let mut frame = masked_frame(true, opcode, b"", [1, 2, 3, 4]);
        frame[0] |= 0x40;
        assert!(
            matches!(parse_deflated_frame(&frame, Role::Server, 100), Parsed::Error(e) if e.code == PROTOCOL_ERROR),
            "{opcode:?}"
        );
    }
    let mut rsv2 = masked_frame(true, Opcode::Text, b"", [1, 2, 3, 4]);
    rsv2[0] |= 0x20;
    assert!(matches!(
        parse_deflated_frame(&rsv2, Role::Server, 100),
        Parsed::Error(_)
    ));
}

#[test]
fn a_message_round_trips_and_a_bomb_stops_at_the_limit() {
    let mut deflater = Deflater::new(1, 15, false);
    let mut inflater = Inflater::new(15, false);
    let data = b"{\"hello\":\"world\"} ".repeat(100);
    let mut compressed = Vec::new();
    assert!(deflater.deflate(&data, &mut compressed));
    assert!(
        !compressed.ends_with(&[0, 0, 0xFF, 0xFF]),
        "the tail is left off"
    );
    let mut out = Vec::new();
    inflater
        .inflate(&compressed, data.len(), &mut out)
        .expect("inflates");
    assert_eq!(out, data);
    // One byte under the size: 1009, and the buffer never grew past the
    // limit and one byte.
    let mut small = Vec::new();
    let err = inflater
        .inflate(&compressed, data.len() - 1, &mut small)
        .expect_err("too big");
    assert_eq!(err.code, MESSAGE_TOO_BIG);
    assert!(small.capacity() <= data.len(), "{}", small.capacity());
    // The stream is usable again after an error.
    inflater
        .inflate(&compressed, data.len(), &mut out)
        .expect("inflates again");
    assert_eq!(out, data);
    let err = inflater
        .inflate(&[0xFF, 0x00], 100, &mut out)
        .expect_err("not deflate");
    assert_eq!(err.code, INVALID_PAYLOAD);
}
