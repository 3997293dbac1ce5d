//! The buffers a TLS session borrows while bytes are in flight: one pair
//! per shard thread, so an idle session owns none.
//!
//! Thread-local rather than passed in: a shard is one thread, the
//! [`Transport`](crate::net::transport::Transport) calls it makes carry
//! no shard, and a session never calls back into another while it holds
//! them.

use std::cell::RefCell;

/// One thread's buffers.
#[derive(Default)]
pub(super) struct Scratch {
    /// Ciphertext: what a session kept from before, then what one read
    /// brought; decrypted in place.
    pub(super) incoming: Vec<u8>,
    /// Ciphertext to send: handshake flights, alerts, encrypted output.
    pub(super) outgoing: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch { incoming: Vec::new(), outgoing: Vec::new() })
    };
}

/// Runs `f` with this thread's buffers (empty `outgoing`). Not
/// re-entrant: `f` must not call it again (a session's inner transport
/// is a socket or a pipe, never another TLS session).
pub(super) fn with<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        scratch.outgoing.clear();
        f(&mut scratch)
    })
}
