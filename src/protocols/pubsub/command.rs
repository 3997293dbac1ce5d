//! The pubsub protocol's commands: parsing one line (or one WebSocket
//! text message) into a command, or a reason to refuse it. Pure code.

/// Longest topic, in bytes.
pub const MAX_TOPIC: usize = 256;

/// Longest epoch a client may send back, in bytes.
pub const MAX_EPOCH: usize = 64;

/// One client command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `SUB topic`: receive what is published to `topic`.
    Sub(&'a [u8]),
    /// `SUB topic POS`: the same, each delivery with its offset in the
    /// topic's history; answered with the topic's position.
    SubPositioned(&'a [u8]),
    /// `SUB topic SINCE offset epoch`: the same, first receiving every
    /// publish after `offset` of the history `epoch`.
    SubSince(&'a [u8], u64, &'a [u8]),
    /// `PRESENCE topic`: who is subscribed to `topic`.
    Presence(&'a [u8]),
    /// `UNSUB topic`: stop receiving it.
    Unsub(&'a [u8]),
    /// `PUB topic payload`: send `payload` (the rest of the line, spaces
    /// included; may be empty) to every subscriber of `topic`.
    Pub(&'a [u8], &'a [u8]),
    /// `PING`: answered `+PONG`.
    Ping,
    /// `AUTH token`: authenticate (or refresh) with a connection token,
    /// the rest of the line (no space in it).
    Auth(&'a [u8]),
}

/// Why a command line was refused; each has its `-ERR` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Not one of `SUB`, `UNSUB`, `PUB`, `PING`, `AUTH`, `PRESENCE`.
    Unknown,
    /// The command needs a topic and has none (or an empty one).
    NoTopic,
    /// The topic is longer than [`MAX_TOPIC`] bytes.
    TopicTooLong,
    /// `SUB`, `UNSUB`, `PING` or `AUTH` followed by more than they take.
    TrailingBytes,
    /// `AUTH` without a token.
    NoToken,
    /// `SINCE` without an offset, or one that is not a decimal number of
    /// at most 20 digits (no sign, no leading zero) that fits 64 bits.
    BadOffset,
    /// `SINCE` without an epoch, or one longer than [`MAX_EPOCH`] bytes.
    BadEpoch,
}

impl RequestError {
    /// The reply line's text, without its newline.
    pub fn reply(self) -> &'static [u8] {
        match self {
            Self::Unknown => b"-ERR unknown command",
            Self::NoTopic => b"-ERR missing topic",
            Self::TopicTooLong => b"-ERR topic too long",
            Self::TrailingBytes => b"-ERR unexpected bytes after the command",
            Self::NoToken => b"-ERR missing token",
            Self::BadOffset => b"-ERR bad offset",
            Self::BadEpoch => b"-ERR bad epoch",
        }
    }
}

/// Parses one command, `line` without its `\n` (a trailing `\r` is
/// ignored). Commands are in any case (`SUB`, `sub`, `Sub`), as Redis's
/// are; topics are case-sensitive; exactly one space separates the parts;
/// a topic is any bytes but space, `\r` and `\n`. `POS` and `SINCE`
/// are in any case too.
pub fn parse(line: &[u8]) -> Result<Request<'_>, RequestError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (verb, rest) = match memchr::memchr(b' ', line) {
        Some(space) => (&line[..space], Some(&line[space + 1..])),
        None => (line, None),
    };
    let mut upper = [0u8; LONGEST_VERB];
    let verb = match upper.get_mut(..verb.len()) {
        Some(upper) => {
            upper.copy_from_slice(verb);
            upper.make_ascii_uppercase();
            &*upper
        }
        None => return Err(RequestError::Unknown),
    };
    match verb {
        b"PING" if rest.is_none() => Ok(Request::Ping),
        b"PING" => Err(RequestError::TrailingBytes),
        b"SUB" => subscribe(rest.unwrap_or_default()),
        b"PRESENCE" => lone_topic(rest).map(Request::Presence),
        b"UNSUB" => lone_topic(rest).map(Request::Unsub),
        b"AUTH" => match rest.unwrap_or_default() {
            b"" => Err(RequestError::NoToken),
            token if token.iter().any(|&b| b == b' ' || b == b'\r' || b == b'\n') => {
                Err(RequestError::TrailingBytes)
            }
            token => Ok(Request::Auth(token)),
        },
        b"PUB" => {
            let rest = rest.unwrap_or_default();
            let (topic, payload) = match memchr::memchr(b' ', rest) {
                Some(space) => (&rest[..space], &rest[space + 1..]),
                None => (rest, &b""[..]),
            };
            Ok(Request::Pub(checked_topic(topic)?, payload))
        }
        _ => Err(RequestError::Unknown),
    }
}

/// The longest command name (`PRESENCE`).
const LONGEST_VERB: usize = 8;

/// `SUB`'s arguments: a topic, then nothing, `POS`, or `SINCE offset
/// epoch`.
fn subscribe(rest: &[u8]) -> Result<Request<'_>, RequestError> {
    let mut words = rest.splitn(4, |&b| b == b' ');
    let topic = checked_topic(words.next().unwrap_or_default())?;
    let Some(mode) = words.next() else {
        return Ok(Request::Sub(topic));
    };
    if mode.eq_ignore_ascii_case(b"POS") && words.next().is_none() {
        return Ok(Request::SubPositioned(topic));
    }
    if !mode.eq_ignore_ascii_case(b"SINCE") {
        return Err(RequestError::TrailingBytes);
    }
    let offset = offset(words.next().unwrap_or_default()).ok_or(RequestError::BadOffset)?;
    let epoch = words.next().unwrap_or_default();
    if epoch.is_empty()
        || epoch.len() > MAX_EPOCH
        || epoch.iter().any(|&b| matches!(b, b' ' | b'\r' | b'\n'))
    {
        return Err(RequestError::BadEpoch);
    }
    Ok(Request::SubSince(topic, offset, epoch))
}

/// A decimal offset: digits only, no leading zero (but `0`), fits 64
/// bits.
fn offset(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || (text.len() > 1 && text[0] == b'0') {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// A topic that must be the last part of the line.
fn lone_topic(rest: Option<&[u8]>) -> Result<&[u8], RequestError> {
    let rest = rest.unwrap_or_default();
    if memchr::memchr(b' ', rest).is_some() {
        return Err(RequestError::TrailingBytes);
    }
    checked_topic(rest)
}

/// `topic` if it is a valid topic.
fn checked_topic(topic: &[u8]) -> Result<&[u8], RequestError> {
    if topic.is_empty() {
        Err(RequestError::NoTopic)
    } else if topic.len() > MAX_TOPIC {
        Err(RequestError::TopicTooLong)
    } else if topic.iter().any(|&b| b == b'\r' || b == b'\n') {
        // Only a `\r` right before the newline is part of the line end; a
        // `\n` can only be in a WebSocket message (lines are split at it).
        Err(RequestError::TrailingBytes)
    } else {
        Ok(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Request, RequestError, MAX_EPOCH, MAX_TOPIC};

    #[test]
    fn every_command() {
        assert_eq!(parse(b"SUB news"), Ok(Request::Sub(b"news")));
        assert_eq!(parse(b"UNSUB news\r"), Ok(Request::Unsub(b"news")));
        assert_eq!(
            parse(b"PUB news hello  world "),
            Ok(Request::Pub(b"news", b"hello  world "))
        );
        assert_eq!(parse(b"PUB news"), Ok(Request::Pub(b"news", b"")));
        assert_eq!(parse(b"PUB news "), Ok(Request::Pub(b"news", b"")));
        assert_eq!(parse(b"PING"), Ok(Request::Ping));
        assert_eq!(parse(b"auth a.b.c\r"), Ok(Request::Auth(b"a.b.c")));
    }

    #[test]
    fn every_error() {
        assert_eq!(parse(b""), Err(RequestError::Unknown));
        assert_eq!(parse(b"SUBSCRIBE news"), Err(RequestError::Unknown));
        assert_eq!(parse(b"SUB"), Err(RequestError::NoTopic));
        assert_eq!(parse(b"SUB "), Err(RequestError::NoTopic));
        assert_eq!(parse(b"PUB"), Err(RequestError::NoTopic));
        assert_eq!(parse(b"PUB  payload"), Err(RequestError::NoTopic));
        assert_eq!(parse(b"SUB a b"), Err(RequestError::TrailingBytes));
        assert_eq!(parse(b"PING x"), Err(RequestError::TrailingBytes));
        assert_eq!(parse(b"SUB a\rb"), Err(RequestError::TrailingBytes));
        assert_eq!(parse(b"AUTH"), Err(RequestError::NoToken));
        assert_eq!(parse(b"AUTH "), Err(RequestError::NoToken));
        assert_eq!(parse(b"AUTH a b"), Err(RequestError::TrailingBytes));
        assert_eq!(parse(b"AUTH a\nb"), Err(RequestError::TrailingBytes));
        let long = [b'x'; MAX_TOPIC + 1];
        let mut line = b"SUB ".to_vec();
        line.extend_from_slice(&long);
        assert_eq!(parse(&line), Err(RequestError::TopicTooLong));
        assert_eq!(parse(&line[..line.len() - 1]), Ok(Request::Sub(&long[1..])));
    }

    #[test]
    fn subscribing_with_positions_and_recovering() {
        assert_eq!(parse(b"SUB t POS"), Ok(Request::SubPositioned(b"t")));
        assert_eq!(parse(b"sub t pos\r"), Ok(Request::SubPositioned(b"t")));
        assert_eq!(
            parse(b"SUB t SINCE 0 e1"),
            Ok(Request::SubSince(b"t", 0, b"e1"))
        );
        assert_eq!(
            parse(b"SUB t since 18446744073709551615 abc"),
            Ok(Request::SubSince(b"t", u64::MAX, b"abc"))
        );
        assert_eq!(parse(b"PRESENCE room"), Ok(Request::Presence(b"room")));
        assert_eq!(parse(b"PRESENCE"), Err(RequestError::NoTopic));
        assert_eq!(parse(b"PRESENCE a b"), Err(RequestError::TrailingBytes));
        assert_eq!(parse(b"SUB t POS x"), Err(RequestError::TrailingBytes));
        assert_eq!(parse(b"SUB t OTHER"), Err(RequestError::TrailingBytes));
        for bad in [
            &b"SUB t SINCE"[..],
            b"SUB t SINCE  e",
            b"SUB t SINCE -1 e",
            b"SUB t SINCE +1 e",
            b"SUB t SINCE 18446744073709551616 e",
            b"SUB t SINCE 99999999999999999999999 e",
            b"SUB t SINCE 1x e",
            b"SUB t SINCE abc e",
            b"SUB t SINCE 01 e",
        ] {
            assert_eq!(parse(bad), Err(RequestError::BadOffset), "{bad:?}");
        }
        let long_epoch = [b"SUB t SINCE 1 ".as_slice(), &[b'e'; MAX_EPOCH + 1]].concat();
        for bad in [
            &b"SUB t SINCE 1"[..],
            b"SUB t SINCE 1 ",
            b"SUB t SINCE 1 e f",
            &long_epoch,
        ] {
            assert_eq!(parse(bad), Err(RequestError::BadEpoch), "{bad:?}");
        }
    }

    #[test]
    fn commands_in_any_case_as_in_redis() {
        assert_eq!(parse(b"sub news"), Ok(Request::Sub(b"news")));
        assert_eq!(parse(b"Unsub News"), Ok(Request::Unsub(b"News")));
        assert_eq!(parse(b"pub news hi"), Ok(Request::Pub(b"news", b"hi")));
        assert_eq!(parse(b"ping"), Ok(Request::Ping));
        assert_eq!(parse(b"pInG\r"), Ok(Request::Ping));
        assert_eq!(parse(b"subscribe news"), Err(RequestError::Unknown));
        assert_eq!(parse(b"s\xc3\xbcb news"), Err(RequestError::Unknown));
    }

    #[test]
    fn topics_are_any_bytes_but_space_and_line_ends() {
        let line = b"PUB \x00\xff\xc3(\t x";
        assert_eq!(parse(line), Ok(Request::Pub(b"\x00\xff\xc3(\t", b"x")));
    }

    /// Caught by the pubsub_command fuzz target: over WebSocket a command
    /// is a whole message, so a `\n` could reach the parser inside a
    /// topic, which the grammar excludes.
    #[test]
    fn a_newline_inside_a_topic_is_refused() {
        assert_eq!(parse(b"SUB a\nb"), Err(RequestError::TrailingBytes));
        assert_eq!(parse(b"UNSUB a\n"), Err(RequestError::TrailingBytes));
        assert_eq!(parse(b"PUB \na x"), Err(RequestError::TrailingBytes));
        assert_eq!(parse(b"PUB a x\ny"), Ok(Request::Pub(b"a", b"x\ny")));
    }
}
