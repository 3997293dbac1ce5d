//! Sockets: non-blocking connects from a chosen source address (bound with
//! `IP_BIND_ADDRESS_NO_PORT`, so the port is picked at connect time per
//! destination and ~28k ports are available per source address instead of
//! ports being burnt by `bind(port 0)`), and zero-linger closes (RST, no
//! TIME_WAIT left behind).

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::net::TcpStream;
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

/// Starts a non-blocking connect to `to`, from `from` when given.
/// `EINPROGRESS` is success: completion is signalled by writability.
pub fn start_connect(to: SocketAddr, from: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_nodelay(true)?;
    if let Some(ip) = from {
        if ip.is_ipv4() {
            set_bind_address_no_port(&socket)?;
        }
        socket.bind(&SockAddr::from(SocketAddr::new(ip, 0)))?;
    }
    match socket.connect(&SockAddr::from(to)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(std::net::TcpStream::from(socket)))
}

/// Asks the kernel to choose the source port at connect time, not at bind.
fn set_bind_address_no_port(socket: &Socket) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: the fd is open for the lifetime of `socket`; the option value
    // points at a live c_int of the length given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether a connect started with [`start_connect`] has finished:
/// `Ok(true)` connected, `Ok(false)` still in progress, `Err` failed.
pub fn connect_result(stream: &TcpStream) -> io::Result<bool> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Closes `stream` with an RST (zero linger), leaving no TIME_WAIT.
pub fn close_reset(stream: TcpStream) {
    // A failure only means a normal close happens instead.
    let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Whether `stream` still looks open: a non-blocking peek finds no EOF and
/// no error.
pub fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    }
}

/// Writes `out[*pos..]` until all of it is written or the socket is full,
/// then drops from `out` what was written, and flushes `stream` (over TLS:
/// the records still queued). A write that takes nothing (the peer is
/// gone) is `WriteZero`.
pub fn write_queued(stream: &mut impl Write, out: &mut Vec<u8>, pos: &mut usize) -> io::Result<()> {
    while *pos < out.len() {
        match stream.write(&out[*pos..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if *pos == out.len() {
        out.clear();
    } else {
        out.drain(..*pos);
    }
    *pos = 0;
    stream.flush()
}
