//! Stall detection: a handler that blocks its shard for 200 ms in
//! `on_data` is counted as exactly one stall of that shard (the round it
//! blocked), and healthy rounds after it are not; with stall detection off
//! nothing is counted.

use std::thread;
use std::time::Duration;

use esockets::{Config, Conn, Handler, ShardContext, Verdict};

use crate::util::{complete_lines, config, round_trip, TestServer};

/// How long the handler blocks on `sleep`.
const BLOCK: Duration = Duration::from_millis(200);

/// The threshold of these tests: well under [`BLOCK`], well over what a
/// busy test machine takes from a healthy round.
const THRESHOLD: Duration = Duration::from_millis(100);

/// Echoes lines; `sleep` first blocks the shard for [`BLOCK`], as a
/// handler that waits on a lock, a disk or another server would.
struct Blocking;

impl Handler for Blocking {
    type State = ();

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        let (lines, consumed) = complete_lines(data);
        for line in lines {
            if line == "sleep" {
                // The behaviour under test: a callback that blocks.
                thread::sleep(BLOCK);
            }
            conn.send(line.as_bytes());
            conn.send(b"\n");
        }
        Verdict::Consumed(consumed)
    }
}

/// A one-shard `Blocking` server with `threshold`.
fn start(threshold: Option<Duration>) -> TestServer {
    let config = Config {
        stall_threshold: threshold,
        ..config(1)
    };
    TestServer::start(config, |_| Blocking)
}

#[test]
fn a_handler_blocking_200ms_is_one_stall() {
    let server = start(Some(THRESHOLD));
    let mut client = server.client();
    round_trip(&mut client, b"before\n");
    assert_eq!(server.total().stalls, 0, "healthy rounds are no stalls");
    round_trip(&mut client, b"sleep\n");
    server.wait_for_total("the stall counted", |total| total.stalls >= 1);
    // Healthy rounds after it: the count stays at one.
    let rounds = server.total().rounds;
    for _ in 0..20 {
        round_trip(&mut client, b"after\n");
    }
    server.wait_for_total("the later rounds published", |total| {
        total.rounds > rounds + 10
    });
    let total = server.total();
    assert_eq!(total.stalls, 1, "exactly the blocked round: {total:?}");
}

#[test]
fn no_stall_is_counted_with_detection_off() {
    let server = start(None);
    let mut client = server.client();
    round_trip(&mut client, b"sleep\n");
    round_trip(&mut client, b"after\n");
    server.wait_for_total("the rounds published", |total| total.bytes_out == 12);
    assert_eq!(server.total().stalls, 0);
}
