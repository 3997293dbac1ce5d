//! WebSocket echo: every message goes back as it came, text or binary.

use crate::websocket::{Message, WsConn, WsHandler};
use crate::ShardContext;

/// The `ws-echo` service: sends every WebSocket message back, text as
/// text, binary as binary. Run it behind
/// [`WebSocket`](crate::websocket::WebSocket).
#[derive(Clone, Copy, Debug, Default)]
pub struct WsEcho;

impl WsHandler for WsEcho {
    type State = ();

    fn on_message(
        &mut self,
        _cx: &mut ShardContext<'_>,
        ws: &mut WsConn<'_, '_>,
        _state: &mut (),
        message: Message<'_>,
    ) {
        ws.send(message);
    }
}
