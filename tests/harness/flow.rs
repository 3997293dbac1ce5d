//! Flow: backpressure at the water marks (reading pauses above high water,
//! `on_drain` and reading resume at low water), input carried between
//! reads, requests for other clients applied right after the callback,
//! `send_to_all` and broadcast under one slow-subscriber policy, the idle
//! timeout to the millisecond.

use std::time::Duration;

use esockets::testing::Harness;
use esockets::{CloseReason, Config, SlowSubscribers};

use crate::recorder::{Event, Recorder};

/// Water marks of 64 KiB and 16 KiB.
fn marks() -> Config {
    Config {
        output_high_water: 64 * 1024,
        output_low_water: 16 * 1024,
        ..Config::default()
    }
}

#[test]
fn reading_pauses_above_high_water_and_resumes_with_on_drain_at_low_water() {
    let mut h = Harness::new(marks(), Recorder::default());
    let c = h.connect().expect("accepted");
    h.set_window(c, Some(0));
    h.send(c, b"flood 100\n");
    assert_eq!(h.stats().paused, 1);
    // Paused: a command waits unread.
    h.send(c, b"ping\n");
    assert_eq!(h.take_output(c), b"");
    // The client reads 80 KiB: 20 KiB left queued, above low water.
    h.open_window(c, Some(80 * 1024));
    assert_eq!(h.take_output(c).len(), 80 * 1024);
    assert_eq!(h.stats().paused, 1);
    assert!(!h.handler().events.contains(&Event::Drained(c)));
    // 5 KiB more: 15 KiB queued, at low water: on_drain, reading resumes.
    h.open_window(c, Some(5 * 1024));
    assert_eq!(h.take_output(c).len(), 5 * 1024);
    assert_eq!(h.stats().paused, 0);
    assert!(h.handler().events.contains(&Event::Drained(c)));
    h.open_window(c, None);
    let rest = h.take_output(c);
    assert_eq!(rest.len(), 15 * 1024 + b"ping\n".len());
    assert!(rest.ends_with(b"ping\n"), "the waiting command ran after");
}

#[test]
fn requests_for_other_clients_apply_right_after_the_callback() {
    let mut h = Harness::new(Config::default(), Recorder::default());
    let a = h.connect().expect("accepted");
    let b = h.connect().expect("accepted");
    h.send(a, b"to 1 hi b\nall everyone\n");
    assert_eq!(h.take_output(b), b"hi b\neveryone\n");
    assert_eq!(h.take_output(a), b"everyone\n");
}

#[test]
fn send_to_all_skips_slow_clients_under_drop_as_a_publish_does() {
    let config = Config {
        slow_subscribers: SlowSubscribers::Drop,
        ..marks()
    };
    let mut h = Harness::new(config, Recorder::default());
    let slow = h.connect().expect("accepted");
    let fast = h.connect().expect("accepted");
    h.set_window(slow, Some(0));
    h.send(slow, b"flood 100\n");
    h.send(fast, b"all news\n");
    assert_eq!(h.take_output(fast), b"news\n");
    assert_eq!(h.stats().dropped_slow, 1);
    h.handle().broadcast(&b"more\n"[..]).expect("queued");
    h.settle();
    assert_eq!(h.take_output(fast), b"more\n");
    assert_eq!(h.stats().dropped_slow, 2, "the same policy for broadcast");
}

#[test]
fn the_idle_timeout_counts_from_the_last_input() {
    let config = Config {
        idle_timeout: Some(Duration::from_millis(500)),
        ..Config::default()
    };
    let mut h = Harness::new(config, Recorder::default());
    let quiet = h.connect().expect("accepted");
    let busy = h.connect().expect("accepted");
    for _ in 0..4 {
        h.advance(Duration::from_millis(200));
        h.send(busy, b"ping\n");
    }
    assert!(!h.is_connected(quiet), "silent for 800 ms");
    assert!(h.is_connected(busy));
    assert_eq!(h.handler().closes(), [(quiet, CloseReason::IdleTimeout)]);
    h.advance(Duration::from_millis(499));
    assert!(h.is_connected(busy));
    h.advance(Duration::from_millis(2));
    assert!(!h.is_connected(busy));
}

/// Gives each client the idle timeout its first line asks for (`idle MS`
/// or `idle off`), and answers `quiet?` with how long it was silent.
struct OwnIdle;

impl esockets::Handler for OwnIdle {
    type State = ();

    fn on_data(
        &mut self,
        cx: &mut esockets::ShardContext<'_>,
        conn: &mut esockets::Conn<'_>,
        _state: &mut (),
        data: &[u8],
    ) -> esockets::Verdict {
        let mut lines = esockets::lines::Lines::new(data, conn.carried(), 64);
        for line in &mut lines {
            match line {
                b"idle off" => cx.set_idle_timeout(conn, None),
                b"idle server" => cx.reset_idle_timeout(conn),
                b"quiet?" => {
                    let quiet = cx.idle_for(conn).map(|d| d.as_millis());
                    conn.send(format!("{quiet:?}\n").as_bytes());
                }
                _ => {
                    let ms = std::str::from_utf8(&line[5..]).expect("text");
                    let ms = ms.parse().expect("ms");
                    cx.set_idle_timeout(conn, Some(Duration::from_millis(ms)));
                }
            }
        }
        esockets::Verdict::Consumed(lines.consumed())
    }
}

#[test]
fn a_client_can_have_its_own_idle_timeout_and_say_how_long_it_was_quiet() {
    let config = Config {
        idle_timeout: Some(Duration::from_secs(10)),
        ..Config::default()
    };
    let mut h = Harness::new(config, OwnIdle);
    let short = h.connect().expect("accepted");
    let never = h.connect().expect("accepted");
    let server = h.connect().expect("accepted");
    h.send(short, b"idle 100\n");
    h.send(never, b"idle off\n");
    h.advance(Duration::from_millis(60));
    h.send(server, b"quiet?\n");
    assert_eq!(h.take_output(server), b"Some(0)\n", "it just spoke");
    h.send(never, b"quiet?\n");
    assert_eq!(
        h.take_output(never),
        b"None\n",
        "not tracked without a timeout"
    );
    h.advance(Duration::from_millis(41));
    assert!(!h.is_connected(short), "its own 100 ms");
    h.advance(Duration::from_secs(9));
    assert!(h.is_connected(server), "the server's 10 s");
    h.advance(Duration::from_secs(2));
    assert!(!h.is_connected(server));
    h.advance(Duration::from_secs(60));
    assert!(h.is_connected(never), "off for this one");
    h.send(never, b"idle server\n");
    h.advance(Duration::from_millis(9_999));
    assert!(h.is_connected(never));
    h.advance(Duration::from_millis(2));
    assert!(!h.is_connected(never), "the server's again");
}

#[test]
fn a_fan_out_past_the_output_limit_closes_a_reader_that_stopped() {
    let config = Config {
        output_limit: 1000,
        output_high_water: 800,
        output_low_water: 100,
        ..Config::default()
    };
    let mut h = Harness::new(config, Recorder::default());
    let stopped = h.connect().expect("accepted");
    let other = h.connect().expect("accepted");
    h.set_window(stopped, Some(0));
    let big = "x".repeat(600);
    h.send(other, format!("all {big}\n").as_bytes());
    assert!(h.is_connected(stopped), "under the limit");
    h.send(other, format!("all {big}\n").as_bytes());
    // No event ever comes from a reader that stopped: closed all the same.
    assert!(!h.is_connected(stopped));
    assert_eq!(
        h.handler().closes(),
        [(stopped, CloseReason::OutputOverflow)]
    );
}

#[test]
fn input_past_the_read_budget_is_all_handled_in_one_call() {
    let config = Config {
        read_budget: 4096,
        ..Config::default()
    };
    let mut h = Harness::new(config, esockets::protocols::Echo);
    let c = h.connect().expect("accepted");
    let data = vec![b'e'; 64 * 1024];
    h.send(c, &data);
    assert_eq!(h.take_output(c), data);
}

#[test]
fn a_long_shutdown_grace_is_run_to_its_end_at_once() {
    let config = Config {
        shutdown_grace: Duration::from_secs(2 * 3600),
        ..Config::default()
    };
    let mut h = Harness::new(config, Recorder::default());
    let c = h.connect().expect("accepted");
    h.shutdown();
    assert!(!h.is_connected(c));
    assert_eq!(h.handler().closes(), [(c, CloseReason::Shutdown)]);
}

#[test]
fn what_a_callback_sends_its_own_client_arrives_before_the_close_it_asks_for() {
    let mut h = Harness::new(Config::default(), Recorder::default());
    let a = h.connect().expect("accepted");
    let b = h.connect().expect("accepted");
    h.send(a, b"all goodbye\nquit\n");
    let out = String::from_utf8(h.take_output(a)).expect("text");
    assert!(
        out.contains("bye\n") && out.contains("goodbye\n"),
        "{out:?}"
    );
    assert_eq!(h.take_output(b), b"goodbye\n");
    assert!(h.server_closed(a));
}

/// Tells every other client when one leaves, from `on_close`.
struct Leaver;

impl esockets::Handler for Leaver {
    type State = ();

    fn on_data(
        &mut self,
        _: &mut esockets::ShardContext<'_>,
        _: &mut esockets::Conn<'_>,
        _: &mut (),
        data: &[u8],
    ) -> esockets::Verdict {
        esockets::Verdict::Consumed(data.len())
    }

    fn on_close(
        &mut self,
        cx: &mut esockets::ShardContext<'_>,
        id: esockets::ConnId,
        _: (),
        _: CloseReason,
    ) {
        cx.send_to_all(format!("{} left\n", id.slot()));
    }
}

#[test]
fn what_on_close_asks_for_is_applied_at_once() {
    let mut h = Harness::new(Config::default(), Leaver);
    let a = h.connect().expect("accepted");
    let b = h.connect().expect("accepted");
    h.close(a);
    assert_eq!(h.take_output(b), format!("{} left\n", a.slot()).as_bytes());
}
