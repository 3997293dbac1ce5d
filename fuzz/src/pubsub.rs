//! The pubsub command parser, `esockets::protocols::pubsub::parse`.
//!
//! On any line: no allocation; a command it accepts is the line, written
//! back (verb, one space, topic, one space and payload), with at most a
//! final `\r` dropped; a topic is 1 to 256 bytes without space, `\r` or
//! `\n`; a payload, a topic and an epoch are slices of the line (an epoch
//! 1 to 64 bytes without space or line end). And a command built from the
//! bytes, formatted, parses back to itself, with or without a final `\r`.

use esockets::protocols::pubsub::{parse, Request, MAX_EPOCH, MAX_TOPIC};

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
    let offset = u64::from(input.u16()) << (choice % 48);
    let epoch = &topic[..topic.len().min(MAX_EPOCH)];
    let command = match choice % 8 {
        0 => Request::Sub(&topic),
        1 => Request::Unsub(&topic),
        2 => Request::Pub(&topic, &payload),
        3 => Request::Auth(&topic),
        4 => Request::SubPositioned(&topic),
        5 => Request::SubSince(&topic, offset, epoch),
        6 => Request::Presence(&topic),
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
        Request::Sub(topic)
        | Request::Unsub(topic)
        | Request::SubPositioned(topic)
        | Request::Presence(topic) => Some(topic),
        Request::SubSince(topic, _, epoch) => {
            assert!(within(epoch, line), "epoch not in the line");
            assert!(
                !epoch.is_empty()
                    && epoch.len() <= MAX_EPOCH
                    && !epoch.iter().any(|b| matches!(b, b' ' | b'\r' | b'\n')),
                "epoch {epoch:?}"
            );
            Some(topic)
        }
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
    // So are `POS` and `SINCE`, the word after a `SUB`'s topic.
    if let Request::SubPositioned(topic) | Request::SubSince(topic, ..) = command {
        let mode = verb + 1 + topic.len() + 1;
        let end = body[mode..]
            .iter()
            .position(|&b| b == b' ')
            .map_or(body.len(), |at| mode + at);
        body[mode..end].make_ascii_uppercase();
    }
    // `PUB topic` and `PUB topic ` are the same command.
    let same = written == body || (body.ends_with(b" ") && written == body[..body.len() - 1]);
    assert!(same, "{line:?} parsed as {command:?}, written {written:?}");
}

/// `command` as a line, without its line end.
pub fn format(command: Request<'_>) -> Vec<u8> {
    let offset;
    let parts: &[&[u8]] = match command {
        Request::SubPositioned(topic) => &[b"SUB ", topic, b" POS"],
        Request::SubSince(topic, at, epoch) => {
            offset = at.to_string();
            &[b"SUB ", topic, b" SINCE ", offset.as_bytes(), b" ", epoch]
        }
        Request::Presence(topic) => &[b"PRESENCE ", topic],
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
