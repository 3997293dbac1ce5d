//! `Handler::on_round_end`: called once per loop round, after the round's
//! callbacks. A handler counts its calls and the `on_data` calls since
//! the last one: after traffic and a shutdown the count equals the
//! shard's own count of rounds, and no `on_data` is left uncounted (each
//! was followed by a round's end).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use esockets::{Conn, Handler, ShardContext, Verdict};

use crate::util::{config, round_trip, TestServer};

/// What the handler saw, shared with the test.
#[derive(Default)]
struct Seen {
    /// `on_round_end` calls.
    round_ends: AtomicU64,
    /// Round ends that followed at least one `on_data` of their round.
    rounds_with_data: AtomicU64,
    /// `on_data` calls not yet followed by a round end.
    data_pending: AtomicU64,
}

/// Echoes, and counts into `seen`.
struct Counting {
    seen: Arc<Seen>,
}

impl Handler for Counting {
    type State = ();

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        self.seen.data_pending.fetch_add(1, Ordering::Relaxed);
        conn.send(data);
        Verdict::Consumed(data.len())
    }

    fn on_round_end(&mut self, _cx: &mut ShardContext<'_>) {
        self.seen.round_ends.fetch_add(1, Ordering::Relaxed);
        if self.seen.data_pending.swap(0, Ordering::Relaxed) > 0 {
            self.seen.rounds_with_data.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[test]
fn on_round_end_is_called_once_per_round() {
    let seen = Arc::new(Seen::default());
    let shared = seen.clone();
    let server = TestServer::start(config(1), move |_| Counting {
        seen: shared.clone(),
    });
    let handle = server.handle.clone();
    let mut client = server.client();
    for _ in 0..20 {
        round_trip(&mut client, b"ping");
    }
    drop(client);
    server.stop().expect("the server ends cleanly");
    let rounds: u64 = handle.stats().iter().map(|s| s.rounds).sum();
    let ends = seen.round_ends.load(Ordering::Relaxed);
    assert!(
        rounds >= 20,
        "20 exchanges take 20 rounds at least: {rounds}"
    );
    assert_eq!(ends, rounds, "one on_round_end per counted round");
    assert_eq!(
        seen.data_pending.load(Ordering::Relaxed),
        0,
        "every on_data was followed by its round's end"
    );
    assert!(seen.rounds_with_data.load(Ordering::Relaxed) >= 20);
}
