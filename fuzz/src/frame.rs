//! The WebSocket frame parser and builders: `parse_frame`,
//! `encode_header`, `masked_frame`, `write_frame`, `apply_mask`,
//! `write_close` and `parse_close`.
//!
//! On any bytes, frame after frame: a frame's length is within the input
//! and is its header plus its payload, the payload is the input's bytes at
//! the end of the frame and within the limit (125 for control frames,
//! which are final), masking is what the role requires, the header is
//! exactly what `encode_header` writes for the frame (one encoding per
//! frame), the frame alone parses the same, and every shorter prefix is
//! `Incomplete` asking for more than it has and no more than the frame;
//! `Incomplete` never asks for more than a header and the limit; an error
//! stays the same error whatever follows; the parser never allocates. And
//! a frame built from the bytes (masked or not) parses back to its
//! payload, is refused (1009) under a limit one byte smaller, masking
//! agrees with the byte-by-byte definition, and a close frame written with
//! any reason reads back with that reason cut at a character boundary.

use esockets::websocket::{
    apply_mask, encode_header, is_valid_close_code, masked_frame, parse_close, parse_frame,
    write_close, write_frame, Frame, Opcode, Parsed, Role, MAX_CONTROL_PAYLOAD, MAX_HEADER,
};

use crate::alloc::largest_allocation;
use crate::{cuts, Input};

/// Checks the parser on `data` as it is, then frames built from it.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let role = if input.byte() & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let max = usize::from(input.u16());
    let stream = input.rest();
    check_stream(stream, role, max);
    check_built(Input::new(stream));
    check_close(Input::new(stream));
}

/// The invariants of every frame of `stream`, and of what ends it.
pub fn check_stream(stream: &[u8], role: Role, max: usize) {
    let mut at = 0;
    loop {
        let rest = &stream[at..];
        let (parsed, allocated) = largest_allocation(|| parse_frame(rest, role, max));
        assert_eq!(allocated, None, "the parser allocated");
        match parsed {
            Parsed::Frame(frame) => {
                check_frame(rest, frame, role, max);
                at += frame.len;
            }
            Parsed::Incomplete { needed } => {
                assert!(needed > rest.len(), "needs {needed}, has {}", rest.len());
                assert!(needed <= MAX_HEADER + max.max(MAX_CONTROL_PAYLOAD));
                return;
            }
            Parsed::Error(error) => {
                assert!(matches!(error.code, 1002 | 1009), "{error:?}");
                let mut longer = rest.to_vec();
                longer.extend_from_slice(&[0xFF; 20]);
                assert_eq!(parse_frame(&longer, role, max), parsed, "then other bytes");
                for k in cuts(rest.len()) {
                    let prefix = parse_frame(&rest[..k], role, max);
                    assert!(
                        matches!(prefix, Parsed::Incomplete { .. }) || prefix == parsed,
                        "prefix of {k} bytes: {prefix:?}, the whole: {parsed:?}"
                    );
                }
                return;
            }
        }
    }
}

/// One parsed frame, at the front of `data`.
fn check_frame(data: &[u8], frame: Frame<'_>, role: Role, max: usize) {
    assert!(frame.len <= data.len());
    let header_len = frame.len - frame.payload.len();
    assert!(
        std::ptr::eq(frame.payload, &data[header_len..frame.len]),
        "the payload is not the frame's end"
    );
    let limit = if frame.opcode.is_control() {
        assert!(frame.fin, "fragmented control frame");
        MAX_CONTROL_PAYLOAD
    } else {
        max
    };
    assert!(frame.payload.len() <= limit, "payload over the limit");
    assert_eq!(frame.mask.is_some(), role == Role::Server, "masking");
    let mut header = Vec::new();
    encode_header(
        &mut header,
        frame.fin,
        frame.opcode,
        frame.payload.len(),
        frame.mask,
    );
    assert_eq!(&data[..header_len], &header[..], "not the one encoding");
    let alone = &data[..frame.len];
    assert_eq!(parse_frame(alone, role, max), Parsed::Frame(frame));
    for k in cuts(frame.len) {
        match parse_frame(&alone[..k], role, max) {
            Parsed::Incomplete { needed } => {
                assert!(
                    needed > k && needed <= frame.len,
                    "prefix {k} needs {needed}"
                );
            }
            other => panic!("prefix of {k} bytes: {other:?}"),
        }
    }
}

/// A frame built from `input`, masked and not, parsed back.
fn check_built(mut input: Input<'_>) {
    let choice = input.byte();
    let opcode = [
        Opcode::Continuation,
        Opcode::Text,
        Opcode::Binary,
        Opcode::Close,
        Opcode::Ping,
        Opcode::Pong,
    ][usize::from(choice % 6)];
    let mask = input.array::<4>();
    let mut payload = input.rest();
    let fin = opcode.is_control() || choice & 0x80 != 0;
    if opcode.is_control() {
        payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
    }

    let masked = masked_frame(fin, opcode, payload, mask);
    let (frame, data) = unmasked(parse_frame(&masked, Role::Server, payload.len()));
    assert_eq!(
        (frame.fin, frame.opcode, frame.mask),
        (fin, opcode, Some(mask))
    );
    assert_eq!((frame.len, &data[..]), (masked.len(), payload));
    if !payload.is_empty() && !opcode.is_control() {
        let refused = parse_frame(&masked, Role::Server, payload.len() - 1);
        assert!(
            matches!(refused, Parsed::Error(e) if e.code == 1009),
            "{refused:?}"
        );
    }

    let mut plain = Vec::new();
    write_frame(&mut plain, fin, opcode, payload);
    let (frame, data) = unmasked(parse_frame(&plain, Role::Client, payload.len()));
    assert_eq!((frame.fin, frame.opcode, frame.mask), (fin, opcode, None));
    assert_eq!((frame.len, &data[..]), (plain.len(), payload));

    let mut fast = payload.to_vec();
    apply_mask(&mut fast, mask);
    let slow: Vec<u8> = payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    assert_eq!(fast, slow, "apply_mask is not byte i ^ mask[i % 4]");
}

/// A close frame with a code and reason from `input`, read back.
fn check_close(mut input: Input<'_>) {
    let code = input.u16();
    let reason = String::from_utf8_lossy(input.rest());
    let mut out = Vec::new();
    write_close(&mut out, code, &reason);
    let Parsed::Frame(frame) = parse_frame(&out, Role::Client, 0) else {
        panic!("a close frame did not parse");
    };
    assert_eq!(frame.opcode, Opcode::Close);
    let read = parse_close(frame.payload);
    if !is_valid_close_code(code) {
        assert!(read.is_err(), "close code {code} was accepted");
        return;
    }
    let Ok(close) = read else {
        panic!("close frame with code {code}: {read:?}");
    };
    assert_eq!(close.code, Some(code));
    assert!(reason.starts_with(close.reason), "reason is not a prefix");
    assert!(close.reason.len() <= MAX_CONTROL_PAYLOAD - 2);
    if close.reason.len() < reason.len() {
        // Cut only as far as the limit and the character boundary need.
        let next = reason[close.reason.len()..]
            .chars()
            .next()
            .map_or(0, char::len_utf8);
        assert!(
            close.reason.len() + next > MAX_CONTROL_PAYLOAD - 2,
            "cut too short"
        );
    }
}

/// A frame's header fields and its payload, unmasked.
fn unmasked(parsed: Parsed<'_>) -> (Frame<'_>, Vec<u8>) {
    let Parsed::Frame(frame) = parsed else {
        panic!("a built frame did not parse: {parsed:?}");
    };
    let mut data = frame.payload.to_vec();
    if let Some(mask) = frame.mask {
        apply_mask(&mut data, mask);
    }
    (frame, data)
}
