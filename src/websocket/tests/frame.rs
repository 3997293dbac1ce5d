//! The frame parser against RFC 6455's examples (section 5.7) and every
//! rule it enforces.

use crate::websocket::{
    apply_mask, encode_header, masked_frame, parse_frame, Frame, Opcode, Parsed, Role,
    MESSAGE_TOO_BIG, PROTOCOL_ERROR,
};

/// The frame at the front of `data`, which must be whole and valid.
fn whole(data: &[u8], role: Role) -> Frame<'_> {
    match parse_frame(data, role, 1 << 20) {
        Parsed::Frame(frame) => frame,
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// The unmasked payload of `frame`.
fn payload(frame: &Frame<'_>) -> Vec<u8> {
    let mut data = frame.payload.to_vec();
    if let Some(mask) = frame.mask {
        apply_mask(&mut data, mask);
    }
    data
}

/// The close code and reason of a parse that must fail.
fn failure(data: &[u8], role: Role, max: usize) -> (u16, &'static str) {
    match parse_frame(data, role, max) {
        Parsed::Error(err) => (err.code, err.reason),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn rfc_single_frame_unmasked_text() {
    let data = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let frame = whole(&data, Role::Client);
    assert!(frame.fin);
    assert_eq!(frame.opcode, Opcode::Text);
    assert_eq!(frame.mask, None);
    assert_eq!(frame.payload, b"Hello");
    assert_eq!(frame.len, 7);
}

#[test]
fn rfc_single_frame_masked_text() {
    let data = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let frame = whole(&data, Role::Server);
    assert_eq!(frame.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    assert_eq!(payload(&frame), b"Hello");
    assert_eq!(frame.len, data.len());
    // And the builder makes exactly these bytes.
    assert_eq!(
        masked_frame(true, Opcode::Text, b"Hello", [0x37, 0xfa, 0x21, 0x3d]),
        data
    );
}

#[test]
fn rfc_fragmented_unmasked_text() {
    let data = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let first = whole(&data, Role::Client);
    assert!(!first.fin);
    assert_eq!(first.opcode, Opcode::Text);
    assert_eq!(first.payload, b"Hel");
    let second = whole(&data[first.len..], Role::Client);
    assert!(second.fin);
    assert_eq!(second.opcode, Opcode::Continuation);
    assert_eq!(second.payload, b"lo");
}

#[test]
fn rfc_unmasked_ping_and_masked_pong() {
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let frame = whole(&ping, Role::Client);
    assert_eq!((frame.opcode, frame.payload), (Opcode::Ping, &b"Hello"[..]));
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let frame = whole(&pong, Role::Server);
    assert_eq!(frame.opcode, Opcode::Pong);
    assert_eq!(payload(&frame), b"Hello");
}

#[test]
fn rfc_256_bytes_and_64_kib_binary() {
    let mut data = vec![0x82, 0x7E, 0x01, 0x00];
    data.extend(std::iter::repeat_n(7u8, 256));
    let frame = whole(&data, Role::Client);
    assert_eq!((frame.opcode, frame.payload.len()), (Opcode::Binary, 256));

    let mut data = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
    data.extend(std::iter::repeat_n(9u8, 65536));
    let frame = whole(&data, Role::Client);
    assert_eq!(frame.payload.len(), 65536);
    assert_eq!(frame.len, 10 + 65536);
}

#[test]
fn every_prefix_is_incomplete_and_says_what_it_needs() {
    let data = masked_frame(true, Opcode::Binary, &[1; 300], [1, 2, 3, 4]);
    for cut in 0..data.len() {
        match parse_frame(&data[..cut], Role::Server, 1 << 20) {
            Parsed::Incomplete { needed } => {
                assert!(needed > cut && needed <= data.len(), "cut {cut}: {needed}")
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn unmasked_frame_from_a_client_fails() {
    let (code, reason) = failure(
        &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'],
        Role::Server,
        99,
    );
    assert_eq!(code, PROTOCOL_ERROR);
    assert!(reason.contains("unmasked"), "{reason}");
    // And a masked one from a server.
    let data = masked_frame(true, Opcode::Text, b"x", [1, 2, 3, 4]);
    assert_eq!(failure(&data, Role::Client, 99).0, PROTOCOL_ERROR);
}

#[test]
fn reserved_bits_fail() {
    for rsv in [0x40u8, 0x20, 0x10] {
        let mut data = masked_frame(true, Opcode::Text, b"x", [1, 2, 3, 4]);
        data[0] |= rsv;
        let (code, reason) = failure(&data, Role::Server, 99);
        assert_eq!(code, PROTOCOL_ERROR);
        assert!(reason.contains("reserved"), "{reason}");
    }
}

#[test]
fn unknown_opcodes_fail() {
    for opcode in [0x3u8, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let data = [0x80 | opcode, 0x80, 1, 2, 3, 4];
        let (code, reason) = failure(&data, Role::Server, 99);
        assert_eq!(code, PROTOCOL_ERROR, "opcode {opcode:#x}");
        assert!(reason.contains("opcode"), "{reason}");
    }
}

#[test]
fn control_frames_over_125_bytes_fail() {
    for opcode in [Opcode::Ping, Opcode::Pong, Opcode::Close] {
        let data = masked_frame(true, opcode, &[0; 126], [1, 2, 3, 4]);
        let (code, reason) = failure(&data, Role::Server, 1 << 20);
        assert_eq!(code, PROTOCOL_ERROR);
        assert!(reason.contains("125"), "{reason}");
    }
    // 125 is fine.
    let data = masked_frame(true, Opcode::Ping, &[0; 125], [1, 2, 3, 4]);
    assert_eq!(whole(&data, Role::Server).payload.len(), 125);
}

#[test]
fn fragmented_control_frames_fail() {
    for opcode in [Opcode::Ping, Opcode::Pong, Opcode::Close] {
        let data = masked_frame(false, opcode, b"x", [1, 2, 3, 4]);
        let (code, reason) = failure(&data, Role::Server, 99);
        assert_eq!(code, PROTOCOL_ERROR);
        assert!(reason.contains("fragmented"), "{reason}");
    }
}

#[test]
fn oversize_frames_fail_from_the_header_alone() {
    // 2^62 bytes announced; only the header is there. Error 1009 at once,
    // nothing sized by the length.
    let mut data = vec![0x82, 0xFF];
    data.extend_from_slice(&(1u64 << 62).to_be_bytes());
    let (code, _) = failure(&data, Role::Server, 1 << 20);
    assert_eq!(code, MESSAGE_TOO_BIG);
    // One byte over a small limit, 16-bit length.
    let mut data = Vec::new();
    encode_header(&mut data, true, Opcode::Binary, 1001, Some([0; 4]));
    assert_eq!(failure(&data, Role::Server, 1000).0, MESSAGE_TOO_BIG);
    // Exactly the limit waits for its payload.
    let mut data = Vec::new();
    encode_header(&mut data, true, Opcode::Binary, 1000, Some([0; 4]));
    assert!(matches!(
        parse_frame(&data, Role::Server, 1000),
        Parsed::Incomplete { needed: 1008 }
    ));
}

#[test]
fn lengths_must_be_minimal_and_below_2_63() {
    // 5 bytes in the 16-bit form, 200 in the 64-bit form.
    let data = [0x82, 0xFE, 0, 5, 1, 2, 3, 4];
    assert_eq!(failure(&data, Role::Server, 99).0, PROTOCOL_ERROR);
    let mut data = vec![0x82, 0xFF];
    data.extend_from_slice(&200u64.to_be_bytes());
    assert_eq!(failure(&data, Role::Server, 999).0, PROTOCOL_ERROR);
    let mut data = vec![0x82, 0xFF];
    data.extend_from_slice(&(1u64 << 63).to_be_bytes());
    assert_eq!(failure(&data, Role::Server, usize::MAX).0, PROTOCOL_ERROR);
}

#[test]
fn builder_uses_the_shortest_length_form() {
    for (len, header) in [
        (0usize, 2usize),
        (125, 2),
        (126, 4),
        (65535, 4),
        (65536, 10),
    ] {
        let mut out = Vec::new();
        encode_header(&mut out, true, Opcode::Binary, len, None);
        assert_eq!(out.len(), header, "length {len}");
        let mut data = out.clone();
        data.resize(header + len, 0);
        assert_eq!(whole(&data, Role::Client).payload.len(), len);
    }
}

#[test]
fn masking_is_its_own_inverse_at_every_length() {
    let mask = [0xA5, 0x5A, 0x0F, 0xF0];
    for len in 0..40 {
        let original: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut data = original.clone();
        apply_mask(&mut data, mask);
        for (i, (&masked, &plain)) in data.iter().zip(&original).enumerate() {
            assert_eq!(masked, plain ^ mask[i % 4], "byte {i} of {len}");
        }
        apply_mask(&mut data, mask);
        assert_eq!(data, original);
    }
}
