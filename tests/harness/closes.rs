//! Closes and their reasons (moved from the loopback tests where the
//! socket added nothing): the client's end of stream, a reset, the
//! handler (by verdict or `Conn::close`), the server's handle, shutdown,
//! output and input overflow; a graceful close flushes first, then sends
//! FIN, and waits for the client whose window is shut, up to the close
//! deadline.

use std::time::Duration;

use esockets::testing::Harness;
use esockets::{CloseReason, Config};

use crate::recorder::Recorder;

/// A recorder with small limits: 64 KiB of input, 1 MiB of output.
fn recorder() -> Harness<Recorder> {
    let config = Config {
        input_limit: 64 * 1024,
        output_high_water: 256 * 1024,
        output_low_water: 64 * 1024,
        output_limit: 1024 * 1024,
        ..Config::default()
    };
    Harness::new(config, Recorder::default())
}

#[test]
fn each_close_says_why() {
    let mut h = recorder();
    let peer = h.connect().expect("accepted");
    let reset = h.connect().expect("accepted");
    let verdict = h.connect().expect("accepted");
    let conn_close = h.connect().expect("accepted");
    let handle = h.connect().expect("accepted");
    h.close(peer);
    h.reset(reset);
    h.send(verdict, b"quit\n");
    h.send(conn_close, b"kill\n");
    h.handle().close(handle).expect("queued");
    h.settle();
    assert_eq!(
        h.handler().closes(),
        [
            (peer, CloseReason::PeerClosed),
            (reset, CloseReason::Reset),
            (verdict, CloseReason::Handler),
            (conn_close, CloseReason::Handler),
            (handle, CloseReason::Server),
        ]
    );
    assert_eq!(h.take_output(verdict), b"bye\n");
    assert_eq!(h.take_output(conn_close), b"bye\n");
}

#[test]
fn a_handler_close_flushes_the_queue_then_sends_fin() {
    let mut h = recorder();
    let c = h.connect().expect("accepted");
    h.set_window(c, Some(1000));
    h.send(c, b"flood 512\nquit\n");
    assert!(h.is_connected(c), "still flushing");
    assert!(!h.server_closed(c));
    assert_eq!(h.take_output(c).len(), 1000);
    h.open_window(c, None);
    let rest = h.take_output(c);
    assert_eq!(rest.len(), 512 * 1024 - 1000 + b"bye\n".len());
    assert!(rest.ends_with(b"bye\n"));
    assert!(h.server_closed(c), "FIN once flushed");
    h.close(c);
    assert_eq!(h.handler().closes(), [(c, CloseReason::Handler)]);
}

#[test]
fn a_graceful_close_ends_at_the_close_deadline_if_the_client_never_reads() {
    let mut h = recorder();
    let c = h.connect().expect("accepted");
    h.set_window(c, Some(0));
    h.send(c, b"flood 64\nquit\n");
    h.advance(Duration::from_millis(4_999));
    assert!(h.is_connected(c), "the default close deadline is 5 s");
    h.advance(Duration::from_millis(10));
    assert!(!h.is_connected(c));
    assert_eq!(h.handler().closes(), [(c, CloseReason::Handler)]);
    assert_eq!(h.stats().cut_off, 1, "counted as cut off");
}

#[test]
fn output_overflow_closes_at_once() {
    let mut h = recorder();
    let c = h.connect().expect("accepted");
    h.set_window(c, Some(0));
    h.send(c, b"flood 1025\n");
    assert!(!h.is_connected(c));
    assert_eq!(h.handler().closes(), [(c, CloseReason::OutputOverflow)]);
}

#[test]
fn input_overflow_closes_at_once() {
    let mut h = recorder();
    let c = h.connect().expect("accepted");
    // `hold` leaves itself unconsumed too: 5 bytes, then up to the limit.
    h.send(c, b"hold\n");
    h.send(c, &vec![b'x'; 64 * 1024 - 5]);
    assert!(h.is_connected(c), "at the limit");
    h.send(c, b"y");
    assert!(!h.is_connected(c));
    assert_eq!(h.handler().closes(), [(c, CloseReason::InputOverflow)]);
}

#[test]
fn shutdown_closes_every_client_with_its_output() {
    let mut h = recorder();
    let a = h.connect().expect("accepted");
    let b = h.connect().expect("accepted");
    h.send(a, b"hello\n");
    h.shutdown();
    assert_eq!(h.take_output(a), b"hello\n");
    assert!(h.server_closed(a) && h.server_closed(b));
    let mut closes = h.handler().closes();
    closes.sort_by_key(|&(id, _)| id);
    assert_eq!(
        closes,
        [(a, CloseReason::Shutdown), (b, CloseReason::Shutdown)]
    );
}
