//! Why a connection died, in every mode: one [`Fault`], counted as the
//! [`Cause`] it stands for.

use std::io;

use crate::engine::errors::{classify, Cause};

/// Why a connection died.
#[derive(Debug)]
pub enum Fault {
    /// The peer closed it.
    Closed,
    /// Echoed bytes differed from what was sent.
    Mismatch,
    /// A socket error.
    Io(io::Error),
    /// WebSocket: the server refused the upgrade or answered it wrongly.
    Handshake,
    /// WebSocket: the server sent a frame a client must refuse.
    Protocol,
}

impl Fault {
    /// The error cause this fault counts as.
    pub fn cause(&self) -> Cause {
        match self {
            Fault::Closed => Cause::Closed,
            Fault::Mismatch => Cause::Mismatch,
            Fault::Handshake => Cause::Handshake,
            Fault::Protocol => Cause::Protocol,
            Fault::Io(e) => match classify(e) {
                Cause::ConnectTimeout => Cause::Other,
                c => c,
            },
        }
    }
}
