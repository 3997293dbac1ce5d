//! Errors by cause, and how an I/O error maps to a cause.

use std::io;

use serde::Serialize;

/// What went wrong, one counter per cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Errors {
    /// Echoed bytes differing from what was sent (or data nobody asked for).
    pub mismatch: u64,
    /// The server closed a connection that should have stayed open.
    pub closed: u64,
    /// A connection was reset.
    pub reset: u64,
    /// A connect was refused.
    pub refused: u64,
    /// A connect did not finish within `--connect-timeout`.
    pub connect_timeout: u64,
    /// Messages never answered on a connection that died.
    pub lost: u64,
    /// Messages never answered on a connection still open at the end
    /// (after the drain): the server swallowed them. Always a failure,
    /// `--reconnect` or not.
    pub unanswered: u64,
    /// A connect failed with `EADDRNOTAVAIL`: no local port left for the
    /// destination (add `--source` addresses).
    pub addr_not_available: u64,
    /// WebSocket: the server refused the upgrade or answered it wrongly.
    pub handshake: u64,
    /// WebSocket: the server sent a frame a client must refuse (masked,
    /// reserved bits, bad opcode or close code, ...).
    pub protocol: u64,
    /// Anything else (too many files, ...).
    pub other: u64,
    /// Sum of the above.
    pub total: u64,
}

/// One cause of [`Errors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// See [`Errors::mismatch`].
    Mismatch,
    /// See [`Errors::closed`].
    Closed,
    /// See [`Errors::reset`].
    Reset,
    /// See [`Errors::refused`].
    Refused,
    /// See [`Errors::connect_timeout`].
    ConnectTimeout,
    /// See [`Errors::lost`].
    Lost,
    /// See [`Errors::unanswered`].
    Unanswered,
    /// See [`Errors::addr_not_available`].
    AddrNotAvailable,
    /// See [`Errors::handshake`].
    Handshake,
    /// See [`Errors::protocol`].
    Protocol,
    /// See [`Errors::other`].
    Other,
}

impl Errors {
    /// Counts `n` errors of `cause`.
    pub fn add(&mut self, cause: Cause, n: u64) {
        let slot = match cause {
            Cause::Mismatch => &mut self.mismatch,
            Cause::Closed => &mut self.closed,
            Cause::Reset => &mut self.reset,
            Cause::Refused => &mut self.refused,
            Cause::ConnectTimeout => &mut self.connect_timeout,
            Cause::Lost => &mut self.lost,
            Cause::Unanswered => &mut self.unanswered,
            Cause::AddrNotAvailable => &mut self.addr_not_available,
            Cause::Handshake => &mut self.handshake,
            Cause::Protocol => &mut self.protocol,
            Cause::Other => &mut self.other,
        };
        *slot += n;
        self.total += n;
    }

    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &Errors) {
        self.mismatch += other.mismatch;
        self.closed += other.closed;
        self.reset += other.reset;
        self.refused += other.refused;
        self.connect_timeout += other.connect_timeout;
        self.lost += other.lost;
        self.unanswered += other.unanswered;
        self.addr_not_available += other.addr_not_available;
        self.handshake += other.handshake;
        self.protocol += other.protocol;
        self.other += other.other;
        self.total += other.total;
    }

    /// `(name, count)` of every cause, for tables.
    pub fn by_cause(&self) -> [(&'static str, u64); 11] {
        [
            ("mismatch", self.mismatch),
            ("closed", self.closed),
            ("reset", self.reset),
            ("refused", self.refused),
            ("connect_timeout", self.connect_timeout),
            ("lost", self.lost),
            ("unanswered", self.unanswered),
            ("addr_not_available", self.addr_not_available),
            ("handshake", self.handshake),
            ("protocol", self.protocol),
            ("other", self.other),
        ]
    }

    /// The causes that occurred, as `name=count` words joined by spaces
    /// (empty when there were none).
    pub fn summary(&self) -> String {
        let causes: Vec<String> = self
            .by_cause()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{name}={n}"))
            .collect();
        causes.join(" ")
    }
}

impl Cause {
    /// Every cause, in report order.
    pub const ALL: [Cause; 11] = [
        Cause::Mismatch,
        Cause::Closed,
        Cause::Reset,
        Cause::Refused,
        Cause::ConnectTimeout,
        Cause::Lost,
        Cause::Unanswered,
        Cause::AddrNotAvailable,
        Cause::Handshake,
        Cause::Protocol,
        Cause::Other,
    ];

    /// The JSON key of this cause.
    pub fn key(self) -> &'static str {
        match self {
            Cause::Mismatch => "mismatch",
            Cause::Closed => "closed",
            Cause::Reset => "reset",
            Cause::Refused => "refused",
            Cause::ConnectTimeout => "connect_timeout",
            Cause::Lost => "lost",
            Cause::Unanswered => "unanswered",
            Cause::AddrNotAvailable => "addr_not_available",
            Cause::Handshake => "handshake",
            Cause::Protocol => "protocol",
            Cause::Other => "other",
        }
    }

    /// Whether this cause means "the server went away" (what `--reconnect`
    /// rides out), as opposed to wrong data or a broken protocol.
    pub fn is_disconnect(self) -> bool {
        !matches!(
            self,
            Cause::Mismatch | Cause::Unanswered | Cause::Handshake | Cause::Protocol
        )
    }
}

/// The cause an I/O error stands for.
pub fn classify(err: &io::Error) -> Cause {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => Cause::Refused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Cause::Reset,
        io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof => Cause::Closed,
        io::ErrorKind::TimedOut => Cause::ConnectTimeout,
        io::ErrorKind::AddrNotAvailable => Cause::AddrNotAvailable,
        _ => Cause::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_follow_causes() {
        let mut e = Errors::default();
        e.add(Cause::Mismatch, 2);
        e.add(Cause::Refused, 1);
        let mut f = Errors::default();
        f.add(Cause::Lost, 4);
        e.merge(&f);
        assert_eq!((e.mismatch, e.refused, e.lost, e.total), (2, 1, 4, 7));
        let sum: u64 = e.by_cause().iter().map(|(_, n)| n).sum();
        assert_eq!(sum, e.total);
    }

    #[test]
    fn io_errors_map_to_causes() {
        let c = |k| classify(&io::Error::from(k));
        assert_eq!(c(io::ErrorKind::ConnectionRefused), Cause::Refused);
        assert_eq!(c(io::ErrorKind::ConnectionReset), Cause::Reset);
        assert_eq!(c(io::ErrorKind::BrokenPipe), Cause::Closed);
        assert_eq!(c(io::ErrorKind::AddrNotAvailable), Cause::AddrNotAvailable);
        assert_eq!(c(io::ErrorKind::PermissionDenied), Cause::Other);
    }
}
