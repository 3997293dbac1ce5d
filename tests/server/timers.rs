//! Timers: a handler's per-connection timer fires once, not much late and
//! never early (counting from the shard's clock, `cx.now()`, which is read
//! once per loop round); a cancelled one never fires; one whose client closed
//! never fires (not even on the next client in its slot); ten thousand
//! timers on ten thousand clients all fire; `on_tick` runs at its period.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::{unbounded, Receiver, Sender};
use esockets::{
    Admission, CloseReason, Config, Conn, ConnId, Handler, ShardContext, TimerId, Verdict,
};

use crate::util::{
    assert_silent, complete_lines, config, heavy_test, read_line, read_to_close, run_child,
    wait_until, TestServer, DEADLINE,
};

/// How long a client must stay silent to show a timer did not fire.
const QUIET: Duration = Duration::from_millis(150);

/// What the `Scripted` handler tells the test, with the time it happened.
#[derive(Debug)]
enum Event {
    /// A client connected.
    Connected(ConnId),
    /// A timer with this tag was set for this client, at this shard time.
    Set(ConnId, u64, Instant),
    /// A timer with this tag fired for this client.
    Fired(ConnId, u64, Instant),
    /// A client closed.
    Closed(ConnId, CloseReason),
}

/// Sets and cancels timers as its clients say, one command a line:
///
/// - `set MS TAG`: a timer for this client in `MS` ms; answers `set TAG`;
/// - `cancel TAG`: cancels it; answers `cancelled TAG true|false`;
/// - `quit`: the handler closes the client.
///
/// A timer that fires sends `fired TAG`. Everything is also reported to
/// the test, with the time.
struct Scripted {
    /// Where the events go.
    events: Sender<Event>,
}

impl Scripted {
    /// A scripted server with `threads` shards, and its events.
    fn start(threads: usize) -> (TestServer, Receiver<Event>) {
        let (events, received) = unbounded();
        let server = TestServer::start(config(threads), move |_| Scripted {
            events: events.clone(),
        });
        (server, received)
    }
}

impl Handler for Scripted {
    /// The client's timers, by tag.
    type State = HashMap<u64, TimerId>;

    fn on_connect(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<Self::State> {
        let _ = self.events.send(Event::Connected(conn.id()));
        Admission::Accept(HashMap::new())
    }

    fn on_data(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        timers: &mut Self::State,
        data: &[u8],
    ) -> Verdict {
        let (lines, consumed) = complete_lines(data);
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            match words[..] {
                ["set", ms, tag] => {
                    let ms: u64 = ms.parse().expect("ms");
                    let tag: u64 = tag.parse().expect("tag");
                    let timer = cx.set_timer(conn.id(), Duration::from_millis(ms), tag);
                    // Timers count from the shard's clock, read once per
                    // loop round: `cx.now()`, not the moment of the call.
                    let _ = self.events.send(Event::Set(conn.id(), tag, cx.now()));
                    timers.insert(tag, timer);
                    conn.send(format!("set {tag}\n").as_bytes());
                }
                ["cancel", tag] => {
                    let tag: u64 = tag.parse().expect("tag");
                    let pending = cx.cancel_timer(timers[&tag]);
                    conn.send(format!("cancelled {tag} {pending}\n").as_bytes());
                }
                ["quit"] => return Verdict::Close,
                _ => panic!("unknown command {line:?}"),
            }
        }
        Verdict::Consumed(consumed)
    }

    fn on_timer(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _timers: &mut Self::State,
        tag: u64,
    ) {
        let _ = self
            .events
            .send(Event::Fired(conn.id(), tag, Instant::now()));
        conn.send(format!("fired {tag}\n").as_bytes());
    }

    fn on_close(
        &mut self,
        _cx: &mut ShardContext<'_>,
        id: ConnId,
        _timers: Self::State,
        reason: CloseReason,
    ) {
        let _ = self.events.send(Event::Closed(id, reason));
    }
}

/// Writes `line` and a newline.
fn say(stream: &mut TcpStream, line: &str) {
    stream
        .write_all(format!("{line}\n").as_bytes())
        .expect("write");
}

/// Sends `command` and checks the answer.
fn ask(stream: &mut TcpStream, command: &str, answer: &str) {
    say(stream, command);
    assert_eq!(read_line(stream), answer, "answer to {command:?}");
}

/// Every event received so far.
fn drain(events: &Receiver<Event>) -> Vec<Event> {
    events.try_iter().collect()
}

/// The client that connected next; other events received meanwhile go
/// to `log`.
fn next_connected(events: &Receiver<Event>, log: &mut Vec<Event>) -> ConnId {
    loop {
        match events.recv_timeout(DEADLINE).expect("connect reported") {
            Event::Connected(id) => return id,
            other => log.push(other),
        }
    }
}

#[test]
fn a_timer_fires_once_no_earlier_than_its_delay() {
    let (server, events) = Scripted::start(2);
    let mut stream = server.client();
    let id = next_connected(&events, &mut Vec::new());
    let asked = Instant::now();
    ask(&mut stream, "set 50 7", "set 7");
    assert_eq!(read_line(&mut stream), "fired 7");
    let seen = asked.elapsed();
    assert_silent(&mut stream, QUIET);

    let events = drain(&events);
    let set = events.iter().find_map(|e| match *e {
        Event::Set(who, 7, at) if who == id => Some(at),
        _ => None,
    });
    let fired: Vec<Instant> = events
        .iter()
        .filter_map(|e| match *e {
            Event::Fired(who, 7, at) if who == id => Some(at),
            _ => None,
        })
        .collect();
    let set = set.expect("the set was reported");
    assert_eq!(fired.len(), 1, "fired once: {events:?}");
    let delay = fired[0] - set;
    assert!(
        delay >= Duration::from_millis(50),
        "fired {delay:?} after it was set, before its 50 ms"
    );
    assert!(
        delay < Duration::from_secs(1) && seen < Duration::from_secs(1),
        "a 50 ms timer fired {delay:?} after it was set ({seen:?} as the client saw it)"
    );
}

#[test]
fn a_cancelled_timer_never_fires() {
    let (server, events) = Scripted::start(1);
    let mut stream = server.client();
    let id = next_connected(&events, &mut Vec::new());
    ask(&mut stream, "set 40 1", "set 1");
    ask(&mut stream, "set 80 2", "set 2");
    ask(&mut stream, "set 150 3", "set 3");
    ask(&mut stream, "cancel 1", "cancelled 1 true");
    ask(&mut stream, "cancel 1", "cancelled 1 false");
    // Timer 2 firing proves timer 1's time has passed.
    assert_eq!(read_line(&mut stream), "fired 2");
    ask(&mut stream, "cancel 2", "cancelled 2 false");
    // A timer cancelled later, from another callback, close to its time.
    ask(&mut stream, "cancel 3", "cancelled 3 true");
    ask(&mut stream, "set 200 4", "set 4");
    assert_eq!(read_line(&mut stream), "fired 4");
    assert_silent(&mut stream, QUIET);
    let fired: Vec<u64> = drain(&events)
        .into_iter()
        .filter_map(|e| match e {
            Event::Fired(who, tag, _) if who == id => Some(tag),
            _ => None,
        })
        .collect();
    assert_eq!(fired, [2, 4], "only the timers left set fired");
}

#[test]
fn a_timer_of_a_client_that_closed_never_fires() {
    let (server, events) = Scripted::start(1);
    let mut log = Vec::new();
    // A client that leaves with a timer set.
    let mut first = server.client();
    let first_id = next_connected(&events, &mut log);
    ask(&mut first, "set 100 1", "set 1");
    drop(first);
    // A client the handler closes with a timer set.
    let mut second = server.client();
    let second_id = next_connected(&events, &mut log);
    ask(&mut second, "set 100 2", "set 2");
    say(&mut second, "quit");
    assert!(read_to_close(&mut second, 0).is_empty());
    let closes = |log: &[Event]| -> Vec<(ConnId, CloseReason)> {
        log.iter()
            .filter_map(|e| match *e {
                Event::Closed(id, reason) => Some((id, reason)),
                _ => None,
            })
            .collect()
    };
    wait_until(DEADLINE, "both clients closed", || {
        log.extend(events.try_iter());
        closes(&log).len() == 2
    });
    let mut closed = closes(&log);
    closed.sort_by_key(|&(id, _)| id);
    assert_eq!(
        closed,
        [
            (first_id, CloseReason::PeerClosed),
            (second_id, CloseReason::Handler)
        ]
    );

    // A new client takes a freed slot while the old timers are pending;
    // its own later timer firing proves their time has passed.
    let mut third = server.client();
    let third_id = next_connected(&events, &mut log);
    assert!(
        [first_id.slot(), second_id.slot()].contains(&third_id.slot()),
        "{third_id} reuses a slot of {first_id} or {second_id}"
    );
    ask(&mut third, "set 200 3", "set 3");
    assert_eq!(read_line(&mut third), "fired 3");
    assert_silent(&mut third, QUIET);
    log.extend(drain(&events));
    let fired: Vec<(ConnId, u64)> = log
        .into_iter()
        .filter_map(|e| match e {
            Event::Fired(id, tag, _) => Some((id, tag)),
            _ => None,
        })
        .collect();
    assert_eq!(fired, [(third_id, 3)], "only the live client's timer fired");
}

/// Sets two timers due at the same moment for each client; whichever
/// fires first cancels the other, and says whether the cancel took.
struct Rivals;

impl Handler for Rivals {
    /// The client's two timers, by tag (1 and 2).
    type State = [Option<TimerId>; 2];

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<Self::State> {
        let after = Duration::from_millis(30);
        let first = cx.set_timer(conn.id(), after, 1);
        let second = cx.set_timer(conn.id(), after, 2);
        Admission::Accept([Some(first), Some(second)])
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _state: &mut Self::State,
        data: &[u8],
    ) -> Verdict {
        Verdict::Consumed(data.len())
    }

    fn on_timer(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        timers: &mut Self::State,
        tag: u64,
    ) {
        let other = if tag == 1 { 1 } else { 0 };
        let cancelled = timers[other].take().map(|timer| cx.cancel_timer(timer));
        conn.send(format!("fired {tag}, cancelled the other: {cancelled:?}\n").as_bytes());
    }
}

#[test]
fn a_timer_cancelled_by_one_due_at_the_same_time_never_fires() {
    let server = TestServer::start(config(1), |_| Rivals);
    let mut clients: Vec<TcpStream> = (0..5).map(|_| server.client()).collect();
    for stream in &mut clients {
        let line = read_line(stream);
        assert!(
            line.ends_with("cancelled the other: Some(true)"),
            "the other timer had not fired yet, so the cancel takes: {line:?}"
        );
    }
    for stream in &mut clients {
        assert_silent(stream, QUIET);
    }
}

/// Clients (and timers) of the big test: one timer per client.
const MANY: usize = 10_000;

/// The environment variable that makes `timer_clients_child` act: the
/// server address and the number of clients.
const CHILD_ENV: &str = "ESOCKETS_TEST_TIMER_CLIENTS";

/// Sets one timer per client as it connects, sends `fired` when it fires,
/// and counts what fired, and what fired early or twice.
struct OneShot {
    /// Timers fired.
    fired: Arc<AtomicUsize>,
    /// Timers that fired before their delay, or a second time.
    wrong: Arc<AtomicUsize>,
    /// Timers set on this shard, to spread the delays.
    set: u64,
}

/// The delay of the `n`th timer a shard sets: 400 to 655 ms, so the
/// timers land in many wheel buckets and most are pending at once.
fn delay_of(n: u64) -> Duration {
    Duration::from_millis(400 + n % 256)
}

/// A client's timer: when it was set, for how long, and whether it fired.
#[derive(Default)]
struct Pending {
    /// The shard's time when the timer was set.
    set_at: Option<Instant>,
    /// Its delay.
    delay: Duration,
    /// Whether it fired.
    fired: bool,
}

impl Handler for OneShot {
    type State = Pending;

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: SocketAddr,
    ) -> Admission<Pending> {
        let delay = delay_of(self.set);
        self.set += 1;
        cx.set_timer(conn.id(), delay, 0);
        Admission::Accept(Pending {
            // A timer counts from the shard's clock, read once per loop
            // round, not from the moment of the call: late in a round of
            // many accepts, the call comes a millisecond or more after it.
            set_at: Some(cx.now()),
            delay,
            fired: false,
        })
    }

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _state: &mut Pending,
        data: &[u8],
    ) -> Verdict {
        Verdict::Consumed(data.len())
    }

    fn on_timer(
        &mut self,
        _cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        pending: &mut Pending,
        _tag: u64,
    ) {
        let early = pending.set_at.is_none_or(|at| at.elapsed() < pending.delay);
        if early || pending.fired {
            self.wrong.fetch_add(1, Ordering::Relaxed);
        }
        pending.fired = true;
        self.fired.fetch_add(1, Ordering::Relaxed);
        conn.send(b"fired\n");
    }
}

/// Not a test on its own: the client side of
/// `ten_thousand_timers_on_ten_thousand_clients_all_fire`, run in a child
/// process so that the server's and the clients' descriptors (two per
/// connection) are not counted against one open-file limit. Without its
/// environment variable it does nothing.
#[test]
#[ignore = "run by ten_thousand_timers_on_ten_thousand_clients_all_fire"]
fn timer_clients_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (addr, count) = spec.split_once(' ').expect("`ADDR COUNT`");
    let addr: SocketAddr = addr.parse().expect("address");
    let count: usize = count.parse().expect("count");
    esockets::raise_open_file_limit().expect("raise the open-file limit");
    let mut clients: Vec<TcpStream> = (0..count)
        .map(|i| {
            TcpStream::connect(addr).unwrap_or_else(|err| panic!("client {i} connects: {err}"))
        })
        .collect();
    for (i, stream) in clients.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        assert_eq!(read_line(stream), "fired", "client {i}");
    }
}

#[test]
fn ten_thousand_timers_on_ten_thousand_clients_all_fire() {
    let _fds = heavy_test();
    let fired = Arc::new(AtomicUsize::new(0));
    let wrong = Arc::new(AtomicUsize::new(0));
    let config = Config {
        backlog: 4096,
        ..config(2)
    };
    let server = {
        let (fired, wrong) = (Arc::clone(&fired), Arc::clone(&wrong));
        TestServer::start(config, move |_| OneShot {
            fired: Arc::clone(&fired),
            wrong: Arc::clone(&wrong),
            set: 0,
        })
    };
    let started = Instant::now();
    run_child(
        "timers::timer_clients_child",
        CHILD_ENV,
        &format!("{} {MANY}", server.addr),
        Duration::from_secs(30),
    );
    assert_eq!(fired.load(Ordering::Relaxed), MANY, "every timer fired");
    assert_eq!(
        wrong.load(Ordering::Relaxed),
        0,
        "no timer fired early or twice"
    );
    server.wait_for_total("every client accepted, then closed", |total| {
        total.accepted == MANY as u64 && total.closed == MANY as u64
    });
    println!("{MANY} clients and timers in {:?}", started.elapsed());
}

/// What the `Ticker` tells the test.
#[derive(Debug)]
enum TickEvent {
    /// Shard `0` ticked at this time.
    Tick(usize, Instant),
    /// Shard `0` began shutting down.
    ShuttingDown(usize),
}

/// Reports every tick, and the start of the shutdown.
struct Ticker {
    /// Where the events go.
    events: Sender<TickEvent>,
}

impl Handler for Ticker {
    type State = ();

    fn on_data(
        &mut self,
        _cx: &mut ShardContext<'_>,
        _conn: &mut Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> Verdict {
        Verdict::Consumed(data.len())
    }

    fn on_tick(&mut self, cx: &mut ShardContext<'_>) {
        let _ = self
            .events
            .send(TickEvent::Tick(cx.shard(), Instant::now()));
    }

    fn on_shutting_down(&mut self, cx: &mut ShardContext<'_>) {
        let _ = self.events.send(TickEvent::ShuttingDown(cx.shard()));
    }
}

#[test]
fn on_tick_runs_at_its_period_on_every_shard() {
    const PERIOD: Duration = Duration::from_millis(20);
    const PERIODS: u32 = 25;
    let (events, received) = unbounded();
    let started = Instant::now();
    let server = TestServer::start(
        Config {
            tick: Some(PERIOD),
            ..config(2)
        },
        move |_| Ticker {
            events: events.clone(),
        },
    );
    let mut ticks: [Vec<Instant>; 2] = [Vec::new(), Vec::new()];
    while ticks.iter().any(|t| t.len() <= PERIODS as usize) {
        match received.recv_timeout(DEADLINE).expect("ticks keep coming") {
            TickEvent::Tick(shard, at) => ticks[shard].push(at),
            TickEvent::ShuttingDown(shard) => panic!("shard {shard} shut down early"),
        }
    }
    server.stop().expect("clean shutdown");
    for (shard, ticks) in ticks.iter().enumerate() {
        let first = ticks[0] - started;
        assert!(
            first >= PERIOD,
            "shard {shard}: the first tick came {first:?} after start, before one period"
        );
        let span = ticks[PERIODS as usize] - ticks[0];
        // Ticks are due a period apart and never run early; a late one
        // is not made up. So: at least the periods less the first tick's
        // lateness (one period allowed). The upper bound allows for a
        // loaded machine (a shard thread waiting for a core: 2.4 s was
        // seen at a load of 14 on 2 cores), and still catches a period
        // ignored or ticks that wait for events.
        assert!(
            span >= PERIOD * (PERIODS - 1),
            "shard {shard}: {PERIODS} periods of {PERIOD:?} took only {span:?}"
        );
        assert!(
            span <= PERIOD * PERIODS * 4 + Duration::from_secs(2),
            "shard {shard}: {PERIODS} periods of {PERIOD:?} took {span:?}"
        );
    }
    // No tick runs once shutdown began.
    let mut down = [false; 2];
    for event in received.try_iter() {
        match event {
            TickEvent::ShuttingDown(shard) => down[shard] = true,
            TickEvent::Tick(shard, _) => {
                assert!(!down[shard], "shard {shard} ticked after shutdown began")
            }
        }
    }
    assert_eq!(down, [true, true], "on_shutting_down ran on both shards");
}

#[test]
fn no_tick_without_a_period() {
    let (events, received) = unbounded();
    let server = TestServer::start(config(1), move |_| Ticker {
        events: events.clone(),
    });
    let mut stream = server.client();
    stream.write_all(b"x").expect("write");
    assert_silent(&mut stream, QUIET);
    server.stop().expect("clean shutdown");
    let events: Vec<TickEvent> = received.try_iter().collect();
    assert!(
        matches!(events[..], [TickEvent::ShuttingDown(0)]),
        "{events:?}"
    );
}
