//! A server session fed from memory, for fuzzing: what a hostile client
//! can make of the code that drives rustls (the state machine's loop,
//! the buffers it keeps, the alerts), with nothing but bytes.

use std::io::{self, ErrorKind};

use super::session::{Handshake, TlsSession};
use super::Tls;
use crate::net::transport::Transport;

/// What feeding a session did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Bytes the session wrote back (handshake flights, alerts, echoes).
    pub answered: usize,
    /// The handshake finished.
    pub handshake_done: bool,
    /// The session broke the connection (a protocol error).
    pub refused: bool,
    /// Most bytes the session held of its own at any time.
    pub most_held: usize,
}

/// The client side, in memory: what is left to deliver, what came back.
struct Memory {
    /// Pieces to deliver, one per read.
    pieces: Vec<Vec<u8>>,
    /// Bytes written back.
    answered: usize,
}

impl Transport for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(piece) = self.pieces.first_mut() else {
            return Err(ErrorKind::WouldBlock.into());
        };
        let n = piece.len().min(buf.len());
        buf[..n].copy_from_slice(&piece[..n]);
        piece.drain(..n);
        if piece.is_empty() {
            self.pieces.remove(0);
        }
        if n == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.answered += data.len();
        Ok(data.len())
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn unacknowledged(&self) -> io::Result<usize> {
        Ok(0)
    }
}

/// Feeds `pieces` (one per read) to a new server session of `tls`, as a
/// shard would: handshake steps until it is done, then reads (and echoes
/// what it reads) until the input is spent or the session refuses it.
pub fn feed(tls: &Tls, pieces: Vec<Vec<u8>>) -> Fed {
    let reads = pieces.len() + 1;
    let inner = Memory {
        pieces,
        answered: 0,
    };
    let Ok(mut session) = TlsSession::new(tls.current(), inner, Vec::new()) else {
        return Fed::default();
    };
    let mut fed = Fed::default();
    let mut buf = [0u8; 4096];
    for _ in 0..reads {
        let step = if fed.handshake_done {
            match session.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => session.write(&buf[..n]).map(drop),
                Err(err) if err.kind() == ErrorKind::WouldBlock => Ok(()),
                Err(err) => Err(err),
            }
        } else {
            session
                .handshake()
                .map(|h| fed.handshake_done = h == Handshake::Done)
        };
        fed.most_held = fed.most_held.max(session.held_bytes());
        if step.is_err() {
            fed.refused = true;
            break;
        }
    }
    fed.answered = session.inner().answered;
    fed
}
