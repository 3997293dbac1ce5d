//! The PROXY protocol (versions 1 and 2), as HAProxy and most load
//! balancers send it: a header in front of a connection that tells the
//! server the client's real address.
//!
//! [`parse`] is pure: bytes in, a [`Parse`] out, never reading past the
//! header. The server uses it when
//! [`Config::proxy_protocol`](crate::Config::proxy_protocol) is on, and a
//! handler sees the result through [`Conn::proxy`](crate::Conn::proxy) in
//! `on_connect`.

mod header;

use std::net::SocketAddr;

pub use header::{parse, Addresses, Command, Header, Invalid, Parse, Version, V1_MAX_LEN};

/// How a connection reached the server through a proxy: what
/// [`Conn::proxy`](crate::Conn::proxy) shows in `on_connect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyInfo {
    /// The proxy's own address: the TCP peer of the connection.
    pub proxy: SocketAddr,
    /// The header it sent.
    pub header: Header,
}

impl ProxyInfo {
    /// The address `on_connect` is given as `peer`: the client's, when the
    /// header carries one, else (LOCAL, UNKNOWN, an unsupported family)
    /// the proxy's own.
    pub fn client(&self) -> SocketAddr {
        self.header
            .addresses
            .map_or(self.proxy, |addresses| addresses.source)
    }
}
