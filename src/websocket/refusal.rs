//! The log line for a refused WebSocket handshake: the status, the reason
//! and the peer, rate-limited, so an operator sees why browsers or clients
//! are turned away without a flood of lines.

use std::time::Instant;

use crate::core::log_limit::RateLimit;
use crate::handler::conn::Conn;
use crate::websocket::handshake::Status;

/// Logs that `conn`'s handshake was refused with `status` for `reason`,
/// at most once per interval of `limit` (saying how many were held back).
/// The peer is the socket's: behind the PROXY protocol, the proxy's.
pub(crate) fn log_refused(
    limit: &mut RateLimit,
    now: Instant,
    conn: &Conn<'_>,
    status: Status,
    reason: &str,
) {
    let Some(suppressed) = limit.allow(now) else {
        return;
    };
    let peer = conn
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |addr| addr.to_string());
    tracing::warn!(
        id = %conn.id(),
        %peer,
        status = status.line(),
        reason,
        suppressed,
        "WebSocket handshake refused"
    );
}
