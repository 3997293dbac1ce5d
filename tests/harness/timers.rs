//! Timers (moved from the loopback tests, now exact): a handler's timer
//! fires once, at its delay and not a millisecond before; a cancelled one
//! never fires; one whose client closed never fires, not even on the next
//! client in its slot; of two due at once, the first to fire can cancel
//! the other.

use std::time::Duration;

use esockets::testing::Harness;
use esockets::{CloseReason, Config, Conn, Handler, ShardContext, TimerId, Verdict};

use crate::recorder::Recorder;

/// A harness over a recorder.
fn recorder() -> Harness<Recorder> {
    Harness::new(Config::default(), Recorder::default())
}

#[test]
fn a_timer_fires_once_at_its_delay_and_never_earlier() {
    let mut h = recorder();
    let c = h.connect().expect("accepted");
    h.send(c, b"set 50 7\n");
    assert_eq!(h.take_output(c), b"set 7\n");
    h.advance(Duration::from_millis(50));
    assert!(h.take_output(c).is_empty(), "not before 50 ms");
    h.advance(Duration::from_millis(1));
    assert_eq!(h.take_output(c), b"fired 7\n");
    h.advance(Duration::from_secs(10));
    assert!(h.take_output(c).is_empty(), "once");
    assert_eq!(h.handler().fired(), [(c, 7)]);
}

#[test]
fn a_cancelled_timer_never_fires() {
    let mut h = recorder();
    let c = h.connect().expect("accepted");
    h.send(c, b"set 40 1\nset 80 2\nset 150 3\ncancel 1\ncancel 1\n");
    assert_eq!(
        h.take_output(c),
        b"set 1\nset 2\nset 3\ncancelled 1 true\ncancelled 1 false\n"
    );
    h.advance(Duration::from_millis(100));
    assert_eq!(h.take_output(c), b"fired 2\n");
    h.send(c, b"cancel 2\ncancel 3\n");
    assert_eq!(h.take_output(c), b"cancelled 2 false\ncancelled 3 true\n");
    h.advance(Duration::from_secs(1));
    assert!(h.take_output(c).is_empty());
    assert_eq!(h.handler().fired(), [(c, 2)]);
}

#[test]
fn a_timer_of_a_client_that_closed_never_fires_even_in_its_slot() {
    let mut h = recorder();
    let first = h.connect().expect("accepted");
    h.send(first, b"set 100 1\n");
    h.close(first);
    let second = h.connect().expect("accepted");
    h.send(second, b"set 100 2\nquit\n");
    assert_eq!(
        h.handler().closes(),
        [
            (first, CloseReason::PeerClosed),
            (second, CloseReason::Handler)
        ]
    );
    let third = h.connect().expect("accepted");
    assert!(
        [first.slot(), second.slot()].contains(&third.slot()),
        "{third} reuses a slot"
    );
    h.send(third, b"set 200 3\n");
    h.advance(Duration::from_millis(300));
    assert_eq!(h.take_output(third), b"set 3\nfired 3\n");
    assert_eq!(h.handler().fired(), [(third, 3)]);
}

/// Sets two timers due at the same moment; whichever fires first cancels
/// the other, and says whether the cancel took.
struct Rivals;

impl Handler for Rivals {
    type State = [Option<TimerId>; 2];

    fn on_connect(
        &mut self,
        cx: &mut ShardContext<'_>,
        conn: &mut Conn<'_>,
        _peer: std::net::SocketAddr,
    ) -> esockets::Admission<Self::State> {
        let after = Duration::from_millis(30);
        let first = cx.set_timer(conn.id(), after, 0);
        let second = cx.set_timer(conn.id(), after, 1);
        esockets::Admission::Accept([Some(first), Some(second)])
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
        let other = usize::from(tag == 0);
        let cancelled = timers[other].take().map(|timer| cx.cancel_timer(timer));
        conn.send(format!("fired {tag}, cancelled the other: {cancelled:?}\n").as_bytes());
    }
}

#[test]
fn a_timer_cancelled_by_one_due_at_the_same_time_never_fires() {
    let mut h = Harness::new(Config::default(), Rivals);
    let c = h.connect().expect("accepted");
    h.advance(Duration::from_secs(1));
    let output = String::from_utf8(h.take_output(c)).expect("text");
    assert_eq!(output.lines().count(), 1, "{output}");
    assert!(
        output.ends_with("cancelled the other: Some(true)\n"),
        "{output}"
    );
}

/// Counts `on_tick` calls.
#[derive(Default)]
struct Ticks(u32);

impl Handler for Ticks {
    type State = ();

    fn on_data(
        &mut self,
        _: &mut ShardContext<'_>,
        _: &mut Conn<'_>,
        _: &mut (),
        data: &[u8],
    ) -> Verdict {
        Verdict::Consumed(data.len())
    }

    fn on_tick(&mut self, _cx: &mut ShardContext<'_>) {
        self.0 += 1;
    }
}

#[test]
fn on_tick_runs_at_its_period() {
    let config = Config {
        tick: Some(Duration::from_millis(100)),
        ..Config::default()
    };
    let mut h = Harness::new(config, Ticks::default());
    h.advance(Duration::from_millis(1_050));
    assert_eq!(h.handler().0, 10);
}
