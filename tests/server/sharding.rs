//! Sharding: with several shards, the kernel spreads clients over all of
//! them, every client stays on one shard for life, and the per-shard
//! counters agree with what the clients saw.

use std::io::Write;
use std::net::TcpStream;

use esockets::{Conn, Handler, ShardContext, ShardInfo, Verdict};

use crate::util::{config, read_exact, wait_until, TestServer, DEADLINE};

/// Shards of the test server.
const SHARDS: usize = 4;

/// Clients connected.
const CLIENTS: usize = 300;

/// Rounds of questions each client asks.
const ROUNDS: usize = 3;

/// Answers every byte with two: the index its factory was given, and the
/// shard named by the client's id.
struct WhichShard {
    /// `ShardInfo::index` of this handler's shard.
    index: u8,
}

impl Handler for WhichShard {
    type State = ();

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        let id_shard = u8::try_from(conn.id().shard()).expect("few shards");
        for _ in data {
            conn.send(&[self.index, id_shard]);
        }
        Verdict::Consumed(data.len())
    }
}

/// Makes a shard's handler.
fn which_shard(context: ShardInfo) -> WhichShard {
    WhichShard {
        index: u8::try_from(context.index).expect("few shards"),
    }
}

#[test]
fn every_shard_gets_clients_and_each_client_stays_on_one() {
    let server = TestServer::start(config(SHARDS), which_shard);
    assert_eq!(server.handle.shards(), SHARDS);
    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| server.client()).collect();
    let mut shard_of: Vec<Option<u8>> = vec![None; CLIENTS];
    for round in 0..ROUNDS {
        for stream in &mut clients {
            stream.write_all(b"?").expect("ask");
        }
        for (i, stream) in clients.iter_mut().enumerate() {
            let answer = read_exact(stream, 2);
            let (index, id_shard) = (answer[0], answer[1]);
            assert_eq!(
                index, id_shard,
                "client {i}: the id names the shard serving it"
            );
            assert!(usize::from(index) < SHARDS, "client {i}: shard {index}");
            let first = *shard_of[i].get_or_insert(index);
            assert_eq!(first, index, "client {i} moved shard in round {round}");
        }
    }
    let mut per_shard = [0u64; SHARDS];
    for shard in shard_of.iter().flatten() {
        per_shard[usize::from(*shard)] += 1;
    }
    assert!(
        per_shard.iter().all(|&n| n > 0),
        "every shard gets clients: {per_shard:?}"
    );
    // Counters are published at the end of a round: wait for the last one.
    wait_until(DEADLINE, "per-shard counters match the clients", || {
        let stats = server.handle.stats();
        stats
            .iter()
            .zip(per_shard)
            .all(|(s, n)| s.accepted == n && s.open == n && s.bytes_in == n * ROUNDS as u64)
    });
    let stats = server.handle.stats();
    for (shard, s) in stats.iter().enumerate() {
        assert_eq!(s.bytes_out, 2 * s.bytes_in, "shard {shard}: {s:?}");
        assert_eq!((s.refused, s.closed), (0, 0), "shard {shard}: {s:?}");
    }
    drop(clients);
    wait_until(DEADLINE, "every client's close is counted", || {
        server
            .handle
            .stats()
            .iter()
            .zip(per_shard)
            .all(|(s, n)| s.closed == n && s.open == 0)
    });
}
