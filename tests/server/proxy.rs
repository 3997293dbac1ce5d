//! The PROXY protocol (issue 10): a header from a trusted proxy, whole or
//! split, gives `on_connect` the client's real address and the bytes after
//! it are the first data; an invalid header, an untrusted peer or a header
//! that never completes closes the connection before the handler sees it,
//! and the counters say which.

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crossbeam::channel::{unbounded, Receiver};
use esockets::proxy::{Command, Version};
use esockets::Config;

use crate::proxy_recorder::{Connected, Recorder};
use crate::util::{config, read_exact, read_to_close, round_trip, TestServer, DEADLINE};

/// A server with the PROXY protocol on, trusting `trusted`, and what its
/// `on_connect` sees.
fn start(trusted: &str, timeout: Duration) -> (TestServer, Receiver<Connected>) {
    let config = Config {
        proxy_protocol: true,
        proxy_trusted: vec![trusted.parse().expect("network")],
        proxy_timeout: timeout,
        ..config(1)
    };
    let (seen, connected) = unbounded();
    let server = TestServer::start(config, move |_| Recorder { seen: seen.clone() });
    (server, connected)
}

/// The next `on_connect`.
fn next(connected: &Receiver<Connected>) -> Connected {
    connected.recv_timeout(DEADLINE).expect("on_connect ran")
}

/// A version 2 header: command, family/protocol byte, address block.
fn v2(command: u8, family_protocol: u8, block: &[u8]) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x20 | command, family_protocol]);
    let len = u16::try_from(block.len()).expect("short");
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(block);
    header
}

#[test]
fn v1_gives_on_connect_the_client_and_the_data_after_it_is_echoed() {
    let (server, connected) = start("127.0.0.0/8", Duration::from_secs(5));
    let mut client = server.client();
    client
        .write_all(b"PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\nhello")
        .expect("write");
    assert_eq!(read_exact(&mut client, 5), b"hello");
    let seen = next(&connected);
    assert_eq!(seen.peer, "203.0.113.7:40000".parse().unwrap());
    let info = seen.proxy.expect("proxy info");
    assert_eq!(
        info.proxy,
        client.local_addr().unwrap(),
        "the proxy is the TCP peer"
    );
    assert_eq!(info.header.version, Version::V1);
    let addresses = info.header.addresses.expect("addresses");
    assert_eq!(addresses.destination, "192.0.2.1:443".parse().unwrap());
    round_trip(&mut client, b"more data after the header");
    server.wait_for_total("one header", |t| t.proxy_headers == 1 && t.accepted == 1);
    assert_eq!(server.total().refused, 0);
}

#[test]
fn v2_over_ipv4_and_ipv6_with_tlvs() {
    let (server, connected) = start("127.0.0.1/32", Duration::from_secs(5));
    let mut block = vec![198, 51, 100, 9, 192, 0, 2, 1];
    block.extend_from_slice(&5555u16.to_be_bytes());
    block.extend_from_slice(&80u16.to_be_bytes());
    block.extend_from_slice(&[0x04, 0x00, 0x02, 0, 0]); // NOOP TLV
    block.extend_from_slice(&[0x02, 0x00, 0x04]); // AUTHORITY TLV
    block.extend_from_slice(b"host");
    let mut client = server.client();
    let mut input = v2(1, 0x11, &block);
    input.extend_from_slice(b"ping");
    client.write_all(&input).expect("write");
    assert_eq!(read_exact(&mut client, 4), b"ping");
    let seen = next(&connected);
    assert_eq!(seen.peer, "198.51.100.9:5555".parse().unwrap());
    assert_eq!(seen.proxy.expect("info").header.version, Version::V2);

    let source: Ipv6Addr = "2001:db8::42".parse().unwrap();
    let mut block = source.octets().to_vec();
    block.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    block.extend_from_slice(&6000u16.to_be_bytes());
    block.extend_from_slice(&443u16.to_be_bytes());
    let mut client = server.client();
    client.write_all(&v2(1, 0x21, &block)).expect("write");
    round_trip(&mut client, b"over IPv6");
    assert_eq!(
        next(&connected).peer,
        "[2001:db8::42]:6000".parse().unwrap()
    );
    server.wait_for_total("two headers", |t| t.proxy_headers == 2);
}

#[test]
fn a_header_split_byte_by_byte_waits_for_its_last_byte() {
    let (server, connected) = start("127.0.0.0/8", Duration::from_secs(5));
    // Bytes the server has read, over both clients.
    let mut read = 0;
    for header in [
        b"PROXY TCP6 2001:db8::1 2001:db8::2 1234 5678\r\n".to_vec(),
        v2(1, 0x11, &[10, 1, 2, 3, 10, 0, 0, 1, 0x30, 0x39, 0, 80]),
    ] {
        let mut client = server.client();
        let (last, head) = header.split_last().expect("not empty");
        for byte in head {
            client.write_all(&[*byte]).expect("write");
            // Each byte is read on its own, so the header really arrives
            // in pieces.
            read += 1;
            server.wait_for_total("the byte read", |t| t.bytes_in == read);
        }
        assert!(
            connected.try_recv().is_err(),
            "on_connect ran before the header was complete"
        );
        client.write_all(&[*last]).expect("write");
        let seen = next(&connected);
        let expected: SocketAddr = if header.starts_with(b"PROXY") {
            "[2001:db8::1]:1234".parse().unwrap()
        } else {
            "10.1.2.3:12345".parse().unwrap()
        };
        assert_eq!(seen.peer, expected);
        round_trip(&mut client, b"after a slow header");
        read += 1 + b"after a slow header".len() as u64;
    }
    server.wait_for_total("two headers", |t| t.proxy_headers == 2 && t.refused == 0);
}

#[test]
fn invalid_headers_close_the_connection_before_on_connect() {
    let (server, connected) = start("127.0.0.0/8", Duration::from_secs(5));
    let bad: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        &v2(1, 0x11, &[1, 2, 3])[..],
    ];
    for input in bad {
        let mut client = server.client();
        client.write_all(input).expect("write");
        let got = read_to_close(&mut client, 0);
        assert!(got.is_empty());
    }
    // A v2 signature with version 1 is refused on its 13th byte.
    let mut client = server.client();
    client
        .write_all(b"\r\n\r\n\0\r\nQUIT\n\x11")
        .expect("write");
    assert!(read_to_close(&mut client, 0).is_empty());
    server.wait_for_total("five invalid headers", |t| {
        t.proxy_invalid == 5 && t.refused == 5
    });
    let total = server.total();
    assert_eq!((total.accepted, total.proxy_headers), (0, 0));
    assert!(connected.try_recv().is_err(), "on_connect never ran");
    // Others are still served.
    let mut client = server.client();
    client.write_all(b"PROXY UNKNOWN\r\n").expect("write");
    round_trip(&mut client, b"still serving");
    assert_eq!(next(&connected).peer, client.local_addr().unwrap());
}

#[test]
fn an_untrusted_peer_is_refused_at_once() {
    let (server, connected) = start("10.0.0.0/8", Duration::from_secs(5));
    let mut client = server.client();
    // Even with a valid header: only a trusted proxy may claim an address.
    let _ = client.write_all(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    assert!(read_to_close(&mut client, 0).is_empty());
    server.wait_for_total("one untrusted", |t| {
        t.proxy_untrusted == 1 && t.refused == 1
    });
    assert!(connected.try_recv().is_err(), "on_connect never ran");
    assert_eq!(server.total().accepted, 0);
}

#[test]
fn a_header_that_does_not_come_in_time_closes_the_connection() {
    let timeout = Duration::from_millis(300);
    let (server, connected) = start("127.0.0.0/8", timeout);
    let started = Instant::now();
    let mut silent = server.client();
    let mut partial = server.client();
    partial.write_all(b"PROXY TCP4 1.2.3.4").expect("write");
    assert!(read_to_close(&mut silent, 0).is_empty());
    assert!(read_to_close(&mut partial, 0).is_empty());
    assert!(
        started.elapsed() >= timeout,
        "closed after {:?}",
        started.elapsed()
    );
    server.wait_for_total("two timeouts", |t| t.proxy_timeouts == 2 && t.refused == 2);
    assert!(connected.try_recv().is_err(), "on_connect never ran");
}

#[test]
fn local_is_accepted_with_the_proxys_own_address() {
    let (server, connected) = start("127.0.0.0/8", Duration::from_secs(5));
    let mut client = server.client();
    // LOCAL with an address block it must skip, then data.
    let mut input = v2(0, 0x11, &[9, 9, 9, 9, 8, 8, 8, 8, 0, 1, 0, 2]);
    input.extend_from_slice(b"health?");
    client.write_all(&input).expect("write");
    assert_eq!(read_exact(&mut client, 7), b"health?");
    let seen = next(&connected);
    assert_eq!(seen.peer, client.local_addr().unwrap());
    let info = seen.proxy.expect("info");
    assert_eq!(
        (info.header.command, info.header.addresses),
        (Command::Local, None)
    );
    server.wait_for_total("one LOCAL", |t| t.proxy_local == 1 && t.proxy_headers == 1);
}

#[test]
fn an_ipv4_proxy_through_a_dual_stack_listener_matches_its_ipv4_network() {
    // On `[::]` an IPv4 peer shows up as `::ffff:127.0.0.1`; the trusted
    // network is written the IPv4 way.
    let config = Config {
        bind: "[::]:0".parse().unwrap(),
        proxy_protocol: true,
        proxy_trusted: vec!["127.0.0.1/32".parse().unwrap()],
        ..config(1)
    };
    let (seen, connected) = unbounded();
    let server = TestServer::start(config, move |_| Recorder { seen: seen.clone() });
    let mut client = crate::util::client(SocketAddr::from(([127, 0, 0, 1], server.addr.port())));
    client
        .write_all(b"PROXY TCP4 198.51.100.1 198.51.100.2 7 8\r\n")
        .expect("write");
    round_trip(&mut client, b"dual stack");
    let seen = next(&connected);
    assert_eq!(seen.peer, "198.51.100.1:7".parse().unwrap());
    let proxy = seen.proxy.expect("info").proxy;
    assert_eq!(proxy.ip().to_canonical(), client.local_addr().unwrap().ip());
    assert_eq!(server.total().proxy_untrusted, 0);
}

#[test]
fn shutdown_closes_connections_still_awaiting_their_header() {
    let (server, connected) = start("127.0.0.0/8", Duration::from_secs(60));
    let mut waiting = server.client();
    waiting.write_all(b"PROXY ").expect("write");
    server.wait_for_total("the partial header read", |t| t.bytes_in == 6);
    let started = Instant::now();
    server.stop().expect("clean stop");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the shard did not wait for the header"
    );
    assert!(read_to_close(&mut waiting, 0).is_empty());
    assert!(connected.try_recv().is_err(), "on_connect never ran");
}
