//! Unit tests of the WebSocket layer's pure parts.

mod deflate;
mod frame;
mod handshake;
mod message;
