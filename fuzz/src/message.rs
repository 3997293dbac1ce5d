//! WebSocket message assembly, `esockets::websocket::Assembler`, against a
//! model written out here: a stream of frames built from the bytes
//! (any opcode, fin or not, payloads up to 255 bytes, masked) goes through
//! `parse_frame` and the assembler, and each frame's outcome (nothing yet,
//! a message with these bytes, a ping, a pong, a close with this code and
//! reason, or a failure with this close code) must be the model's. So
//! text is never delivered unless the whole message is UTF-8, and an
//! invalid byte fails the connection (1007) at the fragment that brings
//! it; a message over the limit fails (1009) at the fragment that passes
//! it; fragments out of order fail (1002). The assembler never holds more
//! than the limit, and never allocates more than the limit at once.

use esockets::websocket::{
    masked_frame, parse_frame, Assembler, Event, Message, Opcode, Parsed, Role, MAX_CONTROL_PAYLOAD,
};

use crate::alloc::largest_allocation;
use crate::Input;

/// What one frame amounted to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// A fragment taken, no message yet.
    Nothing,
    /// A whole text message.
    Text(Vec<u8>),
    /// A whole binary message.
    Binary(Vec<u8>),
    /// A ping.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// A close frame's code and reason.
    Close(Option<u16>, Vec<u8>),
    /// The connection fails with this close code.
    Failed(u16),
}

/// Checks the assembler on a stream of frames built from `data`.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let max = usize::from(input.u16() % 1024);
    let mask = input.array::<4>();
    let mut stream = Vec::new();
    while !input.rest().is_empty() {
        let choice = input.byte();
        let opcode = [
            Opcode::Continuation,
            Opcode::Text,
            Opcode::Binary,
            Opcode::Close,
            Opcode::Ping,
            Opcode::Pong,
        ][usize::from(choice & 0x7F) % 6];
        let len = usize::from(input.byte());
        let payload = input.take(len);
        let fin = choice & 0x80 != 0 || (opcode.is_control() && payload.len() <= 125);
        stream.extend(masked_frame(fin, opcode, payload, mask));
    }

    let mut assembler = Assembler::default();
    let mut model = Model::default();
    let mut scratch = Vec::new();
    let mut at = 0;
    while let Parsed::Frame(frame) = parse_frame(&stream[at..], Role::Server, max) {
        at += frame.len;
        let mut payload = frame.payload.to_vec();
        if let Some(mask) = frame.mask {
            esockets::websocket::apply_mask(&mut payload, mask);
        }
        let expected = model.push(frame.fin, frame.opcode, &payload, max);
        let (got, allocated) = largest_allocation(|| {
            outcome(
                assembler
                    .push(&frame, max, &mut scratch)
                    .map_err(|e| e.code),
            )
        });
        assert_eq!(got, expected, "frame {:?} fin {}", frame.opcode, frame.fin);
        let limit = max.max(MAX_CONTROL_PAYLOAD);
        assert!(allocated.unwrap_or(0) <= limit, "allocated {allocated:?}");
        assert!(
            assembler.buffered() <= max,
            "holds {}",
            assembler.buffered()
        );
        if matches!(got, Outcome::Failed(_)) {
            return;
        }
        assert_eq!(assembler.in_progress(), model.message.is_some());
    }
}

/// The assembler's answer, owned.
fn outcome(result: Result<Option<Event<'_>>, u16>) -> Outcome {
    match result {
        Err(code) => Outcome::Failed(code),
        Ok(None) => Outcome::Nothing,
        Ok(Some(Event::Message(Message::Text(text)))) => Outcome::Text(text.as_bytes().to_vec()),
        Ok(Some(Event::Message(Message::Binary(data)))) => Outcome::Binary(data.to_vec()),
        Ok(Some(Event::Ping(data))) => Outcome::Ping(data.to_vec()),
        Ok(Some(Event::Pong(data))) => Outcome::Pong(data.to_vec()),
        Ok(Some(Event::Close(close))) => {
            Outcome::Close(close.code, close.reason.as_bytes().to_vec())
        }
    }
}

/// RFC 6455's rules for one connection, the plain way: the message in
/// progress (text or not, its bytes so far).
#[derive(Debug, Default)]
struct Model {
    message: Option<(bool, Vec<u8>)>,
}

impl Model {
    /// What a frame with `payload` (unmasked) must amount to.
    fn push(&mut self, fin: bool, opcode: Opcode, payload: &[u8], max: usize) -> Outcome {
        let text = match opcode {
            Opcode::Ping => return Outcome::Ping(payload.to_vec()),
            Opcode::Pong => return Outcome::Pong(payload.to_vec()),
            Opcode::Close => return close(payload),
            Opcode::Text => true,
            Opcode::Binary => false,
            Opcode::Continuation => {
                let Some((text, mut bytes)) = self.message.take() else {
                    return Outcome::Failed(1002);
                };
                bytes.extend_from_slice(payload);
                return self.fragment(text, bytes, fin, max);
            }
        };
        if self.message.is_some() {
            return Outcome::Failed(1002);
        }
        self.fragment(text, payload.to_vec(), fin, max)
    }

    /// A message with `bytes` so far, ended or not.
    fn fragment(&mut self, text: bool, bytes: Vec<u8>, fin: bool, max: usize) -> Outcome {
        if bytes.len() > max {
            return Outcome::Failed(1009);
        }
        if text {
            match std::str::from_utf8(&bytes) {
                Ok(_) => {}
                // A character cut at the end may go on in the next fragment.
                Err(e) if e.error_len().is_none() && !fin => {}
                Err(_) => return Outcome::Failed(1007),
            }
        }
        if !fin {
            self.message = Some((text, bytes));
            return Outcome::Nothing;
        }
        if text {
            Outcome::Text(bytes)
        } else {
            Outcome::Binary(bytes)
        }
    }
}

/// What a close frame's payload must amount to (RFC 6455 sections 5.5.1
/// and 7.4, with the IANA registry's codes).
fn close(payload: &[u8]) -> Outcome {
    match payload {
        [] => Outcome::Close(None, Vec::new()),
        [_] => Outcome::Failed(1002),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                Outcome::Failed(1002)
            } else if std::str::from_utf8(reason).is_err() {
                Outcome::Failed(1007)
            } else {
                Outcome::Close(Some(code), reason.to_vec())
            }
        }
    }
}
