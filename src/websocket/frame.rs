//! The frame parser (RFC 6455 section 5.2): pure code over a byte slice.
//!
//! [`parse_frame`] looks at the front of a buffer and says whether it holds
//! a whole frame, needs more bytes, or breaks the protocol (with the close
//! code to answer with). It never allocates and never copies: the payload
//! it returns is a slice of the input, still masked. The length in the
//! header is checked against the limit as soon as the header is complete,
//! before the payload has arrived or anything was sized for it.

use crate::websocket::close::{CloseCode, ProtocolError, MESSAGE_TOO_BIG, PROTOCOL_ERROR};

/// The longest payload of a control frame (close, ping, pong).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest frame header: 2 bytes, 8 of extended length, 4 of mask.
pub const MAX_HEADER: usize = 14;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// `0x0`: the next fragment of a text or binary message.
    Continuation,
    /// `0x1`: a text message (or its first fragment): UTF-8.
    Text,
    /// `0x2`: a binary message (or its first fragment).
    Binary,
    /// `0x8`: the closing handshake.
    Close,
    /// `0x9`: a ping, to be answered by a pong with the same payload.
    Ping,
    /// `0xA`: a pong.
    Pong,
}

impl Opcode {
    /// The opcode of the 4-bit value `bits`, if it is one RFC 6455 defines.
    pub fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// The opcode's 4-bit value.
    pub fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Close, ping and pong: short, never fragmented, allowed between the
    /// fragments of a message.
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// Which end of the connection parses: a server requires every frame to be
/// masked, a client requires none to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Parsing what a client sent (frames must be masked).
    Server,
    /// Parsing what a server sent (frames must not be masked).
    Client,
}

/// One whole frame at the front of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The final fragment of its message (always set on a control frame).
    pub fin: bool,
    /// What it carries.
    pub opcode: Opcode,
    /// RSV1: the first frame of a compressed message (only where
    /// permessage-deflate was negotiated: see [`parse_deflated_frame`]).
    pub compressed: bool,
    /// The masking key, if the frame was masked.
    pub mask: Option<[u8; 4]>,
    /// The payload as it arrived (still masked; see
    /// [`apply_mask`](crate::websocket::apply_mask)).
    pub payload: &'a [u8],
    /// Bytes the frame takes in the buffer, header included.
    pub len: usize,
}

/// What [`parse_frame`] found at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// Not a whole frame yet; at least this many bytes in all are needed
    /// (so far as the header tells).
    Incomplete {
        /// Bytes the buffer must hold before parsing can go further.
        needed: usize,
    },
    /// A whole, valid frame.
    Frame(Frame<'a>),
    /// The bytes break the protocol; the connection must be failed.
    Error(ProtocolError),
}

/// Parses the frame at the front of `data`, as `role` receives it, with
/// payloads of at most `max_payload` bytes (control frames: 125).
///
/// Checks, in the order the bytes arrive: reserved bits (for a
/// connection without extensions all three must be clear; see
/// [`parse_deflated_frame`] for one with permessage-deflate), the opcode, control frames
/// fragmented or over 125 bytes, the length's minimal encoding and its
/// limit (error 1009 as soon as the header says so), and masking.
pub fn parse_frame(data: &[u8], role: Role, max_payload: usize) -> Parsed<'_> {
    parse(data, role, max_payload, false)
}

/// [`parse_frame`] on a connection that negotiated permessage-deflate
/// (RFC 7692): RSV1 may be set, and then marks a compressed message
/// ([`Frame::compressed`]), but only on the first frame of a data
/// message; on a control frame or a continuation it is an error (1002),
/// as are RSV2 and RSV3. The limit applies to the compressed payload.
pub fn parse_deflated_frame(data: &[u8], role: Role, max_payload: usize) -> Parsed<'_> {
    parse(data, role, max_payload, true)
}

/// The parser of both: `deflate` says whether RSV1 may be set.
fn parse(data: &[u8], role: Role, max_payload: usize, deflate: bool) -> Parsed<'_> {
    let [first, second, ..] = *data else {
        return Parsed::Incomplete { needed: 2 };
    };
    let fin = first & 0x80 != 0;
    let compressed = first & 0x40 != 0;
    if first & 0x30 != 0 || (compressed && !deflate) {
        return error(PROTOCOL_ERROR, "reserved bits set without an extension");
    }
    let Some(opcode) = Opcode::from_bits(first & 0x0F) else {
        return error(PROTOCOL_ERROR, "unknown opcode");
    };
    if compressed && (opcode.is_control() || opcode == Opcode::Continuation) {
        return error(
            PROTOCOL_ERROR,
            "RSV1 set on a control frame or a continuation",
        );
    }
    let masked = second & 0x80 != 0;
    let short_len = second & 0x7F;
    if opcode.is_control() {
        if !fin {
            return error(PROTOCOL_ERROR, "fragmented control frame");
        }
        if usize::from(short_len) > MAX_CONTROL_PAYLOAD {
            return error(PROTOCOL_ERROR, "control frame over 125 bytes");
        }
    }
    match (role, masked) {
        (Role::Server, false) => return error(PROTOCOL_ERROR, "unmasked frame from a client"),
        (Role::Client, true) => return error(PROTOCOL_ERROR, "masked frame from a server"),
        _ => {}
    }
    let (payload_len, mut at) = match short_len {
        126 => {
            let Some(bytes) = data.get(2..4) else {
                return Parsed::Incomplete { needed: 4 };
            };
            let len = u64::from(u16::from_be_bytes([bytes[0], bytes[1]]));
            if len < 126 {
                return error(PROTOCOL_ERROR, "length not minimally encoded");
            }
            (len, 4)
        }
        127 => {
            let Some(bytes) = data.get(2..10) else {
                return Parsed::Incomplete { needed: 10 };
            };
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            let len = u64::from_be_bytes(word);
            if len >> 63 != 0 {
                return error(PROTOCOL_ERROR, "length with its top bit set");
            }
            if len <= u64::from(u16::MAX) {
                return error(PROTOCOL_ERROR, "length not minimally encoded");
            }
            (len, 10)
        }
        len => (u64::from(len), 2),
    };
    // Checked before anything waits for, or is sized by, the payload.
    let limit = if opcode.is_control() {
        MAX_CONTROL_PAYLOAD
    } else {
        max_payload
    };
    let payload_len = match usize::try_from(payload_len) {
        Ok(len) if len <= limit => len,
        _ => return error(MESSAGE_TOO_BIG, "frame larger than the message limit"),
    };
    let mask = if masked {
        let Some(bytes) = data.get(at..at + 4) else {
            return Parsed::Incomplete { needed: at + 4 };
        };
        at += 4;
        Some([bytes[0], bytes[1], bytes[2], bytes[3]])
    } else {
        None
    };
    let len = at + payload_len;
    match data.get(at..len) {
        Some(payload) => Parsed::Frame(Frame {
            fin,
            opcode,
            compressed,
            mask,
            payload,
            len,
        }),
        None => Parsed::Incomplete { needed: len },
    }
}

/// `Parsed::Error` with this code and reason.
fn error(code: CloseCode, reason: &'static str) -> Parsed<'static> {
    Parsed::Error(ProtocolError::new(code, reason))
}
