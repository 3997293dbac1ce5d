//! Refusal: a handler that refuses some clients in `on_connect` closes
//! exactly those, serves the others, and the counters say so.

use std::net::SocketAddr;

use esockets::{Admission, Conn, Handler, ShardContext, Verdict};

use crate::util::{config, read_to_close, round_trip, TestServer};

/// Clients connected.
const CLIENTS: usize = 40;

/// Whether the client from `port` is refused: a rule the client can check
/// whatever shard and order it lands in. (Not plain odd ports: Linux gives
/// `connect` even ports first.)
fn is_refused(port: u16) -> bool {
    (port >> 1) & 1 == 1
}

/// Echo that refuses the clients `is_refused` names.
struct RefuseSome;

impl Handler for RefuseSome {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<()> {
        if is_refused(peer.port()) {
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

    fn on_close(
        &mut self,
        _cx: &mut ShardContext<'_>,
        id: esockets::ConnId,
        _state: (),
        reason: esockets::CloseReason,
    ) {
        // Refused clients never reach `on_close`; the others close first.
        assert_eq!(reason, esockets::CloseReason::PeerClosed, "{id}");
    }
}

#[test]
fn refused_clients_are_closed_and_the_others_served() {
    let server = TestServer::start(config(2), |_| RefuseSome);
    let mut clients: Vec<_> = (0..CLIENTS).map(|_| server.client()).collect();
    let refused = clients
        .iter()
        .filter(|c| is_refused(c.local_addr().expect("addr").port()))
        .count();
    assert!(
        refused > 0 && refused < CLIENTS,
        "the rule should refuse some: {refused} of {CLIENTS}"
    );
    for (i, stream) in clients.iter_mut().enumerate() {
        if is_refused(stream.local_addr().expect("addr").port()) {
            let got = read_to_close(stream, 0);
            assert!(got.is_empty(), "refused client {i} got data");
        } else {
            round_trip(stream, format!("client {i}\n").as_bytes());
        }
    }
    let served = (CLIENTS - refused) as u64;
    // Refused clients are counted as accepted and refused, never open or
    // closed.
    server.wait_for_total("refusals counted", |total| {
        total.accepted == CLIENTS as u64
            && total.refused == refused as u64
            && total.open == served
            && total.closed == 0
    });
    drop(clients);
    server.wait_for_total("served clients closed", |total| {
        total.closed == served && total.open == 0
    });
}
