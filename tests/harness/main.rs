//! Tests on `esockets::testing`: the per-client logic of the shard
//! (input carried between reads, replies and their queue, backpressure,
//! closes and their reasons, timers, the idle timeout, deferred requests,
//! pub/sub framing, the WebSocket layer), driven in memory with a clock
//! that moves only when a test says. No socket, no sleep: each test is
//! exact where a loopback test could only bound.
//!
//! What the kernel does (sockets, limits, restarts, many clients at once)
//! stays in `tests/server/` and the binary's tests.

mod closes;
mod deflate;
mod flow;
mod line_echo;
mod pubsub;
mod pubsub_auth;
mod recorder;
mod timers;
mod websocket;
