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
