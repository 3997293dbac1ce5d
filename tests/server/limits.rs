//! Connection limits: at `max_connections` a new client gets the refuse
//! message and a close at once, without the handler seeing it; the
//! clients already in are still served; a freed place lets a new client
//! in; and the counters say so.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use esockets::{Admission, Config, Conn, Handler, ShardContext, Verdict};

use crate::util::{config, expect_clean_close, round_trip, TestServer};

/// The limit under test.
const MAX: usize = 100;

/// What a client over the limit is told.
const REFUSAL: &[u8] = b"-ERR max number of clients reached\r\n";

/// Echo that counts the clients it is shown.
struct CountingEcho {
    /// `on_connect` calls, over all shards.
    connects: Arc<AtomicUsize>,
}

impl Handler for CountingEcho {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        self.connects.fetch_add(1, Ordering::Relaxed);
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
}

/// Connects a client over the limit and asserts it gets the refusal and
/// a clean close, promptly.
fn expect_refused(server: &TestServer) {
    let started = Instant::now();
    let mut stream = server.client();
    expect_clean_close(&mut stream, REFUSAL);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the refusal took {took:?}: it should come at once"
    );
}

#[test]
fn past_max_connections_clients_get_the_refusal_and_a_close() {
    let connects = Arc::new(AtomicUsize::new(0));
    let server = {
        let connects = Arc::clone(&connects);
        TestServer::start(
            Config {
                max_connections: Some(MAX),
                refuse_message: Some(Bytes::from_static(REFUSAL)),
                ..config(2)
            },
            move |_| CountingEcho {
                connects: Arc::clone(&connects),
            },
        )
    };
    assert_eq!(server.handle.max_connections(), MAX);
    let mut clients: Vec<TcpStream> = (0..MAX).map(|_| server.client()).collect();
    server.wait_for_total("the first 100 clients in", |total| {
        total.open == MAX as u64 && total.accepted == MAX as u64
    });

    // The limit is for the whole process, whichever shard a client lands
    // on: every client past it is refused, none reaches the handler.
    for _ in 0..3 {
        expect_refused(&server);
    }
    server.wait_for_total("three refusals counted", |total| {
        total.over_limit == 3 && total.refused == 3 && total.open == MAX as u64
    });
    assert_eq!(
        connects.load(Ordering::Relaxed),
        MAX,
        "refused clients never reach on_connect"
    );
    for (i, stream) in clients.iter_mut().enumerate() {
        round_trip(stream, format!("client {i} still served\n").as_bytes());
    }

    // One leaves: its place goes to the next client, and only one.
    drop(clients.swap_remove(0));
    server.wait_for_total("a place freed", |total| {
        total.open == MAX as u64 - 1 && total.closed == 1
    });
    let mut newcomer = server.client();
    round_trip(&mut newcomer, b"a newcomer in the freed place\n");
    clients.push(newcomer);
    server.wait_for_total("the newcomer counted", |total| {
        total.open == MAX as u64 && total.accepted == MAX as u64 + 1 && total.over_limit == 3
    });
    expect_refused(&server);
    server.wait_for_total("a fourth refusal counted", |total| {
        total.over_limit == 4 && total.open == MAX as u64
    });
    assert_eq!(connects.load(Ordering::Relaxed), MAX + 1);
    for stream in &mut clients {
        round_trip(stream, b"served after the churn\n");
    }
}

#[test]
fn without_a_refuse_message_the_client_just_sees_the_close() {
    let server = TestServer::start(
        Config {
            max_connections: Some(1),
            ..config(1)
        },
        |_| esockets::protocols::Echo,
    );
    let mut first = server.client();
    round_trip(&mut first, b"in\n");
    let mut second = server.client();
    expect_clean_close(&mut second, b"");
    round_trip(&mut first, b"still in\n");
    server.wait_for_total("one refusal counted", |total| {
        total.over_limit == 1 && total.open == 1
    });
}

/// Refuses clients while `refusing` is set, echoes the others.
struct RefuseWhile {
    /// Whether `on_connect` refuses.
    refusing: Arc<std::sync::atomic::AtomicBool>,
}

impl Handler for RefuseWhile {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        if self.refusing.load(Ordering::Relaxed) {
            Admission::Refuse
        } else {
            Admission::Accept(())
        }
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
}

#[test]
fn clients_the_handler_refused_or_that_left_give_their_place_back() {
    const LIMIT: usize = 3;
    let refusing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let server = {
        let refusing = Arc::clone(&refusing);
        TestServer::start(
            Config {
                max_connections: Some(LIMIT),
                refuse_message: Some(Bytes::from_static(REFUSAL)),
                ..config(2)
            },
            move |_| RefuseWhile {
                refusing: Arc::clone(&refusing),
            },
        )
    };
    // Ten refusals by the handler, and ten clients that come and go: each
    // takes a place for a moment only.
    for _ in 0..10 {
        expect_clean_close(&mut server.client(), b"");
    }
    refusing.store(false, Ordering::Relaxed);
    for i in 0..10 {
        round_trip(&mut server.client(), format!("passing {i}\n").as_bytes());
        server.wait_for_total("the passing client gone", |total| total.closed == i + 1);
    }
    server.wait_for_total("every place free again", |total| {
        total.refused == 10 && total.closed == 10 && total.open == 0
    });
    let mut clients: Vec<TcpStream> = (0..LIMIT).map(|_| server.client()).collect();
    for stream in &mut clients {
        round_trip(stream, b"all places usable\n");
    }
    expect_refused(&server);
    server.wait_for_total("only the last one over the limit", |total| {
        total.over_limit == 1
    });
}
