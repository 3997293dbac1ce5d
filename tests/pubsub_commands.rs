//! Property tests of the pubsub command parser: a command written out
//! parses back to itself, with or without the line's `\r`; any line the
//! parser accepts is such a command written out; a topic out of the
//! grammar is refused for the right reason; arbitrary lines never panic.
//! The fuzz target pubsub_command (fuzz/src/pubsub.rs) checks the same
//! parser coverage-guided.

use esockets::protocols::pubsub::{parse, Request, RequestError, MAX_EPOCH, MAX_TOPIC};
use proptest::prelude::*;

/// `command` as a line, without its line end.
fn write(command: Request<'_>) -> Vec<u8> {
    match command {
        Request::Ping => b"PING".to_vec(),
        Request::Auth(token) => [&b"AUTH "[..], token].concat(),
        Request::Sub(topic) => [&b"SUB "[..], topic].concat(),
        Request::SubPositioned(topic) => [&b"SUB "[..], topic, b" POS"].concat(),
        Request::SubSince(topic, offset, epoch) => {
            let offset = offset.to_string();
            [
                &b"SUB "[..],
                topic,
                b" SINCE ",
                offset.as_bytes(),
                b" ",
                epoch,
            ]
            .concat()
        }
        Request::Presence(topic) => [&b"PRESENCE "[..], topic].concat(),
        Request::Unsub(topic) => [&b"UNSUB "[..], topic].concat(),
        Request::Pub(topic, []) => [&b"PUB "[..], topic].concat(),
        Request::Pub(topic, payload) => [&b"PUB "[..], topic, b" ", payload].concat(),
    }
}

/// A topic the grammar allows: 1 to 256 bytes but space, `\r`, `\n`.
fn topic() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("not SP, CR, LF", |b| !b" \r\n".contains(b)),
        1..=MAX_TOPIC,
    )
}

/// A payload a line can carry: any bytes but `\n`, not ending in `\r`.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>().prop_filter("not LF", |&b| b != b'\n'), 0..300)
        .prop_filter("not ending in CR", |p| p.last() != Some(&b'\r'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Written out, then parsed: the same command, with or without `\r`.
    #[test]
    fn a_written_command_parses_back(
        kind in 0u8..8,
        topic in topic(),
        payload in payload(),
        offset in any::<u64>(),
        crlf in any::<bool>(),
    ) {
        let epoch = &topic[..topic.len().min(MAX_EPOCH)];
        let command = match kind {
            0 => Request::Sub(&topic),
            1 => Request::Unsub(&topic),
            2 => Request::Pub(&topic, &payload),
            3 => Request::Auth(&topic),
            4 => Request::SubPositioned(&topic),
            5 => Request::SubSince(&topic, offset, epoch),
            6 => Request::Presence(&topic),
            _ => Request::Ping,
        };
        let mut line = write(command);
        if crlf {
            line.push(b'\r');
        }
        prop_assert_eq!(parse(&line), Ok(command));
    }

    /// A line the parser accepts is a command written out (a `PUB` with
    /// an empty payload may have kept its space; the verb in any case, as
    /// Redis's), whatever the line.
    #[test]
    fn an_accepted_line_is_a_written_command(
        verb in prop::sample::select(vec!["SUB", "UNSUB", "PUB", "PING", "AUTH", "sub", "PUBLISH", "PRESENCE", ""]),
        rest in prop::collection::vec(prop::sample::select(b" \r\nab\xff".to_vec()), 0..20),
    ) {
        let mut line = verb.as_bytes().to_vec();
        line.extend_from_slice(&rest);
        if let Ok(command) = parse(&line) {
            let mut body = line.strip_suffix(b"\r").unwrap_or(&line).to_vec();
            let verb_end = body.iter().position(|&b| b == b' ').unwrap_or(body.len());
            body[..verb_end].make_ascii_uppercase();
            let written = write(command);
            prop_assert!(
                written == body || [&written[..], b" "].concat() == body,
                "{:?} parsed as {:?}", String::from_utf8_lossy(&line), command
            );
        }
    }

    /// A topic with a space, `\r` or `\n` in it, or over 256 bytes, is
    /// refused by `SUB` and `UNSUB`, for its reason.
    #[test]
    fn a_topic_out_of_the_grammar_is_refused(
        unsub in any::<bool>(),
        topic in topic(),
        bad in prop::sample::select(b" \r\n".to_vec()),
        at in any::<prop::sample::Index>(),
        long in (MAX_TOPIC + 1)..(2 * MAX_TOPIC),
    ) {
        let verb: &[u8] = if unsub { b"UNSUB " } else { b"SUB " };
        let mut inner = topic.clone();
        inner.truncate(MAX_TOPIC - 2); // within the limit with the two bytes added
        inner.insert(at.index(inner.len()) + 1, bad);
        inner.push(b'x'); // the bad byte is not the last: not the line's `\r`
        let line = [verb, &inner].concat();
        prop_assert_eq!(parse(&line), Err(RequestError::TrailingBytes));
        let line = [verb, &vec![b'x'; long]].concat();
        prop_assert_eq!(parse(&line), Err(RequestError::TopicTooLong));
    }

    /// Arbitrary bytes never panic the parser, and what it accepts has a
    /// topic within the grammar.
    #[test]
    fn arbitrary_lines_never_panic(line in prop::collection::vec(any::<u8>(), 0..400)) {
        match parse(&line) {
            Ok(
                Request::Sub(topic)
                | Request::Unsub(topic)
                | Request::Pub(topic, _)
                | Request::SubPositioned(topic)
                | Request::Presence(topic),
            ) => {
                prop_assert!(!topic.is_empty() && topic.len() <= MAX_TOPIC);
                prop_assert!(!topic.iter().any(|b| b" \r\n".contains(b)));
            }
            Ok(Request::SubSince(topic, _, epoch)) => {
                prop_assert!(!topic.is_empty() && topic.len() <= MAX_TOPIC);
                prop_assert!(!epoch.is_empty() && epoch.len() <= MAX_EPOCH);
                prop_assert!(!epoch.iter().any(|b| b" \r\n".contains(b)));
            }
            Ok(Request::Auth(token)) => {
                prop_assert!(!token.is_empty());
                prop_assert!(!token.iter().any(|b| b" \r\n".contains(b)));
            }
            Ok(Request::Ping) | Err(_) => {}
        }
    }
}
