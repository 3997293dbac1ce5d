//! The callback running on one shard, as its client's methods see it:
//! which client it is for, the input the original API's `recv` takes
//! from, and what the callback asked (replies, a close, subscriptions,
//! timers, publishes), applied by the shard once the callback returns.
//!
//! One per shard, shared by the shard's clients (none of them carries
//! buffers of its own), so an idle client costs no buffer memory.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use esockets::{ConnId, ServerHandle};

/// What a callback asked that only the shard can do, in the order asked.
pub(crate) enum Request {
    /// `client.subscribe(topic)`.
    Subscribe(Vec<u8>),
    /// `client.unsubscribe(topic)`.
    Unsubscribe(Vec<u8>),
    /// `client.set_timer(seconds, tag)`.
    Timer(Duration, u64),
    /// `client.publish(topic, data)` or the handle's, during a callback.
    Publish(Vec<u8>, Bytes),
}

/// The running callback's exchange with its client's methods.
#[derive(Default)]
pub(crate) struct Current {
    /// The client whose callback runs; `None` between callbacks.
    pub(crate) id: Option<ConnId>,
    /// The bytes `recv` takes from (the original API's callbacks).
    pub(crate) input: Vec<u8>,
    /// How much of `input` `recv` took.
    pub(crate) taken: usize,
    /// Replies queued by `sendall`, written when the callback returns.
    pub(crate) output: Vec<u8>,
    /// `close()` was called.
    pub(crate) close: bool,
    /// The rest of what the callback asked.
    pub(crate) requests: Vec<Request>,
}

/// One shard's part shared with its clients' Python objects (which any
/// Python thread may hold).
pub(crate) struct Shared {
    /// For sends, closes and publishes from outside the client's callback.
    pub(crate) handle: ServerHandle,
    /// The running callback.
    current: Mutex<Current>,
}

impl Shared {
    /// The shard's part, for the server behind `handle`.
    pub(crate) fn new(handle: ServerHandle) -> Self {
        Self {
            handle,
            current: Mutex::default(),
        }
    }

    /// Locks the running callback's exchange (a poisoned lock still
    /// holds valid bytes). Never held while taking the interpreter lock.
    pub(crate) fn current(&self) -> MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The exchange if client `id`'s callback is the one running.
    pub(crate) fn current_of(&self, id: ConnId) -> Option<MutexGuard<'_, Current>> {
        let current = self.current();
        (current.id == Some(id)).then_some(current)
    }
}
