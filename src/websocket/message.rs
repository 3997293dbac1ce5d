//! Message assembly (RFC 6455 section 5.4): fragments joined into whole
//! messages, control frames let through between them, text checked as
//! UTF-8 fragment by fragment (an invalid byte fails the connection as
//! soon as its fragment arrives, not at the end of the message).

use crate::websocket::build::unmask_into;
use crate::websocket::close::{parse_close, CloseFrame, MESSAGE_TOO_BIG, PROTOCOL_ERROR};
use crate::websocket::close::{ProtocolError, INVALID_UTF8};
use crate::websocket::frame::{Frame, Opcode};

/// A whole data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message: valid UTF-8.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl<'a> Message<'a> {
    /// The message's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(data) => data,
        }
    }
}

/// What one frame amounts to, once assembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A message is complete.
    Message(Message<'a>),
    /// A ping with this payload (to be answered by a pong).
    Ping(&'a [u8]),
    /// A pong with this payload.
    Pong(&'a [u8]),
    /// The peer began or answered the closing handshake.
    Close(CloseFrame<'a>),
}

/// The kind of the message whose fragments are arriving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// Inflates compressed messages for [`Assembler::push_deflated`]
/// (permessage-deflate).
pub trait Inflate {
    /// Inflates a whole message's payload, `compressed` (masked with
    /// `mask` if there is one), into `out`, which must not grow past
    /// `limit + 1` bytes.
    ///
    /// # Errors
    ///
    /// 1009 for a message that inflates past `limit`, 1007 for bytes that
    /// are not a deflate stream.
    fn inflate(
        &mut self,
        compressed: &[u8],
        mask: Option<[u8; 4]>,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError>;
}

/// One connection's message in progress: empty (no allocation) between
/// fragmented messages.
#[derive(Debug, Default)]
pub struct Assembler {
    /// The kind of the fragmented message in progress, if any.
    kind: Option<Kind>,
    /// The message in progress is compressed: its fragments are joined
    /// as they are and inflated when the last arrives.
    compressed: bool,
    /// Its unmasked fragments so far.
    buffer: Vec<u8>,
    /// Bytes at the front of `buffer` known to be whole, valid UTF-8.
    valid: usize,
}

impl Assembler {
    /// Whether a fragmented message is in progress.
    pub fn in_progress(&self) -> bool {
        self.kind.is_some()
    }

    /// Bytes of the message in progress held so far.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Takes one frame (as [`parse_frame`](crate::websocket::parse_frame)
    /// returned it, so its payload is within the frame limit) and says what
    /// it completes, if anything. Single-frame messages and control
    /// payloads are unmasked into `scratch` (the caller's buffer, shared by
    /// many connections), fragments into this assembler; messages of more
    /// than `max_message` bytes in all are refused.
    ///
    /// # Errors
    ///
    /// The protocol error to close the connection with: 1002 for a
    /// continuation with no message, or a new message before the last one
    /// ended, or a bad close frame; 1007 for text that is not UTF-8; 1009
    /// for a message over `max_message`.
    pub fn push<'a>(
        &'a mut self,
        frame: &Frame<'_>,
        max_message: usize,
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<Event<'a>>, ProtocolError> {
        self.take(frame, max_message, scratch, None)
    }

    /// [`push`](Self::push) on a connection that negotiated
    /// permessage-deflate: a compressed message ([`Frame::compressed`] on
    /// its first frame) is inflated by `inflater` into `scratch` once
    /// whole, at most `max_message` bytes, then checked as UTF-8 if it is
    /// text. Its fragments are held compressed (at most `max_message`
    /// bytes of them) and the connection holds nothing once it ends.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push), and 1009 for a message that inflates past
    /// `max_message`, 1007 for one that is not a deflate stream.
    pub fn push_deflated<'a>(
        &'a mut self,
        frame: &Frame<'_>,
        max_message: usize,
        scratch: &'a mut Vec<u8>,
        inflater: &mut dyn Inflate,
    ) -> Result<Option<Event<'a>>, ProtocolError> {
        self.take(frame, max_message, scratch, Some(inflater))
    }

    /// Both: `inflater` is the one compressed messages need.
    fn take<'a>(
        &'a mut self,
        frame: &Frame<'_>,
        max_message: usize,
        scratch: &'a mut Vec<u8>,
        inflater: Option<&mut dyn Inflate>,
    ) -> Result<Option<Event<'a>>, ProtocolError> {
        let kind = match frame.opcode {
            Opcode::Ping | Opcode::Pong | Opcode::Close => {
                scratch.clear();
                unmask_into(scratch, frame.payload, frame.mask);
                return Ok(Some(match frame.opcode {
                    Opcode::Ping => Event::Ping(scratch),
                    Opcode::Pong => Event::Pong(scratch),
                    _ => Event::Close(parse_close(scratch)?),
                }));
            }
            Opcode::Text => Kind::Text,
            Opcode::Binary => Kind::Binary,
            Opcode::Continuation => {
                return self.continuation(frame, max_message, scratch, inflater)
            }
        };
        if self.kind.is_some() {
            return Err(ProtocolError::new(
                PROTOCOL_ERROR,
                "new message before the fragmented one ended",
            ));
        }
        if frame.payload.len() > max_message {
            return Err(too_big());
        }
        if frame.compressed && inflater.is_none() {
            return Err(ProtocolError::new(
                PROTOCOL_ERROR,
                "compressed frame without permessage-deflate",
            ));
        }
        if frame.fin {
            match inflater {
                Some(inflater) if frame.compressed => {
                    inflater.inflate(frame.payload, frame.mask, max_message, scratch)?;
                }
                _ => {
                    scratch.clear();
                    unmask_into(scratch, frame.payload, frame.mask);
                }
            }
            return whole(kind, scratch).map(Some);
        }
        self.kind = Some(kind);
        self.compressed = frame.compressed;
        self.buffer.clear();
        self.valid = 0;
        self.append(frame, max_message)?;
        Ok(None)
    }

    /// A continuation frame: appended; the message delivered on the last.
    fn continuation<'a>(
        &'a mut self,
        frame: &Frame<'_>,
        max_message: usize,
        scratch: &'a mut Vec<u8>,
        inflater: Option<&mut dyn Inflate>,
    ) -> Result<Option<Event<'a>>, ProtocolError> {
        let Some(kind) = self.kind else {
            return Err(ProtocolError::new(
                PROTOCOL_ERROR,
                "continuation frame with no message to continue",
            ));
        };
        if frame.payload.len() > max_message.saturating_sub(self.buffer.len()) {
            return Err(too_big());
        }
        self.append(frame, max_message)?;
        if !frame.fin {
            return Ok(None);
        }
        if kind == Kind::Text && !self.compressed && self.valid != self.buffer.len() {
            return Err(INVALID_UTF8); // ends inside a character
        }
        self.kind = None;
        match inflater {
            Some(inflater) if std::mem::take(&mut self.compressed) => {
                // Inflated into the shared buffer; the connection's
                // compressed fragments are freed.
                let compressed = std::mem::take(&mut self.buffer);
                inflater.inflate(&compressed, None, max_message, scratch)?;
            }
            // The finished message moves to the shared buffer, so this
            // connection holds no memory between messages.
            _ => *scratch = std::mem::take(&mut self.buffer),
        }
        whole(kind, scratch).map(Some)
    }

    /// Unmasks a fragment onto the message and checks the text so far.
    /// The buffer grows by doubling, but never past `max_message` (the
    /// caller checked the fragment fits).
    fn append(&mut self, frame: &Frame<'_>, max_message: usize) -> Result<(), ProtocolError> {
        let needed = self.buffer.len() + frame.payload.len();
        if needed > self.buffer.capacity() {
            let target = needed.max(max_message.min(self.buffer.capacity() * 2));
            self.buffer.reserve_exact(target - self.buffer.len());
        }
        unmask_into(&mut self.buffer, frame.payload, frame.mask);
        if self.kind == Some(Kind::Text) && !self.compressed {
            self.valid = valid_prefix(&self.buffer, self.valid)?;
        }
        Ok(())
    }
}

/// The length of the longest prefix of `text` that is whole UTF-8, given
/// that the first `from` bytes are. A character cut at the end is not an
/// error (its next bytes may come in the next fragment); an invalid byte
/// is.
pub fn valid_prefix(text: &[u8], from: usize) -> Result<usize, ProtocolError> {
    match std::str::from_utf8(&text[from..]) {
        Ok(_) => Ok(text.len()),
        Err(err) if err.error_len().is_none() => Ok(from + err.valid_up_to()),
        Err(_) => Err(INVALID_UTF8),
    }
}

/// A complete message of `kind` in `data`.
fn whole(kind: Kind, data: &[u8]) -> Result<Event<'_>, ProtocolError> {
    Ok(Event::Message(match kind {
        Kind::Binary => Message::Binary(data),
        Kind::Text => Message::Text(std::str::from_utf8(data).map_err(|_| INVALID_UTF8)?),
    }))
}

/// The error for a message over the limit.
fn too_big() -> ProtocolError {
    ProtocolError::new(MESSAGE_TOO_BIG, "message larger than the limit")
}
