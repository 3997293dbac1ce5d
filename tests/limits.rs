//! The `esockets` binary at its limits: `--max-connections` and a low
//! open-file limit refuse clients at once (never leave them hanging in the
//! listen queue), without spinning, and serve again once clients leave.

mod child;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use child::server::{client, counter, Server};
use child::DEADLINE;

/// What became of a client that sent one line.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Its line came back.
    Served,
    /// It was closed (end of stream or reset), after these bytes.
    Refused(Vec<u8>),
}

/// Sends `line` and waits for its echo or a close, whichever comes; a
/// read timeout (a client left hanging) fails the test.
fn outcome(stream: &mut TcpStream, line: &[u8]) -> Outcome {
    // The write may fail if the server already closed us.
    let _ = stream.write_all(line);
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Outcome::Refused(got),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got == line {
                    return Outcome::Served;
                }
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("client left hanging: no echo and no close ({err})")
            }
            Err(_) => return Outcome::Refused(got), // reset
        }
    }
}

/// Connects until a client is served, within the deadline (a place frees
/// up once the server has seen an earlier client go).
fn wait_for_service(addr: SocketAddr) {
    let end = Instant::now() + DEADLINE;
    loop {
        let mut stream = client(addr);
        if outcome(&mut stream, b"again\n") == Outcome::Served {
            return;
        }
        assert!(
            Instant::now() < end,
            "no client served again after others left"
        );
        std::thread::sleep(Duration::from_millis(10)); // paces the retries only
    }
}

#[test]
fn max_connections_refuses_with_the_message_and_frees_places() {
    let mut server = Server::spawn(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "2",
        "--max-connections",
        "100",
        "--refuse-message",
        "busy, try later\n",
    ]);
    let addr = server.listening_addr();
    let line = server.wait_for_line("refused clients are sent");
    assert!(line.contains(r#""busy, try later\n""#), "{line}");
    let mut served: Vec<TcpStream> = (0..100).map(|_| client(addr)).collect();
    for stream in &mut served {
        assert_eq!(outcome(stream, b"hi\n"), Outcome::Served);
    }
    let mut extra = client(addr);
    assert_eq!(
        outcome(&mut extra, b"me too\n"),
        Outcome::Refused(b"busy, try later\n".to_vec())
    );
    for stream in &mut served {
        assert_eq!(outcome(stream, b"still here\n"), Outcome::Served);
    }
    drop(served.pop());
    wait_for_service(addr);
    let (status, total) = server.stop();
    assert!(status.success(), "{status}");
    assert!(counter(&total, "over_limit") >= 1, "{total}");
    assert!(counter(&total, "accepted") >= 101, "{total}");
}

#[test]
fn a_low_file_limit_refuses_waiting_clients_without_spinning() {
    // As `prlimit --nofile=256`: the default max_connections is 256 minus
    // the reserve (a quarter of it here), 192.
    let mut server =
        Server::spawn_with_file_limit(&["--bind", "127.0.0.1:0", "--threads", "1"], Some(256));
    let addr = server.listening_addr();
    server.wait_for_line("at most 192 clients");
    let cpu_before = server.cpu_time();
    let mut clients: Vec<TcpStream> = (0..1000).map(|_| client(addr)).collect();
    let mut served = Vec::new();
    let mut refused = 0;
    for (i, stream) in clients.iter_mut().enumerate() {
        match outcome(stream, format!("{i:04}\n").as_bytes()) {
            Outcome::Served => served.push(i),
            Outcome::Refused(_) => refused += 1,
        }
    }
    assert!(
        (150..=192).contains(&served.len()),
        "served {} of 1000, refused {refused}",
        served.len()
    );
    assert_eq!(served.len() + refused, 1000);
    let cpu = server.cpu_time().saturating_sub(cpu_before);
    assert!(
        cpu < Duration::from_secs(3),
        "the server spent {cpu:?} of CPU on 1000 clients: spinning?"
    );
    // Service resumes once the served clients leave.
    drop(clients);
    wait_for_service(addr);
    let (status, total) = server.stop();
    assert!(status.success(), "{status}");
    assert!(counter(&total, "over_limit") >= 808, "{total}");
}

#[test]
fn out_of_descriptors_with_two_shards_no_client_is_left_waiting() {
    // `--max-connections` above what 256 descriptors allow: the process
    // runs out of descriptors first, and the one spare descriptor refuses
    // waiting clients for both shards (with one spare per shard, a shard
    // whose spare number another shard took left its queue waiting).
    for balance in ["reuseport", "least-loaded"] {
        let mut server = Server::spawn_with_file_limit(
            &[
                "--bind",
                "127.0.0.1:0",
                "--threads",
                "2",
                "--balance",
                balance,
                "--max-connections",
                "1000",
                "--refuse-message",
                "busy\n",
            ],
            Some(256),
        );
        let addr = server.listening_addr();
        let cpu_before = server.cpu_time();
        let mut clients: Vec<TcpStream> = (0..1000).map(|_| client(addr)).collect();
        let (mut served, mut refused) = (0, 0);
        for (i, stream) in clients.iter_mut().enumerate() {
            match outcome(stream, format!("{i:04}\n").as_bytes()) {
                Outcome::Served => served += 1,
                Outcome::Refused(said) => {
                    assert!(said.is_empty() || said == b"busy\n", "{said:?}");
                    refused += 1;
                }
            }
        }
        assert!(
            (150..=256).contains(&served),
            "{balance}: served {served} of 1000, refused {refused}"
        );
        assert_eq!(served + refused, 1000, "{balance}");
        let cpu = server.cpu_time().saturating_sub(cpu_before);
        assert!(
            cpu < Duration::from_secs(3),
            "{balance}: the server spent {cpu:?} of CPU on 1000 clients: spinning?"
        );
        // Once the clients are gone and the server holds few descriptors,
        // the spare is back: the next client is served at once, not
        // refused as if the process were still out of descriptors.
        drop(clients);
        let end = Instant::now() + DEADLINE;
        while server.open_files() > 64 {
            assert!(
                Instant::now() < end,
                "{balance}: the server kept its clients' descriptors"
            );
            std::thread::sleep(Duration::from_millis(10)); // polls the count; not a synchronisation
        }
        let mut next = client(addr);
        assert_eq!(
            outcome(&mut next, b"next\n"),
            Outcome::Served,
            "{balance}: a client after the flood"
        );
        drop(next);
        let (status, total) = server.stop();
        assert!(status.success(), "{balance}: {status}");
        assert!(counter(&total, "refused") >= 700, "{balance}: {total}");
    }
}
