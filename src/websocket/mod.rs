//! WebSocket (RFC 6455) on the sharded reactor.
//!
//! A service written against [`WsHandler`] sees whole messages, text or
//! binary; [`WebSocket`] runs it as an esockets [`Handler`](crate::Handler):
//! the HTTP/1.1 upgrade (key, version 13, `Origin` allow-list,
//! subprotocols, a deadline), frames (masking required from clients),
//! permessage-deflate when configured ([`DeflateConfig`]), fragmented
//! messages with control frames between fragments, UTF-8 checked fragment
//! by fragment, size limits (close code 1009), pings
//! to idle clients and a close for those that do not answer, and the
//! closing handshake both ways. A plain `GET /` gets a built-in page.
//!
//! The parts are pure code usable on their own: [`parse_frame`] (never
//! allocates; lengths are checked against the limit before the payload is
//! waited for), [`Assembler`], [`parse_request`] and the frame builders.
//! A message for many clients is framed once ([`text_frame`]) and the
//! shared buffer queued for each (`cx.send(id, frame.clone())`).

mod build;
mod close;
mod config;
mod conn;
mod deflate;
mod frame;
mod handshake;
mod layer;
mod link;
mod message;
mod refusal;
mod service;

pub use build::{
    apply_mask, binary_frame, encode_header, frame, frame_of_parts, masked_frame, text_frame,
    unmask_into, write_close, write_frame,
};
pub use close::{
    is_valid_close_code, parse_close, CloseCode, CloseFrame, ProtocolError, GOING_AWAY,
    INTERNAL_ERROR, INVALID_PAYLOAD, MESSAGE_TOO_BIG, NORMAL, POLICY_VIOLATION, PROTOCOL_ERROR,
    UNSUPPORTED_DATA,
};
pub use config::{WsConfig, ECHO_PAGE};
pub use conn::WsConn;
pub use deflate::{
    negotiate_deflate, Agreed, Contexts, DeflateConfig, Deflater, Inflater, Lent, ShardDeflate,
    MAX_WINDOW_BITS, MIN_WINDOW_BITS,
};
pub use frame::{
    parse_deflated_frame, parse_frame, Frame, Opcode, Parsed, Role, MAX_CONTROL_PAYLOAD, MAX_HEADER,
};
pub use handshake::{
    accept_key, accept_response, page_response, parse_request, reject_response, Handshake, Status,
};
pub use layer::WebSocket;
pub use link::{Link, WsState};
pub use message::{valid_prefix, Assembler, Event, Inflate, Message};
pub use service::{Closed, OpenRequest, WsHandler};

#[cfg(test)]
mod tests;
