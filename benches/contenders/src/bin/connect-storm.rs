//! `connect-storm`: a fleet reconnecting at once. Makes N sockets bound to
//! several loopback source addresses (not timed), then starts their
//! non-blocking connects in one burst from several threads, sends one byte
//! on each and waits for every echo. Prints how long that took, how
//! many clients had to retransmit (a SYN or handshake ACK dropped at a full
//! listen queue costs the client a 1 s retransmit), and the change in the
//! namespace's `ListenOverflows` counter.
//!
//! Usage: `connect-storm --addr 127.0.0.1:1234 [--connections 15000]
//! [--sources 4]`. Keep `--connections` under the open-file limit.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use clap::Parser;

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "connect-storm")]
struct Cli {
    /// The echo server.
    #[arg(long)]
    addr: SocketAddr,
    /// Clients connecting at once.
    #[arg(long, default_value_t = 15_000)]
    connections: usize,
    /// Loopback source addresses used round-robin: 127.0.0.2 and up.
    #[arg(long, default_value_t = 4)]
    sources: u8,
    /// Threads starting the connects (the burst is as fast as they are).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> Result<(), String> {
    let cli = Cli::parse();
    raise_file_limit();
    let sockets: Vec<std::net::TcpStream> = (0..cli.connections)
        .map(|i| {
            let last = 2 + (i % usize::from(cli.sources.max(1))) as u8;
            bound_socket(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        })
        .collect::<Result<_, _>>()?;
    let before = listen_overflows();
    let start = Instant::now();
    let share = sockets.len().div_ceil(cli.threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let burst: Vec<_> = sockets
            .chunks(share)
            .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(|s| connect(s, cli.addr))))
            .collect();
        burst.into_iter().try_for_each(|thread| {
            thread
                .join()
                .map_err(|_| "a connect thread panicked".to_owned())?
        })
    })?;
    let timeout = Some(Duration::from_secs(30));
    for socket in &sockets {
        socket.set_nonblocking(false).map_err(|e| e.to_string())?;
        socket
            .set_write_timeout(timeout)
            .map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(timeout)
            .map_err(|e| e.to_string())?;
        (&*socket)
            .write_all(b"x")
            .map_err(|e| format!("write: {e}"))?;
    }
    for socket in &sockets {
        let mut byte = [0u8; 1];
        (&*socket)
            .read_exact(&mut byte)
            .map_err(|e| format!("echo: {e}"))?;
    }
    let served = start.elapsed();
    let retransmitted = sockets.iter().filter(|s| retransmits(s) > 0).count();
    let overflows = listen_overflows()
        .zip(before)
        .map(|(after, before)| after.saturating_sub(before));
    println!(
        "{{\"connections\": {}, \"served_ms\": {:.1}, \"retransmitted\": {}, \"listen_overflows\": {}}}",
        cli.connections,
        served.as_secs_f64() * 1e3,
        retransmitted,
        overflows.map_or("null".to_owned(), |n| n.to_string())
    );
    Ok(())
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
fn connect(socket: &std::net::TcpStream, addr: SocketAddr) -> Result<(), String> {
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

/// Segments the kernel retransmitted on `socket` (`TCP_INFO`).
fn retransmits(socket: &std::net::TcpStream) -> u32 {
    // SAFETY: tcp_info is plain data; getsockopt writes at most `len` bytes.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            socket.as_raw_fd(),
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
fn listen_overflows() -> Option<u64> {
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
fn raise_file_limit() {
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
