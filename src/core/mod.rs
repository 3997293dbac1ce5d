//! The client core: everything about a shard's clients that needs no
//! socket and no other thread. A client's buffers, phase and output queue
//! (`client.rs`, `outqueue.rs`), the slot table (`slots.rs`), the timer
//! wheel (`wheel.rs`), subscriptions (`topics.rs`), the clock, timers and
//! deferred requests a callback sees through its context (`context.rs`),
//! the log-line limits (`log_limit.rs`), and writing with its
//! backpressure (`write.rs`).
//!
//! Bytes come and go through [`Stream`](crate::net::transport::Stream),
//! the one seam between a client and whatever carries its bytes (a kernel
//! socket, an in-memory pipe in tests, later a TLS session over either).

pub(crate) mod client;
pub(crate) mod context;
pub(crate) mod log_limit;
pub(crate) mod outqueue;
pub(crate) mod slots;
pub(crate) mod topics;
pub(crate) mod wheel;
pub(crate) mod write;
