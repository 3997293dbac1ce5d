//! Message assembly: fragments, control frames between them, UTF-8
//! checked across fragments, close frames, the size limit.

use crate::websocket::{
    masked_frame, parse_close, parse_frame, valid_prefix, Assembler, CloseFrame, Event, Message,
    Opcode, Parsed, ProtocolError, Role, INVALID_PAYLOAD, MESSAGE_TOO_BIG, PROTOCOL_ERROR,
};

/// What feeding one frame gave, owned.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Nothing,
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

/// Feeds one masked frame to `assembler` with a limit of `max` bytes.
fn feed(
    assembler: &mut Assembler,
    fin: bool,
    opcode: Opcode,
    payload: &[u8],
    max: usize,
) -> Result<Got, ProtocolError> {
    let data = masked_frame(fin, opcode, payload, [0x11, 0x22, 0x33, 0x44]);
    let Parsed::Frame(frame) = parse_frame(&data, Role::Server, max) else {
        panic!("not a whole frame");
    };
    let mut scratch = Vec::new();
    Ok(match assembler.push(&frame, max, &mut scratch)? {
        None => Got::Nothing,
        Some(Event::Message(Message::Text(text))) => Got::Text(text.into()),
        Some(Event::Message(Message::Binary(data))) => Got::Binary(data.into()),
        Some(Event::Ping(data)) => Got::Ping(data.into()),
        Some(Event::Pong(data)) => Got::Pong(data.into()),
        Some(Event::Close(close)) => Got::Close(close.code, close.reason.into()),
    })
}

#[test]
fn single_frames_are_whole_messages() {
    let mut a = Assembler::default();
    assert_eq!(
        feed(&mut a, true, Opcode::Text, "héllo".as_bytes(), 99),
        Ok(Got::Text("héllo".into()))
    );
    assert_eq!(
        feed(&mut a, true, Opcode::Binary, &[0, 255], 99),
        Ok(Got::Binary(vec![0, 255]))
    );
    assert!(!a.in_progress());
}

#[test]
fn fragments_join_with_control_frames_between_them() {
    let mut a = Assembler::default();
    assert_eq!(
        feed(&mut a, false, Opcode::Text, b"Hel", 99),
        Ok(Got::Nothing)
    );
    assert_eq!(
        feed(&mut a, true, Opcode::Ping, b"p", 99),
        Ok(Got::Ping(b"p".to_vec()))
    );
    assert_eq!(
        feed(&mut a, false, Opcode::Continuation, b"", 99),
        Ok(Got::Nothing)
    );
    assert_eq!(
        feed(&mut a, true, Opcode::Pong, b"q", 99),
        Ok(Got::Pong(b"q".to_vec()))
    );
    assert_eq!(
        feed(&mut a, true, Opcode::Continuation, b"lo", 99),
        Ok(Got::Text("Hello".into()))
    );
    assert!(!a.in_progress());
    assert_eq!(a.buffered(), 0);
    // Binary too, and the next message starts clean.
    assert_eq!(
        feed(&mut a, false, Opcode::Binary, &[1], 99),
        Ok(Got::Nothing)
    );
    assert_eq!(
        feed(&mut a, true, Opcode::Continuation, &[2], 99),
        Ok(Got::Binary(vec![1, 2]))
    );
}

#[test]
fn utf8_character_split_across_fragments_is_fine() {
    let euro = "€".as_bytes(); // E2 82 AC
    let mut a = Assembler::default();
    assert_eq!(
        feed(&mut a, false, Opcode::Text, &euro[..1], 99),
        Ok(Got::Nothing)
    );
    assert_eq!(
        feed(&mut a, false, Opcode::Continuation, &euro[1..2], 99),
        Ok(Got::Nothing)
    );
    assert_eq!(
        feed(&mut a, true, Opcode::Continuation, &euro[2..], 99),
        Ok(Got::Text("€".into()))
    );
}

#[test]
fn invalid_utf8_split_across_fragments_fails_at_the_bad_fragment() {
    let mut a = Assembler::default();
    // E2 82 starts a three-byte character; 0x28 cannot continue it.
    assert_eq!(
        feed(&mut a, false, Opcode::Text, &[b'a', 0xE2, 0x82], 99),
        Ok(Got::Nothing)
    );
    let err = feed(&mut a, false, Opcode::Continuation, &[0x28, b'b'], 99).unwrap_err();
    assert_eq!(err.code, INVALID_PAYLOAD);
}

#[test]
fn invalid_utf8_fails_before_the_message_ends() {
    let mut a = Assembler::default();
    let err = feed(&mut a, false, Opcode::Text, &[b'o', b'k', 0xFF], 99).unwrap_err();
    assert_eq!(err.code, INVALID_PAYLOAD);
    let mut a = Assembler::default();
    let err = feed(&mut a, true, Opcode::Text, &[0xC0, 0x80], 99).unwrap_err();
    assert_eq!(err.code, INVALID_PAYLOAD);
}

#[test]
fn text_ending_inside_a_character_fails() {
    let mut a = Assembler::default();
    assert_eq!(
        feed(&mut a, false, Opcode::Text, b"a", 99),
        Ok(Got::Nothing)
    );
    let err = feed(&mut a, true, Opcode::Continuation, &[0xE2, 0x82], 99).unwrap_err();
    assert_eq!(err.code, INVALID_PAYLOAD);
}

#[test]
fn binary_is_not_checked_as_utf8() {
    let mut a = Assembler::default();
    assert_eq!(
        feed(&mut a, false, Opcode::Binary, &[0xFF], 99),
        Ok(Got::Nothing)
    );
    assert_eq!(
        feed(&mut a, true, Opcode::Continuation, &[0xE2], 99),
        Ok(Got::Binary(vec![0xFF, 0xE2]))
    );
}

#[test]
fn continuation_without_a_message_fails() {
    let mut a = Assembler::default();
    let err = feed(&mut a, true, Opcode::Continuation, b"x", 99).unwrap_err();
    assert_eq!(err.code, PROTOCOL_ERROR);
}

#[test]
fn new_message_inside_a_fragmented_one_fails() {
    let mut a = Assembler::default();
    assert_eq!(
        feed(&mut a, false, Opcode::Text, b"a", 99),
        Ok(Got::Nothing)
    );
    let err = feed(&mut a, true, Opcode::Binary, b"b", 99).unwrap_err();
    assert_eq!(err.code, PROTOCOL_ERROR);
}

#[test]
fn oversize_fragmented_message_fails_at_the_fragment_that_passes_the_limit() {
    let mut a = Assembler::default();
    assert_eq!(
        feed(&mut a, false, Opcode::Binary, &[0; 60], 100),
        Ok(Got::Nothing)
    );
    assert_eq!(
        feed(&mut a, false, Opcode::Continuation, &[0; 40], 100),
        Ok(Got::Nothing)
    );
    assert_eq!(a.buffered(), 100);
    let err = feed(&mut a, true, Opcode::Continuation, &[0; 1], 100).unwrap_err();
    assert_eq!(err.code, MESSAGE_TOO_BIG);
    assert_eq!(a.buffered(), 100, "nothing past the limit was kept");
}

#[test]
fn close_frames_are_read_and_bad_ones_fail() {
    let mut a = Assembler::default();
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    assert_eq!(
        feed(&mut a, true, Opcode::Close, &payload, 99),
        Ok(Got::Close(Some(1000), "bye".into()))
    );
    assert_eq!(
        feed(&mut a, true, Opcode::Close, b"", 99),
        Ok(Got::Close(None, String::new()))
    );
    // A close frame between fragments is allowed too.
    assert_eq!(
        feed(&mut a, false, Opcode::Text, b"a", 99),
        Ok(Got::Nothing)
    );
    assert_eq!(
        feed(&mut a, true, Opcode::Close, &4000u16.to_be_bytes(), 99),
        Ok(Got::Close(Some(4000), String::new()))
    );
}

#[test]
fn close_codes_are_checked() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        assert!(parse_close(&code.to_be_bytes()).is_ok(), "{code} is valid");
    }
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let err = parse_close(&code.to_be_bytes()).unwrap_err();
        assert_eq!(err.code, PROTOCOL_ERROR, "{code} is invalid");
    }
    assert_eq!(
        parse_close(&[3]).unwrap_err().code,
        PROTOCOL_ERROR,
        "one byte"
    );
    let err = parse_close(&[0x03, 0xE8, 0xFF]).unwrap_err();
    assert_eq!(err.code, INVALID_PAYLOAD, "reason not UTF-8");
    assert_eq!(
        parse_close(&[0x03, 0xE8]),
        Ok(CloseFrame {
            code: Some(1000),
            reason: ""
        })
    );
}

#[test]
fn valid_prefix_tolerates_only_a_cut_character() {
    assert_eq!(valid_prefix(b"abc", 0), Ok(3));
    assert_eq!(valid_prefix(&[b'a', 0xE2, 0x82], 0), Ok(1));
    assert_eq!(valid_prefix(&[b'a', 0xE2, 0x82, 0xAC], 1), Ok(4));
    assert!(valid_prefix(&[b'a', 0xFF], 0).is_err());
}
