//! Listening sockets: the only module that talks to `socket2`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use crate::error::Error;
use crate::net::keepalive::Keepalive;

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
/// With `join` (`Config::reuseport_join`) that probe is skipped: joining
/// is what is asked for.
///
/// # Errors
///
/// [`Error::AddrInUse`], [`Error::JoinRefused`],
/// [`Error::AddrNotAvailable`] or [`Error::Listen`].
pub(crate) fn bind_group(
    addr: SocketAddr,
    count: usize,
    options: ListenOptions,
    join: bool,
) -> Result<Vec<TcpListener>, Error> {
    let fail = |err: io::Error| {
        if join && err.kind() == io::ErrorKind::AddrInUse {
            Error::JoinRefused { addr }
        } else {
            Error::listen(addr, err)
        }
    };
    if addr.port() != 0 && !join {
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
    if join {
        // The group's steering program, if the server we join set one,
        // would misroute clients: back to the kernel's hash.
        super::steer::detach(&group[0]);
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
    set_options(&socket, options)?;
    socket.bind(&addr.into())?;
    // `Config::validate` keeps the backlog within `i32`.
    socket.listen(i32::try_from(options.backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Listeners for `count` shards from listening sockets someone else made
/// (systemd's socket activation, or the library's caller): shard `i`
/// takes socket `i mod K`, the shards beyond the `K` sockets through a
/// duplicate descriptor, so they wait on the same accept queue. Each is
/// made non-blocking and given keepalive and `TCP_USER_TIMEOUT` as
/// configured; the backlog stays as its maker set it.
///
/// # Errors
///
/// [`Error::Passed`] if a socket cannot be set up or duplicated.
pub(crate) fn adopt_group(
    passed: Vec<std::net::TcpListener>,
    count: usize,
    options: ListenOptions,
) -> Result<Vec<TcpListener>, Error> {
    use std::os::fd::AsRawFd;
    if passed.is_empty() {
        return Err(Error::Passed {
            reason: "none was passed".into(),
        });
    }
    let fail = |socket: &std::net::TcpListener, err: io::Error| Error::Passed {
        reason: format!("descriptor {}: {err}", socket.as_raw_fd()),
    };
    for socket in &passed {
        let socket2 = socket2::SockRef::from(socket);
        socket2.set_nonblocking(true).map_err(|e| fail(socket, e))?;
        set_options(&socket2, options).map_err(|e| fail(socket, e))?;
    }
    let mut extra = Vec::with_capacity(count.saturating_sub(passed.len()));
    for shard in passed.len()..count {
        let socket = &passed[shard % passed.len()];
        extra.push(socket.try_clone().map_err(|e| fail(socket, e))?);
    }
    let group = passed
        .into_iter()
        .chain(extra)
        .map(TcpListener::from_std)
        .collect();
    Ok(group)
}

/// The listening TCP socket at descriptor `fd`, passed to this process
/// (systemd's socket activation), made close-on-exec. The descriptor is
/// taken over only once it proved to be one.
///
/// # Errors
///
/// What is wrong with it, in words.
pub(crate) fn passed_listener(fd: std::os::fd::RawFd) -> Result<std::net::TcpListener, String> {
    use std::os::fd::{BorrowedFd, FromRawFd};
    // SAFETY: F_GETFD only reads the descriptor's flags.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err("not open".into());
    }
    // SAFETY: the descriptor is open (checked just above), and only
    // borrowed for the checks below.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let socket = socket2::SockRef::from(&borrowed);
    let kind = socket
        .r#type()
        .map_err(|err| format!("not a socket ({err})"))?;
    let domain = socket.domain().map_err(|err| err.to_string())?;
    if kind != Type::STREAM || !(domain == Domain::IPV4 || domain == Domain::IPV6) {
        return Err(format!(
            "not a TCP socket ({kind:?}, {domain:?}); only ListenStream= with an address works"
        ));
    }
    if !socket.is_listener().map_err(|err| err.to_string())? {
        return Err("a TCP socket that is not listening (Accept=yes is not supported)".into());
    }
    socket.set_cloexec(true).map_err(|err| err.to_string())?;
    // SAFETY: the descriptor is an open listening TCP socket that systemd
    // passed to this process and nothing else in it owns.
    Ok(unsafe { std::net::TcpListener::from_raw_fd(fd) })
}

/// Keepalive and `TCP_USER_TIMEOUT` on a listener, copied by Linux to
/// every socket it accepts.
fn set_options(socket: &Socket, options: ListenOptions) -> io::Result<()> {
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
    Ok(())
}

/// The inode number of a socket, as `/proc/net/tcp` lists it.
pub(crate) fn inode(socket: &impl std::os::fd::AsRawFd) -> Option<u64> {
    // SAFETY: `stat` is plain integers, for which zero is valid.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one `stat` into the struct we own; the
    // descriptor is open while `socket` is borrowed.
    let rc = unsafe { libc::fstat(socket.as_raw_fd(), &mut stat) };
    (rc == 0).then_some(stat.st_ino)
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
    use crate::error::Error;

    const OPTIONS: ListenOptions = ListenOptions {
        backlog: 16,
        keepalive: None,
        user_timeout: None,
    };

    #[test]
    fn queued_counts_clients_waiting_to_be_accepted() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 1, OPTIONS, false).unwrap();
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
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 3, OPTIONS, false).unwrap();
        let ports: Vec<u16> = group
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        assert_ne!(ports[0], 0);
        assert!(ports.iter().all(|&p| p == ports[0]), "{ports:?}");
    }

    #[test]
    fn a_second_group_on_the_same_port_is_refused() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 2, OPTIONS, false).unwrap();
        let addr = group[0].local_addr().unwrap();
        match bind_group(addr, 2, OPTIONS, false) {
            Err(Error::AddrInUse { addr: a }) => assert_eq!(a, addr),
            other => panic!("expected AddrInUse, got {:?}", other.map(|g| g.len())),
        }
    }

    #[test]
    fn joining_takes_a_place_in_the_group_on_the_port() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 2, OPTIONS, false).unwrap();
        let addr = group[0].local_addr().unwrap();
        let joined = bind_group(addr, 2, OPTIONS, true).unwrap();
        assert_eq!(joined[1].local_addr().unwrap(), addr);
    }

    #[test]
    fn joining_a_socket_without_reuseport_is_refused() {
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = plain.local_addr().unwrap();
        match bind_group(addr, 1, OPTIONS, true) {
            Err(Error::JoinRefused { addr: a }) => assert_eq!(a, addr),
            other => panic!("expected JoinRefused, got {:?}", other.map(|g| g.len())),
        }
    }

    #[test]
    fn adopted_sockets_are_shared_by_the_shards_beyond_them() {
        let passed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = passed.local_addr().unwrap();
        let group = super::adopt_group(vec![passed], 3, OPTIONS).unwrap();
        assert_eq!(group.len(), 3);
        let inodes: Vec<_> = group.iter().map(|l| super::inode(l).unwrap()).collect();
        assert!(
            inodes.iter().all(|&i| i == inodes[0]),
            "one socket: {inodes:?}"
        );
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        // Whichever descriptor accepts, it takes the one client.
        loop {
            match group[2].accept() {
                Ok((_, _)) => break,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(std::time::Instant::now() < end, "never accepted");
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }
}
