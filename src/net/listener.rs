//! Listening sockets: the only module that talks to `socket2`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use crate::server::config::Keepalive;
use crate::server::error::Error;

/// How each listening socket is set up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListenOptions {
    /// Listen backlog.
    pub(crate) backlog: u32,
    /// TCP keepalive, inherited by accepted sockets.
    pub(crate) keepalive: Option<Keepalive>,
    /// `TCP_USER_TIMEOUT`, inherited by accepted sockets.
    pub(crate) user_timeout: Option<Duration>,
}

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
    options: ListenOptions,
) -> Result<Vec<TcpListener>, Error> {
    let fail = |err| Error::listen(addr, err);
    if addr.port() != 0 {
        // Dropped right away: it only proves nobody else holds the port.
        probe_exclusive(addr).map_err(fail)?;
    }
    let first = listener(addr, options).map_err(fail)?;
    let actual = first.local_addr().map_err(fail)?;
    let mut group = Vec::with_capacity(count);
    group.push(first);
    for _ in 1..count {
        group.push(listener(actual, options).map_err(fail)?);
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
///
/// Keepalive and `TCP_USER_TIMEOUT` are set here once: Linux copies them
/// to every socket the listener accepts, so accepting costs no extra
/// system call for them.
fn listener(addr: SocketAddr, options: ListenOptions) -> io::Result<TcpListener> {
    let socket = socket_for(addr)?;
    socket.set_reuse_port(true)?;
    if let Some(keepalive) = options.keepalive {
        let params = TcpKeepalive::new()
            .with_time(keepalive.idle)
            .with_interval(keepalive.interval)
            .with_retries(keepalive.count);
        socket.set_tcp_keepalive(&params)?;
    }
    if let Some(timeout) = options.user_timeout {
        socket.set_tcp_user_timeout(Some(timeout))?;
    }
    socket.bind(&addr.into())?;
    // `Config::validate` keeps the backlog within `i32`.
    socket.listen(i32::try_from(options.backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Clients waiting in `listener`'s accept queue: `TCP_INFO` of a
/// listening socket reports its queue length as `tcpi_unacked`.
pub(crate) fn queued(listener: &TcpListener) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `tcp_info` is plain integers, for which zero is valid.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info` and the
    // new length into `len`; the descriptor stays open while `listener` is
    // borrowed.
    let rc = unsafe {
        libc::getsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info.tcpi_unacked as usize)
}

#[cfg(test)]
mod tests {
    use super::{bind_group, ListenOptions};
    use crate::server::error::Error;

    const OPTIONS: ListenOptions = ListenOptions {
        backlog: 16,
        keepalive: None,
        user_timeout: None,
    };

    #[test]
    fn queued_counts_clients_waiting_to_be_accepted() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 1, OPTIONS).unwrap();
        let addr = group[0].local_addr().unwrap();
        assert_eq!(super::queued(&group[0]).unwrap(), 0);
        let clients: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        // The handshake's last ACK may still be on its way on return.
        let wait_for = |n: usize| {
            let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while super::queued(&group[0]).unwrap() != n {
                assert!(std::time::Instant::now() < end, "never {n} queued");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        };
        wait_for(clients.len());
        group[0].accept().unwrap();
        assert_eq!(super::queued(&group[0]).unwrap(), 2);
    }

    #[test]
    fn port_zero_group_shares_one_port() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 3, OPTIONS).unwrap();
        let ports: Vec<u16> = group
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        assert_ne!(ports[0], 0);
        assert!(ports.iter().all(|&p| p == ports[0]), "{ports:?}");
    }

    #[test]
    fn a_second_group_on_the_same_port_is_refused() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 2, OPTIONS).unwrap();
        let addr = group[0].local_addr().unwrap();
        match bind_group(addr, 2, OPTIONS) {
            Err(Error::AddrInUse { addr: a }) => assert_eq!(a, addr),
            other => panic!("expected AddrInUse, got {:?}", other.map(|g| g.len())),
        }
    }
}
