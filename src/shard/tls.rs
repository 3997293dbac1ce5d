//! TLS on the shard: a new connection's handshake runs here, apart from
//! the clients and unknown to the handler, within a deadline and a
//! per-round budget; once it is done the connection becomes a client
//! whose transport is its TLS session, and `on_connect` sees what the
//! handshake agreed on ([`Conn::tls`](crate::Conn::tls)).
//!
//! Only reached when `Config::tls` is set. A handshaking connection has a
//! token no client has (bit 30 of the slot index set), so its events
//! take the path of a stale client token, out of the clients' hot path.

use std::io::ErrorKind;
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::Shard;
use crate::core::context::TimerTask;
use crate::core::slots::Key;
use crate::core::wheel::TimerKey;
use crate::handler::Handler;
use crate::hub::heartbeat::monotonic_nanos;
use crate::net::transport::Stream;
use crate::proxy::ProxyInfo;
use crate::tls::session::{Handshake, TlsSession};

/// Set in the slot index of a token that names a handshaking connection:
/// client slot indices never reach it (a billion clients), and PROXY
/// connections awaiting their header use bit 31.
pub(super) const HANDSHAKE_BIT: u32 = 1 << 30;

/// A connection whose TLS handshake is not finished.
pub(super) struct Handshaking {
    /// The session over the socket, registered under the handshake token.
    session: TlsSession<Stream>,
    /// The client's address (the real one, behind a PROXY proxy).
    peer: SocketAddr,
    /// Its PROXY header, when it came through a proxy.
    proxy: Option<Box<ProxyInfo>>,
    /// The handshake deadline in the shard's wheel: the client's time to
    /// send what the server waits for, set at the accept and again each
    /// time the server answers (its flight).
    timer: TimerKey,
    /// When the connection was accepted (monotonic nanoseconds).
    began: u64,
    /// In `handshakes_ready`: the client sent something this shard has
    /// not processed yet (the round's budget was spent), so the wait is
    /// the server's and the deadline does not close it.
    deferred: bool,
}

/// Why a handshake failed, for the counters and the log.
#[derive(Clone, Copy, Debug)]
enum Failure {
    /// The client did not speak TLS.
    NotTls,
    /// The client broke the protocol or offered nothing acceptable.
    Protocol,
    /// The client's certificate was missing, unknown or invalid.
    Certificate,
    /// The client went away.
    Closed,
    /// The deadline passed.
    Timeout,
}

/// The poll token of the handshaking connection `key`.
fn token(key: Key) -> Token {
    Token(
        Key {
            index: key.index | HANDSHAKE_BIT,
            generation: key.generation,
        }
        .to_token(),
    )
}

impl<H: Handler> Shard<H> {
    /// Begins the handshake of a new connection (after its PROXY header,
    /// if the protocol is on: then `proxy` and `first`, the bytes that
    /// followed the header, and the socket is registered under the
    /// awaiting token).
    #[cold]
    #[inline(never)]
    pub(super) fn begin_handshake(
        &mut self,
        mut stream: TcpStream,
        peer: SocketAddr,
        proxy: Option<ProxyInfo>,
        first: Vec<u8>,
    ) {
        let Some(tls) = &self.config.tls else {
            return;
        };
        let key = self.handshakes.next_key();
        let registry = self.poll.registry();
        let interest = Interest::READABLE | Interest::WRITABLE;
        let registered = if proxy.is_some() {
            registry.reregister(&mut stream, token(key), interest)
        } else {
            registry.register(&mut stream, token(key), interest)
        };
        if let Err(err) = registered {
            return self.registration_failed(peer, &err);
        }
        let session = match TlsSession::new(tls.current(), Stream::Socket(stream), first) {
            Ok(session) => session,
            Err(err) => return self.registration_failed(peer, &err),
        };
        let deadline = self.cx.deadline_after(self.handshake_timeout);
        let timer = self.cx.wheel.insert(deadline, TimerTask::Handshake(key));
        let began = monotonic_nanos();
        self.handshakes.insert(Handshaking {
            session,
            peer,
            proxy: proxy.map(Box::new),
            timer,
            began,
            deferred: false,
        });
        // Registering reports what already arrived; bytes after a PROXY
        // header must be taken now: a step, or the next within budget
        // (a storm accepted at once waits its turn, as its events do).
        self.handshake_ready(key);
    }

    /// An event for a token of no client, with bit 30 set: a step of that
    /// handshake, within this round's budget (else in the next round).
    #[cold]
    #[inline(never)]
    pub(super) fn handshake_event(&mut self, token: Key) {
        let key = Key {
            index: token.index & !HANDSHAKE_BIT,
            generation: token.generation,
        };
        self.handshake_ready(key);
    }

    /// Handshake `key` has something to do: a step now, within this
    /// round's budget, else in a later round (listed once).
    fn handshake_ready(&mut self, key: Key) {
        let Some(waiting) = self.handshakes.get_mut(key) else {
            return;
        };
        if waiting.deferred {
            return; // listed already
        }
        if self.handshake_budget_left == 0 {
            waiting.deferred = true;
            self.stats.tls_deferred += 1;
            self.handshakes_ready.push(key);
            return;
        }
        self.handshake_budget_left -= 1;
        self.handshake_step(key);
    }

    /// Runs the handshake steps left from the last round, as far as this
    /// round's budget allows.
    pub(super) fn run_deferred_handshakes(&mut self) {
        let mut ready = std::mem::take(&mut self.handshakes_ready);
        let mut done = 0;
        for &key in &ready {
            if self.handshake_budget_left == 0 {
                break;
            }
            self.handshake_budget_left -= 1;
            done += 1;
            self.handshake_step(key);
        }
        ready.drain(..done);
        ready.append(&mut self.handshakes_ready);
        self.handshakes_ready = ready;
    }

    /// Takes a handshake as far as what arrived allows; finishes or fails
    /// it.
    fn handshake_step(&mut self, key: Key) {
        let Some(waiting) = self.handshakes.get_mut(key) else {
            return;
        };
        waiting.deferred = false;
        let started = monotonic_nanos();
        let step = waiting.session.handshake();
        self.stats.tls_handshake_busy_nanos += monotonic_nanos().saturating_sub(started);
        match step {
            Ok(Handshake::Pending) => {}
            Ok(Handshake::Answered) => self.rearm_handshake(key),
            Ok(Handshake::Done) => self.handshake_done(key),
            Err(err) => {
                let failure = classify(&err);
                self.handshake_failed(key, failure, &err.to_string());
            }
        }
    }

    /// A finished handshake: counted, and the connection becomes a client.
    fn handshake_done(&mut self, key: Key) {
        let Some(done) = self.remove_handshake(key) else {
            return;
        };
        let took = monotonic_nanos().saturating_sub(done.began);
        let info = done.session.info();
        let stats = &mut self.stats;
        if info.resumed {
            stats.tls_resumed += 1;
        } else {
            stats.tls_full += 1;
        }
        match info.version {
            "TLSv1.3" => stats.tls_v13 += 1,
            _ => stats.tls_v12 += 1,
        }
        if info.cipher.contains("AES_128_GCM") {
            stats.tls_aes128_gcm += 1;
        } else if info.cipher.contains("AES_256_GCM") {
            stats.tls_aes256_gcm += 1;
        } else if info.cipher.contains("CHACHA20") {
            stats.tls_chacha20 += 1;
        }
        stats.tls_handshake_nanos += took;
        for (bound, counter) in [
            (1_000_000, &mut stats.tls_handshake_under_1ms),
            (10_000_000, &mut stats.tls_handshake_under_10ms),
            (100_000_000, &mut stats.tls_handshake_under_100ms),
            (1_000_000_000, &mut stats.tls_handshake_under_1s),
        ] {
            if took < bound {
                *counter += 1;
            }
        }
        let has_input = done.session.has_input();
        let stream = Stream::Layered(Box::new(done.session));
        let proxy = done.proxy.as_deref();
        if let Some(client) = self.start(stream, done.peer, proxy, Some(&info)) {
            if has_input {
                // Sent with the client's last handshake message: no new
                // edge will say so.
                self.ready.push(client);
            }
        }
    }

    /// A handshake's deadline passed.
    pub(super) fn handshake_timed_out(&mut self, key: Key, timer: TimerKey) {
        let Some(waiting) = self.handshakes.get_mut(key) else {
            return;
        };
        if waiting.timer != timer {
            return;
        }
        waiting.timer = TimerKey::NONE; // fired: nothing to cancel
        if waiting.deferred {
            // The client is waiting for this shard, not the other way.
            return self.rearm_handshake(key);
        }
        let what = format!(
            "the client sent no handshake flight within {:?}",
            self.handshake_timeout
        );
        self.handshake_failed(key, Failure::Timeout, &what);
    }

    /// Closes a connection whose handshake failed, counts it, and says why
    /// (one line a second at most).
    fn handshake_failed(&mut self, key: Key, failure: Failure, what: &str) {
        let Some(failed) = self.remove_handshake(key) else {
            return;
        };
        drop(failed.session);
        self.cx.handle.hub().release_connection();
        let stats = &mut self.stats;
        stats.refused += 1;
        stats.tls_failed += 1;
        let counter = match failure {
            Failure::NotTls => &mut stats.tls_failed_not_tls,
            Failure::Protocol => &mut stats.tls_failed_protocol,
            Failure::Certificate => &mut stats.tls_failed_certificate,
            Failure::Closed => &mut stats.tls_failed_closed,
            Failure::Timeout => &mut stats.tls_failed_timeout,
        };
        *counter += 1;
        if matches!(failure, Failure::Closed) {
            tracing::debug!(shard = self.index, peer = %failed.peer, "TLS client went away during its handshake");
            return;
        }
        let now = self.cx.now();
        if let Some(suppressed) = self.warnings.tls_failed.allow(now) {
            tracing::warn!(
                shard = self.index,
                peer = %failed.peer,
                reason = ?failure,
                suppressed,
                "TLS handshake failed: {what}"
            );
        }
    }

    /// Closes every handshaking connection (at shutdown: the handler never
    /// knew them).
    pub(super) fn drop_all_handshakes(&mut self) {
        for key in self.handshakes.keys() {
            if self.remove_handshake(key).is_some() {
                self.cx.handle.hub().release_connection();
            }
        }
        self.handshakes_ready.clear();
    }

    /// Number of handshaking connections.
    pub(super) fn handshakes_len(&self) -> usize {
        self.handshakes.len()
    }

    /// Starts handshake `key`'s deadline over: the client has the whole
    /// timeout for its next flight.
    fn rearm_handshake(&mut self, key: Key) {
        let deadline = self.cx.deadline_after(self.handshake_timeout);
        let Some(waiting) = self.handshakes.get_mut(key) else {
            return;
        };
        if !waiting.timer.is_none() {
            self.cx.wheel.cancel(waiting.timer);
        }
        waiting.timer = self.cx.wheel.insert(deadline, TimerTask::Handshake(key));
    }

    /// Takes a handshaking connection out, its deadline cancelled.
    fn remove_handshake(&mut self, key: Key) -> Option<Handshaking> {
        let waiting = self.handshakes.remove(key)?;
        if !waiting.timer.is_none() {
            self.cx.wheel.cancel(waiting.timer);
        }
        Some(waiting)
    }
}

/// Why a handshake step failed.
fn classify(err: &std::io::Error) -> Failure {
    match err.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
            return Failure::Closed
        }
        ErrorKind::InvalidData => {}
        _ => return Failure::Closed,
    }
    let Some(tls) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return Failure::Protocol;
    };
    match tls {
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            Failure::NotTls
        }
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::InvalidCertRevocationList(_) => Failure::Certificate,
        _ => Failure::Protocol,
    }
}
