//! Serving listening sockets made elsewhere (`Server::from_listeners`, as
//! for systemd's socket activation): the shards share them, more sockets
//! than shards is a config error, and clients queued at shutdown are left
//! in the socket for the next server instead of being accepted and closed.

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use esockets::protocols::Echo;
use esockets::{Conn, Error, Handler, Server, ShardContext, Verdict};

use crate::util::{client, config, round_trip, Gate, Hold};

/// Echoes; on `block`, holds its shard until the test lets it go.
struct Blocking {
    /// Holds the shard.
    hold: Hold,
}

impl Handler for Blocking {
    type State = ();

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        if data == b"block" {
            self.hold.here();
        } else {
            conn.send(data);
        }
        Verdict::Consumed(data.len())
    }
}

#[test]
fn the_shards_share_a_passed_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = Server::from_listeners(config(3), vec![listener], |_| Echo).expect("serves");
    assert_eq!(server.local_addr(), addr);
    for n in 0..30 {
        round_trip(&mut client(addr), format!("client {n}").as_bytes());
    }
    server.shutdown();
    server.join().expect("clean shutdown");
}

#[test]
fn more_sockets_than_shards_is_an_error_naming_threads() {
    let sockets = (0..2)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    match Server::from_listeners(config(1), sockets, |_| Echo) {
        Err(Error::Config(err)) => {
            assert_eq!(err.field, "threads");
            assert!(err.reason.contains("at least 2"), "{}", err.reason);
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn clients_queued_at_shutdown_stay_in_the_socket_for_the_next_server() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    // What systemd keeps: the same socket, open after the server is gone.
    let kept = listener.try_clone().expect("dup");
    let (gate, hold) = Gate::new();
    let server = Server::from_listeners(config(1), vec![listener], move |_| Blocking {
        hold: hold.clone(),
    })
    .expect("serves");
    let mut first = client(addr);
    first.write_all(b"block").expect("write");
    gate.wait_held();
    // The kernel completes these while the only shard is held.
    let mut queued: Vec<TcpStream> = (0..5)
        .map(|n| {
            let mut stream = client(addr);
            stream
                .write_all(format!("queued {n}").as_bytes())
                .expect("write");
            stream
        })
        .collect();
    let handle = server.handle();
    server.shutdown();
    gate.open();
    server.join().expect("clean shutdown");
    let total: esockets::ShardStats = handle.stats().into_iter().sum();
    assert_eq!(
        total.accepted, 1,
        "the queued were left in the socket: {total:?}"
    );

    // The next server takes them, as after a restart under systemd.
    let next = Server::from_listeners(config(1), vec![kept], |_| Echo).expect("serves");
    for (n, stream) in queued.iter_mut().enumerate() {
        let line = format!("queued {n}");
        let back = crate::util::read_exact(stream, line.len());
        assert_eq!(back, line.as_bytes(), "served by the next server");
    }
    next.shutdown();
    next.join().expect("clean shutdown");
}
