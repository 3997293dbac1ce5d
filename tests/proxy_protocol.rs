//! The PROXY protocol end to end (issue 10): a real HAProxy with
//! `send-proxy` and `send-proxy-v2` in front of an esockets server, whose
//! `on_connect` must see the client's own address (a client bound to
//! 127.0.0.2) and echo through it; HAProxy's health checks arrive as LOCAL
//! (v2). Then the binary's flags: `--proxy-protocol` without
//! `--proxy-trusted` is a configuration error naming the flag, and a
//! running server with it on says so, serves a proxied client, and logs
//! and counts a bad header.
//!
//! Every child runs under a deadline and is killed by its PID on drop;
//! every client socket has timeouts.

mod child;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crossbeam::channel::{unbounded, Receiver};
use esockets::proxy::{Command, Version};
use esockets::{Config, Server, ShardStats};
use socket2::{Domain, Socket, Type};

use child::haproxy::Haproxy;
use child::proxy_recorder::{Connected, Recorder};
use child::server::{client, Server as Binary};
use child::DEADLINE;

/// Read and write timeout of client sockets.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// An esockets server with the PROXY protocol on, trusting loopback, and
/// what its `on_connect` sees.
fn server() -> (Server, Receiver<Connected>) {
    let config = Config {
        bind: "127.0.0.1:0".parse().expect("address"),
        threads: 2,
        proxy_protocol: true,
        proxy_trusted: vec!["127.0.0.0/8".parse().expect("network")],
        ..Config::default()
    };
    let (seen, connected) = unbounded();
    let server = Server::bind(config, move |_| Recorder { seen: seen.clone() }).expect("bind");
    (server, connected)
}

/// A client of `to` whose own address is `source` (any port).
fn client_from(source: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::new(IpAddr::V4(source), 0).into())
        .expect("bind the client's source address");
    socket.connect(&to.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream
}

/// The `on_connect` whose peer is `peer`, skipping others (HAProxy's
/// readiness probe and health checks).
fn connected_as(connected: &Receiver<Connected>, peer: SocketAddr) -> Connected {
    let end = Instant::now() + DEADLINE;
    let mut others = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match connected.recv_timeout(left) {
            Ok(seen) if seen.peer == peer => return seen,
            Ok(seen) => others.push(seen),
            Err(_) => panic!("on_connect never saw {peer}; it saw {others:#?}"),
        }
    }
}

/// The server's counters, summed.
fn total(server: &Server) -> ShardStats {
    server.stats().into_iter().sum()
}

/// Echo through HAProxy from 127.0.0.2; `on_connect` must see that
/// client, not HAProxy, and the header must be of `version`.
fn through_haproxy(
    server_options: &str,
    version: Version,
) -> (Server, Receiver<Connected>, Haproxy) {
    let (server, connected) = server();
    let haproxy = Haproxy::start(server.local_addr(), server_options);
    for round in 0..3 {
        let mut client = client_from(Ipv4Addr::new(127, 0, 0, 2), haproxy.frontend);
        let message = format!("hello {round} through haproxy\n");
        client.write_all(message.as_bytes()).expect("write");
        let mut echoed = vec![0; message.len()];
        client.read_exact(&mut echoed).expect("the echo");
        assert_eq!(echoed, message.as_bytes());
        let me = client.local_addr().expect("local address");
        let seen = connected_as(&connected, me);
        assert_eq!(seen.peer.ip(), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        let info = seen.proxy.expect("the PROXY header");
        assert_eq!(info.header.version, version);
        assert_eq!(info.header.command, Command::Proxy);
        assert_eq!(
            info.proxy.ip(),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "HAProxy's own address"
        );
        let addresses = info.header.addresses.expect("addresses");
        assert_eq!(
            addresses.destination, haproxy.frontend,
            "what the client connected to"
        );
    }
    let stats = total(&server);
    assert_eq!(
        (
            stats.proxy_invalid,
            stats.proxy_untrusted,
            stats.proxy_timeouts
        ),
        (0, 0, 0)
    );
    (server, connected, haproxy)
}

#[test]
fn haproxy_send_proxy_v1_gives_on_connect_the_real_client() {
    let (server, _connected, _haproxy) = through_haproxy("send-proxy", Version::V1);
    // Counters are published every few milliseconds: wait for them.
    let end = Instant::now() + Duration::from_secs(10);
    while total(&server).proxy_headers < 3 {
        assert!(Instant::now() < end, "proxy_headers never reached 3");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn haproxy_send_proxy_v2_gives_on_connect_the_real_client_and_checks_are_local() {
    let (server, connected, mut haproxy) =
        through_haproxy("send-proxy-v2 check inter 100ms", Version::V2);
    // Health checks: LOCAL headers, accepted with HAProxy's own address.
    let end = Instant::now() + DEADLINE;
    loop {
        let seen = connected
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                panic!("no health check arrived; haproxy: {:#?}", haproxy.output())
            });
        let Some(info) = seen.proxy else { continue };
        if info.header.command == Command::Local {
            assert_eq!(seen.peer, info.proxy, "LOCAL keeps the proxy's address");
            assert_eq!(info.header.version, Version::V2);
            break;
        }
    }
    let end = Instant::now() + DEADLINE;
    while total(&server).proxy_local == 0 {
        assert!(Instant::now() < end, "proxy_local never counted");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn proxy_protocol_without_trusted_proxies_is_a_config_error_naming_the_flag() {
    let (status, lines) = Binary::spawn(&["--proxy-protocol", "--bind", "127.0.0.1:0"]).finish();
    assert!(!status.success());
    let error = lines.join("\n");
    assert!(
        error.contains("--proxy-trusted is required with --proxy-protocol"),
        "{error}"
    );
    let (status, lines) =
        Binary::spawn(&["--proxy-trusted", "127.0.0.1", "--bind", "127.0.0.1:0"]).finish();
    assert!(!status.success());
    assert!(lines.join("\n").contains("--proxy-protocol"), "{lines:#?}");
    let (status, lines) =
        Binary::spawn(&["--proxy-protocol", "--proxy-trusted", "10.0.0.0/40"]).finish();
    assert!(!status.success());
    assert!(lines.join("\n").contains("10.0.0.0/40"), "{lines:#?}");
}

#[test]
fn the_binary_serves_proxied_clients_and_logs_bad_headers() {
    let mut server = Binary::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--proxy-protocol",
        "--proxy-trusted",
        "10.0.0.0/8,127.0.0.1",
        "--proxy-timeout",
        "2s",
    ]);
    let addr = server.listening_addr();
    let line = server.wait_for_line("PROXY protocol on");
    assert!(
        line.contains("within 2s") && line.contains("10.0.0.0/8, 127.0.0.1/32"),
        "{line}"
    );
    let mut proxied = client(addr);
    proxied
        .write_all(b"PROXY TCP4 192.0.2.10 192.0.2.1 1000 80\r\nabc")
        .expect("write");
    let mut echoed = [0; 3];
    proxied.read_exact(&mut echoed).expect("echo");
    assert_eq!(&echoed, b"abc");
    let mut bad = client(addr);
    bad.write_all(b"HELLO\r\n").expect("write");
    let mut rest = Vec::new();
    let _ = bad.read_to_end(&mut rest);
    assert!(rest.is_empty(), "nothing is sent to a bad header");
    server.wait_for_line("invalid PROXY header: not a PROXY protocol header");
    drop(proxied);
    let (status, lines) = {
        server.signal(libc::SIGTERM);
        server.finish()
    };
    assert!(status.success(), "{status}");
    let summary = lines
        .iter()
        .find(|l| l.contains("PROXY protocol") && l.contains("headers="))
        .unwrap_or_else(|| panic!("no PROXY summary: {lines:#?}"));
    assert!(
        summary.contains("headers=1") && summary.contains("invalid=1"),
        "{summary}"
    );
}
