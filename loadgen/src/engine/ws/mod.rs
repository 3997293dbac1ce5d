//! WebSocket (RFC 6455) as loadgen's client transport (`--ws`): the
//! opening handshake ([`handshake`]), masked client frames ([`encode`]),
//! a streaming decoder of server frames ([`decode`]), and the state of one
//! connection ([`Link`]). Modes send and verify their messages as before;
//! over WebSocket each message is one frame, and the payload of each
//! message the server sends back is checked byte for byte. A mode that
//! wants whole messages instead (commands and deliveries, one per text
//! message) uses [`Link::messages`]; the handshake is the same for all:
//! [`Link::start`] once connected, then [`Link::upgrade_bytes`] with what
//! is read until it says done.
//!
//! Nothing here touches a socket: a connection appends frames to its
//! output buffer and hands the link the bytes it read.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::fault::Fault;

pub mod decode;
pub mod deflate;
pub mod encode;
pub mod handshake;
mod link;

pub use link::{End, Link, MAX_ASSEMBLED};

/// Close code loadgen sends when it ends a connection (§7.4.1: normal).
pub const CLOSE_NORMAL: u16 = 1000;

/// Close code loadgen sends when the server broke the protocol.
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;

/// Close code loadgen sends for a message too big to assemble.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// How every connection of a run speaks WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Send text messages (`--ws-text`), else binary.
    pub text: bool,
    /// Request path of the upgrade (`--ws-path`).
    pub path: String,
    /// `Origin` header to send (`--ws-origin`), if any.
    pub origin: Option<String>,
    /// `Host` header per target, in `--addr` order (as given).
    pub hosts: Vec<String>,
    /// Seed of the masking keys and handshake nonces.
    pub seed: u64,
    /// Offer permessage-deflate (`--ws-deflate`) and, where the server
    /// accepts, send every message compressed and inflate what it sends.
    pub deflate: bool,
}

impl Settings {
    /// `binary` or `text`: the kind of message sent.
    pub fn message_kind(&self) -> &'static str {
        if self.text {
            "text"
        } else {
            "binary"
        }
    }
}

/// Prints the first WebSocket failure of the run (handshake refused, bad
/// frame) with its reason; later ones are only counted.
pub fn warn_once(what: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!("loadgen: warning: WebSocket: {what} (further such errors are only counted)");
    }
}

/// Reads the handshake response of `link` from `stream` into `buf` until
/// the socket is drained (`Ok(false)`) or the handshake is done
/// (`Ok(true)`).
pub fn read_upgrade(
    link: &mut Link,
    stream: &mut impl std::io::Read,
    buf: &mut [u8],
) -> Result<bool, Fault> {
    use std::io::ErrorKind;
    loop {
        match stream.read(buf) {
            Ok(0) => return Err(Fault::Closed),
            Ok(n) => match link.upgrade_bytes(&buf[..n]) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(why) => {
                    warn_once(&why);
                    return Err(Fault::Handshake);
                }
            },
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Fault::Io(e)),
        }
    }
}
