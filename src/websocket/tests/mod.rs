//! Unit tests of the WebSocket layer's pure parts.

mod frame;
mod handshake;
mod message;
