//! A fleet reconnecting at once: 15,000 clients from four loopback source
//! addresses connect in one burst and must all be served at the first
//! try, with no listen-queue overflow (a dropped SYN or ACK would cost the
//! client a one-second retransmit).
//!
//! Its own test binary: the overflow counter is per network namespace, and
//! cargo runs test binaries one at a time.

mod child;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use child::server::{self, Server};
use socket2::{Domain, Socket, Type};

/// Clients in the storm (the test process holds one descriptor each, the
/// server another: both stay under the 20,000 open-file limit).
const CLIENTS: usize = 15_000;

/// Only against a hang: how fast the storm is served is a benchmark
/// (docs/benchmarks.md), not a test; a dropped SYN or ACK is caught
/// exactly by the retransmit count instead.
const BOUND: Duration = Duration::from_secs(15);

/// Sets `IP_BIND_ADDRESS_NO_PORT`.
fn set_bind_address_no_port(socket: &Socket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one c_int from a valid pointer.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).expect("size"),
        )
    };
    assert_eq!(
        rc,
        0,
        "IP_BIND_ADDRESS_NO_PORT: {}",
        std::io::Error::last_os_error()
    );
}

/// Segments the kernel retransmitted on `socket` (a lost SYN, or data
/// whose handshake ACK the server's full queue dropped).
fn retransmits(socket: &Socket) -> u32 {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain data; zeroes are a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::tcp_info>()).expect("size");
    // SAFETY: getsockopt writes at most `len` bytes into `info`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    info.tcpi_total_retrans
}

/// Starts a non-blocking connect from `source` to `addr`.
fn start_connect(source: IpAddr, addr: SocketAddr) -> Socket {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_nonblocking(true).expect("nonblocking");
    // The port is picked at connect time, by the whole 4-tuple: a plain
    // bind to port 0 would search for a port unused by any destination,
    // which gets slow with thousands of sockets (and TIME_WAITs) around.
    set_bind_address_no_port(&socket);
    socket
        .bind(&SocketAddr::new(source, 0).into())
        .expect("bind a loopback source");
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(err) => panic!("connect: {err}"),
    }
    socket
}

#[test]
fn fifteen_thousand_clients_connecting_at_once_are_all_served_at_once() {
    server::raise_file_limit();
    let mut server = Server::spawn(&["--bind", "127.0.0.1:0"]);
    let addr = server.listening_addr();
    let overflows_before = esockets::listen_overflows();
    let sources: Vec<IpAddr> = (2..6)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
        .collect();
    let start = Instant::now();
    let sockets: Vec<Socket> = (0..CLIENTS)
        .map(|i| start_connect(sources[i % sources.len()], addr))
        .collect();
    // Blocking writes wait for each connect to complete; the echo proves
    // the server accepted and served the client.
    for socket in &sockets {
        socket.set_nonblocking(false).expect("blocking");
        socket
            .set_write_timeout(Some(server::IO_TIMEOUT))
            .expect("timeout");
        socket
            .set_read_timeout(Some(server::IO_TIMEOUT))
            .expect("timeout");
        (&*socket).write_all(b"x").expect("write");
    }
    for (i, socket) in sockets.iter().enumerate() {
        let mut byte = [0u8; 1];
        match (&*socket).read(&mut byte) {
            Ok(1) => {}
            Ok(_) => panic!("client {i}: closed without an echo"),
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                panic!("client {i}: no echo within the timeout")
            }
            Err(err) => panic!("client {i}: {err}"),
        }
    }
    let took = start.elapsed();
    let retransmitted = sockets.iter().filter(|s| retransmits(s) > 0).count();
    let overflows = esockets::listen_overflows()
        .zip(overflows_before)
        .map(|(after, before)| after - before);
    drop(sockets);
    let (status, total) = server.stop();
    assert!(status.success(), "{status}");
    assert_eq!(
        server::counter(&total, "accepted"),
        CLIENTS as u64,
        "{total}"
    );
    assert_eq!(
        retransmitted, 0,
        "clients that had to retransmit (dropped at the listen queue)"
    );
    assert_eq!(
        overflows,
        Some(0),
        "listen-queue overflows during the storm"
    );
    assert!(
        took < BOUND,
        "{CLIENTS} clients took {took:?} to be served (bound {BOUND:?})"
    );
    eprintln!("{CLIENTS} clients connected and served in {took:?}");
}
