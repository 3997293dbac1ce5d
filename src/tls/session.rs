//! A TLS session as a [`Transport`] over another one: the client core
//! reads and writes plaintext, the session turns it into records with
//! rustls's unbuffered API.
//!
//! Memory: an established session holds rustls's connection state and
//! three empty vectors. Ciphertext is read into, decrypted in and
//! encrypted into the shard thread's scratch buffers (`scratch.rs`); a
//! session keeps bytes of its own only while they are in flight: the
//! part of a record that has not arrived whole, plaintext the reader had
//! no room for, ciphertext the socket did not take.

use std::io::{self, ErrorKind, IoSlice};
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::{HandshakeKind, ProtocolVersion, ServerConfig};

use super::identity::{PeerIdentity, TlsInfo};
use super::scratch::{self, Outgoing, Scratch, MAX_RECEIVED, MAX_WRITE, READ_CHUNK};
use crate::net::transport::Transport;

/// Where a handshake stands after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// Finished: the session carries application data now.
    Done,
    /// Waiting for the peer, and this step sent it something (the
    /// server's flight, a retry request): from now on the wait is the
    /// peer's.
    Answered,
    /// Waiting for the peer; nothing sent by this step.
    Pending,
}

/// What to do once the state machine may send application data.
#[derive(Clone, Copy)]
enum Then<'a> {
    /// Nothing: only process what came in.
    Nothing,
    /// Encrypt this.
    Encrypt(&'a [u8]),
    /// Send a `close_notify` alert.
    CloseNotify,
}

/// Where the state machine stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reached {
    /// Application data may be sent (what `Then` asked is done).
    Traffic,
    /// It needs more input.
    NeedMore,
    /// Both sides sent `close_notify`.
    Closed,
}

/// Plaintext produced while processing: into the reader's buffer while
/// it has room, the rest kept by the session.
struct Plain<'a> {
    /// The reader's buffer (empty during the handshake).
    buf: &'a mut [u8],
    /// How much of `buf` is filled.
    filled: usize,
    /// What did not fit.
    overflow: &'a mut Vec<u8>,
}

impl Plain<'_> {
    /// Takes `data`.
    fn put(&mut self, data: &[u8]) {
        let room = self.buf.len() - self.filled;
        let now = data.len().min(room);
        self.buf[self.filled..self.filled + now].copy_from_slice(&data[..now]);
        self.filled += now;
        self.overflow.extend_from_slice(&data[now..]);
    }
}

/// One client's TLS session over `T` (a socket in a server, a pipe in
/// memory).
pub(crate) struct TlsSession<T> {
    /// rustls's state.
    conn: UnbufferedServerConnection,
    /// What carries the records.
    inner: T,
    /// Ciphertext received and not processed yet: a record that has not
    /// arrived whole (or, from a PROXY connection, the bytes after its
    /// header, until the first step).
    received: Vec<u8>,
    /// Whether `received` still holds bytes never processed.
    unprocessed: bool,
    /// Plaintext decrypted and not read yet; read from `plain_at`.
    plain: Vec<u8>,
    /// Start of what is left in `plain`.
    plain_at: usize,
    /// Ciphertext produced and not taken by `inner` yet; from `unsent_at`.
    unsent: Vec<u8>,
    /// Start of what is left in `unsent`.
    unsent_at: usize,
    /// The peer sent `close_notify`, or its transport ended.
    ended: bool,
    /// The peer's transport ended without close_notify.
    cut: bool,
    /// Bytes of the close_notify alert sent at the close.
    trailer: usize,
    /// The last read from the socket was short, and all it brought was
    /// handed out: the next read would say `WouldBlock`.
    drained: bool,
    /// Ciphertext went to the transport since the handshake step began.
    answered: bool,
}

impl<T: Transport> TlsSession<T> {
    /// A session that begins its handshake, over `inner`; `first`: bytes
    /// already read from it (after a PROXY header).
    ///
    /// # Errors
    ///
    /// rustls cannot make a connection of `config` (it always can).
    pub(crate) fn new(config: Arc<ServerConfig>, inner: T, first: Vec<u8>) -> io::Result<Self> {
        let conn = UnbufferedServerConnection::new(config).map_err(io::Error::other)?;
        Ok(Self {
            conn,
            inner,
            unprocessed: !first.is_empty(),
            received: first,
            plain: Vec::new(),
            plain_at: 0,
            unsent: Vec::new(),
            unsent_at: 0,
            ended: false,
            cut: false,
            trailer: 0,
            drained: false,
            answered: false,
        })
    }

    /// Takes the handshake as far as what arrived allows, answering the
    /// peer.
    ///
    /// # Errors
    ///
    /// The peer broke the protocol (its alert is sent), went away, or
    /// the transport failed: the connection is done. The error wraps the
    /// [`rustls::Error`] when there is one.
    pub(crate) fn handshake(&mut self) -> io::Result<Handshake> {
        self.answered = false;
        self.flush_unsent()?;
        if self.unprocessed {
            self.unprocessed = false;
            scratch::with(|scratch| {
                let kept = self.take_received(&mut scratch.incoming)?;
                self.process(scratch, kept, &mut [])
            })?;
        }
        loop {
            if !self.conn.is_handshaking() {
                return Ok(Handshake::Done);
            }
            if self.ended {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            if !self.pull(&mut [])?.arrived {
                return Ok(if self.answered {
                    Handshake::Answered
                } else {
                    Handshake::Pending
                });
            }
        }
    }

    /// What the finished handshake agreed on.
    pub(crate) fn info(&self) -> TlsInfo {
        let version = match self.conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "unknown",
        };
        let cipher = self
            .conn
            .negotiated_cipher_suite()
            .and_then(|suite| suite.suite().as_str())
            .unwrap_or("unknown");
        TlsInfo {
            version,
            cipher,
            alpn: self.conn.alpn_protocol().map(<[u8]>::to_vec),
            resumed: self.conn.handshake_kind() == Some(HandshakeKind::Resumed),
            peer: self
                .conn
                .peer_certificates()
                .and_then(<[_]>::first)
                .and_then(|leaf| PeerIdentity::of(leaf)),
        }
    }

    /// Capacity of the buffers the session holds of its own (0 when idle).
    pub(crate) fn held_bytes(&self) -> usize {
        self.received.capacity() + self.plain.capacity() + self.unsent.capacity()
    }

    /// The transport underneath.
    pub(crate) fn inner(&self) -> &T {
        &self.inner
    }

    /// Whether plaintext is waiting to be read without a new event: what
    /// arrived with the client's last handshake message.
    pub(crate) fn has_input(&self) -> bool {
        self.plain_at < self.plain.len() || self.ended
    }

    /// Runs the state machine over `scratch.incoming[..filled]`, sends
    /// what it produced, keeps what it did not consume. Returns the
    /// plaintext bytes put into `buf`.
    fn process(
        &mut self,
        scratch: &mut Scratch,
        filled: usize,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        let Scratch { incoming, outgoing } = scratch;
        let incoming = &mut incoming[..filled];
        let mut plain = Plain {
            buf,
            filled: 0,
            overflow: &mut self.plain,
        };
        let result = run(
            &mut self.conn,
            incoming,
            outgoing,
            &mut plain,
            Then::Nothing,
            &mut self.ended,
        );
        let put = plain.filled;
        match result {
            Ok((consumed, reached)) => {
                if reached == Reached::Closed {
                    self.ended = true;
                }
                self.received.extend_from_slice(&incoming[consumed..]);
                self.send(outgoing.bytes())?;
                Ok(put)
            }
            Err((at, err)) => {
                alert(&mut self.conn, &mut incoming[at..], outgoing);
                let _ = self.send(outgoing.bytes());
                Err(io::Error::new(ErrorKind::InvalidData, err))
            }
        }
    }

    /// Moves what the session kept to the front of `incoming`, releasing
    /// its own buffer; returns its length.
    fn take_received(&mut self, incoming: &mut [u8]) -> io::Result<usize> {
        let kept = self.received.len();
        if kept > MAX_RECEIVED {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                "TLS peer sent a message past 72 KiB",
            ));
        }
        incoming[..kept].copy_from_slice(&self.received);
        self.received = Vec::new();
        Ok(kept)
    }

    /// Sends `outgoing` after what is unsent; keeps what the transport
    /// does not take.
    fn send(&mut self, outgoing: &[u8]) -> io::Result<()> {
        if outgoing.is_empty() {
            return Ok(());
        }
        self.answered = true;
        if self.unsent_at < self.unsent.len() {
            self.unsent.extend_from_slice(outgoing);
            return self.flush_unsent().map(drop);
        }
        let mut at = 0;
        while at < outgoing.len() {
            match self.inner.write(&outgoing[at..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => at += n,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => return Err(err),
            }
        }
        if at < outgoing.len() {
            self.unsent = outgoing[at..].to_vec();
            self.unsent_at = 0;
        }
        Ok(())
    }

    /// Writes unsent ciphertext; returns whether none is left (its
    /// buffer is then released).
    fn flush_unsent(&mut self) -> io::Result<bool> {
        while self.unsent_at < self.unsent.len() {
            match self.inner.write(&self.unsent[self.unsent_at..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.unsent_at += n,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(err) => return Err(err),
            }
        }
        if !self.unsent.is_empty() {
            self.unsent = Vec::new();
            self.unsent_at = 0;
        }
        Ok(true)
    }

    /// Hands out what `plain` holds.
    fn take_plain(&mut self, buf: &mut [u8]) -> usize {
        let left = &self.plain[self.plain_at..];
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        self.plain_at += n;
        if self.plain_at == self.plain.len() {
            self.plain = Vec::new();
            self.plain_at = 0;
        }
        n
    }

    /// Runs the state machine over what is kept, then does `then`.
    fn act(&mut self, then: Then<'_>) -> io::Result<()> {
        scratch::with(|scratch| {
            let kept = self.take_received(&mut scratch.incoming)?;
            let Scratch { incoming, outgoing } = scratch;
            let incoming = &mut incoming[..kept];
            let mut plain = Plain {
                buf: &mut [],
                filled: 0,
                overflow: &mut self.plain,
            };
            let result = run(
                &mut self.conn,
                incoming,
                outgoing,
                &mut plain,
                then,
                &mut self.ended,
            );
            match result {
                Ok((consumed, reached)) => {
                    self.received.extend_from_slice(&incoming[consumed..]);
                    self.send(outgoing.bytes())?;
                    if reached == Reached::Traffic {
                        Ok(())
                    } else {
                        Err(ErrorKind::BrokenPipe.into())
                    }
                }
                Err((at, err)) => {
                    alert(&mut self.conn, &mut incoming[at..], outgoing);
                    let _ = self.send(outgoing.bytes());
                    Err(io::Error::new(ErrorKind::InvalidData, err))
                }
            }
        })
    }
}

impl<T: Transport> Transport for TlsSession<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.plain_at < self.plain.len() {
                // The socket was not read for it: more may wait there.
                self.drained = false;
                return Ok(self.take_plain(buf));
            }
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            // Fresh plaintext goes straight into `buf`; only what does
            // not fit is kept.
            let pull = self.pull(buf)?;
            if pull.filled > 0 {
                return Ok(pull.filled);
            }
            if !pull.arrived {
                return Err(ErrorKind::WouldBlock.into());
            }
            // A record not whole yet, or one without application data:
            // read on.
        }
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !self.flush_unsent()? {
            return Err(ErrorKind::WouldBlock.into());
        }
        if data.is_empty() {
            return Ok(0);
        }
        let take = data.len().min(MAX_WRITE);
        self.act(Then::Encrypt(&data[..take]))?;
        Ok(take)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => self.write(buf),
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.flush_unsent()? {
            Ok(())
        } else {
            Err(ErrorKind::WouldBlock.into())
        }
    }

    fn pending(&self) -> bool {
        self.unsent_at < self.unsent.len()
    }

    fn drained(&self) -> bool {
        // The socket underneath is read with a short read meaning empty,
        // as the core reads a socket; a transport in memory is read on.
        self.drained && self.inner.socket().is_some()
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        // A peer whose transport ended (no close_notify: it closed its
        // socket) reads nothing more; one that said close_notify is
        // answered, as RFC 8446 asks.
        if !self.cut {
            let before = self.inner.unacknowledged().unwrap_or(0) + self.unsent.len();
            self.act(Then::CloseNotify)?;
            // What the socket did not take of the alert goes before the FIN.
            let _ = self.flush_unsent()?;
            let after = self.inner.unacknowledged().unwrap_or(0) + self.unsent.len();
            self.trailer = after.saturating_sub(before);
        }
        self.inner.shutdown_write()
    }

    /// Without the close_notify alert: a peer that closed without reading
    /// it has taken every byte of the service's output.
    fn unacknowledged(&self) -> io::Result<usize> {
        let inner = self.inner.unacknowledged()?.saturating_sub(self.trailer);
        Ok(inner + self.unsent.len() - self.unsent_at)
    }

    fn socket(&self) -> Option<BorrowedFd<'_>> {
        self.inner.socket()
    }
}

/// What one pull did.
struct Pull {
    /// Ciphertext (or the end) arrived.
    arrived: bool,
    /// Plaintext put into the reader's buffer.
    filled: usize,
}

impl<T: Transport> TlsSession<T> {
    /// Reads once from the inner transport and processes what came,
    /// decrypting into `buf` (what does not fit into `plain`).
    fn pull(&mut self, buf: &mut [u8]) -> io::Result<Pull> {
        let result = scratch::with(|scratch| -> io::Result<Pull> {
            let kept = self.take_received(&mut scratch.incoming)?;
            let n = loop {
                match self
                    .inner
                    .read(&mut scratch.incoming[kept..kept + READ_CHUNK])
                {
                    Ok(n) => break n,
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(err) => {
                        self.received = scratch.incoming[..kept].to_vec();
                        return Err(err);
                    }
                }
            };
            if n == 0 {
                // The end of the transport: a peer that did not say
                // close_notify may have been cut off, but what it sent
                // is delivered, then the end.
                self.ended = true;
                self.cut = true;
                self.received = scratch.incoming[..kept].to_vec();
                return Ok(Pull {
                    arrived: true,
                    filled: 0,
                });
            }
            let filled = self.process(scratch, kept + n, buf)?;
            self.drained = n < READ_CHUNK && self.plain_at == self.plain.len();
            Ok(Pull {
                arrived: true,
                filled,
            })
        });
        match result {
            Err(err) if err.kind() == ErrorKind::WouldBlock => Ok(Pull {
                arrived: false,
                filled: 0,
            }),
            other => other,
        }
    }
}

/// Runs rustls's state machine over `incoming` until it needs more input
/// or may send application data (then does `then`), writing what it
/// produces into `outgoing` and plaintext into `plain`. Returns how much
/// of `incoming` it consumed and where it stopped; on an error, how much
/// it had consumed with the error (rustls keeps its place in what
/// follows, and reads it again to find the alert).
fn run(
    conn: &mut UnbufferedServerConnection,
    incoming: &mut [u8],
    outgoing: &mut Outgoing,
    plain: &mut Plain<'_>,
    then: Then<'_>,
    ended: &mut bool,
) -> Result<(usize, Reached), (usize, rustls::Error)> {
    let mut at = 0;
    loop {
        let UnbufferedStatus { discard, state } = conn.process_tls_records(&mut incoming[at..]);
        let mut extra = 0;
        let reached = match state {
            Ok(state) => step(state, outgoing, plain, then, ended, &mut extra),
            Err(err) => Err(err),
        };
        at += discard + extra;
        match reached {
            Ok(Some(reached)) => return Ok((at, reached)),
            Ok(None) => {}
            Err(err) => return Err((at, err)),
        }
    }
}

/// Handles one state of the machine: `Some` where `run` stops.
fn step(
    state: ConnectionState<'_, '_, ServerConnectionData>,
    outgoing: &mut Outgoing,
    plain: &mut Plain<'_>,
    then: Then<'_>,
    ended: &mut bool,
    extra: &mut usize,
) -> Result<Option<Reached>, rustls::Error> {
    Ok(match state {
        ConnectionState::ReadTraffic(mut traffic) => {
            while let Some(record) = traffic.next_record() {
                let record = record?;
                plain.put(record.payload);
                *extra += record.discard;
            }
            None
        }
        ConnectionState::ReadEarlyData(mut early) => {
            // Early data is never accepted (max_early_data_size 0).
            while let Some(record) = early.next_record() {
                *extra += record?.discard;
            }
            None
        }
        ConnectionState::EncodeTlsData(mut encode) => {
            outgoing.fill(|room| match encode.encode(room) {
                Ok(n) => Ok(Ok(n)),
                Err(EncodeError::InsufficientSize(size)) => Ok(Err(size.required_size)),
                Err(EncodeError::AlreadyEncoded) => Ok(Ok(0)),
            })?;
            None
        }
        ConnectionState::TransmitTlsData(transmit) => {
            // Sent by the caller, after the whole run, in order.
            transmit.done();
            None
        }
        ConnectionState::WriteTraffic(mut traffic) => {
            match then {
                Then::Nothing => {}
                Then::Encrypt(data) => outgoing.fill(|room| match traffic.encrypt(data, room) {
                    Ok(n) => Ok(Ok(n)),
                    Err(EncryptError::InsufficientSize(size)) => Ok(Err(size.required_size)),
                    Err(err) => Err(rustls::Error::General(err.to_string())),
                })?,
                Then::CloseNotify => {
                    outgoing.fill(|room| match traffic.queue_close_notify(room) {
                        Ok(n) => Ok(Ok(n)),
                        Err(EncryptError::InsufficientSize(size)) => Ok(Err(size.required_size)),
                        Err(err) => Err(rustls::Error::General(err.to_string())),
                    })?
                }
            }
            Some(Reached::Traffic)
        }
        ConnectionState::BlockedHandshake => Some(Reached::NeedMore),
        ConnectionState::PeerClosed => {
            *ended = true;
            None
        }
        ConnectionState::Closed => Some(Reached::Closed),
        _ => Some(Reached::NeedMore),
    })
}

/// After a protocol error: encodes the alert rustls queued. One call
/// only, over the bytes the failed call left (rustls keeps its place in
/// them): the alert is the first chunk queued, and a second call would
/// run the failed state machine again.
fn alert(conn: &mut UnbufferedServerConnection, incoming: &mut [u8], outgoing: &mut Outgoing) {
    let UnbufferedStatus { state, .. } = conn.process_tls_records(incoming);
    if let Ok(ConnectionState::EncodeTlsData(mut encode)) = state {
        // Nothing to do if it cannot be encoded: the close says enough.
        let _ = outgoing.fill(|room| match encode.encode(room) {
            Ok(n) => Ok(Ok(n)),
            Err(EncodeError::InsufficientSize(size)) => Ok(Err(size.required_size)),
            Err(err) => Err(rustls::Error::General(err.to_string())),
        });
    }
}
