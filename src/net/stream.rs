//! Calls on connected sockets that std and mio do not offer.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use mio::net::TcpStream;

/// Sets the options a newly accepted client needs (`TCP_NODELAY` if
/// `nodelay`); keepalive and `TCP_USER_TIMEOUT` come from the
/// listener.
pub(crate) fn set_up(stream: &TcpStream, nodelay: bool) -> io::Result<()> {
    if nodelay {
        stream.set_nodelay(true)?;
    }
    Ok(())
}

/// Reads from a socket with the `read` system call.
///
/// The same as `Read for &TcpStream`, which calls `recv(2)` with no flags,
/// minus glibc's wrapper: `read` and `recv` are cancellation points, and
/// their wrappers enable and disable asynchronous cancellation around the
/// call (about 30 instructions) for `pthread_cancel`, which nothing in
/// esockets uses. This is the hottest call in the server.
#[inline(always)]
pub(crate) fn read(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, and the
    // descriptor stays open while `socket` is borrowed.
    let n = unsafe {
        // The kernel reads every argument as a `long`.
        libc::syscall(
            libc::SYS_read,
            libc::c_long::from(socket.as_raw_fd()),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
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

/// Writes to a socket with the `sendto` system call (what `send(2)` is)
/// and `MSG_NOSIGNAL` (a vanished client never raises `SIGPIPE`).
///
/// The same as `Write for &TcpStream`, minus glibc's cancellation-point
/// wrapper (see [`read`]): the reply on the echo path is this call.
#[inline(always)]
pub(crate) fn send(socket: &impl AsRawFd, data: &[u8]) -> io::Result<usize> {
    // SAFETY: `data` is valid for reads of `data.len()` bytes, and the
    // descriptor stays open while `socket` is borrowed.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            libc::c_long::from(socket.as_raw_fd()),
            data.as_ptr(),
            data.len(),
            libc::c_long::from(libc::MSG_NOSIGNAL),
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::c_long,
        )
    };
    // A negative count is exactly the error case; any other fits `usize`.
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Writes `bufs`, in order, with `sendmsg(2)` and `MSG_NOSIGNAL`: queued
/// output (std's vectored write has no flags, so a reset peer would raise
/// `SIGPIPE` in a process that does not ignore it, such as a Python host).
pub(crate) fn send_vectored(socket: &impl AsRawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero `msghdr` is a valid empty header (no address, no
    // control data); its iovec pointer and count are set from `bufs`,
    // whose `IoSlice`s are `iovec`s by layout (std guarantees it) and stay
    // borrowed for the call.
    let n = unsafe {
        let mut header: libc::msghdr = std::mem::zeroed();
        header.msg_iov = bufs.as_ptr().cast_mut().cast();
        header.msg_iovlen = bufs.len();
        libc::sendmsg(socket.as_raw_fd(), &header, libc::MSG_NOSIGNAL)
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// The peer address of a connected socket, if it has one.
pub(crate) fn peer_of(fd: BorrowedFd<'_>) -> Option<SocketAddr> {
    socket2::SockRef::from(&fd)
        .peer_addr()
        .ok()
        .and_then(|addr| addr.as_socket())
}
