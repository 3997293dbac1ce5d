//! One client connection's WebSocket state: the opening handshake, the
//! decoder of the server's frames, and the masking keys of what it sends.
//! It owns no socket: the connection hands it bytes read and an output
//! buffer to append frames to.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::decode::{check_close, Decoder, FrameError, Piece};
use super::deflate::Codec;
use super::encode::{self, Opcode};
use super::handshake;
use super::Settings;

/// Largest message [`Link::messages`] assembles from fragments.
pub const MAX_ASSEMBLED: usize = 16 << 20;

/// Why [`Link::messages`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The server closed (the answering close frame is queued).
    Closed(Option<u16>),
    /// The server broke the protocol (a close 1002 is queued).
    Protocol(FrameError),
    /// A message over [`MAX_ASSEMBLED`] bytes (a close 1009 is queued).
    TooBig,
}

/// Where a link is in its connection's life.
#[derive(Debug)]
enum Phase {
    /// No handshake started on this socket yet.
    Idle,
    /// Upgrade request sent with `key`; the response so far.
    Upgrading { key: String, response: Vec<u8> },
    /// Frames flow.
    Open,
}

/// The WebSocket side of one client connection.
#[derive(Debug)]
pub struct Link {
    settings: Arc<Settings>,
    rng: SmallRng,
    phase: Phase,
    decoder: Decoder,
    /// Bytes that came after the handshake response in the same read.
    pending: Vec<u8>,
    /// A close frame was sent on this socket.
    close_sent: bool,
    /// [`Link::messages`]: a fragmented message so far.
    assembly: Vec<u8>,
    /// [`Link::frame_line`]: the line being framed.
    scratch: Vec<u8>,
    /// permessage-deflate, where the server agreed to it.
    codec: Option<Codec>,
    /// A compressed message so far, as it came.
    deflated: Vec<u8>,
    /// The last compressed message, inflated ([`Piece::Inflated`]).
    inflated: Vec<u8>,
}

impl Link {
    /// A link for a connection numbered `id` (its masking keys and
    /// handshake nonces come from a generator seeded by `id` and the run).
    pub fn new(settings: Arc<Settings>, id: u64) -> Self {
        let seed = settings.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Self {
            settings,
            rng: SmallRng::seed_from_u64(seed),
            phase: Phase::Idle,
            decoder: Decoder::new(),
            pending: Vec::new(),
            close_sent: false,
            assembly: Vec::new(),
            scratch: Vec::new(),
            codec: None,
            deflated: Vec::new(),
            inflated: Vec::new(),
        }
    }

    /// Forgets the socket: the next one starts with a handshake.
    pub fn reset(&mut self) {
        self.phase = Phase::Idle;
        self.decoder = Decoder::new();
        self.pending = Vec::new();
        self.close_sent = false;
        self.assembly = Vec::new();
        self.codec = None;
        self.deflated = Vec::new();
    }

    /// Whether the handshake is done.
    pub fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open)
    }

    /// Whether a handshake was started on this socket.
    pub fn started(&self) -> bool {
        !matches!(self.phase, Phase::Idle)
    }

    /// Appends the upgrade request to `out` for target server `target`
    /// (its `--addr` is the `Host` header).
    pub fn start(&mut self, out: &mut Vec<u8>, target: usize) {
        let key = handshake::key_for(self.rng.gen());
        let s = &self.settings;
        let host = s.hosts.get(target).map_or("localhost", String::as_str);
        handshake::write_request(out, host, &s.path, s.origin.as_deref(), &key, s.deflate);
        self.phase = Phase::Upgrading {
            key,
            response: Vec::new(),
        };
    }

    /// Takes bytes of the handshake response; `Ok(true)` once it is
    /// complete and right (what followed it is kept, see
    /// [`Link::take_pending`]).
    pub fn upgrade_bytes(&mut self, data: &[u8]) -> Result<bool, String> {
        let Phase::Upgrading { key, response } = &mut self.phase else {
            return Ok(self.is_open());
        };
        response.extend_from_slice(data);
        match handshake::check_response(response, key, self.settings.deflate)? {
            None => Ok(false),
            Some((header, agreed)) => {
                self.pending = response.split_off(header);
                self.phase = Phase::Open;
                if let Some(server_keeps) = agreed {
                    self.codec = Some(Codec::new(server_keeps));
                    self.decoder = Decoder::with_deflate();
                }
                Ok(true)
            }
        }
    }

    /// Frame bytes that arrived with the handshake response, if any.
    pub fn take_pending(&mut self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }

    /// Decodes the next piece from the front of `data` (see
    /// [`Decoder::next`]); close frames are checked. A compressed message
    /// is gathered and, once whole, inflated: it comes as one
    /// [`Piece::Inflated`], its bytes in [`Link::inflated`].
    pub fn next<'a>(&mut self, data: &mut &'a [u8]) -> Result<Option<Piece<'a>>, FrameError> {
        loop {
            let piece = self.decoder.next(data)?;
            match piece {
                Some(Piece::Close { code, reason }) => check_close(code, reason.as_slice())?,
                Some(Piece::Data {
                    bytes,
                    text,
                    end,
                    compressed: true,
                    ..
                }) => {
                    if self.deflated.len() + bytes.len() > MAX_ASSEMBLED {
                        return Err(FrameError::BadDeflate);
                    }
                    self.deflated.extend_from_slice(bytes);
                    if !end {
                        continue;
                    }
                    let codec = self.codec.as_mut().ok_or(FrameError::ReservedBits)?;
                    let inflated = codec.inflate(&self.deflated, MAX_ASSEMBLED, &mut self.inflated);
                    self.deflated.clear();
                    inflated.map_err(|_| FrameError::BadDeflate)?;
                    return Ok(Some(Piece::Inflated { text }));
                }
                _ => {}
            }
            return Ok(piece);
        }
    }

    /// The last compressed message, inflated (after [`Piece::Inflated`]).
    pub fn inflated(&self) -> &[u8] {
        &self.inflated
    }

    /// Takes the inflated message out, to check it while the link is in
    /// use; give its buffer back with [`Link::restore_inflated`].
    pub fn take_inflated(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.inflated)
    }

    /// Gives back the buffer [`Link::take_inflated`] took (its memory is
    /// reused).
    pub fn restore_inflated(&mut self, buffer: Vec<u8>) {
        self.inflated = buffer;
    }

    /// For modes that want whole messages (rather than checking payloads
    /// as they stream in, as the echo modes do): decodes `data`, calls
    /// `on_message(payload, text)` for every complete message (a slice of
    /// `data` when it came in one piece, else assembled), answers pings
    /// into `out`, and stops at a close or a protocol error, queueing the
    /// close frame to send.
    pub fn messages(
        &mut self,
        mut data: &[u8],
        out: &mut Vec<u8>,
        mut on_message: impl FnMut(&[u8], bool),
    ) -> Result<(), End> {
        loop {
            let piece = match self.next(&mut data) {
                Ok(Some(piece)) => piece,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.close(out, super::CLOSE_PROTOCOL_ERROR);
                    return Err(End::Protocol(e));
                }
            };
            match piece {
                Piece::Data {
                    bytes,
                    text,
                    offset,
                    end,
                    ..
                } => {
                    if offset == 0 && end {
                        on_message(bytes, text);
                        continue;
                    }
                    if self.assembly.len() + bytes.len() > MAX_ASSEMBLED {
                        self.close(out, super::CLOSE_TOO_BIG);
                        return Err(End::TooBig);
                    }
                    self.assembly.extend_from_slice(bytes);
                    if end {
                        on_message(&self.assembly, text);
                        self.assembly.clear();
                    }
                }
                Piece::Inflated { text } => on_message(&self.inflated, text),
                Piece::Ping(payload) => self.pong(out, payload.as_slice()),
                Piece::Pong(_) => {}
                Piece::Close { code, .. } => {
                    self.close(out, code.unwrap_or(super::CLOSE_NORMAL));
                    return Err(End::Closed(code));
                }
            }
        }
    }

    /// A fresh masking key.
    fn mask(&mut self) -> [u8; 4] {
        self.rng.gen()
    }

    /// Appends one message of `len` bytes, which `write` appends, as a
    /// masked text or binary frame (per `--ws-text`).
    pub fn message(&mut self, out: &mut Vec<u8>, len: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let opcode = if self.settings.text {
            Opcode::Text
        } else {
            Opcode::Binary
        };
        let mask = self.mask();
        if self.codec.is_some() {
            self.scratch.clear();
            write(&mut self.scratch);
            let payload = std::mem::take(&mut self.scratch);
            self.append_compressed(out, opcode, &payload);
            self.scratch = payload;
            return;
        }
        encode::append_frame(out, opcode, len, mask, write);
    }

    /// Appends `payload` as one masked frame, compressed (RSV1) where
    /// permessage-deflate was agreed.
    fn append_compressed(&mut self, out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
        let mask = self.mask();
        let start = out.len();
        let mut deflated = std::mem::take(&mut self.deflated);
        deflated.clear();
        match self
            .codec
            .as_mut()
            .map(|c| c.deflate(payload, &mut deflated))
        {
            Some(Ok(())) => {
                encode::append_bytes(out, opcode, &deflated, mask);
                out[start] |= 0x40;
            }
            _ => encode::append_bytes(out, opcode, payload, mask),
        }
        deflated.clear();
        self.deflated = deflated;
    }

    /// Turns the command line appended to `out` from `start` into one
    /// masked text message, its line end (`\n` or `\r\n`) dropped: the
    /// line protocols' commands over WebSocket, one per message.
    pub fn frame_line(&mut self, out: &mut Vec<u8>, start: usize) {
        self.scratch.clear();
        self.scratch.extend_from_slice(&out[start..]);
        out.truncate(start);
        let scratch = std::mem::take(&mut self.scratch);
        let line = scratch.strip_suffix(b"\n").unwrap_or(&scratch);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.codec.is_some() {
            self.append_compressed(out, Opcode::Text, line);
        } else {
            let mask = self.rng.gen();
            encode::append_bytes(out, Opcode::Text, line, mask);
        }
        self.scratch = scratch;
    }

    /// Appends the pong answering a ping with `payload`.
    pub fn pong(&mut self, out: &mut Vec<u8>, payload: &[u8]) {
        let mask = self.mask();
        encode::append_bytes(out, Opcode::Pong, payload, mask);
    }

    /// Appends a close frame with `code`, unless one was sent already;
    /// returns whether it appended one.
    pub fn close(&mut self, out: &mut Vec<u8>, code: u16) -> bool {
        if self.close_sent || !self.is_open() {
            return false;
        }
        self.close_sent = true;
        let mask = self.mask();
        encode::append_bytes(out, Opcode::Close, &code.to_be_bytes(), mask);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: bool) -> Arc<Settings> {
        Arc::new(Settings {
            text,
            path: "/".into(),
            origin: None,
            hosts: vec!["h:1".into()],
            seed: 7,
            deflate: false,
        })
    }

    /// Completes a handshake on `link` by answering its request.
    fn upgrade(link: &mut Link, after: &[u8]) {
        let mut request = Vec::new();
        link.start(&mut request, 0);
        let text = String::from_utf8(request).unwrap();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let mut response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            handshake::accept_for(key)
        )
        .into_bytes();
        response.extend_from_slice(after);
        let (a, b) = response.split_at(20);
        assert_eq!(link.upgrade_bytes(a), Ok(false));
        assert_eq!(link.upgrade_bytes(b), Ok(true));
    }

    #[test]
    fn handshake_keeps_what_follows_it() {
        let mut link = Link::new(settings(false), 1);
        assert!(!link.started());
        upgrade(&mut link, &[0x89, 0x00]);
        assert!(link.is_open());
        let pending = link.take_pending().unwrap();
        assert_eq!(pending, [0x89, 0x00]);
        assert!(link.take_pending().is_none());
        link.reset();
        assert!(!link.is_open() && !link.started());
    }

    #[test]
    fn messages_are_masked_with_fresh_keys() {
        let mut link = Link::new(settings(true), 1);
        upgrade(&mut link, &[]);
        let mut out = Vec::new();
        link.message(&mut out, 3, |o| o.extend_from_slice(b"abc"));
        link.message(&mut out, 3, |o| o.extend_from_slice(b"abc"));
        assert_eq!(out.len(), 2 * 9);
        assert_eq!(out[0], 0x81, "text");
        let (first, second) = out.split_at(9);
        assert_ne!(first[2..6], second[2..6], "a new key per frame");
        for frame in [first, second] {
            let mut payload = frame[6..].to_vec();
            encode::apply_mask(&mut payload, frame[2..6].try_into().unwrap());
            assert_eq!(payload, b"abc");
        }
    }

    /// A server frame (unmasked).
    fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::from(fin) << 7 | opcode, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn whole_messages_pings_and_close() {
        let mut link = Link::new(settings(true), 1);
        upgrade(&mut link, &[]);
        let mut stream = server_frame(true, 1, b"MSG a 1");
        stream.extend(server_frame(false, 1, b"MSG b"));
        stream.extend(server_frame(true, 9, b"hi"));
        stream.extend(server_frame(true, 0, b" 2"));
        stream.extend(server_frame(true, 8, &1000u16.to_be_bytes()));
        for step in [1, 3, stream.len()] {
            let mut link = Link::new(settings(true), 1);
            upgrade(&mut link, &[]);
            let mut got = Vec::new();
            let mut out = Vec::new();
            let mut end = Ok(());
            for chunk in stream.chunks(step) {
                end = link.messages(chunk, &mut out, |m, text| {
                    got.push((String::from_utf8_lossy(m).into_owned(), text))
                });
                if end.is_err() {
                    break;
                }
            }
            assert_eq!(end, Err(End::Closed(Some(1000))), "step {step}");
            let want = [("MSG a 1".to_string(), true), ("MSG b 2".to_string(), true)];
            assert_eq!(got, want, "step {step}");
            // A pong (2 + 4 + 2 bytes), then the answering close (2 + 4 + 2).
            assert_eq!(out.len(), 16, "step {step}");
            assert_eq!((out[0], out[8]), (0x8A, 0x88));
        }
        let mut out = Vec::new();
        let bad = server_frame(true, 3, b"");
        assert!(matches!(
            link.messages(&bad, &mut out, |_, _| {}),
            Err(End::Protocol(FrameError::BadOpcode(3)))
        ));
    }

    #[test]
    fn lines_become_text_messages() {
        let mut link = Link::new(settings(false), 1);
        upgrade(&mut link, &[]);
        let mut out = b"before".to_vec();
        out.extend_from_slice(b"PUB t hello\n");
        link.frame_line(&mut out, 6);
        assert_eq!(&out[..6], b"before");
        let frame = &out[6..];
        assert_eq!(
            (frame[0], frame[1]),
            (0x81, 0x80 | 11),
            "text, masked, no newline"
        );
        let mut payload = frame[6..].to_vec();
        encode::apply_mask(&mut payload, frame[2..6].try_into().unwrap());
        assert_eq!(payload, b"PUB t hello");
    }

    #[test]
    fn one_close_per_socket() {
        let mut link = Link::new(settings(false), 1);
        let mut out = Vec::new();
        assert!(!link.close(&mut out, 1000), "not before the handshake");
        upgrade(&mut link, &[]);
        assert!(link.close(&mut out, 1000));
        assert!(!link.close(&mut out, 1000));
        assert_eq!(out.len(), 8);
        assert_eq!(out[0], 0x88);
    }
}
