//! Accepting clients, and backing off when the process runs out of files.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::Shard;
use crate::conn::Conn;
use crate::connection::Connection;
use crate::handler::{Decision, Handler};

/// How long accepting pauses after the process ran out of descriptors or
/// memory: long enough not to spin on a full accept queue, short enough
/// that clients barely notice once descriptors free up.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What to do about an `accept` error.
enum AcceptError {
    /// The one client failed (it reset before we took it, say): go on.
    Client,
    /// The process or system is out of a resource: pause accepting.
    Resources,
}

/// Sorts an `accept` error, as actix-server does, into one that concerns
/// only the client and one that concerns the whole process.
fn classify(err: &io::Error) -> AcceptError {
    match err.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => AcceptError::Resources,
        _ if matches!(
            err.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::PermissionDenied
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

impl<H: Handler> Shard<H> {
    /// Accepts waiting clients, up to the accept budget.
    pub(super) fn accept(&mut self) {
        self.accept_pending = false;
        if self.timers.accept_paused(Instant::now()) {
            return;
        }
        for _ in 0..self.config.accept_budget {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => match classify(&err) {
                    AcceptError::Client => {
                        tracing::debug!(shard = self.index, %err, "accept failed for one client")
                    }
                    AcceptError::Resources => {
                        tracing::warn!(
                            shard = self.index,
                            %err,
                            open = self.conns.len(),
                            "cannot accept more clients now; pausing accept for {ACCEPT_BACKOFF:?}"
                        );
                        self.timers.pause_accept(Instant::now() + ACCEPT_BACKOFF);
                        return;
                    }
                },
            }
        }
        // Budget spent: more clients may wait; serve the others first.
        self.accept_pending = true;
    }

    /// Sets up a new client and asks the handler about it.
    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        if self.config.nodelay {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(shard = self.index, %peer, %err, "cannot set TCP_NODELAY; dropping client");
                return;
            }
        }
        let key = self.conns.next_key();
        let token = Token(key.to_token());
        if let Err(err) = self
            .poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
        {
            tracing::warn!(shard = self.index, %peer, %err, "cannot register client; dropping it");
            return;
        }
        let key = self.conns.insert(Connection::new(stream));
        // Counted once set up: a client dropped above never took service.
        self.stats.accepted += 1;
        self.stats.open += 1;
        let id = self.id(key);
        let limit = self.config.output_limit;
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let mut view = Conn::new(id, conn, limit, &mut self.stats.bytes_out, 0);
        match self.handler.on_connect(&mut view, peer) {
            Decision::Accept => self.settle(key),
            Decision::Refuse => {
                self.conns.remove(key);
                self.stats.open -= 1;
                self.stats.refused += 1;
                tracing::debug!(shard = self.index, %peer, "client refused by the handler");
            }
        }
    }
}
