//! Line echo (moved from the loopback tests): complete lines come back
//! byte-exact however they are split, partial lines wait, an over-long
//! line gets an error and a graceful close without touching other
//! clients.

use esockets::protocols::{LineEcho, LINE_TOO_LONG};
use esockets::testing::Harness;
use esockets::Config;

/// Longest line the test server accepts.
const MAX_LINE: usize = 64;

/// A line-echo shard with `MAX_LINE` and an input limit above it.
fn line_echo() -> Harness<LineEcho> {
    let config = Config {
        input_limit: 4 * MAX_LINE,
        ..Config::default()
    };
    Harness::new(config, LineEcho::new(MAX_LINE))
}

#[test]
fn several_lines_in_one_read_all_come_back() {
    let mut h = line_echo();
    let c = h.connect().expect("accepted");
    h.send(c, b"one\ntwo\n\nthree and more\n");
    assert_eq!(h.take_output(c), b"one\ntwo\n\nthree and more\n");
}

#[test]
fn a_line_sent_byte_by_byte_comes_back_only_at_its_newline() {
    let mut h = line_echo();
    let c = h.connect().expect("accepted");
    for byte in b"split into many reads\r" {
        h.send(c, &[*byte]);
        assert!(h.take_output(c).is_empty());
    }
    h.send(c, b"\n");
    assert_eq!(
        h.take_output(c),
        b"split into many reads\r\n",
        "\\r\\n kept"
    );
}

#[test]
fn a_partial_line_after_complete_ones_waits() {
    let mut h = line_echo();
    let c = h.connect().expect("accepted");
    h.send(c, b"done\nnot yet");
    assert_eq!(h.take_output(c), b"done\n");
    h.send(c, b", now\r\n");
    assert_eq!(h.take_output(c), b"not yet, now\r\n");
}

#[test]
fn a_line_of_exactly_max_line_bytes_is_accepted() {
    let mut h = line_echo();
    let c = h.connect().expect("accepted");
    let mut line = vec![b'y'; MAX_LINE];
    line.push(b'\n');
    h.send(c, &line);
    assert_eq!(h.take_output(c), line);
    assert!(h.is_connected(c));
}

#[test]
fn an_over_long_line_gets_an_error_and_a_close_while_others_go_on() {
    let mut h = line_echo();
    let other = h.connect().expect("accepted");
    let c = h.connect().expect("accepted");
    let mut data = b"fine\n".to_vec();
    data.extend(vec![b'x'; MAX_LINE + 1]);
    data.extend(b"\nnever echoed\n");
    h.send(c, &data);
    let mut expected = b"fine\n".to_vec();
    expected.extend_from_slice(LINE_TOO_LONG);
    assert_eq!(h.take_output(c), expected);
    assert!(h.server_closed(c), "FIN after the error");
    h.close(c);
    assert!(!h.is_connected(c));
    h.send(other, b"after\n");
    assert_eq!(h.take_output(other), b"after\n");
}

#[test]
fn an_over_long_partial_line_is_refused_before_its_newline() {
    let mut h = line_echo();
    let c = h.connect().expect("accepted");
    h.send(c, &[b'z'; MAX_LINE + 1]);
    assert_eq!(h.take_output(c), LINE_TOO_LONG);
    assert!(h.server_closed(c));
}
