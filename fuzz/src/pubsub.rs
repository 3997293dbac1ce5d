//! The pubsub command parser, `esockets::protocols::pubsub::parse`.
//!
//! On any line: no allocation; a command it accepts is the line, written
//! back (verb, one space, topic, one space and payload), with at most a
//! final `\r` dropped; a topic is 1 to 256 bytes without space, `\r` or
//! `\n`; a payload and a topic are slices of the line. And a command built
//! from the bytes, formatted, parses back to itself, with or without a
//! final `\r`.

use esockets::protocols::pubsub::{parse, Request, MAX_TOPIC};

use crate::alloc::largest_allocation;
use crate::Input;

/// Checks the parser on `data` as a line, then a command built from it.
pub fn check(data: &[u8]) {
    check_any(data);
    let mut input = Input::new(data);
    let choice = input.byte();
    let topic_len = 1 + usize::from(input.u16()) % MAX_TOPIC;
    let topic: Vec<u8> = input
        .take(topic_len)
        .iter()
        .map(|&b| {
            if matches!(b, b' ' | b'\r' | b'\n') {
                b'_'
            } else {
                b
            }
        })
        .collect();
    let mut payload = input.rest().to_vec();
    payload.retain(|&b| b != b'\n');
    while payload.last() == Some(&b'\r') {
        payload.pop(); // a final `\r` is the line end's
    }
    if topic.is_empty() {
        return;
    }
    let command = match choice % 5 {
        0 => Request::Sub(&topic),
        1 => Request::Unsub(&topic),
        2 => Request::Pub(&topic, &payload),
        3 => Request::Auth(&topic),
        _ => Request::Ping,
    };
    let line = format(command);
    assert_eq!(parse(&line), Ok(command), "{line:?}");
    let mut crlf = line.clone();
    crlf.push(b'\r');
    assert_eq!(parse(&crlf), Ok(command), "{crlf:?}");
}

/// The invariants that hold whatever `line` is.
pub fn check_any(line: &[u8]) {
    let (parsed, allocated) = largest_allocation(|| parse(line));
    assert_eq!(allocated, None, "the parser allocated");
    let Ok(command) = parsed else {
        return;
    };
    let body = line.strip_suffix(b"\r").unwrap_or(line);
    let topic = match command {
        Request::Ping => None,
        Request::Sub(topic) | Request::Unsub(topic) => Some(topic),
        Request::Auth(token) => {
            assert!(within(token, line), "token not in the line");
            assert!(
                !token.is_empty() && !token.iter().any(|b| matches!(b, b' ' | b'\r' | b'\n')),
                "token {token:?} is empty or has a space or line end"
            );
            None
        }
        Request::Pub(topic, payload) => {
            assert!(
                payload.is_empty() || within(payload, line),
                "payload not in the line"
            );
            Some(topic)
        }
    };
    if let Some(topic) = topic {
        assert!(within(topic, line), "topic not in the line");
        assert!(
            !topic.is_empty() && topic.len() <= MAX_TOPIC,
            "topic length"
        );
        assert!(
            !topic.iter().any(|b| matches!(b, b' ' | b'\r' | b'\n')),
            "topic {topic:?} has a space or line end"
        );
    }
    let written = format(command);
    // Commands are accepted in any case, as Redis's are: compare with the
    // verb in capitals.
    let verb = body.iter().position(|&b| b == b' ').unwrap_or(body.len());
    let mut body = body.to_vec();
    body[..verb].make_ascii_uppercase();
    // `PUB topic` and `PUB topic ` are the same command.
    let same = written == body || (body.ends_with(b" ") && written == body[..body.len() - 1]);
    assert!(same, "{line:?} parsed as {command:?}, written {written:?}");
}

/// `command` as a line, without its line end.
pub fn format(command: Request<'_>) -> Vec<u8> {
    let parts: &[&[u8]] = match command {
        Request::Ping => &[b"PING"],
        Request::Sub(topic) => &[b"SUB ", topic],
        Request::Unsub(topic) => &[b"UNSUB ", topic],
        Request::Auth(token) => &[b"AUTH ", token],
        Request::Pub(topic, []) => &[b"PUB ", topic],
        Request::Pub(topic, payload) => &[b"PUB ", topic, b" ", payload],
    };
    parts.concat()
}

/// Whether `part` is a slice of `whole`'s memory.
fn within(part: &[u8], whole: &[u8]) -> bool {
    let range = whole.as_ptr_range();
    let start = part.as_ptr();
    range.start <= start && start.wrapping_add(part.len()) <= range.end
}
