//! Listening sockets: the only module that talks to `socket2`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::Error;

/// Binds `count` listening sockets to `addr` as one `SO_REUSEPORT` group,
/// so the kernel spreads new clients across them.
///
/// With port 0 the first socket picks the port and the others join it.
/// With a fixed port, a plain bind is tried first: `SO_REUSEPORT` would
/// otherwise let this server silently join the group of another server of
/// the same user already listening there, and take half its clients.
///
/// # Errors
///
/// [`Error::AddrInUse`], [`Error::AddrNotAvailable`] or [`Error::Listen`].
pub(crate) fn bind_group(
    addr: SocketAddr,
    count: usize,
    backlog: u32,
) -> Result<Vec<TcpListener>, Error> {
    let fail = |err| Error::listen(addr, err);
    if addr.port() != 0 {
        // Dropped right away: it only proves nobody else holds the port.
        probe_exclusive(addr).map_err(fail)?;
    }
    let first = listener(addr, backlog).map_err(fail)?;
    let actual = first.local_addr().map_err(fail)?;
    let mut group = Vec::with_capacity(count);
    group.push(first);
    for _ in 1..count {
        group.push(listener(actual, backlog).map_err(fail)?);
    }
    Ok(group)
}

/// A new socket for `addr`, non-blocking and close-on-exec.
fn socket_for(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    Ok(socket)
}

/// Binds (without listening) a socket that shares the port with nobody.
fn probe_exclusive(addr: SocketAddr) -> io::Result<()> {
    socket_for(addr)?.bind(&addr.into())
}

/// One listening socket of the group.
fn listener(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = socket_for(addr)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    // `Config::validate` keeps the backlog within `i32`.
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Reads from a socket with `read(2)`.
///
/// The same as `Read for &TcpStream`, which calls `recv(2)` with no flags,
/// minus the few instructions glibc's `recv` wrapper adds: this is the
/// hottest call in the server.
pub(crate) fn read(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, and the
    // descriptor stays open while `socket` is borrowed.
    let n = unsafe { libc::read(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    // A negative count is exactly the error case; any other fits `usize`.
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Bytes this side sent (or queued) that the peer has not acknowledged yet
/// (`SIOCOUTQ`).
pub(crate) fn unacknowledged(socket: &impl AsRawFd) -> io::Result<usize> {
    let mut bytes: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (alias SIOCOUTQ) writes one c_int into `bytes`; the
    // descriptor is valid for as long as `socket` is borrowed.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut bytes) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(bytes).unwrap_or(0))
}

/// The process's open-file limit (soft, hard), if it can be read.
pub fn open_file_limit() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the valid struct we pass.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (rc == 0).then_some((limit.rlim_cur, limit.rlim_max))
}

/// Raises the soft open-file limit to the hard one; returns the new soft
/// limit, or the error.
pub fn raise_open_file_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: as above; setrlimit reads the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::{bind_group, open_file_limit};
    use crate::error::Error;

    #[test]
    fn port_zero_group_shares_one_port() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 3, 16).unwrap();
        let ports: Vec<u16> = group
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        assert_ne!(ports[0], 0);
        assert!(ports.iter().all(|&p| p == ports[0]), "{ports:?}");
    }

    #[test]
    fn a_second_group_on_the_same_port_is_refused() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 2, 16).unwrap();
        let addr = group[0].local_addr().unwrap();
        match bind_group(addr, 2, 16) {
            Err(Error::AddrInUse { addr: a }) => assert_eq!(a, addr),
            other => panic!("expected AddrInUse, got {:?}", other.map(|g| g.len())),
        }
    }

    #[test]
    fn limit_is_readable() {
        let (soft, hard) = open_file_limit().unwrap();
        assert!(soft > 0 && soft <= hard);
    }
}
