//! The limits on accepting, in one place: at `max_connections` and out of
//! file descriptors a waiting client is refused (the refuse message, then
//! the close; out of descriptors through the server's spare descriptor),
//! and errors that concern the whole process pause accepting for a while.
//! (The descriptor primitives are in `net/fds.rs`; a client's own limits,
//! `input_limit` and `output_limit`, where its input is handed on,
//! `shard/io.rs`, and where its output is queued, `core/write.rs`.)

use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::TcpStream;

use super::Shard;
use crate::handler::Handler;

/// How long accepting pauses after the process ran out of descriptors or
/// memory and no client could be refused instead: long enough not to spin
/// on a full accept queue, short enough that clients barely notice once
/// descriptors free up.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What to do about an `accept` error.
pub(crate) enum AcceptError {
    /// The one client failed (it reset before we took it, say): go on.
    Client,
    /// The process is out of descriptors: refuse a client with the spare.
    OutOfDescriptors,
    /// The system is out of a resource: pause accepting.
    Resources,
}

/// Sorts an `accept` error, as actix-server does, into one that concerns
/// only the client and one that concerns the whole process.
///
/// `EPERM`/`EACCES` (a security module's accept hook) come before the
/// client is taken off the queue, so they would repeat for ever: they
/// pause accepting like a resource error instead of spinning.
pub(crate) fn classify(err: &io::Error) -> AcceptError {
    match err.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => AcceptError::OutOfDescriptors,
        Some(libc::ENOBUFS | libc::ENOMEM) => AcceptError::Resources,
        _ if matches!(
            err.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
        ) =>
        {
            AcceptError::Client
        }
        Some(libc::EPROTO | libc::ENETDOWN | libc::ENOPROTOOPT | libc::EHOSTDOWN) => {
            AcceptError::Client
        }
        _ => AcceptError::Resources,
    }
}

/// What lending the spare descriptor achieved.
pub(super) enum Spared {
    /// A waiting client was accepted into the spare's number and refused.
    Refused,
    /// Nobody was waiting.
    QueueEmpty,
    /// Another thread took the lent number first, or holds it in a refusal
    /// of its own: try again (a few times).
    Raced,
    /// Accepting failed otherwise, or the spare cannot be had: pause.
    Failed,
}

/// How many times in a row a shard tries again when another thread took
/// the lent spare's number, before it pauses accepting: enough to ride out
/// a refusal in flight on another shard, few enough not to spin when the
/// number went to something else (a file the handler opened).
pub(super) const SPARE_RETRIES: usize = 2;

/// Why a client is refused before the handler sees it.
#[derive(Clone, Copy)]
pub(super) enum Refusal {
    /// `max_connections` clients are open.
    AtLimit,
    /// The process has no descriptor left.
    OutOfDescriptors,
}

impl<H: Handler> Shard<H> {
    /// At `EMFILE`: lends the server's spare descriptor to accept one
    /// waiting client into its number and refuse it at once, then takes
    /// the spare back into the number the client freed. Says what came of
    /// it.
    ///
    /// With several shards another shard may take the lent number first:
    /// then this accept fails again (`Raced`), while that shard refuses the
    /// client it got and takes the spare back into its number (see
    /// [`Spare`](crate::net::fds::Spare)).
    pub(super) fn refuse_with_spare(&mut self) -> Spared {
        let Some(listener) = &self.listener else {
            return Spared::Failed;
        };
        let Some(accepted) = self.cx.handle.hub().spare().lend(|| listener.accept()) else {
            // Not held, and no number free to take it: another shard's
            // refusal may hold one for a moment.
            return Spared::Raced;
        };
        let outcome = match accepted {
            Ok((stream, peer)) => {
                self.refuse(stream, peer, Refusal::OutOfDescriptors);
                Spared::Refused
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => Spared::QueueEmpty,
            Err(err) if matches!(classify(&err), AcceptError::OutOfDescriptors) => Spared::Raced,
            Err(_) => Spared::Failed,
        };
        // The refused client is closed: its number becomes the spare again.
        self.cx.handle.hub().spare().restore();
        outcome
    }

    /// Stops accepting for a while: the process or system is out of a
    /// resource and no client could be refused instead.
    pub(super) fn pause_accept(&mut self, err: &io::Error) {
        self.stats.accept_pauses += 1;
        let now = self.cx.now();
        if let Some(suppressed) = self.warnings.out_of_resources.allow(now) {
            tracing::warn!(
                shard = self.index,
                %err,
                open = self.clients.len(),
                suppressed,
                "cannot accept more clients now; pausing accept for {} ms",
                ACCEPT_BACKOFF.as_millis()
            );
        }
        self.deadlines.pause_accept(now + ACCEPT_BACKOFF);
    }

    /// Resumes accepting after a pause: takes the spare back first.
    pub(super) fn resume_accept(&mut self) {
        self.cx.handle.hub().spare().restore();
        self.accept();
    }

    /// Closes a client the server cannot take, after the refuse message.
    pub(super) fn refuse(&mut self, mut stream: TcpStream, peer: SocketAddr, why: Refusal) {
        self.stats.refused += 1;
        self.stats.over_limit += 1;
        if let Some(message) = &self.config.refuse_message {
            // Best effort: a new socket's send buffer takes a short message
            // whole; if not, the client just sees the close.
            let _ = stream.write(message);
        }
        drop(stream);
        let now = self.cx.now();
        if let Some(suppressed) = self.warnings.refused.allow(now) {
            let max = self.cx.handle.max_connections();
            match why {
                Refusal::AtLimit => tracing::warn!(
                    shard = self.index,
                    %peer,
                    max_connections = max,
                    suppressed,
                    "refusing clients: the connection limit is reached"
                ),
                Refusal::OutOfDescriptors => tracing::warn!(
                    shard = self.index,
                    %peer,
                    suppressed,
                    "refusing clients: the process is out of file descriptors (raise the open-file limit, or lower --max-connections)"
                ),
            }
        }
    }
}
