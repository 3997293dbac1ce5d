//! One connection's socket, plain TCP or TLS: the handshake, then reads
//! and writes of plaintext with the semantics the modes rely on (a read
//! shorter than the buffer means the socket is drained; a write that
//! cannot go out is `WouldBlock`).

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::ClientConnection;

use super::{warn_once, Client};
use crate::engine::fault::Fault;

/// The fewest bytes rustls asks the socket for in one `read_tls` (its
/// buffer always has room for 4 KiB more): a read that brings fewer
/// emptied the socket.
const RUSTLS_READ: usize = 4096;

/// A TLS session on a socket.
#[derive(Debug)]
struct Session {
    conn: ClientConnection,
    client: Arc<Client>,
    /// When the handshake began (the first step after the TCP connect).
    began: Option<Instant>,
}

/// A connection's socket.
#[derive(Debug)]
pub struct Stream {
    tcp: TcpStream,
    tls: Option<Box<Session>>,
}

impl Stream {
    /// Wraps `tcp`: over TLS with `client` (to target `target`), else
    /// plain.
    pub fn new(tcp: TcpStream, client: Option<&Arc<Client>>, target: usize) -> io::Result<Self> {
        let tls = match client {
            None => None,
            Some(client) => {
                let name = client.names[target].clone();
                let conn = ClientConnection::new(client.config.clone(), name)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                Some(Box::new(Session {
                    conn,
                    client: client.clone(),
                    began: None,
                }))
            }
        };
        Ok(Self { tcp, tls })
    }

    /// The TCP socket.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// The TCP socket, the TLS session dropped.
    pub fn into_tcp(self) -> TcpStream {
        self.tcp
    }

    /// Whether this is a TLS connection.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Advances the TLS handshake of a connected socket: `Ok(true)` once
    /// it is done (at once over plain TCP), `Ok(false)` while it waits for
    /// the server. Each handshake is counted once, done or failed.
    pub fn handshake(&mut self) -> Result<bool, Fault> {
        let Some(s) = self.tls.as_mut() else {
            return Ok(true);
        };
        if !s.conn.is_handshaking() {
            return Ok(true);
        }
        let began = *s.began.get_or_insert_with(Instant::now);
        let counts = &s.client.counts;
        loop {
            if let Err(e) = send(&mut s.conn, &mut self.tcp) {
                counts.failed("write error");
                return Err(Fault::Io(e));
            }
            if !s.conn.is_handshaking() {
                let resumed = s.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                counts.done(resumed, began.elapsed());
                return Ok(true);
            }
            match s.conn.read_tls(&mut self.tcp) {
                Ok(0) => {
                    counts.failed("closed by the server");
                    return Err(Fault::Closed);
                }
                Ok(_) => {
                    if let Err(e) = s.conn.process_new_packets() {
                        // Best effort: the alert rustls queued.
                        let _ = send(&mut s.conn, &mut self.tcp);
                        let reason = e.to_string();
                        warn_once(&reason);
                        counts.failed(&reason);
                        return Err(Fault::Handshake);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    counts.failed("read error");
                    return Err(Fault::Io(e));
                }
            }
        }
    }
}

/// Writes what `conn` has to send until done or the socket is full.
fn send(conn: &mut ClientConnection, tcp: &mut TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        match conn.write_tls(tcp) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Read for Stream {
    /// Over TLS, fills `buf` with plaintext until it is full or the socket
    /// is drained, so a short read means drained, as over TCP. The end of
    /// the stream (with or without `close_notify`) reads as 0.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(s) = self.tls.as_mut() else {
            return self.tcp.read(buf);
        };
        let mut filled = 0;
        // Whether the last socket read took all the socket had: a read
        // shorter than rustls asked for. Then the records it brought are
        // all there is, and asking the socket again would only cost a
        // system call answering `WouldBlock`.
        let mut drained = false;
        loop {
            match s.conn.reader().read(&mut buf[filled..]) {
                Ok(0) if filled < buf.len() => return Ok(filled),
                Ok(n) => {
                    filled += n;
                    // Short of the buffer, rustls holds no more plaintext.
                    if filled == buf.len() || drained {
                        return Ok(filled);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && drained => {
                    return if filled > 0 { Ok(filled) } else { Err(e) };
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) => return Err(e),
            }
            match s.conn.read_tls(&mut self.tcp) {
                Ok(n) => {
                    drained = n < RUSTLS_READ;
                    s.conn
                        .process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    send(&mut s.conn, &mut self.tcp)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for Stream {
    /// Over TLS, takes plaintext only once earlier records are out (so a
    /// full socket pushes back as over TCP), then sends what it can.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(s) = self.tls.as_mut() else {
            return self.tcp.write(buf);
        };
        send(&mut s.conn, &mut self.tcp)?;
        if s.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = s.conn.writer().write(buf)?;
        send(&mut s.conn, &mut self.tcp)?;
        Ok(n)
    }

    /// Over TLS, sends the records still queued (as far as the socket
    /// takes them).
    fn flush(&mut self) -> io::Result<()> {
        match self.tls.as_mut() {
            Some(s) => send(&mut s.conn, &mut self.tcp),
            None => Ok(()),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.tcp.register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.tcp.reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.tcp.deregister(registry)
    }
}
