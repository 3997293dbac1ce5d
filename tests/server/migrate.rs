//! The hand-over at shutdown, in a network namespace with
//! `net.ipv4.tcp_migrate_req=1`: a server whose port another server
//! joined (`Config::reuseport_join`) closes its listener without
//! accepting the clients queued in it, and the kernel moves them to the
//! other server, which serves them. Deterministic: the first server's only
//! shard is held while the clients queue.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;

use esockets::{Config, Server};

use crate::netns::Namespace;
use crate::util::{client, read_exact, Gate, Named};

/// Clients connected while the first server is held; about half queue on
/// its listener (the chance that none does is 2^-40).
const CLIENTS: usize = 40;

#[test]
fn clients_queued_at_shutdown_move_to_the_server_that_joined() {
    let Some(namespace) = Namespace::create(1) else {
        return;
    };
    // Servers and clients live in the namespace: this thread enters it,
    // and the shard threads it starts are born there.
    thread::scope(|scope| {
        scope
            .spawn(|| {
                namespace.enter();
                hand_over();
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
}

/// The test proper, inside the namespace.
fn hand_over() {
    let bind: SocketAddr = "127.0.0.1:4000".parse().expect("address");
    let (gate, hold) = Gate::new();
    let first = Server::bind(
        Config {
            bind,
            threads: 1,
            ..Config::default()
        },
        move |_| Named {
            name: b"A\n",
            hold: Some(hold.clone()),
        },
    )
    .expect("the first server binds");
    let second = Server::bind(
        Config {
            bind,
            threads: 1,
            reuseport_join: true,
            ..Config::default()
        },
        |_| Named {
            name: b"B\n",
            hold: None,
        },
    )
    .expect("the second server joins");

    // A client of the first server, to hold its shard.
    let mut blocker = loop {
        let mut stream = client(bind);
        if read_exact(&mut stream, 2) == b"A\n" {
            break stream;
        }
    };
    blocker.write_all(b"block").expect("write");
    gate.wait_held();

    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| client(bind)).collect();
    for (n, stream) in clients.iter_mut().enumerate() {
        stream
            .write_all(format!("client {n:02}").as_bytes())
            .expect("write");
    }
    let first_handle = first.handle();
    first.shutdown();
    gate.open();
    first.join().expect("the first server ends cleanly");

    // None was accepted by the first server and then closed, none reset:
    // every one is served by the second.
    for (n, stream) in clients.iter_mut().enumerate() {
        let line = format!("client {n:02}");
        let got = read_exact(stream, 2 + line.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            format!("B\n{line}"),
            "client {n} was served by the second server"
        );
    }
    let first_total: esockets::ShardStats = first_handle.stats().into_iter().sum();
    assert_eq!(
        first_total.accepted, 1,
        "the first server accepted only its blocker: {first_total:?}"
    );
    let mut rest = Vec::new();
    blocker
        .read_to_end(&mut rest)
        .expect("the blocker's clean close");
    second.shutdown();
    second.join().expect("the second server ends cleanly");
}
