//! The pubsub protocol's commands: parsing one line (or one WebSocket
//! text message) into a command, or a reason to refuse it. Pure code.

/// Longest topic, in bytes.
pub const MAX_TOPIC: usize = 256;

/// One client command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `SUB topic`: receive what is published to `topic`.
    Sub(&'a [u8]),
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
    /// Not one of `SUB`, `UNSUB`, `PUB`, `PING`, `AUTH`.
    Unknown,
    /// The command needs a topic and has none (or an empty one).
    NoTopic,
    /// The topic is longer than [`MAX_TOPIC`] bytes.
    TopicTooLong,
    /// `SUB`, `UNSUB`, `PING` or `AUTH` followed by more than they take.
    TrailingBytes,
    /// `AUTH` without a token.
    NoToken,
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
        }
    }
}

/// Parses one command, `line` without its `\n` (a trailing `\r` is
/// ignored). Commands are in any case (`SUB`, `sub`, `Sub`), as Redis's
/// are; topics are case-sensitive; exactly one space separates the parts;
/// a topic is any bytes but space, `\r` and `\n`.
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
        b"SUB" => lone_topic(rest).map(Request::Sub),
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

/// The longest command name (`UNSUB`).
const LONGEST_VERB: usize = 5;

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
    use super::{parse, Request, RequestError, MAX_TOPIC};

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
