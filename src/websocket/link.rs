//! The layer's record of one WebSocket connection: its phase, ping
//! bookkeeping and close code, beside the handler's state.

use crate::websocket::close::CloseCode;
use crate::websocket::deflate::{Agreed, Contexts};
use crate::websocket::message::Assembler;

/// Where a connection is in its life as a WebSocket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the upgrade request.
    #[default]
    Handshake,
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the client's.
    Closing,
    /// The closing handshake is over (or the connection failed); the TCP
    /// connection is closing.
    Closed,
}

/// The layer's record of one connection, less its message in progress.
#[derive(Debug, Default)]
pub struct Link {
    /// Where the connection is.
    pub(crate) phase: Phase,
    /// Something arrived since the last idle check.
    pub(crate) heard: bool,
    /// A ping went out at the last idle check and nothing came since.
    pub(crate) pinged: bool,
    /// A close frame was just sent: the close deadline is still to set.
    pub(crate) close_sent: bool,
    /// The close code of the closing handshake (see [`Closed::code`]).
    pub(crate) code: Option<CloseCode>,
    /// Index of the chosen subprotocol in [`WsConfig::protocols`].
    pub(crate) protocol: Option<u8>,
    /// permessage-deflate, if it was negotiated.
    pub(crate) deflate: Option<Agreed>,
    /// The connection's own deflate contexts: only under context
    /// takeover (otherwise the shard's are lent, and this stays `None`).
    pub(crate) contexts: Option<Box<Contexts>>,
}

/// Per-connection state of a [`WebSocket`] service: the layer's part and
/// the [`WsHandler`]'s.
#[derive(Debug, Default)]
pub struct WsState<S> {
    /// Phase, ping bookkeeping, close code.
    pub(crate) link: Link,
    /// The fragmented message in progress (empty between messages).
    pub(crate) assembler: Assembler,
    /// The handler's own state.
    pub(crate) user: S,
}

impl<S> WsState<S> {
    /// The handler's state.
    pub fn user(&self) -> &S {
        &self.user
    }
}
