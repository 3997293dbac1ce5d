//! `Recorder`: a handler driven by its clients' lines, that records what
//! happened to it, for the harness tests.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use esockets::{Admission, CloseReason, Conn, ConnId, Handler, ShardContext, TimerId, Verdict};

/// What happened, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A client connected.
    Connected(ConnId),
    /// A timer with this tag fired, at this clock.
    Fired(ConnId, u64, Instant),
    /// `on_drain` ran.
    Drained(ConnId),
    /// A client closed.
    Closed(ConnId, CloseReason),
}

/// Runs one command a line:
///
/// - `set MS TAG`: a timer in `MS` ms (answers `set TAG`);
/// - `cancel TAG`: cancels it (answers `cancelled TAG true|false`);
/// - `quit`: `Verdict::Close` after `bye`; `kill`: `Conn::close` after
///   `bye`;
/// - `flood N`: sends N KiB at once;
/// - `hold`: consumes nothing more (input piles up);
/// - `to ID TEXT`: sends TEXT to the client with that id (`shard/slot/generation`,
///   as `ConnId` prints) through the context;
/// - `all TEXT`: `send_to_all`;
/// - anything else is echoed.
#[derive(Default)]
pub struct Recorder {
    /// Every event so far.
    pub events: Vec<Event>,
    /// Clients by the order they connected, to address them with `to`.
    pub clients: Vec<ConnId>,
}

impl Recorder {
    /// Close reasons, in order.
    pub fn closes(&self) -> Vec<(ConnId, CloseReason)> {
        self.events
            .iter()
            .filter_map(|e| match *e {
                Event::Closed(id, reason) => Some((id, reason)),
                _ => None,
            })
            .collect()
    }

    /// Timers fired, in order: (client, tag).
    pub fn fired(&self) -> Vec<(ConnId, u64)> {
        self.events
            .iter()
            .filter_map(|e| match *e {
                Event::Fired(id, tag, _) => Some((id, tag)),
                _ => None,
            })
            .collect()
    }
}

impl Handler for Recorder {
    /// The client's timers: (tag, timer).
    type State = Vec<(u64, TimerId)>;

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<Self::State> {
        self.events.push(Event::Connected(conn.id()));
        self.clients.push(conn.id());
        Admission::Accept(Vec::new())
    }

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        timers: &mut Self::State,
        data: &[u8],
    ) -> Verdict {
        let mut used = 0;
        while let Some(end) = data[used..].iter().position(|&b| b == b'\n') {
            let line = std::str::from_utf8(&data[used..used + end]).expect("text");
            used += end + 1;
            let words: Vec<&str> = line.splitn(3, ' ').collect();
            match words[..] {
                ["set", ms, tag] => {
                    let tag: u64 = tag.parse().expect("tag");
                    let after = Duration::from_millis(ms.parse().expect("ms"));
                    timers.push((tag, cx.set_timer(conn.id(), after, tag)));
                    conn.send(format!("set {tag}\n").as_bytes());
                }
                ["cancel", tag] => {
                    let tag: u64 = tag.parse().expect("tag");
                    let (_, timer) = *timers.iter().find(|(t, _)| *t == tag).expect("set");
                    let pending = cx.cancel_timer(timer);
                    conn.send(format!("cancelled {tag} {pending}\n").as_bytes());
                }
                ["quit"] => {
                    conn.send(b"bye\n");
                    return Verdict::Close;
                }
                ["kill"] => {
                    conn.send(b"bye\n");
                    conn.close();
                }
                ["flood", kib] => {
                    let kib: usize = kib.parse().expect("KiB");
                    conn.send_bytes(vec![b'x'; kib * 1024]);
                }
                ["hold"] => return Verdict::Consumed(used - end - 1),
                ["to", n, text] => {
                    let n: usize = n.parse().expect("client number");
                    let _ = cx.send(self.clients[n], format!("{text}\n"));
                }
                ["all", text] => cx.send_to_all(format!("{text}\n")),
                _ => conn.send(format!("{line}\n").as_bytes()),
            }
        }
        Verdict::Consumed(used)
    }

    fn on_timer(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _timers: &mut Self::State,
        tag: u64,
    ) {
        self.events.push(Event::Fired(conn.id(), tag, cx.now()));
        conn.send(format!("fired {tag}\n").as_bytes());
    }

    fn on_drain(&mut self, _cx: &mut ShardContext<'_>, conn: &mut Conn<'_>, _: &mut Self::State) {
        self.events.push(Event::Drained(conn.id()));
    }

    fn on_close(
        &mut self,
        _cx: &mut ShardContext<'_>,
        id: ConnId,
        _timers: Self::State,
        reason: CloseReason,
    ) {
        self.events.push(Event::Closed(id, reason));
    }
}
