//! The sockets of a storm: bound to loopback sources before it starts,
//! connected in a burst, and what the kernel says about them afterwards.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `count` unconnected non-blocking sockets bound round-robin to the
/// loopback sources 127.0.0.2 and up (`sources` of them).
pub fn bound_sockets(count: usize, sources: u8) -> Result<Vec<std::net::TcpStream>, String> {
    (0..count)
        .map(|i| {
            let last = 2 + (i % usize::from(sources.max(1))) as u8;
            bound_socket(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        })
        .collect()
}

/// A non-blocking socket bound to `source`; its port is picked at connect
/// time by the whole 4-tuple (`IP_BIND_ADDRESS_NO_PORT`).
fn bound_socket(source: IpAddr) -> Result<std::net::TcpStream, String> {
    let os = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // sockaddr structs are fully initialised before use.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(os("socket"));
        }
        let owned = OwnedFd::from_raw_fd(fd);
        let on: libc::c_int = 1;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            len,
        );
        let bind = sockaddr(SocketAddr::new(source, 0));
        let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::bind(fd, (&bind as *const libc::sockaddr_in).cast(), size) != 0 {
            return Err(os("bind"));
        }
        Ok(std::net::TcpStream::from(owned))
    }
}

/// Starts a non-blocking connect of `socket` to `addr`.
pub fn connect(socket: &std::net::TcpStream, addr: SocketAddr) -> Result<(), String> {
    let to = sockaddr(addr);
    let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `to` is a fully initialised sockaddr_in of `size` bytes; the
    // descriptor is valid while `socket` is borrowed.
    let rc = unsafe {
        libc::connect(
            socket.as_raw_fd(),
            (&to as *const libc::sockaddr_in).cast(),
            size,
        )
    };
    let err = std::io::Error::last_os_error();
    if rc != 0 && err.raw_os_error() != Some(libc::EINPROGRESS) {
        return Err(format!("connect: {err}"));
    }
    Ok(())
}

/// An IPv4 `sockaddr_in` for `addr` (IPv6 is not used here).
fn sockaddr(addr: SocketAddr) -> libc::sockaddr_in {
    let ip = match addr.ip() {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
    };
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// Segments the kernel retransmitted on the TCP socket `fd` (`TCP_INFO`).
pub fn retransmits(fd: RawFd) -> u32 {
    // SAFETY: tcp_info is plain data; getsockopt writes at most `len` bytes.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        if rc == 0 {
            info.tcpi_total_retrans
        } else {
            0
        }
    }
}

/// `TcpExt: ListenOverflows` of this network namespace.
pub fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if names.starts_with("TcpExt:") {
            let column = names
                .split_whitespace()
                .position(|n| n == "ListenOverflows")?;
            return values.split_whitespace().nth(column)?.parse().ok();
        }
    }
    None
}

/// Raises the soft open-file limit to the hard one.
pub fn raise_file_limit() {
    // SAFETY: getrlimit/setrlimit read and write one valid struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
