//! Per-connection state and the shard context: a client's state lives
//! across `on_data` calls and comes back in `on_close`; a handler reaches
//! other clients of its shard through `ShardContext::send` and
//! `send_to_all`, and a stale id it kept reaches no one.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crossbeam::channel::{unbounded, Sender};
use esockets::{Admission, CloseReason, Config, Conn, ConnId, Handler, ShardContext, Verdict};

use crate::util::{assert_silent, complete_lines, config, read_line, TestServer, DEADLINE};

/// How long a client must stay silent to show a message did not reach it.
const QUIET: Duration = Duration::from_millis(100);

/// One client's running tally, kept in its slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    /// The client's port, set by `on_connect` (so the test can tell whose
    /// tally comes back).
    port: u16,
    /// `on_data` calls.
    calls: u64,
    /// Bytes seen.
    bytes: u64,
}

/// Counts every client's calls and bytes in its state, answers each chunk
/// with the running tally, and reports the final tally at the close.
struct Counter {
    /// Where `(id, tally, reason)` go at each close.
    closes: Sender<(ConnId, Tally, CloseReason)>,
}

impl Handler for Counter {
    type State = Tally;

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        peer: SocketAddr,
    ) -> Admission<Tally> {
        Admission::Accept(Tally {
            port: peer.port(),
            ..Tally::default()
        })
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        tally: &mut Tally,
        data: &[u8],
    ) -> Verdict {
        tally.calls += 1;
        tally.bytes += data.len() as u64;
        conn.send(format!("{} {}\n", tally.calls, tally.bytes).as_bytes());
        Verdict::Consumed(data.len())
    }

    fn on_close(
        &mut self,
        _cx: &mut ShardContext<'_>,
        id: ConnId,
        tally: Tally,
        reason: CloseReason,
    ) {
        let _ = self.closes.send((id, tally, reason));
    }
}

#[test]
fn a_counter_in_the_state_survives_many_calls_and_comes_back_at_the_close() {
    const CLIENTS: usize = 4;
    const ROUNDS: u64 = 200;
    let (closes, closed) = unbounded();
    let server = TestServer::start(config(2), move |_| Counter {
        closes: closes.clone(),
    });
    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| server.client()).collect();
    // The clients take turns, one message each per round, and each waits
    // for its answer: every message is an `on_data` call of its own, and
    // the clients' calls interleave on the shards.
    let mut expected: HashMap<u16, Tally> = HashMap::new();
    for round in 1..=ROUNDS {
        for (c, stream) in clients.iter_mut().enumerate() {
            let port = stream.local_addr().expect("addr").port();
            let len = 1 + c + (round as usize % 7);
            stream.write_all(&vec![b'a' + c as u8; len]).expect("write");
            let tally = expected.entry(port).or_insert(Tally {
                port,
                ..Tally::default()
            });
            tally.calls += 1;
            tally.bytes += len as u64;
            assert_eq!(
                read_line(stream),
                format!("{} {}", tally.calls, tally.bytes),
                "client {c}, round {round}"
            );
        }
    }
    drop(clients);
    for _ in 0..CLIENTS {
        let (id, tally, reason) = closed.recv_timeout(DEADLINE).expect("close reported");
        assert_eq!(reason, CloseReason::PeerClosed, "{id}");
        let want = expected
            .remove(&tally.port)
            .unwrap_or_else(|| panic!("a tally for an unknown or repeated client: {tally:?}"));
        assert_eq!(tally, want, "the state handed to on_close, {id}");
        assert_eq!(tally.calls, ROUNDS);
    }
    assert!(expected.is_empty(), "no close for {expected:?}");
}

/// Relays lines between the clients of its shard by their order of
/// arrival, through `ShardContext::send`:
///
/// - `N text`: sends `text` to the `N`th client that connected (its id is
///   kept even after it closes), then answers `sent`;
/// - `self`: sends `second` to this very client through the context, then
///   `first` through `Conn`: the context's send is applied after the
///   callback returns, so `first` arrives first.
///
/// Each client is greeted with its number.
struct Relay {
    /// Every client's id, by order of arrival.
    ids: Vec<ConnId>,
    /// Where `(id, reason)` of closed clients go.
    closes: Sender<(ConnId, CloseReason)>,
}

impl Handler for Relay {
    type State = ();

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        conn.send(format!("you are {} {}\n", self.ids.len(), conn.id()).as_bytes());
        self.ids.push(conn.id());
        Admission::Accept(())
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
            if line == "self" {
                cx.send(conn.id(), &b"second\n"[..]).expect("same shard");
                conn.send(b"first\n");
                continue;
            }
            let (to, text) = line.split_once(' ').expect("`N text`");
            let to: usize = to.parse().expect("a client number");
            cx.send(self.ids[to], format!("{text}\n"))
                .expect("a send on the same shard is never refused");
            conn.send(b"sent\n");
        }
        Verdict::Consumed(consumed)
    }

    fn on_close(&mut self, _cx: &mut ShardContext<'_>, id: ConnId, _state: (), why: CloseReason) {
        let _ = self.closes.send((id, why));
    }
}

/// Connects a client of a `Relay` server, checks its number and returns
/// it with its id as the greeting printed it.
fn relay_client(server: &TestServer, number: usize) -> (TcpStream, String) {
    let mut stream = server.client();
    let line = read_line(&mut stream);
    let id = line
        .strip_prefix(&format!("you are {number} "))
        .unwrap_or_else(|| panic!("client {number} greeted with {line:?}"))
        .to_owned();
    (stream, id)
}

/// Writes `line` and a newline.
fn say(stream: &mut TcpStream, line: &str) {
    stream
        .write_all(format!("{line}\n").as_bytes())
        .expect("write");
}

#[test]
fn a_handler_sends_to_another_client_of_its_shard_through_the_context() {
    let (closes, closed) = unbounded();
    let server = TestServer::start(config(1), move |_| Relay {
        ids: Vec::new(),
        closes: closes.clone(),
    });
    let (mut a, _) = relay_client(&server, 0);
    let (mut b, _) = relay_client(&server, 1);
    let (mut c, _) = relay_client(&server, 2);

    say(&mut a, "1 hello b");
    assert_eq!(read_line(&mut a), "sent");
    assert_eq!(read_line(&mut b), "hello b");
    assert_silent(&mut c, QUIET);
    say(&mut b, "0 hello a");
    assert_eq!(read_line(&mut b), "sent");
    assert_eq!(read_line(&mut a), "hello a");

    // A send through the context comes after what the callback sent
    // through `Conn`, even to the same client.
    say(&mut c, "self");
    assert_eq!(read_line(&mut c), "first");
    assert_eq!(read_line(&mut c), "second");

    // Client 2 leaves; client 3 takes its slot. Client 2's id, still kept
    // by the handler, must not reach client 3.
    drop(c);
    let (gone, reason) = closed.recv_timeout(DEADLINE).expect("close reported");
    assert_eq!(reason, CloseReason::PeerClosed);
    let (mut d, d_id) = relay_client(&server, 3);
    // Ids print as shard.slot.generation.
    let (gone_slot, d_slot) = (
        format!("0.{}.", gone.slot()),
        &d_id[..d_id.rfind('.').unwrap_or(0) + 1],
    );
    assert_eq!(
        d_slot, gone_slot,
        "client 3 ({d_id}) takes the slot of client 2 ({gone})"
    );
    say(&mut d, "0 from d");
    assert_eq!(read_line(&mut d), "sent");
    assert_eq!(read_line(&mut a), "from d");
    say(&mut a, "2 to the departed");
    assert_eq!(read_line(&mut a), "sent");
    assert_silent(&mut d, QUIET);
    say(&mut a, "3 to d");
    assert_eq!(read_line(&mut a), "sent");
    assert_eq!(read_line(&mut d), "to d", "nothing came before it");
    assert!(
        closed.try_recv().is_err(),
        "no one else closed (after {gone})"
    );
}

/// Greets each client with its shard's index; a line `all text` sends
/// `text` to every client of the shard through `send_to_all`.
struct Broadcast;

impl Handler for Broadcast {
    type State = ();

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<()> {
        conn.send(format!("shard {}\n", cx.shard()).as_bytes());
        Admission::Accept(())
    }

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        let (lines, consumed) = complete_lines(data);
        for line in lines {
            let text = line.strip_prefix("all ").expect("`all text`");
            cx.send_to_all(format!("{text}\n"));
        }
        Verdict::Consumed(consumed)
    }
}

#[test]
fn send_to_all_reaches_every_client_of_the_shard_and_no_other() {
    // The kernel spreads clients over the shards by a hash of their
    // addresses (steering would give them all to this thread's CPU's
    // shard): connect until both shards have two clients.
    let hashed = Config {
        balance: esockets::Balance::ReusePort,
        ..config(2)
    };
    let server = TestServer::start(hashed, |_| Broadcast);
    let mut by_shard: [Vec<TcpStream>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..200 {
        if by_shard.iter().all(|clients| clients.len() >= 2) {
            break;
        }
        let mut stream = server.client();
        let line = read_line(&mut stream);
        let shard: usize = line
            .strip_prefix("shard ")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("greeting {line:?}"));
        by_shard[shard].push(stream);
    }
    assert!(
        by_shard.iter().all(|clients| clients.len() >= 2),
        "200 clients did not land twice on each shard: {:?}",
        by_shard.each_ref().map(Vec::len)
    );
    for (shard, text) in [(0, "to shard 0"), (1, "to shard 1")] {
        say(&mut by_shard[shard][0], &format!("all {text}"));
        for stream in &mut by_shard[shard] {
            assert_eq!(read_line(stream), text, "the sender included");
        }
        for stream in &mut by_shard[1 - shard] {
            assert_silent(stream, QUIET);
        }
    }
}

/// For each chunk of input: a line `D<n>` to this very client through the
/// context, then `C<n> <bytes so far>` through `Conn`. The context's send
/// is applied right after the callback returns: `C<n>` then `D<n>`, before
/// the next chunk's lines.
struct Interleave {
    /// Chunks seen.
    calls: u64,
    /// Bytes seen.
    bytes: usize,
}

impl Handler for Interleave {
    type State = ();

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        self.calls += 1;
        self.bytes += data.len();
        cx.send(conn.id(), format!("D{}\n", self.calls))
            .expect("same shard");
        conn.send(format!("C{} {}\n", self.calls, self.bytes).as_bytes());
        Verdict::Consumed(data.len())
    }
}

#[test]
fn context_requests_are_applied_right_after_each_callback() {
    const INPUT: usize = 300_000;
    let server = TestServer::start(config(1), |_| Interleave { calls: 0, bytes: 0 });
    let mut stream = server.client();
    // Several read buffers' worth at once: several `on_data` calls in one
    // wakeup of the shard.
    stream.write_all(&vec![b'x'; INPUT]).expect("write");
    let mut call = 0;
    loop {
        call += 1;
        let line = read_line(&mut stream);
        let bytes: usize = line
            .strip_prefix(&format!("C{call} "))
            .and_then(|bytes| bytes.parse().ok())
            .unwrap_or_else(|| panic!("expected C{call}, got {line:?}"));
        assert_eq!(
            read_line(&mut stream),
            format!("D{call}"),
            "the context's send of call {call} right after it"
        );
        if bytes == INPUT {
            break;
        }
    }
    assert!(call > 1, "the input came in several calls");
}
