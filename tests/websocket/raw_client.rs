//! A hand-driven WebSocket client for tests: sends exactly the bytes it
//! is told to, answers nothing on its own.

#![allow(dead_code)] // each test file uses a different part

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use esockets::websocket::{accept_key, masked_frame, parse_frame, Opcode, Parsed, Role};

/// Read and write timeout of the client's socket.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A hand-driven WebSocket client: sends exactly the bytes it is told to,
/// answers nothing on its own.
pub struct RawClient {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read and not yet parsed.
    input: Vec<u8>,
}

/// The handshake request for the RFC's sample key.
pub const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                       Sec-WebSocket-Version: 13\r\n\r\n";

impl RawClient {
    /// Connects and completes the handshake.
    pub fn open(addr: SocketAddr) -> Self {
        let mut raw = Self::upgrade(addr, UPGRADE);
        let head = raw.http_head();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        let accept = accept_key("dGhlIHNhbXBsZSBub25jZQ==");
        assert!(
            head.contains(&format!("Sec-WebSocket-Accept: {accept}\r\n")),
            "{head}"
        );
        raw
    }

    /// Connects and sends `request`; the response is left to read.
    pub fn upgrade(addr: SocketAddr, request: &str) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let mut raw = Self {
            stream,
            input: Vec::new(),
        };
        raw.stream
            .write_all(request.as_bytes())
            .expect("send upgrade");
        raw
    }

    /// Reads an HTTP response head (up to the blank line).
    pub fn http_head(&mut self) -> String {
        loop {
            if let Some(end) = self.input.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.input[..end + 4]).into_owned();
                self.input.drain(..end + 4);
                return head;
            }
            assert!(self.fill(), "closed before the response: {:?}", self.input);
        }
    }

    /// Reads more input; false at end of stream.
    pub fn fill(&mut self) -> bool {
        let mut buf = [0u8; 8192];
        match self.stream.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.input.extend_from_slice(&buf[..n]);
                true
            }
            Err(err) if err.kind() == ErrorKind::ConnectionReset => false,
            Err(err) => panic!("read: {err}"),
        }
    }

    /// Sends one masked frame.
    pub fn send(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) {
        let frame = masked_frame(fin, opcode, payload, [0x12, 0x34, 0x56, 0x78]);
        self.stream.write_all(&frame).expect("send frame");
    }

    /// The next frame from the server: its opcode and payload.
    pub fn frame(&mut self) -> (Opcode, Vec<u8>) {
        loop {
            match parse_frame(&self.input, Role::Client, 1 << 24) {
                Parsed::Frame(frame) => {
                    let got = (frame.opcode, frame.payload.to_vec());
                    let len = frame.len;
                    self.input.drain(..len);
                    return got;
                }
                Parsed::Incomplete { .. } => {
                    assert!(self.fill(), "closed before a whole frame: {:?}", self.input)
                }
                Parsed::Error(err) => panic!("the server sent a bad frame: {err}"),
            }
        }
    }

    /// Sends a text message in one frame.
    pub fn send_text(&mut self, text: &str) {
        self.send(true, Opcode::Text, text.as_bytes());
    }

    /// Sends a close frame with `code`.
    pub fn send_close(&mut self, code: u16) {
        self.send(true, Opcode::Close, &code.to_be_bytes());
    }

    /// The next frame, which must be a text message.
    pub fn text(&mut self) -> String {
        let (opcode, payload) = self.frame();
        assert_eq!(opcode, Opcode::Text, "payload {payload:?}");
        String::from_utf8(payload).expect("text is UTF-8")
    }

    /// The next frame, which must be a close frame with a code: the code
    /// and the reason.
    pub fn close_frame(&mut self) -> (u16, String) {
        let (opcode, payload) = self.frame();
        assert_eq!(opcode, Opcode::Close, "payload {payload:?}");
        assert!(payload.len() >= 2, "close frame without a code");
        let code = u16::from_be_bytes([payload[0], payload[1]]);
        let reason = String::from_utf8(payload[2..].to_vec()).expect("reason is UTF-8");
        (code, reason)
    }

    /// Expects nothing to arrive, not even the end of the stream, for
    /// `quiet` (the server is waiting for us).
    pub fn expect_open_for(&mut self, quiet: Duration) {
        self.stream.set_read_timeout(Some(quiet)).expect("timeout");
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Ok(0) => panic!("the server closed the connection"),
            other => panic!("expected silence, got {other:?}"),
        }
        self.stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("timeout");
    }

    /// Expects a close frame with `code`, then the end of the stream.
    pub fn expect_close(&mut self, code: u16) {
        let (opcode, payload) = self.frame();
        assert_eq!(opcode, Opcode::Close, "payload {payload:?}");
        assert_eq!(
            payload[..2],
            code.to_be_bytes(),
            "reason {:?}",
            String::from_utf8_lossy(&payload[2..])
        );
        self.expect_end();
    }

    /// Expects the server to close the connection (nothing more arrives).
    pub fn expect_end(&mut self) {
        let had = self.input.len();
        while self.fill() {}
        assert_eq!(
            self.input.len(),
            had,
            "bytes after the close: {:?}",
            &self.input[had..]
        );
    }
}
