//! Echo: payloads of every size come back byte-exact, over many concurrent
//! connections, on IPv4 and IPv6, and a half-closed client gets all its
//! echo before the end of stream.

use std::io::Write;
use std::net::Shutdown;
use std::thread;

use rand::{Rng, SeedableRng};

use crate::util::{client, expect_clean_close, pattern, read_exact, round_trip, TestServer};

/// Largest payload sent.
const MAX_PAYLOAD: usize = 4 * 1024 * 1024;

/// Concurrent clients in the big echo test.
const CLIENTS: usize = 16;

/// Payload sizes for client `index`: random, spread over 1 byte to 4 MiB
/// on a log scale; client 0 sends both extremes.
fn sizes(index: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut sizes: Vec<usize> = (0..4)
        .map(|_| {
            let exp = rng.gen_range(0.0..=22.0_f64);
            (2f64.powf(exp) as usize).clamp(1, MAX_PAYLOAD)
        })
        .collect();
    if index == 0 {
        sizes.extend([1, MAX_PAYLOAD]);
    }
    sizes
}

#[test]
fn random_payloads_come_back_byte_exact_over_concurrent_connections() {
    let server = TestServer::echo(2);
    let seed: u64 = rand::random();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| {
            let addr = server.addr;
            thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ index as u64);
                let payloads: Vec<Vec<u8>> = sizes(index, &mut rng)
                    .into_iter()
                    .map(|len| {
                        let mut payload = vec![0u8; len];
                        rng.fill(&mut payload[..]);
                        payload
                    })
                    .collect();
                let mut reader = client(addr);
                let mut writer = reader.try_clone().expect("clone");
                let expected: Vec<u8> = payloads.concat();
                // Writing in its own thread: a 4 MiB echo cannot fit in the
                // socket buffers while nobody reads.
                let writing = thread::spawn(move || {
                    for payload in &payloads {
                        writer.write_all(payload).expect("write");
                    }
                });
                let got = read_exact(&mut reader, expected.len());
                writing.join().expect("writer");
                assert!(
                    got == expected,
                    "client {index} (seed {seed}): echo of {} bytes differs",
                    expected.len()
                );
                expected.len()
            })
        })
        .collect();
    let sent: usize = clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .sum();
    assert!(sent > MAX_PAYLOAD);
    server.wait_for_total("every byte counted in and out", |total| {
        total.accepted == CLIENTS as u64
            && total.bytes_in == sent as u64
            && total.bytes_out == sent as u64
    });
}

#[test]
fn one_shard_echoes_many_small_messages_in_order() {
    let server = TestServer::echo(1);
    let mut stream = server.client();
    for i in 0..200u64 {
        round_trip(&mut stream, &pattern(1 + (i as usize * 37) % 300, i));
    }
}

#[test]
fn echo_over_ipv6_loopback() {
    let config = esockets::Config {
        bind: "[::1]:0".parse().expect("address"),
        ..crate::util::config(2)
    };
    let server = TestServer::start(config, |_| esockets::protocols::Echo);
    assert!(server.addr.is_ipv6(), "{}", server.addr);
    let mut stream = server.client();
    round_trip(&mut stream, b"over IPv6\n");
}

#[test]
fn half_closed_client_gets_all_its_echo_then_end_of_stream() {
    let server = TestServer::echo(2);
    let mut stream = server.client();
    let data = pattern(3 * 1024 * 1024, 7);
    let mut writer = stream.try_clone().expect("clone");
    let sent = data.clone();
    let writing = thread::spawn(move || {
        writer.write_all(&sent).expect("write");
        writer.shutdown(Shutdown::Write).expect("half close");
    });
    expect_clean_close(&mut stream, &data);
    writing.join().expect("writer");
}
