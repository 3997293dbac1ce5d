//! Cross-thread sends: `ServerHandle::send` and `close` reach the client an
//! id names, from any thread, and a stale id never reaches the client that
//! took over its slot.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use crossbeam::channel::{unbounded, Receiver, Sender};
use esockets::{Admission, CloseReason, Conn, ConnId, Handler, SendError, ShardContext, Verdict};

use crate::util::{
    assert_silent, config, expect_clean_close, read_exact, round_trip, TestServer, DEADLINE,
};

/// Echo that reports every client's id as it connects, and every close.
struct Report {
    /// Where `(peer, id)` of new clients go.
    connects: Sender<(SocketAddr, ConnId)>,
    /// Where `(id, reason)` of closed clients go.
    closes: Sender<(ConnId, CloseReason)>,
}

impl Handler for Report {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<()> {
        self.connects.send((peer, conn.id())).expect("test listens");
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        conn.send(data);
        Verdict::Consumed(data.len())
    }

    fn on_close(
        &mut self,
        _cx: &mut ShardContext<'_>,
        id: ConnId,
        _state: (),
        reason: CloseReason,
    ) {
        // The test may be done listening by the time the server shuts down.
        let _ = self.closes.send((id, reason));
    }
}

/// Reports of new clients: `(peer, id)`.
type Connected = Receiver<(SocketAddr, ConnId)>;

/// Reports of closed clients: `(id, reason)`.
type Closed = Receiver<(ConnId, CloseReason)>;

/// A reporting echo server with `threads` shards, and its reports.
fn report_server(threads: usize) -> (TestServer, Connected, Closed) {
    let (connects, connected) = unbounded();
    let (closes, closed) = unbounded();
    let server = TestServer::start(config(threads), move |_| Report {
        connects: connects.clone(),
        closes: closes.clone(),
    });
    (server, connected, closed)
}

/// Connects a client and learns its id from the server's report.
fn connect(server: &TestServer, connected: &Connected) -> (TcpStream, ConnId) {
    let stream = server.client();
    let (peer, id) = connected.recv_timeout(DEADLINE).expect("connect reported");
    assert_eq!(
        peer,
        stream.local_addr().expect("addr"),
        "reports come in order"
    );
    (stream, id)
}

#[test]
fn sends_from_other_threads_reach_the_client_the_id_names() {
    let (server, connected, _closed) = report_server(3);
    let mut clients: Vec<TcpStream> = (0..30).map(|_| server.client()).collect();
    let mut ids: HashMap<SocketAddr, ConnId> = HashMap::new();
    for _ in 0..clients.len() {
        let (peer, id) = connected.recv_timeout(DEADLINE).expect("connect reported");
        assert!(id.shard() < 3, "{id}");
        assert!(ids.insert(peer, id).is_none(), "one report per client");
    }
    let handle = server.handle.clone();
    let to_send = ids.clone();
    // Two threads share the sending; neither is a shard thread.
    let senders: Vec<_> = (0..2)
        .map(|part| {
            let (handle, ids) = (handle.clone(), to_send.clone());
            thread::spawn(move || {
                for (peer, id) in ids.iter().filter(|(p, _)| p.port() % 2 == part) {
                    assert!(handle
                        .send(*id, format!("to {peer}\n").into_bytes())
                        .is_ok());
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().expect("sender");
    }
    for stream in &mut clients {
        let me = stream.local_addr().expect("addr");
        let expected = format!("to {me}\n");
        assert_eq!(read_exact(stream, expected.len()), expected.as_bytes());
        round_trip(stream, b"and echo still works\n");
    }
}

#[test]
fn a_stale_id_does_not_reach_the_next_client_in_its_slot() {
    let (server, connected, closed) = report_server(1);
    let (first, stale) = connect(&server, &connected);
    drop(first);
    let (id, reason) = closed.recv_timeout(DEADLINE).expect("close reported");
    assert_eq!((id, reason), (stale, CloseReason::PeerClosed));

    let (mut second, fresh) = connect(&server, &connected);
    assert_eq!(fresh.slot(), stale.slot(), "the slot is reused");
    assert_ne!(
        fresh.generation(),
        stale.generation(),
        "with a new generation"
    );
    assert_ne!(fresh, stale);

    // Commands run in order, so "stale" would arrive first if it leaked.
    assert!(server.handle.send(stale, b"stale".to_vec()).is_ok());
    assert!(server.handle.close(stale).is_ok());
    assert!(server.handle.send(fresh, b"fresh".to_vec()).is_ok());
    assert_eq!(read_exact(&mut second, 5), b"fresh");
    assert_silent(&mut second, Duration::from_millis(100));
    round_trip(&mut second, b"not closed by the stale id\n");
}

#[test]
fn closing_by_id_delivers_what_was_sent_first() {
    let (server, connected, closed) = report_server(2);
    let (mut stream, id) = connect(&server, &connected);
    assert!(server.handle.send(id, b"last words\n".to_vec()).is_ok());
    assert!(server.handle.close(id).is_ok());
    expect_clean_close(&mut stream, b"last words\n");
    let (closed_id, reason) = closed.recv_timeout(DEADLINE).expect("close reported");
    assert_eq!((closed_id, reason), (id, CloseReason::Server));
}

#[test]
fn sends_to_a_stopped_server_say_it_stopped() {
    let (server, connected, _closed) = report_server(2);
    let (mut stream, id) = connect(&server, &connected);
    stream.write_all(b"x").expect("write");
    let handle = server.handle.clone();
    server.stop().expect("clean join");
    assert!(
        matches!(
            handle.send(id, b"too late".to_vec()),
            Err(SendError::Stopped)
        ),
        "the shard has stopped"
    );
    assert!(matches!(handle.close(id), Err(SendError::Stopped)));
}
