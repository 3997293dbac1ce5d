//! Server frames (RFC 6455 §5), decoded as they stream in: data frame
//! payloads are handed out as slices of the input (never copied, whatever
//! their size), control frames (at most 125 bytes) are gathered whole.
//! Everything a client must refuse is an error: masked frames, reserved
//! bits (but RSV1 on a message's first frame where permessage-deflate
//! was agreed), unknown opcodes, long or fragmented
//! control frames, continuations out of place, lengths not in their
//! shortest form, bad close codes.

use std::fmt;

/// Largest control frame payload (§5.5).
pub const MAX_CONTROL: usize = 125;

/// A control frame's payload.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Control {
    bytes: [u8; MAX_CONTROL],
    len: u8,
}

impl Control {
    /// The payload.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Control({:?})", self.as_slice())
    }
}

/// One step of the decoded stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Payload bytes of a data message, in order (a message may come in
    /// several pieces: frames, and reads that cut frames).
    Data {
        /// The bytes, a slice of the input.
        bytes: &'a [u8],
        /// A text message (else binary).
        text: bool,
        /// Where `bytes` start within the message.
        offset: u64,
        /// The message ends with these bytes.
        end: bool,
        /// The message is compressed (RSV1 on its first frame, only where
        /// permessage-deflate was agreed): these bytes are deflate data.
        compressed: bool,
    },
    /// Made by [`Link`](super::Link), never by the decoder: a compressed
    /// message is complete, inflated into [`Link::inflated`](super::Link::inflated).
    Inflated {
        /// A text message (else binary).
        text: bool,
    },
    /// A ping; the client answers with a pong of the same payload.
    Ping(Control),
    /// A pong.
    Pong(Control),
    /// A close frame: its status code (none when the payload is empty)
    /// and reason.
    Close {
        /// Status code, if any.
        code: Option<u16>,
        /// The payload after the code.
        reason: Control,
    },
}

/// Why a server's frames were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A reserved bit was set (no extension was negotiated).
    ReservedBits,
    /// The server masked a frame (§5.1: a client must close).
    Masked,
    /// An opcode RFC 6455 does not define.
    BadOpcode(u8),
    /// A control frame longer than 125 bytes.
    ControlTooLong,
    /// A control frame without FIN.
    FragmentedControl,
    /// A continuation frame with no message to continue.
    StrayContinuation,
    /// A new data message before the previous one ended.
    UnfinishedMessage,
    /// A length not in its shortest form, or over 2^63.
    BadLength,
    /// A close frame with a one-byte payload.
    CloseTooShort,
    /// A close code that may not be sent (§7.4).
    BadCloseCode(u16),
    /// A close reason that is not UTF-8.
    CloseReasonNotUtf8,
    /// A compressed message that does not inflate (bad deflate data, or
    /// over 16 MiB).
    BadDeflate,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBits => write!(f, "frame with a reserved bit set"),
            Self::Masked => write!(f, "masked frame from the server"),
            Self::BadOpcode(op) => write!(f, "unknown opcode {op:#x}"),
            Self::ControlTooLong => write!(f, "control frame over 125 bytes"),
            Self::FragmentedControl => write!(f, "fragmented control frame"),
            Self::StrayContinuation => write!(f, "continuation frame outside a message"),
            Self::UnfinishedMessage => write!(f, "new message before the last one ended"),
            Self::BadLength => write!(f, "frame length not in its shortest form"),
            Self::CloseTooShort => write!(f, "close frame with a 1-byte payload"),
            Self::BadCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Self::CloseReasonNotUtf8 => write!(f, "close reason is not UTF-8"),
            Self::BadDeflate => write!(f, "compressed message that does not inflate"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Whether a server may send `code` in a close frame (§7.4.1, §7.4.2).
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

/// The frame being read, after its header.
#[derive(Debug, Clone, Copy)]
struct Frame {
    opcode: u8,
    fin: bool,
    /// Payload bytes still to come.
    remaining: u64,
}

/// A streaming decoder of the frames one server connection sends.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Header bytes gathered so far (a server header is 2 to 10 bytes).
    head: [u8; 10],
    head_len: usize,
    frame: Option<Frame>,
    /// The data message in progress: text, bytes so far.
    message: Option<(bool, u64)>,
    control: Control,
    /// permessage-deflate was agreed: RSV1 may mark a message compressed.
    deflate: bool,
    /// The message in progress is compressed.
    compressed: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            head: [0; 10],
            head_len: 0,
            frame: None,
            message: None,
            control: Control {
                bytes: [0; MAX_CONTROL],
                len: 0,
            },
            deflate: false,
            compressed: false,
        }
    }
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder for a connection that agreed to permessage-deflate.
    pub fn with_deflate() -> Self {
        Self {
            deflate: true,
            ..Self::default()
        }
    }

    /// Decodes from the front of `data`, consuming what it used; returns
    /// the next piece, or `None` when `data` ran out first (the state is
    /// kept for the next call).
    pub fn next<'a>(&mut self, data: &mut &'a [u8]) -> Result<Option<Piece<'a>>, FrameError> {
        loop {
            if let Some(frame) = self.frame {
                return Ok(self.payload(frame, data));
            }
            if !self.header(data)? {
                return Ok(None);
            }
        }
    }

    /// Reads header bytes from `data`; `true` once a whole header is in
    /// and `self.frame` is set.
    fn header(&mut self, data: &mut &[u8]) -> Result<bool, FrameError> {
        while self.head_len < 2 {
            let Some((&byte, rest)) = data.split_first() else {
                return Ok(false);
            };
            self.head[self.head_len] = byte;
            self.head_len += 1;
            *data = rest;
            if self.head_len == 2 {
                self.check_start()?;
            }
        }
        let extended = match self.head[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let need = 2 + extended;
        let take = (need - self.head_len).min(data.len());
        self.head[self.head_len..self.head_len + take].copy_from_slice(&data[..take]);
        self.head_len += take;
        *data = &data[take..];
        if self.head_len < need {
            return Ok(false);
        }
        let short = u64::from(self.head[1] & 0x7F);
        let len = match extended {
            2 => {
                let len = u64::from(u16::from_be_bytes([self.head[2], self.head[3]]));
                if len < 126 {
                    return Err(FrameError::BadLength);
                }
                len
            }
            8 => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&self.head[2..10]);
                let len = u64::from_be_bytes(bytes);
                if len <= 0xFFFF || len >> 63 != 0 {
                    return Err(FrameError::BadLength);
                }
                len
            }
            _ => short,
        };
        let opcode = self.head[0] & 0x0F;
        let fin = self.head[0] & 0x80 != 0;
        if opcode >= 0x8 && len > MAX_CONTROL as u64 {
            return Err(FrameError::ControlTooLong);
        }
        self.head_len = 0;
        self.control.len = 0;
        self.frame = Some(Frame {
            opcode,
            fin,
            remaining: len,
        });
        Ok(true)
    }

    /// Checks the first two header bytes.
    fn check_start(&mut self) -> Result<(), FrameError> {
        let (b0, b1) = (self.head[0], self.head[1]);
        let rsv1 = b0 & 0x40 != 0;
        // RSV1 only where agreed, and only on a message's first frame.
        if b0 & 0x30 != 0 || (rsv1 && !(self.deflate && matches!(b0 & 0x0F, 0x1 | 0x2))) {
            return Err(FrameError::ReservedBits);
        }
        if matches!(b0 & 0x0F, 0x1 | 0x2) && self.message.is_none() {
            self.compressed = rsv1;
        }
        if b1 & 0x80 != 0 {
            return Err(FrameError::Masked);
        }
        let fin = b0 & 0x80 != 0;
        match b0 & 0x0F {
            0x0 if self.message.is_none() => Err(FrameError::StrayContinuation),
            0x1 | 0x2 if self.message.is_some() => Err(FrameError::UnfinishedMessage),
            0x0..=0x2 => Ok(()),
            0x8..=0xA if !fin => Err(FrameError::FragmentedControl),
            0x8..=0xA => Ok(()),
            op => Err(FrameError::BadOpcode(op)),
        }
    }

    /// Takes payload of `frame` from `data`.
    fn payload<'a>(&mut self, mut frame: Frame, data: &mut &'a [u8]) -> Option<Piece<'a>> {
        let take = usize::try_from(frame.remaining)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let (bytes, rest) = data.split_at(take);
        *data = rest;
        frame.remaining -= take as u64;
        let done = frame.remaining == 0;
        self.frame = if done { None } else { Some(frame) };
        if frame.opcode >= 0x8 {
            let at = usize::from(self.control.len);
            self.control.bytes[at..at + take].copy_from_slice(bytes);
            self.control.len += take as u8;
            return if done {
                Some(self.control_piece(frame))
            } else {
                None
            };
        }
        if take == 0 && !done {
            return None;
        }
        // A message in progress (an earlier frame, or an earlier read of
        // this one) goes on; otherwise this frame starts one.
        let (text, offset) = self.message.unwrap_or((frame.opcode == 0x1, 0));
        let end = done && frame.fin;
        self.message = (!end).then_some((text, offset + take as u64));
        Some(Piece::Data {
            bytes,
            text,
            offset,
            end,
            compressed: self.compressed,
        })
    }

    /// The piece of a whole control frame; a bad close frame is reported
    /// by [`Decoder::check_close`].
    fn control_piece<'a>(&self, frame: Frame) -> Piece<'a> {
        let payload = self.control;
        match frame.opcode {
            0x9 => Piece::Ping(payload),
            0xA => Piece::Pong(payload),
            _ => {
                let slice = payload.as_slice();
                let (code, reason) = match slice {
                    [a, b, rest @ ..] => (Some(u16::from_be_bytes([*a, *b])), rest),
                    _ => (None, slice),
                };
                let mut reason_control = Control {
                    bytes: [0; MAX_CONTROL],
                    len: reason.len() as u8,
                };
                reason_control.bytes[..reason.len()].copy_from_slice(reason);
                // A one-byte payload keeps its byte as "reason" so the
                // check below can see it.
                Piece::Close {
                    code,
                    reason: reason_control,
                }
            }
        }
    }
}

/// Checks a close frame's payload (§5.5.1, §7.4): no code, or a valid code
/// followed by a UTF-8 reason.
pub fn check_close(code: Option<u16>, reason: &[u8]) -> Result<(), FrameError> {
    match code {
        None if reason.is_empty() => Ok(()),
        None => Err(FrameError::CloseTooShort),
        Some(code) if !valid_close_code(code) => Err(FrameError::BadCloseCode(code)),
        Some(_) => std::str::from_utf8(reason)
            .map(drop)
            .map_err(|_| FrameError::CloseReasonNotUtf8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every piece of `stream`, fed `step` bytes at a time; data pieces
    /// are joined into (text, message) pairs.
    fn decode(stream: &[u8], step: usize) -> Result<Vec<String>, FrameError> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        let mut message = Vec::new();
        for chunk in stream.chunks(step.max(1)) {
            let mut data = chunk;
            while let Some(piece) = d.next(&mut data)? {
                match piece {
                    Piece::Data {
                        bytes,
                        text,
                        offset,
                        end,
                        compressed,
                    } => {
                        assert!(!compressed);
                        assert_eq!(offset, message.len() as u64);
                        message.extend_from_slice(bytes);
                        if end {
                            let kind = if text { "text" } else { "binary" };
                            out.push(format!("{kind}:{}", String::from_utf8_lossy(&message)));
                            message.clear();
                        }
                    }
                    Piece::Ping(p) => out.push(format!("ping:{:?}", p.as_slice())),
                    Piece::Pong(p) => out.push(format!("pong:{:?}", p.as_slice())),
                    Piece::Close { code, reason } => {
                        check_close(code, reason.as_slice())?;
                        out.push(format!("close:{code:?}"));
                    }
                    Piece::Inflated { .. } => unreachable!("the decoder never inflates"),
                }
            }
            assert!(data.is_empty());
        }
        Ok(out)
    }

    fn all_splits(stream: &[u8]) -> Result<Vec<String>, FrameError> {
        let whole = decode(stream, stream.len())?;
        for step in 1..stream.len() {
            assert_eq!(decode(stream, step)?, whole, "fed {step} bytes at a time");
        }
        Ok(whole)
    }

    #[test]
    fn rfc_examples() {
        // §5.7: unmasked "Hello", fragmented "Hel" + "lo", unmasked ping.
        assert_eq!(
            all_splits(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']).unwrap(),
            ["text:Hello"]
        );
        assert_eq!(
            all_splits(&[0x01, 0x03, b'H', b'e', b'l', 0x80, 0x02, b'l', b'o']).unwrap(),
            ["text:Hello"]
        );
        assert_eq!(
            all_splits(&[0x89, 0x05, b'H', b'e', b'l', b'l', b'o']).unwrap(),
            ["ping:[72, 101, 108, 108, 111]"]
        );
        // A 256-byte and a 65536-byte binary message (extended lengths).
        let mut big = vec![0x82, 0x7E, 0x01, 0x00];
        big.extend(std::iter::repeat_n(b'a', 256));
        big.extend([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        big.extend(std::iter::repeat_n(b'b', 65536));
        let got = decode(&big, 1000).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), "binary:".len() + 256);
        assert_eq!(got[1].len(), "binary:".len() + 65536);
    }

    #[test]
    fn control_frames_between_fragments() {
        let stream = [
            0x02, 0x02, b'a', b'b', // binary, not final
            0x89, 0x00, // ping, empty
            0x00, 0x01, b'c', // continuation
            0x8A, 0x01, b'x', // pong
            0x80, 0x00, // final, empty continuation
            0x88, 0x02, 0x03, 0xE8, // close 1000
        ];
        assert_eq!(
            all_splits(&stream).unwrap(),
            ["ping:[]", "pong:[120]", "binary:abc", "close:Some(1000)"]
        );
    }

    #[test]
    fn empty_messages_and_empty_close() {
        assert_eq!(
            all_splits(&[0x82, 0x00, 0x81, 0x00, 0x88, 0x00]).unwrap(),
            ["binary:", "text:", "close:None"]
        );
    }

    #[test]
    fn refused_frames() {
        let bad: [(&[u8], FrameError); 12] = [
            (&[0xC2, 0x00], FrameError::ReservedBits),
            (&[0x82, 0x81, 1, 2, 3, 4, 0], FrameError::Masked),
            (&[0x83, 0x00], FrameError::BadOpcode(3)),
            (&[0x8B, 0x00], FrameError::BadOpcode(0xB)),
            (&[0x89, 0x7E, 0x00, 0x7E], FrameError::ControlTooLong),
            (&[0x09, 0x00], FrameError::FragmentedControl),
            (&[0x80, 0x00], FrameError::StrayContinuation),
            (&[0x02, 0x00, 0x82, 0x00], FrameError::UnfinishedMessage),
            (&[0x82, 0x7E, 0x00, 0x7D], FrameError::BadLength),
            (
                &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
                FrameError::BadLength,
            ),
            (&[0x88, 0x01, 0x03], FrameError::CloseTooShort),
            (&[0x88, 0x02, 0x03, 0xED], FrameError::BadCloseCode(1005)),
        ];
        for (stream, error) in bad {
            for step in 1..=stream.len() {
                assert_eq!(decode(stream, step), Err(error), "{stream:?} by {step}");
            }
        }
        assert_eq!(
            decode(&[0x88, 0x04, 0x03, 0xE8, 0xFF, 0xFE], 6),
            Err(FrameError::CloseReasonNotUtf8)
        );
    }

    /// A server frame (unmasked) of `opcode` carrying `payload`.
    fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::from(fin) << 7 | opcode];
        match payload.len() {
            n @ 0..=125 => out.push(n as u8),
            n @ 126..=0xFFFF => {
                out.push(126);
                out.extend((n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend((n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn random_streams_decode_the_same_however_they_are_cut() {
        use rand::rngs::SmallRng;
        use rand::{Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(6455);
        for _ in 0..200 {
            // Messages of random sizes, fragmented at random, with pings
            // between fragments.
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            for _ in 0..rng.gen_range(1..6) {
                let len = [0, 1, 125, 126, 300, 70_000][rng.gen_range(0..6)];
                let message: Vec<u8> = (0..len).map(|_| rng.gen_range(b'a'..=b'z')).collect();
                let text = rng.gen_bool(0.5);
                let mut rest = &message[..];
                let mut first = true;
                loop {
                    let cut = rng.gen_range(0..=rest.len());
                    let (part, tail) = rest.split_at(cut);
                    let last = tail.is_empty() && rng.gen_bool(0.7);
                    let opcode = if !first {
                        0
                    } else if text {
                        1
                    } else {
                        2
                    };
                    stream.extend(server_frame(last, opcode, part));
                    first = false;
                    rest = tail;
                    if last {
                        break;
                    }
                    if rng.gen_bool(0.3) {
                        stream.extend(server_frame(true, 0x9, b"p"));
                        expected.push("ping:[112]".to_string());
                    }
                }
                let kind = if text { "text" } else { "binary" };
                expected.push(format!("{kind}:{}", String::from_utf8_lossy(&message)));
            }
            for step in [1, 2, 3, 7, 64, 1000, stream.len()] {
                if step < 7 && stream.len() > 5000 {
                    continue; // byte by byte is slow in debug builds
                }
                assert_eq!(decode(&stream, step).unwrap(), expected, "step {step}");
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        use rand::rngs::SmallRng;
        use rand::{Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..2000 {
            let len = rng.gen_range(0..64);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let mut d = Decoder::new();
            let mut data = &bytes[..];
            // Every call consumes input or ends: no endless loop either.
            while let Ok(Some(_)) = d.next(&mut data) {}
        }
    }

    #[test]
    fn data_is_never_copied() {
        let stream = [0x82, 0x03, 1, 2, 3];
        let mut data = &stream[..];
        let mut d = Decoder::new();
        let Some(Piece::Data { bytes, .. }) = d.next(&mut data).unwrap() else {
            panic!("a data piece");
        };
        assert!(std::ptr::eq(bytes.as_ptr(), stream[2..].as_ptr()));
    }
}
