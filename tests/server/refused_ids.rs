//! Regression: the id of a client refused in `on_connect`, kept by the
//! handler (or by a timer, or a request deferred in that very call), never
//! reaches the next client in that slot.

use std::net::SocketAddr;
use std::time::Duration;

use crossbeam::channel::{unbounded, Sender};
use esockets::{Admission, CloseReason, Conn, ConnId, Handler, ShardContext, Verdict};

use crate::util::{
    assert_silent, complete_lines, config, read_line, read_to_close, round_trip, TestServer,
    DEADLINE,
};

/// What the handler tells the test.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// A client was refused; this was its id.
    Refused(ConnId),
    /// A client was accepted with this id.
    Accepted(ConnId),
    /// A timer fired for this client with this tag.
    Fired(ConnId, u64),
    /// A client closed.
    Closed(ConnId, CloseReason),
}

/// Refuses its first client, after aiming at it everything a handler can
/// aim at an id: a timer, a deferred send and a deferred close. Keeps its
/// id. Later clients are accepted and may say:
///
/// - `poke`: sends to and closes the kept id, through the context, then
///   answers `poked`;
/// - `timer`: sets a 60 ms timer (tag 2) for itself;
/// - anything else is echoed.
struct RefuseFirst {
    /// The refused client's id, once refused.
    stale: Option<ConnId>,
    /// Where the events go.
    events: Sender<Event>,
}

impl Handler for RefuseFirst {
    type State = ();

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        let id = conn.id();
        if self.stale.is_some() {
            let _ = self.events.send(Event::Accepted(id));
            return Admission::Accept(());
        }
        self.stale = Some(id);
        cx.set_timer(id, Duration::from_millis(30), 1);
        cx.send(id, &b"deferred to the refused client\n"[..])
            .expect("same shard");
        cx.close(id).expect("same shard");
        let _ = self.events.send(Event::Refused(id));
        Admission::Refuse
    }

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        let (lines, consumed) = complete_lines(data);
        for line in lines {
            match line.as_str() {
                "poke" => {
                    let stale = self.stale.expect("a client was refused");
                    cx.send(stale, &b"stale via the context\n"[..])
                        .expect("same shard");
                    cx.close(stale).expect("same shard");
                    conn.send(b"poked\n");
                }
                "timer" => {
                    cx.set_timer(conn.id(), Duration::from_millis(60), 2);
                }
                _ => conn.send(format!("{line}\n").as_bytes()),
            }
        }
        Verdict::Consumed(consumed)
    }

    fn on_timer(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        tag: u64,
    ) {
        let _ = self.events.send(Event::Fired(conn.id(), tag));
        conn.send(format!("fired {tag}\n").as_bytes());
    }

    fn on_close(&mut self, _cx: &mut ShardContext<'_>, id: ConnId, _state: (), why: CloseReason) {
        let _ = self.events.send(Event::Closed(id, why));
    }
}

#[test]
fn the_id_of_a_refused_client_never_reaches_the_next_client_in_its_slot() {
    let (events, received) = unbounded();
    let server = TestServer::start(config(1), move |_| RefuseFirst {
        stale: None,
        events: events.clone(),
    });
    let mut refused = server.client();
    let stale = match received.recv_timeout(DEADLINE).expect("refusal reported") {
        Event::Refused(id) => id,
        other => panic!("expected the refusal, got {other:?}"),
    };
    assert!(
        read_to_close(&mut refused, 0).is_empty(),
        "nothing deferred reaches a refused client"
    );

    let mut next = server.client();
    let fresh = match received.recv_timeout(DEADLINE).expect("accept reported") {
        Event::Accepted(id) => id,
        other => panic!("expected the accept, got {other:?}"),
    };
    assert_eq!(
        fresh.slot(),
        stale.slot(),
        "the refused client's slot is reused"
    );
    assert_ne!(
        fresh.generation(),
        stale.generation(),
        "with a new generation"
    );

    // From another thread, from the handler, and by the refused client's
    // own timer and deferred requests: none of it may reach `next`.
    server
        .handle
        .send(stale, &b"stale via the handle\n"[..])
        .expect("queued (and dropped by the shard)");
    server.handle.close(stale).expect("queued (and dropped)");
    round_trip(&mut next, b"echo first\n");
    std::io::Write::write_all(&mut next, b"poke\ntimer\n").expect("write");
    assert_eq!(read_line(&mut next), "poked");
    // Its own timer (60 ms) firing proves the stale one's time (30 ms,
    // set earlier) has passed.
    assert_eq!(read_line(&mut next), "fired 2");
    assert_silent(&mut next, Duration::from_millis(100));
    round_trip(&mut next, b"still open\n");

    let events: Vec<Event> = received.try_iter().collect();
    let fired: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Fired(..)))
        .collect();
    assert_eq!(
        fired,
        [&Event::Fired(fresh, 2)],
        "only the live client's timer fired"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Closed(id, _) if *id == stale || *id == fresh)),
        "no close for the refused id, none for the live client: {events:?}"
    );
}
