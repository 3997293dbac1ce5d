//! The buffers a TLS session borrows while bytes are in flight: one pair
//! per shard thread, so an idle session owns none.
//!
//! Thread-local rather than passed in: a shard is one thread, the
//! [`Transport`](crate::net::transport::Transport) calls it makes carry
//! no shard, and a session never calls back into another while it holds
//! them. Both are allocated (and zeroed) once per thread, at their full
//! size, and never shrink: filling them costs no `memset` per call.

use std::cell::RefCell;

/// Most ciphertext a session keeps unprocessed: a handshake message may
/// span records up to 64 KiB (a client's certificate chain); past that
/// the peer is broken or hostile.
pub(super) const MAX_RECEIVED: usize = 72 * 1024;

/// Ciphertext read from the inner transport per call.
pub(super) const READ_CHUNK: usize = 32 * 1024;

/// Most plaintext encrypted per write: about what a socket takes at once.
pub(super) const MAX_WRITE: usize = 64 * 1024;

/// Room for what one call produces: `MAX_WRITE` in records (each 22 bytes
/// more than its plaintext), or a handshake flight.
const OUTGOING: usize = MAX_WRITE + 4 * 1024;

/// One thread's buffers.
pub(super) struct Scratch {
    /// Ciphertext: what a session kept from before, then what one read
    /// brought; decrypted in place. Always `MAX_RECEIVED + READ_CHUNK`
    /// long.
    pub(super) incoming: Vec<u8>,
    /// Ciphertext to send: handshake flights, alerts, encrypted output.
    pub(super) outgoing: Outgoing,
}

/// Ciphertext being produced: `buf[..len]`.
pub(super) struct Outgoing {
    /// The room, never shorter than `OUTGOING`.
    buf: Vec<u8>,
    /// How much of it is produced.
    len: usize,
}

impl Outgoing {
    /// What is produced.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends what `fill` writes into the room it is given, making room
    /// for what `fill` says it requires when that is more.
    ///
    /// # Errors
    ///
    /// What `fill` returns, or a general error when it asks for less room
    /// than it had.
    pub(super) fn fill(
        &mut self,
        mut fill: impl FnMut(&mut [u8]) -> Result<Result<usize, usize>, rustls::Error>,
    ) -> Result<(), rustls::Error> {
        loop {
            let room = self.buf.len() - self.len;
            match fill(&mut self.buf[self.len..])? {
                Ok(n) => {
                    self.len += n;
                    return Ok(());
                }
                Err(required) if required > room => self.buf.resize(self.len + required, 0),
                Err(_) => return Err(rustls::Error::General("TLS buffer sizing".into())),
            }
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's buffers (`outgoing` empty). Not
/// re-entrant: `f` must not call it again (a session's inner transport
/// is a socket or an in-memory one, never another TLS session).
pub(super) fn with<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        let scratch = slot.get_or_insert_with(|| Scratch {
            incoming: vec![0; MAX_RECEIVED + READ_CHUNK],
            outgoing: Outgoing {
                buf: vec![0; OUTGOING],
                len: 0,
            },
        });
        scratch.outgoing.len = 0;
        f(scratch)
    })
}
